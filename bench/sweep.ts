/**
 * Sweep throughput: `runs` seeds of squeeze-thin through `workers` local threads (sim/sweep), in a
 * fresh temporary directory so nothing is skipped. The wall time includes each thread's one Hardhat
 * start-up and its chain's (a private anvil node per thread by default, sim/network.ts), as a user's
 * sweep pays them.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadPlan, runSweep } from "../sim/sweep/sweep";
import { LocalPool } from "../sim/sweep/pool";
import { defaultChain, type ChainKind } from "../sim/network";

export const SWEEP_SCENARIO = "scenarios/squeeze-thin.json";

export interface SweepThroughput {
  /** the chain backend of every run (PERPSIM_CHAIN, or the default) */
  chain: ChainKind;
  runs: number;
  workers: number;
  seconds: number;
  runsPerMinute: number;
}

export async function sweepThroughput(runs: number, workers: number): Promise<SweepThroughput> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "perpsim-bench-sweep-"));
  try {
    const plan = loadPlan(SWEEP_SCENARIO, [], `1..${runs}`);
    const started = performance.now();
    const result = await runSweep(plan, out, new LocalPool(workers));
    const seconds = (performance.now() - started) / 1000;
    if (result.ran !== runs) throw new Error(`bench: the sweep ran ${result.ran} of ${runs} runs`);
    return { chain: defaultChain(), runs, workers, seconds, runsPerMinute: (runs * 60) / seconds };
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}
