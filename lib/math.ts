/**
 * The contracts' math in TypeScript, for the keeper, the simulator and the tasks (SPEC sections 3, 5).
 *
 * One section per Solidity library, exported as an object of the same name with the same function names
 * (`Pricing.fillPrice`, `MarginMath.liquidationPrice`, `MarketLib.sync`), bigint only, and the same
 * rounding to the unit. Solidity's signed `/` truncates toward zero and so does bigint `/`; where a
 * contract rounds toward negative infinity it calls `WadMath.floorDiv`, and so does this file.
 *
 * Reverts: a contract's named error is thrown as an error of the same name (`SkewBeyondScale`), a
 * division by zero throws bigint's RangeError. Narrowing casts are SafeCast's on chain (they revert out of
 * range) and throw a RangeError naming the field here. Checked-arithmetic overflow and underflow, which
 * also revert on chain, are not modelled: callers pass states the engine can reach.
 *
 * Where the contracts take a strategy contract (the mark method, the funding model), the config here
 * names it (`"median"`, `"index"`, `"premium"`, `"velocity"`). Structs read through ethers are converted with the
 * `*FromChain` functions at the end. test/vectors/ checks every function against the contracts through
 * contracts/test/MathHarness.sol.
 */
import { getAddress, toBeHex } from "ethers";
import { WAD } from "./units";

export { WAD };
export const MAX_UINT256 = (1n << 256n) - 1n;
const WAD2 = WAD * WAD;

/* ------------------------------------------------------------------ STRUCTS */

/** MarginMath's maintenance bracket; every field WAD (USD for cap and amount). */
export interface Tier {
  notionalCap: bigint;
  maintenanceAmount: bigint;
  mmr: bigint;
  maxLeverage: bigint;
}

/** The mark-price strategy, by the `name()` of its contract. */
export type MarkModel = "median" | "index";
/** The funding strategy, by the `name()` of its contract. */
export type FundingModel = "premium" | "velocity";

/** MarketLib's MarketConfig, with the strategy contracts named instead of addressed. */
export interface MarketConfig {
  symbol: string;
  skewScale: bigint;
  maxOpenInterest: bigint;
  takerFee: bigint;
  makerFee: bigint;
  liquidationFeeRate: bigint;
  insuranceFeeShare: bigint;
  minLiquidationFee: bigint;
  minMargin: bigint;
  fundingInterestRate: bigint;
  fundingClamp: bigint;
  fundingCap: bigint;
  /** seconds */
  fundingInterval: bigint;
  /** seconds */
  emaHalfLife: bigint;
  markBand: bigint;
  reserveFactor: bigint;
  /** traders' net profit the pool counts is capped at this share of its ledger */
  maxPnlFactor: bigint;
  partialLiquidationBuffer: bigint;
  markModel: MarkModel;
  /** USD: no position opens or grows below this notional at fill */
  minPositionNotional: bigint;
  fundingModel: FundingModel;
  /** velocity funding only: per day, of a rate per day, at full skew */
  maxFundingVelocity: bigint;
  /** seconds */
  oracleGracePeriod: bigint;
}

/** MarketLib's MarketState; times in seconds, the rest WAD. */
export interface MarketState {
  longOpenInterest: bigint;
  shortOpenInterest: bigint;
  longEntryNotional: bigint;
  shortEntryNotional: bigint;
  fundingIndex: bigint;
  lastFundingRate: bigint;
  lastFundingTime: bigint;
  premiumCum: bigint;
  lastPremium: bigint;
  lastSampleTime: bigint;
  premiumStart: bigint;
  emaBasis: bigint;
  uncoveredBadDebt: bigint;
  paused: boolean;
  /** the exact aggregates: sum = notional * WAD + remainder (MarketLib.aggregate) */
  longEntryRemainder: bigint;
  fundingSnapshotSum: bigint;
  fundingSnapshotRemainder: bigint;
  shortEntryRemainder: bigint;
}

/** PositionLib's Position. Signed size: positive is long, negative is short (base units, WAD). */
export interface Position {
  owner: string;
  marketId: bigint;
  size: bigint;
  entryPrice: bigint;
  margin: bigint;
  fundingSnapshot: bigint;
}

/** MarketLib.FundingResult: boundaries settled by a sync (0 when none was due), the last rate, its time. */
export interface FundingResult {
  intervals: bigint;
  rate: bigint;
  boundary: bigint;
}

/** MarkPrice.compute's inputs (MathHarness's MarkInputs). */
export interface MarkInputs {
  index: bigint;
  lastPrice: bigint;
  emaBasis: bigint;
  lastFundingRate: bigint;
  timeToNextFunding: bigint;
  fundingInterval: bigint;
}

/** IFundingModel's FundingInputs. */
export interface FundingInputs {
  avgPremium: bigint;
  interestRate: bigint;
  clampRate: bigint;
  cap: bigint;
  /** F of the boundary before */
  lastRate: bigint;
  /** seconds */
  interval: bigint;
  maxVelocity: bigint;
}

/* ------------------------------------------------------------------ SOLIDITY CASTS */

/** Solidity's explicit `uintN(x)`: keeps the low N bits (wraps, never reverts). */
const uint128 = (x: bigint): bigint => BigInt.asUintN(128, x);

/** SafeCast.toIntN: `x` if it fits N signed bits, else a RangeError naming the field. */
function checkedInt(bits: number, x: bigint, field: string): bigint {
  if (BigInt.asIntN(bits, x) !== x) throw new RangeError(`${field} out of int${bits} range: ${x}`);
  return x;
}

