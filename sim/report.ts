/**
 * report.html for one run and the comparison page for several (reports/latest/index.html).
 *
 * Each page is one self-contained file that opens offline: Chart.js is read from node_modules at
 * render time and inlined, the data sits in a JSON script tag, and a small inline script draws one
 * chart per <canvas data-chart>, counting them in window.__chartsRendered for the browser test.
 * The prose explaining the outcome is generated from the summary (`explainOutcome`).
 *
 * Values become floats only here, for drawing and for display text; the files the numbers come
 * from (summary.json, timeline.csv) keep them exact.
 */
import fs from "node:fs";
import path from "node:path";
import { formatWad, formatWadFixed, WAD } from "./decimal";
import type { MarketConfig, Scenario } from "./scenario";
import type {
  CoinMarketSummary,
  LiquidationEvent,
  MarketStep,
  MarketSummary,
  PeakMove,
  SimulationResult,
  SqueezePoint,
  Wad,
} from "./types";
import { ACTOR_KINDS, type ActionCounts, type ActorKind } from "./agents/intents";

const SECONDS_PER_HOUR = 3600;
const SECONDS_PER_MINUTE = 60;
/** Below this many USD, amounts are shown with cents. */
const CENTS_BELOW_USD = 100n * WAD;
/** The squeeze point quoted in the prose. */
const QUOTED_MOVE_PCT = 10;

/* NUMBERS AS TEXT */

