/**
 * The survival lab (`npm run lab`): a built-in sweep that puts numbers on the seed's advice to retail
 * traders: "trade liquid coins", "watch funding and the long/short ratio", "don't use 20x or 30x".
 *
 * The world is scenarios/lab/survival.json: a crowd of retail shorts, a few longs against it, and a
 * market maker who buys spot against the crowd. Each configuration sets one side's leverage
 * (2/5/10/20/30x; the other side stays at the file's 3x), whether that side is the crowd's ("with")
 * or the other ("against"), and the market's depth (thin or deep spot and skew scale). Over seeds it
 * measures that side only (no arbitrageur and no perp position of the market maker share its side):
 * the share of its traders liquidated, the median over seeds of its average loss per trader, and the
 * funding it paid per trader.
 *
 * The plan and the table are pure; `runLab` runs the plan through the sweep (runs.csv, summary.json,
 * sweep.html, resumable) and adds lab.md and lab.html.
 */
import fs from "node:fs";
import path from "node:path";
import { formatWad, formatWadFixed } from "./decimal";
import type { Configuration } from "./sweep/grid";
import { parseSeeds } from "./sweep/grid";
import type { Axis, JsonValue } from "./sweep/paths";
import { parsePath } from "./sweep/paths";
import { librarySource } from "./sweep/report";
import { readRunsCsv, type RunRow } from "./sweep/summary";
import { mean, percentile } from "./sweep/stats";
import { planOf, readScenarioJson, runSweep, type Executor, type SweepPlan, type SweepProgress } from "./sweep/sweep";

export const LAB_SCENARIO = path.join("scenarios", "lab", "survival.json");
export const LAB_LEVERAGES = [2, 5, 10, 20, 30] as const;
/** Market depth: the thin market is the file's; the deep one has squeeze-deep's spot pool and skew scale. */
export const LAB_MARKETS = {
  thin: { spotLiquidityUsd: 200_000, skewScale: 40_000_000, maxOpenInterest: 10_000_000 },
  deep: { spotLiquidityUsd: 50_000_000, skewScale: 4_000_000_000, maxOpenInterest: 1_000_000_000 },
} as const;
export type LabMarket = keyof typeof LAB_MARKETS;
export type LabSide = "with" | "against";
const SIDES: readonly LabSide[] = ["with", "against"];
/** In the lab file, retail group 0 is the crowd and group 1 the traders against it. */
const CROWD_GROUP = 0;
const AGAINST_GROUP = 1;

const pseudoAxis = (name: string, values: readonly (string | number)[]): Axis => ({
  path: name,
  segments: [],
  values: values.map((v) => String(v)),
});

/** The lab's columns in runs.csv: leverage, market, side. */
export const LAB_AXES: Axis[] = [
  pseudoAxis("leverage", LAB_LEVERAGES),
  pseudoAxis("market", Object.keys(LAB_MARKETS)),
  pseudoAxis("side", SIDES),
];

function write(path: string, value: JsonValue): Configuration["writes"][number] {
  return { path, segments: parsePath(path), value };
}

/** Leverage x market x side, in that order (side turning fastest). */
export function labConfigurations(): Configuration[] {
  const configs: Configuration[] = [];
  for (const leverage of LAB_LEVERAGES) {
    for (const market of Object.keys(LAB_MARKETS) as LabMarket[]) {
      for (const side of SIDES) {
        const group = side === "with" ? CROWD_GROUP : AGAINST_GROUP;
        const depth = LAB_MARKETS[market];
        configs.push({
          index: configs.length,
          labels: [String(leverage), market, side],
          writes: [
            write("markets.0.spotLiquidityUsd", depth.spotLiquidityUsd),
            write("markets.0.skewScale", depth.skewScale),
            write("markets.0.maxOpenInterest", depth.maxOpenInterest),
            write(`agents.retail.${group}.leverage`, { min: leverage, max: leverage }),
          ],
        });
      }
    }
  }
  return configs;
}

export function labPlan(seeds: string, file = LAB_SCENARIO): SweepPlan {
  return planOf(file, readScenarioJson(file), LAB_AXES, labConfigurations(), parseSeeds(seeds));
}

/** One line of the lab's table: the measured side of one configuration, over its seeds. */
export interface LabLine {
  leverage: number;
  market: LabMarket;
  side: LabSide;
  seeds: number;
  /** Share of the side's traders liquidated, mean over seeds (WAD fraction). */
  liquidatedShare: bigint;
  /** Median over seeds of the side's average loss per trader, USD (negative: a gain). */
  medianLossPerTrader: bigint;
  /** Funding the side paid per trader, mean over seeds, USD (negative: received). */
  fundingPaidPerTrader: bigint;
}

/** The lab's table from the finished runs: one line per configuration with runs, in plan order. */
export function labTable(plan: SweepPlan, rows: readonly RunRow[]): LabLine[] {
  const groups = plan.base.agents.retail;
  return plan.configs.flatMap((config) => {
    const own = rows.filter((row) => row.labels.join() === config.labels.join());
    if (own.length === 0) return [];
    const [leverage, market, side] = config.labels as [string, LabMarket, LabSide];
    const group = groups[side === "with" ? CROWD_GROUP : AGAINST_GROUP]!;
    const count = BigInt(group.count);
    const long = group.side === "long";
    const perTrader = (x: bigint) => x / count;
    return [
      {
        leverage: Number(leverage),
        market,
        side,
        seeds: own.length,
        liquidatedShare: mean(
          own.map((row) => perTrader(long ? row.metrics.liquidatedLongs : row.metrics.liquidatedShorts)),
        ),
        medianLossPerTrader: percentile(
          own.map((row) => -perTrader(long ? row.metrics.retailPnlLongs : row.metrics.retailPnlShorts)),
          50,
        ),
        fundingPaidPerTrader: mean(
          own.map((row) => perTrader(long ? row.metrics.fundingPaidLongs : row.metrics.fundingPaidShorts)),
        ),
      },
    ];
  });
}