/** SafeCast.toUintN: `x` if it fits N unsigned bits, else a RangeError naming the field. */
function checkedUint(bits: number, x: bigint, field: string): bigint {
  if (BigInt.asUintN(bits, x) !== x) throw new RangeError(`${field} out of uint${bits} range: ${x}`);
  return x;
}

/* ------------------------------------------------------------------ WadMath */

/** contracts/libraries/WadMath.sol: `Down` rounds toward negative infinity, `Up` toward positive infinity. */
export const WadMath = {
  mulDown(a: bigint, b: bigint): bigint {
    return (a * b) / WAD;
  },

  mulUp(a: bigint, b: bigint): bigint {
    return WadMath.divRoundUp(a * b, WAD);
  },

  divDown(a: bigint, b: bigint): bigint {
    return (a * WAD) / b;
  },

  divUp(a: bigint, b: bigint): bigint {
    return WadMath.divRoundUp(a * WAD, b);
  },

  /** a / b rounded up, for unsigned a. */
  divRoundUp(a: bigint, b: bigint): bigint {
    return a === 0n ? 0n : (a - 1n) / b + 1n;
  },

  /** a * b / WAD for a signed a, rounded toward negative infinity. */
  mulDownSigned(a: bigint, b: bigint): bigint {
    return WadMath.floorDiv(a * b, WAD);
  },

  /** a * b / WAD for a signed a, rounded toward positive infinity. */
  mulUpSigned(a: bigint, b: bigint): bigint {
    return WadMath.ceilDiv(a * b, WAD);
  },

  /** a / b rounded toward negative infinity (b > 0). */
  floorDiv(a: bigint, b: bigint): bigint {
    const q = a / b;
    return a % b !== 0n && a < 0n ? q - 1n : q;
  },

  /** a / b rounded toward positive infinity (b > 0). */
  ceilDiv(a: bigint, b: bigint): bigint {
    const q = a / b;
    return a % b !== 0n && a > 0n ? q + 1n : q;
  },

  abs(a: bigint): bigint {
    return a >= 0n ? a : -a;
  },

  min(a: bigint, b: bigint): bigint {
    return a < b ? a : b;
  },

  max(a: bigint, b: bigint): bigint {
    return a > b ? a : b;
  },

  clamp(x: bigint, lo: bigint, hi: bigint): bigint {
    return x < lo ? lo : x > hi ? hi : x;
  },

  median3(a: bigint, b: bigint, c: bigint): bigint {
    if (a > b) [a, b] = [b, a];
    if (b > c) b = c;
    return a > b ? a : b;
  },
};

/* ------------------------------------------------------------------ Pricing */

/** Pricing.sol's error: the skew (after the order) is at or beyond minus the skew scale. */
export class SkewBeyondScale extends Error {
  override readonly name = "SkewBeyondScale";
  constructor(
    readonly skew: bigint,
    readonly skewScale: bigint,
  ) {
    super(`skew ${skew} is beyond the skew scale ${skewScale}`);
  }
}

/** contracts/libraries/Pricing.sol: skew K (signed base units) against the skew scale S. */
export const Pricing = {
  /** P_last = index * (1 + K/S); rounds down. */
  lastPrice(index: bigint, skew: bigint, skewScale: bigint): bigint {
    const factor = skewScale + skew;
    if (factor <= 0n) throw new SkewBeyondScale(skew, skewScale);
    return (index * factor) / skewScale;
  },

  /** P_fill = index * (1 + (2K + d) / 2S); a buy rounds up, a sell rounds down. */
  fillPrice(index: bigint, skew: bigint, delta: bigint, skewScale: bigint): bigint {
    const factor = 2n * skewScale + 2n * skew + delta;
    if (factor <= 0n) throw new SkewBeyondScale(skew + delta, skewScale);
    const num = index * factor;
    const den = 2n * skewScale;
    return delta > 0n ? WadMath.divRoundUp(num, den) : num / den;
  },

  /** (P_last - index) / index as a signed WAD rate, rounded toward zero. */
  premium(last: bigint, index: bigint): bigint {
    return ((last - index) * WAD) / index;
  },

  /** rate * |delta| * fill; the taker rate when the order grows |skew|, the maker rate otherwise. Rounds up. */
  fee(skew: bigint, delta: bigint, fill: bigint, takerRate: bigint, makerRate: bigint): bigint {
    const rate = WadMath.abs(skew + delta) > WadMath.abs(skew) ? takerRate : makerRate;
    return WadMath.mulUp(WadMath.mulUp(WadMath.abs(delta), fill), rate);
  },
};

/* ------------------------------------------------------------------ Ema */

const LN2 = 693147180559945309n; // ln(2) in WAD
const TAYLOR_TERMS = 12n;
const MAX_HALVINGS = 64n;

/** contracts/libraries/Ema.sol: ema' = sample + (ema - sample) * 2^(-dt / halfLife). */
export const Ema = {
  /** 2^(-dt / halfLife) in WAD, rounded down: whole halvings as shifts, the rest as a Taylor series of e^-y. */
  decay(dt: bigint, halfLife: bigint): bigint {
    if (halfLife === 0n) return 0n;
    const halvings = dt / halfLife;
    if (halvings >= MAX_HALVINGS) return 0n;
    const y = ((dt % halfLife) * LN2) / halfLife;
    let term = WAD;
    let sum = WAD;
    for (let k = 1n; k <= TAYLOR_TERMS; ++k) {
      term = (term * y) / WAD / k;
      sum = k % 2n === 1n ? sum - term : sum + term;
    }
    return sum >> halvings;
  },

  /** The EMA advanced by dt seconds toward `sample`; rounds toward zero. */
  update(ema: bigint, sample: bigint, dt: bigint, halfLife: bigint): bigint {
    return sample + ((ema - sample) * Ema.decay(dt, halfLife)) / WAD;
  },
};