function groupThousands(text: string): string {
  const [whole = "", fraction] = text.split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** "$150,000", "$12.50", "$0"; with signed, "+$1,234" (a loss is always "-$1,234"). */
export function formatUsd(value: Wad, signed = false): string {
  if (value === 0n) return "$0";
  const magnitude = value < 0n ? -value : value;
  const text = `$${groupThousands(formatWadFixed(magnitude, magnitude < CENTS_BELOW_USD ? 2 : 0))}`;
  if (value < 0n) return `-${text}`;
  return signed && value > 0n ? `+${text}` : text;
}

/** A fraction as a signed percentage with one decimal: 0.3812 -> "+38.1%". */
export function formatPct(fraction: Wad): string {
  const text = formatWadFixed(fraction * 100n, 1);
  return fraction > 0n && !/^0\.0$/.test(text) ? `+${text}%` : `${text}%`;
}

function formatAmount(value: Wad): string {
  return groupThousands(formatWadFixed(value, 0));
}

function wadToNumber(value: Wad): number {
  return Number(formatWad(value));
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/* THE PROSE */

function marketConfig(scenario: Scenario, symbol: string): MarketConfig {
  const market = scenario.markets.find((m) => m.symbol === symbol);
  if (market === undefined)
    throw new Error(`summary names market ${symbol}, which scenario ${scenario.name} does not have`);
  return market;
}

function retailNoun(scenario: Scenario, symbol: string): string {
  const sides = new Set(scenario.agents.retail.filter((group) => group.market === symbol).map((group) => group.side));
  if (sides.size !== 1) return "retail positions";
  return sides.has("short") ? "retail shorts" : "retail longs";
}

/** Which way the market went: the larger of spot's peak rise and peak fall. */
function direction(move: PeakMove): "up" | "down" {
  return move.up >= -move.down ? "up" : "down";
}

function paidOrReceived(paid: Wad): string {
  return paid >= 0n ? `paid ${formatUsd(paid)}` : `received ${formatUsd(-paid)}`;
}

function explainMarket(scenario: Scenario, m: MarketSummary): string {
  const market = marketConfig(scenario, m.symbol);
  const way = direction(m.peakMove.spot);
  const peak = (move: PeakMove) => formatPct(move[way]);
  const pool = `a spot pool of ${formatUsd(market.spotLiquidityUsd)} per side`;
  const sentences: string[] = [];

  const mm = scenario.agents.marketMaker?.market === m.symbol ? scenario.agents.marketMaker : undefined;
  const buys = mm?.pushes.filter((push) => push.side === "buy") ?? [];
  if (mm !== undefined && buys.length > 0) {
    const bought = buys.reduce((sum, push) => sum + push.usd, 0n);
    sentences.push(
      `A ${formatUsd(mm.budgetUsd)} market-maker budget, ${formatUsd(bought)} of it in ${buys.length} spot buy${
        buys.length === 1 ? "" : "s"
      }, ` +
        `moved ${m.symbol} spot ${peak(m.peakMove.spot)} at its peak on ${pool}; ` +
        `the index went to ${peak(m.peakMove.index)}, the mark to ${peak(m.peakMove.mark)} and the last price to ${peak(
          m.peakMove.last,
        )}.`,
    );
  } else if (scenario.agents.attacker?.market === m.symbol) {
    const venues = market.venueLiquidityUsd.length;
    sentences.push(
      `The attacker pushed ${m.symbol} (its story is under Replay): on ${venues} venue${venues === 1 ? "" : "s"} of ${formatUsd(
        market.venueLiquidityUsd[0]!,
      )} per side, spot moved at most ${peak(m.peakMove.spot)}, the index ${peak(m.peakMove.index)}, the mark ${peak(
        m.peakMove.mark,
      )} and the last price ${peak(m.peakMove.last)}.`,
    );
  } else {
    sentences.push(
      `No market maker pushed ${m.symbol}: on ${pool}, spot moved at most ${peak(m.peakMove.spot)}, ` +
        `the index ${peak(m.peakMove.index)}, the mark ${peak(m.peakMove.mark)} and the last price ${peak(
          m.peakMove.last,
        )}.`,
    );
  }

  const noun = retailNoun(scenario, m.symbol);
  if (m.tradersLiquidated === 0) {
    sentences.push(
      `None of the ${m.traders} ${noun} was liquidated${
        m.liquidations > 0 ? ` (${m.liquidations} other positions were)` : ""
      }.`,
    );
  } else {
    let text = `${m.tradersLiquidated} of ${m.traders} ${noun} were liquidated`;
    text += m.liquidations > m.tradersLiquidated ? ` (${m.liquidations} liquidations in all, ` : " (";
    text += `${formatUsd(m.liquidatedNotional)} of notional)`;
    if (m.cascadeDepth > 1)
      text += `; the longest cascade ran ${m.cascadeDepth} rounds, up to ${m.maxLiquidationsPerBlock} liquidations in one block`;
    if (m.medianCrossingToLiquidationSec !== null)
      text += `; the keeper closed them a median ${m.medianCrossingToLiquidationSec} s after the mark crossed`;
    sentences.push(`${text}.`);
  }

  const loss =
    m.tradersLoss >= 0n ? `Traders lost ${formatUsd(m.tradersLoss)}` : `Traders gained ${formatUsd(-m.tradersLoss)}`;
  let money = `${loss} in all; in funding, longs ${paidOrReceived(m.fundingPaidLongs)} and shorts ${paidOrReceived(
    m.fundingPaidShorts,
  )}`;
  if (mm !== undefined)
    money += `; the market maker's PnL was ${formatUsd(m.marketMakerPnl, true)} on ${formatUsd(
      m.marketMakerCost,
    )} of spot buys (perp ${formatUsd(m.marketMakerPnlPerp, true)}, spot ${formatUsd(m.marketMakerPnlSpot, true)})`;
  money += `; the insurance fund changed by ${formatUsd(m.insuranceFundDelta, true)} and the LP pool by ${formatUsd(
    m.poolPnl,
    true,
  )}`;
  if (m.badDebt > 0n || m.adlCount > 0)
    money += `, with ${formatUsd(m.badDebt)} of bad debt and ${m.adlCount} ADL close${m.adlCount === 1 ? "" : "s"}`;
  sentences.push(`${money}.`);

  const quoted = m.squeeze.find((point) => point.movePct === QUOTED_MOVE_PCT);
  if (quoted !== undefined) {
    const [verb, cost, atRisk, side] =
      way === "up"
        ? ["Lifting", quoted.costUp, quoted.liquidatableUp, "short"]
        : ["Pushing down", quoted.costDown, quoted.liquidatableDown, "long"];
    sentences.push(
      `${verb} this spot pool ${QUOTED_MOVE_PCT}% costs about ${formatUsd(cost)} and puts ${formatUsd(
        atRisk,
      )} of ${side} notional within liquidation.`,
    );
  }
  return sentences.join(" ");
}

/** Names of the agent kinds, as the report writes them. */
const ACTOR_NAMES: Record<ActorKind, string> = {
  retail: "retail traders",
  marketMaker: "market maker",
  arbitrageur: "arbitrageur",
  attacker: "attacker",
  oracle: "oracle updates",
  keeper: "keeper",
};

function refusalList(refused: Readonly<Record<string, number>>): string {
  return Object.entries(refused)
    .map(([error, n]) => `${n} ${error}`)
    .join(", ");
}

/** A sentence on the refusals that shaped the run (the actions the engine turned down), or "". */
export function explainRefusals(actions: ActionCounts): string {
  const refused = ACTOR_KINDS.filter((kind) => Object.keys(actions[kind].refused).length > 0);
  if (refused.length === 0) return "Every action the agents attempted went through.";
  const parts = refused.map((kind) => {
    const c = actions[kind];
    return `the ${ACTOR_NAMES[kind]} ${c.attempted - c.done} of ${c.attempted} (${refusalList(c.refused)})`;
  });
  return `The engine refused ${parts.join("; ")}.`;
}

/** The paragraph that explains a run's outcome with its numbers, one passage per market, then the refusals. */
export function explainOutcome(result: SimulationResult): string {
  return [
    ...result.summary.markets.map((m) => explainMarket(result.scenario, m)),
    explainRefusals(result.summary.actions),
  ].join(" ");
}

/** Every agent kind's actions: attempted, done, refused by custom error. */
function actionsTable(actions: ActionCounts): string {
  const rows = ACTOR_KINDS.map((kind) => {
    const c = actions[kind];
    const refused = refusalList(c.refused) || "none";
    return `<tr><th>${escapeHtml(ACTOR_NAMES[kind])}</th><td>${c.attempted}</td><td>${c.done}</td><td>${escapeHtml(
      refused,
    )}</td></tr>`;
  }).join("\n");
  return (
    `<table class="actions"><thead><tr><th>Agent</th><th>Attempted</th><th>Done</th><th>Refused</th></tr></thead>` +
    `<tbody>\n${rows}\n</tbody></table>`
  );
}

/* TABLES */

type MetricRow = [label: string, value: (m: MarketSummary, scenario: Scenario) => string];

const peakText = (move: PeakMove) => `${formatPct(move.up)} / ${formatPct(move.down)}`;

const METRIC_ROWS: MetricRow[] = [
  ["Spot pool per side", (m, s) => formatUsd(marketConfig(s, m.symbol).spotLiquidityUsd)],
  ["Skew scale", (m, s) => formatAmount(marketConfig(s, m.symbol).skewScale)],
  [
    "Market-maker budget",
    (m, s) => (s.agents.marketMaker?.market === m.symbol ? formatUsd(s.agents.marketMaker.budgetUsd) : "none"),
  ],
  ["Retail liquidated", (m) => `${m.tradersLiquidated} of ${m.traders}`],
  ["Liquidations (all) / notional", (m) => `${m.liquidations} / ${formatUsd(m.liquidatedNotional)}`],
  ["Peak spot move (up / down)", (m) => peakText(m.peakMove.spot)],
  ["Peak index move", (m) => peakText(m.peakMove.index)],
  ["Peak mark move", (m) => peakText(m.peakMove.mark)],
  ["Peak last-price move", (m) => peakText(m.peakMove.last)],
  ["Traders' loss", (m) => formatUsd(m.tradersLoss)],
  ["Market maker: spot buys / PnL", (m) => `${formatUsd(m.marketMakerCost)} / ${formatUsd(m.marketMakerPnl, true)}`],
  [
    "Market maker PnL: perp / spot",
    (m) => `${formatUsd(m.marketMakerPnlPerp, true)} / ${formatUsd(m.marketMakerPnlSpot, true)}`,
  ],
  ["Insurance fund change", (m) => formatUsd(m.insuranceFundDelta, true)],
  ["LP pool PnL", (m) => formatUsd(m.poolPnl, true)],
  ["Funding paid: longs / shorts", (m) => `${formatUsd(m.fundingPaidLongs)} / ${formatUsd(m.fundingPaidShorts)}`],
  ["Bad debt / ADL closes", (m) => `${formatUsd(m.badDebt)} / ${m.adlCount}`],
  ["Cascade depth / most per block", (m) => `${m.cascadeDepth} / ${m.maxLiquidationsPerBlock}`],
  [
    "Median crossing to liquidation",
    (m) => (m.medianCrossingToLiquidationSec === null ? "n/a" : `${m.medianCrossingToLiquidationSec} s`),
  ],
];

function metricTable(columns: readonly { title: string; market: MarketSummary; scenario: Scenario }[]): string {
  const head = columns.map((column) => `<th>${escapeHtml(column.title)}</th>`).join("");
  const body = METRIC_ROWS.map(
    ([label, value]) =>
      `<tr><th>${escapeHtml(label)}</th>${columns
        .map((c) => `<td>${escapeHtml(value(c.market, c.scenario))}</td>`)
        .join("")}</tr>`,
  ).join("\n");
  return `<table class="metrics"><thead><tr><th></th>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function squeezeTable(points: readonly SqueezePoint[]): string {
  const rows = points
    .map(
      (p) =>
        `<tr><td>${p.movePct}%</td><td>${formatUsd(p.costUp)}</td><td>${formatUsd(p.liquidatableUp)}</td>` +
        `<td>${formatUsd(p.costDown)}</td><td>${formatUsd(p.liquidatableDown)}</td></tr>`,
    )
    .join("\n");
  return (
    `<table class="squeeze"><thead><tr><th>Move</th><th>Cost to lift spot</th><th>Short notional within reach</th>` +
    `<th>Cost to push spot down</th><th>Long notional within reach</th></tr></thead><tbody>\n${rows}\n</tbody></table>`
  );
}

/* CHARTS */

type ChartKind = "price" | "funding" | "open-interest" | "insurance" | "pnl" | "lp-share";

interface DatasetSpec {
  label: string;
  color: string;
  /** [hours, value] pairs. */
  points: [number, number][];
  style: "line" | "step" | "markers";
  axis: "y" | "y2";
}

interface ChartSpec {
  id: string;
  kind: ChartKind;
  market: string;
  title: string;
  yTitle: string;
  y2Title: string | null;
  xMax: number;
  /** A fixed y range, so that charts side by side share one scale; null lets Chart.js choose. */
  yRange: [number, number] | null;
  datasets: DatasetSpec[];
}

const COLORS = {
  spot: "#6b7280",
  index: "#2563eb",
  mark: "#ea580c",
  last: "#9333ea",
  shortLiquidated: "#dc2626",
  longLiquidated: "#16a34a",
  funding: "#0891b2",
  oiLong: "#16a34a",
  oiShort: "#dc2626",
  insurance: "#ca8a04",
  pool: "#4b5563",
};
const PNL_COLORS = ["#dc2626", "#2563eb", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#4b5563"];

const hours = (t: number) => t / SECONDS_PER_HOUR;

function line(
  label: string,
  color: string,
  points: [number, number][],
  style: DatasetSpec["style"] = "line",
  axis: DatasetSpec["axis"] = "y",
): DatasetSpec {
  return { label, color, points, style, axis };
}

/** What a market's charts draw at one step: a USD market's MarketStep or a coin market's CoinMarketStep. */
type ChartStep = Pick<
  MarketStep,
  "index" | "mark" | "last" | "fundingRate" | "oiLong" | "oiShort" | "insuranceFund" | "poolValue"
> & { spot?: Wad };

/** One market as its charts see it: its steps, its liquidations and the units its axes name. */
interface ChartMarket {
  symbol: string;
  /** The coin, for "USD per ALT". */
  base: string;
  /** "USD" for a USD-margined market, the coin for a coin-margined one: its insurance fund and pool. */
  money: string;
  /** The unit of its open interest. */
  oiUnit: string;
  /** Whether it has a spot pool of its own (a coin-margined market's is its underlying's). */
  ownSpot: boolean;
  /** [seconds since the start, the step] for each timeline row. */
  steps: [number, ChartStep][];
  /** Its liquidations: `side` the trader's, `price` in USD. */
  liquidations: readonly LiquidationEvent[];
}

/** A USD market of the run, for its charts. */
function usdChartMarket(result: SimulationResult, symbol: string): ChartMarket {
  const base = symbol.split("-")[0] ?? symbol;
  const steps = result.timeline.map((row): [number, ChartStep] => {
    const step = row.markets.find((m) => m.symbol === symbol);
    if (step === undefined) throw new Error(`timeline step ${row.step} has no market ${symbol}`);
    return [row.t, step];
  });
  const liquidations = result.liquidations.filter((event) => event.market === symbol);
  return { symbol, base, money: "USD", oiUnit: base, ownSpot: true, steps, liquidations };
}

/** A coin-margined market of the run, for its charts: USD prices, USD face open interest, money in the coin. */
function coinChartMarket(result: SimulationResult, c: CoinMarketSummary): ChartMarket {
  const steps = result.timeline.map((row): [number, ChartStep] => {
    const step = row.coinMarkets?.find((m) => m.symbol === c.symbol);
    if (step === undefined) throw new Error(`timeline step ${row.step} has no coin market ${c.symbol}`);
    return [row.t, step];
  });
  const liquidations = (result.coinLiquidations ?? []).filter((event) => event.market === c.symbol);
  return {
    symbol: c.symbol,
    base: c.asset,
    money: c.asset,
    oiUnit: "USD face",
    ownSpot: false,
    steps,
    liquidations,
  };
}

function marketSeries(market: ChartMarket, pick: (step: ChartStep) => Wad): [number, number][] {
  return market.steps.map(([t, step]) => [hours(t), wadToNumber(pick(step))]);
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-");
}

/** The price lines, in order; "spot" only for a market with a spot pool of its own. */
const PRICE_LINES: readonly [label: string, color: string, pick: (step: ChartStep) => Wad][] = [
  ["spot", COLORS.spot, (s) => s.spot ?? 0n],
  ["index", COLORS.index, (s) => s.index],
  ["mark", COLORS.mark, (s) => s.mark],
  ["last", COLORS.last, (s) => s.last],
];

function priceLines(market: ChartMarket): DatasetSpec[] {
  return PRICE_LINES.filter(([label]) => market.ownSpot || label !== "spot").map(([label, color, pick]) =>
    line(label, color, marketSeries(market, pick)),
  );
}

function priceChart(market: ChartMarket, id: string, xMax: number): ChartSpec {
  const { symbol } = market;
  const markers = (side: "short" | "long", label: string, color: string): DatasetSpec[] => {
    const points = market.liquidations
      .filter((event) => event.side === side)
      .map((event): [number, number] => [hours(event.t), wadToNumber(event.price)]);
    return points.length === 0 ? [] : [line(label, color, points, "markers")];
  };
  return {
    id,
    kind: "price",
    market: symbol,
    title: `${symbol}: ${market.ownSpot ? "spot, index, mark" : "index, mark"} and last price, with liquidations`,
    yTitle: `USD per ${market.base}`,
    y2Title: null,
    xMax,
    yRange: null,
    datasets: [
      ...priceLines(market),
      ...markers("short", "short liquidated", COLORS.shortLiquidated),
      ...markers("long", "long liquidated", COLORS.longLiquidated),
    ],
  };
}

/** A market's price, funding, open interest and insurance fund charts; money in `market.money`. */
function marketCharts(market: ChartMarket, xMax: number): ChartSpec[] {
  const { symbol, money } = market;
  const prefix = slug(symbol);
  return [
    priceChart(market, `${prefix}-price`, xMax),
    {
      id: `${prefix}-funding`,
      kind: "funding",
      market: symbol,
      title: `${symbol}: funding rate per interval (> 0: longs pay shorts)`,
      yTitle: "% per interval",
      y2Title: null,
      xMax,
      yRange: null,
      datasets: [
        line(
          "funding rate",
          COLORS.funding,
          marketSeries(market, (s) => s.fundingRate * 100n),
          "step",
        ),
      ],
    },
    {
      id: `${prefix}-open-interest`,
      kind: "open-interest",
      market: symbol,
      title: `${symbol}: open interest`,
      yTitle: market.oiUnit,
      y2Title: null,
      xMax,
      yRange: null,
      datasets: [
        line(
          "long",
          COLORS.oiLong,
          marketSeries(market, (s) => s.oiLong),
        ),
        line(
          "short",
          COLORS.oiShort,
          marketSeries(market, (s) => s.oiShort),
        ),
      ],
    },
    {
      id: `${prefix}-insurance`,
      kind: "insurance",
      market: symbol,
      title: `${symbol}: insurance fund and LP pool`,
      yTitle: `insurance fund, ${money}`,
      y2Title: `LP pool, ${money}`,
      xMax,
      yRange: null,
      datasets: [
        line(
          "insurance fund",
          COLORS.insurance,
          marketSeries(market, (s) => s.insuranceFund),
        ),
        line(
          "LP pool",
          COLORS.pool,
          marketSeries(market, (s) => s.poolValue),
          "line",
          "y2",
        ),
      ],
    },
  ];
}

function pnlChart(result: SimulationResult, xMax: number): ChartSpec {
  return {
    id: "agents-pnl",
    kind: "pnl",
    market: "",
    title: "Agents' PnL",
    yTitle: "USD",
    y2Title: null,
    xMax,
    yRange: null,
    datasets: result.pnl.map((series, i) =>
      line(
        series.agent,
        PNL_COLORS[i % PNL_COLORS.length]!,
        series.points.map((p): [number, number] => [hours(p.t), wadToNumber(p.pnl)]),
      ),
    ),
  };
}

function canvas(chart: ChartSpec): string {
  return (
    `<figure class="chart"><div class="frame"><canvas id="${escapeHtml(chart.id)}" data-chart="${chart.kind}" ` +
    `data-market="${escapeHtml(chart.market)}" role="img" aria-label="${escapeHtml(
      chart.title,
    )}"></canvas></div></figure>`
  );
}

