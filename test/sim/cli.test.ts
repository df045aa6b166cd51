import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { simulateOne, SimulateInputError } from "../../sim/cli";

describe("simulate's command-line checks, before anything runs", () => {
  let root: string;
  beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), "perpsim-cli-"))));
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  /** The chain's head: a run resets and deploys, so an unchanged head means nothing ran. */
  const head = () => hre.ethers.provider.getBlockNumber();

  it("refuses --out naming a file before the run, leaving the file and the chain as they were", async () => {
    const file = path.join(root, "README.md");
    fs.writeFileSync(file, "# keep me\n");
    const before = await head();
    const error = await simulateOne(hre, { scenario: "scenarios/squeeze-thin.json", out: file, quiet: true }).catch(
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(SimulateInputError);
    expect((error as Error).message).to.match(/^--out .*README\.md: is a file, not a directory/);
    expect(await head()).to.equal(before);
    expect(fs.readFileSync(file, "utf8")).to.equal("# keep me\n");
  });

  it("refuses a negative --seed in one line", async () => {
    const before = await head();
    const error = await simulateOne(hre, {
      scenario: "scenarios/squeeze-thin.json",
      seed: -3,
      out: path.join(root, "out"),
      quiet: true,
    }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(SimulateInputError);
    expect((error as Error).message).to.equal("--seed: must be an integer from 0 to 9007199254740991 (got -3)");
    expect(await head()).to.equal(before);
  });
});
