/**
 * SPEC 9.1: the pool valued at mark. The pool is the traders' counterparty, so its ERC-4626 price is
 *   value = ledger - traders' net unrealised PnL + net funding the traders owe, unpaid
 * with both terms the exact sums over every open position, each rounded once (PnL up, funding down).
 * The two attacks of a realised-only price, and why each fails here:
 *  - traders are unrealised winners; an LP redeems before they close (JELLY): the redeem price already
 *    carries their profit, so the LP leaves with what a share is worth after the close, to the rounding;
 *  - traders are unrealised losers; a depositor enters just before the liquidations realise the loss:
 *    the deposit price already carries the loss, so the depositor leaves with its deposit, to the rounding.
 * Both tests run on an index-marked market with zero fees and a long that closes at fill = index (the
 * short half its size keeps the close's mean skew at zero), so nothing but the valuation separates the
 * two prices. On the old realised-only price (totalAssets = ledger) (a) hands the redeemer its share of
 * the traders' net profit, 1/6 x 18,000 USD, and (b) hands the depositor 1/6 x 9,500 USD of the
 * realised loss: both far above the two-unit bounds asserted here.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { usd6, wad, WAD } from "../../lib/units";
import type { Exchange } from "../../lib/contracts";
import { ceilDiv, close, deployRiskSystem, eventsOf, floorDiv, open, setIndex } from "../unit/riskFixture";
import { exchangeFixture, FEED_HEARTBEAT } from "../helpers/fixtures";

const USD6_SCALE = 10n ** 12n;
/** The LP attacker's deposit next to the deployer's 5,000,000: one sixth of the pool. */
const ATTACKER_DEPOSIT_USD = 1_000_000n;
/** Asset units (1e-6 USD) an attacker may gain from the shares' rounding: one on the way in, one out. */
const ROUNDING_UNITS = 2n;

async function zeroFeeMarket() {
  return deployRiskSystem({
    market: { takerFee: "0", makerFee: "0", partialLiquidationBuffer: "0" },
  });
}

async function lpDeposit(ex: Exchange, lp: HardhatEthersSigner, usd: bigint): Promise<bigint> {
  await (await ex.collateral.faucet(lp.address, usd6(usd))).wait();
  await (await ex.collateral.connect(lp).approve(ex.pool, usd6(usd))).wait();
  const before = await ex.pool.balanceOf(lp.address);
  await (await ex.pool.connect(lp).deposit(usd6(usd), lp.address)).wait();
  return (await ex.pool.balanceOf(lp.address)) - before;
}

async function lpRedeemAll(ex: Exchange, lp: HardhatEthersSigner, shares: bigint): Promise<bigint> {
  const before = await ex.collateral.balanceOf(lp.address);
  await (await ex.pool.connect(lp).redeem(shares, lp.address, lp.address)).wait();
  return (await ex.collateral.balanceOf(lp.address)) - before;
}

/**
 * The SPEC 8 invariant recomputed from every open position: the ledger minus the exact sum of
 * size * (mark - entry), rounded up, plus the exact sum of size * (fundingIndex - snapshot), rounded down.
 */
async function recomputedValue(ex: Exchange, ids: bigint[]): Promise<bigint> {
  const views = await ex.lens.positions(ids);
  let pnlExact = 0n;
  let fundingExact = 0n;
  for (const v of views) {
    if (v.size === 0n) continue;
    const p = await ex.admin.position(v.id);
    const { fundingIndex } = await ex.lens.market(v.marketId);
    pnlExact += v.size * (v.markPrice - v.entryPrice);
    fundingExact += v.size * (fundingIndex - p.fundingSnapshot);
  }
  return (await ex.vault.poolAssets()) - ceilDiv(pnlExact, WAD) + floorDiv(fundingExact, WAD);
}

