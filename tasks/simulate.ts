/**
 * `npx hardhat simulate`: one scenario (--scenario FILE [--seed N] [--out DIR]) or the default pair
 * (--pair, what `npm start` runs). On the in-process network by default; `--network localhost` runs
 * the scenario against a `hardhat node` (see the README on why its numbers differ from the in-process
 * run). Bad input (a scenario field, --seed, --out) and a refused action the scenario requires end
 * the task with their message and no stack trace. The simulator is loaded lazily: this file is read
 * before typechain-types exists (see tasks/index.ts).
 */
import { task, types } from "hardhat/config";
import { cliAction, fail } from "./common";

task("simulate", "Runs a scenario on the exchange contracts and writes summary.json, timeline.csv and report.html")
  .addOptionalParam("scenario", "scenario file, e.g. scenarios/squeeze-thin.json", undefined, types.string)
  .addOptionalParam("seed", "PRNG seed (default: the scenario's)", undefined, types.int)
  .addOptionalParam("out", "output directory (default: reports/<scenario name>)", undefined, types.string)
  .addOptionalParam(
    "chain",
    "chain backend: anvil (a private node over IPC) or edr (in-process)",
    undefined,
    types.string,
  )
  .addFlag("pair", "run squeeze-thin and squeeze-deep and compare them (what `npm start` does)")
  .setAction(
    cliAction(
      "simulate",
      async (args: { scenario?: string; seed?: number; out?: string; chain?: string; pair: boolean }, hre) => {
        await hre.run("compile", { quiet: true });
        const pair = args.pair || !args.scenario;
        if (pair && hre.network.name !== "hardhat") {
          fail(`the pair runs on the in-process network; on ${hre.network.name}, run one --scenario at a time`);
        }
        if (args.chain !== undefined) {
          const { parseChain } = await import("../sim/network");
          try {
            // Through the environment: the pair's worker process and every run in this one read it.
            process.env.PERPSIM_CHAIN = parseChain(args.chain);
          } catch (error) {
            fail((error as Error).message);
          }
        }
        // The pair's worker starts before this process loads the simulator: both loads take seconds.
        const { DEFAULT_PAIR, startWorkerRun } = await import("../sim/worker");
        const workers = pair ? DEFAULT_PAIR.slice(1).map(startWorkerRun) : [];
        const { simulateOne, simulatePair, comparisonTable, SimulateInputError, WorkerRunFailed } =
          await import("../sim/cli");
        const { ScenarioError } = await import("../sim/scenario");
        const { RequiredActionRefused } = await import("../sim/agents/intents");
        const started = Date.now();
        try {
          if (pair || !args.scenario) {
            const results = await simulatePair(hre, DEFAULT_PAIR, workers);
            console.log("\n" + comparisonTable(results));
            console.log(`\nReports: reports/latest/index.html (${((Date.now() - started) / 1000).toFixed(1)} s)`);
            return results.map((r) => r.summary);
          }
          const result = await simulateOne(hre, { scenario: args.scenario, seed: args.seed, out: args.out });
          console.log("\n" + comparisonTable([result]));
          console.log(
            `\nReport: ${args.out ?? `reports/${result.scenario.name}`}/report.html (${((Date.now() - started) / 1000).toFixed(1)} s)`,
          );
          return result.summary;
        } catch (error) {
          const known = [ScenarioError, SimulateInputError, RequiredActionRefused, WorkerRunFailed];
          if (known.some((kind) => error instanceof kind)) fail((error as Error).message);
          throw error;
        }
      },
    ),
  );
