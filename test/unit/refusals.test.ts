/**
 * Bad input: every refusal reverts with its custom error, carrying the values a caller needs, and
 * changes nothing (balances, ledgers, positions, market state and config compared before and after).
 * Market: the deployed ALT-USD, index I = 2, skew scale S = 5,000,000, tier 1 up to 50,000 USD at 50x,
 * tier 2 up to 250,000 at 25x, minimum margin 10.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { marketConfig, tiersOf } from "../../lib/deploy";
import { ALT_USD } from "../../lib/markets";
import { toFeedAnswer, wad, WAD } from "../../lib/units";
import {
  anyPrice,
  closeAll,
  EMA_HALF_LIFE,
  exchangeFixture,
  type ExchangeFixture,
  FEED_HEARTBEAT,
  openByLeverage,
  openSize,
  pushIndex,
} from "../helpers/fixtures";
import { expectConservation, expectUnchanged, snapshotState } from "../helpers/conservation";

const I = wad(2);
const S = wad(5_000_000);
const MIN_MARGIN = wad(10);

const divUp = (a: bigint, b: bigint): bigint => (a === 0n ? 0n : (a - 1n) / b + 1n);
const floorDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a < 0n ? a / b - 1n : a / b);
const abs = (a: bigint): bigint => (a < 0n ? -a : a);
/** P_fill = I * (2S + 2K + d) / 2S: a buy rounds up, a sell down. */
const fill = (index: bigint, k: bigint, d: bigint): bigint =>
  d > 0n ? divUp(index * (2n * S + 2n * k + d), 2n * S) : (index * (2n * S + 2n * k + d)) / (2n * S);
/** Leverage as the initial-margin check computes it: notional at mark (up) / equity at mark, rounded up. */
function leverageAt(size: bigint, entry: bigint, margin: bigint, mark: bigint): bigint {
  const notional = divUp(abs(size) * mark, WAD);
  const equity = margin + floorDiv(size * (mark - entry), WAD);
  return divUp(notional * WAD, equity);
}

/** Runs `refusal` (which asserts the revert), checks that nothing the fixture can see changed and that money is conserved. */
async function refuses(f: ExchangeFixture, ids: bigint[], refusal: () => Promise<void>): Promise<void> {
  const before = await snapshotState(f.ex, f.accounts, ids);
  await refusal();
  expectUnchanged(before, await snapshotState(f.ex, f.accounts, ids));
  await expectConservation(f.ex, ids, f.accounts);
}

