/**
 * Funding at the extremes (SPEC section 5): a premium far beyond the cap settles at the cap, either
 * way; years of missed boundaries catch up in one O(1) settleFunding, exactly the closed form
 * fundingIndex += intervals * F * mark (one truncation, toward zero), the same as settling year by year;
 * and a market priced at $1,000,000 at the largest cap the engine accepts (10%) catches up 1,000 years
 * without an overflow, in the settlement, the views and the liquidation that follows.
 *
 * Markets here are created on the deployed exchange with one 18-decimal pushed feed and mark = index, so
 * the mark in every formula is the feed's price to the wei.
 */
import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt } from "ethers";
import type { Exchange } from "../../lib/contracts";
import { ALT_USD } from "../../lib/markets";
import { wad, WAD } from "../../lib/units";
import {
  closeAll,
  createControlledMarket,
  exchangeFixture,
  FUNDING_INTERVAL,
  openSize,
  type ControlledMarket,
} from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";
import { whatIf } from "./helpers";

const YEAR = 365n * 24n * 3600n;
const INTEREST = wad(ALT_USD.fundingInterestRate);
const CLAMP = wad(ALT_USD.fundingClamp);

const clamp = (x: bigint, lo: bigint, hi: bigint): bigint => (x < lo ? lo : x > hi ? hi : x);
const floorDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a < 0n ? a / b - 1n : a / b);
/** F = clamp(p + clamp(I - p, -c, +c), -cap, +cap) */
const fundingRate = (p: bigint, cap: bigint): bigint => clamp(p + clamp(INTEREST - p, -CLAMP, CLAMP), -cap, cap);
/** Premium of a skew K on scale S: (P_last - index) / index, P_last = index * (S + K) / S rounded down. */
function premium(index: bigint, skew: bigint, skewScale: bigint): bigint {
  const last = (index * (skewScale + skew)) / skewScale;
  return ((last - index) * WAD) / index;
}
/** Funding a signed size owes for an index move, rounded up (the protocol's favour). */
const owed = (size: bigint, delta: bigint): bigint => -floorDiv(-(size * delta), WAD);

interface Settled {
  rate: bigint;
  fundingIndex: bigint;
  boundary: bigint;
  intervals: bigint;
}

function settledIn(ex: Exchange, receipt: ContractTransactionReceipt): Settled {
  const events = receipt.logs
    .map((log) => ex.engine.interface.parseLog(log))
    .filter((parsed) => parsed?.name === "FundingSettled");
  expect(events).to.have.length(1);
  const [, rate, fundingIndex, boundary, intervals] = events[0]!.args;
  return { rate, fundingIndex, boundary, intervals };
}

/** Pushes the market's (unchanged) price so its feed is fresh, then settles funding at `at`. */
async function settleAt(ex: Exchange, m: ControlledMarket, at: bigint): Promise<ContractTransactionReceipt> {
  await time.setNextBlockTimestamp(at - 1n);
  await (await m.feed.setPrice(wad(m.spec.initialPrice))).wait();
  await time.setNextBlockTimestamp(at);
  return (await (await ex.engine.settleFunding(m.marketId)).wait())!;
}

/**
 * Runs a test that moves the clock years ahead from a snapshot, and reverts it: loadFixture only rewinds
 * to a fixture it has seen, so the next file's first fixture would otherwise start centuries later.
 */
const withClockRestored = whatIf;

async function nextBoundary(ex: Exchange, m: ControlledMarket): Promise<bigint> {
  return (await ex.lens.market(m.marketId)).nextFundingTime;
}

