/**
 * sweep.html: one self-contained page that opens offline. With two varied paths, a heatmap per metric
 * (the mean over seeds, first path across, second path up; Chart.js with chartjs-chart-matrix); with
 * one, a line per metric (mean, p5 and p95 over seeds); always a table of every configuration. More
 * than two paths: heatmaps over the first two for the first value of the others, and the table.
 *
 * Both libraries are read from node_modules at render time and inlined; the data sits in a JSON
 * script tag; the inline script counts drawn charts in window.__chartsRendered for the browser test.
 * Values become floats only here, for drawing.
 */
import fs from "node:fs";
import path from "node:path";
import { formatWad, formatWadFixed } from "../decimal";
import { formatUsd } from "../report";
import { METRIC_LABELS, SUMMARY_METRICS } from "./metrics";
import type { Axis } from "./paths";
import type { ConfigurationSummary, SweepSummary } from "./summary";

/** What the page charts: the summary metrics' means, then the two tail measures. */
const CHARTED = [
  ...SUMMARY_METRICS.map((metric) => ({
    id: metric,
    title: `${METRIC_LABELS[metric]}, mean over seeds`,
    pick: (c: ConfigurationSummary) => c.metrics[metric].mean,
  })),
  {
    id: "var95",
    title: "VaR95: bad debt, 95th percentile over seeds (USD)",
    pick: (c: ConfigurationSummary) => c.var95,
  },
  {
    id: "lar95",
    title: "LaR95: liquidated notional, 95th percentile over seeds (USD)",
    pick: (c: ConfigurationSummary) => c.lar95,
  },
];

interface HeatmapSpec {
  kind: "heatmap";
  id: string;
  title: string;
  xTitle: string;
  yTitle: string;
  xLabels: string[];
  yLabels: string[];
  cells: { x: string; y: string; v: number }[];
}

interface LineSpec {
  kind: "line";
  id: string;
  title: string;
  xTitle: string;
  labels: string[];
  datasets: { label: string; color: string; values: (number | null)[] }[];
}

type SweepChart = HeatmapSpec | LineSpec;

const LINE_COLORS = { mean: "#2563eb", p5: "#16a34a", p95: "#dc2626" };

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

const toNumber = (wad: bigint): number => Number(formatWad(wad));

function heatmaps(summary: SweepSummary, axes: readonly Axis[]): HeatmapSpec[] {
  const [xAxis, yAxis, ...rest] = axes;
  const xLabels = summary.vary[0]!.values;
  const yLabels = summary.vary[1]!.values;
  // With more than two paths, the slice where every other path takes its first value.
  const inSlice = (c: ConfigurationSummary) =>
    rest.every((axis, i) => c.values[axis.path] === summary.vary[i + 2]!.values[0]);
  const shown = summary.configurations.filter(inSlice);
  return CHARTED.map((chart) => ({
    kind: "heatmap",
    id: `heatmap-${chart.id}`,
    title: chart.title,
    xTitle: xAxis!.path,
    yTitle: yAxis!.path,
    xLabels,
    yLabels,
    cells: shown.map((c) => ({ x: c.values[xAxis!.path]!, y: c.values[yAxis!.path]!, v: toNumber(chart.pick(c)) })),
  }));
}

function lines(summary: SweepSummary, axis: Axis): LineSpec[] {
  const labels = summary.vary[0]!.values;
  const at = (label: string) => summary.configurations.find((c) => c.values[axis.path] === label);
  const series = (pick: (c: ConfigurationSummary) => bigint) =>
    labels.map((label) => {
      const c = at(label);
      return c === undefined ? null : toNumber(pick(c));
    });
  return SUMMARY_METRICS.map((metric) => ({
    kind: "line",
    id: `line-${metric}`,
    title: `${METRIC_LABELS[metric]} over seeds`,
    xTitle: axis.path,
    labels,
    datasets: [
      { label: "p95", color: LINE_COLORS.p95, values: series((c) => c.metrics[metric].p95) },
      { label: "mean", color: LINE_COLORS.mean, values: series((c) => c.metrics[metric].mean) },
      { label: "p5", color: LINE_COLORS.p5, values: series((c) => c.metrics[metric].p5) },
    ],
  }));
}