/* ------------------------------------------------------------------ MarginMath */

/** contracts/libraries/MarginMath.sol: health H(p) = WAD^3 * (equity - MM) at price p, exact. */
export const MarginMath = {
  /** Index of the tier that holds the notional |size| * price (exact), clamped to the last tier. */
  tierOf(tiers: readonly Tier[], absSize: bigint, price: bigint): number {
    const scaledNotional = absSize * price;
    const last = tiers.length - 1;
    for (let i = 0; i < last; ++i) {
      if (scaledNotional <= tiers[i].notionalCap * WAD) return i;
    }
    return last;
  },

  /** Whether a notional (WAD USD) is above the last tier's cap. */
  aboveMaxTier(tiers: readonly Tier[], notional: bigint): boolean {
    return notional > tiers[tiers.length - 1].notionalCap;
  },

  /** Maintenance margin of |size| at `price` (WAD USD), rounded up. */
  maintenanceMargin(tiers: readonly Tier[], absSize: bigint, price: bigint): bigint {
    const t = tiers[MarginMath.tierOf(tiers, absSize, price)];
    const mm = WadMath.mulUp(WadMath.mulUp(absSize, price), t.mmr);
    return mm > t.maintenanceAmount ? mm - t.maintenanceAmount : 0n;
  },

  /** WAD^3 * (equity - maintenance margin) at `price`, exact. Negative means liquidatable. */
  health(tiers: readonly Tier[], size: bigint, entry: bigint, netMargin: bigint, price: bigint): bigint {
    const absSize = WadMath.abs(size);
    const t = tiers[MarginMath.tierOf(tiers, absSize, price)];
    return netMargin * WAD2 + size * (price - entry) * WAD - absSize * price * t.mmr + t.maintenanceAmount * WAD2;
  },

  isLiquidatable(tiers: readonly Tier[], size: bigint, entry: bigint, netMargin: bigint, price: bigint): boolean {
    return MarginMath.health(tiers, size, entry, netMargin, price) < 0n;
  },

  /**
   * First mark at which the position is liquidatable (a long's highest, a short's lowest); 0 for a long
   * that never is and for a short that is at every mark.
   */
  liquidationPrice(tiers: readonly Tier[], size: bigint, entry: bigint, netMargin: bigint): bigint {
    if (size < 0n && MarginMath.isLiquidatable(tiers, size, entry, netMargin, 1n)) return 0n;
    const absSize = WadMath.abs(size);
    let fallbackPrice = 0n;
    for (let i = 0; i < tiers.length; ++i) {
      const p = rootInTier(tiers[i], size > 0n, absSize, entry, netMargin);
      if (p !== 0n && MarginMath.tierOf(tiers, absSize, p) === i) return p;
      fallbackPrice = p;
    }
    return fallbackPrice;
  },

  /** Whether equity covers the initial margin of the notional (equity * maxLeverage >= notional). */
  meetsInitialMargin(
    tiers: readonly Tier[],
    absSize: bigint,
    price: bigint,
    equity: bigint,
  ): { ok: boolean; leverage: bigint; maxLeverage: bigint } {
    const maxLeverage = tiers[MarginMath.tierOf(tiers, absSize, price)].maxLeverage;
    const notional = WadMath.mulUp(absSize, price);
    if (equity <= 0n) return { ok: false, leverage: MAX_UINT256, maxLeverage };
    const leverage = WadMath.divUp(notional, equity);
    return { ok: leverage <= maxLeverage, leverage, maxLeverage };
  },

  /** Largest notional n with (E - f * (N - n)) >= (1 + b) * MM(n), searched from the top tier; 0 when none. */
  partialRemainder(tiers: readonly Tier[], notional: bigint, equity: bigint, feeRate: bigint, buffer: bigint): bigint {
    for (let i = tiers.length; i > 0; --i) {
      const t = tiers[i - 1];
      const scaledMmr = WadMath.mulUp(t.mmr, WAD + buffer);
      if (scaledMmr <= feeRate) continue;
      const rhs = equity - WadMath.mulUp(feeRate, notional) + WadMath.mulDown(t.maintenanceAmount, WAD + buffer);
      if (rhs <= 0n) continue;
      const n = WadMath.min(WadMath.divDown(rhs, scaledMmr - feeRate), t.notionalCap);
      const floorCap = i > 1 ? tiers[i - 2].notionalCap : 0n;
      if (n > floorCap && n < notional) return n;
    }
    return 0n;
  },

  /** The tiers with continuous maintenance amounts: amt_i = amt_{i-1} + cap_{i-1} * (mmr_i - mmr_{i-1}). */
  deriveMaintenanceAmounts(tiers: readonly Tier[]): Tier[] {
    const out = tiers.map((t) => ({ ...t }));
    out[0].maintenanceAmount = 0n;
    for (let i = 1; i < out.length; ++i) {
      out[i].maintenanceAmount = uint128(
        out[i - 1].maintenanceAmount + WadMath.mulDown(out[i - 1].notionalCap, out[i].mmr - out[i - 1].mmr),
      );
    }
    return out;
  },
};

