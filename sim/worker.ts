/**
 * One scenario in a process of its own, for `npm start`'s pair: the parent (sim/cli.ts simulatePair)
 * forks this file once per scenario, so the thin and the deep run use both cores. The worker loads
 * Hardhat (the in-process network, the compiled artifacts the parent checked), runs the scenario with
 * runScenario and sends back each step and then the result (advanced serialisation carries bigints).
 *
 * Messages to the parent: { kind: "step", step, total }, then { kind: "done", result } or
 * { kind: "failed", message }.
 */
import type { SimulationResult } from "./types";

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
