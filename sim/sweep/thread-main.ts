/**
 * The body of a local pool thread (loaded by sim/sweep/thread.js): this thread's own Hardhat runtime,
 * created once when the thread starts, runs the jobs the pool hands it one at a time.
 */
import hre from "hardhat";
import { runJob, type RunJob, type RunOutcome } from "./job";

export async function runInThread(job: RunJob): Promise<RunOutcome> {
  return runJob(hre, job);
}
