import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt, Signer } from "ethers";
import { wad, WAD } from "../../lib/units";
import {
  abs,
  ALT_START_PRICE,
  deployRiskSystem,
  eventsOf,
  expectConserved,
  FUNDING_INTERVAL,
  fundedWallets,
  fundingOwed,
  isLiquidatable,
  mulDown,
  mulUp,
  open,
  pnl,
  setIndex,
  specLiquidationPrice,
  tierIndex,
  tiersOf,
  type RiskSystem,
  type TierValues,
} from "./riskFixture";

// ALT-USD (lib/markets.ts): liquidation fee 0.25% of the closed notional, at least $1; partial
// liquidation buffer 10%; tiers (cap, mmr): ($50k, 0.5%), ($250k, 1%), ($1M, 2.5%), ($5M, 5%).
const LIQ_FEE_RATE = wad("0.0025");
const MIN_LIQ_FEE = wad(1);
const PARTIAL_BUFFER = wad("0.1");

async function riskFixture() {
  return deployRiskSystem();
}

async function thinInsuranceFixture() {
  return deployRiskSystem({ insuranceFundUsd: "500" });
}

interface Snapshot {
  size: bigint;
  entry: bigint;
  margin: bigint;
  pending: bigint;
}

async function positionOf(s: RiskSystem, id: bigint): Promise<Snapshot> {
  const v = await s.ex.lens.position(id);
  return { size: v.size, entry: v.entryPrice, margin: v.margin, pending: v.pendingFunding };
}

async function liquidate(s: RiskSystem, id: bigint): Promise<ContractTransactionReceipt> {
  return (await (await s.ex.engine.connect(s.keeper).liquidate(id)).wait())!;
}

/** The SPEC reward: min(equity, max(rate * closed notional, minimum fee)), notional and fee rounded down. */
function expectedReward(closedAbsSize: bigint, mark: bigint, equity: bigint): bigint {
  if (equity <= 0n) return 0n;
  const fee = mulDown(mulDown(closedAbsSize, mark), LIQ_FEE_RATE);
  const withMin = fee > MIN_LIQ_FEE ? fee : MIN_LIQ_FEE;
  return equity < withMin ? equity : withMin;
}

/** Equity at `mark`: margin - pending funding + PnL (rounded down). */
function equityAt(p: Snapshot, mark: bigint): bigint {
  return p.margin - p.pending + pnl(p.size, p.entry, mark);
}

/**
 * The remainder a partial liquidation keeps (SPEC: down to the size that restores health, with the
 * buffer b, after the fee f on the closed part): the largest notional n with
 * E - f * (N - n) >= (1 + b) * MM(n), MM(n) = n * mmr - amt, searched from the top tier down.
 */
function partialRemainderNotional(tiers: TierValues[], notional: bigint, equity: bigint): bigint {
  for (let i = tiers.length - 1; i >= 0; i--) {
    const t = tiers[i];
    const scaledMmr = mulUp(t.mmr, WAD + PARTIAL_BUFFER);
    if (scaledMmr <= LIQ_FEE_RATE) continue;
    const rhs = equity - mulUp(LIQ_FEE_RATE, notional) + mulDown(t.maintenanceAmount, WAD + PARTIAL_BUFFER);
    if (rhs <= 0n) continue;
    let n = (rhs * WAD) / (scaledMmr - LIQ_FEE_RATE);
    if (n > t.notionalCap) n = t.notionalCap;
    const floorCap = i > 0 ? tiers[i - 1].notionalCap : 0n;
    if (n > floorCap && n < notional) return n;
  }
  return 0n;
}