/** MarginMath._rootInTier: the integer boundary of H(p) < 0 with tier `t`'s mmr and amount. */
function rootInTier(t: Tier, isLong: boolean, absSize: bigint, entry: bigint, netMargin: bigint): bigint {
  const cushion = (netMargin + t.maintenanceAmount) * WAD2;
  const entryTerm = absSize * entry * WAD;
  if (isLong) {
    const num = entryTerm - cushion;
    if (num <= 0n) return 0n;
    const den = absSize * (WAD - t.mmr);
    const q = num / den;
    return num % den === 0n ? q - 1n : q;
  }
  const numShort = entryTerm + cushion;
  if (numShort <= 0n) return 0n;
  return numShort / (absSize * (WAD + t.mmr)) + 1n;
}

/* ------------------------------------------------------------------ DecimalFloat */

/**
 * contracts/libraries/DecimalFloat.sol: a price to nine significant digits, m x 10^e, as a position stores
 * its entry (31-bit m) and funding snapshot (a sign and a 30-bit m). `round` picks the grid value on the
 * side the caller names (up: toward positive infinity).
 */
export const DecimalFloat = {
  ENTRY_MANTISSA: 1n << 31n,
  SNAPSHOT_MANTISSA: 1n << 30n,

  round(v: bigint, limit: bigint, up: boolean): bigint {
    if (v < 0n) throw new RangeError(`DecimalFloat.round takes a value >= 0: ${v}`);
    let [m, unit] = [v, 1n];
    while (m >= limit) [m, unit] = [m / 10n, unit * 10n];
    if (!up || m * unit === v) return m * unit;
    if (++m === limit) [m, unit] = [(v - 1n) / (unit * 10n) + 1n, unit * 10n];
    return m * unit;
  },

  roundSigned(v: bigint, up: boolean): bigint {
    return v >= 0n
      ? DecimalFloat.round(v, DecimalFloat.SNAPSHOT_MANTISSA, up)
      : -DecimalFloat.round(-v, DecimalFloat.SNAPSHOT_MANTISSA, !up);
  },

  /** An entry price as stored: rounded up for a long (against the trader), down for a short. */
  entry(v: bigint, long: boolean): bigint {
    return DecimalFloat.round(v, DecimalFloat.ENTRY_MANTISSA, long);
  },

  /** A funding snapshot as stored: down for a long (which owes size x (index - snapshot)), up for a short. */
  snapshot(fundingIndex: bigint, long: boolean): bigint {
    return DecimalFloat.roundSigned(fundingIndex, !long);
  },
};

/* ------------------------------------------------------------------ PositionLib */

/** contracts/libraries/PositionLib.sol: what a position owes or has earned, in the protocol's favour. */
export const PositionLib = {
  /** marketId << 160 | owner: one position per account and market, the owner and market in the id. */
  id(owner: string, marketId: bigint): bigint {
    const address = BigInt(owner);
    if (address >> 160n !== 0n) throw new Error(`owner: ${owner} is not a 20-byte address`);
    return (marketId << 160n) | address;
  },

  /** The owner a position id names (checksummed). */
  ownerOf(positionId: bigint): string {
    return getAddress(toBeHex(positionId & ((1n << 160n) - 1n), 20));
  },

  /** The market a position id names. */
  marketOf(positionId: bigint): bigint {
    return positionId >> 160n;
  },

  /** Funding owed since the snapshot (negative: owed to the position); rounded up. */
  pendingFunding(size: bigint, snapshot: bigint, fundingIndex: bigint): bigint {
    return WadMath.ceilDiv(size * (fundingIndex - snapshot), WAD);
  },

  /** PnL of `size` entered at `entry` valued at `price`; rounded down. */
  pnl(size: bigint, entry: bigint, price: bigint): bigint {
    return WadMath.floorDiv(size * (price - entry), WAD);
  },

  /** Margin net of pending funding: what equity would be at the entry price. */
  netMargin(p: Position, fundingIndex: bigint): bigint {
    return p.margin - PositionLib.pendingFunding(p.size, p.fundingSnapshot, fundingIndex);
  },

  /**
   * PositionLib.update: the funding owed since the snapshot leaves the margin together with
   * `marginDelta`, and the snapshot moves to `fundingIndex`, on DecimalFloat's grid against the trader
   * (`long`: the side after the step). The margin is written as max(margin, 0); `margin` is returned signed.
   */
  update(
    p: Position,
    fundingIndex: bigint,
    marginDelta: bigint,
    long: boolean,
  ): { position: Position; owed: bigint; margin: bigint } {
    const owed = PositionLib.pendingFunding(p.size, p.fundingSnapshot, fundingIndex);
    const margin = p.margin - owed + marginDelta;
    const written = margin > 0n ? checkedUint(88, margin, "margin") : 0n;
    return {
      position: {
        ...p,
        margin: written,
        fundingSnapshot: checkedInt(128, DecimalFloat.snapshot(fundingIndex, long), "fundingSnapshot"),
      },
      owed,
      margin,
    };
  },
};

/* ------------------------------------------------------------------ STRATEGIES */

/** contracts/libraries/MarkPrice.sol, MarkPrice.median: median(P1, P2, last) of SPEC section 5. */
export const MedianMarkModel = {
  /** P1 = index * (1 + F_last * timeToNextFunding / interval), P2 = index + EMA(basis); each at least 1. */
  markPrice(m: MarkInputs): bigint {
    const p1 = m.index + (m.index * m.lastFundingRate * m.timeToNextFunding) / (m.fundingInterval * WAD);
    const p2 = m.index + m.emaBasis;
    return WadMath.median3(positive(p1), positive(p2), m.lastPrice);
  },
};

