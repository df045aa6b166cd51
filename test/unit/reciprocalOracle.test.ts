/**
 * SPEC 9.2: a coin-margined market's index is 1/P of its USD market's index P (WAD coin per USD, rounded
 * down), fresh exactly when P is; contracts/oracle/ReciprocalOracle.sol.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import { Oracle__factory, PushPriceFeed__factory, ReciprocalOracle__factory } from "../../typechain-types";
import { wad } from "../../lib/units";

async function deployed() {
  const [admin, outsider] = await ethers.getSigners();
  const base = await new Oracle__factory(admin).deploy(admin.address);
  const feed = await new PushPriceFeed__factory(admin).deploy(18, "BTC", admin.address);
  await (await feed.setPrice(wad(30_000))).wait();
  await (await base.setSources(5, [await feed.getAddress()], [60])).wait();
  const oracle = await new ReciprocalOracle__factory(admin).deploy(base, admin.address, []);
  return { admin, outsider, base, feed, oracle };
}

describe("ReciprocalOracle: the index of a coin-margined market", () => {
  it("lists a market as a USD market's reciprocal, with an event, for the config role only", async () => {
    const { oracle, outsider } = await deployed();
    await expect(oracle.list(1, 5)).to.emit(oracle, "MarketListed").withArgs(1n, 5n);
    expect(await oracle.baseMarketOf(1)).to.equal(5n);
    await expect(oracle.list(0, 5)).to.be.revertedWithCustomError(oracle, "ZeroMarketId");
    await expect(oracle.list(2, 0)).to.be.revertedWithCustomError(oracle, "ZeroMarketId");
    await expect(oracle.connect(outsider).list(2, 5)).to.be.revertedWithCustomError(
      oracle,
      "AccessControlUnauthorizedAccount",
    );
  });

  it("answers 1e36 / P, rounded down, with the base market's fresh count and freshness", async () => {
    const { oracle, base, feed } = await deployed();
    await (await oracle.list(1, 5)).wait();
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([10n ** 36n / wad(30_000), 1n]);
    await (await feed.setPrice(wad(7))).wait();
    // 1/7 WAD = 0.142857142857142857(142...): rounded down.
    expect((await oracle.indexPrice(1))[0]).to.equal(142_857_142_857_142_857n);
    const [, freshUntil] = await base.lastIndexPrice(5);
    expect([...(await oracle.lastIndexPrice(1))]).to.deep.equal([142_857_142_857_142_857n, freshUntil]);

    // Stale in the base, stale here: no fresh price (0, 0), and the last price as it stood.
    await time.increase(61);
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([0n, 0n]);
    expect([...(await oracle.lastIndexPrice(1))]).to.deep.equal([142_857_142_857_142_857n, freshUntil]);
  });

  it("lists markets at deployment in its code: final, read like the others, and checked", async () => {
    const { admin, base, oracle: empty } = await deployed();
    const factory = new ReciprocalOracle__factory(admin);
    const listings = [
      { marketId: 1, baseMarketId: 5 },
      { marketId: 2, baseMarketId: 7 },
    ];
    const oracle = await factory.deploy(base, admin.address, listings);
    await expect(oracle.deploymentTransaction()).to.emit(oracle, "MarketListed").withArgs(2n, 7n);
    expect(await oracle.baseMarketOf(1)).to.equal(5n);
    expect(await oracle.baseMarketOf(2)).to.equal(7n);
    expect(await oracle.baseMarketOf(3)).to.equal(0n);
    expect([...(await oracle.indexPrice(1))]).to.deep.equal([10n ** 36n / wad(30_000), 1n]);
    await expect(oracle.list(1, 6)).to.be.revertedWithCustomError(oracle, "ListedAtDeployment").withArgs(1n);
    await (await oracle.list(3, 5)).wait(); // later markets go to storage
    expect(await oracle.baseMarketOf(3)).to.equal(5n);
    await (await oracle.list(3, 6)).wait(); // and can move
    expect(await oracle.baseMarketOf(3)).to.equal(6n);

    const max = Number(await empty.MAX_INITIAL_LISTINGS());
    const many = Array.from({ length: max + 1 }, (_, i) => ({ marketId: i + 1, baseMarketId: 5 }));
    await expect(factory.deploy(base, admin.address, many))
      .to.be.revertedWithCustomError(empty, "TooManyInitialListings")
      .withArgs(max + 1, max);
    const full = await factory.deploy(base, admin.address, many.slice(0, max));
    expect(await full.baseMarketOf(max)).to.equal(5n);
    await expect(factory.deploy(base, admin.address, [{ marketId: 1 << 16, baseMarketId: 5 }]))
      .to.be.revertedWithCustomError(empty, "InitialListingOutOfRange")
      .withArgs(1 << 16, 5);
    await expect(factory.deploy(base, admin.address, [{ marketId: 0, baseMarketId: 5 }])).to.be.revertedWithCustomError(
      empty,
      "ZeroMarketId",
    );
    await expect(factory.deploy(base, admin.address, [listings[0], { marketId: 1, baseMarketId: 7 }]))
      .to.be.revertedWithCustomError(empty, "ListedAtDeployment")
      .withArgs(1n);
  });

  it("refuses a market it does not list", async () => {
    const { oracle } = await deployed();
    await expect(oracle.indexPrice(3)).to.be.revertedWithCustomError(oracle, "NotListed").withArgs(3n);
    await expect(oracle.lastIndexPrice(3)).to.be.revertedWithCustomError(oracle, "NotListed").withArgs(3n);
  });
});
