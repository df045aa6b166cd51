/**
 * The stateful fuzz (test/invariants/stateful.test.ts) split over processes: `--runs` sequences in
 * `--jobs` shards run at once, shard k with seed `--seed` + k, each a `hardhat test` of its own (the
 * in-process chain is single-threaded). Prints each shard's counts and their sums; exits 1 naming the
 * replay line of any shard that broke an invariant.
 *
 *   npm run fuzz -- --runs 5000 --jobs 2 [--seed 20261201] [--length 40] [--logs DIR]
 */
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";

const ROOT = path.resolve(__dirname, "..");
const HARDHAT = path.join(ROOT, "node_modules", ".bin", "hardhat");
const SUMMARY =
  /(\d+) sequences \((\d+) commands, (\d+) transactions\) in ([\d.]+) s; (\d+) liquidations \((\d+) by keeper passes\), (\d+) bad debts, (\d+) ADL/;
const COUNTS = [
  "sequences",
  "commands",
  "transactions",
  "seconds",
  "liquidations",
  "keeper",
  "badDebts",
  "adl",
] as const;

type Counts = Record<(typeof COUNTS)[number], number>;

interface Shard {
  index: number;
  runs: number;
  seed: number;
  log: string;
}

interface ShardResult extends Shard {
  code: number | null;
  counts?: Counts;
  exchanges?: ExchangeCounts;
  replay?: string;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} ${value}: not a positive whole number`);
  return n;
}

/** The shards: `runs` split as evenly as whole sequences allow, seeds consecutive from `seed`. */
export function planShards(runs: number, jobs: number, seed: number, logs: string): Shard[] {
  const count = Math.min(jobs, runs);
  return Array.from({ length: count }, (_, index) => ({
    index,
    runs: Math.floor(runs / count) + (index < runs % count ? 1 : 0),
    seed: seed + index,
    log: path.join(logs, `shard-${index}-seed-${seed + index}.log`),
  }));
}

/** Per exchange (USD, BTC, ALT): commands that named it and liquidations on it. */
export type ExchangeCounts = Record<string, { commands: number; liquidations: number }>;
const PER_EXCHANGE = /per exchange: (.*)/;
const EXCHANGE = /(\w+) (\d+) commands (\d+) liquidations/g;

/** The counts a shard's log reports, per exchange too, and its replay line if it failed. */
export function readShard(text: string): { counts?: Counts; exchanges?: ExchangeCounts; replay?: string } {
  const m = SUMMARY.exec(text);
  const counts = m ? (Object.fromEntries(COUNTS.map((k, i) => [k, Number(m[i + 1])])) as Counts) : undefined;
  const per = PER_EXCHANGE.exec(text)?.[1];
  const exchanges = per
    ? Object.fromEntries(
        [...per.matchAll(EXCHANGE)].map((x) => [x[1], { commands: Number(x[2]), liquidations: Number(x[3]) }]),
      )
    : undefined;
  const replay = /replay: (.*)/.exec(text)?.[1];
  return { counts, exchanges, replay };
}

function runShard(shard: Shard, length: number | undefined): Promise<ShardResult> {
  const env = {
    ...process.env,
    CI: "true",
    FUZZ_RUNS: String(shard.runs),
    FUZZ_SEED: String(shard.seed),
    ...(length === undefined ? {} : { FUZZ_LENGTH: String(length) }),
  };
  const out = createWriteStream(shard.log);
  const child = spawn(HARDHAT, ["test", "--no-compile", "test/invariants/stateful.test.ts"], { cwd: ROOT, env });
  child.stdout.pipe(out);
  child.stderr.pipe(out);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) =>
      out.end(() => resolve({ ...shard, code, ...readShard(readFileSync(shard.log, "utf8")) })),
    );
  });
}

function line(label: string, c: Counts): string {
  return (
    `${label}: ${c.sequences} sequences, ${c.commands} commands, ${c.transactions} transactions in ${c.seconds.toFixed(0)} s; ` +
    `${c.liquidations} liquidations (${c.keeper} by keeper passes), ${c.badDebts} bad debts, ${c.adl} ADL`
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: "string" },
      jobs: { type: "string" },
      seed: { type: "string" },
      length: { type: "string" },
      logs: { type: "string" },
    },
    strict: true,
  });
  const runs = positiveInt("runs", values.runs, 5000);
  const jobs = positiveInt("jobs", values.jobs, os.availableParallelism());
  const seed = positiveInt("seed", values.seed, 20261201);
  const length = values.length === undefined ? undefined : positiveInt("length", values.length, 0);
  const logs = values.logs ?? mkdtempSync(path.join(os.tmpdir(), "perpsim-fuzz-"));
  mkdirSync(logs, { recursive: true });

  const compiled = spawnSync(HARDHAT, ["compile", "--quiet"], { cwd: ROOT, stdio: "inherit" });
  if (compiled.status !== 0) throw new Error(`hardhat compile exited with ${compiled.status}`);
  const shards = planShards(runs, jobs, seed, logs);
  console.log(
    `fuzz: ${runs} sequences in ${shards.length} shards (seeds ${seed}..${seed + shards.length - 1}); logs in ${logs}`,
  );
  const started = Date.now();
  const results = await Promise.all(shards.map((s) => runShard(s, length)));

  const total = Object.fromEntries(COUNTS.map((k) => [k, 0])) as Counts;
  const exchanges: ExchangeCounts = {};
  for (const r of results) {
    if (r.counts) {
      console.log(line(`shard ${r.index} (seed ${r.seed})`, r.counts));
      for (const k of COUNTS) total[k] += r.counts[k];
    } else console.log(`shard ${r.index} (seed ${r.seed}): no summary (exit ${r.code}); see ${r.log}`);
    for (const [name, e] of Object.entries(r.exchanges ?? {})) {
      const sum = (exchanges[name] ??= { commands: 0, liquidations: 0 });
      sum.commands += e.commands;
      sum.liquidations += e.liquidations;
    }
  }
  console.log(`${line("total", total)} of shard time, ${((Date.now() - started) / 1000).toFixed(0)} s of wall time`);
  const perExchange = Object.entries(exchanges).map(
    ([n, e]) => `${n} ${e.commands} commands, ${e.liquidations} liquidations`,
  );
  if (perExchange.length > 0) console.log(`per exchange: ${perExchange.join("; ")}`);
  const failed = results.filter((r) => r.code !== 0);
  for (const r of failed) console.error(`shard ${r.index} failed: ${r.replay ?? `exit ${r.code}, see ${r.log}`}`);
  if (failed.length > 0) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`fuzz: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 2;
  });
}
