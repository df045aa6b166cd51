/**
 * The keeper's pure core: the health tracker (which liquidation prices a block recomputes, and the
 * candidates a mark finds) and the order conditions, on synthetic positions and markets. Expected
 * liquidation prices come from the SPEC closed form written out here.
 */
import { expect } from "chai";
import { OrderList, OrderType, PositionBook } from "../../keeper/book";
import type { TrackedOrder, TrackedPosition } from "../../keeper/book";
import { HealthTracker, liquidationPriceOf } from "../../keeper/health";
import { orderDecision } from "../../keeper/jobs/orders";
import { canLiquidate } from "../../keeper/markets";
import type { MarketSnapshot } from "../../keeper/markets";
import { Pricing } from "../../lib/math";
import type { Tier } from "../../lib/math";
import { WAD, wad } from "../../lib/units";

/** One tier, 0.5% maintenance, no maintenance amount: the SPEC closed form applies directly. */
const TIERS: Tier[] = [{ notionalCap: wad(1_000_000), maintenanceAmount: 0n, mmr: wad("0.005"), maxLeverage: wad(50) }];
const MMR = wad("0.005");
const SKEW_SCALE = wad(1_000_000);

/**
 * A market as the tracker and the order conditions read it: its id, tiers, clock and projection
 * (funding index, index, mark, open interest). The other fields are never read by them.
 */
function market(
  marketId: bigint,
  fields: { fundingIndex?: bigint; index?: bigint; mark?: bigint; skew?: bigint; nowSec?: bigint } = {},
): MarketSnapshot {
  const skew = fields.skew ?? 0n;
  const partial = {
    marketId,
    tiers: TIERS,
    nowSec: fields.nowSec ?? 1_000n,
    config: { skewScale: SKEW_SCALE },
    projected: {
      index: fields.index ?? wad(2),
      mark: fields.mark ?? wad(2),
      state: {
        fundingIndex: fields.fundingIndex ?? 0n,
        longOpenInterest: skew > 0n ? skew : 0n,
        shortOpenInterest: skew < 0n ? -skew : 0n,
      },
    },
  };
  return partial as unknown as MarketSnapshot;
}

function position(id: bigint, marketId: bigint, size: bigint, margin: bigint, fundingSnapshot = 0n): TrackedPosition {
  return { id, owner: `0x${"1".repeat(40)}`, marketId, size, entryPrice: wad(2), margin, fundingSnapshot, block: 1 };
}

/**
 * SPEC: the boundary X = (entry*size + M) / (size*(1 + mmr)) for a short, (entry*size - M) / (size*(1 - mmr))
 * for a long (no maintenance amount in one tier). Liquidatable strictly past it, so the liquidation price
 * in wei is the first price above X for a short (floor + 1) and the last price below X for a long.
 */
function closedForm(size: bigint, entry: bigint, netMargin: bigint): bigint {
  const abs = size < 0n ? -size : size;
  const num = (size < 0n ? entry * abs + netMargin * WAD : entry * abs - netMargin * WAD) * WAD;
  const den = abs * (size < 0n ? WAD + MMR : WAD - MMR);
  if (size < 0n) return num / den + 1n;
  return num % den === 0n ? num / den - 1n : num / den;
}

