import { expect } from "chai";
import hre from "hardhat";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { deployToFile } from "../../lib/deployment";
import * as format from "../../lib/format";
import { usd6, wad, WAD } from "../../lib/units";
import { refusal, runTask } from "../helpers/tasks";
import type { BalanceResult, CloseResult, FaucetResult, MarginResult, OpenResult } from "../../tasks/trading";
import type { InsuranceReport, MarketRow, PositionPanel } from "../../tasks/views";
import type {
  AdvanceTimeResult,
  LiquidateResult,
  PriceResult,
  SettleFundingResult,
  SpotSwapResult,
} from "../../tasks/operations";

const ALT = "ALT-USD";
const ALT_ID = 1n;
const TRADER = "1";
const KEEPER = "2";
const FUNDING_INTERVAL = 8n * 3600n;
const BPS = 10_000n;
const SPOT_FEE_BPS = 30n;

const tmp = mkdtempSync(path.join(tmpdir(), "perpsim-tasks-"));
let deployments = 0;
/** The deployment file of the fixture the running test loaded. */
let deploymentFile = "";

/** Runs a task against the current deployment; returns its result and the lines it printed. */
const run = <T>(name: string, args: Record<string, unknown> = {}) => runTask<T>(deploymentFile, name, args);

/** Loads a fixture and points the tasks at the deployment file it wrote. */
async function use<T extends { file: string }>(fixture: () => Promise<T>): Promise<T> {
  const loaded = await loadFixture(fixture);
  deploymentFile = loaded.file;
  return loaded;
}

async function task<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
  return (await run<T>(name, args)).result;
}

/** a / b rounded up (a >= 0, b > 0), as WadMath.divRoundUp. */
function divUp(a: bigint, b: bigint): bigint {
  return a === 0n ? 0n : (a - 1n) / b + 1n;
}

/** a / b rounded toward negative infinity, as WadMath.floorDiv. */
function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return a % b !== 0n && a < 0n ? q - 1n : q;
}

/** Whether a printed line shows `label` followed by `value` (panels pad labels to one width). */
function shows(lines: string[], label: string, value: string): boolean {
  return lines.some(
    (line) =>
      line.trim().startsWith(label) &&
      line
        .slice(line.indexOf(label) + label.length)
        .trimStart()
        .startsWith(value),
  );
}

/**
 * The exchange deployed by the deploy script's code into its own temp file (each fixture's snapshot
 * keeps its own addresses), one minute after a funding boundary so no boundary falls inside a test
 * unless the test moves time. The trader holds no funds yet.
 */
async function deployed() {
  const now = BigInt(await time.latest());
  await time.increaseTo((now / FUNDING_INTERVAL + 1n) * FUNDING_INTERVAL + 60n);
  const [deployer, trader, keeper] = await hre.ethers.getSigners();
  const file = path.join(tmp, `deployment-${++deployments}.json`);
  const ex = await deployToFile(deployer, file);
  deploymentFile = file;
  return { ex, deployer, trader, keeper, file };
}

/** The trader has 10,000 USD in the wallet and 1,000 USD free in the vault. */
async function funded() {
  const f = await deployed();
  await task("faucet", { account: TRADER });
  await task("deposit", { account: TRADER, amount: "1000" });
  return f;
}

/** The trader holds a 10x ALT-USD short: 100 USD margin. */
async function shortOpen() {
  const f = await funded();
  const open = await task<OpenResult>("open", {
    account: TRADER,
    market: ALT,
    side: "short",
    margin: "100",
    leverage: "10",
  });
  return { ...f, open };
}

