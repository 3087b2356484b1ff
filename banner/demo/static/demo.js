// The demo page's own script: shows what ran and the consent state. Tests read the same
// globals (demoRan, cspViolations).
window.demoRan = [];
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => window.cspViolations.push(e.violatedDirective + " " + e.blockedURI));
const show = () => {
  const item = (text) => Object.assign(document.createElement("li"), { textContent: text });
  document.getElementById("ran").replaceChildren(...(window.demoRan.length ? window.demoRan : ["nothing yet"]).map(item));
  document.getElementById("state").textContent = JSON.stringify(window.Consentry && window.Consentry.get(), null, 1);
  document.getElementById("datalayer").textContent = (window.dataLayer || []).map((a) => JSON.stringify(Array.from(a))).join("\n");
};
window.demoShow = show;
document.addEventListener("DOMContentLoaded", () => {
  show();
  window.Consentry && window.Consentry.on("change", show);
  document.getElementById("spa").addEventListener("click", () => history.pushState({}, "", "/spa-page"));
});
