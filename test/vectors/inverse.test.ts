/**
 * Coin-margined (inverse) math, SPEC 9.2: contracts/libraries/InverseMath.sol (through
 * InverseMathHarness) and its mirror lib/inverse.ts. The worked examples check the formulas with numbers a
 * trader can follow; random inputs (fast-check) then hold the mirror to the contract on every function, and
 * the liquidation price to the exact boundary of the on-chain check. A position carries its cost (Q/E in
 * coin), the sum of its fills' costs; the pool's per-side sums of face and cost value every position exactly.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import { InverseMath } from "../../lib/inverse";
import { MarginMath, MAX_UINT256, WAD, WadMath, type Tier } from "../../lib/math";
import { InverseMathHarness__factory, type InverseMathHarness } from "../../typechain-types";

const RUNS = 120;
const wad = (x: number | bigint) => BigInt(x) * WAD;
const bps = (x: bigint) => (x * WAD) / 10_000n;

/** BTCUSD-INV brackets in coin notional: 0.5% up to 50 BTC, 1% to 250, 2.5% to 1,000 (100x, 50x, 20x). */
const BTC_INV_TIERS: Tier[] = MarginMath.deriveMaintenanceAmounts([
  { notionalCap: wad(50), maintenanceAmount: 0n, mmr: bps(50n), maxLeverage: wad(100) },
  { notionalCap: wad(250), maintenanceAmount: 0n, mmr: bps(100n), maxLeverage: wad(50) },
  { notionalCap: wad(1000), maintenanceAmount: 0n, mmr: bps(250n), maxLeverage: wad(20) },
]);

async function harnessFixture(): Promise<InverseMathHarness> {
  const [signer] = await ethers.getSigners();
  return new InverseMathHarness__factory(signer).deploy();
}

/** 100 contracts of 100 USD at 50,000 USD: 10,000 USD of face, 0.2 BTC of notional at entry. */
const FACE = wad(10_000);
const ENTRY = wad(50_000);
const COST = InverseMath.cost(FACE, ENTRY); // 0.2 BTC, exact for both sides