/** contracts/libraries/MarkPrice.sol, MarkMethod.Index: mark = index. */
export const IndexMarkModel = {
  markPrice(m: MarkInputs): bigint {
    return m.index;
  },
};

/** contracts/strategies/PremiumFundingModel.sol: F = clamp(P + clamp(I - P, -c, c), -cap, cap). */
export const PremiumFundingModel = {
  fundingRate(f: FundingInputs): bigint {
    const interest = WadMath.clamp(f.interestRate - f.avgPremium, -f.clampRate, f.clampRate);
    return WadMath.clamp(f.avgPremium + interest, -f.cap, f.cap);
  },
};

const SECONDS_PER_DAY = 86_400n;

/** contracts/strategies/VelocityFundingModel.sol: F = clamp(F_last + v * s * T^2 / day^2, -cap, cap), s = clamp(P, -1, 1). */
export const VelocityFundingModel = {
  fundingRate(f: FundingInputs): bigint {
    const skewFraction = WadMath.clamp(f.avgPremium, -WAD, WAD);
    const drift = WadMath.floorDiv(
      skewFraction * f.maxVelocity * f.interval * f.interval,
      WAD * SECONDS_PER_DAY * SECONDS_PER_DAY,
    );
    return WadMath.clamp(f.lastRate + drift, -f.cap, f.cap);
  },
};

const MARK_MODELS: Record<MarkModel, { markPrice(m: MarkInputs): bigint }> = {
  median: MedianMarkModel,
  index: IndexMarkModel,
};

const FUNDING_MODELS: Record<FundingModel, { fundingRate(f: FundingInputs): bigint }> = {
  premium: PremiumFundingModel,
  velocity: VelocityFundingModel,
};

function positive(x: bigint): bigint {
  return x > 0n ? x : 1n;
}

/* ------------------------------------------------------------------ MarketLib */