describe("perp:* tasks on the in-process network", () => {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("runs a 10x ALT-USD short round trip: faucet, deposit, open, position, price move, close, withdraw", async () => {
    const { ex, trader } = await use(deployed);

    const faucet = await task<FaucetResult>("faucet", { account: TRADER });
    expect(faucet.amount6).to.equal(usd6(10_000));
    expect(faucet.walletBalance6).to.equal(usd6(10_000));

    const deposit = await task<BalanceResult>("deposit", { account: TRADER, amount: "1000" });
    expect(deposit.freeBalance).to.equal(wad(1_000));
    expect(deposit.walletBalance6).to.equal(usd6(9_000));

    // Quote by the SPEC: size = margin * leverage / mark; fill = index * (1 + (2K + d) / 2S), a sell
    // rounds down; fee = taker * |d| * fill (|K + d| > |K|), each product rounded up.
    const before = await ex.lens.market(ALT_ID);
    const cfg = await ex.admin.marketConfig(ALT_ID);
    const margin = wad(100);
    const size = -((((margin * 10n * WAD) / WAD) * WAD) / before.markPrice);
    const S = cfg.skewScale;
    const fill = (before.indexPrice * (2n * S + 2n * before.skew + size)) / (2n * S);
    const openFee = divUp(divUp(-size * fill, WAD) * cfg.takerFee, WAD);
    const slippage = WAD / 200n; // the default 0.5%
    const { result: opened, lines: openLines } = await run<OpenResult>("open", {
      account: TRADER,
      market: ALT,
      side: "short",
      margin: "100",
      leverage: "10",
    });
    expect(opened.sizeDelta).to.equal(size);
    expect(opened.fillPrice).to.equal(fill);
    expect(opened.acceptablePrice).to.equal((fill * (WAD - slippage)) / WAD);
    expect(opened.fee).to.equal(openFee);
    expect(opened.margin).to.equal(margin);
    expect(opened.entryPrice).to.equal(fill);

    // Short liquidation price, tier 1 (maintenance amount 0): the first price p with
    // margin + size * (p - entry) < mmr * |size| * p, i.e. floor((|size| * entry + M) / (|size| * (1 + mmr))) + 1.
    const [tier1] = await ex.admin.tiers(ALT_ID);
    const absSize = -size;
    const liq = (absSize * fill * WAD + margin * WAD * WAD) / (absSize * (WAD + tier1.mmr)) + 1n;
    const id = await ex.admin.positionId(trader.address, ALT_ID);
    const view = await ex.lens.position(id);
    expect(opened.positionId).to.equal(id);
    expect(opened.liquidationPrice).to.equal(view.liquidationPrice);
    expect(opened.liquidationPrice).to.equal(liq);
    expect((liq * BPS) / fill).to.be.within(10_900n, 11_000n); // between +9% and +10% above entry
    expect(shows(openLines, "LIQUIDATION PRICE", format.price(liq))).to.equal(true);

    const { result: panel, lines: panelLines } = await run<PositionPanel>("position", { account: TRADER, market: ALT });
    const now = await ex.lens.position(id);
    expect(panel.open).to.equal(true);
    expect(panel.size).to.equal(size);
    expect(panel.entryPrice).to.equal(fill);
    expect(panel.margin).to.equal(margin);
    expect(panel.liquidationPrice).to.equal(now.liquidationPrice);
    expect(panel.liquidationPrice).to.equal(liq);
    expect(panel.markPrice).to.equal(now.markPrice);
    expect(panel.unrealizedPnl).to.equal(floorDiv(size * (panel.markPrice - fill), WAD));
    expect(panel.equity).to.equal(margin + panel.unrealizedPnl - panel.pendingFunding);
    expect(panel.liquidationDistance).to.equal(((liq - panel.markPrice) * WAD) / panel.markPrice);
    expect(panel.secondsToFunding).to.be.within(1n, FUNDING_INTERVAL - 60n);
    expect(shows(panelLines, "LIQUIDATION PRICE", format.price(liq))).to.equal(true);

    const moved = await task<PriceResult>("price", { market: ALT, price: "2.1" });
    expect(moved.feeds).to.equal(2);
    expect(moved.indexPrice).to.equal(wad("2.1")); // median of 2.1, 2.1 and the spot TWAP at 2

    // Closing buys back |size| (d = -size): fill = index * (1 + (2K + d) / 2S) with K = size, rounded
    // up; maker fee, since the order shrinks |K|; realised PnL = size * (fill - entry), rounded down.
    const closeFill = divUp(wad("2.1") * (2n * S + 2n * size - size), 2n * S);
    const closeFee = divUp(divUp(absSize * closeFill, WAD) * cfg.makerFee, WAD);
    const realized = floorDiv(size * (closeFill - fill), WAD);
    const closed = await task<CloseResult>("close", { account: TRADER, market: ALT });
    expect(closed.fillPrice).to.equal(closeFill);
    expect(closed.fee).to.equal(closeFee);
    expect(closed.fundingPaid).to.equal(0n);
    expect(closed.realizedPnl).to.equal(realized);
    expect(closed.returned).to.equal(margin + realized - closeFee);
    expect(closed.freeBalance).to.equal(wad(1_000) - openFee + realized - closeFee);
    expect((await ex.admin.position(id)).size).to.equal(0n);

    const withdrawn = await task<BalanceResult>("withdraw", { account: TRADER, amount: "all" });
    expect(withdrawn.amount6).to.equal(closed.freeBalance / 10n ** 12n);
    expect(withdrawn.freeBalance).to.equal(closed.freeBalance % 10n ** 12n);
    expect(withdrawn.walletBalance6).to.equal(usd6(9_000) + withdrawn.amount6);
    expect(await ex.vault.totalOwed()).to.equal((await ex.collateral.balanceOf(ex.vault)) * 10n ** 12n);
  });

  it("shows no position for an account that has none, with the market's prices and funding", async () => {
    await use(funded);
    const panel = await task<PositionPanel>("position", { account: TRADER, market: "alt-usd" });
    expect(panel.open).to.equal(false);
    expect(panel.size).to.equal(0n);
    expect(panel.indexPrice).to.equal(wad(2));
  });

  it("adds and removes margin, moving the short's liquidation price up and back", async () => {
    const { ex, open } = await use(shortOpen);
    const added = await task<MarginResult>("margin", { account: TRADER, market: ALT, add: "50" });
    expect(added.margin).to.equal(wad(150));
    expect(added.freeBalance).to.equal(wad(900) - open.fee - wad(50));
    expect(added.liquidationPrice).to.equal((await ex.lens.position(open.positionId)).liquidationPrice);
    expect(added.liquidationPrice).to.be.gt(open.liquidationPrice);

    const removed = await task<MarginResult>("margin", { account: TRADER, market: ALT, remove: "50" });
    expect(removed.margin).to.equal(wad(100));
    expect(removed.liquidationPrice).to.equal(open.liquidationPrice);
  });

  it("refuses to liquidate a healthy short, then liquidates it by hand once the mark passes its liquidation price", async () => {
    const { ex, keeper, open } = await use(shortOpen);
    const idHex = "0x" + open.positionId.toString(16).padStart(64, "0");
    expect(await refusal(task("liquidate", { account: KEEPER, id: idHex }))).to.match(
      /--id 0x[0-9a-f]{64}: the ALT-USD position is healthy at mark/,
    );

    // Just past the liquidation price (about 2.189): the mark follows the index to about 2.192, where
    // the equity (about 3.96 USD) is above the keeper's fee (0.25% of about 1,096 USD).
    await task("price", { market: ALT, price: "2.192" });
    const insuranceBefore = await ex.vault.insuranceFund();
    const keeperBefore = await ex.vault.freeBalance(keeper.address);
    const liquidated = await task<LiquidateResult>("liquidate", { account: KEEPER, id: idHex });

    // Of the equity at mark, the keeper earns min(equity, max(rate * notional, minimum fee)); the rest
    // goes to the insurance fund.
    const cfg = await ex.admin.marketConfig(ALT_ID);
    const mark = liquidated.markPrice;
    expect(mark).to.be.gte(open.liquidationPrice);
    const equity = open.margin + floorDiv(open.size * (mark - open.entryPrice), WAD);
    const notional = (-open.size * mark) / WAD;
    const fee = (notional * cfg.liquidationFeeRate) / WAD; // a credit to the caller: rounded down
    const reward = [equity, fee > cfg.minLiquidationFee ? fee : cfg.minLiquidationFee].reduce((a, b) =>
      a < b ? a : b,
    );
    expect(equity).to.be.gt(0n);
    expect(liquidated.full).to.equal(true);
    expect(liquidated.closedSize).to.equal(open.size);
    expect(liquidated.equity).to.equal(equity);
    expect(liquidated.reward).to.equal(reward);
    expect(liquidated.badDebt).to.equal(0n);
    expect(await ex.vault.freeBalance(keeper.address)).to.equal(keeperBefore + reward);
    expect(await ex.vault.insuranceFund()).to.equal(insuranceBefore + equity - reward);

    const report = await task<InsuranceReport>("insurance");
    expect(report.insuranceFund).to.equal(insuranceBefore + equity - reward);
    expect(report.uncoveredBadDebt.map((d) => d.amount)).to.deep.equal([0n, 0n]);
  });

  it("advances a local chain past a funding boundary and settles it once", async () => {
    const { ex } = await use(shortOpen);
    const advanced = await task<AdvanceTimeResult>("advance-time", { hours: "8" });
    expect(advanced.seconds).to.equal(FUNDING_INTERVAL);
    expect(advanced.staleFeeds.map((s) => s.market)).to.deep.equal(["ALT-USD", "ALT-USD", "BTC-USD", "BTC-USD"]);

    const settled = await task<SettleFundingResult>("settle-funding", { market: ALT });
    expect(settled.intervals).to.equal(1n);
    expect(settled.fundingIndex).to.equal((await ex.admin.marketState(ALT_ID)).fundingIndex);
    const again = await task<SettleFundingResult>("settle-funding", { market: ALT });
    expect(again.intervals).to.equal(0n);
  });

  it("moves the ALT spot pool up with --buy and down with --sell by the constant-product formula", async () => {
    const { ex, deployer } = await use(funded);
    const alt = ex.markets.get(ALT)!;
    const [coinReserve, usdReserve] = [await alt.spotPool.reserveCoin(), await alt.spotPool.reserveUsd()];
    // out = reserveOut * in * (1 - 0.3%) / (reserveIn + in * (1 - 0.3%)), in token units
    const usdIn = usd6(5_000);
    const coinOut = (coinReserve * usdIn * (BPS - SPOT_FEE_BPS)) / (usdReserve * BPS + usdIn * (BPS - SPOT_FEE_BPS));
    const bought = await task<SpotSwapResult>("spot-swap", { account: TRADER, market: ALT, buy: true, usd: "5000" });
    expect(bought.amountIn).to.equal(usdIn);
    expect(bought.amountOut).to.equal(coinOut);
    expect(bought.spotAfter).to.equal(((usdReserve + usdIn) * 10n ** 12n * WAD) / (coinReserve - coinOut));
    expect(bought.spotAfter).to.be.gt(bought.spotBefore);

    expect(await refusal(task("spot-swap", { account: KEEPER, market: ALT, sell: true, usd: "1000" }))).to.match(
      /--usd 1000: selling needs .* ALT, account 2 .* holds 0\.000000; buy some first \(--buy\), or as the deployer add --mint/,
    );
    expect(
      await refusal(task("spot-swap", { account: KEEPER, market: ALT, sell: true, usd: "1000", mint: true })),
    ).to.match(/--mint: account 2 .* lacks MINTER_ROLE on ALT/);
    const sold = await task<SpotSwapResult>("spot-swap", { market: ALT, sell: true, usd: "20000", mint: true });
    expect(sold.amountIn).to.equal((usd6(20_000) * 10n ** 12n * WAD) / bought.spotAfter);
    expect(sold.minted).to.equal(sold.amountIn); // the deployer put all the ALT it minted into the pool
    expect(await alt.coin.balanceOf(deployer.address)).to.equal(0n);
    expect(sold.spotAfter).to.be.lt(bought.spotBefore);
  });

  it("lists every market with index, mark, last, spot, open interest and funding, the inverse ones in USD", async () => {
    const { open } = await use(shortOpen);
    const { result: rows, lines } = await run<MarketRow[]>("markets");
    expect(rows.map((r) => r.symbol)).to.deep.equal(["ALT-USD", "BTC-USD", "BTCUSD-INV", "ALTUSD-INV"]);
    const [alt, btc, btcInv, altInv] = rows;
    expect(btcInv.coin).to.equal("BTC");
    // 1/(1/P), each rounded down; 1/P of 30,000 in WAD has 14 digits: the USD index to about 1e-14.
    expect(btcInv.indexPrice).to.be.closeTo(wad(30_000), wad(30_000) / 10n ** 12n);
    expect(btcInv.spotPrice).to.equal(btc.spotPrice); // the underlying's spot pool
    expect(altInv.indexPrice).to.be.closeTo(wad(2), wad(2) / 10n ** 12n);
    expect(alt.indexPrice).to.equal(wad(2));
    expect(alt.spotPrice).to.equal(wad(2));
    expect(alt.shortOpenInterest).to.equal(-open.size);
    expect(alt.skew).to.equal(open.size);
    expect(btc.indexPrice).to.equal(wad(30_000));
    expect(btc.skew).to.equal(0n);
    expect(lines[0]).to.match(/ALT-USD\s+BTC-USD\s+BTCUSD-INV \(USD face\)\s+ALTUSD-INV \(USD face\)/);
  });

  describe("outputs stay true at the extremes", () => {
    it("shows no liquidation price for a 0.5x long whose margin covers a fall to 0, not +0.00% beside 0", async () => {
      await use(funded);
      const open = await run<OpenResult>("open", {
        account: TRADER,
        market: "BTC-USD",
        side: "long",
        margin: "100",
        leverage: "0.5",
      });
      expect(open.result.liquidationPrice).to.equal(0n);
      expect(shows(open.lines, "LIQUIDATION PRICE", "none (the margin covers a fall to 0)")).to.equal(true);
      const panel = await run<PositionPanel>("position", { account: TRADER, market: "BTC-USD" });
      expect(shows(panel.lines, "LIQUIDATION PRICE", "none (the margin covers a fall to 0)")).to.equal(true);
    });

    it("shows a 100-fold fall of the spot price as -99%, the largest one swap may make", async () => {
      const { ex } = await use(deployed);
      const alt = ex.markets.get(ALT)!;
      const [coin, usd] = [await alt.spotPool.reserveCoin(), await alt.spotPool.reserveUsd()];
      // Selling 9 times the pool's coin reserve leaves (r / 10r)^2 = 1/100 of the price, less the fee's share.
      const usdValue = (9n * coin * ((usd * 10n ** 12n * WAD) / coin)) / WAD / 10n ** 12n;
      const swap = await run<SpotSwapResult>("spot-swap", {
        market: ALT,
        sell: true,
        mint: true,
        usd: format.amount(usdValue, 0, 6).replace(/,/g, ""),
      });
      expect(swap.result.spotAfter * 100n).to.be.closeTo(swap.result.spotBefore, swap.result.spotBefore / 100n);
      const move = format.change(swap.result.spotAfter, swap.result.spotBefore);
      expect(move).to.match(/^-99\.\d\d%$/);
      expect(
        shows(
          swap.lines,
          "spot price",
          `${format.price(swap.result.spotBefore)} -> ${format.price(swap.result.spotAfter)} (${move})`,
        ),
      ).to.equal(true);
    });

    it("prints a sub-micro price with four significant digits, and a change that rounds to 0.00% as <0.01%", () => {
      expect(format.price(4n * 10n ** 9n)).to.equal("0.000000004000");
      expect(format.price(123_456n)).to.equal("0.0000000000001235");
      expect(format.change(wad(2) + 1n, wad(2))).to.equal("+<0.01%");
      expect(format.change(wad(2) - 1n, wad(2))).to.equal("-<0.01%");
      expect(format.change(0n, wad(2))).to.equal("-100.00%");
      expect(format.liquidationPrice(0n, -1n, wad(2))).to.equal("any price (the margin is gone at every mark)");
    });
  });

  describe("bad arguments stop the task with a message naming the argument and what is allowed", () => {
    it("rejects an unknown market, listing the deployment's markets", async () => {
      await use(funded);
      expect(
        await refusal(
          task("open", { account: TRADER, market: "DOGE-USD", side: "short", margin: "100", leverage: "10" }),
        ),
      ).to.equal("--market DOGE-USD: unknown market; markets: ALT-USD, BTC-USD, BTCUSD-INV, ALTUSD-INV");
    });

    it("rejects a side other than long or short", async () => {
      await use(funded);
      expect(
        await refusal(task("open", { account: TRADER, market: ALT, side: "sideways", margin: "100", leverage: "10" })),
      ).to.equal("--side sideways: expected long or short");
    });

    it("rejects a negative amount and changes nothing", async () => {
      const { ex, trader } = await use(funded);
      expect(await refusal(task("deposit", { account: TRADER, amount: "-5" }))).to.equal(
        "--amount -5: must not be negative (a positive decimal number of USD, e.g. --amount 100)",
      );
      expect(await ex.vault.freeBalance(trader.address)).to.equal(wad(1_000));
    });

    it("rejects leverage 0", async () => {
      await use(funded);
      expect(
        await refusal(task("open", { account: TRADER, market: ALT, side: "long", margin: "100", leverage: "0" })),
      ).to.equal("--leverage 0: must be greater than 0 (a positive decimal number, e.g. --leverage 10)");
    });

    it("rejects a deployment file that does not exist", async () => {
      await use(funded);
      const missing = path.join(tmp, "missing.json");
      expect(await refusal(task("markets", { deployment: missing }))).to.contain(
        `--deployment ${missing}: no such file`,
      );
    });

    it("rejects an account index the network does not have", async () => {
      await use(funded);
      expect(await refusal(task("markets", { account: "99" }))).to.contain(
        `--account 99: network "hardhat" has 20 local accounts (0-19)`,
      );
    });

    it("rejects more decimal places than the collateral has", async () => {
      await use(funded);
      expect(await refusal(task("withdraw", { account: TRADER, amount: "1.0000001" }))).to.contain(
        "--amount 1.0000001: at most 6 decimal places",
      );
    });

    it("rejects withdrawing more than the free balance", async () => {
      await use(funded);
      expect(await refusal(task("withdraw", { account: TRADER, amount: "1000.01" }))).to.match(
        /--amount 1000.01: the free balance of account 1 \(0x[0-9a-fA-F]{40}\) is 1,000.00 USD/,
      );
    });

    it("rejects a margin change without exactly one of --add and --remove", async () => {
      await use(shortOpen);
      expect(await refusal(task("margin", { account: TRADER, market: ALT }))).to.contain(
        "--add or --remove is required: exactly one, in USD",
      );
    });

    it("refuses leverage above the market's highest tier before quoting, naming the tier's maximum", async () => {
      await use(funded);
      expect(
        await refusal(task("open", { account: TRADER, market: ALT, side: "short", margin: "10", leverage: "60" })),
      ).to.equal("--leverage 60: ALT-USD allows at most 50.00x");
    });

    it("explains an engine refusal in human units: leverage above the maximum of the tier the notional falls in", async () => {
      await use(funded);
      await task("deposit", { account: TRADER, amount: "2000" });
      // 2,500 USD at 30x is 75,000 USD of notional: the second tier (above 50,000), which allows 25x.
      expect(
        await refusal(task("open", { account: TRADER, market: ALT, side: "short", margin: "2500", leverage: "30" })),
      ).to.match(
        /open ALT-USD reverted: leverage 3\d\.\d\dx is above the 25\.00x allowed at this notional \[LeverageTooHigh\]/,
      );
    });

    it("refuses to push prices from an account without the oracle role", async () => {
      await use(funded);
      expect(await refusal(task("price", { account: TRADER, market: ALT, price: "3" }))).to.match(
        /account 1 \(0x[0-9a-fA-F]{40}\) lacks ORACLE_ROLE on the ALT-USD feed/,
      );
    });
  });
});
