/**
 * SPEC section 5, "Margin and tiers": maintenance brackets with a maintenance amount that keeps
 * MM = notional * mmr - amount continuous, and the isolated liquidation price
 *   long  (entry*size - M - amt) / (size*(1 - mmr))
 *   short (entry*size + M + amt) / (size*(1 + mmr))
 * with mmr and amt of the tier that holds the notional at that price.
 *
 * The market here has ALT-USD's brackets and IndexMarkModel (mark = index) fed by one 18-decimal feed,
 * so the test sets the mark to the wei.
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { wad, WAD } from "../../lib/units";
import { createControlledMarket, exchangeFixture, openByLeverage, openSize, type Side } from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";

interface TierRow {
  notionalCap: bigint;
  maintenanceAmount: bigint;
  mmr: bigint;
}

const divUp = (a: bigint, b: bigint): bigint => (a === 0n ? 0n : (a - 1n) / b + 1n);

/** Index of the bracket holding notional size * price: the first with size * price <= cap (exact), else the last. */
function tierOf(tiers: readonly TierRow[], size: bigint, price: bigint): number {
  for (let i = 0; i < tiers.length - 1; i++) if (size * price <= tiers[i].notionalCap * WAD) return i;
  return tiers.length - 1;
}

/**
 * The SPEC closed form per tier, as the exact rational num / den (WAD), and the first integer price at
 * which the position is liquidatable: equity < MM is strict, so that price lies strictly beyond the
 * root (below it for a long, above it for a short). Keeps the root that falls inside its own tier.
 */
function specLiquidationPrice(tiers: readonly TierRow[], isLong: boolean, size: bigint, entry: bigint, margin: bigint) {
  for (let i = 0; i < tiers.length; i++) {
    const { mmr, maintenanceAmount: amt } = tiers[i];
    const cushion = (margin + amt) * WAD * WAD;
    const num = isLong ? size * entry * WAD - cushion : size * entry * WAD + cushion;
    const den = size * (isLong ? WAD - mmr : WAD + mmr);
    const price = isLong ? divUp(num, den) - 1n : num / den + 1n;
    if (tierOf(tiers, size, price) === i) return { price, tier: i };
  }
  throw new Error("no root inside its tier");
}

async function marginFixture() {
  const f = await exchangeFixture();
  const market = await createControlledMarket(f.ex, f.deployer, {
    symbol: "IDX-USD",
    initialPrice: "2000",
    markModel: "index",
    skewScale: "1000000",
    maxOpenInterest: "500000",
  });
  return { ...f, market };
}

describe("maintenance tiers", () => {
  it("derives each tier's maintenance amount so that MM is continuous at every cap", async () => {
    const { ex, traders, market, accounts } = await loadFixture(marginFixture);
    const tiers = await ex.admin.tiers(market.marketId);
    // amt_1 = 0; amt_i = amt_(i-1) + cap_(i-1) * (mmr_i - mmr_(i-1)):
    //   50,000 * (0.01 - 0.005) = 250; 250 + 250,000 * (0.025 - 0.01) = 4,000; 4,000 + 1,000,000 * (0.05 - 0.025) = 29,000
    expect(tiers.map((t) => t.maintenanceAmount)).to.deep.equal([0n, wad(250), wad(4_000), wad(29_000)]);

    // One unit long: its notional is the price, so the index walks it across every cap.
    const { id } = await openSize(ex, traders[0], market.marketId, wad(1), wad(20_000));
    for (let i = 0; i < tiers.length - 1; i++) {
      const cap = tiers[i].notionalCap;
      await (await market.feed.setPrice(cap)).wait();
      const below = (await ex.lens.position(id)).maintenanceMargin;
      await (await market.feed.setPrice(cap + 1n)).wait();
      const above = (await ex.lens.position(id)).maintenanceMargin;
      // MM rounds up: at the cap tier i, one wei above it tier i + 1.
      expect(below).to.equal(divUp(cap * tiers[i].mmr, WAD) - tiers[i].maintenanceAmount);
      expect(above).to.equal(divUp((cap + 1n) * tiers[i + 1].mmr, WAD) - tiers[i + 1].maintenanceAmount);
      // One wei of notional moves MM by at most one wei (mmr < 1, then rounded up) ...
      expect(above - below)
        .to.be.gte(0n)
        .and.lte(1n);
      // ... where the bare rates would jump by cap * (mmr_(i+1) - mmr_i).
      expect((cap * (tiers[i + 1].mmr - tiers[i].mmr)) / WAD).to.be.gte(wad(250));
    }
    await expectConservation(ex, [id], accounts);
  });
});

