/**
 * Issue #19's user stories through the tasks, on the in-process network: a trader gets BTC from the
 * faucet, deposits it in the BTC vault, shorts BTCUSD-INV by contracts at 10x and sees the liquidation
 * price in USD; the BTC-USD feeds are pushed past it and a keeper liquidates, paid in BTC. A 1x short shows
 * no liquidation price and survives a 10x pump. Limit, take-profit and stop-loss orders on BTCUSD-INV are
 * placed with USD prices and executed.
 */
import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { tiersOf } from "../../lib/deploy";
import { deployToFile, describeDeployment } from "../../lib/deployment";
import type { Deployment } from "../../lib/contracts";
import { InverseMath } from "../../lib/inverse";
import { BTCUSD_INV } from "../../lib/markets";
import { MAX_UINT256, type Tier } from "../../lib/math";
import { wad, WAD } from "../../lib/units";
import { refusal, runTask } from "../helpers/tasks";
import type { BalanceResult, FaucetResult, MarginResult } from "../../tasks/trading";
import type { InverseCloseResult, InverseOpenResult, InversePanel } from "../../tasks/inverse";
import type { LiquidateResult, SettleFundingResult } from "../../tasks/operations";
import type { ExecuteResult, OrderResult } from "../../tasks/orders";
import type { LpResult, PoolResult } from "../../tasks/lp";
import type { InsuranceReport } from "../../tasks/views";

const INV = "BTCUSD-INV";
const TRADER = "1";
const KEEPER = "2";
const FACE = wad(BTCUSD_INV.faceUsd);
const TIERS: Tier[] = tiersOf(BTCUSD_INV);

const tmp = mkdtempSync(path.join(tmpdir(), "perpsim-inverse-tasks-"));
let deployments = 0;
let deploymentFile = "";

/** Runs a task against the current deployment; returns its result and the lines it printed. */
const run = <T>(name: string, args: Record<string, unknown> = {}) => runTask<T>(deploymentFile, name, args);

async function task<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
  return (await run<T>(name, args)).result;
}

/** The default deployment in a temp file; the trader has 1 BTC from the faucet and 0.5 BTC deposited. */
async function funded() {
  const [deployer] = await hre.ethers.getSigners();
  const file = path.join(tmp, `deployment-${++deployments}.json`);
  const ex = await deployToFile(deployer, file);
  deploymentFile = file;
  await task("faucet", { account: TRADER, asset: "BTC" });
  await task("deposit", { account: TRADER, asset: "BTC", amount: "0.5" });
  return { ex, file };
}

async function use<T extends { file: string }>(fixture: () => Promise<T>): Promise<T> {
  const loaded = await loadFixture(fixture);
  deploymentFile = loaded.file;
  return loaded;
}

/** Pushes BTC-USD's feeds (two of its three sources: the median) to `usd` through perp:price. */
async function pushBtc(usd: bigint): Promise<void> {
  const whole = usd / WAD;
  await task("price", { market: "BTC-USD", price: String(whole) });
}