/* THE PAGE */

/** Draws every chart in the data, then counts it in window.__chartsRendered. Runs in the browser. */
const CLIENT_SCRIPT = `
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  window.__chartsRendered = 0;
  Chart.defaults.font.family = "system-ui, sans-serif";
  data.charts.forEach(function (spec) {
    var datasets = spec.datasets.map(function (d) {
      var markers = d.style === "markers";
      return {
        label: d.label,
        data: d.points.map(function (p) { return { x: p[0], y: p[1] }; }),
        borderColor: d.color,
        backgroundColor: d.color,
        borderWidth: markers ? 1 : 1.5,
        showLine: !markers,
        pointRadius: markers ? 4 : 0,
        pointStyle: markers ? "triangle" : "circle",
        stepped: d.style === "step",
        yAxisID: d.axis
      };
    });
    var scales = {
      x: { type: "linear", min: 0, max: spec.xMax, title: { display: true, text: "hours" } },
      y: { title: { display: true, text: spec.yTitle } }
    };
    if (spec.yRange) { scales.y.min = spec.yRange[0]; scales.y.max = spec.yRange[1]; }
    if (spec.y2Title) scales.y2 = { position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: spec.y2Title } };
    new Chart(document.getElementById(spec.id), {
      type: "line",
      data: { datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "nearest", intersect: false },
        plugins: { title: { display: true, text: spec.title }, legend: { position: "bottom" } },
        scales: scales
      }
    });
    window.__chartsRendered += 1;
  });
})();
`;

