/**
 * One scenario in a process of its own, for `npm start`'s pair: the parent (sim/cli.ts simulatePair)
 * forks this file once per scenario, so the thin and the deep run use both cores. The worker loads
 * Hardhat (the in-process network, the compiled artifacts the parent checked), runs the scenario with
 * runScenario and sends back each step and then the result (advanced serialisation carries bigints).
 *
 * Messages to the parent: { kind: "step", step, total }, then { kind: "done", result } or
 * { kind: "failed", message }.
 */
import { fork } from "node:child_process";
import path from "node:path";
import type { SimulationResult } from "./types";

/** `npm start`'s pair: the thin market, then the deep one. */
export const DEFAULT_PAIR = ["scenarios/squeeze-thin.json", "scenarios/squeeze-deep.json"];

/** A scenario run in a worker process that ended with an error; the message is the worker's. */
export class WorkerRunFailed extends Error {
  override name = "WorkerRunFailed";
}

/** A run going on in a worker process: its result, and its progress for whoever listens. */
export interface WorkerRun {
  result: Promise<SimulationResult>;
  /** Calls `listener` with every step reported from now on. */
  onStep(listener: (step: number, total: number) => void): void;
}

/**
 * Starts `file` in a worker process of its own. Light on purpose (Node built-ins and types only), so the
 * CLI can start a worker before it loads the simulator itself: the two loads overlap. The contracts
 * must be compiled before.
 */
export function startWorkerRun(file: string): WorkerRun {
  let listener: ((step: number, total: number) => void) | undefined;
  const result = new Promise<SimulationResult>((resolve, reject) => {
    const child = fork(path.join(__dirname, "worker.ts"), [], {
      serialization: "advanced",
      execArgv: ["--require", "ts-node/register/transpile-only"],
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    let settled = false;
    const settle = (error: Error | undefined, value?: SimulationResult) => {
      if (settled) return;
      settled = true;
      if (error) reject(error);
      else resolve(value!);
    };
    child.on("message", (message: WorkerMessage) => {
      if (message.kind === "step") listener?.(message.step, message.total);
      else if (message.kind === "done") settle(undefined, message.result);
      else settle(new WorkerRunFailed(`${file}: ${message.message}`));
    });
    child.on("error", (error) => settle(error));
    child.on("exit", (code) =>
      settle(new WorkerRunFailed(`${file}: the worker process exited with code ${code} before its result`)),
    );
    child.send({ scenario: file } satisfies WorkerRequest);
  });
  return { result, onStep: (l) => (listener = l) };
}

export interface WorkerRequest {
  scenario: string;
  seed?: number;
}

export type WorkerMessage =
  | { kind: "step"; step: number; total: number }
  | { kind: "done"; result: SimulationResult }
  | { kind: "failed"; message: string };

async function main(request: WorkerRequest): Promise<void> {
  const send = (message: WorkerMessage) =>
    new Promise<void>((resolve, reject) => process.send!(message, undefined, {}, (e) => (e ? reject(e) : resolve())));
  try {
    // Loaded here, not at the top: the parent's process must not load a second Hardhat runtime.
    const hre = (await import("hardhat")).default;
    const { loadScenario } = await import("./scenario");
    const { runScenario } = await import("./runner");
    const scenario = loadScenario(request.scenario);
    let last = 0;
    const result = await runScenario(hre, scenario, {
      seed: request.seed,
      onStep: (step, total) => {
        // The parent's progress bar needs a few updates a second, not one per step.
        if (step - last >= 5 || step === total) {
          last = step;
          void send({ kind: "step", step, total });
        }
      },
    });
    await send({ kind: "done", result });
  } catch (error) {
    await send({ kind: "failed", message: error instanceof Error ? error.message : String(error) });
  }
}

if (require.main === module) {
  process.once("message", (request: WorkerRequest) => {
    void main(request).finally(() => process.disconnect());
  });
}
