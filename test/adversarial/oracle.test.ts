/**
 * Oracle and spot manipulation (SPEC sections 4 and 5, the `protections` scenario). An attacker who can
 * move the thin ALT spot pool, or who controls one pushed feed, tries to move the index or the mark far
 * enough to liquidate someone in the same block. What stops it:
 *  - a TWAP window on the spot adapter: a pump in the current block has been the price for 0 seconds,
 *    so it moves the index not at all (and by its time share later); with window 0 it moves it fully;
 *  - the mark band: however far last and the basis EMA run, the mark stays within index * (1 +/- band);
 *  - the per-update deviation limit of a pushed feed, and the median: one feed walking away alone never
 *    moves a median of three;
 *  - freshness: stale, future-dated and non-positive answers are dropped; with no fresh source new risk
 *    is refused, while closing and liquidation use the last good index for the grace period only.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { MockAggregator__factory, SpotTwapFeed__factory } from "../../typechain-types";
import { deploySystem, marketConfig } from "../../lib/deploy";
import { ALT_USD } from "../../lib/markets";
import { toFeedAnswer, usd6, wad, WAD } from "../../lib/units";
import {
  anyPrice,
  closeAll,
  exchangeFixture,
  FEED_HEARTBEAT,
  FUNDING_INTERVAL,
  fund,
  openSize,
} from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";
import { BLOCK_TX_GAS, inOneBlock, revertOf, whatIf } from "./helpers";

const I = wad(ALT_USD.initialPrice);
const TWAP_WINDOW = 600n;
const FEE_BPS = 30n;
const BPS = 10_000n;
const USD6_TO_WAD = 10n ** 12n;
const GRACE = BigInt(ALT_USD.oracleGracePeriodSeconds);

/** ALT-USD whose only index source is the spot adapter (no pushed feeds), with a 600 s TWAP window. */
async function spotOnlyFixture() {
  const [deployer, trader, whale, keeper] = await ethers.getSigners();
  const now = BigInt(await time.latest());
  await time.increaseTo((now / FUNDING_INTERVAL + 1n) * FUNDING_INTERVAL + 60n);
  const ex = await deploySystem(deployer, {
    markets: [{ ...ALT_USD, pushedFeeds: 0, twapWindowSeconds: Number(TWAP_WINDOW) }],
    lpDepositUsd: "5000000",
    insuranceFundUsd: "100000",
  });
  const alt = ex.markets.get("ALT-USD")!;
  await fund(ex, trader, 100_000n);
  await (await ex.collateral.faucet(whale.address, usd6(1_000_000))).wait();
  await (await ex.collateral.connect(whale).approve(alt.spotPool, usd6(1_000_000))).wait();
  // A full window of history at the seeded price 2.
  await time.increase(TWAP_WINDOW + 60n);
  // The victim: a 10x short entered at 2 * (1 - 5,000 / 10,000,000) = 1.999, liquidation price about 2.188.
  const victim = await openSize(ex, trader, alt.marketId, wad(-5_000), wad(1_000));
  return {
    ex,
    alt,
    deployer,
    trader,
    whale,
    keeper,
    victim,
    accounts: [deployer, trader, whale, keeper].map((s) => s.address),
  };
}

/** The spot price after buying coin with `usdIn` (6 decimals) at the pool's reserves: x*y=k net of the fee. */
function spotAfterBuy(rCoin: bigint, rUsd: bigint, usdIn: bigint): bigint {
  const inAfterFee = usdIn * (BPS - FEE_BPS);
  const coinOut = (rCoin * inAfterFee) / (rUsd * BPS + inAfterFee);
  return ((rUsd + usdIn) * USD6_TO_WAD * WAD) / (rCoin - coinOut);
}

/** The spot adapter's heartbeat as deploySystem lists it (it answers as of every block). */
const SPOT_HEARTBEAT = 3_600;

