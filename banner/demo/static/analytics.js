// Stands in for an analytics tag: it sets its cookie (on the parent domain, as analytics
// tags do, when the host is a name) and says it ran. A block, as a page that swaps its
// body (Turbo) runs it again.
{
  const host = location.hostname;
  const parent = /^[\d.]+$|^localhost$/.test(host) ? "" : "; domain=" + host.split(".").slice(-2).join(".");
  document.cookie = "_demo_analytics=1; path=/; max-age=3600" + parent;
  window.demoRan.push("analytics.js");
  window.demoShow && window.demoShow();
}
