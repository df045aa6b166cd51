/**
 * One run of a sweep as a message: what a worker needs (the configured scenario JSON, so a worker on
 * another machine needs no file, and the seed) and what it sends back (the run's metrics as exact
 * decimal strings, which cross a thread, a process or Redis unchanged).
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { formatWad, toWad } from "../decimal";
import { parseScenario } from "../scenario";
import { runScenario } from "../runner";
import { METRICS, runMetrics, type RunMetrics } from "./metrics";
import type { JsonValue } from "./paths";

export interface RunJob {
  /** The run's key in the plan (see grid.ts runKey). */
  key: string;
  /** Names the scenario in errors: the file and the configuration. */
  source: string;
  scenario: JsonValue;
  seed: number;
}

export interface RunOutcome {
  key: string;
  /** Decimal strings, one per METRICS entry. */
  metrics: Record<string, string>;
}

export function encodeMetrics(metrics: RunMetrics): Record<string, string> {
  return Object.fromEntries(METRICS.map((name) => [name, formatWad(metrics[name])]));
}

/** The metrics of an outcome; throws naming the run when one is missing (a worker of another version). */
export function decodeMetrics(outcome: RunOutcome): RunMetrics {
  const out = {} as RunMetrics;
  for (const name of METRICS) {
    const text = outcome.metrics[name];
    if (text === undefined) throw new Error(`run ${outcome.key}: the worker's result has no metric ${name}`);
    out[name] = toWad(text);
  }
  return out;
}

/** Runs one job on this runtime's in-process network (the runner resets the chain first). */
export async function runJob(hre: HardhatRuntimeEnvironment, job: RunJob): Promise<RunOutcome> {
  if (hre.network.name !== "hardhat")
    throw new Error(`sweep runs need the in-process network (hardhat), not ${hre.network.name}`);
  const scenario = parseScenario(job.scenario, job.source);
  const result = await runScenario(hre, scenario, { seed: job.seed });
  return { key: job.key, metrics: encodeMetrics(runMetrics(result)) };
}