function chartsOf(summary: SweepSummary, axes: readonly Axis[]): SweepChart[] {
  if (summary.configurations.length === 0) return [];
  if (axes.length >= 2) return heatmaps(summary, axes);
  if (axes.length === 1) return lines(summary, axes[0]!);
  return [];
}

function count(wad: bigint): string {
  return formatWadFixed(wad, 1).replace(/\.0$/, "");
}

function table(summary: SweepSummary): string {
  const paths = summary.vary.map((v) => v.path);
  const head = [
    ...paths.map((p) => `<th>${escapeHtml(p)}</th>`),
    "<th>seeds</th>",
    "<th>liquidations<br>mean (p5 - p95)</th>",
    "<th>liquidated notional<br>mean</th>",
    "<th>LaR95</th>",
    "<th>bad debt<br>mean</th>",
    "<th>VaR95</th>",
    "<th>traders' loss<br>mean</th>",
    "<th>market maker PnL<br>mean</th>",
    "<th>pool PnL<br>mean</th>",
  ].join("");
  const rows = summary.configurations.map((c) => {
    const m = c.metrics;
    const cells = [
      ...paths.map((p) => `<td class="value">${escapeHtml(c.values[p]!)}</td>`),
      `<td>${c.seeds.length}</td>`,
      `<td>${count(m.liquidations.mean)} (${count(m.liquidations.p5)} - ${count(m.liquidations.p95)})</td>`,
      `<td>${formatUsd(m.liquidatedNotional.mean)}</td>`,
      `<td>${formatUsd(c.lar95)}</td>`,
      `<td>${formatUsd(m.badDebt.mean)}</td>`,
      `<td>${formatUsd(c.var95)}</td>`,
      `<td>${formatUsd(m.tradersLoss.mean)}</td>`,
      `<td>${formatUsd(m.marketMakerPnl.mean, true)}</td>`,
      `<td>${formatUsd(m.poolPnl.mean, true)}</td>`,
    ];
    return `<tr>${cells.join("")}</tr>`;
  });
  return `<table id="configurations"><thead><tr>${head}</tr></thead><tbody>${rows.join("\n")}</tbody></table>`;
}

/** A UMD build from node_modules, ready to inline in a <script>. */
export function librarySource(module: string, file: string): string {
  // Both packages export only their entry points; the UMD builds sit beside them.
  return fs
    .readFileSync(path.join(path.dirname(require.resolve(module)), file), "utf8")
    .replace(/<\/script/gi, "<\\/script");
}

const STYLE = `
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1280px; color: #111827; padding: 0 16px; }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; } th, td { padding: 4px 10px; border-bottom: 1px solid #e5e7eb; text-align: right; }
th { font-weight: 600; } td.value { font-family: ui-monospace, monospace; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); gap: 16px; }
figure.chart { margin: 0; } .frame { position: relative; height: 320px; }
.note { color: #4b5563; }
`;