describe("liquidation price", () => {
  // Tiers are 0-based here: 0 holds notionals up to 50,000, 1 up to 250,000. Index 2,000.
  const cases: { name: string; side: Side; margin: bigint; entryTier: number; tier: number }[] = [
    { name: "a 10x long in tier 1", side: "long", margin: wad(1_000), entryTier: 0, tier: 0 },
    { name: "a 10x short in tier 1", side: "short", margin: wad(1_000), entryTier: 0, tier: 0 },
    { name: "a 10x long in tier 2", side: "long", margin: wad(10_000), entryTier: 1, tier: 1 },
    { name: "a 10x short in tier 2", side: "short", margin: wad(10_000), entryTier: 1, tier: 1 },
    // 48,000 short: tier 1 at entry, but at +9.4% its notional is above the 50,000 cap.
    { name: "a 10x short that enters tier 2 on its way up", side: "short", margin: wad(4_800), entryTier: 0, tier: 1 },
    // 52,000 long: tier 2 at entry, tier 1 by the time it falls 9.5%.
    {
      name: "a 10x long that drops into tier 1 on its way down",
      side: "long",
      margin: wad(5_200),
      entryTier: 1,
      tier: 0,
    },
  ];

  for (const c of cases) {
    it(`is the SPEC closed form for ${c.name}, and liquidation starts exactly there`, async () => {
      const { ex, traders, keeper, market, accounts } = await loadFixture(marginFixture);
      const tiers = await ex.admin.tiers(market.marketId);
      const { id } = await openByLeverage(ex, traders[0], market.marketId, {
        side: c.side,
        margin: c.margin,
        leverage: 10n,
      });
      const p = await ex.admin.position(id);
      const isLong = p.size > 0n;
      const size = isLong ? p.size : -p.size;
      const view = await ex.lens.position(id);
      expect(view.pendingFunding).to.equal(0n);

      const expected = specLiquidationPrice(tiers, isLong, size, p.entryPrice, p.margin);
      expect(tierOf(tiers, size, p.entryPrice), "tier at entry").to.equal(c.entryTier);
      expect(expected.tier, "tier at the liquidation price").to.equal(c.tier);
      expect(view.liquidationPrice).to.equal(expected.price);
      const distance = isLong ? p.entryPrice - expected.price : expected.price - p.entryPrice;
      expect(distance * 100n)
        .to.be.gt(p.entryPrice * 9n)
        .and.lt(p.entryPrice * 10n); // 10x: 9-10% away

      // One wei on the safe side: healthy, and liquidate refuses.
      const safe = isLong ? expected.price + 1n : expected.price - 1n;
      await (await market.feed.setPrice(safe)).wait();
      expect((await ex.lens.position(id)).liquidatable).to.equal(false);
      await expect(ex.engine.connect(keeper).liquidate(id))
        .to.be.revertedWithCustomError(ex.engine, "PositionHealthy")
        .withArgs(id, safe);

      // At the liquidation price: liquidatable, and liquidate succeeds.
      await (await market.feed.setPrice(expected.price)).wait();
      expect((await ex.lens.position(id)).liquidatable).to.equal(true);
      await expect(ex.engine.connect(keeper).liquidate(id)).to.emit(ex.engine, "Liquidation");
      expect(await ex.vault.freeBalance(keeper.address)).to.be.gt(0n);
      await expectConservation(ex, [id], accounts);
    });
  }
});