describe("refusals: orders", () => {
  it("refuses a zero size, opening or decreasing", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    const trader = ex.engine.connect(traders[0]);
    const { id } = await openSize(ex, traders[0], alt.marketId, wad(-1_000), wad(100));
    await refuses(f, [id], async () => {
      await expect(trader.increasePosition(alt.marketId, 0n, wad(100), 0n)).to.be.revertedWithCustomError(
        ex.engine,
        "ZeroSize",
      );
      await expect(trader.decreasePosition(alt.marketId, 0n, anyPrice(1n))).to.be.revertedWithCustomError(
        ex.engine,
        "ZeroSize",
      );
    });
    await expectConservation(ex, [id], f.accounts);
  });

  it("refuses an unknown market, and closing a position that does not exist", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    const trader = ex.engine.connect(traders[0]);
    await refuses(f, [], async () => {
      await expect(trader.increasePosition(99, wad(1), wad(100), ethers.MaxUint256))
        .to.be.revertedWithCustomError(ex.engine, "UnknownMarket")
        .withArgs(99);
      await expect(trader.closePosition(alt.marketId, 0n))
        .to.be.revertedWithCustomError(ex.engine, "NoPosition")
        .withArgs(traders[0].address, alt.marketId);
    });
  });

  it("refuses leverage above the tier's maximum, in tier 1 and in tier 2", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    const trader = ex.engine.connect(traders[0]);
    // A first trade on a flat market leaves the mark at the index: P1 = P2 = I (F = 0, the EMA sampled
    // K = 0), so median(I, I, last) = I.
    // Tier 1: sell 3,000 with 100 margin, notional 6,000 at mark: 60x against 50x.
    const d1 = wad(-3_000);
    const lev1 = leverageAt(d1, fill(I, 0n, d1), wad(100), I);
    expect(lev1).to.be.gt(wad(60)); // 6,000 / (100 - 3,000 * 0.0006)
    // Tier 2: sell 50,000 with 3,400 margin, notional 100,000: fill 1.99, equity 3,400 - 500, 34.5x against 25x.
    const d2 = wad(-50_000);
    const lev2 = leverageAt(d2, fill(I, 0n, d2), wad(3_400), I);
    expect(fill(I, 0n, d2)).to.equal(wad("1.99"));
    expect(lev2).to.equal(divUp(wad(100_000) * WAD, wad(2_900)));
    await refuses(f, [], async () => {
      await expect(trader.increasePosition(alt.marketId, d1, wad(100), 0n))
        .to.be.revertedWithCustomError(ex.engine, "LeverageTooHigh")
        .withArgs(lev1, wad(50));
      await expect(trader.increasePosition(alt.marketId, d2, wad(3_400), 0n))
        .to.be.revertedWithCustomError(ex.engine, "LeverageTooHigh")
        .withArgs(lev2, wad(25));
    });
  });

  it("refuses a margin below the market's minimum", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    await refuses(f, [], async () => {
      await expect(ex.engine.connect(traders[0]).increasePosition(alt.marketId, wad(-10), wad(5), 0n))
        .to.be.revertedWithCustomError(ex.engine, "MarginTooLow")
        .withArgs(wad(5), MIN_MARGIN);
    });
  });

  it("refuses a fill worse than the acceptable price by one wei, buying or selling, and accepts it exactly", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    const [buyer, seller] = traders.map((t) => ex.engine.connect(t));
    // Buy 1,000 at K = 0: 2 * (1 + 1,000 / 10,000,000) = 2.0002; sell 1,000: 1.9998.
    const buyFill = wad("2.0002");
    const sellFill = wad("1.9998");
    expect([fill(I, 0n, wad(1_000)), fill(I, 0n, wad(-1_000))]).to.deep.equal([buyFill, sellFill]);
    await refuses(f, [], async () => {
      await expect(buyer.increasePosition(alt.marketId, wad(1_000), wad(100), buyFill - 1n))
        .to.be.revertedWithCustomError(ex.engine, "SlippageExceeded")
        .withArgs(buyFill, buyFill - 1n);
      await expect(seller.increasePosition(alt.marketId, wad(-1_000), wad(100), sellFill + 1n))
        .to.be.revertedWithCustomError(ex.engine, "SlippageExceeded")
        .withArgs(sellFill, sellFill + 1n);
    });
    await expect(buyer.increasePosition(alt.marketId, wad(1_000), wad(100), buyFill)).to.emit(ex.engine, "Trade");
    const id = await ex.admin.positionId(traders[0].address, alt.marketId);
    await expectConservation(ex, [id], f.accounts);
  });

  it("refuses the wrong side, and a decrease larger than the position", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    const trader = ex.engine.connect(traders[0]);
    const { id } = await openSize(ex, traders[0], alt.marketId, wad(-1_000), wad(100));
    await refuses(f, [id], async () => {
      await expect(trader.increasePosition(alt.marketId, wad(500), wad(100), ethers.MaxUint256))
        .to.be.revertedWithCustomError(ex.engine, "SideMismatch")
        .withArgs(wad(-1_000), wad(500));
      await expect(trader.decreasePosition(alt.marketId, wad(1_001), ethers.MaxUint256))
        .to.be.revertedWithCustomError(ex.engine, "SizeExceedsPosition")
        .withArgs(wad(1_001), wad(1_000));
    });
    await expectConservation(ex, [id], f.accounts);
  });

  it("refuses growing a side past the open interest cap, while the other side stays open", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, deployer, traders, alt } = f;
    const cfg = await marketConfig({ ...ALT_USD, maxOpenInterest: "100000" }, ex.deployment.contracts.fundingModel);
    await (await ex.admin.connect(deployer).setMarketConfig(alt.marketId, cfg)).wait();
    const first = await openSize(ex, traders[0], alt.marketId, wad(-60_000), wad(12_000));
    await refuses(f, [first.id], async () => {
      // 60,000 + 50,000 = 110,000 short against a cap of 100,000
      await expect(ex.engine.connect(traders[1]).increasePosition(alt.marketId, wad(-50_000), wad(10_000), 0n))
        .to.be.revertedWithCustomError(ex.engine, "OpenInterestCapExceeded")
        .withArgs(false, wad(110_000), wad(100_000));
    });
    const long = await openSize(ex, traders[1], alt.marketId, wad(50_000), wad(10_000));
    await expectConservation(ex, [first.id, long.id], f.accounts);
  });
});