describe("adversarial: funding at the extremes", () => {
  for (const side of [1n, -1n]) {
    const name = side > 0n ? "a 20% premium (longs crowd)" : "a -20% premium (shorts crowd)";
    it(`settles ${name} at the cap, ${side > 0n ? "+" : "-"}0.75% per interval, interval after interval`, async () => {
      const { ex, deployer, traders, accounts } = await loadFixture(exchangeFixture);
      const m = await createControlledMarket(ex, deployer, {
        symbol: "ALT-CAP",
        initialPrice: "2",
        markModel: "index",
      });
      const cap = wad(m.spec.fundingCap);
      const index = wad(m.spec.initialPrice);
      // K = +/-1,000,000 on S = 5,000,000: last = index * (1 +/- 20%).
      const whale = await openSize(ex, traders[0], m.marketId, side * wad(1_000_000), wad(800_000));
      expect(premium(index, side * wad(1_000_000), wad(m.spec.skewScale))).to.equal(side * wad("0.2"));

      let fundingIndex = 0n;
      let boundary = await nextBoundary(ex, m);
      for (let i = 0; i < 3; i++) {
        const s = settledIn(ex, await settleAt(ex, m, boundary));
        // fundingIndex += F * mark, F = clamp(0.2 + clamp(0.0001 - 0.2, +/-0.0005), +/-0.0075) = +/-0.0075.
        expect(s.rate).to.equal(side * cap);
        expect(s.rate).to.equal(fundingRate(side * wad("0.2"), cap));
        fundingIndex += (side * cap * index) / WAD;
        expect(s.fundingIndex).to.equal(fundingIndex);
        expect(s.intervals).to.equal(1n);
        expect(s.boundary).to.equal(boundary);
        boundary += FUNDING_INTERVAL;
        // With the premium held through the interval, the view predicts the cap for the next boundary too.
        expect((await ex.lens.market(m.marketId)).predictedFundingRate).to.equal(side * cap);
      }
      // The whale owes (or, short, also owes) 3 * 0.75% * 2 = $0.045 per unit on 1,000,000 units.
      expect((await ex.lens.position(whale.id)).pendingFunding).to.equal(owed(side * wad(1_000_000), fundingIndex));
      expect((await ex.lens.position(whale.id)).pendingFunding).to.equal(wad(45_000));
      await expectConservation(ex, [whale.id], accounts);
    });
  }

  it("catches up 10 years of boundaries in one settleFunding, to the closed form intervals * F * mark, the same as yearly", async () => {
    const { ex, deployer, traders, keeper, accounts } = await loadFixture(exchangeFixture);
    await withClockRestored(async () => {
      const m = await createControlledMarket(ex, deployer, {
        symbol: "ALT-10Y",
        initialPrice: "2",
        markModel: "index",
      });
      const index = wad(m.spec.initialPrice);
      const cap = wad(m.spec.fundingCap);
      const [longTrader, shortTrader] = traders;
      const long = await openSize(ex, longTrader, m.marketId, wad(30_000), wad(6_000));
      const short = await openSize(ex, shortTrader, m.marketId, wad(-20_000), wad(4_000));
      // K = 10,000: premium 10,000 / 5,000,000 = 0.2%; F = 0.002 + clamp(0.0001 - 0.002, +/-0.0005) = 0.15%.
      const skew = wad(10_000);
      const f = fundingRate(premium(index, skew, wad(m.spec.skewScale)), cap);
      expect(f).to.equal(wad("0.0015"));

      // Start on a boundary, so the premium accumulator holds the one premium from then on.
      const b0 = await nextBoundary(ex, m);
      const start = settledIn(ex, await settleAt(ex, m, b0));
      const at = b0 + 10n * YEAR + 1_234n;
      const intervals = (at - b0) / FUNDING_INTERVAL;
      expect(intervals).to.equal(10_950n);

      const yearly = await whatIf(async () => {
        for (let y = 1n; y < 10n; y++) await settleAt(ex, m, b0 + y * YEAR + 17n * y);
        await settleAt(ex, m, at);
        return (await ex.admin.marketState(m.marketId)).fundingIndex;
      });

      const receipt = await settleAt(ex, m, at);
      const s = settledIn(ex, receipt);
      // The closed form, one truncation toward zero: 10,950 * 0.0015 * 2 = 32.85 per unit.
      const delta = (intervals * f * index) / WAD;
      expect(delta).to.equal(wad("32.85"));
      expect(s.intervals).to.equal(intervals);
      expect(s.rate).to.equal(f);
      expect(s.boundary).to.equal(b0 + intervals * FUNDING_INTERVAL);
      expect(s.fundingIndex).to.equal(start.fundingIndex + delta);
      expect(yearly, "ten yearly catch-ups land on the same index").to.equal(s.fundingIndex);
      console.log(`      settleFunding over ${intervals} boundaries: gas ${receipt.gasUsed}`);

      // Each side's funding since it opened, to the unit; of it, the ten years are 30,000 * 32.85 = 985,500
      // for the long and 20,000 * 32.85 = 657,000 for the short.
      const lv = await ex.lens.position(long.id);
      const sv = await ex.lens.position(short.id);
      const since = async (id: bigint) => s.fundingIndex - (await ex.admin.position(id)).fundingSnapshot;
      expect(lv.pendingFunding).to.equal(owed(wad(30_000), await since(long.id)));
      expect(sv.pendingFunding).to.equal(owed(wad(-20_000), await since(short.id)));
      expect(owed(wad(30_000), delta)).to.equal(wad(985_500));
      expect(owed(wad(-20_000), delta)).to.equal(-wad(657_000));

      // The long is far under water: liquidated with bad debt; the short closes with its funding.
      await expect(ex.engine.connect(keeper).liquidate(long.id)).to.emit(ex.engine, "BadDebt");
      const closed = await closeAll(ex, shortTrader, m.marketId);
      expect(closed.trade.fundingPaid).to.equal(sv.pendingFunding);
      await expectConservation(ex, [long.id, short.id], accounts);
    });
  });

  it("catches up 1,000 years at the 10% cap on a $1,000,000 market without overflow, exactly", async () => {
    const { ex, deployer, traders, keeper, accounts } = await loadFixture(exchangeFixture);
    await withClockRestored(async () => {
      const m = await createControlledMarket(ex, deployer, {
        symbol: "HUGE-USD",
        initialPrice: "1000000",
        markModel: "index",
        skewScale: "40",
        maxOpenInterest: "10",
        fundingCap: "0.1",
      });
      const index = wad(m.spec.initialPrice);
      const cap = wad("0.1");
      // A long of 2 on S = 40: premium 5%; F = 0.05 + clamp(0.0001 - 0.05, +/-0.0005) = 4.95%.
      const long = await openSize(ex, traders[0], m.marketId, wad(2), wad(500_000));
      const f = fundingRate(premium(index, wad(2), wad(40)), cap);
      expect(f).to.equal(wad("0.0495"));

      const b0 = await nextBoundary(ex, m);
      const start = settledIn(ex, await settleAt(ex, m, b0));
      const at = b0 + 1_000n * YEAR;
      const intervals = (at - b0) / FUNDING_INTERVAL;
      const s = settledIn(ex, await settleAt(ex, m, at));
      expect(s.intervals).to.equal(intervals);
      expect(s.fundingIndex - start.fundingIndex).to.equal((intervals * f * index) / WAD);
      // 1,095,000 * 4.95% * 1,000,000 = 54,202,500,000 USD per unit: far inside int128.
      expect(s.fundingIndex - start.fundingIndex).to.equal(wad(54_202_500_000n));

      const v = await ex.lens.position(long.id);
      const since = s.fundingIndex - (await ex.admin.position(long.id)).fundingSnapshot;
      expect(v.pendingFunding).to.equal(owed(wad(2), since));
      expect(owed(wad(2), s.fundingIndex - start.fundingIndex)).to.equal(wad(108_405_000_000n));
      expect(v.liquidatable).to.equal(true);
      const receipt = (await (await ex.engine.connect(keeper).liquidate(long.id)).wait())!;
      const badDebt = receipt.logs
        .map((log) => ex.engine.interface.parseLog(log))
        .find((parsed) => parsed?.name === "BadDebt")!.args;
      // Bad debt = pending funding - margin - PnL at mark (entry above the index by the impact).
      expect(badDebt.amount).to.equal(-v.equity);
      expect((await ex.lens.market(m.marketId)).uncoveredBadDebt).to.equal(badDebt.uncovered);
      await expectConservation(ex, [long.id], accounts);
    });
  });
});
