import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt } from "ethers";
import { PremiumFundingModel__factory } from "../../typechain-types";
import { wad, WAD } from "../../lib/units";
import { DecimalFloat } from "../../lib/math";
import {
  ALT_START_PRICE,
  close,
  deployRiskSystem,
  eventsOf,
  expectConserved,
  FUNDING_INTERVAL,
  fundedWallets,
  fundingOwed,
  fundingRate,
  mulDown,
  open,
  premium,
  type RiskSystem,
} from "./riskFixture";

// ALT-USD defaults (lib/markets.ts): I = 0.01% per interval, clamp 0.05%, cap 0.75%, S = 5,000,000 ALT.
const I = wad("0.0001");
const CLAMP = wad("0.0005");
const CAP = wad("0.0075");
/** The velocity model's inputs, which the premium model ignores. */
const NO_VELOCITY = { lastRate: 0n, interval: 0n, maxVelocity: 0n };
const S = wad(5_000_000);
const INDEX = ALT_START_PRICE; // $2, flat throughout: IndexMarkModel makes mark = index

async function riskFixture() {
  return deployRiskSystem();
}

async function blockTime(receipt: ContractTransactionReceipt): Promise<bigint> {
  return BigInt((await receipt.getBlock()).timestamp);
}

async function state(s: RiskSystem) {
  return s.ex.admin.marketState(s.marketId);
}

/** The one FundingSettled event of a receipt. */
function settled(s: RiskSystem, receipt: ContractTransactionReceipt) {
  const events = eventsOf(receipt, s.ex, "FundingSettled");
  expect(events).to.have.length(1);
  const [marketId, rate, fundingIndex, boundary, intervals] = events[0].args;
  return { marketId, rate, fundingIndex, boundary, intervals } as {
    marketId: bigint;
    rate: bigint;
    fundingIndex: bigint;
    boundary: bigint;
    intervals: bigint;
  };
}

async function settleAt(s: RiskSystem, timestamp: bigint) {
  await time.setNextBlockTimestamp(timestamp);
  return (await (await s.ex.engine.settleFunding(s.marketId)).wait())!;
}

/** Sum of fundingPaid over a receipt's Trade and MarginChanged events (positive: paid to the pool). */
function fundingPaidIn(s: RiskSystem, receipt: ContractTransactionReceipt): bigint {
  let paid = 0n;
  for (const e of eventsOf(receipt, s.ex, "Trade")) paid += e.args.fundingPaid as bigint;
  for (const e of eventsOf(receipt, s.ex, "MarginChanged")) paid += e.args.fundingPaid as bigint;
  return paid;
}