describe("refusals: margin and balances", () => {
  it("refuses a withdrawal above the free balance", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders } = f;
    const free = await ex.vault.freeBalance(traders[0].address);
    const amount = free / 10n ** 12n + 1n;
    await refuses(f, [], async () => {
      await expect(ex.vault.connect(traders[0]).withdraw(amount, traders[0].address))
        .to.be.revertedWithCustomError(ex.vault, "InsufficientBalance")
        .withArgs(traders[0].address, free, amount * 10n ** 12n);
    });
  });

  it("refuses removing margin below the initial margin, and allows removing what is spare", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    const trader = ex.engine.connect(traders[0]);
    const opened = await openByLeverage(ex, traders[0], alt.marketId, {
      side: "short",
      margin: wad(100),
      leverage: 10n,
    });
    const p = await ex.admin.position(opened.id);
    // One EMA half-life later (2^-1 exactly): basis b = last - I, ema = b + (0 - b) / 2, and the mark is
    // P2 = I + ema (between P1 = I and last).
    const t0 = BigInt((await opened.receipt.getBlock()).timestamp);
    const b = (I * (S + p.size)) / S - I;
    const mark = I + b + (0n - b) / 2n;
    // Removing 85 leaves 15: about 1,000 / 15 = 66x against 50x.
    const lev = leverageAt(p.size, p.entryPrice, wad(15), mark);
    expect(lev).to.be.gt(wad(60));
    await refuses(f, [opened.id], async () => {
      await time.setNextBlockTimestamp(t0 + EMA_HALF_LIFE);
      await expect(trader.removeMargin(alt.marketId, wad(85)))
        .to.be.revertedWithCustomError(ex.engine, "LeverageTooHigh")
        .withArgs(lev, wad(50));
    });
    await expect(trader.removeMargin(alt.marketId, wad(10)))
      .to.emit(ex.engine, "MarginChanged")
      .withArgs(opened.id, traders[0].address, -wad(10), 0n);
    expect((await ex.admin.position(opened.id)).margin).to.equal(wad(90));
    await expectConservation(ex, [opened.id], f.accounts);
  });
  it("refuses margin changes without a position, and removing margin below the market's minimum", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    const { id } = await openSize(ex, traders[0], alt.marketId, wad(-1_000), wad(100));
    const stranger = ex.engine.connect(traders[1]);
    await refuses(f, [id], async () => {
      for (const change of [stranger.addMargin, stranger.removeMargin])
        await expect(change(alt.marketId, wad(5)))
          .to.be.revertedWithCustomError(ex.engine, "NoPosition")
          .withArgs(traders[1].address, alt.marketId);
      // 100 - 95 leaves 5, under the minimum of 10 (checked before the leverage).
      await expect(ex.engine.connect(traders[0]).removeMargin(alt.marketId, wad(95)))
        .to.be.revertedWithCustomError(ex.engine, "MarginTooLow")
        .withArgs(wad(5), MIN_MARGIN);
    });
  });

  it("refuses a partial close that leaves a liquidatable position, or one that its closed part already sinks", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    // 1,000 ALT long on 100 at about 2: maintenance 0.5% of notional.
    const { id } = await openSize(ex, traders[0], alt.marketId, wad(1_000), wad(100));
    const trader = ex.engine.connect(traders[0]);
    // At 1.905 the loss is about 95: equity about 5 under a maintenance margin of about 9.5.
    await pushIndex(alt, wad("1.905"));
    const view = await ex.lens.position(id);
    expect(view.liquidatable).to.equal(true);
    expect(view.equity > 0n).to.equal(true);
    await refuses(f, [id], async () => {
      // A tenth closed pays out a tenth of the value: the rest keeps the same shortfall.
      await expect(trader.decreasePosition(alt.marketId, wad(100), 0n))
        .to.be.revertedWithCustomError(ex.engine, "WouldBeLiquidatable")
        .withArgs(id);
    });
    // At 1.85 nine tenths closed realise about -135 against a margin of 100: nothing is left to pay out.
    await pushIndex(alt, wad("1.85"));
    await refuses(f, [id], async () => {
      await expect(trader.decreasePosition(alt.marketId, wad(900), 0n))
        .to.be.revertedWithCustomError(ex.engine, "WouldBeLiquidatable")
        .withArgs(id);
    });
  });
});