/** contracts/libraries/MarketLib.sol: the market's time-driven state. Returns new states, never mutates. */
export const MarketLib = {
  /** K = long OI - short OI. */
  skew(st: MarketState): bigint {
    return st.longOpenInterest - st.shortOpenInterest;
  },

  lastPrice(cfg: MarketConfig, st: MarketState, index: bigint): bigint {
    return Pricing.lastPrice(index, MarketLib.skew(st), cfg.skewScale);
  },

  /** First funding boundary strictly after `time`, boundaries aligned to multiples of the interval. */
  nextBoundary(time: bigint, interval: bigint): bigint {
    return (time / interval + 1n) * interval;
  },

  /** MarketLib.asOfNow: the market as a transaction at `nowTs` sees it, synced, and its mark. */
  asOfNow(
    cfg: MarketConfig,
    state: MarketState,
    index: bigint,
    nowTs: bigint,
  ): { state: MarketState; funding: FundingResult; mark: bigint } {
    const synced = MarketLib.sync(cfg, state, index, nowTs);
    return { ...synced, mark: MarketLib.markOf(cfg, synced.state, index, nowTs) };
  },

  /** MarketLib.markOf: the mark of the market as it stands, from the last price its skew gives. */
  markOf(cfg: MarketConfig, st: MarketState, index: bigint, nowTs: bigint): bigint {
    return MarketLib.markPrice(cfg, st, index, MarketLib.lastPrice(cfg, st, index), nowTs);
  },

  /** The state advanced to `nowTs`: basis EMA, every funding boundary passed (catch-up in O(1)), premium accumulator. */
  sync(
    cfg: MarketConfig,
    state: MarketState,
    index: bigint,
    nowTs: bigint,
  ): { state: MarketState; funding: FundingResult } {
    const st = { ...state };
    const r: FundingResult = { intervals: 0n, rate: 0n, boundary: 0n };
    const last = MarketLib.lastPrice(cfg, st, index);
    const dtSample = nowTs - st.lastSampleTime;
    if (dtSample > 0n) {
      st.emaBasis = checkedInt(96, Ema.update(st.emaBasis, last - index, dtSample, cfg.emaHalfLife), "emaBasis");
    }
    const boundary = st.lastFundingTime + cfg.fundingInterval;
    if (nowTs >= boundary) {
      const cum = st.premiumCum + st.lastPremium * (boundary - st.lastSampleTime);
      const elapsed = boundary - st.premiumStart;
      const avgPremium = elapsed === 0n ? st.lastPremium : cum / elapsed;
      const mark = MarketLib.markPrice(cfg, st, index, last, nowTs);
      const firstRate = fundingRateOf(cfg, avgPremium, st.lastFundingRate);
      r.intervals = 1n + (nowTs - boundary) / cfg.fundingInterval;
      r.rate = firstRate;
      let growth = firstRate * mark;
      if (r.intervals > 1n) {
        r.rate = fundingRateOf(cfg, st.lastPremium, firstRate);
        growth += r.rate * mark * (r.intervals - 1n);
      }
      r.boundary = boundary + (r.intervals - 1n) * cfg.fundingInterval;
      st.fundingIndex = checkedInt(112, st.fundingIndex + growth / WAD, "fundingIndex");
      st.lastFundingRate = checkedInt(64, r.rate, "lastFundingRate");
      st.lastFundingTime = checkedUint(40, r.boundary, "lastFundingTime");
      st.premiumStart = checkedUint(40, r.boundary, "premiumStart");
      st.premiumCum = checkedInt(96, st.lastPremium * (nowTs - r.boundary), "premiumCum");
    } else {
      st.premiumCum = checkedInt(96, st.premiumCum + st.lastPremium * dtSample, "premiumCum");
    }
    st.lastSampleTime = checkedUint(40, nowTs, "lastSampleTime");
    return { state: st, funding: r };
  },

  /** The state with the premium re-sampled after the skew changed (a trade, a liquidation). */
  samplePremium(cfg: MarketConfig, st: MarketState, index: bigint): MarketState {
    const premium = Pricing.premium(MarketLib.lastPrice(cfg, st, index), index);
    return { ...st, lastPremium: checkedInt(64, premium, "lastPremium") };
  },

  /** Mark price by the market's method, then the optional band index * (1 +/- band). */
  markPrice(cfg: MarketConfig, st: MarketState, index: bigint, last: bigint, nowTs: bigint): bigint {
    const next = st.lastFundingTime + cfg.fundingInterval;
    let mark = MARK_MODELS[cfg.markModel].markPrice({
      index,
      lastPrice: last,
      emaBasis: st.emaBasis,
      lastFundingRate: st.lastFundingRate,
      timeToNextFunding: next > nowTs ? next - nowTs : 0n,
      fundingInterval: cfg.fundingInterval,
    });
    if (cfg.markBand !== 0n) {
      const lo = WadMath.mulUp(index, WAD - cfg.markBand);
      const hi = WadMath.mulDown(index, WAD + cfg.markBand);
      mark = mark < lo ? lo : mark > hi ? hi : mark;
    }
    return mark;
  },

  /** The rate the next boundary would settle at if the premium held until then. */
  predictedFundingRate(cfg: MarketConfig, st: MarketState, nowTs: bigint): bigint {
    const boundary = st.lastFundingTime + cfg.fundingInterval;
    const until = nowTs < boundary ? nowTs : boundary;
    const cum = st.premiumCum + st.lastPremium * (until - st.lastSampleTime);
    const elapsed = until - st.premiumStart;
    return fundingRateOf(cfg, elapsed === 0n ? st.lastPremium : cum / elapsed, st.lastFundingRate);
  },

  /**
   * The state with a position added (`sign` 1n) to, or removed (-1n) from, its side's open size, exact
   * entry notional and the exact size x funding-snapshot sum. Sizes and notionals are checked as the
   * contract's SafeCast does: a negative side throws.
   */
  aggregate(st: MarketState, size: bigint, entry: bigint, snapshot: bigint, sign: bigint): MarketState {
    if (size === 0n) return { ...st };
    const absSize = WadMath.abs(size);
    const notional = sign * absSize * entry;
    const next = { ...st };
    if (size > 0n) {
      next.longOpenInterest = checkedUint128(st.longOpenInterest + sign * absSize, "longOpenInterest");
      const [sum, rem] = accumulate(st.longEntryNotional, st.longEntryRemainder, notional);
      next.longEntryNotional = checkedUint128(sum, "longEntryNotional");
      next.longEntryRemainder = rem;
    } else {
      next.shortOpenInterest = checkedUint128(st.shortOpenInterest + sign * absSize, "shortOpenInterest");
      const [sum, rem] = accumulate(st.shortEntryNotional, st.shortEntryRemainder, notional);
      next.shortEntryNotional = checkedUint128(sum, "shortEntryNotional");
      next.shortEntryRemainder = rem;
    }
    return MarketLib.moveFundingSnapshot(next, size, 0n, snapshot, sign);
  },

  /** The state with a position's size x snapshot term moved from snapshot `from` to `to` (times `sign`). */
  moveFundingSnapshot(st: MarketState, size: bigint, from: bigint, to: bigint, sign: bigint): MarketState {
    const [sum, rem] = accumulate(st.fundingSnapshotSum, st.fundingSnapshotRemainder, sign * size * (to - from));
    return { ...st, fundingSnapshotSum: sum, fundingSnapshotRemainder: rem };
  },

  /** Traders' net unrealised PnL at `mark`: ceil((mark * (L - S) - (E_L - E_S)) / WAD), exact before rounding. */
  tradersPnl(st: MarketState, mark: bigint): bigint {
    const exact = mark * MarketLib.skew(st) - entrySum(st, true) + entrySum(st, false);
    return WadMath.ceilDiv(exact, WAD);
  },

  /** One side's unrealised PnL at `mark`, exact then rounded down. */
  sidePnl(st: MarketState, mark: bigint, isLong: boolean): bigint {
    const atMark = (isLong ? st.longOpenInterest : st.shortOpenInterest) * mark;
    return WadMath.floorDiv(isLong ? atMark - entrySum(st, true) : entrySum(st, false) - atMark, WAD);
  },

  /** Net funding the traders owe, unpaid: floor((fundingIndex * (L - S) - sum(size * snapshot)) / WAD). */
  tradersFundingOwed(st: MarketState): bigint {
    const snapshots = st.fundingSnapshotSum * WAD + st.fundingSnapshotRemainder;
    return WadMath.floorDiv(st.fundingIndex * MarketLib.skew(st) - snapshots, WAD);
  },

  /**
   * The ADL test (PerpEngine.autoDeleverage): uncovered bad debt, or the traders' net unrealised profit at
   * `mark` above maxPnlFactor x the pool's assets.
   */
  adlActive(st: MarketState, mark: bigint, poolAssets: bigint, maxPnlFactor: bigint): boolean {
    if (st.uncoveredBadDebt !== 0n) return true;
    const pnl = MarketLib.tradersPnl(st, mark);
    return pnl > 0n && pnl > WadMath.mulDown(poolAssets, maxPnlFactor);
  },

  /**
   * A realised profit as paid while the traders' net unrealised PnL is above `cap` (maxPnlFactor x the
   * pool's ledger): profit x cap / traders' PnL, rounded down; a loss, or a profit under the cap, in full.
   */
  payableProfit(realized: bigint, traderPnl: bigint, cap: bigint): bigint {
    if (realized <= 0n || traderPnl <= 0n || traderPnl <= cap) return realized;
    return (realized * cap) / traderPnl;
  },

  /** The traders' PnL the pool counts: all of a loss, a profit up to maxPnlFactor x ledger. */
  cappedTradersPnl(pnl: bigint, ledger: bigint, maxPnlFactor: bigint): bigint {
    if (pnl <= 0n) return pnl;
    const cap = WadMath.mulDown(ledger, maxPnlFactor);
    return pnl > cap ? cap : pnl;
  },
};

