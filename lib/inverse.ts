/**
 * contracts/libraries/InverseMath.sol in TypeScript: coin-margined (inverse) positions (SPEC 9.2), bigint
 * only, the same rounding to the unit. A position's signed `size` is its face in USD (contracts x face
 * value, WAD); prices are USD per coin; margin, PnL, fees, funding, maintenance amounts and tier caps are
 * in the coin. test/vectors/inverse.test.ts checks every function against contracts/test/InverseMathHarness.sol.
 */
import { MAX_UINT256, WAD, WadMath, type Tier } from "./math";

export const InverseMath = {
  /** PnL in coin of signed face `size` entered at `entry`, valued at `price`: s*Q*(1/E - 1/P), rounded down. */
  pnl(size: bigint, entry: bigint, price: bigint): bigint {
    return WadMath.floorDiv(size * (price - entry) * WAD, entry * price);
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

  /** E * P * WAD^3 times (equity - MM) at `price`, exact: (M + amt)*P*E + s*Q*WAD*(P - E) - Q*E*mmr. */
  health(tiers: readonly Tier[], size: bigint, entry: bigint, netMargin: bigint, price: bigint): bigint {
    const absSize = WadMath.abs(size);
    const t = tiers[InverseMath.tierOf(tiers, absSize, price)];
    return (netMargin + t.maintenanceAmount) * price * entry + size * WAD * (price - entry) - absSize * entry * t.mmr;
  },

  isLiquidatable(tiers: readonly Tier[], size: bigint, entry: bigint, netMargin: bigint, price: bigint): boolean {
    return InverseMath.health(tiers, size, entry, netMargin, price) < 0n;
  },

  /**
   * First mark at which the position is liquidatable (a long's highest, a short's lowest). 0 when a long
   * never is or a short always is; MAX_UINT256 when a short never is (a 1x short) or a long always is.
   */
  liquidationPrice(tiers: readonly Tier[], size: bigint, entry: bigint, netMargin: bigint): bigint {
    if (size < 0n && InverseMath.isLiquidatable(tiers, size, entry, netMargin, 1n)) return 0n;
    const absSize = WadMath.abs(size);
    if (rootInTier(tiers[0], size > 0n, absSize, entry, netMargin) === MAX_UINT256) return MAX_UINT256;
    let fallbackPrice = 0n;
    for (let i = 0; i < tiers.length; ++i) {
      const p = rootInTier(tiers[i], size > 0n, absSize, entry, netMargin);
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

  /** Harmonic entry weighted by face, (Q1 + Q2) / (Q1/E1 + Q2/E2), up for a long, down for a short. */
  averageEntry(size: bigint, entry: bigint, delta: bigint, fill: bigint): bigint {
    const q1 = WadMath.abs(size);
    const q2 = WadMath.abs(delta);
    if (q1 === 0n) return fill;
    const num = (q1 + q2) * entry * fill;
    const den = q1 * fill + q2 * entry;
    return delta > 0n ? WadMath.divRoundUp(num, den) : num / den;
  },

  /** One boundary's funding index step in coin per USD of face: rate / mark, rounded up. */
  fundingIndexDelta(rate: bigint, mark: bigint): bigint {
    return -WadMath.floorDiv(-rate * WAD, mark);
  },
};

/** InverseMath._rootInTier: with H(P) = P*A - B, a long is liquidatable iff P*A < B, a short iff P*(-A) > -B. */
function rootInTier(t: Tier, isLong: boolean, absSize: bigint, entry: bigint, netMargin: bigint): bigint {
  const cushion = (netMargin + t.maintenanceAmount) * entry;
  const face = absSize * WAD;
  if (isLong) {
    const a = cushion + face;
    if (a <= 0n) return MAX_UINT256;
    return (absSize * entry * (WAD + t.mmr) - 1n) / a;
  }
  const aShort = cushion - face;
  if (aShort >= 0n) return MAX_UINT256;
  return (absSize * entry * (WAD - t.mmr)) / -aShort + 1n;
}