const STYLE = `
body { font: 15px/1.5 system-ui, sans-serif; color: #111827; margin: 0 auto; max-width: 1200px; padding: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 19px; margin: 32px 0 8px; }
.description { color: #4b5563; } .outcome { font-size: 16px; background: #f3f4f6; padding: 12px 16px; border-radius: 6px; }
table { border-collapse: collapse; margin: 12px 0; } th, td { padding: 4px 12px; border-bottom: 1px solid #e5e7eb; text-align: right; }
tbody th { text-align: left; font-weight: normal; color: #374151; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(520px, 1fr)); gap: 16px; }
figure.chart { margin: 0; } .frame { position: relative; height: 300px; }
footer { margin-top: 32px; color: #6b7280; font-size: 13px; }
`;

function chartJsSource(): string {
  // The package exports only its entry points; the UMD build sits beside the CommonJS one.
  const file = path.join(path.dirname(require.resolve("chart.js")), "chart.umd.js");
  return fs.readFileSync(file, "utf8");
}

function page(title: string, body: string, charts: readonly ChartSpec[]): string {
  const data = JSON.stringify({ charts }).replace(/</g, "\\u003c");
  const library = chartJsSource().replace(/<\/script/gi, "<\\/script");
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title>`,
    `<style>${STYLE}</style>`,
    "</head>",
    "<body>",
    body,
    `<script type="application/json" id="report-data">${data}</script>`,
    `<script>${library}</script>`,
    `<script>${CLIENT_SCRIPT}</script>`,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

function runFacts(result: SimulationResult): string {
  const s = result.summary;
  return `seed ${s.seed} · ${hours(s.durationSec)} h in steps of ${s.stepSec / SECONDS_PER_MINUTE} min · ${
    s.blocks
  } blocks`;
}

/* COIN-MARGINED MARKETS (SPEC 9.2): money in the coin beside its USD value at the price each figure names */
/** "12,345.67 ALT" (two decimals; a minus sign for a negative amount). */
function formatCoin(value: Wad, asset: string): string {
  const magnitude = value < 0n ? -value : value;
  const [whole = "", fraction = ""] = formatWadFixed(magnitude, 2).split(".");
  const text = `${whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",")}.${fraction} ${asset}`;
  return value < 0n ? `-${text}` : text;
}

function hoursOrNone(sec: number | null): string {
  return sec === null ? "none" : `${Math.round((sec / 3600) * 100) / 100} h`;
}

/** Rows: label, the amount in the coin (or "" for none), its USD value with the price it is taken at. */
function rows(c: CoinMarketSummary): [string, string, string][] {
  const coin = (v: Wad) => formatCoin(v, c.asset);
  return [
    [
      "coin price (underlying's index)",
      "",
      `${formatUsd(c.priceStartUsd)} at the start, ${formatUsd(c.priceEndUsd)} at the end`,
    ],
    ["retail positions / liquidated", "", `${c.traders} / ${c.tradersLiquidated}`],
    ["first liquidation", "", hoursOrNone(c.firstLiquidationSec)],
    ["liquidations (USD face)", "", `${c.liquidations} (${formatUsd(c.liquidatedFaceUsd)})`],
    ["traders' deposits", coin(c.tradersDepositCoin), `${formatUsd(c.tradersDepositUsdAtTime)} at each entry's price`],
    ["traders' value at the end", coin(c.tradersValueCoin), `${formatUsd(c.tradersValueUsdAtEnd)} at the end price`],
    ["traders' loss in the coin", coin(c.tradersLossCoin), `${formatUsd(c.tradersLossUsdAtEnd)} at the end price`],
    ["traders' USD value lost (deposits at entry - value at the end)", "", formatUsd(c.tradersUsdValueLost)],
    ["bad debt", coin(c.badDebtCoin), `${formatUsd(c.badDebtUsdAtTime)} at the price when it happened`],
    ["pool PnL", coin(c.poolPnlCoin), `${formatUsd(c.poolPnlUsdAtEnd, true)} at the end price`],
    ["insurance fund change", coin(c.insuranceFundDeltaCoin), ""],
    ["ADL", "", String(c.adlCount)],
  ];
}

