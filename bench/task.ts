/**
 * The `bench` task behind `npm run bench`: `npm run bench -- --quick` for the one-minute subset,
 * `--out DIR` to write the results elsewhere than bench/. Loads the bench lazily: this file is read
 * before typechain-types exists (see tasks/index.ts).
 */
import { task, types } from "hardhat/config";

task("bench", "Gas, keeper and simulator benchmarks; writes results.json and results.md")
  .addFlag("quick", "a one-minute subset of the same phases")
  .addFlag("skipHttp", "leave out the keeper races over HTTP (anvil and hardhat node, minutes each)")
  .addOptionalParam("out", "directory for results.json and results.md", "bench", types.string)
  .setAction(async (args: { quick: boolean; skipHttp: boolean; out: string }, hre) => {
    if (hre.network.name !== "hardhat") {
      throw new Error(`the bench runs on the in-process network (--network hardhat), not ${hre.network.name}`);
    }
    await hre.run("compile", { quiet: true });
    const { runBench } = await import("./run");
    await runBench(hre, { quick: args.quick, skipHttp: args.skipHttp, out: args.out });
  });