describe("refusals: market state and roles", () => {
  it("refuses new risk on a paused market while closing still works", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, deployer, traders, alt } = f;
    const { id } = await openSize(ex, traders[0], alt.marketId, wad(-1_000), wad(100));
    await expect(ex.admin.connect(deployer).setPaused(alt.marketId, true))
      .to.emit(ex.admin, "MarketPaused")
      .withArgs(alt.marketId, true);
    await refuses(f, [id], async () => {
      await expect(
        ex.engine.connect(traders[1]).increasePosition(alt.marketId, wad(1_000), wad(100), ethers.MaxUint256),
      )
        .to.be.revertedWithCustomError(ex.engine, "MarketIsPaused")
        .withArgs(alt.marketId);
    });
    await closeAll(ex, traders[0], alt.marketId);
    expect((await ex.admin.position(id)).size).to.equal(0n);
    await expectConservation(ex, [id], f.accounts);
  });

  it("refuses new risk when every source is stale, lets positions close within the grace period, and not after", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, deployer, traders, alt } = f;
    // Only the two pushed feeds: the spot TWAP adapter is always fresh.
    const feeds = await Promise.all(alt.pushedFeeds.map((feed) => feed.getAddress()));
    await (await ex.oracle.connect(deployer).setSources(alt.marketId, feeds, [FEED_HEARTBEAT, FEED_HEARTBEAT])).wait();
    for (const feed of alt.pushedFeeds) await (await feed.setPrice(toFeedAnswer(I))).wait();
    const pushed = BigInt(await time.latest());

    // The positions open 1,000 s after the push; the feeds stay fresh until a heartbeat after it, and the
    // grace period counts from then, not from the engine's last trade.
    await time.setNextBlockTimestamp(pushed + 1_000n);
    const a = await openSize(ex, traders[0], alt.marketId, wad(-1_000), wad(100));
    const b = await openSize(ex, traders[1], alt.marketId, wad(-1_000), wad(100));
    const freshUntil = pushed + FEED_HEARTBEAT;
    const ids = [a.id, b.id];

    await time.increaseTo(pushed + FEED_HEARTBEAT + 1n);
    expect((await ex.lens.market(alt.marketId)).indexFresh).to.equal(false);
    await refuses(f, ids, async () => {
      await expect(
        ex.engine.connect(traders[2]).increasePosition(alt.marketId, wad(1_000), wad(100), ethers.MaxUint256),
      )
        .to.be.revertedWithCustomError(ex.engine, "NoFreshPrice")
        .withArgs(alt.marketId);
      await expect(ex.engine.connect(traders[0]).removeMargin(alt.marketId, wad(10)))
        .to.be.revertedWithCustomError(ex.engine, "NoFreshPrice")
        .withArgs(alt.marketId);
    });

    // Within the grace period (an hour since the oracle went stale) A closes at its last index:
    // buying 1,000 back at K = -2,000 fills at 2 * (1 + (-2,000 - 1,000) / 10,000,000) = 1.9994.
    const closed = await closeAll(ex, traders[0], alt.marketId);
    expect(closed.trade.fillPrice).to.equal(fill(I, wad(-2_000), wad(1_000)));
    expect(closed.trade.fillPrice).to.equal(wad("1.9994"));

    // After it, B cannot close until a source is fresh again.
    await time.increaseTo(freshUntil + BigInt(ALT_USD.oracleGracePeriodSeconds) + 1n);
    await refuses(f, ids, async () => {
      await expect(ex.engine.connect(traders[1]).closePosition(alt.marketId, ethers.MaxUint256))
        .to.be.revertedWithCustomError(ex.engine, "NoFreshPrice")
        .withArgs(alt.marketId);
    });
    await (await alt.pushedFeeds[0].setPrice(toFeedAnswer(I))).wait();
    await closeAll(ex, traders[1], alt.marketId);
    await expectConservation(ex, ids, f.accounts);
  });

  it("refuses price pushes and configuration changes from accounts without the role", async () => {
    const f = await loadFixture(exchangeFixture);
    const { ex, traders, alt } = f;
    const outsider = traders[0];
    const oracleRole = await alt.pushedFeeds[0].ORACLE_ROLE();
    const configRole = await ex.engine.CONFIG_ROLE();
    const oracleConfigRole = await ex.oracle.CONFIG_ROLE();
    const operatorRole = await ex.vault.OPERATOR_ROLE();
    const cfg = await marketConfig(ALT_USD, ex.deployment.contracts.fundingModel);
    const feedBefore = [...(await alt.pushedFeeds[0].latestRoundData())];
    const admin = ex.admin.connect(outsider);

    await refuses(f, [], async () => {
      await expect(alt.pushedFeeds[0].connect(outsider).setPrice(toFeedAnswer(wad(3))))
        .to.be.revertedWithCustomError(alt.pushedFeeds[0], "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, oracleRole);
      await expect(admin.setMarketConfig(alt.marketId, cfg))
        .to.be.revertedWithCustomError(ex.admin, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, configRole);
      await expect(admin.setTiers(alt.marketId, tiersOf(ALT_USD)))
        .to.be.revertedWithCustomError(ex.admin, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, configRole);
      await expect(admin.setPaused(alt.marketId, true))
        .to.be.revertedWithCustomError(ex.admin, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, configRole);
      await expect(admin.createMarket({ ...cfg, symbol: ethers.encodeBytes32String("NEW-USD") }, tiersOf(ALT_USD)))
        .to.be.revertedWithCustomError(ex.admin, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, configRole);
      await expect(ex.oracle.connect(outsider).setSources(alt.marketId, [alt.pushedFeeds[0]], [60]))
        .to.be.revertedWithCustomError(ex.oracle, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, oracleConfigRole);
      await expect(
        ex.vault.connect(outsider).settle({
          account: outsider.address,
          accountDelta: wad(1),
          counterparty: ethers.ZeroAddress,
          counterpartyDelta: 0n,
          marginDelta: 0n,
          escrowDelta: 0n,
          poolDelta: -wad(1),
          insuranceDelta: 0n,
        }),
      )
        .to.be.revertedWithCustomError(ex.vault, "AccessControlUnauthorizedAccount")
        .withArgs(outsider.address, operatorRole);
    });
    expect([...(await alt.pushedFeeds[0].latestRoundData())]).to.deep.equal(feedBefore);
    expect(await alt.twapFeed.window()).to.equal(ALT_USD.twapWindowSeconds);
    expect((await ex.oracle.sources(alt.marketId)).length).to.equal(3);
  });
});
