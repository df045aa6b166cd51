// `npx hardhat sweep` and `npx hardhat sweep-worker` (SPEC 9.3). The work lives in sim/sweep/, loaded
// lazily: this file is read before typechain-types exists (see tasks/index.ts).
import { task, types } from "hardhat/config";
import type { CLIArgumentType } from "hardhat/types";
import { ArgumentsParser } from "hardhat/internal/cli/ArgumentsParser";
import { cliAction, fail } from "./common";

interface SweepArgs {
  scenario: string;
  vary: string[];
  seeds: string;
  workers: number;
  out?: string;
  queue?: string;
  chain?: string;
}

const CHAIN_HELP = "chain backend of every run: anvil (a private node over IPC per worker) or edr (in-process)";

/**
 * `--chain` into PERPSIM_CHAIN, which every run of this process and its worker threads reads (a queue's
 * workers on other machines read their own). Both backends give the same metrics for the same run.
 */
async function useChain(chain: string | undefined): Promise<void> {
  if (chain === undefined) return;
  const { parseChain } = await import("../sim/network");
  try {
    process.env.PERPSIM_CHAIN = parseChain(chain);
  } catch (error) {
    fail((error as Error).message);
  }
}

/** `--vary PATH=V1,V2`: each occurrence parses to a one-element list, and repeats are concatenated. */
const varyType: CLIArgumentType<string[]> = {
  name: "PATH=V1,V2,...",
  parse: (_name, value) => [value],
  validate: (name, value: unknown) => {
    if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
      throw new Error(`--${name}: expected a list of PATH=V1,V2,... strings`);
  },
};

/**
 * Hardhat 2 refuses a parameter given twice (HH306). SPEC 9.3 repeats --vary, so the parser lets this
 * one parameter repeat and joins its lists; every other parameter keeps Hardhat's rule.
 */
type ParseArgumentAt = (
  rawCLAs: string[],
  index: number,
  definitions: unknown,
  parsed: Record<string, unknown>,
  scope: string | undefined,
) => number;
const parser = ArgumentsParser.prototype as unknown as { _parseArgumentAt: ParseArgumentAt };
const parseArgumentAt = parser._parseArgumentAt;
parser._parseArgumentAt = function (this: unknown, rawCLAs, index, definitions, parsed, scope) {
  const earlier = parsed.vary;
  if (rawCLAs[index] !== "--vary" || !Array.isArray(earlier))
    return parseArgumentAt.call(this, rawCLAs, index, definitions, parsed, scope);
  delete parsed.vary;
  const next = parseArgumentAt.call(this, rawCLAs, index, definitions, parsed, scope);
  parsed.vary = [...(earlier as string[]), ...(parsed.vary as string[])];
  return next;
};

task("sweep", "Runs a scenario over a grid of varied fields and seeds; writes runs.csv, summary.json, sweep.html")
  .addParam("scenario", "scenario file, e.g. scenarios/squeeze-thin.json", undefined, types.string)
  .addOptionalParam("vary", "PATH=V1,V2,... (repeatable): a dotted path into the scenario JSON", [], varyType)
  .addOptionalParam("seeds", "N (seeds 1..N) or A..B", "1", types.string)
  .addOptionalParam("workers", "local worker threads, each with its own Hardhat network", 2, types.int)
  .addOptionalParam("out", "output directory (default: reports/sweep-<scenario name>)", undefined, types.string)
  .addOptionalParam(
    "queue",
    "redis://HOST:PORT: put the runs on BullMQ for sweep-worker processes",
    undefined,
    types.string,
  )
  .addOptionalParam("chain", CHAIN_HELP, undefined, types.string)
  .setAction(
    cliAction("sweep", async (args: SweepArgs, hre) => {
      await useChain(args.chain);
      await hre.run("compile", { quiet: true });
      const { sweepCommand, isRefusal } = await import("../sim/sweep/cli");
      return sweepCommand(args).catch((error: unknown) =>
        isRefusal(error) ? fail(error.message) : Promise.reject(error),
      );
    }),
  );

task("sweep-worker", "Takes sweep runs from a BullMQ queue and runs them on the in-process network until stopped")
  .addParam("queue", "redis://HOST:PORT", undefined, types.string)
  .addOptionalParam("chain", CHAIN_HELP, undefined, types.string)
  .setAction(
    cliAction("sweep-worker", async (args: { queue: string; chain?: string }, hre) => {
      await useChain(args.chain);
      await hre.run("compile", { quiet: true });
      const { workerCommand, isRefusal } = await import("../sim/sweep/cli");
      return workerCommand(hre, args.queue).catch((error: unknown) =>
        isRefusal(error) ? fail(error.message) : Promise.reject(error),
      );
    }),
  );

task("lab", "The survival lab: leverage x thin/deep market x with/against the crowd, over seeds (npm run lab)")
  .addOptionalParam("seeds", "N (seeds 1..N) or A..B", "3", types.string)
  .addOptionalParam("workers", "local worker threads", 2, types.int)
  .addOptionalParam("out", "output directory", "reports/lab", types.string)
  .addOptionalParam("chain", CHAIN_HELP, undefined, types.string)
  .setAction(
    cliAction("lab", async (args: { seeds: string; workers: number; out: string; chain?: string }, hre) => {
      await useChain(args.chain);
      await hre.run("compile", { quiet: true });
      const { labCommand, isRefusal } = await import("../sim/sweep/cli");
      return labCommand(args).catch((error: unknown) =>
        isRefusal(error) ? fail(error.message) : Promise.reject(error),
      );
    }),
  );