describe("funding (SPEC 5: F = clamp(p + clamp(I - p, -0.05%, +0.05%), -cap, +cap), index grows by F * mark)", () => {
  describe("PremiumFundingModel", () => {
    const cases: { name: string; p: string; interest?: string; cap?: string }[] = [
      { name: "a zero premium pays the interest rate", p: "0" },
      { name: "a premium inside the band settles at I", p: "0.0003" },
      { name: "a premium 0.05% below I settles at I exactly", p: "-0.0004" },
      { name: "a premium above the band keeps p - 0.05%", p: "0.002" },
      { name: "a negative premium below the band keeps p + 0.05%", p: "-0.002" },
      { name: "a premium past the cap is capped", p: "0.01" },
      { name: "a negative premium past the cap is capped at -cap", p: "-0.01" },
      { name: "a custom interest rate and cap", p: "0.0004", interest: "0.0003", cap: "0.0002" },
    ];

    for (const c of cases) {
      it(`computes the SPEC rate: ${c.name}`, async () => {
        const [deployer] = await ethers.getSigners();
        const model = await new PremiumFundingModel__factory(deployer).deploy();
        const p = wad(c.p);
        const interest = c.interest ? wad(c.interest) : I;
        const cap = c.cap ? wad(c.cap) : CAP;
        const got = await model.fundingRate({
          ...NO_VELOCITY,
          avgPremium: p,
          interestRate: interest,
          clampRate: CLAMP,
          cap,
        });
        expect(got).to.equal(fundingRate(p, interest, CLAMP, cap));
      });
    }

    it("writes the arithmetic out for the band edges and the cap", async () => {
      const [deployer] = await ethers.getSigners();
      const model = await new PremiumFundingModel__factory(deployer).deploy();
      const rate = (p: string) =>
        model.fundingRate({ ...NO_VELOCITY, avgPremium: wad(p), interestRate: I, clampRate: CLAMP, cap: CAP });
      // p = 0.03%: I - p = -0.02% is inside the band, F = 0.03% - 0.02% = 0.01%
      expect(await rate("0.0003")).to.equal(wad("0.0001"));
      // p = 0.2%: I - p = -0.19% clamps to -0.05%, F = 0.2% - 0.05% = 0.15%
      expect(await rate("0.002")).to.equal(wad("0.0015"));
      // p = -0.2%: I - p = 0.21% clamps to 0.05%, F = -0.2% + 0.05% = -0.15%
      expect(await rate("-0.002")).to.equal(wad("-0.0015"));
      // p = 1%: F = 1% - 0.05% = 0.95% > cap 0.75%
      expect(await rate("0.01")).to.equal(wad("0.0075"));
      expect(await rate("-0.01")).to.equal(wad("-0.0075"));
    });
  });

  describe("settlement through the engine", () => {
    // A skew K held for a whole interval makes the average premium (P_last - index)/index = K/S.
    const skews: { name: string; skew: bigint; expectedRate: string }[] = [
      { name: "no skew: F = I", skew: 0n, expectedRate: "0.0001" },
      { name: "K = +1,500 (p = 0.03%): F = I", skew: wad(1_500), expectedRate: "0.0001" },
      { name: "K = +10,000 (p = 0.2%): F = 0.15%", skew: wad(10_000), expectedRate: "0.0015" },
      { name: "K = -10,000 (p = -0.2%): F = -0.15%", skew: wad(-10_000), expectedRate: "-0.0015" },
      { name: "K = +50,000 (p = 1%): F capped at 0.75%", skew: wad(50_000), expectedRate: "0.0075" },
      { name: "K = -50,000 (p = -1%): F capped at -0.75%", skew: wad(-50_000), expectedRate: "-0.0075" },
    ];

    for (const c of skews) {
      it(`emits FundingSettled with the SPEC rate and index for ${c.name}`, async () => {
        const s = await loadFixture(riskFixture);
        const b1 = (await state(s)).lastFundingTime + FUNDING_INTERVAL;
        await time.setNextBlockTimestamp(b1);
        if (c.skew !== 0n) {
          // opened exactly at the boundary: the premium K/S holds for the whole next interval
          await open(s, s.traders[0], c.skew, ((c.skew < 0n ? -c.skew : c.skew) * 2n) / 10n);
        } else {
          await s.ex.engine.settleFunding(s.marketId);
        }
        const before = await state(s);
        expect(before.lastFundingTime).to.equal(b1);

        const receipt = await settleAt(s, b1 + FUNDING_INTERVAL);
        const ev = settled(s, receipt);
        const p = premium(INDEX, c.skew, S);
        const f = fundingRate(p, I, CLAMP, CAP);
        expect(f).to.equal(wad(c.expectedRate));
        expect(ev.rate).to.equal(f);
        expect(ev.intervals).to.equal(1n);
        expect(ev.boundary).to.equal(b1 + FUNDING_INTERVAL);
        // the index grows by F * mark per unit; Solidity's signed division truncates toward zero
        expect(ev.fundingIndex).to.equal(before.fundingIndex + (f * INDEX) / WAD);
        const after = await state(s);
        expect(after.fundingIndex).to.equal(ev.fundingIndex);
        expect(after.lastFundingRate).to.equal(f);
        expect((await s.ex.lens.market(s.marketId)).lastFundingRate).to.equal(f);
      });
    }
  });

  it("makes crowded shorts pay the longs on a flat index (the seed: shorts still pay long traders)", async () => {
    const s = await loadFixture(riskFixture);
    const [short1, short2, short3, long] = s.traders;
    const b1 = (await state(s)).lastFundingTime + FUNDING_INTERVAL;
    await time.setNextBlockTimestamp(b1);
    const positions = [
      { who: short1, size: wad(-10_000) },
      { who: short2, size: wad(-12_000) },
      { who: short3, size: wad(-8_000) },
      { who: long, size: wad(1_000) },
    ];
    // premium samples: each trade changes K, so p changes at its block time
    let skew = 0n;
    let cum = 0n;
    let prevTime = b1;
    let prevPremium = 0n;
    const ids: bigint[] = [];
    for (const pos of positions) {
      const { id, receipt } = await open(s, pos.who, pos.size, ((pos.size < 0n ? -pos.size : pos.size) * 2n) / 5n);
      const t = await blockTime(receipt);
      cum += prevPremium * (t - prevTime);
      skew += pos.size;
      prevPremium = premium(INDEX, skew, S);
      prevTime = t;
      ids.push(id);
    }
    const before = await state(s);
    const b2 = b1 + FUNDING_INTERVAL;
    const ev = settled(s, await settleAt(s, b2));
    cum += prevPremium * (b2 - prevTime);
    const avg = cum / (b2 - b1);
    const f = fundingRate(avg, I, CLAMP, CAP);
    // K = -29,000 of 5,000,000: p = -0.58%, F = p + 0.05% = about -0.53%
    expect(avg).to.be.lt(wad("-0.0057"));
    expect(f).to.equal(avg + CLAMP);
    expect(ev.rate).to.equal(f);
    expect(f).to.be.lt(0n);
    const delta = (f * INDEX) / WAD;
    expect(ev.fundingIndex).to.equal(before.fundingIndex + delta);

    // every short owes size * delta (> 0: it pays), the long is owed (< 0: it receives)
    for (let i = 0; i < positions.length; i++) {
      const owed = fundingOwed(positions[i].size, delta);
      expect((await s.ex.lens.position(ids[i])).pendingFunding).to.equal(owed);
      if (positions[i].size < 0n) expect(owed).to.be.gt(0n);
      else expect(owed).to.be.lt(0n);
    }
    // short1: 10,000 * 2 * 0.53% = about $106 for one interval on a price that never moved
    expect(fundingOwed(wad(-10_000), delta)).to.be.gt(wad(100));

    for (let i = 0; i < positions.length; i++) {
      const receipt = await close(s, positions[i].who);
      const [trade] = eventsOf(receipt, s.ex, "Trade");
      expect(trade.args.fundingPaid).to.equal(fundingOwed(positions[i].size, delta));
    }
    await expectConserved(s, ids);
  });

  it("charges one full funding to a position opened one minute before a boundary", async () => {
    const s = await loadFixture(riskFixture);
    const b0 = (await state(s)).lastFundingTime;
    const b1 = b0 + FUNDING_INTERVAL;
    const size = wad(10_000);
    await time.setNextBlockTimestamp(b1 - 60n);
    const { id } = await open(s, s.traders[0], size, wad(4_000));
    const before = await state(s);
    const ev = settled(s, await settleAt(s, b1));
    // the premium was 0 from b0 and K/S = 0.2% for the last 60 s: avg = 0.2% * 60 / 28,800
    const avg = (premium(INDEX, size, S) * 60n) / FUNDING_INTERVAL;
    const f = fundingRate(avg, I, CLAMP, CAP);
    expect(f).to.equal(I); // avg is far inside the band
    expect(ev.rate).to.equal(f);
    const delta = (f * INDEX) / WAD; // 0.0001 * $2 = $0.0002 per ALT
    expect(ev.fundingIndex).to.equal(before.fundingIndex + delta);
    // a full interval's funding: 10,000 ALT * $0.0002 = $2
    expect(fundingOwed(size, delta)).to.equal(wad(2));
    expect((await s.ex.lens.position(id)).pendingFunding).to.equal(wad(2));
    const [trade] = eventsOf(await close(s, s.traders[0]), s.ex, "Trade");
    expect(trade.args.fundingPaid).to.equal(wad(2));
    await expectConserved(s, [id]);
  });

  it("charges nothing to a position opened and closed between two boundaries", async () => {
    const s = await loadFixture(riskFixture);
    const b0 = (await state(s)).lastFundingTime;
    const trader = s.traders[0];
    const free0 = await s.ex.vault.freeBalance(trader.address);
    await time.setNextBlockTimestamp(b0 + 100n);
    const { id, receipt: opened } = await open(s, trader, wad(10_000), wad(4_000));
    await time.increaseTo(b0 + FUNDING_INTERVAL - 100n);
    expect((await s.ex.lens.position(id)).pendingFunding).to.equal(0n);
    const closed = await close(s, trader);
    const [openTrade] = eventsOf(opened, s.ex, "Trade");
    const [closeTrade] = eventsOf(closed, s.ex, "Trade");
    expect(openTrade.args.fundingPaid).to.equal(0n);
    expect(closeTrade.args.fundingPaid).to.equal(0n);
    expect(eventsOf(closed, s.ex, "FundingSettled")).to.have.length(0);
    // the trader's whole change is the two fees and the PnL of the round trip: no funding
    const free1 = await s.ex.vault.freeBalance(trader.address);
    const fees = (openTrade.args.fee as bigint) + (closeTrade.args.fee as bigint);
    expect(free1 - free0).to.equal(-fees + (closeTrade.args.realizedPnl as bigint));
    await expectConserved(s, [id]);
  });

  it("catches up three missed intervals in one settleFunding (intervals = 3)", async () => {
    const s = await loadFixture(riskFixture);
    const b1 = (await state(s)).lastFundingTime + FUNDING_INTERVAL;
    const size = wad(10_000);
    await time.setNextBlockTimestamp(b1);
    const { id } = await open(s, s.traders[0], size, wad(4_000));
    const before = await state(s);
    const b4 = b1 + 3n * FUNDING_INTERVAL;
    const ev = settled(s, await settleAt(s, b4 + 10n));
    const f = fundingRate(premium(INDEX, size, S), I, CLAMP, CAP); // p = 0.2%: F = 0.15%
    expect(f).to.equal(wad("0.0015"));
    expect(ev.intervals).to.equal(3n);
    expect(ev.boundary).to.equal(b4);
    expect(ev.rate).to.equal(f);
    // three boundaries, each F * mark: 3 * 0.0015 * $2 = $0.009 per ALT
    const delta = (3n * f * INDEX) / WAD;
    expect(delta).to.equal(wad("0.009"));
    expect(ev.fundingIndex).to.equal(before.fundingIndex + delta);
    expect((await state(s)).lastFundingTime).to.equal(b4);
    expect((await s.ex.lens.position(id)).pendingFunding).to.equal(fundingOwed(size, delta)); // $90

    // the accumulator restarts at b4 with the premium that held: the next boundary settles the same F
    const next = settled(s, await settleAt(s, b4 + FUNDING_INTERVAL));
    expect(next.intervals).to.equal(1n);
    expect(next.rate).to.equal(f);
    const [trade] = eventsOf(await close(s, s.traders[0]), s.ex, "Trade");
    expect(trade.args.fundingPaid).to.equal(fundingOwed(size, delta + (f * INDEX) / WAD)); // $120
    expect(trade.args.fundingPaid).to.equal(wad(120));
    await expectConserved(s, [id]);
  });

  it("sums to zero with the pool, to the unit, with every payer rounded up", async () => {
    const s = await loadFixture(riskFixture);
    const [a, b, c, d] = s.traders;
    const share = (await s.ex.admin.marketConfig(s.marketId)).insuranceFeeShare;
    const pool0 = await s.ex.vault.poolAssets();
    const receipts: ContractTransactionReceipt[] = [];
    const ids: bigint[] = [];
    // sizes with odd last digits, so size * delta / WAD is never exact and every rounding shows
    const sizes = new Map<string, bigint>([
      [a.address, wad("10000.000000000000000001")],
      [b.address, wad("3333.333333333333333333")],
      [c.address, wad("-7000.5")],
      [d.address, wad("-1499.999999999999999999")],
    ]);
    const snapshots = new Map<string, bigint>();
    for (const who of [a, b, c, d]) {
      const { id, receipt } = await open(s, who, sizes.get(who.address)!, wad(3_000));
      receipts.push(receipt);
      ids.push(id);
      snapshots.set(who.address, (await s.ex.admin.position(id)).fundingSnapshot);
    }
    // two boundaries, then c adds margin (realising its funding), one more boundary, then all close
    const realisations: { size: bigint; delta: bigint; paid: bigint }[] = [];
    const b0 = (await state(s)).lastFundingTime;
    receipts.push(await settleAt(s, b0 + FUNDING_INTERVAL + 1n));
    receipts.push(await settleAt(s, b0 + 2n * FUNDING_INTERVAL + 7n));
    const indexAtTouch = (await state(s)).fundingIndex;
    const touch = (await (await s.ex.engine.connect(c).addMargin(s.marketId, wad(100))).wait())!;
    receipts.push(touch);
    realisations.push({
      size: sizes.get(c.address)!,
      delta: indexAtTouch - snapshots.get(c.address)!,
      paid: fundingPaidIn(s, touch),
    });
    // the touch moves c's snapshot to the index, on the grid a position stores (up: c is short)
    const cSnapshot = (await s.ex.admin.position(ids[2])).fundingSnapshot;
    expect(cSnapshot).to.equal(DecimalFloat.snapshot(indexAtTouch, false));
    snapshots.set(c.address, cSnapshot);
    receipts.push(await settleAt(s, b0 + 3n * FUNDING_INTERVAL + 3n));
    const finalIndex = (await state(s)).fundingIndex;
    for (const who of [a, b, c, d]) {
      const receipt = await close(s, who);
      receipts.push(receipt);
      realisations.push({
        size: sizes.get(who.address)!,
        delta: finalIndex - snapshots.get(who.address)!,
        paid: fundingPaidIn(s, receipt),
      });
    }

    // each payer pays ceil(size * delta / WAD); each receiver gets the negative of that (rounded toward 0)
    let paidByTraders = 0n;
    let exact = 0n; // sum of size * delta: the unrounded total, WAD^2
    for (const r of realisations) {
      expect(r.paid).to.equal(fundingOwed(r.size, r.delta));
      paidByTraders += r.paid;
      exact += r.size * r.delta;
    }
    expect(paidByTraders).to.not.equal(0n);
    // what the pool received for funding = its change less the fee and PnL flows of the same trades
    let feesToPool = 0n;
    let realized = 0n;
    let fundingInEvents = 0n;
    for (const r of receipts) {
      for (const e of eventsOf(r, s.ex, "Trade")) {
        const fee = e.args.fee as bigint;
        feesToPool += fee - mulDown(fee, share);
        realized += e.args.realizedPnl as bigint;
      }
      fundingInEvents += fundingPaidIn(s, r);
    }
    expect(fundingInEvents).to.equal(paidByTraders);
    const poolFunding = (await s.ex.vault.poolAssets()) - pool0 - feesToPool + realized;
    // traders' funding (they lost what they paid) + the pool's funding change == 0, to the unit
    expect(-paidByTraders + poolFunding).to.equal(0n);
    // rounding in the protocol's favour: the pool got at least the exact amount, less than a unit
    // more per realisation
    expect(paidByTraders * WAD).to.be.gte(exact);
    expect(paidByTraders * WAD - exact).to.be.lt(BigInt(realisations.length) * WAD);
    await expectConserved(s, ids);
  });

  it("changes no funding index before the boundary (a no-op apart from the premium sample)", async () => {
    const s = await loadFixture(riskFixture);
    const { id } = await open(s, s.traders[0], wad(10_000), wad(4_000));
    const before = await state(s);
    await time.setNextBlockTimestamp(before.lastFundingTime + FUNDING_INTERVAL - 1n);
    const tx = s.ex.engine.settleFunding(s.marketId);
    await expect(tx).to.not.emit(s.ex.engine, "FundingSettled");
    const after = await state(s);
    expect(after.fundingIndex).to.equal(before.fundingIndex);
    expect(after.lastFundingTime).to.equal(before.lastFundingTime);
    expect(after.lastFundingRate).to.equal(before.lastFundingRate);
    expect((await s.ex.lens.position(id)).pendingFunding).to.equal(0n);
    await expectConserved(s, [id]);
  });

  it("reverts UnknownMarket when settling a market that does not exist", async () => {
    const s = await loadFixture(riskFixture);
    await expect(s.ex.engine.settleFunding(99n))
      .to.be.revertedWithCustomError(s.ex.engine, "UnknownMarket")
      .withArgs(99n);
    await expect(s.ex.engine.settleFunding(0n))
      .to.be.revertedWithCustomError(s.ex.engine, "UnknownMarket")
      .withArgs(0n);
  });

  describe("settleFunding gas is O(1) in the number of positions", () => {
    // the same skew (+10,000 ALT) held by one position or by 200, so every stored value is the same
    const MANY = 200;

    async function onePosition() {
      const s = await deployRiskSystem();
      await open(s, s.traders[0], wad(10_000), wad(4_000));
      return s;
    }

    async function manyPositions() {
      const s = await deployRiskSystem();
      const wallets = await fundedWallets(s, MANY, 1_000n);
      for (const w of wallets) await open(s, w, wad(10_000) / BigInt(MANY), wad(20));
      return s;
    }

    async function settleGas(s: RiskSystem) {
      const st = await state(s);
      expect(st.longOpenInterest).to.equal(wad(10_000));
      const receipt = await settleAt(s, st.lastFundingTime + FUNDING_INTERVAL + 5n);
      expect(settled(s, receipt).intervals).to.equal(1n);
      return receipt.gasUsed;
    }

    it(`costs the same with 1 and with ${MANY} open positions`, async function () {
      // Instrumented for coverage, the code spends gas on counters: gas is measured uninstrumented.
      if ((hre as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING) this.skip();
      const one = await settleGas(await loadFixture(onePosition));
      const many = await settleGas(await loadFixture(manyPositions));
      console.log(`      settleFunding gas: 1 position ${one}, ${MANY} positions ${many}`);
      expect(many).to.equal(one);
    });
  });
});
