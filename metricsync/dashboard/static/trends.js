// One uPlot chart per metric from /api/v1/dora/series, the DORA level bands drawn behind the line.
import { h, clear } from "./dom.js";
import { LEVEL_TEXT, METRICS } from "./metrics.js";

const BAND_COLOURS = {
  elite: "rgba(22, 163, 74, 0.13)",
  high: "rgba(37, 99, 235, 0.10)",
  medium: "rgba(234, 179, 8, 0.14)",
  low: "rgba(220, 38, 38, 0.10)",
};
const LINE = "#1d4ed8";

function drawBands(metric) {
  return (u) => {
    if (!metric.bands) return;
    const { ctx, bbox } = u;
    const [lo, hi] = [u.scales.y.min, u.scales.y.max];
    ctx.save();
    for (const [level, from, to] of metric.bands) {
      const a = Math.max(from, lo), b = Math.min(to, hi);
      if (!(b > a)) continue;
      const top = u.valToPos(b, "y", true), bottom = u.valToPos(a, "y", true);
      ctx.fillStyle = BAND_COLOURS[level];
      ctx.fillRect(bbox.left, top, bbox.width, bottom - top);
    }
    ctx.restore();
  };
}

function yRange(metric) {
  return (u, min, max) => [0, Number.isFinite(max) && max > 0 ? max * 1.15 : metric.emptyMax];
}

const utc = (ts) => window.uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

export class Trends {
  constructor(container) {
    this.container = container;
    this.charts = new Map();
    this.captions = new Map();
    this.resize = new ResizeObserver(() => this.fit());
  }

  build() {
    clear(this.container);
    for (const metric of METRICS) {
      const plot = h("div", { class: "plot", role: "img", "aria-label": `${metric.title} trend` });
      const caption = h("figcaption", { class: "caption" });
      const legend = metric.bands
        ? h("p", { class: "bands" }, "Bands: ", metric.bands.map(([level]) =>
          h("span", { class: "band", "data-level": level }, LEVEL_TEXT[level])))
        : h("p", { class: "bands" }, "No DORA levels for this metric");
      const figure = h("figure", { class: "trend", "data-metric": metric.key }, h("h3", {}, metric.title), plot, caption, legend);
      this.container.append(figure);
      this.captions.set(metric.key, { caption, plot });
    }
    this.resize.observe(this.container);
  }

  width(plot) {
    return Math.max(200, Math.floor(plot.clientWidth || 300));
  }

  render(series) {
    if (!window.uPlot) return;
    if (this.captions.size === 0) this.build();
    const xs = series.points.map((p) => Date.parse(p.from) / 1000);
    // the x axis spans the window even where buckets are few
    this.window = [Date.parse(series.scope.from) / 1000, Date.parse(series.scope.to) / 1000];
    for (const metric of METRICS) {
      const ys = series.points.map((p) => {
        const v = metric.value(p.metrics[metric.key]);
        return v === undefined ? null : v;
      });
      const { caption, plot } = this.captions.get(metric.key);
      const last = [...ys].reverse().find((v) => v !== null);
      const points = ys.filter((v) => v !== null).length;
      caption.textContent = points
        ? `${points} of ${ys.length} ${series.scope.interval}s with data; latest: ${metric.format(last)}`
        : `No data in this window`;
      plot.setAttribute("aria-label", `${metric.title} by ${series.scope.interval}: ${caption.textContent}`);
      const data = [xs, ys];
      let chart = this.charts.get(metric.key);
      if (chart) {
        chart.setData(data);
        continue;
      }
      chart = new window.uPlot({
        width: this.width(plot),
        height: 150,
        legend: { show: false },
        cursor: { drag: { x: false, y: false }, points: { size: 6 } },
        tzDate: utc,
        scales: { x: { time: true, range: () => this.window }, y: { range: yRange(metric) } },
        axes: [
          { stroke: "#475569", grid: { stroke: "#e2e8f0" }, ticks: { stroke: "#cbd5e1" }, space: 60 },
          { stroke: "#475569", grid: { stroke: "#e2e8f0" }, ticks: { stroke: "#cbd5e1" }, size: 62, values: (u, vals) => vals.map((v) => metric.axis(v)) },
        ],
        series: [{}, { label: metric.title, stroke: LINE, width: 2, spanGaps: false, points: { show: true, size: 5, fill: LINE }, value: (u, v) => metric.format(v) }],
        hooks: { drawClear: [drawBands(metric)] },
      }, data, plot);
      this.charts.set(metric.key, chart);
    }
  }

  fit() {
    for (const [key, chart] of this.charts) {
      const { plot } = this.captions.get(key);
      const width = this.width(plot);
      if (Math.abs(chart.width - width) > 2) chart.setSize({ width, height: 150 });
    }
  }
}
