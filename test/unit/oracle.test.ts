/**
 * SPEC section 4, Oracle: index = median of the fresh sources; a source is stale once more than its
 * heartbeat has passed since its update; with an even count the median is the mean of the middle two
 * (rounded down).
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import { Oracle__factory, PushPriceFeed__factory } from "../../typechain-types";
import { toFeedAnswer, usd6, wad } from "../../lib/units";
import { exchangeFixture, FEED_HEARTBEAT, openSize } from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";

describe("oracle: index median of fresh sources", () => {
  it("drops a pushed feed one second after its heartbeat and takes the mean of the two left", async () => {
    const { ex, traders, alt, accounts } = await loadFixture(exchangeFixture);
    const [feed1, feed2] = alt.pushedFeeds;
    // Sources: feed1, feed2 and the spot TWAP (the pool has not traded: exactly 2).
    await (await feed1.setPrice(toFeedAnswer(wad("2.2")))).wait();
    const tA = BigInt(await time.latest());
    await time.setNextBlockTimestamp(tA + 1_000n);
    await (await feed2.setPrice(toFeedAnswer(wad("2.1")))).wait();

    // Three fresh: median(2.2, 2.1, 2.0) = 2.1
    let [index, fresh] = await ex.oracle.indexPrice(alt.marketId);
    expect([index, fresh]).to.deep.equal([wad("2.1"), 3n]);

    // At exactly the heartbeat feed1 is still fresh.
    await time.increaseTo(tA + FEED_HEARTBEAT);
    [index, fresh] = await ex.oracle.indexPrice(alt.marketId);
    expect([index, fresh]).to.deep.equal([wad("2.1"), 3n]);

    // One second later it is dropped: median(2.1, 2.0) = (2.1 + 2.0) / 2 = 2.05
    await time.increaseTo(tA + FEED_HEARTBEAT + 1n);
    [index, fresh] = await ex.oracle.indexPrice(alt.marketId);
    expect([index, fresh]).to.deep.equal([wad("2.05"), 2n]);
    const view = await ex.lens.market(alt.marketId);
    expect(view.indexPrice).to.equal(wad("2.05"));
    expect(view.indexFresh).to.equal(true);

    // The engine trades on it: a buy of 1,000 ALT at K = 0 fills at 2.05 * (1 + 1,000 / 10,000,000) = 2.050205
    const { id, trade } = await openSize(ex, traders[0], alt.marketId, wad(1_000), wad(100));
    expect(trade.fillPrice).to.equal(wad("2.050205"));
    await expectConservation(ex, [id], accounts);
  });

  it("takes the middle of an odd count and the rounded-down mean of an even count, across decimals", async () => {
    const [admin] = await ethers.getSigners();
    const oracle = await new Oracle__factory(admin).deploy(admin.address);
    const feedFactory = new PushPriceFeed__factory(admin);
    const exact = await Promise.all([0, 1, 2].map(() => feedFactory.deploy(18, "exact", admin.address)));
    const eightDecimals = await feedFactory.deploy(8, "8 decimals", admin.address);
    await (await exact[0].setPrice(wad(100))).wait();
    await (await exact[1].setPrice(wad(103))).wait();
    await (await exact[2].setPrice(wad(250))).wait();
    await (await eightDecimals.setPrice(101_00000001n)).wait(); // 101.00000001
    const feeds = await Promise.all([...exact, eightDecimals].map((f) => f.getAddress()));
    const heartbeats = [3_600, 3_600, 60, 3_600];
    const read = async (marketId: number) => [...(await oracle.indexPrice(marketId))];
    await (await oracle.setSources(7, feeds, heartbeats)).wait();

    // Four fresh, sorted 100, 101.00000001, 103, 250: (101.00000001 + 103) / 2 = 102.000000005
    expect(await read(7)).to.deep.equal([wad("102.000000005"), 4n]);

    // The 250 source has a 60 s heartbeat: after 61 s three are left, median 101.00000001.
    await time.increase(61);
    expect(await read(7)).to.deep.equal([wad("101.00000001"), 3n]);

    // An even mean that does not divide: 100 and 100 + 1 wei -> 100 (rounded down).
    await (await exact[1].setPrice(wad(100) + 1n)).wait();
    await (await oracle.setSources(8, [feeds[0], feeds[1]], [3_600, 3_600])).wait();
    expect(await read(8)).to.deep.equal([wad(100), 2n]);

    // No fresh source at all: price 0 and a fresh count of 0.
    await time.increase(3_601);
    expect(await read(8)).to.deep.equal([0n, 0n]);
  });

  it("keeps the last index: the median of the sources that stayed fresh the longest, and when they went stale", async () => {
    const [admin] = await ethers.getSigners();
    const oracle = await new Oracle__factory(admin).deploy(admin.address);
    const feedFactory = new PushPriceFeed__factory(admin);
    const feeds = await Promise.all([0, 1, 2].map(() => feedFactory.deploy(18, "exact", admin.address)));
    const addresses = await Promise.all(feeds.map((f) => f.getAddress()));
    await (await oracle.setSources(1, addresses, [600, 600, 60])).wait();
    const last = async () => [...(await oracle.lastIndexPrice(1))];

    // No source has ever answered: nothing to fall back on.
    expect(await last()).to.deep.equal([0n, 0n]);

    // 100 then 104 two seconds apart on 600 s heartbeats, 250 on a 60 s one: the 104 source stays fresh
    // the longest, alone.
    await (await feeds[0].setPrice(wad(100))).wait();
    await (await feeds[2].setPrice(wad(250))).wait();
    await (await feeds[1].setPrice(wad(104))).wait();
    const t = BigInt(await time.latest());
    expect(await last()).to.deep.equal([wad(104), t + 600n]);

    // A tie for the longest: the median of the tied sources (here the mean of two).
    await time.setNextBlockTimestamp(t + 10n);
    await (await feeds[0].setPrice(wad(100))).wait();
    await time.setNextBlockTimestamp(t + 10n + 540n);
    await (await feeds[2].setPrice(wad(250))).wait();
    expect(await last()).to.deep.equal([wad(175), t + 610n]);

    // Once every source is stale, it is the index as it stood when the oracle went stale; indexPrice has none.
    await time.increaseTo(t + 611n);
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([0n, 0n]);
    expect(await last()).to.deep.equal([wad(175), t + 610n]);
  });
});

describe("oracle: pushed feeds recorded in the oracle", () => {
  /** SourceKind in contracts/oracle/PackedSource.sol. */
  const KIND = { feed: 1n, recorded: 2n, spotTwap: 3n };

  it("reads a connected feed from its record, calls one connected too late, and ignores records of non-sources", async () => {
    const [admin, stranger] = await ethers.getSigners();
    const oracle = await new Oracle__factory(admin).deploy(admin.address);
    const feedFactory = new PushPriceFeed__factory(admin);
    const [early, late] = await Promise.all([0, 1].map(() => feedFactory.deploy(8, "8 decimals", admin.address)));
    // Connected before its first push and before the sources are set: listed as recorded, from its
    // latest round on.
    await (await early.setOracle(oracle)).wait();
    await (await early.setPrice(100_00000000n)).wait();
    await (await late.setPrice(104_00000000n)).wait();
    const addresses = await Promise.all([early, late].map((f) => f.getAddress()));
    await (await oracle.setSources(1, addresses, [600, 600])).wait();
    const [first, second] = await oracle.sources(1);
    expect([first.kind, second.kind]).to.deep.equal([KIND.recorded, KIND.feed]);
    expect((await oracle.latestRound(1, 0)).answer).to.equal(100_00000000n);

    // Connected after the sources were set: the oracle keeps calling it, so the answers agree either way:
    // (100 + 104) / 2 = 102.
    await (await late.setOracle(oracle)).wait();
    expect((await oracle.latestRound(1, 1)).answer).to.equal(104_00000000n);
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([wad(102), 2n]);

    // A push moves the record and the index with it: (110 + 104) / 2 = 107.
    await (await early.setPrice(110_00000000n)).wait();
    expect((await oracle.latestRound(1, 0)).answer).to.equal(110_00000000n);
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([wad(107), 2n]);

    // Anyone may record, but only into the sources that list the caller, and no market lists it.
    await (await oracle.connect(stranger).recordPrice(1n, BigInt(await time.latest()))).wait();
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([wad(107), 2n]);

    // Disconnected, the record ages like the feed would: stale after its heartbeat, whatever the feed says.
    await (await early.setOracle(ethers.ZeroAddress)).wait();
    await (await early.setPrice(120_00000000n)).wait();
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([wad(107), 2n]);
    await time.increase(601);
    await (await late.setPrice(104_00000000n)).wait();
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([wad(104), 1n]);
  });

  it("records a push into every market that lists the feed, and stops when the feed is no longer listed", async () => {
    const [admin] = await ethers.getSigners();
    const oracle = await new Oracle__factory(admin).deploy(admin.address);
    const feedFactory = new PushPriceFeed__factory(admin);
    const [shared, other] = await Promise.all([0, 1].map(() => feedFactory.deploy(8, "8 decimals", admin.address)));
    for (const f of [shared, other]) await (await f.setOracle(oracle)).wait();
    await (await shared.setPrice(100_00000000n)).wait();
    await (await other.setPrice(90_00000000n)).wait();
    const [a, b] = await Promise.all([shared, other].map((f) => f.getAddress()));
    // Market 1 lists the shared feed second, market 2 lists it alone, with another heartbeat.
    await (await oracle.setSources(1, [b, a], [600, 600])).wait();
    await (await oracle.setSources(2, [a], [60])).wait();
    await (await shared.setPrice(101_00000000n)).wait();
    expect((await oracle.latestRound(1, 1)).answer).to.equal(101_00000000n);
    expect((await oracle.latestRound(2, 0)).answer).to.equal(101_00000000n);
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([wad("95.5"), 2n]);
    expect([...(await oracle.indexPrice(2))]).to.deep.equal([wad(101), 1n]);

    // Market 1 drops it: its pushes reach market 2 only.
    await (await oracle.setSources(1, [b], [600])).wait();
    expect((await oracle.sources(1)).map((s) => s.feed)).to.deep.equal([b]);
    await (await shared.setPrice(102_00000000n)).wait();
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([wad(90), 1n]);
    expect([...(await oracle.indexPrice(2))]).to.deep.equal([wad(102), 1n]);
    // The slot market 1 no longer uses is empty.
    expect([...(await oracle.latestRound(1, 1))]).to.deep.equal([0n, 0n]);
  });
});

