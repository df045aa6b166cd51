/**
 * The simulator's terminal front: runs scenarios with a progress bar, writes each run's files under
 * reports/<scenario>/, and for the default pair also reports/latest/ with a side-by-side index.html,
 * then prints the comparison table.
 */
import fs from "node:fs";
import path from "node:path";
import cliProgress from "cli-progress";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { loadScenario, type Scenario } from "./scenario";
import { runScenario } from "./runner";
import { prepareOutDir, writeRunFiles } from "./output";
import { renderComparison, renderReport, formatUsd, formatPct } from "./report";
import type { CoinMarketSummary, SimulationResult } from "./types";
import { DEFAULT_PAIR, startWorkerRun, WorkerRunFailed, type WorkerRun } from "./worker";
import type { ActionCounts } from "./agents/intents";

export { DEFAULT_PAIR, WorkerRunFailed };

/** Bad command-line input, found before anything runs; the message is one line per problem. */
export class SimulateInputError extends Error {
  override name = "SimulateInputError";
}

/** The seed as the PRNG takes it: an integer in [0, 2^53). */
function checkSeed(seed: number | undefined): void {
  if (seed !== undefined && !(Number.isSafeInteger(seed) && seed >= 0))
    throw new SimulateInputError(`--seed: must be an integer from 0 to ${Number.MAX_SAFE_INTEGER} (got ${seed})`);
}

export interface SimulateArgs {
  scenario: string;
  seed?: number;
  out?: string;
  quiet?: boolean;
}

