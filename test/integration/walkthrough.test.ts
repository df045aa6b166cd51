/**
 * `npm run walkthrough`, run in-process: every number it narrates is checked against the SPEC formulas
 * written out here, and the account's history adds up to its free balance.
 */
import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { connectExchange } from "../../lib/contracts";
import { ALT_USD } from "../../lib/markets";
import { DEFAULT_MIN_EXECUTION_FEE_USD } from "../../lib/deploy";
import { USD6_TO_WAD, wad, WAD } from "../../lib/units";
import { DecimalFloat } from "../../lib/math";
import { setOutput } from "../../tasks/common";
import { runWalkthrough, type WalkthroughRecord } from "../../tasks/walkthrough";

const SKEW_SCALE = wad(ALT_USD.skewScale);
const TAKER_FEE = wad(ALT_USD.takerFee);
const MAKER_FEE = wad(ALT_USD.makerFee);
const FIRST_TIER_MMR = wad(ALT_USD.tiers[0].mmr);
const EXEC_FEE = wad(DEFAULT_MIN_EXECUTION_FEE_USD);

const abs = (x: bigint) => (x < 0n ? -x : x);
const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
const ceilDiv = (a: bigint, b: bigint) => -floorDiv(-a, b);
const mulUp = (a: bigint, b: bigint) => ceilDiv(a * b, WAD);

/** P_fill = index * (1 + (2K + d) / 2S): a buy rounds up, a sell down. */
function fillPrice(index: bigint, skew: bigint, d: bigint): bigint {
  const num = index * (2n * SKEW_SCALE + 2n * skew + d);
  return d > 0n ? ceilDiv(num, 2n * SKEW_SCALE) : num / (2n * SKEW_SCALE);
}

/** fee = rate * |d| * fill, rounded up; taker when |K + d| > |K|. */
function tradeFee(skew: bigint, d: bigint, fill: bigint): bigint {
  return mulUp(mulUp(abs(d), fill), abs(skew + d) > abs(skew) ? TAKER_FEE : MAKER_FEE);
}

