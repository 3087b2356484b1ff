// Stands in for an advertising tag: it sets its cookie and says it ran.
document.cookie = "_demo_ads=1; path=/; max-age=3600";
window.demoRan.push("ads.js");
window.demoShow && window.demoShow();
