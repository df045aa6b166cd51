/**
 * The table "What would have stopped JELLY and Mango here": for each replay, one row per setting of
 * each protection its one-axis sweeps varied (reports/replays/<replay>/<protection>/runs.csv), with the
 * attacker's PnL, the pool's, what ordinary (retail) traders lost, and whether the attack paid.
 *
 * Pure: sweep rows in, markdown out. scripts/replay-table.ts reads the files.
 */
import { toWad, WAD } from "./decimal";
import { formatPct, formatUsd } from "./report";
import type { Wad } from "./types";

/** One run of a protection sweep: the varied path's value and the metrics the table needs. */
export interface ProtectionRun {
  protection: string;
  /** The varied path, e.g. markets.0.protections.maxPnlFactor. */
  path: string;
  value: string;
  attackerPnl: Wad;
  poolPnl: Wad;
  tradersLoss: Wad;
  tradersLiquidated: Wad;
  peakMarkUp: Wad;
}

/** Reads a sweep's runs.csv (header + rows, parsed) into table rows; one seed per configuration. */
export function protectionRuns(protection: string, rows: readonly (readonly string[])[]): ProtectionRun[] {
  const [header, ...body] = rows;
  if (header === undefined) return [];
  const column = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`${protection}: runs.csv has no column ${name} (has ${header.join(", ")})`);
    return i;
  };
  const path = header[1]!;
  const at = (row: readonly string[], name: string) => toWad(row[column(name)]!);
  return body.map((row) => ({
    protection,
    path,
    value: row[1]!,
    attackerPnl: at(row, "attackerPnl"),
    poolPnl: at(row, "poolPnl"),
    tradersLoss: at(row, "tradersLoss"),
    tradersLiquidated: at(row, "tradersLiquidated"),
    peakMarkUp: at(row, "peakMarkUp"),
  }));
}

/** How a protection's value reads in the table. */
function setting(run: ProtectionRun): string {
  const field = run.path.split(".").pop()!;
  const off = run.value === "0" && !field.includes("count") ? " (off)" : "";
  return `${field} = ${run.value}${off}`;
}

/**
 * One replay's table. `baseline` is the scenario as written (its retail loss is what the "cost to
 * traders" column compares with): a run of the protections' own default values.
 */
export function replayTable(replay: string, runs: readonly ProtectionRun[], baseline: ProtectionRun): string {
  const lines = [
    `**${replay}** (as replayed: attacker ${formatUsd(baseline.attackerPnl, true)}, pool ${formatUsd(
      baseline.poolPnl,
      true,
    )}, peak mark ${formatPct(baseline.peakMarkUp)})`,
    "",
    "| protection | setting | attacker's PnL | pool's PnL | peak mark | retail traders' loss | vs as replayed | retail liquidated | attack pays? |",
    "|---|---|---:|---:|---:|---:|---:|---:|---|",
  ];
  for (const run of runs) {
    const extra = run.tradersLoss - baseline.tradersLoss;
    lines.push(
      `| ${run.protection} | ${setting(run)} | ${formatUsd(run.attackerPnl, true)} | ${formatUsd(run.poolPnl, true)} | ${formatPct(
        run.peakMarkUp,
      )} | ${formatUsd(run.tradersLoss)} | ${formatUsd(extra, true)} | ${run.tradersLiquidated / WAD} | ${
        run.attackerPnl > 0n ? "yes" : "**no**"
      } |`,
    );
  }
  return lines.join("\n");
}