describe("keeper health tracker", () => {
  it("prices a position at the SPEC closed form, with pending funding folded into the margin", () => {
    // A 10x short of 500 at 2 ($100 margin): (2 * 500 + 100) / (500 * 1.005) = 2.18905...
    const short = position(1n, 1n, -wad(500), wad(100));
    expect(liquidationPriceOf(short, 0n, TIERS)).to.equal(closedForm(-wad(500), wad(2), wad(100)));
    // Funding index up 0.01 USD per unit: the short receives 500 * 0.01 = $5, so M = 105.
    expect(liquidationPriceOf(short, wad("0.01"), TIERS)).to.equal(closedForm(-wad(500), wad(2), wad(105)));
    // A 10x long of 500 at 2: (2 * 500 - 100) / (500 * 0.995) = 1.80904...
    const long = position(2n, 1n, wad(500), wad(100));
    expect(liquidationPriceOf(long, 0n, TIERS)).to.equal(closedForm(wad(500), wad(2), wad(100)));
  });

  it("recomputes only changed positions, and a whole market when its funding index moves", () => {
    const book = new PositionBook();
    for (const p of [
      position(1n, 1n, -wad(500), wad(100)),
      position(2n, 1n, -wad(500), wad(50)),
      position(3n, 1n, wad(500), wad(100)),
      position(4n, 2n, -wad(500), wad(100)),
    ]) {
      book.apply(p);
    }
    const tracker = new HealthTracker();
    let markets = new Map([
      [1n, market(1n)],
      [2n, market(2n)],
    ]);
    expect(tracker.update(book, book.takeChanged(), markets)).to.deep.equal({
      recomputed: 4,
      marketsRecomputed: [1n, 2n],
    });
    expect(tracker.update(book, book.takeChanged(), markets)).to.deep.equal({ recomputed: 0, marketsRecomputed: [] });

    book.apply(position(2n, 1n, -wad(500), wad(80))); // margin added
    expect(tracker.update(book, book.takeChanged(), markets)).to.deep.equal({ recomputed: 1, marketsRecomputed: [] });

    markets = new Map([
      [1n, market(1n, { fundingIndex: wad("0.001") })],
      [2n, market(2n)],
    ]);
    expect(tracker.update(book, book.takeChanged(), markets)).to.deep.equal({ recomputed: 3, marketsRecomputed: [1n] });
  });

  it("finds exactly the crossed positions, deepest first, and forgets closed ones", () => {
    const book = new PositionBook();
    const tracker = new HealthTracker();
    const shortLow = position(1n, 1n, -wad(500), wad(50)); // liquidated first as the mark rises
    const shortHigh = position(2n, 1n, -wad(500), wad(100));
    const long = position(3n, 1n, wad(500), wad(100));
    for (const p of [shortLow, shortHigh, long]) book.apply(p);
    const markets = new Map([[1n, market(1n)]]);
    tracker.update(book, book.takeChanged(), markets);
    const low = liquidationPriceOf(shortLow, 0n, TIERS);
    const high = liquidationPriceOf(shortHigh, 0n, TIERS);

    expect(tracker.candidates(1n, low - 1n)).to.deep.equal([]);
    expect(tracker.candidates(1n, low)).to.deep.equal([1n]);
    expect(tracker.candidates(1n, high)).to.deep.equal([1n, 2n]);
    expect(tracker.candidates(1n, liquidationPriceOf(long, 0n, TIERS))).to.deep.equal([3n]);

    book.apply({ ...shortLow, size: 0n, margin: 0n }); // liquidated
    tracker.update(book, book.takeChanged(), markets);
    expect(tracker.size).to.equal(2);
    expect(tracker.candidates(1n, high)).to.deep.equal([2n]);
  });
});

describe("keeper market gate", () => {
  it("takes liquidations on a fresh index, or within the grace period after the oracle went stale, as the engine does", () => {
    const GRACE = 3_600n;
    const at = (fresh: boolean, freshUntil: bigint, nowSec: bigint, index = wad(2)) =>
      ({
        fresh,
        nowSec,
        config: { oracleGracePeriod: GRACE },
        index,
        freshUntil,
      }) as unknown as MarketSnapshot;
    expect(canLiquidate(at(true, 0n, 10_000n))).to.equal(true);
    expect(canLiquidate(at(false, 10_000n, 10_000n + GRACE))).to.equal(true);
    expect(canLiquidate(at(false, 10_000n, 10_000n + GRACE + 1n))).to.equal(false);
    expect(canLiquidate(at(false, 10_000n, 10_000n, 0n))).to.equal(false);
  });
});

