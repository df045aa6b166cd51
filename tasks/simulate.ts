import { task, types } from "hardhat/config";

task("simulate", "Runs a scenario on the exchange contracts and writes summary.json, timeline.csv and report.html")
  .addOptionalParam("scenario", "scenario file, e.g. scenarios/squeeze-thin.json", undefined, types.string)
  .addOptionalParam("seed", "PRNG seed (default: the scenario's)", undefined, types.int)
  .addOptionalParam("out", "output directory (default: reports/<scenario name>)", undefined, types.string)
  .addFlag("pair", "run squeeze-thin and squeeze-deep and compare them (what `npm start` does)")
  .setAction(async (args: { scenario?: string; seed?: number; out?: string; pair: boolean }, hre) => {
    await hre.run("compile", { quiet: true });
    const { simulateOne, simulatePair, comparisonTable } = await import("../sim/cli");
    const started = Date.now();
    if (args.pair || !args.scenario) {
      const results = await simulatePair(hre);
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
  });