export async function simulateOne(hre: HardhatRuntimeEnvironment, args: SimulateArgs): Promise<SimulationResult> {
  const scenario = loadScenario(args.scenario);
  checkSeed(args.seed);
  const dir = args.out ?? path.join("reports", scenario.name);
  // Before the run, not after it: a run of minutes should not end on a folder it cannot write.
  const problem = prepareOutDir(dir);
  if (problem !== undefined) throw new SimulateInputError(problem);
  const bar = args.quiet
    ? undefined
    : new cliProgress.SingleBar(
        {
          format: `${scenario.name.padEnd(16)} {bar} {percentage}% | step {value}/{total} | {duration}s`,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      );
  bar?.start(Math.floor(scenario.durationSec / scenario.stepSec), 0);
  const result = await runScenario(hre, scenario, {
    seed: args.seed,
    onStep: (step) => bar?.update(step),
  }).finally(() => bar?.stop());
  writeRunFiles(dir, { summary: result.summary, timeline: result.timeline, reportHtml: renderReport(result) });
  return result;
}

/**
 * The default pair, at once: the first scenario in this process, each other one in a worker process
 * of its own (sim/worker.ts; `workers` when the caller started them already, as the task does before it
 * loads this file, since loading Hardhat and the contract types takes a worker a few seconds). Then
 * each run's files, reports/latest/ and the comparison page.
 */
export async function simulatePair(
  hre: HardhatRuntimeEnvironment,
  files = DEFAULT_PAIR,
  workers: WorkerRun[] = files.slice(1).map(startWorkerRun),
): Promise<SimulationResult[]> {
  const scenarios = files.map((file) => loadScenario(file));
  // Progress bars on a terminal only (cli-progress draws on stderr); piped output gets the table alone.
  const bars = process.stderr.isTTY
    ? new cliProgress.MultiBar(
        { format: "{name} {bar} {percentage}% | step {value}/{total} | {duration}s", hideCursor: true },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  const progressOf = (s: Scenario): ((step: number) => void) => {
    const bar = bars?.create(Math.floor(s.durationSec / s.stepSec), 0, { name: s.name.padEnd(16) });
    return (step) => bar?.update(step);
  };
  scenarios.slice(1).forEach((s, i) => workers[i]!.onStep(progressOf(s)));
  const here = progressOf(scenarios[0]!);
  const results = await Promise.all([
    runScenario(hre, scenarios[0]!, { onStep: (step) => here(step) }),
    ...workers.map((w) => w.result),
  ]).finally(() => bars?.stop());
  for (const r of results) {
    writeRunFiles(path.join("reports", r.scenario.name), {
      summary: r.summary,
      timeline: r.timeline,
      reportHtml: renderReport(r),
    });
  }
  const latest = path.join("reports", "latest");
  fs.mkdirSync(latest, { recursive: true });
  for (const r of results) {
    const dir = path.join(latest, r.scenario.name);
    writeRunFiles(dir, { summary: r.summary, timeline: r.timeline, reportHtml: renderReport(r) });
  }
  fs.writeFileSync(path.join(latest, "index.html"), renderComparison(results));
  return results;
}

function actionsDone(actions: ActionCounts): string {
  const counts = Object.values(actions);
  return `${counts.reduce((n, c) => n + c.done, 0)} / ${counts.reduce((n, c) => n + c.attempted, 0)}`;
}

/** The first coin-margined market's rows, for runs with one ("-" for a run without). */
const COIN_ROWS: [string, (r: SimulationResult) => string][] = (
  [
    ["coin-margined market", (c) => `${c.symbol} (in ${c.asset})`],
    ["  retail liquidated", (c) => `${c.tradersLiquidated} of ${c.traders}`],
    ["  traders' USD value lost", (c) => formatUsd(c.tradersUsdValueLost)],
    ["  bad debt, USD at the time", (c) => formatUsd(c.badDebtUsdAtTime)],
    ["  pool PnL, USD at the end", (c) => formatUsd(c.poolPnlUsdAtEnd, true)],
  ] as [string, (c: CoinMarketSummary) => string][]
).map(([label, f]) => [label, (r) => (r.summary.coinMargined?.[0] === undefined ? "-" : f(r.summary.coinMargined[0]))]);

/** The comparison table, one column per run. */
export function comparisonTable(results: readonly SimulationResult[]): string {
  const rows: [string, (r: SimulationResult) => string][] = [
    ["market", (r) => r.summary.markets[0]!.symbol],
    ["retail positions", (r) => String(r.summary.markets[0]!.traders)],
    ["retail liquidated", (r) => String(r.summary.markets[0]!.tradersLiquidated)],
    ["liquidations (all)", (r) => String(r.summary.markets[0]!.liquidations)],
    ["liquidated notional", (r) => formatUsd(r.summary.markets[0]!.liquidatedNotional)],
    ["traders' loss", (r) => formatUsd(r.summary.markets[0]!.tradersLoss)],
    ["market maker spent", (r) => formatUsd(r.summary.markets[0]!.marketMakerCost)],
    ["market maker PnL", (r) => formatUsd(r.summary.markets[0]!.marketMakerPnl, true)],
    ["  of it perp", (r) => formatUsd(r.summary.markets[0]!.marketMakerPnlPerp, true)],
    ["  of it spot", (r) => formatUsd(r.summary.markets[0]!.marketMakerPnlSpot, true)],
    ["peak spot move", (r) => formatPct(r.summary.markets[0]!.peakMove.spot.up)],
    ["peak mark move", (r) => formatPct(r.summary.markets[0]!.peakMove.mark.up)],
    ["cascade depth", (r) => String(r.summary.markets[0]!.cascadeDepth)],
    ["insurance fund change", (r) => formatUsd(r.summary.markets[0]!.insuranceFundDelta, true)],
    ["pool PnL", (r) => formatUsd(r.summary.markets[0]!.poolPnl, true)],
    ["bad debt", (r) => formatUsd(r.summary.markets[0]!.badDebt)],
    ["actions done / attempted", (r) => actionsDone(r.summary.actions)],
  ];
  if (results.some((r) => r.summary.coinMargined !== undefined)) rows.push(...COIN_ROWS);
  const header = ["", ...results.map((r) => r.summary.scenario)];
  const body = rows.map(([label, f]) => [label, ...results.map(f)]);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...body.map(line)].join("\n");
}