describe("walkthrough: the trader's eight steps, in-process", () => {
  let r: WalkthroughRecord;
  const printed: string[] = [];

  before(async () => {
    const restore = setOutput((line) => printed.push(line));
    try {
      r = await runWalkthrough(hre);
    } finally {
      restore();
    }
  });

  it("narrates all eight steps and the history", () => {
    for (let step = 1; step <= 8; step++)
      expect(printed.some((l) => l.startsWith(`STEP ${step}.`))).to.equal(true, `step ${step}`);
    expect(printed).to.include("The account's history, rebuilt from events:");
  });

  it("step 1: the crowd's shorts put the last price below the index by skew / skew scale", () => {
    const s = r.step1Direction;
    expect(s.skew).to.equal(-wad(7_500));
    expect(s.lastPrice).to.equal((s.indexPrice * (SKEW_SCALE + s.skew)) / SKEW_SCALE);
  });

  it("steps 2-4: a 10x short limit rests until a keeper fills it at or above the limit", () => {
    const s = r.step2Limit;
    // size = margin * leverage / limit: 100 * 10 / limit
    expect(r.step4Margin.sizeDelta).to.equal(-((wad(1_000) * WAD) / s.limitPrice));
    expect(r.step3Leverage.notionalAtLimit).to.equal(wad(1_000));
    expect(s.fillAtCreation).to.be.lt(s.limitPrice);
    expect(s.earlyCheck).to.equal("SlippageExceeded");
    const fill = fillPrice(s.rallyIndex, r.step1Direction.skew, r.step4Margin.sizeDelta);
    expect(s.fillPrice).to.equal(fill).and.to.be.gte(s.limitPrice);
    expect(s.tradingFee).to.equal(tradeFee(r.step1Direction.skew, r.step4Margin.sizeDelta, fill));
    expect(s.keeperEarned).to.equal(EXEC_FEE);
  });

  it("step 4: the same 10x short liquidates further away margined in ALT than in USD; a 1x ALT-margined short never", () => {
    const c = r.step4CoinMargined!;
    expect(c.notional).to.equal(wad(1_000));
    expect(c.coinMargined.contracts).to.equal(100n);
    const usdDistance = ((c.usdMargined.liquidationPrice - c.usdMargined.entryPrice) * WAD) / c.usdMargined.entryPrice;
    const coinDistance =
      ((c.coinMargined.liquidationPrice - c.coinMargined.entryPrice) * WAD) / c.coinMargined.entryPrice;
    // USD-margined: entry * (1 + 1/L) / (1 + mmr), about +9.5%; coin-margined: entry * (1 - mmr) / (1 - 1/L), about +10.6%.
    expect(usdDistance).to.be.gt(wad("0.09")).and.lt(wad("0.10"));
    expect(coinDistance).to.be.gt(wad("0.10")).and.lt(wad("0.11"));
    // 1x: the margin is the notional in ALT at the fill (1,000 USD / ~2 USD = ~500 ALT), and no price liquidates it.
    expect(c.oneX.margin).to.be.closeTo((wad(1_000) * WAD) / c.coinMargined.entryPrice, wad(2));
    expect(c.oneX.liquidationPrice).to.equal(undefined);
    expect(printed.some((l) => /ALTUSD-INV at 1x .*LIQUIDATION PRICE none$/.test(l))).to.equal(true);
  });

  it("step 5: the liquidation price is the short's SPEC formula, about 9% above the mark", () => {
    const p = r.step5Prices;
    // the fill, to the nine significant digits a position stores, rounded against the short (down)
    expect(p.entryPrice).to.equal(DecimalFloat.entry(r.step2Limit.fillPrice, false));
    // short: (entry * size + M + amt) / (size * (1 + mmr)), first tier (amt = 0), M = the 100 USD margin
    const size = -p.size;
    const num = ((p.entryPrice * size) / WAD + wad(100)) * WAD;
    const den = (size * (WAD + FIRST_TIER_MMR)) / WAD;
    const formula = num / den;
    expect(abs(p.liquidationPrice - formula)).to.be.lte(1n);
    expect(p.liquidationPrice).to.be.gt(p.markPrice);
    expect(p.liquidationDistance).to.be.gt(wad("0.09")).and.lt(wad("0.10"));
  });

  it("step 6: the crowded short pays funding of size * funding-index change, rounded up", () => {
    const f = r.step6Funding;
    expect(f.rate).to.be.lt(0n);
    const owed = -floorDiv(-(r.step5Prices.size * (f.fundingIndexAfter - f.snapshot)), WAD);
    expect(f.fundingOwed).to.equal(owed).and.to.be.gt(0n);
  });

  it("step 7: the take-profit sits below entry and the stop-loss between entry and liquidation", () => {
    const t = r.step7TpSl;
    expect(t.takeProfit.trigger).to.be.lt(r.step5Prices.entryPrice);
    expect(t.stopLoss.trigger).to.be.gt(r.step5Prices.entryPrice).and.lt(t.liquidationPrice);
  });

  it("step 8: the stop-loss fires through a keeper at or after its trigger, before liquidation", () => {
    const c = r.step8Close;
    expect(c.firstPush.check).to.equal("TriggerNotReached");
    expect(c.firstPush.markPrice).to.be.lt(c.stopLoss.trigger);
    expect(c.stopLoss.markPrice).to.be.gte(c.stopLoss.trigger).and.lt(c.stopLoss.liquidationPriceBefore);
    expect(c.stopLoss.sizeDelta).to.equal(-r.step5Prices.size);
    const skew = r.step1Direction.skew + r.step5Prices.size;
    const fill = fillPrice(c.secondPush.indexPrice, skew, c.stopLoss.sizeDelta);
    expect(c.stopLoss.fillPrice).to.equal(fill).and.to.be.lte(r.step7TpSl.stopLoss.acceptable);
    expect(c.stopLoss.tradingFee).to.equal(tradeFee(skew, c.stopLoss.sizeDelta, fill)); // maker: it shrinks |skew|
    expect(c.stopLoss.realizedPnl).to.equal(floorDiv(r.step5Prices.size * (fill - r.step5Prices.entryPrice), WAD));
    expect(c.stopLoss.fundingPaid).to.equal(r.step6Funding.fundingOwed);
    expect(c.stopLoss.keeperEarned).to.equal(EXEC_FEE);
    expect(c.takeProfitRefund).to.equal(EXEC_FEE);
  });

  it("ends with a free balance of deposit - losses - fees, and the history that explains it", async () => {
    const expected =
      r.deposit +
      r.step8Close.stopLoss.realizedPnl -
      r.step2Limit.tradingFee -
      r.step8Close.stopLoss.tradingFee -
      r.step6Funding.fundingOwed -
      r.step2Limit.executionFee -
      r.step7TpSl.executionFee;
    expect(r.totals.freeBalance).to.equal(expected);
    expect(r.totals.expectedFreeBalance).to.equal(expected);
    expect(r.history.map((h) => h.event)).to.deep.equal([
      "Deposited",
      "OrderCreated",
      "OrderExecuted",
      "Trade",
      "FundingSettled",
      "OrderCreated",
      "OrderCreated",
      "OrderExecuted",
      "Trade",
      "OrderCancelled",
    ]);
    const ex = connectExchange(r.deployment, ethers.provider);
    expect(await ex.vault.totalEscrow()).to.equal(0n);
    expect(await ex.vault.totalOwed()).to.equal((await ex.collateral.balanceOf(ex.vault)) * USD6_TO_WAD);
  });
});