describe("adversarial: oracle and spot manipulation", () => {
  describe("a single-block spot pump, the spot adapter as the only index source", () => {
    const PUMP = usd6(50_000); // a quarter of the pool's USD side: spot +56%

    for (const window of [TWAP_WINDOW, 0n]) {
      const label = window === 0n ? "without a TWAP window (spot)" : `with a ${window} s TWAP window`;
      it(`${window === 0n ? "moves the index fully" : "moves the index not at all"} ${label}, in the pump's own block`, async () => {
        const { ex, alt, deployer, whale, keeper, victim, accounts } = await loadFixture(spotOnlyFixture);
        if (window === 0n) {
          // The spot adapter in the TWAP adapter's place: the pool's price as it stands.
          const spot = await new SpotTwapFeed__factory(deployer).deploy(alt.spotPool, 0);
          await (await ex.oracle.connect(deployer).setSources(alt.marketId, [spot], [SPOT_HEARTBEAT])).wait();
        }
        const pumped = spotAfterBuy(await alt.spotPool.reserveCoin(), await alt.spotPool.reserveUsd(), PUMP);
        expect(pumped).to.be.greaterThan((I * 155n) / 100n);

        // The pump, a funding sync that records the index the engine sees, and the liquidation it is for.
        const [swap, sync, liquidation] = await inOneBlock([
          () => alt.spotPool.connect(whale).swap(true, PUMP, 0n, whale.address, { gasLimit: BLOCK_TX_GAS }),
          () => ex.engine.connect(keeper).settleFunding(alt.marketId, { gasLimit: BLOCK_TX_GAS }),
          () => ex.engine.connect(keeper).liquidate(victim.id, { gasLimit: BLOCK_TX_GAS }),
        ]);
        expect([swap.status, sync.status]).to.deep.equal([1, 1]);
        expect(await alt.spotPool.spotPrice()).to.equal(pumped);
        // The index the engine read in that block: nothing after the pump moves the oracle's sources.
        const [seen] = await ex.oracle.indexPrice(alt.marketId, { blockTag: sync.blockNumber });

        if (window === 0n) {
          expect(seen, "index = the pumped spot").to.equal(pumped);
          expect(liquidation.status, "the victim is liquidated in the pump's block").to.equal(1);
        } else {
          // The pumped price has held for 0 s of the window: the TWAP is still exactly the seeded 2.
          expect(seen, "index = the pre-pump TWAP").to.equal(I);
          expect(liquidation.status).to.equal(0);
          const err = await revertOf(ex.engine.interface, liquidation.hash);
          expect(err.name).to.equal("PositionHealthy");
          expect(err.args[0]).to.equal(victim.id);
          expect((await ex.admin.position(victim.id)).size).to.equal(wad(-5_000));
        }
        await expectConservation(ex, [victim.id], accounts);
      });
    }

    it("lets the pump in by its time share only: 60 s later the index is (2 * 540 + pumped * 60) / 600", async () => {
      const { ex, alt, whale, keeper, victim, accounts } = await loadFixture(spotOnlyFixture);
      const pumped = spotAfterBuy(await alt.spotPool.reserveCoin(), await alt.spotPool.reserveUsd(), PUMP);
      const swap = (await (await alt.spotPool.connect(whale).swap(true, PUMP, 0n, whale.address)).wait())!;
      const tSwap = BigInt((await swap.getBlock()).timestamp);
      await time.setNextBlockTimestamp(tSwap + 60n);
      await (await ex.engine.connect(keeper).settleFunding(alt.marketId)).wait();
      const expected = (I * (TWAP_WINDOW - 60n) + pumped * 60n) / TWAP_WINDOW;
      expect((await ex.oracle.indexPrice(alt.marketId))[0]).to.equal(expected);
      // 10% of a +56% pump is +5.6%: below the victim's +9.4% liquidation distance.
      expect((await ex.lens.position(victim.id)).liquidatable).to.equal(false);
      await expectConservation(ex, [victim.id], accounts);
    });
  });

  it("keeps the TWAP protection past 2106, when block timestamps no longer fit 32 bits", async () => {
    await whatIf(async () => {
      // Deployed and seeded before 2^32 s (7 Feb 2106), pumped after it.
      await time.increaseTo(2n ** 32n - 12n * 3_600n);
      const { ex, alt, whale, keeper, victim, accounts } = await spotOnlyFixture();
      await time.increaseTo(2n ** 32n + 60n);
      const pumped = spotAfterBuy(await alt.spotPool.reserveCoin(), await alt.spotPool.reserveUsd(), usd6(50_000));
      const [swap, sync] = await inOneBlock([
        () => alt.spotPool.connect(whale).swap(true, usd6(50_000), 0n, whale.address, { gasLimit: BLOCK_TX_GAS }),
        () => ex.engine.connect(keeper).settleFunding(alt.marketId, { gasLimit: BLOCK_TX_GAS }),
      ]);
      expect([swap.status, sync.status]).to.deep.equal([1, 1]);
      expect(await alt.spotPool.spotPrice()).to.equal(pumped);
      expect((await ex.oracle.indexPrice(alt.marketId))[0], "index = the pre-pump TWAP").to.equal(I);
      // A minute later the pump counts for its minute of the window, as before 2106.
      const tSwap = BigInt((await ethers.provider.getBlock(swap.blockNumber))!.timestamp);
      await time.increaseTo(tSwap + 60n);
      const [, answer, , readAt] = await alt.twapFeed.latestRoundData();
      const held = readAt - tSwap;
      expect(answer).to.equal((I * (TWAP_WINDOW - held) + pumped * held) / TWAP_WINDOW);
      await expectConservation(ex, [victim.id], accounts);
    });
  });

  describe("the mark band", () => {
    const BAND = wad("0.02");

    for (const side of ["up", "down"] as const) {
      it(`holds the mark at index * (1 ${side === "up" ? "+" : "-"} 2%) while a whale's skew drags last and the basis EMA ${side}`, async () => {
        const f = await loadFixture(exchangeFixture);
        const { ex, deployer, traders, alt, keeper, accounts } = f;
        const cfg = await marketConfig(ALT_USD, ex.deployment.contracts.fundingModel);
        await (await ex.admin.connect(deployer).setMarketConfig(alt.marketId, { ...cfg, markBand: BAND })).wait();
        // The victim: 10x against the whale's direction, liquidated about 9.4% away.
        const sign = side === "up" ? 1n : -1n;
        const victim = await openSize(ex, traders[0], alt.marketId, -sign * wad(5_000), wad(1_000));
        // The whale: a 20% premium (K = 1,000,000 of S = 5,000,000), held for six EMA half-lives.
        const whale = await openSize(ex, traders[1], alt.marketId, sign * wad(1_000_000), wad(800_000));
        await time.increase(6n * BigInt(ALT_USD.emaHalfLifeSeconds));

        const m = await ex.lens.market(alt.marketId);
        expect(m.indexPrice).to.equal(I);
        const bound = side === "up" ? (I * (WAD + BAND)) / WAD : (I * (WAD - BAND) + WAD - 1n) / WAD; // hi rounds down, lo up
        expect(bound).to.equal(side === "up" ? wad("2.04") : wad("1.96"));
        expect(m.markPrice, "mark clamped to the band").to.equal(bound);
        expect(sign * (m.lastPrice - I) > (I * 19n) / 100n, "last is ~20% away").to.equal(true);
        await expect(ex.engine.connect(keeper).liquidate(victim.id))
          .to.be.revertedWithCustomError(ex.engine, "PositionHealthy")
          .withArgs(victim.id, bound);

        // Without the band the same state liquidates the victim.
        await whatIf(async () => {
          await (await ex.admin.connect(deployer).setMarketConfig(alt.marketId, cfg)).wait();
          const unbanded = (await ex.lens.market(alt.marketId)).markPrice;
          expect(sign * (unbanded - I) > (I * 18n) / 100n, "unbanded mark follows the EMA").to.equal(true);
          await expect(ex.engine.connect(keeper).liquidate(victim.id)).to.emit(ex.engine, "Liquidation");
        });
        await expectConservation(ex, [victim.id, whale.id], accounts);
      });
    }
  });

  describe("one pushed feed under an attacker's key", () => {
    const MAX_DEVIATION = wad("0.05");

    it("moves at most 5% per update, to the unit, up and down", async () => {
      const { deployer, alt } = await loadFixture(exchangeFixture);
      const feed = alt.pushedFeeds[0].connect(deployer);
      await expect(feed.setMaxDeviation(MAX_DEVIATION)).to.emit(feed, "MaxDeviationSet").withArgs(MAX_DEVIATION);
      let prev = toFeedAnswer(I);
      for (const dir of [1n, 1n, -1n, -1n, -1n]) {
        // |move| * WAD <= prev * 5%: the largest move is floor(prev * 5 / 100).
        const allowed = prev + dir * ((prev * 5n) / 100n);
        await expect(feed.setPrice(allowed + dir))
          .to.be.revertedWithCustomError(feed, "DeviationTooLarge")
          .withArgs(prev, allowed + dir, MAX_DEVIATION);
        await (await feed.setPrice(allowed)).wait();
        expect((await feed.latestRoundData())[1]).to.equal(allowed);
        prev = allowed;
      }
    });

    it("needs 48 updates to walk 10x, and walking alone never moves the median of three", async () => {
      const { ex, deployer, alt } = await loadFixture(exchangeFixture);
      const feed = alt.pushedFeeds[0].connect(deployer);
      await (await feed.setMaxDeviation(MAX_DEVIATION)).wait();
      const target = toFeedAnswer(I) * 10n;
      let answer = toFeedAnswer(I);
      let updates = 0;
      while (answer < target) {
        answer += (answer * 5n) / 100n;
        await (await feed.setPrice(answer)).wait();
        updates++;
        // The other pushed feed and the spot TWAP still say 2: the median is exactly 2.
        expect((await ex.oracle.indexPrice(alt.marketId))[0]).to.equal(I);
      }
      // 1.05^47 < 10 <= 1.05^48 (floors make each step a hair under 5%).
      expect(updates).to.equal(48);
      await expect(feed.setPrice(toFeedAnswer(I))).to.be.revertedWithCustomError(feed, "DeviationTooLarge");
    });
  });

  describe("freshness", () => {
    it("drops stale, future-dated, zero and negative answers, and refuses a source with more than 18 decimals", async () => {
      const f = await loadFixture(exchangeFixture);
      const { ex, deployer, traders, alt, accounts } = f;
      const now = BigInt(await time.latest());
      const mocks = [];
      // An extreme answer behind each way of being unusable.
      const cases: [bigint, bigint][] = [
        [toFeedAnswer(wad(1_000)), now - FEED_HEARTBEAT - 10n], // stale
        [toFeedAnswer(wad(1_000)), now + 3_600n], // dated in the future
        [0n, now], // zero
        [-toFeedAnswer(I), now], // negative
      ];
      for (const [answer, updatedAt] of cases) {
        const mock = await new MockAggregator__factory(deployer).deploy(8);
        await (await mock.set(answer, updatedAt)).wait();
        mocks.push(await mock.getAddress());
      }
      const pushed = await Promise.all(alt.pushedFeeds.map((x) => x.getAddress()));
      const sources = [...pushed, ...mocks];
      await (
        await ex.oracle.setSources(
          alt.marketId,
          sources,
          sources.map(() => FEED_HEARTBEAT),
        )
      ).wait();
      await (await alt.pushedFeeds[0].setPrice(toFeedAnswer(wad("2.1")))).wait();
      // Fresh: the two pushed feeds only, 2.1 and 2: the mean of the middle two.
      expect(await ex.oracle.indexPrice(alt.marketId)).to.deep.equal([wad("2.05"), 2n]);
      const opened = await openSize(ex, traders[0], alt.marketId, wad(1_000), wad(100));
      // A buy of 1,000 at K = 0 fills at 2.05 * (1 + 1,000 / 10,000,000), rounded up.
      expect(opened.trade.fillPrice).to.equal(
        (wad("2.05") * (wad(10_000_000) + wad(1_000)) + wad(10_000_000) - 1n) / wad(10_000_000),
      );

      const tooPrecise = await new MockAggregator__factory(deployer).deploy(19);
      await expect(ex.oracle.setSources(alt.marketId, [await tooPrecise.getAddress()], [FEED_HEARTBEAT]))
        .to.be.revertedWithCustomError(ex.oracle, "DecimalsTooLarge")
        .withArgs(await tooPrecise.getAddress(), 19);
      await expectConservation(ex, [opened.id], accounts);
    });

    it("with every source stale refuses new risk, lets closing and liquidation use the oracle's last index for the grace period after it went stale, then refuses them too", async () => {
      const f = await loadFixture(exchangeFixture);
      const { ex, deployer, traders, alt, keeper, accounts } = f;
      const [a, b, c] = traders;
      const feeds = await Promise.all(alt.pushedFeeds.map((x) => x.getAddress()));
      await (
        await ex.oracle.connect(deployer).setSources(alt.marketId, feeds, [FEED_HEARTBEAT, FEED_HEARTBEAT])
      ).wait();
      const shortA = await openSize(ex, a, alt.marketId, wad(-5_000), wad(1_000)); // entry 1.999
      const shortB = await openSize(ex, b, alt.marketId, wad(-5_000), wad(1_000)); // entry 1.997
      const longC = await openSize(ex, c, alt.marketId, wad(1_000), wad(100));
      const ids = [shortA.id, shortB.id, longC.id];
      const [engineSaw] = await ex.oracle.indexPrice(alt.marketId); // what the three trades read

      // The feeds' last answer, 2.2, is one no transaction on the market ever saw (the engine last traded
      // at 2); the mark at 2.2, median(P1, P2, last) = last = 2.2 * (1 - 9,000 / 5,000,000), is past both
      // shorts' liquidation prices with equity left. The feeds stay fresh for a heartbeat after the push.
      for (const feed of alt.pushedFeeds) await (await feed.setPrice(toFeedAnswer(wad("2.2")))).wait();
      const freshUntil = BigInt(await time.latest()) + FEED_HEARTBEAT;
      expect(engineSaw).to.not.equal(wad("2.2"));

      await time.increaseTo(freshUntil + 1n);
      expect((await ex.oracle.indexPrice(alt.marketId))[1]).to.equal(0n);
      expect(await ex.oracle.lastIndexPrice(alt.marketId)).to.deep.equal([wad("2.2"), freshUntil]);
      await expect(ex.engine.connect(c).increasePosition(alt.marketId, wad(10), wad(100), anyPrice(wad(10))))
        .to.be.revertedWithCustomError(ex.engine, "NoFreshPrice")
        .withArgs(alt.marketId);
      await expect(ex.engine.connect(c).removeMargin(alt.marketId, wad(1)))
        .to.be.revertedWithCustomError(ex.engine, "NoFreshPrice")
        .withArgs(alt.marketId);
      // Within the grace period: liquidation, closing and adding margin work at the oracle's last index.
      await expect(ex.engine.connect(keeper).liquidate(shortA.id)).to.emit(ex.engine, "Liquidation");
      await expect(ex.engine.connect(c).addMargin(alt.marketId, wad(5))).to.emit(ex.engine, "MarginChanged");
      // The last second of the grace period, counted from the moment the oracle went stale.
      await time.setNextBlockTimestamp(freshUntil + GRACE);
      const closed = await closeAll(ex, c, alt.marketId);
      // C sells 1,000 at K = 1,000 - 5,000 (A is gone): 2.2 * (1 + (2 * -4,000 - 1,000) / 10,000,000), down.
      expect(closed.trade.fillPrice).to.equal((wad("2.2") * (wad(10_000_000) - wad(9_000))) / wad(10_000_000));

      // Past the grace period nothing that needs a price goes through, not even a liquidation.
      await time.setNextBlockTimestamp(freshUntil + GRACE + 1n);
      await expect(ex.engine.connect(keeper).liquidate(shortB.id))
        .to.be.revertedWithCustomError(ex.engine, "NoFreshPrice")
        .withArgs(alt.marketId);
      await expect(ex.engine.connect(keeper).liquidateMany([shortB.id]))
        .to.be.revertedWithCustomError(ex.engine, "NoFreshPrice")
        .withArgs(alt.marketId);
      await expect(ex.engine.connect(b).closePosition(alt.marketId, ethers.MaxUint256))
        .to.be.revertedWithCustomError(ex.engine, "NoFreshPrice")
        .withArgs(alt.marketId);

      // A fresh price again: B is liquidated.
      await (await alt.pushedFeeds[0].setPrice(toFeedAnswer(wad("2.2")))).wait();
      await expect(ex.engine.connect(keeper).liquidate(shortB.id)).to.emit(ex.engine, "Liquidation");
      await expectConservation(ex, ids, accounts);
    });
  });
});
