import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { deploySystem, tiersOf } from "../../lib/deploy";
import {
  engineAcceptablePrice,
  engineSize,
  reciprocal,
  traderSide,
  usdLiquidationPrice,
} from "../../lib/coin-margined";
import { InverseMath } from "../../lib/inverse";
import { BTC_USD, BTCUSD_INV } from "../../lib/markets";
import { MAX_UINT256, type Tier } from "../../lib/math";
import { toFeedAnswer, wad, WAD } from "../../lib/units";

const FACE = wad(BTCUSD_INV.faceUsd);
const TIERS: Tier[] = tiersOf(BTCUSD_INV);

async function fixture() {
  const [deployer, trader, keeper] = await ethers.getSigners();
  const ex = await deploySystem(deployer);
  const btc = ex.coinMargined.get("BTC")!;
  const coin = await ethers.getContractAt("CoinToken", await btc.collateral.getAddress());
  await (await coin.faucet(trader.address, wad(2))).wait();
  await (await coin.connect(trader).approve(btc.vault, wad(2))).wait();
  await (await btc.vault.connect(trader).deposit(wad(2))).wait();
  return { ex, btc, trader, keeper, market: btc.markets.get("BTCUSD-INV")!, usdMarket: ex.markets.get("BTC-USD")! };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

/** Opens a trader's short of `contracts` BTCUSD-INV contracts with `margin` BTC; returns its position id. */
async function openShort(f: Fixture, contracts: bigint, margin: bigint): Promise<bigint> {
  const size = engineSize(contracts, FACE, false);
  await (
    await f.btc.engine
      .connect(f.trader)
      .increasePosition(f.market.marketId, size, margin, engineAcceptablePrice(0n, false))
  ).wait();
  return f.btc.admin.positionId(f.trader.address, f.market.marketId);
}

/** Moves BTC's USD index: both pushed feeds (two of the three sources, so the median) to `usd`. */
async function setBtcPrice(f: Fixture, usd: bigint): Promise<void> {
  for (const feed of f.usdMarket.pushedFeeds) await (await feed.setPrice(toFeedAnswer(usd))).wait();
}

describe("coin-margined markets: BTCUSD-INV on the BTC engine (SPEC 9.2)", () => {
  it("reads BTC's USD index inverted, and deploys the BTC exchange with its pool and insurance in BTC", async () => {
    const f = await loadFixture(fixture);
    const [usdIndex] = await f.ex.oracle.indexPrice(f.usdMarket.marketId);
    const view = await f.btc.lens.market(f.market.marketId);
    expect(view.indexPrice).to.equal(reciprocal(usdIndex));
    expect(await f.btc.vault.collateral()).to.equal(f.usdMarket.coin.target);
    expect(await f.btc.pool.totalAssets()).to.equal(wad(100));
    expect(await f.btc.vault.insuranceFund()).to.equal(wad(3));
  });

  it("opens a 10x short in BTC, whose liquidation price is SPEC 9.2's, and the keeper's liquidation pays in BTC", async () => {
    const f = await loadFixture(fixture);
    // 0.1 BTC at 10x: 1 BTC of notional, 300 contracts of 100 USD at 30,000 USD.
    const id = await openShort(f, 300n, wad("0.1"));
    const p = await f.btc.lens.position(id);
    const { isLong, face } = traderSide(p.size);
    expect(isLong).to.equal(false);
    expect(face).to.equal(wad(30_000));
    expect(p.leverage).to.be.closeTo(wad(10), wad("0.05"));

    // The same position in SPEC 9.2's own terms: a short of cost Q/entry in BTC.
    const usdEntry = reciprocal(p.entryPrice);
    const cost = (face * p.entryPrice) / WAD;
    const specLiq = InverseMath.liquidationPrice(TIERS, -face, cost, p.margin - p.pendingFunding);
    const liq = usdLiquidationPrice(p.liquidationPrice, false)!;
    expect(liq).to.be.closeTo(specLiq, specLiq / 10n ** 9n);
    // A 10x coin-margined short is liquidated about 10.7% above entry, where a USD-margined one is at 9.6%:
    // P_liq = entry * (1 - mmr) / (1 - M*entry/Q), its loss in coin growing as Q/entry - Q/P, slower than P.
    expect((liq * 10_000n) / usdEntry).to.be.within(11_000n, 11_100n);

    await setBtcPrice(f, (liq * 1_001n) / 1_000n);
    expect((await f.btc.lens.position(id)).liquidatable).to.equal(true);
    const coin = await ethers.getContractAt("CoinToken", await f.btc.collateral.getAddress());
    const before = await f.btc.vault.freeBalance(f.keeper.address);
    await (await f.btc.engine.connect(f.keeper).liquidate(id)).wait();
    expect((await f.btc.admin.position(id)).size).to.equal(0n);
    expect(await f.btc.vault.freeBalance(f.keeper.address)).to.be.gt(before);
    // Conservation in the coin: the vault's BTC equals its ledgers.
    const held = await coin.balanceOf(f.btc.vault);
    expect(held).to.equal(await f.btc.vault.totalOwed());
  });

  it("charges funding's interest to the traders' longs, as a linear market does (the engine's shorts: I < 0)", async () => {
    const f = await loadFixture(fixture);
    // A trader's long of 300 contracts (30,000 USD, 1 BTC) is the engine's short; its skew premium (-1e-5)
    // is inside the clamp band, so the boundary's rate is the interest rate alone.
    const size = engineSize(300n, FACE, true);
    await (
      await f.btc.engine
        .connect(f.trader)
        .increasePosition(f.market.marketId, size, wad("0.2"), engineAcceptablePrice(0n, true))
    ).wait();
    const id = await f.btc.admin.positionId(f.trader.address, f.market.marketId);
    await time.increase(Number(BTCUSD_INV.fundingIntervalSeconds));
    await setBtcPrice(f, wad(BTC_USD.initialPrice));
    await (await f.btc.engine.settleFunding(f.market.marketId)).wait();

    const st = await f.btc.admin.marketState(f.market.marketId);
    expect(st.lastFundingRate).to.equal(wad(BTCUSD_INV.fundingInterestRate));
    expect(st.lastFundingRate).to.be.lessThan(0n);
    // The long pays 0.01% of its 1 BTC of notional.
    const p = await f.btc.lens.position(id);
    expect(p.pendingFunding).to.be.closeTo(wad("0.0001"), wad("0.000001"));
  });

  it("shows no liquidation price for a 1x short, which survives a 10x pump", async () => {
    const f = await loadFixture(fixture);
    // 3,000 USD of face, 30 contracts, at 1x: margin of at least the face's worth in BTC at the fill. 0.1 BTC
    // is its worth at the index, but the fill is the skew premium (5e-7) above it in 1/P: with 0.1 BTC the
    // short would be 1.0000005x, liquidated at about 60 billion USD. (The fee is paid beside the margin.)
    const id = await openShort(f, 30n, wad("0.1001"));
    const p = await f.btc.lens.position(id);
    expect(usdLiquidationPrice(p.liquidationPrice, false)).to.be.a("undefined");
    const cost = (30n * FACE * p.entryPrice) / WAD;
    expect(InverseMath.liquidationPrice(TIERS, -30n * FACE, cost, p.margin - p.pendingFunding)).to.equal(MAX_UINT256);

    await setBtcPrice(f, wad(300_000));
    const after = await f.btc.lens.position(id);
    expect(after.liquidatable).to.equal(false);
    // Its equity in BTC is the 3,000 USD it holds at the new price (0.01 BTC), less fees: a synthetic dollar.
    expect(after.equity).to.be.closeTo(wad("0.01"), wad("0.0002"));
  });
});