/** The USD-margined traders of the underlying beside the coin-margined ones, in one sentence. */
export function explainCoinMarket(
  c: CoinMarketSummary,
  usd: MarketSummary | undefined,
  sameSide: readonly { side: string; pnl: Wad }[],
): string {
  const entry =
    c.tradersDepositCoin === 0n ? c.priceStartUsd : (c.tradersDepositUsdAtTime * WAD) / c.tradersDepositCoin;
  const coin =
    `On ${c.symbol} (margined in ${c.asset}), ${c.tradersLiquidated} of ${c.traders} traders were liquidated and they ` +
    `lost ${formatUsd(c.tradersUsdValueLost)} of USD value: ${formatCoin(c.tradersLossCoin, c.asset)} in the coin ` +
    `(${formatUsd(c.tradersLossUsdAtEnd)} at the end price), the difference being the coin's own move, from ` +
    `${formatUsd(entry)} at their entries on average to ${formatUsd(c.priceEndUsd)} at the end.`;
  if (usd === undefined || usd.traders === 0) return coin;
  const groups = sameSide.map((g) => `its retail ${g.side} ${formatUsd(-g.pnl)}`).join(", ");
  return (
    `${coin} On ${usd.symbol} (margined in USD), ${usd.tradersLiquidated} of its ${usd.traders} retail traders ` +
    `were liquidated and they lost ${formatUsd(usd.tradersLoss)}${groups === "" ? "" : ` (${groups})`}.`
  );
}