const usd = (x: bigint) => `${x < 0n ? "-" : ""}$${formatWadFixed(x < 0n ? -x : x, 2)}`;
const pct = (x: bigint) => `${formatWadFixed(x * 100n, 0)}%`;

/** The table as Markdown, as the README shows it. */
export function labMarkdown(lines: readonly LabLine[], seeds: readonly number[]): string {
  const head = [
    "| leverage | market | side | traders liquidated | median loss per trader | funding paid per trader |",
    "| ---: | --- | --- | ---: | ---: | ---: |",
  ];
  const body = lines.map(
    (l) =>
      `| ${l.leverage}x | ${l.market} | ${l.side} the crowd | ${pct(l.liquidatedShare)} | ${usd(l.medianLossPerTrader)} | ${usd(l.fundingPaidPerTrader)} |`,
  );
  const note = `Seeds ${seeds[0]}..${seeds[seeds.length - 1]} (${seeds.length} per line). Loss and funding in USD per trader; a negative loss is a gain, negative funding was received.`;
  return [...head, ...body, "", note, ""].join("\n");
}

/** lab.html: the share liquidated and the median loss against leverage, one line per market and side. */
export function labHtml(lines: readonly LabLine[], markdown: string): string {
  const colours: Record<string, string> = {
    "thin with": "#dc2626",
    "thin against": "#f59e0b",
    "deep with": "#2563eb",
    "deep against": "#16a34a",
  };
  const series = (pick: (l: LabLine) => number) =>
    Object.entries(colours).map(([key, color]) => ({
      label: `${key.replace(" ", ", ")} the crowd`,
      color,
      values: LAB_LEVERAGES.map((lev) => {
        const line = lines.find((l) => `${l.market} ${l.side}` === key && l.leverage === lev);
        return line === undefined ? null : pick(line);
      }),
    }));
  const charts = [
    {
      id: "liquidated",
      title: "traders liquidated (%)",
      datasets: series((l) => Number(formatWad(l.liquidatedShare * 100n))),
    },
    {
      id: "loss",
      title: "median loss per trader (USD)",
      datasets: series((l) => Number(formatWad(l.medianLossPerTrader))),
    },
  ];
  const data = JSON.stringify({ labels: LAB_LEVERAGES.map((l) => `${l}x`), charts }).replace(/</g, "\\u003c");
  const table = markdown
    .split("\n")
    .filter((line) => line.startsWith("|") && !line.startsWith("| ---"))
    .map((line, i) => {
      const cells = line
        .split("|")
        .slice(1, -1)
        .map((c) => c.trim());
      const tag = i === 0 ? "th" : "td";
      return `<tr>${cells.map((c) => `<${tag}>${c.replace(/&/g, "&amp;").replace(/</g, "&lt;")}</${tag}>`).join("")}</tr>`;
    })
    .join("\n");
  const script = `
(function () {
  var data = JSON.parse(document.getElementById("lab-data").textContent);
  window.__chartsRendered = 0;
  data.charts.forEach(function (spec) {
    new Chart(document.getElementById(spec.id), {
      type: "line",
      data: { labels: data.labels, datasets: spec.datasets.map(function (d) {
        return { label: d.label, data: d.values, borderColor: d.color, backgroundColor: d.color, pointRadius: 4, borderWidth: 2 };
      }) },
      options: { animation: false, maintainAspectRatio: false, plugins: { title: { display: true, text: spec.title } },
        scales: { x: { title: { display: true, text: "leverage" } } } }
    });
    window.__chartsRendered += 1;
  });
})();`;
  return [
    "<!doctype html>",
    '<html lang="en"><head><meta charset="utf-8"><title>perpsim survival lab</title>',
    "<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:24px auto;padding:0 16px}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}.frame{position:relative;height:340px}table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #e5e7eb;text-align:right}</style>",
    "</head><body>",
    "<h1>Survival lab</h1>",
    `<div class="grid">${charts.map((c) => `<div class="frame"><canvas id="${c.id}"></canvas></div>`).join("")}</div>`,
    `<table>${table}</table>`,
    `<script type="application/json" id="lab-data">${data}</script>`,
    `<script>${librarySource("chart.js", "chart.umd.js")}</script>`,
    `<script>${script}</script>`,
    "</body></html>",
    "",
  ].join("\n");
}

export interface LabResult {
  lines: LabLine[];
  markdown: string;
  files: { markdown: string; html: string; runs: string };
}

/** Runs (or resumes) the lab in `out` and writes lab.md and lab.html beside the sweep's files. */
export async function runLab(
  plan: SweepPlan,
  out: string,
  executor: Executor,
  progress?: SweepProgress,
): Promise<LabResult> {
  const sweep = await runSweep(plan, out, executor, progress);
  const planned = new Set(plan.runs.map((run) => run.key));
  const rows = readRunsCsv(fs.readFileSync(sweep.files.runs, "utf8"), plan.axes, sweep.files.runs).filter((row) =>
    planned.has(row.key),
  );
  const lines = labTable(plan, rows);
  const markdown = labMarkdown(lines, plan.seeds);
  const files = { markdown: path.join(out, "lab.md"), html: path.join(out, "lab.html"), runs: sweep.files.runs };
  fs.writeFileSync(files.markdown, markdown);
  fs.writeFileSync(files.html, labHtml(lines, markdown));
  return { lines, markdown, files };
}
