/**
 * contracts/libraries/InverseMath.sol in TypeScript: coin-margined (inverse) positions (SPEC 9.2), bigint
 * only, the same rounding to the unit. A position's signed `size` is its face in USD (contracts x face
 * value, WAD); prices are USD per coin; margin, PnL, fees, funding, maintenance amounts and tier caps are
 * in the coin. A position carries its cost (Q/E in coin, the sum of its fills' Q_i/P_i), not its entry
 * price: the entry is Q/cost, the harmonic mean of the fills. test/vectors/inverse.test.ts checks every
 * function against contracts/test/InverseMathHarness.sol.
 */
import { MAX_UINT256, WAD, WadMath, type Tier } from "./math";

export const InverseMath = {
  /** Cost in coin of signed face `size` filled at `price`, Q/P: down for a long, up for a short. */
  cost(size: bigint, price: bigint): bigint {
    const absSize = WadMath.abs(size);
    return size > 0n ? (absSize * WAD) / price : WadMath.divUp(absSize, price);
  },

  /** PnL in coin of signed face `size` of cost `cost` at `price`: s*(cost - Q/P), Q/P against the trader. */
  pnl(size: bigint, cost: bigint, price: bigint): bigint {
    const absSize = WadMath.abs(size);
    return size > 0n ? cost - WadMath.divUp(absSize, price) : (absSize * WAD) / price - cost;
  },

  /** The entry price Q/cost (USD per coin): the harmonic mean of the fills, weighted by face. */
  entryPrice(absSize: bigint, cost: bigint): bigint {
    return cost === 0n ? 0n : (absSize * WAD) / cost;
  },

  /** The cost that leaves with `closed` face: cost * closed / Q, down for a long, up for a short. */
  closedCost(size: bigint, cost: bigint, closed: bigint): bigint {
    const absSize = WadMath.abs(size);
    return size > 0n ? (cost * closed) / absSize : WadMath.divRoundUp(cost * closed, absSize);
  },

  /** Notional in coin of face `absSize` at `price`, rounded up. */
  notional(absSize: bigint, price: bigint): bigint {
    return WadMath.divUp(absSize, price);
  },

  /** Index of the tier that holds the coin notional absSize / price (exact), clamped to the last tier. */
  tierOf(tiers: readonly Tier[], absSize: bigint, price: bigint): number {
    const scaledFace = absSize * WAD;
    const last = tiers.length - 1;
    for (let i = 0; i < last; ++i) {
      if (scaledFace <= tiers[i].notionalCap * price) return i;
    }
    return last;
  },

  /** Maintenance margin in coin at `price`, rounded up. */
  maintenanceMargin(tiers: readonly Tier[], absSize: bigint, price: bigint): bigint {
    const t = tiers[InverseMath.tierOf(tiers, absSize, price)];
    const mm = WadMath.mulUp(InverseMath.notional(absSize, price), t.mmr);
    return mm > t.maintenanceAmount ? mm - t.maintenanceAmount : 0n;
  },

  /** P times (equity - MM) at `price`, exact: (M + amt + s*cost)*P - Q*(s*WAD + mmr). */
  health(tiers: readonly Tier[], size: bigint, cost: bigint, netMargin: bigint, price: bigint): bigint {
    const t = tiers[InverseMath.tierOf(tiers, WadMath.abs(size), price)];
    const { a, b } = line(t, size, cost, netMargin);
    return a * price - b;
  },

  isLiquidatable(tiers: readonly Tier[], size: bigint, cost: bigint, netMargin: bigint, price: bigint): boolean {
    return InverseMath.health(tiers, size, cost, netMargin, price) < 0n;
  },

  /**
   * First mark at which the position is liquidatable (a long's highest, a short's lowest). 0 when a long
   * never is or a short always is; MAX_UINT256 when a short never is (a 1x short) or a long always is.
   */
  liquidationPrice(tiers: readonly Tier[], size: bigint, cost: bigint, netMargin: bigint): bigint {
    if (size < 0n && InverseMath.isLiquidatable(tiers, size, cost, netMargin, 1n)) return 0n;
    const absSize = WadMath.abs(size);
    if (rootInTier(tiers[0], size, cost, netMargin) === MAX_UINT256) return MAX_UINT256;
    let fallbackPrice = 0n;
    for (let i = 0; i < tiers.length; ++i) {
      const p = rootInTier(tiers[i], size, cost, netMargin);
      if (p !== 0n && p !== MAX_UINT256 && InverseMath.tierOf(tiers, absSize, p) === i) return p;
      fallbackPrice = p;
    }
    return fallbackPrice;
  },

  /** Whether equity (coin) covers the initial margin of the coin notional at `price`. */
  meetsInitialMargin(
    tiers: readonly Tier[],
    absSize: bigint,
    price: bigint,
    equity: bigint,
  ): { ok: boolean; leverage: bigint; maxLeverage: bigint } {
    const maxLeverage = tiers[InverseMath.tierOf(tiers, absSize, price)].maxLeverage;
    if (equity <= 0n) return { ok: false, leverage: MAX_UINT256, maxLeverage };
    const leverage = WadMath.divUp(InverseMath.notional(absSize, price), equity);
    return { ok: leverage <= maxLeverage, leverage, maxLeverage };
  },

  /** Trading fee in coin: rate * |delta| / fill, taker rate when |skew| (USD face) grows. Rounds up. */
  fee(skew: bigint, delta: bigint, fill: bigint, takerRate: bigint, makerRate: bigint): bigint {
    const rate = WadMath.abs(skew + delta) > WadMath.abs(skew) ? takerRate : makerRate;
    return WadMath.divUp(WadMath.mulUp(WadMath.abs(delta), rate), fill);
  },

  /** One boundary's funding index step in coin per USD of face: rate / mark, rounded up. */
  fundingIndexDelta(rate: bigint, mark: bigint): bigint {
    return -WadMath.floorDiv(-rate * WAD, mark);
  },

  /** Traders' net unrealised PnL in coin from the per-side sums of face and cost: exact, rounded up once. */
  tradersPnl(longFace: bigint, longCost: bigint, shortFace: bigint, shortCost: bigint, mark: bigint): bigint {
    const exact = (longCost - shortCost) * mark - (longFace - shortFace) * WAD;
    return -WadMath.floorDiv(-exact, mark);
  },

  /** One side's unrealised PnL in coin at `mark`, exact and rounded down (the ADL side test). */
  sidePnl(face: bigint, cost: bigint, mark: bigint, isLong: boolean): bigint {
    const exact = cost * mark - face * WAD;
    return WadMath.floorDiv(isLong ? exact : -exact, mark);
  },
};

/** InverseMath._line: H(P) = a*P - b with a = M + amt + s*cost and b = Q*(s*WAD + mmr). */
function line(t: Tier, size: bigint, cost: bigint, netMargin: bigint): { a: bigint; b: bigint } {
  const sign = size > 0n ? 1n : -1n;
  return { a: netMargin + t.maintenanceAmount + sign * cost, b: WadMath.abs(size) * (sign * WAD + t.mmr) };
}

/** InverseMath._rootInTier: a long is liquidatable iff P*a < b, a short iff P*(-a) > -b. */
function rootInTier(t: Tier, size: bigint, cost: bigint, netMargin: bigint): bigint {
  const { a, b } = line(t, size, cost, netMargin);
  if (size > 0n) return a <= 0n ? MAX_UINT256 : (b - 1n) / a;
  return a >= 0n ? MAX_UINT256 : -b / -a + 1n;
}