/**
 * The USD-margined traders of `usdSymbol` on each side `coinSymbol`'s traders hold ("shorts"), with their
 * PnL at the end (the last point of their PnL line, the run's end).
 */
function sameSideGroups(
  pnl: SimulationResult["pnl"],
  coinSymbol: string,
  usdSymbol: string,
): { side: string; pnl: Wad }[] {
  const sides = pnl.flatMap((s) =>
    s.agent.startsWith("retail ") && s.agent.includes(`(${coinSymbol},`) ? [s.agent.split(" ")[1]!] : [],
  );
  return sides.flatMap((side) => {
    const line = pnl.find((s) => s.agent === `retail ${side} (${usdSymbol})`);
    const last = line?.points[line.points.length - 1];
    return last === undefined ? [] : [{ side, pnl: last.pnl }];
  });
}

/**
 * The section: per coin market, the sentence, the table in the coin and in USD, and its charts (prices in
 * USD, open interest in USD face, the insurance fund and pool in the coin); empty without coin markets.
 */
export function coinMarginedSection(result: SimulationResult, xMax: number): { html: string; charts: ChartSpec[] } {
  const summary = result.summary;
  const charts: ChartSpec[] = [];
  const parts = (summary.coinMargined ?? []).map((c) => {
    const usd = summary.markets.find((m) => m.symbol === c.underlying);
    const own = marketCharts(coinChartMarket(result, c), xMax);
    charts.push(...own);
    const body = rows(c)
      .map(
        ([label, coin, usdText]) =>
          `<tr><th>${escapeHtml(label)}</th><td>${escapeHtml(coin)}</td><td>${escapeHtml(usdText)}</td></tr>`,
      )
      .join("\n");
    return [
      `<h2>${escapeHtml(c.symbol)}: coin-margined in ${escapeHtml(c.asset)}, face ${escapeHtml(formatUsd(c.faceUsd))}</h2>`,
      `<p class="outcome">${escapeHtml(explainCoinMarket(c, usd, sameSideGroups(result.pnl, c.symbol, c.underlying)))}</p>`,
      `<table class="metrics"><thead><tr><th></th><th>in ${escapeHtml(c.asset)}</th><th>in USD</th></tr></thead><tbody>\n${body}\n</tbody></table>`,
      `<div class="grid">${own.map(canvas).join("\n")}</div>`,
    ].join("\n");
  });
  return { html: parts.join("\n"), charts };
}

