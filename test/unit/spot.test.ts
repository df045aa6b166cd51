/**
 * SPEC section 4, SpotPool: x * y = k with a 0.3% fee, a minimum out, and a TWAP from a cumulative
 * price. The deployed ALT pool holds 100,000 ALT and 200,000 USD: spot 2.
 */
import { expect } from "chai";
import { network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { usd6, wad, WAD } from "../../lib/units";
import type { MarketHandles } from "../../lib/contracts";
import { exchangeFixture } from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";

const FEE_BPS = 30n;
const BPS = 10_000n;
const USD6_SCALE = 10n ** 12n;

/** out = rOut * in * (1 - 0.3%) / (rIn + in * (1 - 0.3%)), rounded down. */
function quoteOut(rIn: bigint, rOut: bigint, amountIn: bigint): bigint {
  const inAfterFee = amountIn * (BPS - FEE_BPS);
  return (rOut * inAfterFee) / (rIn * BPS + inAfterFee);
}

/** Spot = USD reserve (6 decimals, scaled to WAD) per coin (18 decimals), WAD, rounded down. */
async function spotOf(market: MarketHandles): Promise<bigint> {
  const [rCoin, rUsd] = [await market.spotPool.reserveCoin(), await market.spotPool.reserveUsd()];
  return (rUsd * USD6_SCALE * WAD) / rCoin;
}

async function spotFixture() {
  const f = await exchangeFixture();
  const swapper = f.keeper;
  await (await f.ex.collateral.faucet(swapper.address, usd6(1_000_000))).wait();
  await (await f.ex.collateral.connect(swapper).approve(f.alt.spotPool, usd6(1_000_000))).wait();
  await (await f.alt.coin.connect(f.deployer).mint(swapper.address, wad(100_000))).wait();
  await (await f.alt.coin.connect(swapper).approve(f.alt.spotPool, wad(100_000))).wait();
  return { ...f, swapper };
}

async function buy(market: MarketHandles, swapper: HardhatEthersSigner, usd: bigint) {
  return (await market.spotPool.connect(swapper).swap(true, usd, 0n, swapper.address)).wait();
}

describe("spot pool: constant product with a 0.3% fee", () => {
  it("pays the x*y=k quote net of the fee, to the unit, both ways, and keeps the fee in the pool", async () => {
    const { ex, alt, swapper, accounts } = await loadFixture(spotFixture);
    const pool = alt.spotPool.connect(swapper);
    const rCoin = await pool.reserveCoin();
    const rUsd = await pool.reserveUsd();
    expect([rCoin, rUsd]).to.deep.equal([wad(100_000), usd6(200_000)]);

    // Buy with 10,000 USD: out = 100,000 * 10,000 * 0.997 / (200,000 + 10,000 * 0.997) ALT
    const usdIn = usd6(10_000);
    const coinOut = quoteOut(rUsd, rCoin, usdIn);
    expect(await pool.quote(true, usdIn)).to.equal(coinOut);
    const coinBefore = await alt.coin.balanceOf(swapper.address);
    await (await pool.swap(true, usdIn, coinOut, swapper.address)).wait();
    expect((await alt.coin.balanceOf(swapper.address)) - coinBefore).to.equal(coinOut);
    expect(await pool.reserveCoin()).to.equal(rCoin - coinOut);
    expect(await pool.reserveUsd()).to.equal(rUsd + usdIn);
    // The fee stays in: k grew.
    expect((rCoin - coinOut) * (rUsd + usdIn)).to.be.gt(rCoin * rUsd);

    // Sell 3,000 ALT back: out = rUsd' * 3,000 * 0.997 / (rCoin' + 3,000 * 0.997) USD
    const coinIn = wad(3_000);
    const usdOut = quoteOut(rCoin - coinOut, rUsd + usdIn, coinIn);
    const usdBefore = await ex.collateral.balanceOf(swapper.address);
    await (await pool.swap(false, coinIn, usdOut, swapper.address)).wait();
    expect((await ex.collateral.balanceOf(swapper.address)) - usdBefore).to.equal(usdOut);
    expect(await pool.spotPrice()).to.equal(await spotOf(alt));
    // Spot trading holds its own reserves: the vault's books are untouched.
    await expectConservation(ex, [], accounts);
  });

  it("refuses a swap below the minimum out and moves nothing", async () => {
    const { alt, swapper } = await loadFixture(spotFixture);
    const pool = alt.spotPool.connect(swapper);
    const out = await pool.quote(true, usd6(1_000));
    const reserves = [await pool.reserveCoin(), await pool.reserveUsd()];
    await expect(pool.swap(true, usd6(1_000), out + 1n, swapper.address))
      .to.be.revertedWithCustomError(pool, "SlippageExceeded")
      .withArgs(out, out + 1n);
    expect([await pool.reserveCoin(), await pool.reserveUsd()]).to.deep.equal(reserves);
  });
});

describe("spot pool: TWAP", () => {
  it("ignores a single-block pump over a 600 s window, while the spot (window 0) shows it", async () => {
    const { alt, swapper } = await loadFixture(spotFixture);
    await time.increase(1_000); // more history than the window, all at 2
    await buy(alt, swapper, usd6(50_000));
    const pumped = await spotOf(alt);
    expect(pumped).to.be.gt(wad(3));
    expect(await alt.spotPool.twap(600)).to.equal(wad(2));
    expect(await alt.spotPool.twap(0)).to.equal(pumped);
    // The oracle adapter reads the 600 s window.
    expect((await alt.twapFeed.latestRoundData())[1]).to.equal(wad(2));
  });

  it("averages the price over the window, weighted by how long each price held", async () => {
    const { alt, swapper } = await loadFixture(spotFixture);
    await time.increase(1_000);
    const t1 = BigInt(await time.latest()) + 10n;
    await time.setNextBlockTimestamp(t1);
    await buy(alt, swapper, usd6(50_000));
    const p1 = await spotOf(alt);
    await time.setNextBlockTimestamp(t1 + 100n);
    await (await alt.spotPool.connect(swapper).swap(false, wad(20_000), 0n, swapper.address)).wait();
    const p2 = await spotOf(alt);
    await time.increaseTo(t1 + 250n);

    // Over the last 600 s: 2 for 350 s, p1 for 100 s, p2 for 150 s.
    expect(await alt.spotPool.twap(600)).to.equal((wad(2) * 350n + p1 * 100n + p2 * 150n) / 600n);
    // Over the last 200 s: p1 for 50 s, p2 for 150 s.
    expect(await alt.spotPool.twap(200)).to.equal((p1 * 50n + p2 * 150n) / 200n);
    // A window longer than the pool's history averages the history it has, from the seeding t0.
    const [seeded] = await alt.spotPool.queryFilter(alt.spotPool.filters.LiquidityAdded());
    const t0 = BigInt((await seeded.getBlock()).timestamp);
    const now = t1 + 250n;
    expect(await alt.spotPool.twap(now - t0 + 100n)).to.equal(
      (wad(2) * (t1 - t0) + p1 * 100n + p2 * 150n) / (now - t0),
    );
  });
  it("reads the TWAP exactly after the ring wraps, and clamps a longer window to the oldest observation kept", async () => {
    const { alt, swapper } = await loadFixture(spotFixture);
    const pool = alt.spotPool.connect(swapper);
    const slots = await alt.spotPool.OBSERVATION_SLOTS();
    // 8 more swaps than the ring holds, 10 s apart, alternating buys and sells of varying size: each block
    // writes an observation, so the seeding observation and the first 8 swaps' are overwritten.
    const steps: { t: bigint; price: bigint }[] = [];
    let t = BigInt(await time.latest());
    for (let i = 0n; i < slots + 8n; i++) {
      t += 10n;
      await time.setNextBlockTimestamp(t);
      if (i % 2n === 0n) await (await pool.swap(true, usd6(100n + (i % 7n) * 10n), 0n, swapper.address)).wait();
      else await (await pool.swap(false, wad(50n + (i % 5n) * 10n), 0n, swapper.address)).wait();
      steps.push({ t, price: await spotOf(alt) });
    }
    expect(await alt.spotPool.observationCount()).to.equal(slots);
    const now = t + 5n;
    await time.increaseTo(now);
    /** The exact integral of the step prices over [from, now]. */
    const area = (from: bigint): bigint => {
      let sum = 0n;
      for (let i = 0; i < steps.length; i++) {
        const start = steps[i].t > from ? steps[i].t : from;
        const end = i + 1 < steps.length ? steps[i + 1].t : now;
        if (end > start) sum += steps[i].price * (end - start);
      }
      return sum;
    };
    // Windows starting between two observations (mid-ring, near the newest, between the last two) and on one.
    for (const window of [4_000n, 33n, 12n, 1_000n, 2_503n]) {
      expect(await alt.spotPool.twap(Number(window))).to.equal(area(now - window) / window);
    }
    // The oldest observation kept is the 9th swap's block (the 8th in `steps` from 0): a longer window
    // averages from there.
    const oldest = steps[8].t;
    expect(await alt.spotPool.twap(Number(now - oldest + 1_000n))).to.equal(area(oldest) / (now - oldest));
  });

  it("integrates a block once: a second swap in the same block leaves the cumulative price and the observations alone", async () => {
    const { alt, swapper } = await loadFixture(spotFixture);
    await time.increase(100);
    const pool = alt.spotPool.connect(swapper);
    const [before, since, spotBefore] = [
      await alt.spotPool.priceCumulative(),
      await alt.spotPool.lastUpdate(),
      await spotOf(alt),
    ];
    await network.provider.send("evm_setAutomine", [false]);
    try {
      const first = await pool.swap(true, usd6(10_000), 0n, swapper.address);
      const second = await pool.swap(true, usd6(10_000), 0n, swapper.address);
      await network.provider.send("evm_mine", []);
      const [a, b] = [await first.wait(), await second.wait()];
      expect(a!.blockNumber).to.equal(b!.blockNumber);
    } finally {
      await network.provider.send("evm_setAutomine", [true]);
    }
    const [cumulative, count, at] = [
      await alt.spotPool.priceCumulative(),
      await alt.spotPool.observationCount(),
      await alt.spotPool.lastUpdate(),
    ];
    // The first swap integrated the price that held until the block; the second, at the same second, nothing.
    expect(cumulative).to.equal(before + spotBefore * (at - since));
    // One more swap in a later block integrates the post-second-swap price from that block on.
    const spot = await spotOf(alt);
    await time.setNextBlockTimestamp(at + 7n);
    await buy(alt, swapper, usd6(1));
    expect(await alt.spotPool.priceCumulative()).to.equal(cumulative + spot * 7n);
    expect(await alt.spotPool.observationCount()).to.equal(count + 1n);
  });
});