describe("oracle: the spot-TWAP adapter read through its pool", () => {
  it("lists the adapter as its pool's TWAP and reads what the adapter answers, before and after swaps inside the window", async () => {
    const { ex, deployer, alt } = await loadFixture(exchangeFixture);
    const sources = await ex.oracle.sources(alt.marketId);
    // SourceKind: the deployment's two pushed feeds are recorded (2), the adapter a spot TWAP (3).
    expect(sources.map((s) => [s.feed, s.kind])).to.deep.equal([
      ...(await Promise.all(alt.pushedFeeds.map(async (f) => [await f.getAddress(), 2n]))),
      [await alt.twapFeed.getAddress(), 3n],
    ]);
    // The adapter alone as another market's source: the index is its answer, to the unit.
    await (await ex.oracle.setSources(99, [alt.twapFeed], [60])).wait();
    const both = async () => {
      const [[index, fresh], [, answer]] = await Promise.all([
        ex.oracle.indexPrice(99),
        alt.twapFeed.latestRoundData(),
      ]);
      expect(fresh).to.equal(1n);
      expect(index).to.equal(answer);
      return index;
    };
    expect(await both()).to.equal(wad(2));
    const pool = alt.spotPool.connect(deployer);
    await (await ex.collateral.faucet(deployer.address, usd6(100_000))).wait();
    await (await ex.collateral.approve(pool, usd6(100_000))).wait();
    let previous = wad(2);
    for (let i = 0; i < 3; i++) {
      await (await pool.swap(true, usd6(5_000), 0n, deployer.address)).wait();
      await time.increase(97);
      const twap = await both();
      expect(twap).to.be.gt(previous);
      previous = twap;
    }
    // Past the window, the TWAP is the spot again.
    await time.increase(Number(await alt.twapFeed.window()) + 1);
    expect(await both()).to.equal(await alt.spotPool.spotPrice());
  });
});

