import { expect } from "chai";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { wad, WAD } from "../../lib/units";
import {
  deployRiskSystem,
  eventsOf,
  expectConserved,
  mulDown,
  open,
  pnl,
  setIndex,
  type RiskSystem,
} from "./riskFixture";

// ADL opens when uncovered bad debt exists or traders' unrealised profit > maxPnlFactor * pool.
// Here 1% of a $500,000 pool: about $5,000 of profit. Insurance $1,000, so bad debt can outrun it.
const MAX_PNL_FACTOR = "0.01";

async function adlFixture() {
  return deployRiskSystem({
    market: { maxPnlFactor: MAX_PNL_FACTOR },
    lpDepositUsd: "500000",
    insuranceFundUsd: "1000",
  });
}

/** Traders' aggregate unrealised PnL at `mark` from the market's aggregates (the lens's formula). */
async function traderPnlAt(s: RiskSystem, mark: bigint): Promise<bigint> {
  const st = await s.ex.admin.marketState(s.marketId);
  return (
    mulDown(st.longOpenInterest, mark) -
    st.longEntryNotional +
    st.shortEntryNotional -
    mulDown(st.shortOpenInterest, mark)
  );
}

async function threshold(s: RiskSystem): Promise<bigint> {
  return mulDown(await s.ex.vault.poolAssets(), wad(MAX_PNL_FACTOR));
}

async function adl(s: RiskSystem, id: bigint, size: bigint) {
  return (await (await s.ex.engine.connect(s.keeper).autoDeleverage(id, size)).wait())!;
}

