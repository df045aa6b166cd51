/**
 * Local workers: a piscina pool of K threads, each with its own Hardhat runtime and in-process EDR
 * network (sim/sweep/thread.js), started once and reused for every run it takes. The pool queues the
 * jobs and gives each thread one at a time (`concurrentTasksPerWorker: 1`): a run is single-threaded
 * JavaScript driving the EVM, so K threads keep K cores busy.
 */
import path from "node:path";
import { Piscina } from "piscina";
import { SweepError } from "./errors";
import type { Executor } from "./sweep";
import type { RunJob, RunOutcome } from "./job";

/** Longest a thread may sit idle before piscina stops it; a sweep keeps every thread busy until the end. */
const IDLE_TIMEOUT_MS = 60 * 60 * 1000;

export class LocalPool implements Executor {
  /** Started by the first execute, so a sweep with nothing left to run starts no thread. */
  private pool: Piscina<RunJob, RunOutcome> | undefined;

  constructor(readonly workers: number) {
    if (!Number.isInteger(workers) || workers < 1)
      throw new SweepError(`--workers ${workers}: expected an integer >= 1`);
  }

  private started(): Piscina<RunJob, RunOutcome> {
    this.pool ??= new Piscina<RunJob, RunOutcome>({
      filename: path.join(__dirname, "thread.js"),
      minThreads: this.workers,
      maxThreads: this.workers,
      concurrentTasksPerWorker: 1,
      idleTimeout: IDLE_TIMEOUT_MS,
    });
    return this.pool;
  }

  get description(): string {
    return `${this.workers} local worker${this.workers === 1 ? "" : "s"}`;
  }

  /** Runs every job; `onOutcome` sees each result as it arrives. Rejects with the first failure. */
  async execute(jobs: readonly RunJob[], onOutcome: (outcome: RunOutcome) => void): Promise<void> {
    const pool = this.started();
    await Promise.all(
      jobs.map((job) =>
        pool.run(job).then(onOutcome, (error: unknown) => {
          throw new Error(`run ${job.key} of ${job.source} failed: ${(error as Error).message ?? String(error)}`, {
            cause: error,
          });
        }),
      ),
    );
  }

  async close(): Promise<void> {
    await this.pool?.destroy();
    this.pool = undefined;
  }
}