// Runs in the page: one chart per spec; a heatmap colours each cell from the lowest (blue) to the
// highest (red) value of its metric.
const CLIENT_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById("sweep-data").textContent);
  var matrix = window["chartjs-chart-matrix"];
  Chart.register(matrix.MatrixController, matrix.MatrixElement);
  window.__chartsRendered = 0;
  var compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 });
  // Writes each cell's value on it, so the page reads without hovering.
  var cellValues = {
    id: "cellValues",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx, meta = chart.getDatasetMeta(0), cells = chart.data.datasets[0].data;
      ctx.save();
      ctx.font = "12px system-ui, sans-serif";
      ctx.fillStyle = "#ffffff";
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      meta.data.forEach(function (element, i) {
        var centre = element.getCenterPoint();
        ctx.fillText(compact.format(cells[i].v), centre.x, centre.y);
      });
      ctx.restore();
    }
  };
  function colour(v, lo, hi) {
    var t = hi > lo ? (v - lo) / (hi - lo) : 0.5;
    var r = Math.round(37 + t * (220 - 37)), g = Math.round(99 + t * (38 - 99)), b = Math.round(235 + t * (38 - 235));
    return "rgba(" + r + "," + g + "," + b + ",0.9)";
  }
  data.charts.forEach(function (spec) {
    var canvas = document.getElementById(spec.id);
    var config;
    if (spec.kind === "heatmap") {
      var vs = spec.cells.map(function (c) { return c.v; });
      var lo = Math.min.apply(null, vs), hi = Math.max.apply(null, vs);
      config = {
        type: "matrix",
        data: { datasets: [{
          label: spec.title,
          data: spec.cells,
          backgroundColor: function (ctx) { var c = ctx.dataset.data[ctx.dataIndex]; return c ? colour(c.v, lo, hi) : "transparent"; },
          borderWidth: 1,
          borderColor: "#ffffff",
          width: function (ctx) { var a = ctx.chart.chartArea; return a ? a.width / spec.xLabels.length - 2 : 10; },
          height: function (ctx) { var a = ctx.chart.chartArea; return a ? a.height / spec.yLabels.length - 2 : 10; }
        }] },
        plugins: [cellValues],
        options: {
          animation: false, maintainAspectRatio: false,
          plugins: { legend: { display: false }, title: { display: true, text: spec.title },
            tooltip: { callbacks: { label: function (ctx) { var c = ctx.raw; return spec.xTitle + "=" + c.x + ", " + spec.yTitle + "=" + c.y + ": " + c.v.toLocaleString(); } } } },
          scales: {
            x: { type: "category", labels: spec.xLabels, offset: true, grid: { display: false }, title: { display: true, text: spec.xTitle } },
            y: { type: "category", labels: spec.yLabels, offset: true, reverse: true, grid: { display: false }, title: { display: true, text: spec.yTitle } }
          }
        }
      };
    } else {
      config = {
        type: "line",
        data: { labels: spec.labels, datasets: spec.datasets.map(function (d) {
          return { label: d.label, data: d.values, borderColor: d.color, backgroundColor: d.color, pointRadius: 4, borderWidth: 2, spanGaps: true };
        }) },
        options: { animation: false, maintainAspectRatio: false,
          plugins: { title: { display: true, text: spec.title } },
          scales: { x: { title: { display: true, text: spec.xTitle } } } }
      };
    }
    new Chart(canvas, config);
    window.__chartsRendered += 1;
  });
})();
`;

export function renderSweep(summary: SweepSummary, axes: readonly Axis[]): string {
  const charts = chartsOf(summary, axes);
  const data = JSON.stringify({ charts }).replace(/</g, "\\u003c");
  const figure = (chart: SweepChart) =>
    `<figure class="chart"><div class="frame"><canvas id="${chart.id}" aria-label="${escapeHtml(chart.title)}"></canvas></div></figure>`;
  const varied =
    summary.vary.length === 0
      ? "nothing varied"
      : summary.vary.map((v) => `${escapeHtml(v.path)} = ${escapeHtml(v.values.join(", "))}`).join("; ");
  const note =
    axes.length > 2
      ? `<p class="note">Heatmaps show ${escapeHtml(axes[0]!.path)} by ${escapeHtml(axes[1]!.path)} where every other varied path takes its first value; the table has every configuration.</p>`
      : "";
  const body = [
    `<h1>Sweep of ${escapeHtml(summary.scenario)}</h1>`,
    `<p class="note">${escapeHtml(summary.source)}: ${varied}; seeds ${summary.seeds[0]}..${summary.seeds[summary.seeds.length - 1]}; ${summary.runs} runs over ${summary.configurations.length} configurations.</p>`,
    note,
    `<div class="grid">${charts.map(figure).join("\n")}</div>`,
    "<h2>Configurations</h2>",
    table(summary),
  ].join("\n");
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>perpsim sweep: ${escapeHtml(summary.scenario)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    body,
    `<script type="application/json" id="sweep-data">${data}</script>`,
    `<script>${librarySource("chart.js", "chart.umd.js")}</script>`,
    `<script>${librarySource("chartjs-chart-matrix", "chartjs-chart-matrix.min.js")}</script>`,
    `<script>${CLIENT_SCRIPT}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}
