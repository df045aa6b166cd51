/**
 * `npx hardhat sweep`: plans the runs (configurations x seeds), skips those DIR/runs.csv already
 * holds, hands the rest to an executor (local threads or a BullMQ queue), and keeps DIR up to date:
 * runs.csv is rewritten in plan order after every finished run, so a stopped sweep resumes where it
 * stopped and the file does not depend on which worker finished first; summary.json and sweep.html
 * are written at the end.
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { canonicalJson } from "../output";
import { parseScenario, type Scenario } from "../scenario";
import { expandGrid, parseSeeds, planRuns, scenarioOf, type Configuration, type PlannedRun } from "./grid";
import { decodeMetrics, type RunJob, type RunOutcome } from "./job";
import { parseVaries, type Axis, type JsonValue } from "./paths";
import { orderRows, readRunsCsv, runsCsv, summarize, summaryJson, type RunRow, type SweepSummary } from "./summary";
import { renderSweep } from "./report";
import { SweepError } from "./errors";

/** Where runs go: local threads or a queue. */
export interface Executor {
  readonly description: string;
  /** Runs every job; `onOutcome` hears each result as it arrives; rejects on the first failure. */
  execute(jobs: readonly RunJob[], onOutcome: (outcome: RunOutcome) => void): Promise<void>;
  close(): Promise<void>;
}

export interface SweepPlan {
  source: string;
  base: Scenario;
  baseJson: JsonValue;
  axes: Axis[];
  seeds: number[];
  configs: Configuration[];
  runs: PlannedRun[];
  /** Each configuration's scenario JSON, validated. */
  scenarios: JsonValue[];
}

/** A configuration in messages: "markets.0.protections.oiCap=0, markets.0.spotLiquidityUsd=200000". */
export function describeConfig(axes: readonly Axis[], config: Configuration): string {
  return axes.length === 0
    ? "the scenario as written"
    : axes.map((axis, i) => `${axis.path}=${config.labels[i]}`).join(", ");
}

/** Reads and checks everything before a run starts: a bad path or value fails here, naming it. */
export function planSweep(source: string, baseJson: JsonValue, vary: readonly string[], seeds: string): SweepPlan {
  const axes = parseVaries(vary);
  return planOf(source, baseJson, axes, expandGrid(axes), parseSeeds(seeds));
}

/**
 * A plan from configurations built elsewhere (the lab sets several paths per configuration); `axes`
 * name the columns of runs.csv, one per configuration label. Every configuration's scenario is
 * validated here.
 */
export function planOf(
  source: string,
  baseJson: JsonValue,
  axes: Axis[],
  configs: Configuration[],
  seeds: number[],
): SweepPlan {
  const base = parseScenario(baseJson, source);
  const scenarios = configs.map((config) => {
    const json = scenarioOf(baseJson, config);
    parseScenario(json, `${source} with ${describeConfig(axes, config)}`);
    return json;
  });
  return { source, base, baseJson, axes, seeds, configs, runs: planRuns(configs, seeds), scenarios };
}

/** A scenario file's JSON; one-line errors naming the file. */
export function readScenarioJson(file: string): JsonValue {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new SweepError(
      `--scenario ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})`,
    );
  }
  let json: JsonValue;
  try {
    json = JSON.parse(text) as JsonValue;
  } catch (error) {
    throw new SweepError(`--scenario ${file}: is not valid JSON (${(error as Error).message})`);
  }
  return json;
}

export function loadPlan(file: string, vary: readonly string[], seeds: string): SweepPlan {
  return planSweep(file, readScenarioJson(file), vary, seeds);
}

export interface SweepProgress {
  /** Called once with the runs to do and those skipped, then after each finished run. */
  start(pending: number, skipped: number): void;
  tick(): void;
  stop(): void;
}

export interface SweepResult {
  summary: SweepSummary;
  /** Runs executed by this call. */
  ran: number;
  /** Runs of the plan found finished in DIR/runs.csv. */
  skipped: number;
  files: { runs: string; summary: string; html: string };
}