describe("coin-margined markets through the tasks (#19)", () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("faucet and deposit BTC: the BTC vault's free balance, in BTC", async () => {
    await use(funded);
    const faucet = await task<FaucetResult>("faucet", { account: TRADER, asset: "btc", amount: "0.25" });
    expect(faucet.asset).to.equal("BTC");
    expect(faucet.amount6).to.equal(wad("0.25"));
    expect(faucet.walletBalance6).to.equal(wad("0.75"));
    const insurance = await run<InsuranceReport>("insurance", { asset: "BTC" });
    expect(insurance.result.insuranceFund).to.equal(wad(3));
    expect(insurance.lines.join("\n")).to.match(/insurance fund +3\.00000000 BTC/);
    const { result, lines } = await run<BalanceResult>("withdraw", { account: TRADER, asset: "BTC", amount: "0.1" });
    expect(result.freeBalance).to.equal(wad("0.4"));
    expect(lines[0]).to.match(
      /^Withdrew 0\.10000000 BTC to account 1 .*; free balance 0\.40000000 BTC, wallet 0\.85000000 BTC$/,
    );
  });

  it("opens a 10x short by contracts, shows the liquidation price in USD, and a keeper liquidates past it in BTC", async () => {
    await use(funded);
    const { result: open, lines } = await run<InverseOpenResult>("open", {
      account: TRADER,
      market: INV,
      side: "short",
      contracts: "300",
      leverage: "10",
    });
    expect(open.isLong).to.equal(false);
    expect(open.contracts).to.equal(300n);
    expect(open.engineSizeDelta).to.equal(300n * FACE); // the engine's long on 1/P
    expect(open.leverage).to.be.closeTo(wad(10), wad("0.05"));
    const liq = open.liquidationPrice!;
    // SPEC 9.2: the short's cost Q/entry in BTC, its margin net of funding.
    const p = await task<InversePanel>("position", { account: TRADER, market: INV });
    const cost = (300n * FACE * WAD) / p.entryPrice;
    const spec = InverseMath.liquidationPrice(TIERS, -300n * FACE, cost, p.margin - p.pendingFunding);
    expect(liq).to.be.closeTo(spec, spec / 10n ** 6n);
    expect((liq * 10_000n) / open.entryPrice).to.be.within(11_000n, 11_100n);
    expect(lines.join("\n")).to.match(/LIQUIDATION PRICE +[\d,.]+ USD \(\+10\.\d\d% from mark\)/);
    expect(lines.join("\n")).to.match(/margin +0\.\d{8} BTC \([\d,.]+ USD\), leverage 10\.0\dx/);

    await pushBtc(((liq * 1_002n) / 1_000n / WAD + 1n) * WAD);
    const after = await run<InversePanel>("position", { account: TRADER, market: INV });
    expect(after.result.liquidatable).to.equal(true);
    expect(after.lines.join("\n")).to.contain("LIQUIDATABLE NOW");
    const liquidated = await task<LiquidateResult>("liquidate", { account: KEEPER, id: String(open.positionId) });
    expect(liquidated.market).to.equal(INV);
    expect(liquidated.reward).to.be.gt(0n);
    const keeperFree = await task<BalanceResult>("withdraw", { account: KEEPER, asset: "BTC", amount: "all" });
    expect(keeperFree.amount6).to.equal(liquidated.reward);
  });

  it("a 1x short by contracts has no liquidation price and survives a 10x pump: a synthetic dollar", async () => {
    await use(funded);
    const { result: open, lines } = await run<InverseOpenResult>("open", {
      account: TRADER,
      market: INV,
      side: "short",
      contracts: "30",
      leverage: "1",
    });
    expect(open.liquidationPrice).to.equal(undefined);
    expect(lines.join("\n")).to.match(/LIQUIDATION PRICE +none/);
    await pushBtc(wad(300_000));
    const { result: p, lines: panel } = await run<InversePanel>("position", { account: TRADER, market: INV });
    expect(p.liquidatable).to.equal(false);
    expect(p.liquidationPrice).to.equal(undefined);
    expect(panel.join("\n")).to.match(/LIQUIDATION PRICE +none/);
    // 3,000 USD of face at 300,000 USD: 0.01 BTC, less the fees.
    expect(p.equity).to.be.closeTo(wad("0.01"), wad("0.0002"));
    const closed = await task<InverseCloseResult>("close", { account: TRADER, market: INV });
    expect(closed.contracts).to.equal(30n);
    expect(closed.returned).to.be.closeTo(wad("0.01"), wad("0.0002"));
  });

  it("adds margin in BTC and settles funding on BTCUSD-INV, the rate in the trader's terms", async () => {
    await use(funded);
    const open = await task<InverseOpenResult>("open", {
      account: TRADER,
      market: INV,
      side: "short",
      contracts: "300",
      leverage: "10",
    });
    const added = await run<MarginResult>("margin", { account: TRADER, market: INV, add: "0.05" });
    expect(added.result.margin).to.equal(open.margin + wad("0.05"));
    expect(added.lines[0]).to.match(/^Added 0\.05000000 BTC to the BTCUSD-INV position/);
    expect(added.lines.join("\n")).to.match(/liquidation price +[\d,.]+ USD \(\+\d+\.\d\d% from mark\)/);
    await task("advance-time", { hours: "8" });
    await pushBtc(wad(30_000));
    const settled = await run<SettleFundingResult>("settle-funding", { market: INV });
    expect(settled.result.intervals).to.equal(1n);
    expect(settled.lines.join("\n")).to.contain("BTC per USD of face");
  });

  it("sizes an open from a BTC margin and leverage: contracts = margin * leverage * price / face", async () => {
    await use(funded);
    const open = await task<InverseOpenResult>("open", {
      account: TRADER,
      market: INV,
      side: "long",
      margin: "0.1",
      leverage: "10",
    });
    // 0.1 BTC * 10 * 30,000 USD / 100 USD = 300 contracts (the mark is a hair off the index: 299 or 300).
    expect(open.contracts).to.be.within(299n, 300n);
    expect(open.isLong).to.equal(true);
    expect(open.margin).to.equal(wad("0.1"));
    expect(open.liquidationPrice).to.be.lt(open.entryPrice).and.to.be.gt(0n);
    expect(open.liquidationPrice).to.not.equal(MAX_UINT256);
  });

  it("refuses a fractional --contracts by name, --contracts on a USD market, and lists every market", async () => {
    await use(funded);
    const base = { account: TRADER, market: INV, side: "short", leverage: "10" };
    expect(await refusal(task("open", { ...base, contracts: "1.5" }))).to.match(
      /^--contracts 1\.5: expected a whole number/,
    );
    expect(await refusal(task("open", { ...base, contracts: "0" }))).to.match(/^--contracts 0: must be at least 1/);
    expect(await refusal(task("open", { ...base, contracts: "3", margin: "0.1" }))).to.contain("only two of them");
    expect(await refusal(task("open", { ...base, market: "BTC-USD", contracts: "3", margin: "10" }))).to.match(
      /^--contracts 3: only a coin-margined market \(BTCUSD-INV, ALTUSD-INV\) takes it/,
    );
    expect(await refusal(task("open", { ...base, market: "DOGE-USD", contracts: "3" }))).to.equal(
      "--market DOGE-USD: unknown market; markets: ALT-USD, BTC-USD, BTCUSD-INV, ALTUSD-INV",
    );
    expect(await refusal(task("deposit", { account: TRADER, asset: "DOGE", amount: "1" }))).to.equal(
      "--asset DOGE: unknown asset; assets: USD, BTC, ALT",
    );
    expect(await refusal(task("price", { market: INV, price: "1" }))).to.match(
      /^--market BTCUSD-INV: a coin-margined market, whose index is BTC-USD's inverted; pass --market BTC-USD/,
    );
  });

  it("deposits into and redeems from the BTC LP pool, valued in BTC", async () => {
    await use(funded);
    const { result: deposit, lines } = await run<LpResult>("lp-deposit", {
      account: TRADER,
      asset: "BTC",
      amount: "0.2",
    });
    expect(deposit.assets6).to.equal(wad("0.2"));
    expect(deposit.pool.totalAssets6).to.equal(wad("100.2"));
    expect(lines[0]).to.match(/^Deposited 0\.20000000 BTC into the BTC LP pool for 0\.200000 shares$/);
    const pool = await run<PoolResult>("pool", { account: TRADER, asset: "BTC" });
    expect(pool.lines[0]).to.equal("BTC LP pool (coin-margined markets), valued at mark");
    expect(pool.result.sharesValue6).to.equal(wad("0.2"));
    const redeemed = await task<LpResult>("lp-redeem", { account: TRADER, asset: "BTC", shares: "all" });
    expect(redeemed.assets6).to.equal(wad("0.2"));
  });

  it("checks each coin exchange's wiring before a task runs, and the deploy summary lists the coin exchanges", async () => {
    const { ex, file } = await use(funded);
    const summary = (await describeDeployment(ex)).join("\n");
    expect(summary).to.contain("BTC-margined exchange");
    expect(summary).to.match(/BTCUSD-INV +1 +30,000\.00 +100 USD +BTC-USD/);
    expect(summary).to.contain("LP pool 100.00000000 BTC, insurance fund 3.00000000 BTC");
    // A record whose BTC vault is the USD vault: the BTC exchange's engine disagrees.
    const record = JSON.parse(readFileSync(file, "utf8")) as Deployment;
    record.coinMargined![0]!.contracts.vault = record.contracts.vault;
    const broken = path.join(tmp, `broken-${deployments}.json`);
    writeFileSync(broken, JSON.stringify(record));
    expect(await refusal(hre.run("perp:position", { deployment: broken, market: INV }))).to.match(
      /coinMargined\[0\]\.contracts\.engine 0x[0-9a-fA-F]{40}: PerpEngine\.vault\(\) at 0x[0-9a-fA-F]{40} is 0x[0-9a-fA-F]{40}, the record says/,
    );
  });

  describe("orders on BTCUSD-INV, prices in USD", () => {
    it("a limit long rests below the price and fills when BTC falls to it", async () => {
      await use(funded);
      const placed = await task<OrderResult>("order", {
        account: TRADER,
        type: "limit",
        market: INV,
        side: "long",
        contracts: "100",
        leverage: "5",
        price: "29000",
      });
      expect(placed.status).to.equal("live");
      expect(placed.inverse).to.deep.equal({ coin: "BTC", contracts: 100n, traderBuys: true });
      expect(placed.triggerPrice).to.be.closeTo(wad(29_000), wad("0.001"));
      const listed = await run<unknown[]>("orders", { account: TRADER, asset: "BTC" });
      expect(listed.result).to.have.length(1);
      expect(listed.lines[1]).to.match(
        /^ {2}#1 BTCUSD-INV limit open: buy 10,000\.00 USD of face when the fill price is at or below 29,000\.00 USD \(mark now 30,000\.00 USD\)/,
      );
      expect(await refusal(task("execute", { account: KEEPER, asset: "BTC", id: String(placed.id) }))).to.contain(
        "cannot execute now",
      );
      await pushBtc(wad(28_900));
      const executed = await task<ExecuteResult>("execute", { account: KEEPER, asset: "BTC", id: String(placed.id) });
      expect(executed.outcome).to.equal("executed");
      const p = await task<InversePanel>("position", { account: TRADER, market: INV });
      expect(p.isLong).to.equal(true);
      expect(p.contracts).to.equal(100n);
      expect(p.entryPrice).to.be.lte(wad(29_000));
    });

    it("a short's take-profit below entry fires when BTC falls to it", async () => {
      await use(funded);
      const open = await task<InverseOpenResult>("open", {
        account: TRADER,
        market: INV,
        side: "short",
        contracts: "100",
        leverage: "5",
      });
      expect(await refusal(task("order", { account: TRADER, type: "tp", market: INV, price: "31000" }))).to.match(
        /^--price 31000: a short's take-profit triggers below its entry/,
      );
      const tp = await task<OrderResult>("order", { account: TRADER, type: "tp", market: INV, price: "28000" });
      expect(tp.inverse?.traderBuys).to.equal(true);
      await pushBtc(wad(28_500));
      expect(await refusal(task("execute", { account: KEEPER, asset: "BTC", id: String(tp.id) }))).to.contain(
        "cannot execute now",
      );
      await pushBtc(wad(27_900));
      const executed = await task<ExecuteResult>("execute", { account: KEEPER, asset: "BTC", id: String(tp.id) });
      expect(executed.outcome).to.equal("executed");
      const p = await task<InversePanel>("position", { account: TRADER, market: INV });
      expect(p.open).to.equal(false);
      expect(open.entryPrice).to.be.gt(wad(29_000));
    });

    it("a short's stop-loss above entry fires when BTC rises to it (1/P falls below 1/X on the engine)", async () => {
      await use(funded);
      await task<InverseOpenResult>("open", {
        account: TRADER,
        market: INV,
        side: "short",
        contracts: "100",
        leverage: "5",
      });
      const sl = await task<OrderResult>("order", { account: TRADER, type: "sl", market: INV, price: "32000" });
      await pushBtc(wad(31_500));
      expect(await refusal(task("execute", { account: KEEPER, asset: "BTC", id: String(sl.id) }))).to.contain(
        "cannot execute now",
      );
      await pushBtc(wad(32_100));
      const executed = await task<ExecuteResult>("execute", { account: KEEPER, asset: "BTC", id: String(sl.id) });
      expect(executed.outcome).to.equal("executed");
      expect((await task<InversePanel>("position", { account: TRADER, market: INV })).open).to.equal(false);
    });
  });
});
