/**
 * Scale-out over Redis with BullMQ: `sweep --queue redis://HOST:PORT` puts the runs on one queue and
 * waits for their results; `sweep-worker --queue ...` processes take runs from it, on any number of
 * machines, each with its own Hardhat runtime, one run at a time.
 *
 * A job carries the configured scenario JSON and the seed, so a worker needs no scenario file. Its id
 * is a hash of exactly those, so a rerun (or another sweep asking for the same run) finds a finished
 * job instead of queueing it twice; a job that failed is removed and queued again.
 */
import { createHash } from "node:crypto";
import { Queue, QueueEvents, Worker, type ConnectionOptions, type Job } from "bullmq";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { canonicalJson } from "../output";
import { SweepError } from "./errors";
import { runJob, type RunJob, type RunOutcome } from "./job";
import type { Executor } from "./sweep";

export const QUEUE_NAME = "perpsim-sweep";
/** A run takes tens of seconds; the worker renews its lock at half this while the run's awaits yield. */
const LOCK_DURATION_MS = 10 * 60 * 1000;

/** `redis://[:password@]HOST:PORT[/DB]` -> BullMQ connection options; one-line error otherwise. */
export function connectionOf(url: string): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SweepError(`--queue ${url}: expected redis://HOST:PORT`);
  }
  if (parsed.protocol !== "redis:" || parsed.hostname === "")
    throw new SweepError(`--queue ${url}: expected redis://HOST:PORT (got protocol ${parsed.protocol})`);
  const db = parsed.pathname.replace(/^\//, "");
  if (db !== "" && !/^[0-9]+$/.test(db))
    throw new SweepError(`--queue ${url}: the database must be a number (got ${db})`);
  return {
    host: parsed.hostname,
    port: parsed.port === "" ? 6379 : Number(parsed.port),
    ...(parsed.password === "" ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(db === "" ? {} : { db: Number(db) }),
    // BullMQ's workers block on Redis; ioredis must not give up on a command.
    maxRetriesPerRequest: null,
  };
}

/**
 * BullMQ 6 talks to Redis through ioredis, an optional peer dependency it does not install; without
 * it every connection fails in a retry loop. Checked up front for one clear line instead.
 */
export function requireRedisClient(): void {
  try {
    require.resolve("ioredis");
  } catch {
    throw new SweepError(
      "--queue needs the ioredis package (BullMQ's Redis client, an optional peer dependency): npm install --save-dev ioredis@6.1.0",
    );
  }
}

/** The job id of a run: the hash of what it runs. */
export function jobIdOf(job: RunJob): string {
  return createHash("sha256")
    .update(canonicalJson({ scenario: job.scenario, seed: job.seed }))
    .digest("hex");
}

function outcomeOf(value: unknown, job: RunJob): RunOutcome {
  const parsed = (typeof value === "string" ? JSON.parse(value) : value) as RunOutcome | null;
  if (parsed === null || typeof parsed !== "object" || typeof parsed.metrics !== "object")
    throw new Error(`run ${job.key}: the queue returned no result for job ${jobIdOf(job)}`);
  // A finished job found by its hash may have been asked for under another key.
  return { key: job.key, metrics: parsed.metrics };
}

/** The producer side: queues the runs and resolves as their workers finish them. */
export class QueueExecutor implements Executor {
  private readonly connection: ConnectionOptions;

  constructor(readonly url: string) {
    this.connection = connectionOf(url);
    requireRedisClient();
  }

  get description(): string {
    return `the BullMQ queue "${QUEUE_NAME}" at ${this.url}`;
  }

  async execute(jobs: readonly RunJob[], onOutcome: (outcome: RunOutcome) => void): Promise<void> {
    const queue = new Queue<RunJob, RunOutcome>(QUEUE_NAME, { connection: this.connection });
    const events = new QueueEvents(QUEUE_NAME, { connection: this.connection });
    queue.setMaxListeners(jobs.length + 10);
    try {
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
      const queued: [RunJob, Job<RunJob, RunOutcome>][] = [];
      for (const job of jobs) {
        const jobId = jobIdOf(job);
        const existing = await queue.getJob(jobId);
        if (existing !== undefined && (await existing.isFailed())) await existing.remove();
        queued.push([job, await queue.add("run", job, { jobId, attempts: 1, removeOnFail: false })]);
      }
      await Promise.all(
        queued.map(async ([job, queuedJob]) => {
          let value: unknown;
          try {
            value = await queuedJob.waitUntilFinished(events);
          } catch (error) {
            throw new Error(`run ${job.key} of ${job.source} failed on a worker: ${(error as Error).message}`, {
              cause: error,
            });
          }
          onOutcome(outcomeOf(value, job));
        }),
      );
    } finally {
      await Promise.all([events.close(), queue.close()]);
    }
  }

  async close(): Promise<void> {}
}

/**
 * The worker side: takes runs from the queue and runs them on `hre`, one at a time, until `signal`
 * aborts (SIGINT/SIGTERM in the task). `log` hears every run started, done or failed.
 */
export async function serveQueue(
  hre: HardhatRuntimeEnvironment,
  url: string,
  signal: AbortSignal,
  log: (line: string) => void,
): Promise<{ done: number; failed: number }> {
  const counts = { done: 0, failed: 0 };
  const connection = connectionOf(url);
  requireRedisClient();
  const worker = new Worker<RunJob, RunOutcome>(
    QUEUE_NAME,
    async (job) => {
      log(`run ${job.data.key} (${job.data.source}, seed ${job.data.seed}) started`);
      return runJob(hre, job.data);
    },
    { connection, concurrency: 1, lockDuration: LOCK_DURATION_MS, autorun: false },
  );
  worker.on("completed", (job) => {
    counts.done += 1;
    log(`run ${job.data.key} done`);
  });
  worker.on("failed", (job, error) => {
    counts.failed += 1;
    log(`run ${job?.data.key ?? "?"} failed: ${error.message}`);
  });
  worker.on("error", (error) => log(`queue error: ${error.message}`));
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  const running = worker.run();
  await worker.waitUntilReady();
  log(`sweep-worker: taking runs from "${QUEUE_NAME}" at ${url}`);
  await stopped;
  await worker.close();
  await running;
  return counts;
}