describe("InverseMath (coin-margined markets, SPEC 9.2)", () => {
  describe("worked examples", () => {
    it("a 10x short's liquidation price is Q(1 - mmr) / (Q/E - M): 55,277.78, later than the USD-margined 54,726", async () => {
      const harness = await loadFixture(harnessFixture);
      const margin = wad(2) / 100n; // 0.02 BTC = 1,000 USD at entry: 10x
      const expected = (FACE * (WAD - bps(50n))) / (FACE / 50_000n - margin) + 1n;
      expect(COST).to.equal(wad(2) / 10n);
      expect(await harness.cost(-FACE, ENTRY)).to.equal(COST);
      const lp = InverseMath.liquidationPrice(BTC_INV_TIERS, -FACE, COST, margin);
      expect(lp).to.equal(expected);
      expect(lp / WAD).to.equal(55_277n);
      expect(await harness.liquidationPrice(BTC_INV_TIERS, -FACE, COST, margin)).to.equal(lp);
      const usdTier = { notionalCap: wad(10 ** 9), maintenanceAmount: 0n, mmr: bps(50n), maxLeverage: wad(100) };
      const linear = MarginMath.liquidationPrice([usdTier], -(FACE * WAD) / ENTRY, ENTRY, wad(1000));
      expect(linear / WAD).to.equal(54_726n);
    });

    it("a 10x long's liquidation price is Q(1 + mmr) / (M + Q/E): 45,681.82", async () => {
      const harness = await loadFixture(harnessFixture);
      const margin = wad(2) / 100n;
      const lp = InverseMath.liquidationPrice(BTC_INV_TIERS, FACE, COST, margin);
      expect(lp).to.equal((FACE * (WAD + bps(50n)) - 1n) / (margin + FACE / 50_000n));
      expect(lp / 10n ** 16n).to.equal(4_568_181n);
      expect(await harness.liquidationPrice(BTC_INV_TIERS, FACE, COST, margin)).to.equal(lp);
    });

    it("a 1x short has no liquidation price and survives a 10x pump: it is a synthetic dollar", async () => {
      const harness = await loadFixture(harnessFixture);
      const margin = COST; // 0.2 BTC: exactly the face at entry
      expect(InverseMath.liquidationPrice(BTC_INV_TIERS, -FACE, COST, margin)).to.equal(MAX_UINT256);
      expect(await harness.liquidationPrice(BTC_INV_TIERS, -FACE, COST, margin)).to.equal(MAX_UINT256);
      const pump = ENTRY * 10n;
      expect(await harness.isLiquidatable(BTC_INV_TIERS, -FACE, COST, margin, pump)).to.equal(false);
      // equity in coin x price stays the face: 0.2 BTC + PnL = 10,000 USD at any price
      const equity = margin + InverseMath.pnl(-FACE, COST, pump);
      expect((equity * pump) / WAD / WAD).to.equal(10_000n);
    });

    it("a coin-margined long loses twice in a crash: its PnL in coin grows faster than a linear long's", () => {
      const crash = wad(25_000);
      const coinLoss = -InverseMath.pnl(FACE, COST, crash); // coin
      expect(coinLoss).to.equal(wad(2) / 10n); // 0.2 BTC: Q(1/25,000 - 1/50,000)
      // in USD at the crash price that is 5,000 USD, as a linear long of 0.2 BTC; but the margin (coin)
      // has also halved in USD: the position and the collateral both lose
      expect((coinLoss * crash) / WAD / WAD).to.equal(5_000n);
    });

    it("entries average harmonically: 10,000 USD at 50,000 and 10,000 USD at 40,000 cost 0.45 BTC, an entry of 44,444.44", async () => {
      const harness = await loadFixture(harnessFixture);
      const cost = COST + InverseMath.cost(FACE, wad(40_000));
      expect(cost).to.equal(wad(45) / 100n);
      const entry = InverseMath.entryPrice(2n * FACE, cost);
      expect(await harness.entryPrice(2n * FACE, cost)).to.equal(entry);
      expect(entry / 10n ** 16n).to.equal(4_444_444n); // not the arithmetic 45,000
    });

    it("a partial close takes its share of the cost and the rest stays: closing half of 0.45 BTC at 60,000", async () => {
      const harness = await loadFixture(harnessFixture);
      const [size, cost, price] = [2n * FACE, wad(45) / 100n, wad(60_000)];
      const closed = InverseMath.closedCost(size, cost, FACE);
      expect(await harness.closedCost(size, cost, FACE)).to.equal(closed);
      expect(closed).to.equal(wad(225) / 1000n);
      // realised: 0.225 - 10,000/60,000 = 0.0583 BTC; the remaining half carries the same
      const realised = InverseMath.pnl(FACE, closed, price);
      expect(realised).to.equal(closed - WadMath.divUp(FACE, price));
      expect(realised + InverseMath.pnl(FACE, cost - closed, price)).to.equal(InverseMath.pnl(size, cost, price));
    });

    it("fees and funding are in coin: 5 bps of 10,000 USD at 50,000 is 0.0001 BTC", async () => {
      const harness = await loadFixture(harnessFixture);
      const fee = InverseMath.fee(0n, FACE, ENTRY, bps(5n), bps(2n));
      expect(fee).to.equal(wad(1) / 10_000n);
      expect(await harness.fee(0n, FACE, ENTRY, bps(5n), bps(2n))).to.equal(fee);
      const step = InverseMath.fundingIndexDelta(bps(1n), ENTRY); // 0.01% per USD of face, in coin
      expect((step * FACE) / WAD).to.equal(wad(1) / 50_000n); // 1 USD of 10,000, i.e. 0.00002 BTC
    });
  });

  describe("random inputs: lib/inverse.ts equals the contract, to the unit", () => {
    const arbTiers: fc.Arbitrary<Tier[]> = fc
      .array(fc.tuple(fc.bigInt(1n, 50_000n), fc.bigInt(20n, 500n)), { minLength: 1, maxLength: 4 })
      .map((steps) => {
        let cap = 0n;
        let mmrTenthBps = 0n;
        const raw = steps.map(([capStep, mmrStep]) => {
          cap += capStep;
          mmrTenthBps += mmrStep;
          const mmr = (mmrTenthBps * WAD) / 100_000n;
          return { notionalCap: cap * WAD, maintenanceAmount: 0n, mmr, maxLeverage: (WAD * WAD) / (2n * mmr) };
        });
        return MarginMath.deriveMaintenanceAmounts(raw.filter((t) => t.mmr < WAD));
      })
      .filter((t) => t.length > 0);

    const arbPosition = fc.record({
      tiers: arbTiers,
      entry: fc.bigInt(10n ** 14n, 10n ** 24n),
      face: fc.bigInt(10n ** 18n, 10n ** 27n),
      isLong: fc.boolean(),
      leverageTenths: fc.bigInt(5n, 1500n),
      price: fc.bigInt(10n ** 14n, 10n ** 24n),
    });

    /** The position `r` opens: its face, its cost at entry and a margin for its leverage. */
    const position = (r: { entry: bigint; face: bigint; isLong: boolean; leverageTenths: bigint }) => {
      const size = r.isLong ? r.face : -r.face;
      const cost = InverseMath.cost(size, r.entry);
      return { size, cost, margin: (cost * 10n) / r.leverageTenths };
    };

    it("cost, pnl, entryPrice, notional, tierOf, maintenanceMargin, health, meetsInitialMargin agree", async () => {
      const harness = await loadFixture(harnessFixture);
      await fc.assert(
        fc.asyncProperty(arbPosition, async (r) => {
          const { size, cost, margin } = position(r);
          const abs = r.face;
          expect(await harness.cost(size, r.entry)).to.equal(cost);
          expect(await harness.pnl(size, cost, r.price)).to.equal(InverseMath.pnl(size, cost, r.price));
          expect(await harness.entryPrice(abs, cost)).to.equal(InverseMath.entryPrice(abs, cost));
          expect(await harness.notional(abs, r.price)).to.equal(InverseMath.notional(abs, r.price));
          expect(await harness.tierOf(r.tiers, abs, r.price)).to.equal(
            BigInt(InverseMath.tierOf(r.tiers, abs, r.price)),
          );
          expect(await harness.maintenanceMargin(r.tiers, abs, r.price)).to.equal(
            InverseMath.maintenanceMargin(r.tiers, abs, r.price),
          );
          expect(await harness.health(r.tiers, size, cost, margin, r.price)).to.equal(
            InverseMath.health(r.tiers, size, cost, margin, r.price),
          );
          const im = await harness.meetsInitialMargin(r.tiers, abs, r.price, margin);
          const mirror = InverseMath.meetsInitialMargin(r.tiers, abs, r.price, margin);
          expect([im.ok, im.leverage, im.maxLeverage]).to.deep.equal([mirror.ok, mirror.leverage, mirror.maxLeverage]);
        }),
        { numRuns: RUNS },
      );
    });

    it("the liquidation price is the exact boundary of the on-chain check (and agrees with the mirror)", async () => {
      const harness = await loadFixture(harnessFixture);
      await fc.assert(
        fc.asyncProperty(arbPosition, async (r) => {
          const { size, cost, margin } = position(r);
          const lp = await harness.liquidationPrice(r.tiers, size, cost, margin);
          expect(lp).to.equal(InverseMath.liquidationPrice(r.tiers, size, cost, margin));
          const liq = (p: bigint) => InverseMath.isLiquidatable(r.tiers, size, cost, margin, p);
          if (lp === 0n || lp === MAX_UINT256) {
            // 0: a long never liquidatable or a short always; max: a short never or a long always
            const always = size > 0n === (lp === MAX_UINT256);
            expect(liq(1n)).to.equal(always);
            expect(liq(10n ** 30n)).to.equal(always);
            return;
          }
          expect(liq(lp), "liquidatable at its liquidation price").to.equal(true);
          expect(liq(size > 0n ? lp + 1n : lp - 1n), "healthy one unit inside").to.equal(false);
        }),
        { numRuns: RUNS },
      );
    });

    it("fee, fundingIndexDelta and closedCost agree; fills add their costs into an entry between the two fills", async () => {
      const harness = await loadFixture(harnessFixture);
      const arb = fc.record({
        skew: fc.bigInt(-(10n ** 27n), 10n ** 27n),
        delta: fc.bigInt(-(10n ** 27n), 10n ** 27n).filter((d) => d !== 0n),
        size: fc.bigInt(10n ** 18n, 10n ** 27n),
        entry: fc.bigInt(10n ** 14n, 10n ** 24n),
        fill: fc.bigInt(10n ** 14n, 10n ** 24n),
        rate: fc.bigInt(-(10n ** 16n), 10n ** 16n),
        closedPermille: fc.bigInt(0n, 1000n),
      });
      await fc.assert(
        fc.asyncProperty(arb, async (r) => {
          const taker = bps(5n);
          const maker = bps(2n);
          expect(await harness.fee(r.skew, r.delta, r.fill, taker, maker)).to.equal(
            InverseMath.fee(r.skew, r.delta, r.fill, taker, maker),
          );
          expect(await harness.fundingIndexDelta(r.rate, r.fill)).to.equal(
            InverseMath.fundingIndexDelta(r.rate, r.fill),
          );
          const size = r.delta > 0n ? r.size : -r.size; // the same side as the fill: an increase
          const cost = InverseMath.cost(size, r.entry) + InverseMath.cost(r.delta, r.fill);
          const entry = InverseMath.entryPrice(WadMath.abs(size + r.delta), cost);
          const [lo, hi] = r.entry < r.fill ? [r.entry, r.fill] : [r.fill, r.entry];
          // the harmonic mean lies between the fills, give or take the cost's rounding
          expect(entry >= (lo * 999n) / 1000n && entry <= (hi * 1001n) / 1000n).to.equal(true);
          const closed = (WadMath.abs(size) * r.closedPermille) / 1000n;
          const part = InverseMath.closedCost(size, cost, closed);
          expect(await harness.closedCost(size, cost, closed)).to.equal(part);
          expect(part <= cost).to.equal(true);
        }),
        { numRuns: RUNS },
      );
    });

    it("closing in parts (the closed share of the cost, the rest kept) never pays more than closing whole", () => {
      fc.assert(
        fc.property(arbPosition, fc.bigInt(0n, 1000n), (r, permille) => {
          const { size, cost } = position(r);
          const closed = (r.face * permille) / 1000n;
          const part = InverseMath.closedCost(size, cost, closed);
          const sign = size > 0n ? 1n : -1n;
          const parts =
            InverseMath.pnl(sign * closed, part, r.price) + InverseMath.pnl(size - sign * closed, cost - part, r.price);
          expect(parts <= InverseMath.pnl(size, cost, r.price)).to.equal(true);
        }),
        { numRuns: 1000 },
      );
    });

    it("a long and a short of the same face and entry never pay out more than they lose (rounding to the protocol)", () => {
      fc.assert(
        fc.property(arbPosition, (r) => {
          const long = InverseMath.pnl(r.face, InverseMath.cost(r.face, r.entry), r.price);
          const short = InverseMath.pnl(-r.face, InverseMath.cost(-r.face, r.entry), r.price);
          expect(long + short <= 0n && long + short >= -2n).to.equal(true);
        }),
        { numRuns: 1000 },
      );
    });

    it("the pool's per-side sums of face and cost value every open position exactly: rounded once, never below what it pays", async () => {
      const harness = await loadFixture(harnessFixture);
      const book = fc.array(arbPosition, { minLength: 1, maxLength: 12 });
      await fc.assert(
        fc.asyncProperty(book, fc.bigInt(10n ** 14n, 10n ** 24n), async (rs, mark) => {
          const sums = { longFace: 0n, longCost: 0n, shortFace: 0n, shortCost: 0n };
          let exact = 0n; // sum of s*(cost*mark - Q*WAD), over mark
          let paid = 0n;
          for (const r of rs) {
            const { size, cost } = position(r);
            if (size > 0n) [sums.longFace, sums.longCost] = [sums.longFace + r.face, sums.longCost + cost];
            else [sums.shortFace, sums.shortCost] = [sums.shortFace + r.face, sums.shortCost + cost];
            exact += (size > 0n ? 1n : -1n) * (cost * mark - r.face * WAD);
            paid += InverseMath.pnl(size, cost, mark);
          }
          const pool = InverseMath.tradersPnl(sums.longFace, sums.longCost, sums.shortFace, sums.shortCost, mark);
          expect(pool).to.equal(-WadMath.floorDiv(-exact, mark));
          expect(pool >= paid && pool - paid <= BigInt(rs.length)).to.equal(true);
          expect(await harness.tradersPnl(sums.longFace, sums.longCost, sums.shortFace, sums.shortCost, mark)).to.equal(
            pool,
          );
          const long = InverseMath.sidePnl(sums.longFace, sums.longCost, mark, true);
          const short = InverseMath.sidePnl(sums.shortFace, sums.shortCost, mark, false);
          expect(await harness.sidePnl(sums.longFace, sums.longCost, mark, true)).to.equal(long);
          expect(await harness.sidePnl(sums.shortFace, sums.shortCost, mark, false)).to.equal(short);
          expect(long + short <= pool && pool - (long + short) <= 2n).to.equal(true);
        }),
        { numRuns: RUNS },
      );
    });
  });
});