describe("oracle: a pushed feed's clock", () => {
  /** The largest timestamp a round's 48-bit updatedAt holds (about 8.9 million years from 1970). */
  const MAX_UPDATED_AT = (1n << 48n) - 1n;

  it("records a push at the last second its 48-bit updatedAt holds, and refuses the next with TimestampOverflow", async () => {
    const [admin] = await ethers.getSigners();
    const snapshot = await takeSnapshot();
    try {
      const feed = await new PushPriceFeed__factory(admin).deploy(8, "clock", admin.address);
      await time.setNextBlockTimestamp(MAX_UPDATED_AT);
      await (await feed.setPrice(2_00000000n)).wait();
      const [, answer, , updatedAt] = await feed.latestRoundData();
      expect([answer, updatedAt]).to.deep.equal([2_00000000n, MAX_UPDATED_AT]);

      // One second later the time no longer fits: refused, and the last round stays as it was.
      await time.setNextBlockTimestamp(MAX_UPDATED_AT + 1n);
      await expect(feed.setPrice(2_10000000n))
        .to.be.revertedWithCustomError(feed, "TimestampOverflow")
        .withArgs(MAX_UPDATED_AT + 1n, MAX_UPDATED_AT);
      const [roundId, kept, , keptAt] = await feed.latestRoundData();
      expect([roundId, kept, keptAt]).to.deep.equal([1n, 2_00000000n, MAX_UPDATED_AT]);
    } finally {
      await snapshot.restore();
    }
  });
});