describe("auto-deleveraging (SPEC 5: profitable winners closed at mark, no fee, while the condition holds)", () => {
  /**
   * A long-heavy market: alice long 20,000 from $2; bob short 2,000 from $2; at $2.5 dave goes long
   * 1,000 and erin short 2,000; then the index settles at $2.4.
   */
  async function crowdedLongs() {
    const s = await loadFixture(adlFixture);
    const [alice, bob, dave, erin] = s.traders;
    const ids = {
      alice: (await open(s, alice, wad(20_000), wad(4_000))).id,
      bob: (await open(s, bob, wad(-2_000), wad(400))).id,
      dave: 0n,
      erin: 0n,
    };
    await setIndex(s, wad("2.5"));
    ids.dave = (await open(s, dave, wad(1_000), wad(250))).id;
    ids.erin = (await open(s, erin, wad(-2_000), wad(500))).id;
    await setIndex(s, wad("2.4"));
    return { s, ids, alice };
  }

  it("is refused (AdlNotActive) while traders' profit is under the pool share and no bad debt is uncovered", async () => {
    const s = await loadFixture(adlFixture);
    const [alice, bob] = s.traders;
    const id = (await open(s, alice, wad(20_000), wad(4_000))).id;
    await open(s, bob, wad(-2_000), wad(400));
    const mark = wad("2.1");
    await setIndex(s, mark);
    const view = await s.ex.lens.position(id);
    expect(view.unrealizedPnl).to.be.gt(wad(1_500)); // alice is well in profit ...
    const traderPnl = await traderPnlAt(s, mark);
    expect((await s.ex.lens.market(s.marketId)).traderPnl).to.equal(traderPnl);
    // ... but 20,000 * ~$0.1 - 2,000 * ~$0.1, about $1,800, is under 1% of the pool (about $5,000)
    expect(traderPnl)
      .to.be.gt(0n)
      .and.lt(await threshold(s));
    expect((await s.ex.admin.marketState(s.marketId)).uncoveredBadDebt).to.equal(0n);
    await expect(s.ex.engine.autoDeleverage(id, wad(1_000)))
      .to.be.revertedWithCustomError(s.ex.engine, "AdlNotActive")
      .withArgs(s.marketId);
  });

  it("refuses a losing position (NotProfitable) and a profitable one on the losing side (NotWinningSide)", async () => {
    const { s, ids } = await crowdedLongs();
    const mark = wad("2.4");
    expect(await traderPnlAt(s, mark)).to.be.gt(await threshold(s)); // the condition holds
    // dave: long from about $2.5, now $2.4: losing
    const dave = await s.ex.lens.position(ids.dave);
    const daveProfit = pnl(dave.size, dave.entryPrice, mark) - dave.pendingFunding;
    expect(daveProfit).to.be.lt(0n);
    await expect(s.ex.engine.autoDeleverage(ids.dave, dave.size))
      .to.be.revertedWithCustomError(s.ex.engine, "NotProfitable")
      .withArgs(ids.dave, daveProfit);
    // bob: short from $2, losing
    const bob = await s.ex.lens.position(ids.bob);
    await expect(s.ex.engine.autoDeleverage(ids.bob, -bob.size))
      .to.be.revertedWithCustomError(s.ex.engine, "NotProfitable")
      .withArgs(ids.bob, pnl(bob.size, bob.entryPrice, mark) - bob.pendingFunding);
    // erin: short from about $2.5, in profit, but the shorts as a side lose (bob's -$800 > erin's +$200)
    const erin = await s.ex.lens.position(ids.erin);
    expect(pnl(erin.size, erin.entryPrice, mark)).to.be.gt(0n);
    await expect(s.ex.engine.autoDeleverage(ids.erin, -erin.size))
      .to.be.revertedWithCustomError(s.ex.engine, "NotWinningSide")
      .withArgs(ids.erin);
  });

  it("rejects bad input: unknown id, zero size, more than the position", async () => {
    const { s, ids } = await crowdedLongs();
    await expect(s.ex.engine.autoDeleverage(777n, wad(1)))
      .to.be.revertedWithCustomError(s.ex.engine, "PositionNotFound")
      .withArgs(777n);
    await expect(s.ex.engine.autoDeleverage(ids.alice, 0n)).to.be.revertedWithCustomError(s.ex.engine, "ZeroSize");
    await expect(s.ex.engine.autoDeleverage(ids.alice, wad(20_001)))
      .to.be.revertedWithCustomError(s.ex.engine, "SizeExceedsPosition")
      .withArgs(wad(20_001), wad(20_000));
  });

  it("closes a profitable winner at mark with no fee while traders' profit exceeds the pool share, paying its profit pro rata (SPEC 9.1) and lowering it each call", async () => {
    const { s, ids, alice } = await crowdedLongs();
    const mark = wad("2.4");
    const allIds = Object.values(ids);

    // the keeper's ranking inputs: pnl% of margin and effective leverage, score = their product
    const view = await s.ex.lens.position(ids.alice);
    const [pnlPercent, leverage, score] = await s.ex.lens.adlScore(ids.alice);
    expect(pnlPercent).to.equal(((view.unrealizedPnl - view.pendingFunding) * WAD) / view.margin);
    expect(leverage).to.equal(view.leverage);
    expect(score).to.equal((pnlPercent * leverage) / WAD);
    expect(score).to.be.gt(0n);

    const chunk = wad(5_000);
    let calls = 0;
    while ((await traderPnlAt(s, mark)) > (await threshold(s))) {
      const before = await s.ex.admin.position(ids.alice);
      const pnlBefore = (await s.ex.lens.market(s.marketId)).traderPnl;
      const cap = await threshold(s);
      const free0 = await s.ex.vault.freeBalance(alice.address);
      const pool0 = await s.ex.vault.poolAssets();
      const insurance0 = await s.ex.vault.insuranceFund();
      const receipt = await adl(s, ids.alice, chunk);
      calls++;

      // closed at mark, no fee, no bad debt to repay: the trader takes the closed part's PnL as a close
      // would be paid it, pro rata above the cap (judged with alice still in the aggregates), rounded down
      const realized = pnl(chunk, before.entryPrice, mark);
      const paid = (realized * cap) / pnlBefore;
      expect(paid).to.be.lt(realized);
      const [capped] = eventsOf(receipt, s.ex, "ProfitCapped");
      expect(capped.args.id).to.equal(ids.alice);
      expect(capped.args.marketId).to.equal(s.marketId);
      expect(capped.args.realizedPnl).to.equal(realized);
      expect(capped.args.paid).to.equal(paid);
      const value = BigInt(before.margin) + paid; // margin (no funding pending) + the profit paid
      const payout = (value * chunk) / before.size; // the closed part's share
      const [ev] = eventsOf(receipt, s.ex, "AutoDeleveraged");
      expect(ev.args.closedSize).to.equal(chunk);
      expect(ev.args.markPrice).to.equal(mark);
      expect(ev.args.realizedPnl).to.equal(paid);
      expect(ev.args.haircut).to.equal(0n);
      expect(eventsOf(receipt, s.ex, "Trade")).to.have.length(0);
      const after = await s.ex.admin.position(ids.alice);
      expect(after.size).to.equal(before.size - chunk);
      expect(after.margin).to.equal(value - payout);
      expect((await s.ex.vault.freeBalance(alice.address)) - free0).to.equal(payout);
      expect(pool0 - (await s.ex.vault.poolAssets())).to.equal(paid); // the pool pays the capped profit
      expect(await s.ex.vault.insuranceFund()).to.equal(insurance0); // no fee

      // the traders' aggregate unrealised PnL falls by the closed part's PnL (to aggregate rounding)
      const pnlAfter = (await s.ex.lens.market(s.marketId)).traderPnl;
      expect(pnlAfter).to.equal(await traderPnlAt(s, mark));
      expect(pnlAfter).to.be.lt(pnlBefore);
      const drop = pnlBefore - pnlAfter;
      expect(drop - realized)
        .to.be.gte(-2n)
        .and.lte(2n);
    }
    // about $7,200 of profit against a $5,000 line: two 5,000 ALT chunks of ~$1,980 each bring it under
    // (paid ~$1,375 and ~$1,890: the pool keeps the rest)
    expect(calls).to.equal(2);
    await expect(s.ex.engine.autoDeleverage(ids.alice, chunk))
      .to.be.revertedWithCustomError(s.ex.engine, "AdlNotActive")
      .withArgs(s.marketId);
    await expectConserved(s, allIds);
  });

  it("opens on uncovered bad debt and repays it first from the winners' realised profit", async () => {
    const s = await loadFixture(adlFixture);
    const [alice, carol, frank] = s.traders;
    const aliceId = (await open(s, alice, wad(2_000), wad(400))).id;
    const carolId = (await open(s, carol, wad(1_000), wad(200))).id;
    const frankId = (await open(s, frank, wad(-5_000), wad(1_000))).id;
    const allIds = [aliceId, carolId, frankId];
    const mark = wad("2.6"); // +30%: the longs win ~$1,800, frank loses ~$3,000 on $1,000
    await setIndex(s, mark);
    // before the liquidation the traders as a whole are losing: no ADL
    expect(await traderPnlAt(s, mark)).to.be.lt(0n);
    await expect(s.ex.engine.autoDeleverage(aliceId, wad(1_000))).to.be.revertedWithCustomError(
      s.ex.engine,
      "AdlNotActive",
    );

    await (await s.ex.engine.connect(s.keeper).liquidate(frankId)).wait();
    let uncovered = (await s.ex.admin.marketState(s.marketId)).uncoveredBadDebt;
    expect(uncovered).to.be.gt(wad(900)); // ~$2,000 of bad debt against ~$1,000 of insurance
    // the profit (~$1,800) is under the pool share (~$5,000): the uncovered bad debt alone opens ADL
    expect(await traderPnlAt(s, mark)).to.be.lt(await threshold(s));

    for (const size of [wad(1_000), wad(1_000)]) {
      const before = await s.ex.admin.position(aliceId);
      const pnlBefore = (await s.ex.lens.market(s.marketId)).traderPnl;
      const free0 = await s.ex.vault.freeBalance(alice.address);
      const pool0 = await s.ex.vault.poolAssets();
      const receipt = await adl(s, aliceId, size);

      const realized = pnl(size, before.entryPrice, mark); // ~$600
      const haircut = realized < uncovered ? realized : uncovered; // the bad debt is repaid first
      const value = BigInt(before.margin) + realized - haircut;
      const payout = size === before.size ? value : (value * size) / before.size;
      const [ev] = eventsOf(receipt, s.ex, "AutoDeleveraged");
      expect(ev.args.realizedPnl).to.equal(realized);
      expect(ev.args.haircut).to.equal(haircut);
      uncovered -= haircut;
      expect((await s.ex.admin.marketState(s.marketId)).uncoveredBadDebt).to.equal(uncovered);
      expect((await s.ex.vault.freeBalance(alice.address)) - free0).to.equal(payout);
      // the pool pays the profit less what it recovers of the bad debt it absorbed
      expect(pool0 - (await s.ex.vault.poolAssets())).to.equal(realized - haircut);
      expect((await s.ex.lens.market(s.marketId)).traderPnl).to.be.lt(pnlBefore);
    }
    // ~$600 then ~$400: the second call repaid the rest, and alice is closed
    expect(uncovered).to.equal(0n);
    expect((await s.ex.admin.position(aliceId)).size).to.equal(0n);
    // with no uncovered bad debt and profit under the line, carol's winning long may not be deleveraged
    expect(await traderPnlAt(s, mark)).to.be.gt(0n);
    await expect(s.ex.engine.autoDeleverage(carolId, wad(500)))
      .to.be.revertedWithCustomError(s.ex.engine, "AdlNotActive")
      .withArgs(s.marketId);
    await expectConserved(s, allIds);
  });

  it("above the cap with uncovered bad debt: pays the profit pro rata, then repays the bad debt from what it pays", async () => {
    const { s, ids } = await crowdedLongs();
    const mark = wad("2.4");
    // gina shorts 10,000 from $2.4 on $2,000; at $2.8 she owes ~$4,000: ~$2,000 of bad debt beyond
    // the $1,000 insurance fund
    const [, , , , gina] = s.traders;
    const ginaId = (await open(s, gina, wad(-10_000), wad(2_000))).id;
    await setIndex(s, wad("2.8"));
    await (await s.ex.engine.connect(s.keeper).liquidate(ginaId)).wait();
    await setIndex(s, mark);
    let uncovered = (await s.ex.admin.marketState(s.marketId)).uncoveredBadDebt;
    expect(uncovered).to.be.gt(wad(500));

    const before = await s.ex.admin.position(ids.alice);
    const pnlBefore = (await s.ex.lens.market(s.marketId)).traderPnl;
    const cap = await threshold(s);
    expect(pnlBefore).to.be.gt(cap); // both ADL conditions hold
    const pool0 = await s.ex.vault.poolAssets();
    const size = wad(5_000);
    const receipt = await adl(s, ids.alice, size);

    const realized = pnl(size, before.entryPrice, mark); // ~$1,980
    const paid = (realized * cap) / pnlBefore; // the close's pro-rata profit, ~$1,300
    const haircut = paid < uncovered ? paid : uncovered; // taken from what the pool would pay
    const [capped] = eventsOf(receipt, s.ex, "ProfitCapped");
    expect(capped.args.realizedPnl).to.equal(realized);
    expect(capped.args.paid).to.equal(paid);
    const [ev] = eventsOf(receipt, s.ex, "AutoDeleveraged");
    expect(ev.args.realizedPnl).to.equal(paid);
    expect(ev.args.haircut).to.equal(haircut);
    uncovered -= haircut;
    expect((await s.ex.admin.marketState(s.marketId)).uncoveredBadDebt).to.equal(uncovered);
    // the pool pays the capped profit less what it recovers of the bad debt
    expect(pool0 - (await s.ex.vault.poolAssets())).to.equal(paid - haircut);
    const value = BigInt(before.margin) + paid - haircut;
    expect((await s.ex.admin.position(ids.alice)).margin).to.equal(value - (value * size) / before.size);
    await expectConserved(s, [...Object.values(ids), ginaId]);
  });

  it("lowers traders' unrealised PnL with every call on a median-marked market too, where each close moves the mark", async () => {
    const s = await deployRiskSystem({
      market: { maxPnlFactor: MAX_PNL_FACTOR, markModel: "median" },
      lpDepositUsd: "500000",
      insuranceFundUsd: "1000",
    });
    const [alice, bob] = s.traders;
    const aliceId = (await open(s, alice, wad(200_000), wad(100_000))).id;
    const bobId = (await open(s, bob, wad(-50_000), wad(100_000))).id;
    await setIndex(s, wad("2.2"));
    await time.increase(1_200); // four EMA half-lives: the mark follows the index up
    await setIndex(s, wad("2.2"));
    let traderPnl = (await s.ex.lens.market(s.marketId)).traderPnl;
    expect(traderPnl).to.be.gt(await threshold(s));
    for (let i = 0; i < 3; i++) {
      const markBefore = (await s.ex.lens.market(s.marketId)).markPrice;
      await adl(s, aliceId, wad(30_000));
      const m = await s.ex.lens.market(s.marketId);
      // selling 30,000 of the crowded long side lowers the last price, and with it the mark
      expect(m.markPrice).to.be.lt(markBefore);
      expect(m.traderPnl).to.be.lt(traderPnl);
      traderPnl = m.traderPnl;
    }
    await expectConserved(s, [aliceId, bobId]);
  });
});
