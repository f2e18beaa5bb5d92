// Draws every [data-chart] element with ECharts (its option is the attribute's JSON),
// on the first load and after each htmx swap; resizes them with the window.
(function () {
  "use strict";
  function draw(root) {
    if (typeof echarts === "undefined") { return; }
    root.querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.dataset.drawn) { return; }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(el.dataset.chart));
      el.dataset.drawn = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (e) { draw(e.target); });
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = typeof echarts !== "undefined" && echarts.getInstanceByDom(el);
      if (chart) { chart.resize(); }
    });
  });
})();
// A select marked data-submit-on-change sends its form when changed (the language
// switch): a listener here, since the Content-Security-Policy refuses inline handlers.
document.addEventListener("change", function (e) {
  var el = e.target;
  if (el && el.matches && el.matches("select[data-submit-on-change]") && el.form) {
    el.form.submit();
  }
});
