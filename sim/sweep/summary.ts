/**
 * The files a sweep writes besides sweep.html, as pure functions of the plan and the finished runs:
 * the rows of runs.csv (and reading them back for a rerun) and summary.json.
 */
import { formatWad, toWad } from "../decimal";
import { SweepError } from "./errors";
import { canonicalJson } from "../output";
import { parseCsv, toCsv } from "./csv";
import type { Configuration, PlannedRun } from "./grid";
import { METRICS, SUMMARY_METRICS, type RunMetrics } from "./metrics";
import { distribution, percentile, type Distribution } from "./stats";
import type { Axis } from "./paths";

/** A finished run: its place in the plan (when it has one) and its metrics. */
export interface RunRow {
  key: string;
  config: number;
  labels: string[];
  seed: number;
  metrics: RunMetrics;
}

export function runsHeader(axes: readonly Axis[]): string[] {
  return ["config", ...axes.map((axis) => axis.path), "seed", ...METRICS];
}

/** runs.csv: the header, then one line per row, in the order given. */
export function runsCsv(axes: readonly Axis[], rows: readonly RunRow[]): string {
  return toCsv(
    runsHeader(axes),
    rows.map((row) => [
      String(row.config),
      ...row.labels,
      String(row.seed),
      ...METRICS.map((name) => formatWad(row.metrics[name])),
    ]),
  );
}

/**
 * The rows of an existing runs.csv. Its header must be this sweep's: the same varied paths and the
 * same metrics, else the directory holds another sweep and the message says so.
 */
export function readRunsCsv(text: string, axes: readonly Axis[], source: string): RunRow[] {
  const [header, ...lines] = parseCsv(text, source);
  const expected = runsHeader(axes);
  if (header === undefined || header.join(",") !== expected.join(","))
    throw new SweepError(
      `${source} belongs to another sweep: its columns are ${header?.join(",") ?? "(none)"}, this sweep's are ${expected.join(",")}; choose another --out`,
    );
  const width = axes.length;
  return lines.map((cells) => {
    const labels = cells.slice(1, 1 + width);
    const seed = Number(cells[1 + width]);
    const metrics = {} as RunMetrics;
    METRICS.forEach((name, i) => (metrics[name] = toWad(cells[2 + width + i]!)));
    return { key: JSON.stringify([...labels, seed]), config: Number(cells[0]), labels, seed, metrics };
  });
}

/**
 * The rows to write: the plan's finished runs in plan order, then rows of earlier sweeps into the
 * same directory that this plan does not ask for (kept, not lost), in their earlier order.
 */
export function orderRows(plan: readonly PlannedRun[], byKey: ReadonlyMap<string, RunRow>): RunRow[] {
  const planned = new Set(plan.map((run) => run.key));
  const inPlan = plan.flatMap((run) => {
    const row = byKey.get(run.key);
    return row === undefined ? [] : [{ ...row, config: run.config }];
  });
  return [...inPlan, ...[...byKey.values()].filter((row) => !planned.has(row.key))];
}

export interface ConfigurationSummary {
  config: number;
  /** Varied path -> the value this configuration gives it, as written on the command line. */
  values: Record<string, string>;
  seeds: number[];
  metrics: Record<(typeof SUMMARY_METRICS)[number], Distribution>;
  /** 95th percentile of bad debt over seeds (Gauntlet's VaR95). */
  var95: bigint;
  /** 95th percentile of liquidated notional over seeds (Gauntlet's LaR95). */
  lar95: bigint;
}

export interface SweepSummary {
  scenario: string;
  source: string;
  vary: { path: string; values: string[] }[];
  seeds: number[];
  runs: number;
  configurations: ConfigurationSummary[];
}

/** Per configuration with at least one finished run: the distributions over its seeds. */
export function summarize(
  header: { scenario: string; source: string; axes: readonly Axis[]; seeds: readonly number[] },
  configs: readonly Configuration[],
  rows: readonly RunRow[],
): SweepSummary {
  const summaries: ConfigurationSummary[] = [];
  for (const config of configs) {
    const own = rows.filter((row) => row.config === config.index && row.labels.join("\n") === config.labels.join("\n"));
    if (own.length === 0) continue;
    const sample = (name: keyof RunMetrics) => own.map((row) => row.metrics[name]);
    summaries.push({
      config: config.index,
      values: Object.fromEntries(header.axes.map((axis, i) => [axis.path, config.labels[i]!])),
      seeds: own.map((row) => row.seed),
      metrics: Object.fromEntries(SUMMARY_METRICS.map((name) => [name, distribution(sample(name))])) as Record<
        (typeof SUMMARY_METRICS)[number],
        Distribution
      >,
      var95: percentile(sample("badDebt"), 95),
      lar95: percentile(sample("liquidatedNotional"), 95),
    });
  }
  return {
    scenario: header.scenario,
    source: header.source,
    vary: header.axes.map((axis) => ({
      path: axis.path,
      values: axis.values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))),
    })),
    seeds: [...header.seeds],
    runs: summaries.reduce((n, s) => n + s.seeds.length, 0),
    configurations: summaries,
  };
}

/** summary.json's text: canonical JSON, WADs as exact decimal strings. */
export function summaryJson(summary: SweepSummary): string {
  return canonicalJson(summary);
}
