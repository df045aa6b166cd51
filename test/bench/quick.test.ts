/**
 * Keeps `npm run bench` working: runs its quick mode once, as its own Hardhat process (the bench resets
 * the in-process chain, which must not happen under the other tests' fixtures), into a temporary
 * directory, and checks what it wrote.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Figure, Results } from "../../bench/figures";

const HARDHAT_CLI = require.resolve("hardhat/internal/cli/cli.js");
const BENCH_TIMEOUT_MS = 240_000;

function runQuickBench(out: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [HARDHAT_CLI, "bench", "--quick", "--out", out, "--network", "hardhat"],
      { timeout: BENCH_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve()),
    );
  });
}

const meets = (f: Figure): boolean => (f.goal!.op === "<=" ? f.value <= f.goal!.value : f.value >= f.goal!.value);

describe("bench: npm run bench -- --quick", function () {
  this.timeout(BENCH_TIMEOUT_MS + 30_000);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), "perpsim-bench-"));
  let results: Results;
  let markdown: string;

  before(async () => {
    await runQuickBench(out);
    results = JSON.parse(fs.readFileSync(path.join(out, "results.json"), "utf8")) as Results;
    markdown = fs.readFileSync(path.join(out, "results.md"), "utf8");
  });

  after(() => fs.rmSync(out, { recursive: true, force: true }));

  it("measures gas, the keeper and the simulator, each figure with its unit, goal and verdict", () => {
    expect(results.mode).to.equal("quick");
    const ids = results.figures.map((f) => f.id);
    for (const id of [
      "gas.open.long",
      "gas.close.long",
      "gas.liquidate.full",
      "gas.liquidateMany.10",
      "gas.settleFunding.spread",
      "keeper.scan.100000",
      "keeper.race.blocks",
      "keeper.blockRatio",
      "sim.ratio",
    ]) {
      expect(ids, id).to.include(id);
    }
    for (const f of results.figures) {
      expect(f.unit, f.id).to.be.a("string");
      expect(Number.isFinite(f.value), f.id).to.equal(true);
      if (f.goal === null) expect(f.met, f.id).to.equal(null);
      else expect(f.met, f.id).to.equal(meets(f));
    }
    // every transaction costs at least the 21,000 base; a batch's per-position share may be below it
    for (const f of results.figures.filter((x) => x.unit === "gas" && !x.id.startsWith("gas.liquidateMany"))) {
      expect(f.value, f.id).to.be.greaterThan(21_000);
    }
    const byId = new Map(results.figures.map((f) => [f.id, f.value]));
    // a batch shares the market's cost: per position it is cheaper than a single liquidation
    expect(byId.get("gas.liquidateMany.10")!).to.be.lessThan(byId.get("gas.liquidate.full")!);
    // one liquidateMany per batch against one transaction per position
    expect(byId.get("keeper.race.blocks")!).to.be.lessThan(byId.get("keeper.naive.blocks")!);
    expect(
      results.breakdowns.find((b) => b.id === "gas.liquidate.full")!.parts.reduce((n, p) => n + p.gas, 0),
    ).to.be.closeTo(
      byId.get("gas.liquidate.full")!,
      results.breakdowns[0].parts.length, // each part is rounded to the unit
    );
  });

  it("renders the figures as a Markdown table with the machine's description", () => {
    expect(markdown).to.include("| figure | value | goal | met |");
    expect(markdown).to.include(results.machine.cpu);
    expect(markdown).to.include(`${results.machine.cores} cores`);
    expect(markdown).to.include(results.machine.node);
    for (const f of results.figures) expect(markdown).to.include(f.label);
    expect(markdown).to.include("GMX v1");
  });
});