/** MarketLib._accumulate: (sum * WAD + rem) + delta split again into floor and remainder, exact. */
function accumulate(sum: bigint, rem: bigint, delta: bigint): [bigint, bigint] {
  const total = sum * WAD + rem + delta;
  const q = WadMath.floorDiv(total, WAD);
  return [q, total - q * WAD];
}

/** MarketLib._entrySum: the exact sum of |size| * entry over one side, WAD^2. */
function entrySum(st: MarketState, isLong: boolean): bigint {
  return isLong
    ? st.longEntryNotional * WAD + st.longEntryRemainder
    : st.shortEntryNotional * WAD + st.shortEntryRemainder;
}

/** SafeCast.toUint128 on a value the contract narrows. */
function checkedUint128(x: bigint, field: string): bigint {
  if (x < 0n || x >= 1n << 128n) throw new RangeError(`${field} out of uint128 range: ${x}`);
  return x;
}

/* ------------------------------------------------------------------ POOL VALUATION */

/** IPoolValuation's PoolValuation, WAD USD. */
export interface PoolValuation {
  ledger: bigint;
  traderPnl: bigint;
  fundingOwed: bigint;
  value: bigint;
}

/**
 * PerpEngineAdmin.poolValuation over markets already projected to now (see projectMarket):
 * value = ledger - sum of capped traders' PnL + sum of funding owed.
 */
export function poolValuation(
  ledger: bigint,
  markets: readonly { cfg: MarketConfig; projection: MarketProjection }[],
): PoolValuation {
  let traderPnl = 0n;
  let fundingOwed = 0n;
  for (const { cfg, projection } of markets) {
    const pnl = MarketLib.tradersPnl(projection.state, projection.mark);
    traderPnl += MarketLib.cappedTradersPnl(pnl, ledger, cfg.maxPnlFactor);
    fundingOwed += MarketLib.tradersFundingOwed(projection.state);
  }
  return { ledger, traderPnl, fundingOwed, value: ledger - traderPnl + fundingOwed };
}

/** MarketLib._fundingRate: the market's funding model on its configured rates, from the rate before. */
function fundingRateOf(cfg: MarketConfig, avgPremium: bigint, lastRate: bigint): bigint {
  return FUNDING_MODELS[cfg.fundingModel].fundingRate({
    avgPremium,
    interestRate: cfg.fundingInterestRate,
    clampRate: cfg.fundingClamp,
    cap: cfg.fundingCap,
    lastRate,
    interval: cfg.fundingInterval,
    maxVelocity: cfg.maxFundingVelocity,
  });
}

/* ------------------------------------------------------------------ LENS */

/** A market projected to a block, as PerpLens._project sees it. */
export interface MarketProjection {
  state: MarketState;
  index: bigint;
  last: bigint;
  mark: bigint;
}

/**
 * PerpLens._project: MarketLib.asOfNow on a copy, and the last price. `index` is the index a transaction at
 * `nowTs` uses: the oracle's `indexPrice` while a source is fresh, else its `lastIndexPrice`.
 */
export function projectMarket(cfg: MarketConfig, st: MarketState, index: bigint, nowTs: bigint): MarketProjection {
  const { state, mark } = MarketLib.asOfNow(cfg, st, index, nowTs);
  return { state, index, last: MarketLib.lastPrice(cfg, state, index), mark };
}

/** The health fields of PerpLens.PositionView. */
export interface PositionHealth {
  pendingFunding: bigint;
  /** at mark */
  notional: bigint;
  /** at mark, before funding */
  unrealizedPnl: bigint;
  /** margin + PnL - pending funding */
  equity: bigint;
  maintenanceMargin: bigint;
  /** notional / equity, rounded up; MAX_UINT256 when equity <= 0 */
  leverage: bigint;
  liquidationPrice: bigint;
  liquidatable: boolean;
}