describe("the pool valued at mark (SPEC 9.1)", () => {
  it("values the pool at the ledger minus every position's unrealised PnL plus the funding each owes, to the unit", async () => {
    const s = await loadFixture(deployRiskSystem);
    const ids: bigint[] = [];
    // Odd sizes and prices, so every product leaves a remainder the aggregates must keep.
    ids.push((await open(s, s.traders[0], wad("12345.678901234567891"), wad(5_000))).id);
    ids.push((await open(s, s.traders[1], -wad("7777.777777777777777"), wad(3_000))).id);
    await setIndex(s, wad("2.123456789012345679"));
    ids.push((await open(s, s.traders[2], wad("333.333333333333333"), wad(100))).id);
    ids.push((await open(s, s.traders[3], -wad("98765.4321"), wad(40_000))).id);
    await open(s, s.traders[0], wad("1.000000000000000001"), wad(10)); // an increase re-averages the entry
    await time.increase(9 * 3600); // a funding boundary passes: every position owes funding
    await setIndex(s, wad("2.2"));
    await (await s.ex.engine.connect(s.traders[1]).addMargin(s.marketId, wad(7))).wait(); // realises one's funding
    await (
      await s.ex.engine.connect(s.traders[3]).decreasePosition(s.marketId, wad("11111.1"), ethers.MaxUint256)
    ).wait();
    await time.increase(9 * 3600); // another boundary, not yet settled: the valuation projects it

    const v = await s.ex.pool.valuation();
    expect(v.fundingOwed).to.not.equal(0n);
    expect(v.value).to.equal(await recomputedValue(s.ex, ids));
    expect(v.value).to.equal(v.ledger - v.traderPnl + v.fundingOwed);
    expect(await s.ex.pool.totalAssets()).to.equal(v.value / USD6_SCALE);
  });

  it("(a) an LP who redeems while traders are unrealised winners gains nothing over staying, to the rounding", async () => {
    const s = await loadFixture(zeroFeeMarket);
    const attacker = s.traders[5];
    const shares = await lpDeposit(s.ex, attacker, ATTACKER_DEPOSIT_USD);
    const size = wad(100_000);
    await open(s, s.traders[0], 2n * size, wad(50_000)); // long 200,000 ALT
    await open(s, s.traders[1], -size, wad(50_000)); // short 100,000 ALT
    // Fills 2.04 (long) and 2.06 (short). At +10% the long gains 32,000, the short loses 14,000: net +18,000.
    await setIndex(s, wad("2.2"));
    const v = await s.ex.pool.valuation();
    expect(v.traderPnl).to.equal(18_000n * WAD);

    const redeemed = await lpRedeemAll(s.ex, attacker, shares);
    const receipt = await close(s, s.traders[0]); // realises the long's profit at fill = index (mean skew 0)
    const [trade] = eventsOf(receipt, s.ex, "Trade");
    expect(trade.args.fillPrice).to.equal(wad("2.2"));
    const stayed = await s.ex.pool.convertToAssets(shares); // what the same shares are worth after the close
    expect(redeemed - stayed).to.be.lte(ROUNDING_UNITS);
    expect(stayed - redeemed).to.be.lte(ROUNDING_UNITS);
  });

  it("(b) a depositor who enters just before losing traders are liquidated gains nothing, to the rounding", async () => {
    const s = await loadFixture(zeroFeeMarket);
    const loser = await open(s, s.traders[0], wad(50_000), wad(10_000)); // ~10x long, filled at 2.01
    await setIndex(s, wad("1.82")); // PnL -9,500: equity 500 USD, below maintenance (910 - 250 = 660)
    expect((await s.ex.lens.position(loser.id)).liquidatable).to.equal(true);

    const depositor = s.traders[5];
    const shares = await lpDeposit(s.ex, depositor, ATTACKER_DEPOSIT_USD);
    const ledgerBefore = await s.ex.vault.poolAssets();
    await (await s.ex.engine.connect(s.keeper).liquidate(loser.id)).wait();
    expect((await s.ex.vault.poolAssets()) - ledgerBefore).to.equal(9_500n * WAD); // the loss, realised
    const back = await lpRedeemAll(s.ex, depositor, shares);
    expect(back).to.be.lte(usd6(ATTACKER_DEPOSIT_USD));
    expect(usd6(ATTACKER_DEPOSIT_USD) - back).to.be.lte(ROUNDING_UNITS);
  });

  it("pays a closing profit pro rata, and opens ADL, while traders' profit is above maxPnlFactor x the ledger", async () => {
    const s = await deployRiskSystem({ market: { takerFee: "0", makerFee: "0", maxPnlFactor: "0.001" } });
    await open(s, s.traders[0], wad(100_000), wad(50_000));
    await setIndex(s, wad("2.2")); // traders' PnL ~20,000 > cap = 0.001 x 5,000,000 = 5,000
    const ledger = await s.ex.vault.poolAssets();
    const cap = (ledger * wad("0.001")) / WAD;
    const v = await s.ex.pool.valuation();
    expect(v.traderPnl).to.equal(cap); // the pool counts at most the cap
    const pnlAtMark = (await s.ex.lens.market(s.marketId)).traderPnl;

    const receipt = await close(s, s.traders[0]);
    const [capped] = eventsOf(receipt, s.ex, "ProfitCapped");
    const realized: bigint = capped.args.realizedPnl;
    expect(capped.args.paid).to.equal((realized * cap) / pnlAtMark);
    expect(ledger - (await s.ex.vault.poolAssets())).to.equal(capped.args.paid);
  });

  it("refuses deposits and redemptions while a market's oracle is stale, with the market's id", async () => {
    const { ex, deployer, alt } = await loadFixture(exchangeFixture);
    // ALT's index from its two pushed feeds only (the spot TWAP never goes stale), then past their heartbeat.
    const feeds = alt.pushedFeeds.map((feed) => feed.getAddress());
    await (await ex.oracle.setSources(alt.marketId, await Promise.all(feeds), [FEED_HEARTBEAT, FEED_HEARTBEAT])).wait();
    await time.increase(FEED_HEARTBEAT + 1n);
    await (await ex.collateral.faucet(deployer.address, usd6(100))).wait();
    await (await ex.collateral.approve(ex.pool, usd6(100))).wait();
    await expect(ex.pool.deposit(usd6(100), deployer.address))
      .to.be.revertedWithCustomError(ex.pool, "StaleMarket")
      .withArgs(1n);
    await expect(ex.pool.redeem(1n, deployer.address, deployer.address))
      .to.be.revertedWithCustomError(ex.pool, "StaleMarket")
      .withArgs(1n);
    expect(await ex.pool.totalAssets()).to.equal((await ex.vault.poolAssets()) / USD6_SCALE); // still a view
  });
});
