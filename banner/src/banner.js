// Consentry's consent banner. `go generate ./banner` minifies this file with esbuild into
// banner/dist, and banner/build.go replaces __CONSENTRY__ there with one site's config in
// one language (short keys, see build.go), so a page loads this one script and nothing else.
((C) => {
  const w = window;
  const d = document;
  const nav = navigator;
  const me = d.currentScript;
  const ds = me.dataset;
  // The service is where this script came from, under any path prefix: a site may serve
  // it from its own origin through a proxy (https://shop.example/consentry/s/shop/banner.js).
  const api = me.src.replace(/\/s\/[^/]+\/banner\.js([?#].*)?$/, "");
  const T = C.t;
  const cats = C.c;
  const nonce = ds.nonce || me.nonce;
  // Embedded twice (by a tag manager and by the page, say), the banner runs once: twice, it
  // would ask twice and count every view twice. A reload of itself in another language
  // is the one that runs.
  const once = Symbol.for("consentry");
  if (w[once] && !ds.cstLang) return;
  w[once] = 1;
  // gtag.js reads arguments objects, not arrays. Only sites with Consent Mode call it, so
  // other pages get no dataLayer.
  function gtag() {
    (w.dataLayer = w.dataLayer || []).push(arguments);
  }
  const granted = (id) => {
    const i = cats.findIndex((c) => c.i == id);
    return i >= 0 && !!(cats[i].r || (R && (R.g >> i) & 1));
  };
  // Consent Mode (Google's, C.g, and Microsoft's, C.m): every type maps to categories that
  // must all be granted.
  const consentTypes = (mode, initial) => {
    const o = {};
    for (const t in mode) o[t] = !initial && mode[t].length && mode[t].every(granted) ? "granted" : "denied";
    return o;
  };
  // UET's queue takes the arguments one by one, and its tag replaces the array.
  const uet = (...a) => (w.uetq = w.uetq || []).push(...a);
  // Defaults go first, before any tag can run (the README embeds us first, without async);
  // a language reload of this script has already set them.
  if (!ds.cstLang) {
    if (C.g) gtag("consent", "default", { ...consentTypes(C.g, 1), wait_for_update: 500 });
    if (C.m) uet("consent", "default", consentTypes(C.m, 1));
  }

  // Trusted Types: a page that enforces them lets the banner write its own markup (its
  // texts escaped) and start the page's own scripts it unblocks through a policy named
  // "consentry" (CSP: trusted-types consentry). A language reload of this script gets the
  // policy from this one, as a name is allowed once.
  const same = (s) => s;
  let P = me.P || { createHTML: same, createScript: same, createScriptURL: same };
  if (w.trustedTypes && !me.P)
    try {
      P = trustedTypes.createPolicy("consentry", P);
    } catch (e) {}

  // The page asks for another language than the server picked from Accept-Language:
  // load that language's build instead, once. Another region of the same language (an
  // en-US page, en served) is the same, unless the site offers more than one (C.a: pt-BR
  // and pt-PT), when the page's region picks (a pt-PT page, pt-BR served).
  const want = (ds.lang || d.documentElement.lang || "").toLowerCase();
  const have = C.l.toLowerCase();
  const base = (l) => l.split("-")[0];
  if (want && want != have && (base(want) != base(have) || (C.a && want != base(want))) && !/[?&]lang=/.test(me.src)) {
    const s = d.createElement("script");
    for (const a of me.attributes) if (a.name != "src" && a.name != "integrity") s.setAttribute(a.name, a.value);
    s.nonce = me.nonce;
    s.dataset.cstLang = want;
    s.P = P;
    s.src = P.createScriptURL(me.src + (me.src.includes("?") ? "&" : "?") + "lang=" + encodeURIComponent(want));
    me.after(s);
    return;
  }

  const name = C.k;
  const domain = ds.cookieDomain || C.o;
  // The receipt cookie. cookieStore (https) reads it without blocking the page: reading
  // document.cookie waits for the browser's network process.
  const readCookie = async () => {
    // Tested, not caught: on http there is no cookieStore, and the TypeError's message
    // alone cost milliseconds (V8 re-parses the script to print the failing expression).
    if (w.cookieStore)
      try {
        const c = await w.cookieStore.get(name);
        return c ? c.value : undefined;
      } catch (e) {}
    for (const c of d.cookie.split("; ")) if (c.startsWith(name + "=")) return c.slice(name.length + 1);
  };
  // The receipt is a JWT; its claims say whether it still holds here. The server checks
  // its signature on every beacon: this only decides whether to ask again.
  const decode = (r) => {
    try {
      const p = JSON.parse(atob(r.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
      if (p.aud == C.s && p.pv == C.p && p.exp * 1e3 > Date.now()) return p;
    } catch (e) {}
  };
  // Asked now, so that the answer can come while the rest of this script runs.
  const stored = readCookie();
  let prev; // the receipt, sent back with a decision so the consent id is kept
  let R; // its claims
  // The browser's signals, or the headers the server saw when it served this script.
  const dnt = nav.doNotTrack == "1" || w.doNotTrack == "1" || !!(C.z & 1);
  const gpc = nav.globalPrivacyControl === true || !!(C.z & 2);
  let listeners = [];

  const send = (b) => {
    b.site = C.s;
    b.url = location.href;
    if (!C.x && R) b.receipt = prev;
    const body = JSON.stringify(b);
    const u = api + "/v1/collect";
    (nav.sendBeacon && nav.sendBeacon(u, body)) || fetch(u, { method: "POST", body, keepalive: true }).catch(() => {});
  };
  const allowed = () => C.x || granted(C.b);
  let seen;
  // A prerendered page (speculation rules) is no visit until it is shown, if ever: what
  // would tell the server of one waits (pageviews, events, a decision on the browser's
  // signal).
  const shown = (f) => (d.prerendering ? d.addEventListener("prerenderingchange", f, { once: true }) : f());
  const pageview = () => {
    const u = location.href.split("#")[0];
    if (u != seen && !d.prerendering && allowed()) {
      send({ type: "pageview", referrer: seen ? "" : d.referrer });
      seen = u;
    }
  };

  // Blocked scripts and iframes run in document order, each script after the one before
  // it has loaded, and only once their categories are granted. A placeholder shows while
  // the categories it names are not all granted. Declarations say what is held.
  let queue = Promise.resolve();
  // A category the site does not have is never granted: a typo would keep what names it
  // blocked without a word, so the page's console says so, once per name.
  const warned = {};
  const ids = cats.map((c) => c.i);
  const all = (cs) =>
    cs.split(" ").every((c) => {
      if (ids.includes(c)) return granted(c);
      warned[c] ||= !console.warn(`Consentry: unknown category "${c}" (the site's: ${ids.join(", ")}) stays blocked`);
    });
  let preview;
  const activate = () => {
    // Turbo shows a page from its cache as a preview until the page itself arrives (its
    // tags would run twice), and takes the preview's mark away before swapping the body.
    if (d.documentElement.hasAttribute("data-turbo-preview")) preview = d.body;
    if (d.body === preview) return; // never null == undefined, before there is a body
    declare();
    for (const el of d.querySelectorAll("[data-consent-placeholder]")) el.hidden = all(el.dataset.consentPlaceholder);
    for (const el of d.querySelectorAll("[data-consent]")) {
      const isScript = el.tagName == "SCRIPT";
      const ok = all(el.dataset.consent);
      // Other elements get their src, or a link its href (a web font service's stylesheet).
      const at = el.dataset.href ? "href" : "src";
      // Withdrawn, an iframe unloads what it showed, a stylesheet its rules (a script that
      // ran stops only with the page: reload_on_withdraw). It is replaced by a copy without
      // src or href: taking an iframe's src away would navigate it, one more step for the
      // Back button that leaves not the page.
      if (el.cst && !ok) {
        const c = el.cloneNode();
        c.removeAttribute(at);
        el.replaceWith(c);
      }
      if (el.cst || (isScript ? el.type != "text/plain" : !el.dataset[at]) || !ok) continue;
      el.cst = 1;
      queue = queue.then(
        () =>
          new Promise((done) => {
            // Gone from the page before its turn (a body swapped): it would never load, and
            // all after it would wait.
            if (!el.isConnected) return done();
            if (!isScript) {
              el[at] = el.dataset[at];
              return done();
            }
            const s = d.createElement("script");
            for (const a of el.attributes) if (a.name != "type" && a.name != "data-consent") s.setAttribute(a.name, a.name == "src" ? P.createScriptURL(a.value) : a.value);
            if (el.dataset.type) s.type = el.dataset.type;
            s.nonce = el.nonce;
            s.text = P.createScript(el.text);
            if (s.src) {
              s.async = false;
              s.onload = s.onerror = done;
            }
            el.replaceWith(s);
            if (!s.src) done();
          })
      );
    }
  };

  // Deletes the cookies a withdrawn category lists, on the host and each parent domain,
  // at the root and along the current path, and the keys it lists in the page's storage.
  const listed = (names, n) => names.some((p) => (p.endsWith("*") ? n.startsWith(p.slice(0, -1)) : n == p));
  const clean = (c) => {
    const names = c.k.concat(...c.v.map((v) => v.k)); // the category's and its vendors'
    const hosts = location.hostname.split(".");
    const paths = ["/"];
    for (const p of location.pathname.split("/").slice(1, -1)) paths.push(paths[paths.length - 1] + p + "/");
    for (const kv of d.cookie.split("; ")) {
      const n = kv.split("=")[0];
      if (n == name || !listed(names, n)) continue;
      for (let j = 0; j <= hosts.length; j++)
        for (const p of paths) d.cookie = n + "=; max-age=0; path=" + p + (j ? "; domain=" + hosts.slice(j - 1).join(".") : "");
    }
    // Storage a sandboxed frame or the browser's settings deny throws on access.
    if (c.t.length)
      for (const s of ["localStorage", "sessionStorage"])
        try {
          for (const n of Object.keys(w[s])) if (listed(c.t, n)) w[s].removeItem(n);
        } catch (e) {}
  };

  const apply = (before) => {
    if (C.g) gtag("consent", "update", consentTypes(C.g));
    if (C.m) uet("consent", "update", consentTypes(C.m));
    activate();
    const withdrawn = cats.filter((c, i) => (before >> i) & 1 && !granted(c.i));
    withdrawn.forEach(clean);
    const state = consentry.get();
    for (const f of listeners) safely(f, state);
    // For page scripts that run before this one has loaded.
    d.dispatchEvent(new CustomEvent("consentry:change", { detail: state }));
    if (withdrawn.length && C.r) location.reload();
  };

  // A page's function that throws (a listener, a queued call) stops nothing of ours (the
  // DOM event, the reload after a withdrawal, the pageview a grant counts): its error is
  // reported as its own.
  const safely = (f, a) => {
    try {
      f(a);
    } catch (e) {
      setTimeout(() => {
        throw e;
      });
    }
  };
  // A page may call the API before this script has run (it loads async), through a queue:
  // window.Consentry = window.Consentry || [] and push calls ([name, ...args]) or
  // functions, given the API. They run in order once the receipt is read; pushed later,
  // at once.
  const run = (x) =>
    x.call
      ? safely(x, consentry)
      : consentry[x[0]]
        ? safely(() => consentry[x[0]](...x.slice(1)))
        : console.warn(`Consentry: no such call "${x[0]}"`);
  const dir = C.d ? "rtl" : "ltr"; // the banner's language's, whatever the page's
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => "&#" + c.charCodeAt(0) + ";");
  // Each layer goes in a holder of its own at the end of the body, shown in the browser's
  // top layer where there is one: above whatever the page shows (a chat widget at the
  // highest z-index), and fixed to the viewport even when the page holds fixed boxes to
  // itself (a transformed or filtered body). The layer goes into the holder once that is
  // shown, so that showing it focuses nothing: the first layer's autofocus moves focus as
  // it is first rendered, where showing it would focus at once and force a layout.
  const show = (o) => {
    d.body.append(o);
    if (o.showPopover) o.showPopover();
  };
  const node = (html) => {
    const o = d.createElement("div");
    o.className = "cst-o";
    o.popover = "manual";
    show(o);
    o.innerHTML = P.createHTML(html);
    const n = o.firstChild;
    n.lang = C.l;
    n.dir = dir; // its own, not the page's
    n.onclick = act;
    return n;
  };
  let styled, box, modal, note, back, tab;
  const style = () => {
    if (styled) return;
    styled = d.createElement("style");
    styled.nonce = nonce;
    styled.textContent = C.css;
    d.head.append(styled);
  };
  const button = (a, key, cls) => `<button type="button" data-a="${a}"${cls ? ` class="${cls}"` : ""}>${esc(T[key])}</button>`;
  const choices = (...b) => '<div class="cst-b">' + b.map((a) => button(a[0], a[1])).join("") + "</div>";
  const remove = (n) => n && n.parentNode.remove();
  // The first layer and the note are not modal: a keyboard user may go on through the
  // page, and what gets focus there must not be hidden behind them (WCAG 2.2, 2.4.11). Once
  // focus is in the page (not before: most visitors never tab there), they get .cst-u and
  // --cst-h, their height from the bottom of the viewport, with which the stylesheet pads
  // the page's scrolling and makes room at its end; and what has focus scrolls into view
  // (iframes too, which get no focusin here: the element that lost focus has a focusout).
  // The room is 8px more: the page scrolls by whole pixels, so a line at a fraction of
  // one would stay that fraction under the layer, and the gap shows where one ends.
  const unobscuring = (n) => {
    const events = ["focusin", "focusout"];
    const height = () => d.documentElement.style.setProperty("--cst-h", innerHeight - n.offsetTop + 8 + "px");
    let o;
    const reveal = () =>
      setTimeout(() => {
        const a = d.activeElement;
        if (!n.isConnected) {
          events.forEach((e) => d.removeEventListener(e, reveal));
          return o && o.disconnect();
        }
        if (!a || a == d.body || a.closest(".cst-o")) return; // the page, not a layer of ours
        if (!o) {
          n.classList.add("cst-u");
          height();
          (o = new ResizeObserver(() => n.isConnected && height())).observe(n);
        }
        a.scrollIntoView({ block: "nearest" });
      });
    events.forEach((e) => d.addEventListener(e, reveal));
  };
  const showBanner = () => {
    style();
    back = d.activeElement;
    const link = C.u ? ` <a href="${esc(C.u)}">${esc(T.policy)}</a>` : "";
    box = node(
      `<div class="cst${C.y ? " cst-" + C.y : ""}" role="dialog" aria-labelledby="cst-t" aria-describedby="cst-d" tabindex="-1" autofocus><h2 id="cst-t">${esc(T.title)}</h2>` +
        `<p id="cst-d">${esc(T.text)}${link}</p>${choices(["accept", "accept"], ["reject", "reject"], ["custom", "customize"])}</div>`
    );
    // autofocus moves focus in as the banner is first rendered, with the layout that
    // rendering does anyway: focus() here would force one inside this script. The browser
    // autofocuses once per page and not over a focused field, so after that frame focus()
    // covers the rest, but only if focus is still where it was: never from inside the
    // banner, where a quick keyboard user may already be, nor from where the visitor has
    // put it meanwhile (a search field they clicked). Watching for focus in the page waits
    // too, off the first frame.
    requestAnimationFrame(() =>
      setTimeout(() => {
        if (!box) return;
        if (d.activeElement == back) box.focus();
        unobscuring(box);
      })
    );
  };
  // The first layer, unless the settings are open (a page opened them first): they ask
  // the same, and shown after them it would cover them.
  const ask = () => box || modal || showBanner();
  const showNote = () => {
    if (note) return;
    style();
    note = node(
      `<div class="cst-n" role="status"><p>${esc(T.signal)}</p>${button("custom", "settings")}` +
        `<button type="button" class="cst-x" data-a="dismiss" aria-label="${esc(T.dismiss)}">×</button></div>`
    );
    unobscuring(note);
    corner();
  };
  // A site may keep a "Cookie settings" button in a corner of its pages (settings_button)
  // for a visitor who has chosen, to change or withdraw that choice where the page has no
  // link to the settings. It gives way to the note, which takes its place.
  const corner = () => {
    if (!C.f) return;
    if (!R || note) tab = remove(tab);
    else if (!tab) {
      style();
      unobscuring((tab = node(button("custom", "settings", "cst-f"))));
    }
  };
  // What a category or vendor keeps in the browser, by kind: cookies, storage keys.
  const kept = (key, names) => (names.length ? ` <small>${esc(T[key])}: ${esc(names.join(", "))}</small>` : "");
  const vendor = (v) => `<li><a href="${esc(v.u)}" target="_blank" rel="noopener">${esc(v.n)}</a>${v.p ? ": " + esc(v.p) : ""}${kept("cookies", v.k)}</li>`;
  // In the second layer (p "c") a switch per category; in a declaration (p "y…") the same,
  // read-only, saying what is held.
  const category = (c, i, p) =>
    `<div class="cst-c"><label><input type="checkbox" role="switch" data-i="${i}" aria-describedby="cst-${p}${i}"` +
    `${granted(c.i) ? " checked" : ""}${c.r || p[0] == "y" ? " disabled" : ""}> ${esc(c.n)}${c.r ? ` <small>(${esc(T.always_on)})</small>` : ""}</label>` +
    `<p id="cst-${p}${i}">${esc(c.d)}${kept("cookies", c.k)}${kept("storage", c.t)}</p>` +
    (c.v.length ? `<details><summary>${esc(T.vendors)} (${c.v.length})</summary><ul>${c.v.map(vendor).join("")}</ul></details>` : "") +
    "</div>";
  const consentId = () => `<p><small>${esc(T.consent_id)}: <code>${esc(R.sub)}</code></small></p>`;
  // A site's cookie declaration (for its privacy policy, as Cookiebot's): in each element
  // with data-consentry-declaration, every category with its vendors and their cookies,
  // what the visitor holds (and their consent id), and a button to change it; written
  // anew only when that changes, so that what is open or focused in it stays.
  // Most pages have none, and pay nothing for it; each one's ids are its own.
  const declare = () =>
    d.querySelectorAll("[data-consentry-declaration]").forEach((el, j) => {
      const html =
        `<div lang="${C.l}" dir="${dir}">${cats.map((c, i) => category(c, i, "y" + j + "-")).join("")}` +
        `${R ? consentId() : ""}<p><button type="button" data-consentry-open>${esc(T.settings)}</button></p></div>`;
      if (el.cstD != html) el.innerHTML = P.createHTML((el.cstD = html));
    });
  const open = () => {
    if (modal) return;
    // Asked for before there is a body (a page's queued call), they wait for it.
    if (!d.body) return d.addEventListener("DOMContentLoaded", open, { once: true });
    style();
    back = box ? back : d.activeElement;
    modal = node(
      `<div class="cst-m"><div class="cst-p" role="dialog" aria-modal="true" aria-labelledby="cst-t2" aria-describedby="cst-d2" tabindex="-1">` +
        `<h2 id="cst-t2">${esc(T.settings_title)}</h2><p id="cst-d2">${esc(T.settings_text)}</p>${cats.map((c, i) => category(c, i, "c")).join("")}` +
        choices(["accept", "accept"], ["reject", "reject"], ["save", "save"]) +
        (R
          ? `<div class="cst-r">${button("withdraw", "withdraw")}${button("export", "export")}${button("erase", "erase")}` +
            consentId() + "</div>"
          : "") +
        `<button type="button" class="cst-x" data-a="close" aria-label="${esc(T.close)}">×</button></div></div>`
    );
    modal.onkeydown = trap;
    modal.firstChild.focus();
  };
  // Closed without a choice, the settings give way to the first layer they kept back (see
  // ask), and focus goes there; a choice then returns it where it was before the settings.
  const close = () => {
    const was = back;
    modal = remove(modal);
    if (!R && !dnt && !gpc) ask();
    back = was;
    (box || back || d.body).focus();
  };
  // Focus stays in the second layer; Escape closes it.
  const trap = (e) => {
    if (e.key == "Escape") return close();
    if (e.key != "Tab") return;
    const f = [...modal.querySelectorAll("a,button,input:not([disabled]),summary")].filter((x) => x.getClientRects().length);
    const a = d.activeElement;
    if (e.shiftKey ? a == f[0] || a == modal.firstChild : a == f[f.length - 1]) {
      e.preventDefault();
      f[e.shiftKey ? f.length - 1 : 0].focus();
    }
  };

  // The receipt cookie, written (or, for 0 seconds, deleted) where the banner reads it.
  const setReceipt = (receipt, seconds) =>
    (d.cookie = `${name}=${receipt}; max-age=${seconds}; path=/; samesite=lax` + (location.protocol == "https:" ? "; secure" : "") + (domain ? "; domain=" + domain : ""));
  // One request about the visitor's choice at a time: a double click would record a second
  // decision under a consent id the visitor never keeps, whose record they could neither
  // see nor erase, or ask to erase a record already gone (and say that failed).
  let busy;
  const one =
    (f) =>
    async (...a) => {
      if (busy) return;
      busy = 1;
      await f(...a);
      busy = 0;
    };
  // A decision made in a placeholder (place) reports its error there, and moves focus on
  // to the content the placeholder stood for.
  const decide = one(async (method, chosen, place) => {
    const before = R ? R.g : 0;
    try {
      const r = await fetch(api + "/v1/consent", {
        method: "POST",
        // The browser's own signals go along: the server records them even when an
        // extension sets navigator.globalPrivacyControl without the Sec-GPC header.
        body: JSON.stringify({ site: C.s, method, choices: chosen, lang: C.l, banner_version: C.v, receipt: prev, dnt: dnt || undefined, gpc: gpc || undefined }),
      });
      if (!r.ok) throw r;
      const j = await r.json();
      const next = decode(j.receipt);
      if (!next) throw j;
      prev = j.receipt;
      R = next;
      setReceipt(prev, R.exp - Math.floor(Date.now() / 1e3));
      modal = remove(modal);
      box = remove(box);
      // Only the browser's signal keeps back what the visitor allowed (honor_signals:
      // strict): a placeholder says so, and focus stays in it.
      const held = place && Object.keys(chosen).some((c) => chosen[c] && !granted(c));
      const f = held ? 0 : place ? place.nextElementSibling : back;
      if (f) f.focus();
      if (place) for (const e of place.querySelectorAll(".cst-e")) e.remove();
      if (held) fail(place, T.signal);
      if (j.signal != "none" && !j.override) showNote();
      corner();
      apply(before);
      // A grant counts the page it was made on.
      pageview();
    } catch (e) {
      fail(place);
    }
  });
  // Says that what the visitor asked for failed, or why: in the placeholder they asked in,
  // else in the layer shown.
  // A later message replaces the one shown.
  const fail = (place, text = T.error) => {
    const host = place || (modal ? modal.firstChild : box);
    if (!host) return;
    let p = host.querySelector(".cst-e");
    if (!p) {
      p = host.appendChild(d.createElement("p"));
      p.className = "cst-e";
      p.setAttribute("role", "alert");
    }
    p.textContent = text;
  };
  // The visitor's own record in the ledger, proven by their receipt: a download of every
  // decision under their consent id (GDPR access), or its erasure, after which they hold no
  // choice and are asked again as on a first visit.
  const record = one(async (method) => {
    try {
      const r = await fetch(api + "/v1/consent/me", { method, headers: { Authorization: "Bearer " + prev } });
      if (!r.ok) throw r;
      if (method == "GET") {
        const a = d.createElement("a");
        a.href = URL.createObjectURL(await r.blob());
        a.download = "consent-" + R.sub + ".json";
        return a.click();
      }
      const before = R.g;
      setReceipt("", 0);
      prev = R = undefined;
      modal = remove(modal);
      settle(before);
    } catch (e) {
      fail();
    }
  });

  // Allowing content where it is blocked grants its categories on top of the choices
  // held; the answer is the choices held then.
  const grant = (categories, place) => {
    const chosen = consentry.get() || {};
    for (const c of categories.split(" ")) chosen[c] = true;
    return decide("custom", chosen, place).then(consentry.get);
  };

  function act(e) {
    const a = (e.target.closest("[data-a]") || {}).dataset;
    switch (a && a.a) {
      case "accept":
        return decide("accept_all");
      case "reject":
        return decide("reject_all");
      case "custom":
        return open();
      case "save": {
        const chosen = {};
        for (const i of modal.querySelectorAll("input[data-i]")) chosen[cats[i.dataset.i].i] = i.checked;
        return decide("custom", chosen);
      }
      case "withdraw":
        return decide("withdraw");
      case "export":
        return record("GET");
      case "erase":
        // Erasure cannot be undone (WCAG 2.2, 3.3.4): the first press says so, and only
        // another press erases, not the second click of a double click.
        if (a.sure && e.detail < 2) return record("DELETE");
        a.sure = 1;
        return fail(0, T.erase_confirm);
      case "close":
        return close();
      case "dismiss":
        note = remove(note);
        corner();
    }
  }

  const consentry = {
    open,
    get: () => (R ? Object.fromEntries(cats.map((c) => [c.i, granted(c.i)])) : null),
    has: granted,
    // Returns what stops it, as a component that listens while it is mounted needs.
    on: (event, f) => {
      if (event == "change") listeners.push(f);
      return () => (listeners = listeners.filter((g) => g != f));
    },
    allow: (categories) => grant(categories),
    track: (name, props) => shown(() => allowed() && send({ type: "event", name, props })),
    push: (...x) => x.forEach(run),
  };

  // What the stored choice asks of the page: its effects (before: the categories granted
  // until now), else the browser's signal answers, else the visitor is asked.
  const settle = (before) => {
    // Without a choice (none yet, or erased here or in another tab), what was granted
    // before is withdrawn all the same; with none ever, content of required categories
    // alone still runs.
    R || before ? apply(before) : activate();
    if (!R) dnt || gpc ? shown(refuse) : ask();
    corner();
  };
  // The receipt, read again: when it changed (in another tab, say), its choice holds here.
  const reread = () =>
    readCookie().then((c) => {
      if (c == prev) return;
      const before = R ? R.g : 0;
      prev = c;
      R = c && decode(c);
      if (R) box = remove(box);
      settle(before);
    });
  // Tabs of a site opened together each find no receipt. Under a lock, one records the
  // refusal the browser's signal asks for and the others read its receipt: one consent id
  // for the visitor, not one per tab that they would never hold (nor see, nor erase).
  const refuse = () =>
    nav.locks ? nav.locks.request("consentry " + name, () => reread().then(() => (R ? showNote() : decide("reject_all")))) : decide("reject_all");
  const start = () => {
    for (const m of ["pushState", "replaceState"]) {
      const f = history[m];
      history[m] = function () {
        const r = f.apply(this, arguments);
        pageview();
        return r;
      };
    }
    w.addEventListener("popstate", pageview);
    d.addEventListener("click", (e) => {
      const t = e.target.closest && e.target.closest("[data-consentry-open],[data-consentry-allow]");
      if (!t) return;
      e.preventDefault();
      const allow = t.dataset.consentryAllow;
      if (!allow) return open();
      grant(allow, t.closest("[data-consent-placeholder]"));
    });
    settle(0);
    // Blocked content the page adds later (a single-page app's next view, an embed shown
    // on demand) runs as soon as it is added, when its categories are granted.
    const blocked = "[data-consent],[data-consent-placeholder],[data-consentry-declaration]";
    new MutationObserver((m) => {
      // A page that swaps its body as it navigates (Turbo, Astro's view transitions, pjax)
      // takes with it what is shown there: it goes back, into the new body.
      for (const n of [box, note, modal, tab]) if (n && !n.isConnected) show(n.parentNode);
      if (styled && !styled.isConnected) d.head.append(styled);
      m.some((r) => [...r.addedNodes].some((n) => n.querySelector && (n.matches(blocked) || n.querySelector(blocked)))) && activate();
    }).observe(d, { childList: true, subtree: true });
    // The first pageview waits until the banner is on screen: sent sooner, its request
    // and the browser's work for it slowed the banner's first frame (bench/banner). A
    // visitor who leaves before then is counted as the page hides.
    shown(() => setTimeout(pageview, 250));
    // The choice may change elsewhere: in another tab, or on another page while this one
    // sat in the back/forward cache. It is read again whenever that can have happened, and
    // holds here too (withdrawn categories' cookies deleted here, trackers stopped by the
    // reload a site may ask for), so that no page left open undoes a withdrawal.
    if (w.cookieStore) w.cookieStore.addEventListener("change", (e) => [...e.changed, ...e.deleted].some((c) => c.name == name) && reread());
    d.addEventListener("visibilitychange", () => (d.visibilityState == "hidden" ? pageview() : reread()));
    // A page restored from the back/forward cache is viewed again without running anew.
    w.addEventListener("pageshow", (e) =>
      e.persisted &&
      reread().then(() => {
        seen = "#"; // no page's URL: the view counts again, without the first one's referrer
        pageview();
      })
    );
  };
  // Consentry appears once the receipt is read, so that what it says holds.
  stored.then((c) => {
    prev = c;
    R = c && decode(c);
    const queued = w.Consentry;
    w.Consentry = consentry;
    if (Array.isArray(queued)) consentry.push(...queued);
    // The first layer shows as soon as there is a body to put it in, even while a long page
    // is still arriving; the rest (blocked content, pageviews) waits for the whole document.
    if (!R && !dnt && !gpc && d.body) ask();
    d.readyState == "loading" ? d.addEventListener("DOMContentLoaded", start) : start();
  });
})(__CONSENTRY__);