/** PerpLens._positionView's numbers for `position` at `mark`, with `market` already synced; zeros when closed. */
export function positionHealth(
  market: Pick<MarketState, "fundingIndex">,
  tiers: readonly Tier[],
  position: Position,
  mark: bigint,
): PositionHealth {
  if (position.size === 0n) {
    return {
      pendingFunding: 0n,
      notional: 0n,
      unrealizedPnl: 0n,
      equity: 0n,
      maintenanceMargin: 0n,
      leverage: 0n,
      liquidationPrice: 0n,
      liquidatable: false,
    };
  }
  const absSize = WadMath.abs(position.size);
  const pendingFunding = PositionLib.pendingFunding(position.size, position.fundingSnapshot, market.fundingIndex);
  const net = position.margin - pendingFunding;
  const notional = WadMath.mulDown(absSize, mark);
  const unrealizedPnl = PositionLib.pnl(position.size, position.entryPrice, mark);
  const equity = net + unrealizedPnl;
  return {
    pendingFunding,
    notional,
    unrealizedPnl,
    equity,
    maintenanceMargin: MarginMath.maintenanceMargin(tiers, absSize, mark),
    leverage: equity > 0n ? WadMath.divUp(notional, equity) : MAX_UINT256,
    liquidationPrice: MarginMath.liquidationPrice(tiers, position.size, position.entryPrice, net),
    liquidatable: MarginMath.isLiquidatable(tiers, position.size, position.entryPrice, net, mark),
  };
}

/* ------------------------------------------------------------------ FROM CHAIN STRUCTS */

/** MarkPrice.sol's MarkMethod members, as the engine's MarketConfig.markModel holds them. */
export const MARK_METHOD: Record<MarkModel, bigint> = { median: 0n, index: 1n };

/** The mark method a MarketConfig.markModel value names. */
export function markModelOf(method: bigint): MarkModel {
  if (method === MARK_METHOD.median) return "median";
  if (method === MARK_METHOD.index) return "index";
  throw new Error(`markModel: unknown mark method ${method}: expected 0 (median) or 1 (index)`);
}

/** The strategy a funding-model contract implements, from its `name()`. */
export function fundingModelOf(contractName: string): FundingModel {
  if (contractName === "premium-index") return "premium";
  if (contractName === "velocity") return "velocity";
  throw new Error(`unknown funding model "${contractName}": expected "premium-index" or "velocity"`);
}

/** MarketConfig as the engine returns it (the mark method by number, the funding model by address). */
export type ChainMarketConfig = Omit<MarketConfig, "markModel" | "fundingModel"> & {
  markModel: bigint;
  fundingModel: string;
};

/** A plain MarketConfig from an ethers struct, with the strategies named (see markModelOf, fundingModelOf). */
export function marketConfigFromChain(c: ChainMarketConfig, fundingModel: FundingModel): MarketConfig {
  return {
    symbol: c.symbol,
    skewScale: c.skewScale,
    maxOpenInterest: c.maxOpenInterest,
    takerFee: c.takerFee,
    makerFee: c.makerFee,
    liquidationFeeRate: c.liquidationFeeRate,
    insuranceFeeShare: c.insuranceFeeShare,
    minLiquidationFee: c.minLiquidationFee,
    minMargin: c.minMargin,
    fundingInterestRate: c.fundingInterestRate,
    fundingClamp: c.fundingClamp,
    fundingCap: c.fundingCap,
    fundingInterval: c.fundingInterval,
    emaHalfLife: c.emaHalfLife,
    markBand: c.markBand,
    reserveFactor: c.reserveFactor,
    maxPnlFactor: c.maxPnlFactor,
    partialLiquidationBuffer: c.partialLiquidationBuffer,
    markModel: markModelOf(c.markModel),
    minPositionNotional: c.minPositionNotional,
    fundingModel,
    maxFundingVelocity: c.maxFundingVelocity,
    oracleGracePeriod: c.oracleGracePeriod,
  };
}

/** A plain MarketState from an ethers struct (whose named fields are not own properties). */
export function marketStateFromChain(s: MarketState): MarketState {
  return {
    longOpenInterest: s.longOpenInterest,
    shortOpenInterest: s.shortOpenInterest,
    longEntryNotional: s.longEntryNotional,
    shortEntryNotional: s.shortEntryNotional,
    fundingIndex: s.fundingIndex,
    lastFundingRate: s.lastFundingRate,
    lastFundingTime: s.lastFundingTime,
    premiumCum: s.premiumCum,
    lastPremium: s.lastPremium,
    lastSampleTime: s.lastSampleTime,
    premiumStart: s.premiumStart,
    emaBasis: s.emaBasis,
    uncoveredBadDebt: s.uncoveredBadDebt,
    paused: s.paused,
    longEntryRemainder: s.longEntryRemainder,
    fundingSnapshotSum: s.fundingSnapshotSum,
    fundingSnapshotRemainder: s.fundingSnapshotRemainder,
    shortEntryRemainder: s.shortEntryRemainder,
  };
}

/** Plain tiers from an ethers struct array. */
export function tiersFromChain(tiers: readonly Tier[]): Tier[] {
  return tiers.map((t) => ({
    notionalCap: t.notionalCap,
    maintenanceAmount: t.maintenanceAmount,
    mmr: t.mmr,
    maxLeverage: t.maxLeverage,
  }));
}

/** A plain Position from an ethers struct. */
export function positionFromChain(p: Position): Position {
  return {
    owner: p.owner,
    marketId: p.marketId,
    size: p.size,
    entryPrice: p.entryPrice,
    margin: p.margin,
    fundingSnapshot: p.fundingSnapshot,
  };
}

/** A plain FundingResult from an ethers struct. */
export function fundingResultFromChain(r: FundingResult): FundingResult {
  return { intervals: r.intervals, rate: r.rate, boundary: r.boundary };
}