describe("liquidation (SPEC 5: liquidatable iff Equity(mark) < MM; reward to the caller, rest to insurance)", () => {
  describe("a 10x short and its shown liquidation price", () => {
    async function tenXShort(s: RiskSystem, trader: Signer = s.traders[0]) {
      // 5,000 ALT at about $2: $10,000 notional on $1,000 margin
      return open(s, trader, wad(-5_000), wad(1_000));
    }

    it("shows the SPEC price (entry*size + M + amt) / (size*(1 + mmr)) and liquidates just past it, not before", async () => {
      const s = await loadFixture(riskFixture);
      const { id } = await tenXShort(s);
      const p = await positionOf(s, id);
      const tiers = await tiersOf(s);
      const shown = (await s.ex.lens.position(id)).liquidationPrice;
      // tier 1 (mmr 0.5%, amt 0): (entry * 5,000 + 1,000) / (5,000 * 1.005), about 9.4% above entry
      const root = ((p.entry * 5_000n + 1_000n * WAD) * WAD) / (5_000n * (WAD + wad("0.005")));
      expect(shown).to.equal(root + 1n); // the first price strictly above the root
      expect(shown).to.equal(specLiquidationPrice(tiers, p.size, p.entry, p.margin));
      // (1 + M / (entry * size)) / (1 + mmr) = (1 + 1,000 / (5,000 * $1.999)) / 1.005, about 1.0946
      expect((shown * 10_000n) / p.entry)
        .to.be.gte(10_940n)
        .and.lte(10_950n);

      await setIndex(s, shown - 1n);
      expect((await s.ex.lens.position(id)).liquidatable).to.equal(false);
      await expect(s.ex.engine.connect(s.keeper).liquidate(id))
        .to.be.revertedWithCustomError(s.ex.engine, "PositionHealthy")
        .withArgs(id, shown - 1n);

      await setIndex(s, shown);
      expect((await s.ex.lens.position(id)).liquidatable).to.equal(true);
      const receipt = await liquidate(s, id);
      const [liq] = eventsOf(receipt, s.ex, "Liquidation");
      expect(liq.args.markPrice).to.equal(shown);
      expect(liq.args.closedSize).to.equal(p.size);
      expect((await s.ex.admin.position(id)).size).to.equal(0n);
      await expectConserved(s, [id]);
    });

    it("pays the keeper min(equity, max(0.25% of notional, $1)) and the rest to the insurance fund, to the unit", async () => {
      const s = await loadFixture(riskFixture);
      const trader = s.traders[0];
      const { id } = await tenXShort(s);
      const p = await positionOf(s, id);
      const shown = (await s.ex.lens.position(id)).liquidationPrice;
      const mark = shown + wad("0.003"); // a little past it: equity still positive
      await setIndex(s, mark);
      const before = {
        keeper: await s.ex.vault.freeBalance(s.keeper.address),
        trader: await s.ex.vault.freeBalance(trader.address),
        insurance: await s.ex.vault.insuranceFund(),
        pool: await s.ex.vault.poolAssets(),
        margin: await s.ex.vault.totalMargin(),
      };
      const receipt = await liquidate(s, id);

      const equity = equityAt(p, mark); // $1,000 + 5,000 * (entry - mark), about $40
      const reward = expectedReward(5_000n * WAD, mark, equity); // 0.25% * 5,000 * mark, about $27.4
      expect(equity).to.be.gt(reward);
      expect(reward).to.be.gt(MIN_LIQ_FEE);
      const [liq] = eventsOf(receipt, s.ex, "Liquidation");
      expect(liq.args.equity).to.equal(equity);
      expect(liq.args.reward).to.equal(reward);
      expect(liq.args.badDebt).to.equal(0n);
      expect(liq.args.keeper).to.equal(s.keeper.address);
      expect((await s.ex.vault.freeBalance(s.keeper.address)) - before.keeper).to.equal(reward);
      expect((await s.ex.vault.insuranceFund()) - before.insurance).to.equal(equity - reward);
      // the pool takes the trader's loss: margin - equity
      expect((await s.ex.vault.poolAssets()) - before.pool).to.equal(p.margin - equity);
      expect(before.margin - (await s.ex.vault.totalMargin())).to.equal(p.margin);
      expect(await s.ex.vault.freeBalance(trader.address)).to.equal(before.trader);
      await expectConserved(s, [id]);
    });

    it("pays the $1 minimum fee when 0.25% of the notional is less", async () => {
      const s = await loadFixture(riskFixture);
      // 100 ALT at about $2 on $20: a $200 notional earns 0.25% = $0.5, less than the minimum
      const { id } = await open(s, s.traders[0], wad(-100), wad(20));
      const p = await positionOf(s, id);
      const shown = (await s.ex.lens.position(id)).liquidationPrice;
      await setIndex(s, shown);
      const keeper0 = await s.ex.vault.freeBalance(s.keeper.address);
      const [liq] = eventsOf(await liquidate(s, id), s.ex, "Liquidation");
      const equity = equityAt(p, shown);
      expect(equity).to.be.gt(MIN_LIQ_FEE);
      expect(expectedReward(100n * WAD, shown, equity)).to.equal(MIN_LIQ_FEE);
      expect(liq.args.reward).to.equal(MIN_LIQ_FEE);
      expect((await s.ex.vault.freeBalance(s.keeper.address)) - keeper0).to.equal(MIN_LIQ_FEE);
      await expectConserved(s, [id]);
    });
  });

  describe("bad debt", () => {
    it("is paid from the insurance fund to the pool when the fund covers it", async () => {
      const s = await loadFixture(riskFixture);
      const { id } = await open(s, s.traders[0], wad(-5_000), wad(1_000));
      const p = await positionOf(s, id);
      const mark = wad("2.6"); // +30%: the short loses about $3,000 on $1,000 of margin
      await setIndex(s, mark);
      const insurance0 = await s.ex.vault.insuranceFund();
      const pool0 = await s.ex.vault.poolAssets();
      const keeper0 = await s.ex.vault.freeBalance(s.keeper.address);
      const receipt = await liquidate(s, id);

      const equity = equityAt(p, mark);
      const badDebt = -equity;
      expect(badDebt).to.be.gt(wad(1_900));
      expect(insurance0).to.be.gt(badDebt);
      const [liq] = eventsOf(receipt, s.ex, "Liquidation");
      expect(liq.args.equity).to.equal(equity);
      expect(liq.args.reward).to.equal(0n);
      expect(liq.args.badDebt).to.equal(badDebt);
      await expect(receipt.hash).to.emit(s.ex.engine, "BadDebt").withArgs(s.marketId, badDebt, badDebt, 0n);
      expect(insurance0 - (await s.ex.vault.insuranceFund())).to.equal(badDebt);
      // the pool is made whole: the margin plus the bad debt, i.e. the trader's whole loss
      expect((await s.ex.vault.poolAssets()) - pool0).to.equal(p.margin + badDebt);
      expect(await s.ex.vault.freeBalance(s.keeper.address)).to.equal(keeper0);
      expect((await s.ex.admin.marketState(s.marketId)).uncoveredBadDebt).to.equal(0n);
      await expectConserved(s, [id]);
    });

    it("is absorbed by the pool, and recorded, where the insurance fund runs out", async () => {
      const s = await loadFixture(thinInsuranceFixture);
      const { id } = await open(s, s.traders[0], wad(-5_000), wad(1_000));
      const p = await positionOf(s, id);
      const mark = wad("2.6");
      await setIndex(s, mark);
      const insurance0 = await s.ex.vault.insuranceFund(); // $500 + the insurance share of one fee
      const pool0 = await s.ex.vault.poolAssets();
      const receipt = await liquidate(s, id);

      const badDebt = -equityAt(p, mark);
      const uncovered = badDebt - insurance0;
      expect(uncovered).to.be.gt(wad(1_400));
      await expect(receipt.hash).to.emit(s.ex.engine, "BadDebt").withArgs(s.marketId, badDebt, insurance0, uncovered);
      expect(await s.ex.vault.insuranceFund()).to.equal(0n);
      expect((await s.ex.vault.poolAssets()) - pool0).to.equal(p.margin + insurance0);
      expect((await s.ex.admin.marketState(s.marketId)).uncoveredBadDebt).to.equal(uncovered);
      expect((await s.ex.lens.market(s.marketId)).uncoveredBadDebt).to.equal(uncovered);
      await expectConserved(s, [id]);
    });

    it("never takes more than the position's margin from its trader (the free balance is untouched)", async () => {
      const s = await loadFixture(thinInsuranceFixture);
      const [trader, bystander] = s.traders;
      const free0 = await s.ex.vault.freeBalance(trader.address);
      const { id, receipt: opened } = await open(s, trader, wad(-5_000), wad(1_000));
      const [trade] = eventsOf(opened, s.ex, "Trade");
      const bystanderFree = await s.ex.vault.freeBalance(bystander.address);
      await setIndex(s, wad(4)); // +100%: a loss ten times the margin
      const freeBeforeLiquidation = await s.ex.vault.freeBalance(trader.address);
      const [liq] = eventsOf(await liquidate(s, id), s.ex, "Liquidation");
      expect(liq.args.badDebt).to.be.gt(wad(8_000));
      expect(await s.ex.vault.freeBalance(trader.address)).to.equal(freeBeforeLiquidation);
      // all the trader ever lost: the margin and the opening fee
      expect(free0 - (await s.ex.vault.freeBalance(trader.address))).to.equal(wad(1_000) + (trade.args.fee as bigint));
      expect(await s.ex.vault.freeBalance(bystander.address)).to.equal(bystanderFree);
      await expectConserved(s, [id]);
    });
  });

  it("liquidateMany liquidates the unhealthy, skips the healthy, unknown and closed, and returns the count", async () => {
    const s = await loadFixture(riskFixture);
    const [t0, t1, t2, t3, t4, t5] = s.traders;
    const ten = [t0, t1, t2];
    const ids: bigint[] = [];
    for (const t of ten) ids.push((await open(s, t, wad(-5_000), wad(1_000))).id); // 10x
    const healthy = [(await open(s, t3, wad(-5_000), wad(5_000))).id, (await open(s, t4, wad(4_000), wad(800))).id];
    const closedId = (await open(s, t5, wad(-1_000), wad(200))).id;
    await s.ex.engine.connect(t5).closePosition(s.marketId, 2n ** 256n - 1n);
    const unknown = 424242n;

    let highest = 0n;
    for (const id of ids) {
      const shown = (await s.ex.lens.position(id)).liquidationPrice;
      if (shown > highest) highest = shown;
    }
    await setIndex(s, highest);
    const batch = [healthy[0], ids[0], unknown, ids[1], closedId, healthy[1], ids[2]];
    expect(await s.ex.engine.connect(s.keeper).liquidateMany.staticCall(batch)).to.equal(3n);
    const healthyBefore = await Promise.all(healthy.map((id) => s.ex.admin.position(id)));
    const receipt = (await (await s.ex.engine.connect(s.keeper).liquidateMany(batch)).wait())!;
    const liquidated = eventsOf(receipt, s.ex, "Liquidation").map((e) => e.args.id as bigint);
    expect(liquidated).to.deep.equal(ids);
    for (const id of ids) expect((await s.ex.admin.position(id)).size).to.equal(0n);
    for (let i = 0; i < healthy.length; i++) {
      const after = await s.ex.admin.position(healthy[i]);
      expect([after.size, after.entryPrice, after.margin, after.fundingSnapshot]).to.deep.equal([
        healthyBefore[i].size,
        healthyBefore[i].entryPrice,
        healthyBefore[i].margin,
        healthyBefore[i].fundingSnapshot,
      ]);
    }
    await expectConserved(s, [...ids, ...healthy, closedId]);
  });

  it("liquidateMany reads the tiers a larger position needs after a small one: both go, the remainder healthy", async () => {
    const s = await loadFixture(riskFixture);
    const [t0, t1] = s.traders;
    // $10,000 short in the first tier, then $100,000 in the second (cap $50k): the engine reads the tiers
    // only as far as the first position needs, and must read on for the second.
    const small = (await open(s, t0, wad(-5_000), wad(1_000))).id;
    const large = (await open(s, t1, wad(-50_000), wad(10_000))).id;
    const prices = await Promise.all([small, large].map(async (id) => (await s.ex.lens.position(id)).liquidationPrice));
    await setIndex(s, prices[0] > prices[1] ? prices[0] : prices[1]);
    expect((await s.ex.lens.positions([small, large])).map((v) => v.liquidatable)).to.deep.equal([true, true]);

    const receipt = (await (await s.ex.engine.connect(s.keeper).liquidateMany([small, large])).wait())!;
    expect(eventsOf(receipt, s.ex, "Liquidation").map((e) => e.args.id as bigint)).to.deep.equal([small, large]);
    expect((await s.ex.admin.position(small)).size).to.equal(0n);
    // The lens reads every tier: what the batch left of the large position is healthy by all of them.
    const rest = await s.ex.lens.position(large);
    if (rest.size !== 0n) expect(rest.liquidatable).to.equal(false);
    await expectConserved(s, [small, large]);
  });

  it("partially liquidates a position above the first tier, leaving a healthy remainder with its own new price", async () => {
    const s = await loadFixture(riskFixture);
    const tiers = await tiersOf(s);
    // 50,000 ALT long at about $2: $100,000, in the second tier (mmr 1%, amt $250), 10x
    const { id } = await open(s, s.traders[0], wad(50_000), wad(10_000));
    const p = await positionOf(s, id);
    const shown = (await s.ex.lens.position(id)).liquidationPrice;
    // long root (entry*size - M - amt) / (size*(1 - mmr)) in the second tier: about $1.8132
    expect(tierIndex(tiers, p.size, shown)).to.equal(1);
    expect(shown).to.equal(specLiquidationPrice(tiers, p.size, p.entry, p.margin));
    await setIndex(s, shown);
    const keeper0 = await s.ex.vault.freeBalance(s.keeper.address);
    const insurance0 = await s.ex.vault.insuranceFund();
    const receipt = await liquidate(s, id);

    // the SPEC arithmetic: E, N, the kept notional n, the kept size n / mark, the reward on the rest
    const equity = equityAt(p, shown);
    const notional = mulDown(p.size, shown);
    const keptNotional = partialRemainderNotional(tiers, notional, equity);
    expect(keptNotional).to.be.gt(tiers[0].notionalCap); // stays in the second tier
    const keptSize = (keptNotional * WAD) / shown;
    const closedSize = p.size - keptSize;
    const reward = expectedReward(closedSize, shown, equity);
    const remainingMargin = p.margin - p.pending + pnl(closedSize, p.entry, shown) - reward;

    const [liq] = eventsOf(receipt, s.ex, "Liquidation");
    expect(liq.args.closedSize).to.equal(closedSize);
    expect(liq.args.reward).to.equal(reward);
    expect(liq.args.equity).to.equal(equity);
    expect((await s.ex.vault.freeBalance(s.keeper.address)) - keeper0).to.equal(reward);
    expect(await s.ex.vault.insuranceFund()).to.equal(insurance0);
    const after = await s.ex.admin.position(id);
    expect(after.size).to.equal(keptSize);
    expect(after.entryPrice).to.equal(p.entry);
    expect(after.margin).to.equal(remainingMargin);
    // the remainder is healthy at the same mark, with the buffer: E' >= (1 + 10%) * MM'
    const rest = await s.ex.lens.position(id);
    expect(rest.liquidatable).to.equal(false);
    expect(isLiquidatable(tiers, keptSize, p.entry, remainingMargin, shown)).to.equal(false);
    // the buffer is the size rule's target: exactly (both sides WAD^4),
    // (M' + size' * (mark - entry)) >= (size' * mark * mmr - amt) * (1 + b), to the unit of USD: the
    // roundings of N, n and PnL may leave it a fraction of one unit short (health itself is exact, above)
    const t = tiers[tierIndex(tiers, keptSize, shown)];
    const exactEquity = (remainingMargin * WAD + keptSize * (shown - p.entry)) * WAD; // WAD^3
    const exactMaintenance = keptSize * shown * t.mmr - t.maintenanceAmount * WAD * WAD; // WAD^3
    const oneUnit = WAD * WAD * WAD; // 1e-18 USD in WAD^4
    expect(exactEquity * WAD + oneUnit).to.be.gte(exactMaintenance * (WAD + PARTIAL_BUFFER));
    // and far above the bare maintenance margin: 10% over it, less a unit
    expect(exactEquity * 100n).to.be.gte(exactMaintenance * 109n);

    // ... and its own liquidation price, lower, proven like any other
    const newShown = rest.liquidationPrice;
    expect(newShown).to.equal(specLiquidationPrice(tiers, keptSize, p.entry, remainingMargin));
    expect(newShown).to.be.lt(shown);
    await setIndex(s, newShown + 1n);
    await expect(s.ex.engine.connect(s.keeper).liquidate(id))
      .to.be.revertedWithCustomError(s.ex.engine, "PositionHealthy")
      .withArgs(id, newShown + 1n);
    await setIndex(s, newShown);
    await expect(s.ex.engine.connect(s.keeper).liquidate(id)).to.emit(s.ex.engine, "Liquidation");
    await expectConserved(s, [id]);
  });

  it("liquidates a 10x short by funding alone on a flat price (crowded shorts pay the cap every interval)", async () => {
    const s = await loadFixture(riskFixture);
    const [victim, ...crowd] = s.traders;
    const tiers = await tiersOf(s);
    const { id } = await open(s, victim, wad(-5_000), wad(1_000));
    const crowdIds: bigint[] = [];
    // 45,000 ALT more of shorts at 2x: K = -50,000, p = -1%, F = max(-1% + 0.05%, -0.75%) = -0.75%
    for (const t of crowd.slice(0, 3)) crowdIds.push((await open(s, t, wad(-15_000), wad(15_000))).id);
    const p = await positionOf(s, id);
    const mark = ALT_START_PRICE; // the index never moves
    const perInterval = (wad("-0.0075") * mark) / WAD; // the index falls $0.015 per ALT per interval

    // the first interval count at which Equity < MM: $1,000 - entry loss - k * 5,000 * $0.015
    let k = 1n;
    while (!isLiquidatable(tiers, p.size, p.entry, p.margin - fundingOwed(p.size, k * perInterval), mark)) k++;
    expect(k).to.be.gt(5n);

    const b0 = (await s.ex.admin.marketState(s.marketId)).lastFundingTime;
    await time.setNextBlockTimestamp(b0 + (k - 1n) * FUNDING_INTERVAL + 1n);
    await s.ex.engine.settleFunding(s.marketId);
    const st = await s.ex.admin.marketState(s.marketId);
    expect(st.fundingIndex - (await s.ex.admin.position(id)).fundingSnapshot).to.equal((k - 1n) * perInterval);
    expect((await s.ex.lens.position(id)).liquidatable).to.equal(false);
    await expect(s.ex.engine.connect(s.keeper).liquidate(id))
      .to.be.revertedWithCustomError(s.ex.engine, "PositionHealthy")
      .withArgs(id, mark);

    await time.setNextBlockTimestamp(b0 + k * FUNDING_INTERVAL + 1n);
    await s.ex.engine.settleFunding(s.marketId);
    const view = await s.ex.lens.position(id);
    expect(view.pendingFunding).to.equal(fundingOwed(p.size, k * perInterval));
    expect(view.liquidatable).to.equal(true);
    expect(view.liquidationPrice).to.be.lte(mark); // a short is liquidatable at or above it
    const [liq] = eventsOf(await liquidate(s, id), s.ex, "Liquidation");
    expect(liq.args.markPrice).to.equal(mark);
    expect(liq.args.equity).to.equal(equityAt({ ...p, pending: view.pendingFunding }, mark));
    for (const cid of crowdIds) expect((await s.ex.lens.position(cid)).liquidatable).to.equal(false);
    await expectConserved(s, [id, ...crowdIds]);
  });

  describe("refusals", () => {
    it("reverts PositionNotFound for an unknown id and for a closed one", async () => {
      const s = await loadFixture(riskFixture);
      await expect(s.ex.engine.liquidate(12345n))
        .to.be.revertedWithCustomError(s.ex.engine, "PositionNotFound")
        .withArgs(12345n);
      const { id } = await open(s, s.traders[0], wad(-5_000), wad(1_000));
      await s.ex.engine.connect(s.traders[0]).closePosition(s.marketId, 2n ** 256n - 1n);
      await expect(s.ex.engine.liquidate(id))
        .to.be.revertedWithCustomError(s.ex.engine, "PositionNotFound")
        .withArgs(id);
      const liquidated = (await open(s, s.traders[1], wad(-5_000), wad(1_000))).id;
      await setIndex(s, wad(3));
      await liquidate(s, liquidated);
      await expect(s.ex.engine.liquidate(liquidated))
        .to.be.revertedWithCustomError(s.ex.engine, "PositionNotFound")
        .withArgs(liquidated);
      await expectConserved(s, [id, liquidated]);
    });

    it("reverts PositionHealthy with the mark for a healthy position", async () => {
      const s = await loadFixture(riskFixture);
      const { id } = await open(s, s.traders[0], wad(-5_000), wad(1_000));
      await expect(s.ex.engine.liquidate(id))
        .to.be.revertedWithCustomError(s.ex.engine, "PositionHealthy")
        .withArgs(id, ALT_START_PRICE);
    });
  });

  describe("the shown liquidation price is the contract's: healthy one unit on the safe side, liquidatable at it", () => {
    interface Case {
      name: string;
      size: bigint;
      margin: bigint;
      /** tier index at the liquidation price */
      tier: number;
      funding: boolean;
    }
    const cases: Case[] = [];
    for (const funding of [false, true]) {
      const f = funding ? "with pending funding" : "without pending funding";
      cases.push({ name: `long, first tier, ${f}`, size: wad(5_000), margin: wad(1_000), tier: 0, funding });
      cases.push({ name: `short, first tier, ${f}`, size: wad(-5_000), margin: wad(1_000), tier: 0, funding });
      cases.push({ name: `long, second tier, ${f}`, size: wad(50_000), margin: wad(10_000), tier: 1, funding });
      cases.push({ name: `short, second tier, ${f}`, size: wad(-50_000), margin: wad(10_000), tier: 1, funding });
      // enters at $52,000 (second tier), falls into the first by its liquidation price
      cases.push({
        name: `long entered in the second tier, liquidated in the first, ${f}`,
        size: wad(26_000),
        margin: wad(5_200),
        tier: 0,
        funding,
      });
      // enters at $48,000 (first tier), rises into the second by its liquidation price
      cases.push({
        name: `short entered in the first tier, liquidated in the second, ${f}`,
        size: wad(-24_000),
        margin: wad(4_800),
        tier: 1,
        funding,
      });
    }

    for (const c of cases) {
      it(c.name, async () => {
        const s = await loadFixture(riskFixture);
        const tiers = await tiersOf(s);
        const { id } = await open(s, s.traders[0], c.size, c.margin);
        if (c.funding) {
          // the position alone makes the skew: it pays F = p -/+ 0.05% (capped) for three intervals
          const b0 = (await s.ex.admin.marketState(s.marketId)).lastFundingTime;
          await time.setNextBlockTimestamp(b0 + 3n * FUNDING_INTERVAL + 1n);
          await s.ex.engine.settleFunding(s.marketId);
        }
        const p = await positionOf(s, id);
        const { fundingSnapshot } = await s.ex.admin.position(id);
        const { fundingIndex } = await s.ex.admin.marketState(s.marketId);
        expect(p.pending).to.equal(fundingOwed(p.size, fundingIndex - fundingSnapshot));
        if (c.funding) expect(p.pending).to.be.gt(wad(10));
        else expect(p.pending).to.equal(0n);
        const shown = (await s.ex.lens.position(id)).liquidationPrice;
        expect(shown).to.equal(specLiquidationPrice(tiers, p.size, p.entry, p.margin - p.pending));
        expect(tierIndex(tiers, abs(p.size), shown)).to.equal(c.tier);
        const safe = c.size > 0n ? shown + 1n : shown - 1n;

        await setIndex(s, safe);
        expect((await s.ex.lens.position(id)).liquidatable).to.equal(false);
        await expect(s.ex.engine.connect(s.keeper).liquidate(id))
          .to.be.revertedWithCustomError(s.ex.engine, "PositionHealthy")
          .withArgs(id, safe);

        await setIndex(s, shown);
        expect((await s.ex.lens.position(id)).liquidatable).to.equal(true);
        expect(isLiquidatable(tiers, p.size, p.entry, p.margin - p.pending, shown)).to.equal(true);
        expect(isLiquidatable(tiers, p.size, p.entry, p.margin - p.pending, safe)).to.equal(false);
        const [liq] = eventsOf(await liquidate(s, id), s.ex, "Liquidation");
        expect(liq.args.markPrice).to.equal(shown);
        await expectConserved(s, [id]);
      });
    }
  });

  describe("gas", () => {
    it("liquidate of a 10x short: gas printed, for an empty keeper balance and for a funded one", async () => {
      const s = await loadFixture(riskFixture);
      const first = (await open(s, s.traders[0], wad(-5_000), wad(1_000))).id;
      const second = (await open(s, s.traders[1], wad(-5_000), wad(1_000))).id;
      await setIndex(s, (await s.ex.lens.position(first)).liquidationPrice);
      const cold = await liquidate(s, first);
      const warm = await liquidate(s, second);
      expect(eventsOf(cold, s.ex, "Liquidation")).to.have.length(1);
      expect(eventsOf(warm, s.ex, "Liquidation")).to.have.length(1);
      console.log(`      liquidate gas: keeper's first reward ${cold.gasUsed}, keeper already funded ${warm.gasUsed}`);
      await expectConserved(s, [first, second]);
    });

    async function shorts(count: number) {
      const s = await deployRiskSystem();
      const wallets = await fundedWallets(s, count, 1_000n);
      const ids: bigint[] = [];
      // 100 ALT at about $2 on $20 each: 10x, small enough that their entries stay close
      for (const w of wallets) ids.push((await open(s, w, wad(-100), wad(20))).id);
      let highest = 0n;
      for (const v of await s.ex.lens.positions(ids)) if (v.liquidationPrice > highest) highest = v.liquidationPrice;
      await setIndex(s, highest);
      return { s, ids };
    }
    const ten = () => shorts(10);
    const fifty = () => shorts(50);

    for (const [count, fixture] of [
      [10, ten],
      [50, fifty],
    ] as const) {
      it(`liquidateMany of ${count} positions: all liquidated, gas per position printed`, async () => {
        const { s, ids } = await loadFixture(fixture);
        expect(await s.ex.engine.connect(s.keeper).liquidateMany.staticCall(ids)).to.equal(BigInt(count));
        const receipt = (await (await s.ex.engine.connect(s.keeper).liquidateMany(ids)).wait())!;
        expect(eventsOf(receipt, s.ex, "Liquidation")).to.have.length(count);
        console.log(
          `      liquidateMany(${count}) gas ${receipt.gasUsed}, per position ${receipt.gasUsed / BigInt(count)}`,
        );
        await expectConserved(s, ids);
      });
    }
  });
});
