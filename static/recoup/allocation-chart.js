// Per-collector balance and case count of an allocation run (ECharts, data from json_script).
document.addEventListener("DOMContentLoaded", () => {
  const el = document.getElementById("allocation-chart");
  if (!el || typeof echarts === "undefined") return;
  const data = JSON.parse(document.getElementById(el.dataset.chartSource).textContent);
  const chart = echarts.init(el, null, { renderer: "canvas" });
  chart.setOption({
    tooltip: { trigger: "axis" },
    legend: { data: ["balance", "cases"] },
    grid: { left: 60, right: 60, top: 30, bottom: 60 },
    xAxis: { type: "category", data: data.names, axisLabel: { rotate: 30 } },
    yAxis: [{ type: "value", name: "¥" }, { type: "value", name: "#" }],
    series: [
      { name: "balance", type: "bar", data: data.balances },
      { name: "cases", type: "line", yAxisIndex: 1, data: data.cases },
    ],
  });
  window.addEventListener("resize", () => chart.resize());
});