/** report.html for one run: the outcome in words, a table and charts per market, the agents' PnL. */
export function renderReport(result: SimulationResult): string {
  const { scenario, summary } = result;
  const xMax = hours(summary.durationSec);
  const charts: ChartSpec[] = [];
  const sections = summary.markets.map((m) => {
    const own = marketCharts(usdChartMarket(result, m.symbol), xMax);
    charts.push(...own);
    return [
      `<h2>${escapeHtml(m.symbol)}</h2>`,
      metricTable([{ title: m.symbol, market: m, scenario }]),
      `<div class="grid">${own.map(canvas).join("\n")}</div>`,
      "<h3>Squeeze economics</h3>",
      squeezeTable(m.squeeze),
    ].join("\n");
  });
  const pnl = pnlChart(result, xMax);
  charts.push(pnl);
  const replay = replaySection(result, xMax);
  charts.push(...replay.charts);
  const coin = result.summary.coinMargined === undefined ? undefined : coinMarginedSection(result, xMax);
  charts.push(...(coin?.charts ?? []));
  const body = [
    `<h1>${escapeHtml(scenario.name)}</h1>`,
    `<p class="description">${escapeHtml(scenario.description)}</p>`,
    `<p class="outcome">${escapeHtml(explainOutcome(result))}</p>`,
    replay.html,
    ...sections,
    ...(coin === undefined ? [] : [coin.html]),
    "<h2>Agents</h2>",
    actionsTable(summary.actions),
    `<div class="grid">${canvas(pnl)}</div>`,
    `<footer>${escapeHtml(runFacts(result))} · perpsim</footer>`,
  ].join("\n");
  return page(`perpsim: ${scenario.name}`, body, charts);
}

/** The comparison page: runs side by side, a table of each run's first market, and their price charts. */
export function renderComparison(results: readonly SimulationResult[]): string {
  if (results.length < 2) throw new Error(`renderComparison needs at least two runs, got ${results.length}`);
  const columns = results.map((result) => {
    const market = result.summary.markets[0];
    if (market === undefined) throw new Error(`run ${result.scenario.name} has no market in its summary`);
    return { result, market };
  });
  const charts = columns.map(({ result, market }, i) =>
    priceChart(
      usdChartMarket(result, market.symbol),
      `run-${i}-${slug(result.scenario.name)}-price`,
      hours(result.summary.durationSec),
    ),
  );
  // One y scale for all, so a flat deep market looks flat beside a squeezed thin one.
  const ys = charts.flatMap((chart) => chart.datasets.flatMap((d) => d.points.map(([, y]) => y)));
  const shared = ys.reduce<[number, number]>(
    ([low, high], y) => [Math.min(low, y), Math.max(high, y)],
    [Infinity, -Infinity],
  );
  for (const chart of charts) chart.yRange = shared;
  const names = results.map((result) => result.scenario.name);
  const panels = columns.map(({ result }, i) =>
    [
      `<section><h2>${escapeHtml(result.scenario.name)}</h2>`,
      canvas(charts[i]!),
      `<p class="outcome">${escapeHtml(explainOutcome(result))}</p>`,
      `<footer>${escapeHtml(runFacts(result))}</footer></section>`,
    ].join("\n"),
  );
  const body = [
    `<h1>${escapeHtml(names.join(" vs "))}</h1>`,
    metricTable(
      columns.map(({ result, market }) => ({
        title: `${result.scenario.name} (${market.symbol})`,
        market,
        scenario: result.scenario,
      })),
    ),
    `<div class="grid">${panels.join("\n")}</div>`,
  ].join("\n");
  return page(`perpsim: ${names.join(" vs ")}`, body, charts);
}

/* REPLAYS (SPEC 9.4) */

/** The LP share price through the run, 1.00 at the start: the pool's value at mark over its value then. */
function lpShareChart(result: SimulationResult, xMax: number): ChartSpec {
  const first = result.timeline[0]!.markets[0]!.poolValue;
  return {
    id: "lp-share-price",
    kind: "lp-share",
    market: "",
    title: "LP share price (pool value at mark; 1.00 at the start, no LP flows in a run)",
    yTitle: "share price",
    y2Title: null,
    xMax,
    yRange: null,
    datasets: [
      line(
        "LP share price",
        COLORS.pool,
        result.timeline.map((row): [number, number] => [
          hours(row.t),
          Number((row.markets[0]!.poolValue * 10_000n) / first) / 10_000,
        ]),
      ),
    ],
  };
}