describe("keeper order conditions", () => {
  const owner = `0x${"2".repeat(40)}`;
  const orders = new OrderList();
  const order = (type: OrderType, sizeDelta: bigint, triggerPrice: bigint, acceptablePrice = triggerPrice) => {
    orders.add({
      id: 1n,
      account: owner,
      marketId: 1n,
      type,
      sizeDelta,
      triggerPrice,
      acceptablePrice,
      margin: 0n,
      executionFee: wad(1),
      expirySec: 0n,
      block: 1,
    });
    return orders.get(1n)!;
  };
  const long: TrackedPosition = { ...position(9n, 1n, wad(500), wad(100)), owner };

  it("fills a limit buy when the fill price of its trade is at or below the limit, not a wei above", () => {
    const limit = wad("1.95");
    const buy = order(OrderType.LimitOpen, wad(500), limit);
    // P_fill = index * (2S + 2K + d) / 2S rounded up for a buy, with K = 0: the highest index that fills.
    const f = 2n * SKEW_SCALE + wad(500);
    const highest = (limit * 2n * SKEW_SCALE) / f;
    expect(Pricing.fillPrice(highest, 0n, wad(500), SKEW_SCALE)).to.be.at.most(limit);
    expect(orderDecision(buy, undefined, market(1n, { index: highest })).kind).to.equal("execute");
    expect(orderDecision(buy, undefined, market(1n, { index: highest + 1n })).kind).to.equal("wait");
  });

  it("triggers a long's take-profit at or above its trigger and its stop-loss at or below, on the mark", () => {
    const takeProfit = order(OrderType.TakeProfit, -wad(500), wad("2.1"), 0n);
    expect(orderDecision(takeProfit, long, market(1n, { mark: wad("2.1") - 1n, index: wad("2.1") })).kind).to.equal(
      "wait",
    );
    expect(orderDecision(takeProfit, long, market(1n, { mark: wad("2.1"), index: wad(2) })).kind).to.equal("execute");
    const stopLoss = order(OrderType.StopLoss, -wad(500), wad("1.9"), 0n);
    expect(orderDecision(stopLoss, long, market(1n, { mark: wad("1.9") + 1n })).kind).to.equal("wait");
    expect(orderDecision(stopLoss, long, market(1n, { mark: wad("1.9") })).kind).to.equal("execute");
  });

  it("waits while a triggered order's fill is worse than its acceptable price", () => {
    const stopLoss = order(OrderType.StopLoss, -wad(500), wad("1.9"), wad("1.89"));
    // The sell fills below the index; at index 1.89 the fill is under 1.89.
    expect(orderDecision(stopLoss, long, market(1n, { mark: wad("1.89"), index: wad("1.89") })).kind).to.equal("wait");
    expect(orderDecision(stopLoss, long, market(1n, { mark: wad("1.9"), index: wad("1.9") })).kind).to.equal("execute");
  });

  it("calls an order expired from its expiry on, and a reduce-only order orphaned without its position", () => {
    const takeProfit = { ...order(OrderType.TakeProfit, -wad(500), wad("2.1"), 0n), expirySec: 2_000n };
    expect(orderDecision(takeProfit, long, market(1n, { nowSec: 1_999n })).kind).to.equal("wait");
    expect(orderDecision(takeProfit, long, market(1n, { nowSec: 2_000n })).kind).to.equal("expired");
    const noExpiry: TrackedOrder = { ...takeProfit, expirySec: 0n };
    expect(orderDecision(noExpiry, undefined, market(1n)).kind).to.equal("orphaned");
    expect(orderDecision(noExpiry, { ...long, size: -wad(500) }, market(1n)).kind).to.equal("orphaned");
  });
});

describe("liquidateMany batches", () => {
  it("never ask for more gas than the per-transaction cap (EIP-7825)", async () => {
    const { liquidateManyGas, MAX_BATCH_SIZE, TX_GAS_CAP } = await import("../../keeper/jobs/liquidations");
    const hugeBlock = 1_000_000_000n;
    expect(liquidateManyGas(MAX_BATCH_SIZE, hugeBlock)! <= TX_GAS_CAP).to.equal(true);
    expect(liquidateManyGas(MAX_BATCH_SIZE + 1, hugeBlock)).to.equal(undefined);
  });
});
