/**
 * A run's files: summary.json and timeline.csv rendered as strings (pure), and `writeRunFiles`,
 * which puts them beside report.html in a folder.
 *
 * summary.json is canonical, so that one seed gives a byte-identical file: object keys sorted,
 * two-space indent, a final newline, undefined fields left out, non-finite numbers refused, and
 * every bigint (all WADs in a Summary) written as a string holding its exact decimal value with
 * trailing zeros trimmed: 150000 USD is "150000", a 38.12% move is "0.3812". Strings, not JSON
 * numbers, because a double cannot hold 18 decimals.
 * timeline.csv has a header and one line per row, each WAD as the same exact decimal: each USD market's
 * columns, then each coin-margined market's (only in a scenario with any).
 */
import fs from "node:fs";
import path from "node:path";
import { formatWad } from "./decimal";
import type { CoinMarketStep, MarketStep, Summary, TimelineRow } from "./types";

/** The columns each USD market contributes to timeline.csv, in order; each prefixed "SYMBOL.". */
export const TIMELINE_MARKET_COLUMNS = [
  "spot",
  "index",
  "mark",
  "last",
  "fundingRate",
  "oiLong",
  "oiShort",
  "insuranceFund",
  "poolValue",
  "liquidations",
] as const satisfies readonly (keyof MarketStep)[];

function toCanonical(value: unknown, at: string): unknown {
  if (typeof value === "bigint") return formatWad(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new TypeError(`${at}: ${value} cannot be written to JSON`);
    return value;
  }
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map((item, i) => toCanonical(item, `${at}[${i}]`));
  if (typeof value === "object") {
    const record = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(record).sort()) {
      if (record[key] !== undefined) out[key] = toCanonical(record[key], `${at}.${key}`);
    }
    return out;
  }
  throw new TypeError(`${at}: a ${typeof value} cannot be written to JSON`);
}

/** Canonical JSON of a value (see the header): equal input, byte-identical text. */
export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(toCanonical(value, "$"), null, 2)}\n`;
}

/** The text of summary.json. */
export function summaryJson(summary: Summary): string {
  return canonicalJson(summary);
}

/**
 * The columns each coin-margined market contributes after the USD markets', each prefixed "SYMBOL.":
 * prices in USD per coin, open interest in USD face, the insurance fund and pool in the coin
 * (sim/types.ts CoinMarketStep).
 */
export const TIMELINE_COIN_COLUMNS: readonly (keyof CoinMarketStep)[] = TIMELINE_MARKET_COLUMNS.filter(
  (column): column is Exclude<typeof column, "spot"> => column !== "spot",
);

/** One group of a timeline's markets, USD or coin-margined: where a row holds them, and their columns. */
interface ColumnGroup<S extends { symbol: string }> {
  of: (row: TimelineRow) => readonly S[];
  columns: readonly (keyof S & string)[];
}

const USD_GROUP: ColumnGroup<MarketStep> = { of: (row) => row.markets, columns: TIMELINE_MARKET_COLUMNS };
const COIN_GROUP: ColumnGroup<CoinMarketStep> = {
  of: (row) => row.coinMarkets ?? [],
  columns: TIMELINE_COIN_COLUMNS,
};

/** A group's header cells, for the markets of the first row. */
function groupHeader<S extends { symbol: string }>(group: ColumnGroup<S>, symbols: readonly string[]): string[] {
  return symbols.flatMap((symbol) => group.columns.map((column) => `${symbol}.${column}`));
}

/** A row's cells of one group; its markets must be the first row's. */
function groupCells<S extends { symbol: string }>(
  row: TimelineRow,
  group: ColumnGroup<S>,
  symbols: readonly string[],
): string[] {
  const markets = group.of(row);
  const found = markets.map((market) => market.symbol);
  if (found.join() !== symbols.join())
    throw new Error(`timeline step ${row.step}: markets ${found.join(", ")}, expected ${symbols.join(", ")}`);
  return markets.flatMap((market) =>
    group.columns.map((column) => {
      const cell = market[column];
      return typeof cell === "bigint" ? formatWad(cell) : String(cell);
    }),
  );
}

/**
 * The text of timeline.csv: t,step,block, then TIMELINE_MARKET_COLUMNS for each USD market, then
 * TIMELINE_COIN_COLUMNS for each coin-margined market (none without any).
 */
export function timelineCsv(rows: readonly TimelineRow[]): string {
  const first = rows[0];
  const usd = first?.markets.map((market) => market.symbol) ?? [];
  const coin = first?.coinMarkets?.map((market) => market.symbol) ?? [];
  const header = ["t", "step", "block", ...groupHeader(USD_GROUP, usd), ...groupHeader(COIN_GROUP, coin)];
  const lines = rows.map((row) =>
    [
      String(row.t),
      String(row.step),
      String(row.block),
      ...groupCells(row, USD_GROUP, usd),
      ...groupCells(row, COIN_GROUP, coin),
    ].join(","),
  );
  return [header.join(","), ...lines].map((line) => `${line}\n`).join("");
}

/**
 * Makes `dir` ready to receive a run's files, or says in one line why it cannot be: it must be a
 * directory (or not exist yet) and writable. Missing directories are made one level at a time (a
 * recursive mkdir on a pseudo file system such as /proc can spin forever). Returns the problem, or
 * undefined when the directory is ready.
 */
export function prepareOutDir(dir: string): string | undefined {
  const resolved = path.resolve(dir);
  const missing: string[] = [];
  let existing = resolved;
  for (;;) {
    const stat = statOrUndefined(existing);
    if (stat !== undefined) {
      if (!stat.isDirectory()) {
        return existing === resolved
          ? `--out ${dir}: is a file, not a directory (give a directory; the run writes summary.json, timeline.csv and report.html into it)`
          : `--out ${dir}: ${existing} is a file, not a directory`;
      }
      break;
    }
    const parent = path.dirname(existing);
    if (parent === existing) return `--out ${dir}: no part of the path exists`;
    missing.unshift(existing);
    existing = parent;
  }
  try {
    fs.accessSync(existing, fs.constants.W_OK);
    for (const next of missing) fs.mkdirSync(next);
    const probe = path.join(resolved, `.perpsim-write-check-${process.pid}`);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? String(error);
    return `--out ${dir}: cannot write there (${code})`;
  }
  return undefined;
}

function statOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw error;
  }
}

export interface RunFiles {
  summary: string;
  timeline: string;
  report: string;
}

/** Writes summary.json, timeline.csv and report.html into `dir` (created if missing); returns their paths. */
export function writeRunFiles(
  dir: string,
  run: { summary: Summary; timeline: readonly TimelineRow[]; reportHtml: string },
): RunFiles {
  const problem = prepareOutDir(dir);
  if (problem !== undefined) throw new Error(problem);
  const files: RunFiles = {
    summary: path.join(dir, "summary.json"),
    timeline: path.join(dir, "timeline.csv"),
    report: path.join(dir, "report.html"),
  };
  fs.writeFileSync(files.summary, summaryJson(run.summary));
  fs.writeFileSync(files.timeline, timelineCsv(run.timeline));
  fs.writeFileSync(files.report, run.reportHtml);
  return files;
}
