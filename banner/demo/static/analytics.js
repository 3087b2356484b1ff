// Stands in for an analytics tag: it sets its cookie and says it ran.
document.cookie = "_demo_analytics=1; path=/; max-age=3600";
window.demoRan.push("analytics.js");
window.demoShow && window.demoShow();