/** A replay's story in numbers: the pump, the attacker's spend, positions and take, the pool's loss. */
export function explainReplay(result: SimulationResult): string {
  const a = result.summary.attacker;
  if (a === undefined) return "";
  const m = result.summary.markets.find((x) => x.symbol === a.market)!;
  const first = result.timeline[0]!.markets.find((x) => x.symbol === a.market)!;
  const pool0 = first.poolValue;
  const poolLow = result.timeline.reduce((low, row) => {
    const v = row.markets[0]!.poolValue;
    return v < low ? v : low;
  }, pool0);
  const liquidated = a.accounts.filter((x) => x.liquidations > 0).map((x) => x.name);
  const deposits = a.accounts.reduce((sum, x) => sum + x.deposit, 0n);
  return [
    `The attacker put ${formatUsd(deposits)} into ${a.accounts.length} perp accounts (${a.accounts
      .map((x) => `${x.name} ${formatUsd(x.deposit)}`)
      .join(", ")}) and spent ${formatUsd(a.spotSpent)} on ${a.market.split("-")[0]} spot.`,
    `Spot peaked at ${formatPct(m.peakMove.spot.up)} from ${formatWad(first.spot)} USD, the index at ${formatPct(
      m.peakMove.index.up,
    )} and the mark at ${formatPct(m.peakMove.mark.up)}.`,
    liquidated.length > 0
      ? `The account${liquidated.length > 1 ? "s" : ""} ${liquidated.join(", ")} ${liquidated.length > 1 ? "were" : "was"} liquidated into the pool (bad debt ${formatUsd(m.badDebt)}, insurance fund ${formatUsd(m.insuranceFundDelta, true)}, ${m.adlCount} ADL).`
      : "None of its accounts was liquidated.",
    `Its perp accounts ended ${formatUsd(a.perpPnl, true)} and its spot wallet ${formatUsd(a.spotPnl, true)}: the attack ${
      a.pnl > 0n ? "made" : "cost"
    } ${formatUsd(a.pnl < 0n ? -a.pnl : a.pnl)}.`,
    `The pool, every trader's counterparty, ended ${formatUsd(m.poolPnl, true)} (${formatPct(
      (m.poolPnl * WAD) / pool0,
    )} of ${formatUsd(pool0)}); at its lowest the LP share price was ${formatWadFixed((poolLow * WAD) / pool0, 3)} of its start.`,
    `Retail traders ${m.tradersLoss > 0n ? "lost" : "gained"} ${formatUsd(m.tradersLoss < 0n ? -m.tradersLoss : m.tradersLoss)} in the same run (${m.tradersLiquidated} of ${m.traders} liquidated).`,
  ].join(" ");
}

/** The replay's section: the story in numbers, the attacker's accounts, sources, calibration, LP share price. */
function replaySection(result: SimulationResult, xMax: number): { html: string; charts: ChartSpec[] } {
  const { scenario, summary } = result;
  const a = summary.attacker;
  if (a === undefined && scenario.sources === undefined && scenario.calibrated === undefined)
    return { html: "", charts: [] };
  const parts: string[] = ["<h2>Replay</h2>"];
  const charts: ChartSpec[] = [];
  if (a !== undefined) {
    parts.push(`<p class="outcome">${escapeHtml(explainReplay(result))}</p>`);
    const rows = a.accounts.map(
      (x) =>
        `<tr><td>${escapeHtml(x.name)}</td><td>${formatUsd(x.deposit)}</td><td>${formatUsd(x.value)}</td><td>${formatUsd(
          x.value - x.deposit,
          true,
        )}</td><td>${x.liquidations}</td></tr>`,
    );
    rows.push(
      `<tr><td>spot wallet</td><td>${formatUsd(a.spotSpent)} spent</td><td></td><td>${formatUsd(a.spotPnl, true)}</td><td></td></tr>`,
      `<tr><th>attacker</th><td></td><td></td><th>${formatUsd(a.pnl, true)}</th><td></td></tr>`,
    );
    parts.push(
      "<table><thead><tr><th>account</th><th>put in</th><th>end value</th><th>PnL</th><th>liquidations</th></tr></thead>",
      `<tbody>${rows.join("")}</tbody></table>`,
    );
    const chart = lpShareChart(result, xMax);
    charts.push(chart);
    parts.push(`<div class="grid">${canvas(chart)}</div>`);
  }
  const table = (title: string, head: readonly string[], cells: readonly (readonly string[])[]) =>
    `<h3>${title}</h3><table><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${cells
      .map((row) => `<tr>${row.map((c) => `<td>${escapeHtml(c)}</td>`).join("")}</tr>`)
      .join("")}</tbody></table>`;
  if (scenario.sources !== undefined)
    parts.push(
      table(
        "From the public reports",
        ["fact", "value", "from"],
        scenario.sources.map((x) => [x.fact, x.value, x.from]),
      ),
    );
  if (scenario.calibrated !== undefined)
    parts.push(
      table(
        "Chosen by the replay",
        ["field", "value", "why"],
        scenario.calibrated.map((x) => [x.field, x.value, x.why]),
      ),
    );
  return { html: parts.join("\n"), charts };
}
