/**
 * The sweep's terminal front: a progress bar with the runs left and an ETA, the executor the
 * arguments pick (local threads, or the queue), and a closing line naming the files.
 */
import path from "node:path";
import cliProgress from "cli-progress";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { ScenarioError } from "../scenario";
import { SweepError } from "./errors";
import { LocalPool } from "./pool";
import { QueueExecutor, serveQueue } from "./queue";
import { loadPlan, runSweep, type Executor, type SweepProgress, type SweepResult } from "./sweep";

export interface SweepCommandArgs {
  scenario: string;
  vary: readonly string[];
  seeds: string;
  workers: number;
  out?: string;
  queue?: string;
  quiet?: boolean;
}

/** Errors that are the user's input, which the tasks print as one line without a stack. */
export function isRefusal(error: unknown): error is Error {
  return error instanceof SweepError || error instanceof ScenarioError;
}

export function progressBar(label: string): SweepProgress {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {bar} {value}/{total} runs | {left} left | elapsed {duration_formatted} | ETA {eta_formatted}`,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let total = 0;
  let done = 0;
  return {
    start(pending, skipped) {
      total = pending;
      if (skipped > 0) console.log(`${skipped} run(s) already in runs.csv: skipped`);
      if (pending > 0) bar.start(pending, 0, { left: pending });
    },
    tick() {
      done += 1;
      bar.update(done, { left: total - done });
    },
    stop() {
      if (total > 0) bar.stop();
    },
  };
}

export async function sweepCommand(args: SweepCommandArgs): Promise<SweepResult> {
  const plan = loadPlan(args.scenario, args.vary, args.seeds);
  const out = args.out ?? path.join("reports", `sweep-${plan.base.name}`);
  const executor: Executor = args.queue !== undefined ? new QueueExecutor(args.queue) : new LocalPool(args.workers);
  const started = Date.now();
  if (!args.quiet)
    console.log(
      `sweep of ${plan.base.name}: ${plan.configs.length} configuration(s) x ${plan.seeds.length} seed(s) = ${plan.runs.length} runs on ${executor.description}`,
    );
  const result = await runSweep(plan, out, executor, args.quiet ? undefined : progressBar("sweep"));
  if (!args.quiet)
    console.log(
      `ran ${result.ran}, skipped ${result.skipped} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${result.files.runs}, ${result.files.summary}, ${result.files.html}`,
    );
  return result;
}

/** Serves the queue until SIGINT or SIGTERM, then finishes the run in hand and exits. */
export async function workerCommand(hre: HardhatRuntimeEnvironment, queue: string): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const counts = await serveQueue(hre, queue, stop.signal, (line) => console.log(line));
    console.log(`sweep-worker: stopped after ${counts.done} run(s), ${counts.failed} failed`);
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** `npm run lab`: the survival lab through local workers; prints the table. */
export async function labCommand(args: { seeds: string; workers: number; out: string }): Promise<void> {
  const { labPlan, runLab } = await import("../lab");
  const plan = labPlan(args.seeds);
  const started = Date.now();
  console.log(
    `survival lab: ${plan.configs.length} configurations x ${plan.seeds.length} seed(s) = ${plan.runs.length} runs on ${args.workers} local worker(s)`,
  );
  const result = await runLab(plan, args.out, new LocalPool(args.workers), progressBar("lab"));
  console.log(`\n${result.markdown}`);
  console.log(
    `${((Date.now() - started) / 1000).toFixed(1)} s: ${result.files.markdown}, ${result.files.html}, ${result.files.runs}`,
  );
}