/** What DIR/sweep.json records: the runs in runs.csv belong to this base scenario, as it was. */
interface Manifest {
  scenario: string;
  source: string;
  /** sha256 of the base scenario's canonical JSON */
  scenarioHash: string;
}

function manifestOf(plan: SweepPlan): Manifest {
  const scenarioHash = createHash("sha256").update(canonicalJson(plan.baseJson)).digest("hex");
  return { scenario: plan.base.name, source: plan.source, scenarioHash };
}

/**
 * The finished runs in DIR count only for the scenario they ran: a changed scenario file (or another
 * scenario) must not be skipped as done. Refuses with the way out; records the manifest otherwise.
 */
function claimDirectory(file: string, runsFile: string, manifest: Manifest): void {
  if (fs.existsSync(file)) {
    const earlier = JSON.parse(fs.readFileSync(file, "utf8")) as Manifest;
    if (earlier.scenarioHash !== manifest.scenarioHash)
      throw new SweepError(
        `${path.dirname(file)} holds runs of ${earlier.source} (${earlier.scenario}) as it was then, not of ${manifest.source} as it is now; choose another --out or delete ${runsFile}`,
      );
  } else if (fs.existsSync(runsFile)) {
    throw new SweepError(`${runsFile} exists without ${path.basename(file)}; choose another --out or delete it`);
  }
  writeAtomically(file, canonicalJson(manifest));
}

function writeAtomically(file: string, text: string): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, text);
  fs.renameSync(temporary, file);
}

/** Runs the plan's missing runs through `executor` and writes DIR. */
export async function runSweep(
  plan: SweepPlan,
  out: string,
  executor: Executor,
  progress?: SweepProgress,
): Promise<SweepResult> {
  fs.mkdirSync(out, { recursive: true });
  const files = {
    runs: path.join(out, "runs.csv"),
    summary: path.join(out, "summary.json"),
    html: path.join(out, "sweep.html"),
  };
  claimDirectory(path.join(out, "sweep.json"), files.runs, manifestOf(plan));
  const byKey = new Map<string, RunRow>();
  if (fs.existsSync(files.runs)) {
    for (const row of readRunsCsv(fs.readFileSync(files.runs, "utf8"), plan.axes, files.runs)) byKey.set(row.key, row);
  }
  const pending = plan.runs.filter((run) => !byKey.has(run.key));
  const jobs: RunJob[] = pending.map((run) => ({
    key: run.key,
    source: `${plan.source} with ${describeConfig(plan.axes, plan.configs[run.config]!)}`,
    scenario: plan.scenarios[run.config]!,
    seed: run.seed,
  }));
  const byJobKey = new Map(pending.map((run) => [run.key, run]));
  const write = () => writeAtomically(files.runs, runsCsv(plan.axes, orderRows(plan.runs, byKey)));

  progress?.start(pending.length, plan.runs.length - pending.length);
  try {
    if (jobs.length > 0) {
      await executor.execute(jobs, (outcome) => {
        const run = byJobKey.get(outcome.key);
        if (run === undefined)
          throw new Error(`a worker returned run ${outcome.key}, which this sweep did not ask for`);
        byKey.set(run.key, {
          key: run.key,
          config: run.config,
          labels: plan.configs[run.config]!.labels,
          seed: run.seed,
          metrics: decodeMetrics(outcome),
        });
        write();
        progress?.tick();
      });
    }
  } finally {
    progress?.stop();
    await executor.close();
  }
  write();
  const planned = new Set(plan.runs.map((run) => run.key));
  const rows = orderRows(plan.runs, byKey).filter((row) => planned.has(row.key));
  const summary = summarize(
    { scenario: plan.base.name, source: plan.source, axes: plan.axes, seeds: plan.seeds },
    plan.configs,
    rows,
  );
  writeAtomically(files.summary, summaryJson(summary));
  writeAtomically(files.html, renderSweep(summary, plan.axes));
  return { summary, ran: pending.length, skipped: plan.runs.length - pending.length, files };
}
