import { expect } from "chai";
import { toWad, WAD } from "../../sim/decimal";
import {
  assignCascadeRounds,
  cascadeDepth,
  costToMoveSpot,
  liquidatableWithin,
  liquidationsPerBlock,
  maxLiquidationsPerBlock,
  median,
  medianCrossingToLiquidationSec,
  peakMove,
  relativeChange,
  squeezeEconomics,
  SQUEEZE_MOVES_PCT,
  type PositionAtRisk,
} from "../../sim/metrics";
import type { LiquidationEvent } from "../../sim/types";

function liquidation(block: number, overrides: Partial<LiquidationEvent> = {}): LiquidationEvent {
  return {
    t: block * 12,
    block,
    market: "ALT-USD",
    positionId: BigInt(block),
    side: "short",
    size: toWad(1000),
    price: toWad("0.6"),
    notional: toWad(600),
    keeper: "0xkeeper",
    round: 1,
    crossedAt: null,
    ...overrides,
  };
}

describe("summary metrics", () => {
  describe("liquidations per block and cascades", () => {
    const events = [10, 10, 11, 12, 12, 12, 20, 21].map((block) => liquidation(block));

    it("counts liquidations per block and finds the busiest block", () => {
      expect([...liquidationsPerBlock(events)]).to.deep.equal([
        [10, 2],
        [11, 1],
        [12, 3],
        [20, 1],
        [21, 1],
      ]);
      expect(maxLiquidationsPerBlock(events)).to.equal(3);
      expect(maxLiquidationsPerBlock([])).to.equal(0);
    });

    it("numbers rounds through consecutive liquidation blocks and restarts after a gap", () => {
      const rounds = assignCascadeRounds(events, 1).map((event) => event.round);
      expect(rounds).to.deep.equal([1, 1, 2, 3, 3, 3, 1, 2]);
      expect(cascadeDepth(assignCascadeRounds(events, 1))).to.equal(3);
    });

    it("links blocks further apart when the keeper's latency allows a wider gap", () => {
      const spaced = [10, 12, 14, 30].map((block) => liquidation(block));
      expect(assignCascadeRounds(spaced, 1).map((event) => event.round)).to.deep.equal([1, 1, 1, 1]);
      expect(assignCascadeRounds(spaced, 2).map((event) => event.round)).to.deep.equal([1, 2, 3, 1]);
    });

    it("keeps each market's cascade to itself", () => {
      const mixed = [
        liquidation(10),
        liquidation(11, { market: "BTC-USD" }),
        liquidation(12, { market: "BTC-USD" }),
        liquidation(13),
      ];
      const rounds = assignCascadeRounds(mixed, 1).map((event) => `${event.market}:${event.round}`);
      expect(rounds).to.deep.equal(["ALT-USD:1", "BTC-USD:1", "BTC-USD:2", "ALT-USD:1"]);
    });

    it("has depth 0 without liquidations", () => {
      expect(cascadeDepth([])).to.equal(0);
    });
  });

  describe("medians", () => {
    it("takes the middle value, or the mean of the middle two", () => {
      expect(median([5, 1, 3])).to.equal(3);
      expect(median([4, 1, 3, 2])).to.equal(2.5);
      expect(median([])).to.equal(null);
    });

    it("measures crossing-to-liquidation only where the crossing was seen", () => {
      const events = [
        liquidation(10, { t: 120, crossedAt: 100 }),
        liquidation(11, { t: 200, crossedAt: 140 }),
        liquidation(12, { t: 300 }),
      ];
      expect(medianCrossingToLiquidationSec(events)).to.equal(40); // (20 + 60) / 2
    });
  });

  describe("peak moves", () => {
    it("reports the largest rise and the largest fall from the start", () => {
      const prices = ["0.5", "0.55", "0.69", "0.6", "0.45"].map(toWad);
      expect(peakMove(prices, toWad("0.5"))).to.deep.equal({ up: toWad("0.38"), down: toWad("-0.1") });
    });

    it("reports zero both ways for a flat price", () => {
      expect(peakMove([WAD, WAD], WAD)).to.deep.equal({ up: 0n, down: 0n });
    });

    it("refuses a non-positive reference", () => {
      expect(() => relativeChange(0n, WAD)).to.throw(RangeError);
    });
  });

  describe("squeeze economics", () => {
    const reserve = toWad(200_000);
    const fee = toWad("0.003");

    it("costs 10% of the USD reserve to lift the price 21%, without fee (sqrt(1.21) = 1.1)", () => {
      expect(costToMoveSpot(reserve, toWad("0.21"), 0n)).to.equal(toWad(20_000));
    });

    it("costs the whole reserve's worth of coins to quarter the price (1 / sqrt(0.25) - 1 = 1)", () => {
      expect(costToMoveSpot(reserve, toWad("-0.75"), 0n)).to.equal(toWad(200_000));
    });

    it("grosses the cost up by the fee, rounding up", () => {
      // 20,000 / (1 - 0.003) = 20,060.180541624874623871614...: rounded up at the 18th decimal
      expect(costToMoveSpot(reserve, toWad("0.21"), fee)).to.equal(20_060_180_541_624_874_623_872n);
    });

    it("buys just enough: the cost lifts an x*y=k pool by the move, a cent less does not", () => {
      const y0 = reserve;
      const lifted = (cost: bigint) => {
        const y1 = y0 + (cost * (WAD - fee)) / WAD; // USD side after the buy, fee kept out
        return y1 * y1 * 100n; // price ratio (y1 / y0)^2, compared against 1.1 * y0^2 * 100
      };
      const cost = costToMoveSpot(reserve, toWad("0.1"), fee);
      expect(lifted(cost) >= y0 * y0 * 110n).to.equal(true);
      expect(lifted(cost - toWad("0.01")) < y0 * y0 * 110n).to.equal(true);
    });

    it("finds the shorts within a rise and the longs within a fall", () => {
      const positions: PositionAtRisk[] = [
        { side: "short", notional: toWad(1_000), liquidationPrice: toWad("0.52") },
        { side: "short", notional: toWad(2_000), liquidationPrice: toWad("0.56") },
        { side: "short", notional: toWad(4_000), liquidationPrice: toWad("0.7") },
        { side: "long", notional: toWad(500), liquidationPrice: toWad("0.45") },
      ];
      const reference = toWad("0.5");
      expect(liquidatableWithin(positions, reference, toWad("0.1"))).to.equal(toWad(1_000)); // up to 0.55
      expect(liquidatableWithin(positions, reference, toWad("0.2"))).to.equal(toWad(3_000)); // up to 0.6
      expect(liquidatableWithin(positions, reference, toWad("-0.1"))).to.equal(toWad(500)); // down to 0.45, inclusive
      expect(liquidatableWithin(positions, reference, 0n)).to.equal(0n);

      const points = squeezeEconomics(reserve, fee, reference, positions);
      expect(points.map((point) => point.movePct)).to.deep.equal([...SQUEEZE_MOVES_PCT]);
      expect(points[1]).to.deep.equal({
        movePct: 10,
        costUp: costToMoveSpot(reserve, toWad("0.1"), fee),
        costDown: costToMoveSpot(reserve, toWad("-0.1"), fee),
        liquidatableUp: toWad(1_000),
        liquidatableDown: toWad(500),
      });
    });
  });
});
