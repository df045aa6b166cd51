/**
 * The LP's tasks on a deployed exchange: perp:pool prints the pool valued at mark part by part, and
 * perp:lp-deposit / perp:lp-redeem move collateral at that price. Bad input stops with one line.
 */
import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deployToFile } from "../../lib/deployment";
import { usd6 } from "../../lib/units";
import { refusal, runTask } from "../helpers/tasks";
import type { LpResult, PoolResult } from "../../tasks/lp";

const LP = "3";
const TRADER = "1";
const USD6_SCALE = 10n ** 12n;

const tmp = mkdtempSync(path.join(tmpdir(), "perpsim-pool-tasks-"));
let deploymentFile = "";

/** Runs a task against the current deployment; returns its result and the lines it printed. */
const run = <T>(name: string, args: Record<string, unknown> = {}) => runTask<T>(deploymentFile, name, args);

async function deployed() {
  const [deployer] = await hre.ethers.getSigners();
  const file = path.join(tmp, "deployment.json");
  const ex = await deployToFile(deployer, file);
  return { ex, file };
}

describe("LP tasks: perp:pool, perp:lp-deposit, perp:lp-redeem", () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("prints the pool's parts, which add up to ERC-4626 totalAssets, with a trader's open loss counted", async () => {
    const { ex, file } = await loadFixture(deployed);
    deploymentFile = file;
    await run("faucet", { account: TRADER });
    await run("deposit", { account: TRADER, amount: "1000" });
    await run("open", { account: TRADER, market: "ALT-USD", side: "short", margin: "100", leverage: "10" });
    const { result: r, lines } = await run<PoolResult>("pool");
    expect(r.value).to.equal(r.ledger - r.traderPnl + r.fundingOwed);
    expect(r.traderPnl).to.be.lt(0n); // the short entered below mark: its open loss is the pool's
    expect(r.totalAssets6).to.equal(r.value / USD6_SCALE);
    expect(r.totalAssets6).to.equal(await ex.pool.totalAssets());
    expect(lines.join("\n")).to.match(/traders' unrealised PnL/);
    expect(lines.join("\n")).to.match(/share price/);
  });

  it("deposits and redeems at the pool's value, getting the deposit back to the rounding", async () => {
    const { ex, file } = await loadFixture(deployed);
    deploymentFile = file;
    await run("faucet", { account: LP, amount: "1000" });
    const dep = (await run<LpResult>("lp-deposit", { account: LP, amount: "1000" })).result;
    expect(dep.assets6).to.equal(usd6(1000));
    expect(dep.shares).to.equal(dep.pool.shares);
    const red = (await run<LpResult>("lp-redeem", { account: LP, shares: "all" })).result;
    expect(red.shares).to.equal(dep.shares);
    expect(usd6(1000) - red.assets6)
      .to.be.gte(0n)
      .and.lte(2n);
    expect(await ex.pool.balanceOf(red.account)).to.equal(0n);
  });

  it("refuses bad input with one line naming the field", async () => {
    const { file } = await loadFixture(deployed);
    deploymentFile = file;
    expect(await refusal(run("lp-deposit", { account: LP, amount: "1000" }))).to.contain("--amount 1000");
    expect(await refusal(run("lp-redeem", { account: LP, shares: "5" }))).to.contain("--shares 5");
    expect(await refusal(run("lp-redeem", { account: LP, shares: "0.0000000000001" }))).to.contain(
      "at most 12 decimal places",
    );
  });
});
