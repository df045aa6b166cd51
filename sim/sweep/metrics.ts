/**
 * What one sweep run leaves in runs.csv: a fixed set of metrics from the run's result, summed over
 * the scenario's markets where a market holds its own share (liquidations, losses, funding) and
 * taken once where the number is the whole exchange's (the pool and the insurance fund, which every
 * market of a run reports alike).
 *
 * Pure. Every metric is a WAD, counts included (40 liquidations is 40e18), so that the statistics
 * over seeds are exact decimals and a mean of 3 and 4 liquidations is 3.5.
 */
import { WAD } from "../decimal";
import type { SimulationResult, Wad } from "../types";

/** The metrics, in runs.csv column order. */
export const METRICS = [
  "liquidations",
  "liquidatedNotional",
  "badDebt",
  "tradersLoss",
  "marketMakerPnl",
  "poolPnl",
  "insuranceFundDelta",
  "traders",
  "tradersLiquidated",
  "liquidatedLongs",
  "liquidatedShorts",
  "retailPnlLongs",
  "retailPnlShorts",
  "fundingPaidLongs",
  "fundingPaidShorts",
  "peakSpotUp",
  "peakMarkUp",
  "attackerPnl",
] as const;

export type Metric = (typeof METRICS)[number];
export type RunMetrics = Record<Metric, Wad>;

/** The metrics summary.json describes per configuration (SPEC 9.3). */
export const SUMMARY_METRICS = [
  "liquidations",
  "liquidatedNotional",
  "badDebt",
  "tradersLoss",
  "marketMakerPnl",
  "poolPnl",
] as const satisfies readonly Metric[];

/** Human names, for the sweep page and tables. */
export const METRIC_LABELS: Record<Metric, string> = {
  liquidations: "liquidations",
  liquidatedNotional: "liquidated notional (USD)",
  badDebt: "bad debt (USD)",
  tradersLoss: "traders' loss (USD)",
  marketMakerPnl: "market maker's PnL (USD)",
  poolPnl: "pool PnL (USD)",
  insuranceFundDelta: "insurance fund change (USD)",
  traders: "retail positions",
  tradersLiquidated: "retail positions liquidated",
  liquidatedLongs: "long liquidations",
  liquidatedShorts: "short liquidations",
  retailPnlLongs: "retail longs' PnL (USD)",
  retailPnlShorts: "retail shorts' PnL (USD)",
  fundingPaidLongs: "funding paid by longs (USD)",
  fundingPaidShorts: "funding paid by shorts (USD)",
  peakSpotUp: "peak spot rise",
  peakMarkUp: "peak mark rise",
  attackerPnl: "attacker's PnL (USD)",
};

const count = (n: number): Wad => BigInt(n) * WAD;
const sum = (values: readonly Wad[]): Wad => values.reduce((total, x) => total + x, 0n);
const max = (values: readonly Wad[]): Wad => values.reduce((top, x) => (x > top ? x : top), values[0] ?? 0n);

/** Which side a retail PnL series stands for, from its name ("retail shorts (ALT-USD)"). */
function sideOf(agent: string): "long" | "short" | undefined {
  if (/\blongs?\b/.test(agent)) return "long";
  if (/\bshorts?\b/.test(agent)) return "short";
  return undefined;
}

function retailPnl(result: SimulationResult, side: "long" | "short"): Wad {
  return sum(
    result.pnl
      .filter((series) => series.kind === "retail" && sideOf(series.agent) === side)
      .map((series) => series.points[series.points.length - 1]?.pnl ?? 0n),
  );
}

function liquidatedPositions(result: SimulationResult, side: "long" | "short"): Wad {
  return count(new Set(result.liquidations.filter((l) => l.side === side).map((l) => l.positionId)).size);
}

export function runMetrics(result: SimulationResult): RunMetrics {
  const markets = result.summary.markets;
  const first = markets[0];
  if (first === undefined) throw new Error(`run of ${result.summary.scenario}: the summary has no market`);
  const total = (pick: (m: (typeof markets)[number]) => Wad) => sum(markets.map(pick));
  return {
    liquidations: count(markets.reduce((n, m) => n + m.liquidations, 0)),
    liquidatedNotional: total((m) => m.liquidatedNotional),
    badDebt: total((m) => m.badDebt),
    tradersLoss: total((m) => m.tradersLoss),
    marketMakerPnl: total((m) => m.marketMakerPnl),
    poolPnl: first.poolPnl,
    insuranceFundDelta: first.insuranceFundDelta,
    traders: count(markets.reduce((n, m) => n + m.traders, 0)),
    tradersLiquidated: count(markets.reduce((n, m) => n + m.tradersLiquidated, 0)),
    liquidatedLongs: liquidatedPositions(result, "long"),
    liquidatedShorts: liquidatedPositions(result, "short"),
    retailPnlLongs: retailPnl(result, "long"),
    retailPnlShorts: retailPnl(result, "short"),
    fundingPaidLongs: total((m) => m.fundingPaidLongs),
    fundingPaidShorts: total((m) => m.fundingPaidShorts),
    peakSpotUp: max(markets.map((m) => m.peakMove.spot.up)),
    peakMarkUp: max(markets.map((m) => m.peakMove.mark.up)),
    // A replay's attacker (SPEC 9.4); 0 in a scenario without one.
    attackerPnl: result.summary.attacker?.pnl ?? 0n,
  };
}
