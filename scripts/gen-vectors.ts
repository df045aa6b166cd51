/**
 * Writes the shared math vectors, test/vectors/<library>.json: `npx hardhat run scripts/gen-vectors.ts`.
 *
 * This script only chooses inputs: hand-picked edge cases (skews at the scale, tier borders, negative
 * net margin, EMA halvings, funding at the clamp and the cap, funding catch-up) and seeded random ones.
 * The expected outputs come from the contracts, evaluated through MathHarness on the in-process network,
 * never from lib/math.ts; test/vectors/vectors.test.ts then holds both sides to them. The same seed and
 * the same contracts give byte-identical files.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ethers } from "hardhat";
import { tiersOf, symbolBytes } from "../lib/deploy";
import { ALT_USD, BTC_USD, type MarketSpec } from "../lib/markets";
import type { MarketConfig, MarketState, MarkModel, Position, Tier } from "../lib/math";
import { MarketLib } from "../lib/math";
import { wad, WAD } from "../lib/units";
import { argsOf, encode, type Args, type Vector, type VectorFile } from "../test/vectors/codec";
import { deployMathContracts, evaluateOnChain, type MathContracts } from "../test/vectors/functions";

const SEED = 0x5eedn;
const OUT_DIR = path.join(__dirname, "..", "test", "vectors");
const GENERATED_BY = `scripts/gen-vectors.ts (seed ${SEED})`;

/** SplitMix64 over bigint: small, seedable, identical on every platform. */
class Rng {
  private static readonly MASK = (1n << 64n) - 1n;
  private state: bigint;

  constructor(seed: bigint) {
    this.state = seed & Rng.MASK;
  }

  next64(): bigint {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & Rng.MASK;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & Rng.MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & Rng.MASK;
    return z ^ (z >> 31n);
  }

  /** Uniform in [lo, hi] (inclusive); the modulo bias is irrelevant for test inputs. */
  between(lo: bigint, hi: bigint): bigint {
    const span = hi - lo + 1n;
    let r = 0n;
    for (let bits = 0n; 1n << bits < span * (1n << 64n); bits += 64n) r = (r << 64n) | this.next64();
    return lo + (r % span);
  }

  /** A magnitude spread over decades: mantissa in [1, 10) times 10^[minExp, maxExp]. */
  decades(minExp: number, maxExp: number): bigint {
    const exp = this.between(BigInt(minExp), BigInt(maxExp));
    return this.between(10n ** exp, 10n ** (exp + 1n) - 1n);
  }

  sign(): bigint {
    return this.next64() & 1n ? 1n : -1n;
  }

  pick<T>(items: readonly T[]): T {
    return items[Number(this.between(0n, BigInt(items.length - 1)))];
  }
}

/* ------------------------------------------------------------------ fixtures */

const HOUR = 3600n;
const INTERVAL = 8n * HOUR;
/** A funding boundary: a multiple of the 8 h interval. */
const T0 = 59_028n * INTERVAL;

function configOf(spec: MarketSpec, markModel: MarkModel, over: Partial<MarketConfig> = {}): MarketConfig {
  return {
    symbol: symbolBytes(spec.symbol),
    skewScale: wad(spec.skewScale),
    maxOpenInterest: wad(spec.maxOpenInterest),
    takerFee: wad(spec.takerFee),
    makerFee: wad(spec.makerFee),
    liquidationFeeRate: wad(spec.liquidationFeeRate),
    insuranceFeeShare: wad(spec.insuranceFeeShare),
    minLiquidationFee: wad(spec.minLiquidationFee),
    minMargin: wad(spec.minMargin),
    fundingInterestRate: wad(spec.fundingInterestRate),
    fundingClamp: wad(spec.fundingClamp),
    fundingCap: wad(spec.fundingCap),
    fundingInterval: BigInt(spec.fundingIntervalSeconds),
    emaHalfLife: BigInt(spec.emaHalfLifeSeconds),
    markBand: wad(spec.markBand),
    reserveFactor: wad(spec.reserveFactor),
    maxPnlFactor: wad(spec.maxPnlFactor),
    partialLiquidationBuffer: wad(spec.partialLiquidationBuffer),
    markModel,
    minPositionNotional: wad(spec.minPositionNotional),
    fundingModel: "premium",
    maxFundingVelocity: wad(spec.maxFundingVelocity),
    oracleGracePeriod: BigInt(spec.oracleGracePeriodSeconds),
    ...over,
  };
}

/** A state the engine can reach: sampled at `sampleAt` inside the interval that started at T0. */
function stateOf(over: Partial<MarketState> = {}): MarketState {
  return {
    longOpenInterest: 0n,
    shortOpenInterest: 0n,
    longEntryNotional: 0n,
    shortEntryNotional: 0n,
    fundingIndex: 0n,
    lastFundingRate: 0n,
    lastFundingTime: T0,
    premiumCum: 0n,
    lastPremium: 0n,
    lastSampleTime: T0 + 600n,
    premiumStart: T0,
    emaBasis: 0n,
    uncoveredBadDebt: 0n,
    paused: false,
    longEntryRemainder: 0n,
    fundingSnapshotSum: 0n,
    fundingSnapshotRemainder: 0n,
    shortEntryRemainder: 0n,
    ...over,
  };
}

const tier = (notionalCap: string, mmr: string, maxLeverage: string): Tier => ({
  notionalCap: wad(notionalCap),
  maintenanceAmount: 0n,
  mmr: wad(mmr),
  maxLeverage: wad(maxLeverage),
});

/** Caps and rates whose products are not whole WAD, so derived amounts round. */
const ODD_TIERS_RAW: Tier[] = [
  tier("12345.678901234567890123", "0.003333333333333333", "60"),
  tier("98765.432109876543210987", "0.007777777777777777", "30"),
  tier("777777.777777777777777777", "0.021212121212121212", "12"),
];
const SINGLE_TIER: Tier[] = [tier("1000000", "0.01", "50")];

/* ------------------------------------------------------------------ cases */

interface Case {
  name: string;
  fn: string;
  args: Args;
}

type TierSet = "alt" | "btc" | "odd" | "single";

function buildCases(rng: Rng, tierSets: Record<TierSet, Tier[]>): Case[] {
  const cases: Case[] = [];
  const add = (fn: string, name: string, args: object) => cases.push({ fn, name, args: argsOf(args) });
  const tiersArg = (set: TierSet) => tierSets[set];
  const ALT_S = wad(ALT_USD.skewScale);
  const BTC_S = wad(BTC_USD.skewScale);
  const altIndex = wad(ALT_USD.initialPrice);
  const btcIndex = wad(BTC_USD.initialPrice);
  const altMedian = configOf(ALT_USD, "median");
  const altIndexModel = configOf(ALT_USD, "index");
  const altBanded = configOf(ALT_USD, "median", { markBand: wad("0.01") });
  const btcMedian = configOf(BTC_USD, "median");

  /* WadMath */
  const pairs: [string, bigint, bigint][] = [
    ["exact halves", wad("1.5"), wad("1.5")],
    ["one wei times one wei", 1n, 1n],
    ["zero", 0n, wad(7)],
    ["a third", WAD, 3n * WAD],
    ["huge", 10n ** 36n, 10n ** 30n],
  ];
  for (const fn of ["mulDown", "mulUp", "divDown", "divUp", "divRoundUp"]) {
    for (const [name, a, b] of pairs) add(`WadMath.${fn}`, name, { a, b });
    for (let i = 0; i < 6; ++i) add(`WadMath.${fn}`, `random ${i}`, { a: rng.decades(0, 30), b: rng.decades(0, 24) });
  }
  add("WadMath.divDown", "by zero reverts", { a: 1n, b: 0n });
  add("WadMath.divRoundUp", "exact multiple", { a: 10n, b: 5n });
  add("WadMath.divRoundUp", "one over a multiple", { a: 11n, b: 5n });
  for (const fn of ["mulDownSigned", "mulUpSigned"]) {
    for (const [name, a, b] of [
      ["minus one wei", -1n, 1n],
      ["plus one wei", 1n, 1n],
      ["negative exact", -wad(2), wad("1.5")],
      ["negative inexact", -wad(1) - 1n, wad("0.3")],
    ] as const) {
      add(`WadMath.${fn}`, name, { a, b });
    }
    for (let i = 0; i < 6; ++i) {
      add(`WadMath.${fn}`, `random ${i}`, { a: rng.sign() * rng.decades(0, 30), b: rng.decades(0, 24) });
    }
  }
  for (const [a, b] of [
    [-7n, 2n],
    [-6n, 2n],
    [7n, 2n],
    [0n, 5n],
    [-1n, WAD],
    [-(10n ** 40n) - 1n, 10n ** 20n],
  ]) {
    add("WadMath.floorDiv", `${a} / ${b}`, { a, b });
    add("WadMath.ceilDiv", `${a} / ${b}`, { a, b });
  }
  add("WadMath.clamp", "below", { x: -5n, lo: -3n, hi: 3n });
  add("WadMath.clamp", "inside", { x: 2n, lo: -3n, hi: 3n });
  add("WadMath.clamp", "above", { x: 9n, lo: -3n, hi: 3n });
  for (const [a, b, c] of [
    [1n, 2n, 3n],
    [1n, 3n, 2n],
    [2n, 1n, 3n],
    [2n, 3n, 1n],
    [3n, 1n, 2n],
    [3n, 2n, 1n],
    [5n, 5n, 1n],
    [1n, 5n, 5n],
  ]) {
    add("WadMath.median3", `(${a}, ${b}, ${c})`, { a, b, c });
  }

  /* Pricing */
  const scales: [string, bigint, bigint][] = [
    ["ALT", altIndex, ALT_S],
    ["BTC", btcIndex, BTC_S],
    ["one-unit scale", wad(100), WAD],
  ];
  for (const [m, index, S] of scales) {
    for (const [name, skew] of [
      ["no skew", 0n],
      ["half the scale long", S / 2n],
      ["one wei under the scale long", S - 1n],
      ["at the scale long", S],
      ["half the scale short", -S / 2n],
      ["one wei inside the scale short", -(S - 1n)],
      ["at the scale short reverts", -S],
      ["beyond the scale short reverts", -S - 1n],
    ] as const) {
      add("Pricing.lastPrice", `${m}: ${name}`, { index, skew, skewScale: S });
    }
    for (const [name, skew, delta] of [
      ["buy one wei at no skew", 0n, 1n],
      ["sell one wei at no skew", 0n, -1n],
      ["buy one unit at no skew", 0n, WAD],
      ["sell one unit at no skew", 0n, -WAD],
      ["zero size", S / 3n, 0n],
      ["sell through zero skew", S / 2n, -S],
      ["buy at one wei under the scale", S - 1n, S],
      ["sell to one wei inside the scale", -(S - 1n), -1n],
      ["sell to the scale reverts", -(S - 1n), -2n],
      ["sell twice the scale reverts", 0n, -2n * S],
    ] as const) {
      add("Pricing.fillPrice", `${m}: ${name}`, { index, skew, delta, skewScale: S });
    }
  }
  add("Pricing.lastPrice", "one-wei index", { index: 1n, skew: ALT_S / 3n, skewScale: ALT_S });
  add("Pricing.lastPrice", "huge index", { index: 10n ** 30n, skew: -ALT_S / 7n, skewScale: ALT_S });
  add("Pricing.fillPrice", "one-wei index buy rounds up", { index: 1n, skew: 0n, delta: 1n, skewScale: ALT_S });
  add("Pricing.fillPrice", "huge buy at huge index", { index: 10n ** 30n, skew: 0n, delta: ALT_S, skewScale: ALT_S });
  for (let i = 0; i < 20; ++i) {
    const [, index, S] = rng.pick(scales);
    const skew = rng.between(-(S - 1n), S);
    const room = 2n * S + 2n * skew - 1n; // keeps the factor positive
    const delta = rng.pick([1n, -1n]) * rng.between(1n, room < S ? room : S);
    add("Pricing.fillPrice", `random ${i}`, { index: rng.between(1n, index * 10n), skew, delta, skewScale: S });
    add("Pricing.lastPrice", `random ${i}`, { index: rng.decades(0, 24), skew, skewScale: S });
  }
  for (const [name, last, index] of [
    ["above index", wad("2.4"), wad(2)],
    ["below index", wad("1.6"), wad(2)],
    ["one wei below rounds toward zero", wad(3) - 1n, wad(3)],
    ["one wei above rounds toward zero", wad(3) + 1n, wad(3)],
    ["equal", btcIndex, btcIndex],
  ] as const) {
    add("Pricing.premium", name, { last, index });
  }
  const taker = wad(ALT_USD.takerFee);
  const maker = wad(ALT_USD.makerFee);
  for (const [name, skew, delta] of [
    ["buy into no skew is taker", 0n, wad(100)],
    ["sell into no skew is taker", 0n, -wad(100)],
    ["sell against a long skew is maker", wad(500), -wad(100)],
    ["sell back to the mirror skew is maker", wad(5), -wad(10)],
    ["sell through the mirror skew is taker", wad(5), -wad(20)],
    ["zero size", wad(5), 0n],
    ["one wei rounds up", 0n, 1n],
  ] as const) {
    add("Pricing.fee", name, { skew, delta, fill: wad("2.0001"), takerRate: taker, makerRate: maker });
  }
  for (let i = 0; i < 8; ++i) {
    add("Pricing.fee", `random ${i}`, {
      skew: rng.sign() * rng.decades(0, 24),
      delta: rng.sign() * rng.decades(0, 24),
      fill: rng.decades(0, 23),
      takerRate: taker,
      makerRate: maker,
    });
  }

  /* Ema */
  const HALF = BigInt(ALT_USD.emaHalfLifeSeconds);
  for (const [name, dt, halfLife] of [
    ["dt 0", 0n, HALF],
    ["one second", 1n, HALF],
    ["half a half-life", HALF / 2n, HALF],
    ["one second short of a half-life", HALF - 1n, HALF],
    ["one half-life", HALF, HALF],
    ["one second past a half-life", HALF + 1n, HALF],
    ["ten half-lives", 10n * HALF, HALF],
    ["63 half-lives and a bit", 63n * HALF + HALF - 1n, HALF],
    ["64 half-lives: zero", 64n * HALF, HALF],
    ["a year", 365n * 24n * HOUR, HALF],
    ["half-life 0: no smoothing", 5n, 0n],
    ["half-life one second", 1n, 1n],
    ["one second of a 136-year half-life", 1n, (1n << 32n) - 1n],
  ] as const) {
    add("Ema.decay", name, { dt, halfLife });
    add("Ema.update", `positive basis toward a negative sample, ${name}`, {
      ema: wad("0.05"),
      sample: -wad("0.0213"),
      dt,
      halfLife,
    });
    add("Ema.update", `negative basis toward a positive sample, ${name}`, {
      ema: -wad("1234.5678"),
      sample: wad("0.4") + 7n,
      dt,
      halfLife,
    });
  }
  add("Ema.update", "sample equal to the EMA", { ema: wad(3), sample: wad(3), dt: 100n, halfLife: HALF });
  for (let i = 0; i < 15; ++i) {
    add("Ema.update", `random ${i}`, {
      ema: rng.sign() * rng.decades(0, 22),
      sample: rng.sign() * rng.decades(0, 22),
      dt: rng.between(0n, 80n * HALF),
      halfLife: rng.between(1n, 4n * HALF),
    });
  }

  /* MarginMath */
  const alt = tiersArg("alt");
  const btc = tiersArg("btc");
  for (const [set, price] of [
    ["alt", altIndex],
    ["btc", btcIndex],
    ["odd", wad("3.3")],
  ] as const) {
    const ts = tiersArg(set);
    for (let i = 0; i < ts.length; ++i) {
      const capScaled = ts[i].notionalCap * WAD; // |size| * price at the cap
      const atCap = capScaled / price; // floor: notional at or just under the cap
      const past = atCap + 1n;
      add("MarginMath.tierOf", `${set}: at or just under cap ${i}`, { tiers: ts, absSize: atCap, price });
      add("MarginMath.tierOf", `${set}: one wei of size past cap ${i}`, { tiers: ts, absSize: past, price });
      add("MarginMath.tierOf", `${set}: cap ${i} exactly at a one-wei price`, {
        tiers: ts,
        absSize: capScaled,
        price: 1n,
      });
      add("MarginMath.tierOf", `${set}: cap ${i} plus one at a one-wei price`, {
        tiers: ts,
        absSize: capScaled + 1n,
        price: 1n,
      });
      add("MarginMath.maintenanceMargin", `${set}: at or just under cap ${i}`, { tiers: ts, absSize: atCap, price });
      add("MarginMath.maintenanceMargin", `${set}: one wei of size past cap ${i}`, { tiers: ts, absSize: past, price });
      add("MarginMath.aboveMaxTier", `${set}: at cap ${i}`, { tiers: ts, notional: ts[i].notionalCap });
      add("MarginMath.aboveMaxTier", `${set}: one wei above cap ${i}`, { tiers: ts, notional: ts[i].notionalCap + 1n });
    }
    add("MarginMath.tierOf", `${set}: zero size`, { tiers: ts, absSize: 0n, price });
    add("MarginMath.maintenanceMargin", `${set}: one wei of size`, { tiers: ts, absSize: 1n, price });
    add("MarginMath.maintenanceMargin", `${set}: twice the last cap`, {
      tiers: ts,
      absSize: (2n * ts[ts.length - 1].notionalCap * WAD) / price,
      price,
    });
  }

  /** A position of `leverage` at `entry`: size from the notional, margin = notional / leverage. */
  const levered = (notionalUsd: bigint, entry: bigint, leverage: bigint, side: bigint) => {
    const absSize = (notionalUsd * WAD) / entry;
    return { size: side * absSize, entry, netMargin: (notionalUsd * WAD) / (leverage * WAD) };
  };
  const positions: [string, Tier[], { size: bigint; entry: bigint; netMargin: bigint }][] = [
    ["ALT 10x short, $1k", alt, levered(wad(1000), altIndex, 10n, -1n)],
    ["ALT 10x long, $1k", alt, levered(wad(1000), altIndex, 10n, 1n)],
    ["ALT 50x long at the first tier's max leverage", alt, levered(wad(40_000), altIndex, 50n, 1n)],
    ["ALT 5x short, $900k: liquidation price in the next tier", alt, levered(wad(900_000), altIndex, 5n, -1n)],
    ["ALT 5x long, $300k: liquidation price in the tier below", alt, levered(wad(300_000), altIndex, 5n, 1n)],
    ["ALT 2x long, $4.8M in the last tier", alt, levered(wad(4_800_000), altIndex, 2n, 1n)],
    ["ALT 1x long: margin covers a fall to zero", alt, levered(wad(1000), altIndex, 1n, 1n)],
    ["BTC 100x long, $200k", btc, levered(wad(200_000), btcIndex, 100n, 1n)],
    ["BTC 100x short, $200k", btc, levered(wad(200_000), btcIndex, 100n, -1n)],
    ["BTC 20x short, $9M near the third cap", btc, levered(wad(9_000_000), btcIndex, 20n, -1n)],
    ["BTC 3x long, $150M", btc, levered(wad(150_000_000), btcIndex, 3n, 1n)],
    ["odd tiers 25x long", tiersArg("odd"), levered(wad(90_000), wad("3.3"), 25n, 1n)],
    ["odd tiers 25x short", tiersArg("odd"), levered(wad(90_000), wad("3.3"), 25n, -1n)],
    ["single tier 10x short", tiersArg("single"), levered(wad(500_000), wad(7), 10n, -1n)],
    ["one wei long", alt, { size: 1n, entry: altIndex, netMargin: 0n }],
    ["one wei short", alt, { size: -1n, entry: altIndex, netMargin: 0n }],
    ["one wei long with one wei of margin", alt, { size: 1n, entry: altIndex, netMargin: 1n }],
    ["long with negative net margin", alt, { size: wad(500), entry: altIndex, netMargin: -wad(3) }],
    ["short with negative net margin", alt, { size: -wad(500), entry: altIndex, netMargin: -wad(3) }],
    ["short under water at any price", alt, { size: -wad(500), entry: altIndex, netMargin: -wad(1001) }],
    ["long with zero net margin", btc, { size: wad("0.5"), entry: btcIndex, netMargin: 0n }],
  ];
  for (let i = 0; i < 25; ++i) {
    const set = rng.pick(["alt", "btc", "odd", "single"] as const);
    const entry = set === "btc" ? rng.between(wad(1000), wad(100_000)) : rng.between(wad("0.01"), wad(50));
    const notional = rng.decades(18, 25);
    const leverage = rng.between(1n, 100n);
    const base = levered(notional, entry, leverage, rng.sign());
    const netMargin = rng.next64() % 5n === 0n ? -rng.between(0n, base.netMargin) : base.netMargin;
    positions.push([`random ${i} (${set})`, tiersArg(set), { ...base, netMargin }]);
  }
  for (const [name, ts, p] of positions) {
    const position = { tiers: ts, size: p.size, entry: p.entry, netMargin: p.netMargin };
    add("MarginMath.liquidationPrice", name, position);
    for (const [at, price] of [
      ["at entry", p.entry],
      ["10% up", (p.entry * 11n) / 10n],
      ["10% down", (p.entry * 9n) / 10n],
      ["at a one-wei price", 1n],
    ] as const) {
      add("MarginMath.health", `${name}, ${at}`, { ...position, price });
    }
    add("MarginMath.isLiquidatable", `${name}, at entry`, { ...position, price: p.entry });
    add("MarginMath.isLiquidatable", `${name}, at a one-wei price`, { ...position, price: 1n });
  }

  const altMaxLev = alt[0].maxLeverage / WAD;
  const atMax = wad(40_000) / altMaxLev; // equity at exactly 50x on $40k
  for (const [name, ts, absSize, price, equity] of [
    ["exactly at max leverage", alt, wad(20_000), altIndex, atMax],
    ["one wei of equity under max leverage", alt, wad(20_000), altIndex, atMax - 1n],
    ["zero equity", alt, wad(20_000), altIndex, 0n],
    ["negative equity", alt, wad(20_000), altIndex, -wad(5)],
    ["second tier's max leverage applies past the first cap", alt, wad(25_001), altIndex, wad(50_002) / 40n],
    ["BTC 100x at the first tier", btc, wad(8), btcIndex, wad(2_400)],
    ["one wei of size", alt, 1n, altIndex, 1n],
  ] as const) {
    add("MarginMath.meetsInitialMargin", name, { tiers: ts, absSize, price, equity });
  }
  const feeRate = wad(ALT_USD.liquidationFeeRate);
  const buffer = wad(ALT_USD.partialLiquidationBuffer);
  for (const [name, ts, notional, equity] of [
    ["ALT $2M, equity just under maintenance", alt, wad(2_000_000), wad(45_000)],
    ["ALT $2M, equity half of maintenance", alt, wad(2_000_000), wad(30_000)],
    ["ALT $2M, zero equity", alt, wad(2_000_000), 0n],
    ["ALT $2M, negative equity", alt, wad(2_000_000), -wad(1_000)],
    ["ALT $300k, equity under maintenance", alt, wad(300_000), wad(2_000)],
    ["ALT $40k in the first tier", alt, wad(40_000), wad(150)],
    ["BTC $20M", btc, wad(20_000_000), wad(250_000)],
    ["odd tiers", tiersArg("odd"), wad(500_000), wad(6_000)],
  ] as const) {
    add("MarginMath.partialRemainder", name, { tiers: ts, notional, equity, feeRate, buffer });
  }
  for (let i = 0; i < 10; ++i) {
    const ts = tiersArg(rng.pick(["alt", "btc", "odd"] as const));
    const notional = rng.decades(21, 25);
    add("MarginMath.partialRemainder", `random ${i}`, {
      tiers: ts,
      notional,
      equity: rng.between(-notional / 100n, notional / 10n),
      feeRate,
      buffer: rng.pick([0n, buffer, wad("0.5")]),
    });
  }
  const garbage = (ts: Tier[]) => ts.map((t, i) => ({ ...t, maintenanceAmount: BigInt(i + 1) * 12345n }));
  add("MarginMath.deriveMaintenanceAmounts", "ALT tiers", { tiers: tiersOf(ALT_USD) });
  add("MarginMath.deriveMaintenanceAmounts", "BTC tiers", { tiers: tiersOf(BTC_USD) });
  add("MarginMath.deriveMaintenanceAmounts", "odd tiers round down", { tiers: ODD_TIERS_RAW });
  add("MarginMath.deriveMaintenanceAmounts", "given amounts are replaced", { tiers: garbage(tiersOf(ALT_USD)) });
  add("MarginMath.deriveMaintenanceAmounts", "a single tier", { tiers: SINGLE_TIER });

  /* PositionLib */
  for (const [owner, marketId] of [
    ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 1n],
    ["0x70997970C51812dc3A010C7d01b50e0d17dc79C8", 2n],
    ["0x0000000000000000000000000000000000000000", 0n],
    ["0xFFfFfFffFFfffFFfFFfFFFFFffFFFffffFfFFFfF", (1n << 96n) - 1n],
  ] as const) {
    add("PositionLib.id", `${owner.slice(0, 10)} on market ${marketId}`, { owner, marketId });
  }
  for (const [name, size, snapshot, fundingIndex] of [
    ["long pays a positive index move", wad(1000), wad("0.5"), wad("0.5") + wad("0.0002") + 1n],
    ["short receives a positive index move", -wad(1000), wad("0.5"), wad("0.5") + wad("0.0002") + 1n],
    ["long receives a negative index move", wad(3), 0n, -wad("0.000123") - 7n],
    ["one wei owed rounds up", 1n, 0n, 1n],
    ["one wei earned rounds toward the protocol", -1n, 0n, 1n],
    ["no move", wad(5), wad(2), wad(2)],
  ] as const) {
    add("PositionLib.pendingFunding", name, { size, snapshot, fundingIndex });
  }
  for (const [name, size, entry, price] of [
    ["long in profit", wad(1000), wad(2), wad("2.1")],
    ["short in loss", -wad(1000), wad(2), wad("2.1")],
    ["one wei short loss rounds down", -1n, wad(2), wad(2) + 1n],
    ["one wei long loss rounds down", 1n, wad(2), wad(2) - 1n],
  ] as const) {
    add("PositionLib.pnl", name, { size, entry, price });
  }
  for (let i = 0; i < 10; ++i) {
    const size = rng.sign() * rng.decades(0, 25);
    add("PositionLib.pendingFunding", `random ${i}`, {
      size,
      snapshot: rng.sign() * rng.decades(0, 21),
      fundingIndex: rng.sign() * rng.decades(0, 21),
    });
    add("PositionLib.pnl", `random ${i}`, { size, entry: rng.decades(0, 23), price: rng.decades(0, 23) });
  }
  const pos = (size: bigint, margin: bigint, fundingSnapshot: bigint): Position => ({
    owner: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    marketId: 1n,
    size,
    entryPrice: altIndex,
    margin,
    fundingSnapshot,
  });
  add("PositionLib.netMargin", "long owing funding", {
    position: pos(wad(1000), wad(100), 0n),
    fundingIndex: wad("0.01") + 3n,
  });
  add("PositionLib.netMargin", "short earning funding", {
    position: pos(-wad(1000), wad(100), 0n),
    fundingIndex: wad("0.01") + 3n,
  });
  add("PositionLib.netMargin", "funding beyond the margin", {
    position: pos(wad(1000), wad(1), 0n),
    fundingIndex: wad("0.5"),
  });
  for (const [name, position, fundingIndex, marginDelta] of [
    ["a long pays funding, margin added", pos(wad(1000), wad(100), 0n), wad("0.01") + 3n, wad(50)],
    ["a short earns funding, a loss and a fee taken", pos(-wad(1000), wad(100), 7n), wad("0.01") + 3n, -wad(30) - 1n],
    ["funding beyond the margin writes zero", pos(wad(1000), wad(1), 0n), wad("0.5"), 0n],
    [
      "a margin taken below zero writes zero, returned signed",
      pos(-wad(2), wad(10), wad(1)),
      wad(1) - 1n,
      -wad(10) + 1n,
    ],
  ] as const) {
    add("PositionLib.update", name, { position, fundingIndex, marginDelta, long: position.size > 0n });
  }
  add("PositionLib.update", "a new short's snapshot rounds up", {
    position: pos(0n, 0n, 0n),
    fundingIndex: -wad("0.0123456789123"),
    marginDelta: wad(10),
    long: false,
  });
  add("PositionLib.update", "a new long's snapshot rounds down", {
    position: pos(0n, 0n, 0n),
    fundingIndex: -wad("0.0123456789123"),
    marginDelta: wad(10),
    long: true,
  });

  /* DecimalFloat: exact values, one unit off the grid, the carry into the next decade, the extremes */
  const M31 = 1n << 31n;
  const M30 = 1n << 30n;
  for (const [name, value] of [
    ["zero", 0n],
    ["below the mantissa bound: kept whole", M31 - 1n],
    ["30,000 USD: exact", wad(30_000)],
    ["1/30,000 (an inverse entry)", WAD / 30_000n],
    ["a fill with impact", wad("30012.345678912345")],
    ["one unit above a grid value", wad(2) + 1n],
    ["just below a decade whose next step is the bound", (M31 - 1n) * 10n ** 9n + 1n],
    ["the largest uint128", (1n << 128n) - 1n],
  ] as const) {
    for (const up of [true, false]) add("DecimalFloat.entry", `${name}, ${up ? "up" : "down"}`, { value, up });
  }
  for (const [name, value] of [
    ["zero", 0n],
    ["a positive index", wad("0.0123456789123")],
    ["a negative index", -wad("0.0123456789123")],
    ["exact", -wad(3)],
    ["the carry at the bound, negative", -((M30 - 1n) * 10n ** 5n + 1n)],
    ["the largest int112", (1n << 111n) - 1n],
    ["the smallest int112", -(1n << 111n)],
  ] as const) {
    for (const up of [true, false]) add("DecimalFloat.snapshot", `${name}, ${up ? "up" : "down"}`, { value, up });
  }
  const floats = new Rng(SEED + 1n); // its own stream: the vectors drawn after these keep theirs
  for (let i = 0; i < 10; ++i) {
    const up = i % 2 === 0;
    add("DecimalFloat.entry", `random ${i}`, { value: floats.decades(0, 30), up });
    add("DecimalFloat.snapshot", `random ${i}`, { value: floats.sign() * floats.decades(0, 28), up });
  }

  /* MarketLib */
  const skewedLong = stateOf({ longOpenInterest: wad(1_000_000), shortOpenInterest: wad(200_000) });
  const skewedShort = stateOf({ longOpenInterest: wad(10), shortOpenInterest: wad(2_400_000) });
  add("MarketLib.skew", "long skew", { state: skewedLong });
  add("MarketLib.skew", "short skew", { state: skewedShort });
  add("MarketLib.lastPrice", "long skew", { config: altMedian, state: skewedLong, index: altIndex });
  add("MarketLib.lastPrice", "short skew", { config: altMedian, state: skewedShort, index: altIndex });
  for (const [name, time] of [
    ["at a boundary", T0],
    ["one second before", T0 - 1n],
    ["zero", 0n],
  ] as const) {
    add("MarketLib.nextBoundary", name, { time, interval: INTERVAL });
  }

  const nowMid = T0 + 4n * HOUR;
  const altLong = (altIndex * 12n) / 10n; // the last price of a long skew of 20% of the scale
  const altShort = (altIndex * 7n) / 10n;
  const markCases: [string, MarketConfig, MarketState, bigint, bigint, bigint][] = [
    [
      "median: last is the median",
      altMedian,
      stateOf({ emaBasis: wad("0.3"), lastFundingRate: -wad("0.0001") }),
      altIndex,
      altLong,
      nowMid,
    ],
    [
      "median: P2 is the median",
      altMedian,
      stateOf({ emaBasis: wad("0.1"), lastFundingRate: wad("0.0075") }),
      altIndex,
      altLong,
      nowMid,
    ],
    [
      "median: P1 is the median",
      altMedian,
      stateOf({ emaBasis: wad("0.5"), lastFundingRate: wad("0.0075") }),
      altIndex,
      altShort,
      T0 + 1n,
    ],
    [
      "median: past the boundary, P1 is the index",
      altMedian,
      stateOf({ emaBasis: -wad("0.1"), lastFundingRate: wad("0.005") }),
      altIndex,
      altLong,
      T0 + INTERVAL + 5n,
    ],
    [
      "median: P2 below zero counts as one wei",
      altMedian,
      stateOf({ emaBasis: -wad(5), lastFundingRate: -wad("0.001") }),
      altIndex,
      altShort,
      nowMid,
    ],
    [
      "median: P1 below zero counts as one wei",
      altMedian,
      stateOf({ emaBasis: -wad(5), lastFundingRate: -wad(3) }),
      altIndex,
      altShort,
      T0 + 1n,
    ],
    [
      "band: a mark above the band is clamped to its top",
      altBanded,
      stateOf({ emaBasis: wad("0.3"), lastFundingRate: wad("0.0075") }),
      altIndex,
      altLong,
      T0 + 1n,
    ],
    [
      "band: a mark below the band is clamped to its bottom",
      altBanded,
      stateOf({ emaBasis: -wad("0.3"), lastFundingRate: -wad("0.0075") }),
      altIndex,
      altShort,
      T0 + 1n,
    ],
    ["index model", altIndexModel, stateOf({ emaBasis: wad("0.3") }), altIndex + 17n, altLong, nowMid],
    [
      "index model within a band",
      configOf(ALT_USD, "index", { markBand: wad("0.003") }),
      stateOf(),
      altIndex + 17n,
      altLong,
      nowMid,
    ],
    [
      "BTC median",
      btcMedian,
      stateOf({ emaBasis: wad(61), lastFundingRate: wad("0.0003") }),
      btcIndex + 3n,
      btcIndex + wad(45),
      nowMid,
    ],
  ];
  for (const [name, cfg, st, index, last, nowTs] of markCases) {
    add("MarketLib.markPrice", name, { config: cfg, state: st, index, last, nowTs });
  }
  for (let i = 0; i < 10; ++i) {
    const cfg = rng.pick([altMedian, altIndexModel, altBanded, btcMedian]);
    const index =
      cfg.symbol === btcMedian.symbol ? rng.between(wad(10_000), wad(60_000)) : rng.between(wad("0.5"), wad(5));
    add("MarketLib.markPrice", `random ${i}`, {
      config: cfg,
      state: stateOf({
        emaBasis: (rng.sign() * index * rng.between(0n, 300n)) / 1000n,
        lastFundingRate: rng.between(-wad("0.0075"), wad("0.0075")),
      }),
      index,
      last: (index * rng.between(700n, 1300n)) / 1000n,
      nowTs: T0 + rng.between(0n, INTERVAL + HOUR),
    });
  }

  /** A state whose sampled premium is `premium` since `premiumStart`, last sampled at `sampleAt`. */
  const sampled = (premium: bigint, sampleAt: bigint, over: Partial<MarketState> = {}) =>
    stateOf({
      lastPremium: premium,
      premiumCum: premium * (sampleAt - T0),
      lastSampleTime: sampleAt,
      ...over,
    });
  const cap = wad(ALT_USD.fundingCap);
  const premiums: [string, bigint][] = [
    ["premium within the clamp band: F = I", wad("0.0003")],
    ["premium past the clamp band: F = P - clamp", wad("0.003")],
    ["premium at the cap: F = cap", cap + wad(ALT_USD.fundingClamp)],
    ["premium far above the cap", wad("0.05")],
    ["premium far below minus the cap", -wad("0.05")],
    ["negative premium past the band", -wad("0.002") - 3n],
  ];
  const boundary = T0 + INTERVAL;
  for (const [pname, premium] of premiums) {
    const st = sampled(premium, T0 + 2n * HOUR, {
      longOpenInterest: premium > 0n ? wad(300_000) : 0n,
      shortOpenInterest: premium < 0n ? wad(300_000) : 0n,
      emaBasis: premium * 2n,
      fundingIndex: -wad("0.0007"),
      lastFundingRate: wad("0.0001"),
    });
    add("MarketLib.sync", `${pname}, mid-interval`, { config: altMedian, state: st, index: altIndex, nowTs: nowMid });
    add("MarketLib.sync", `${pname}, exactly at the boundary`, {
      config: altMedian,
      state: st,
      index: altIndex,
      nowTs: boundary,
    });
    add("MarketLib.sync", `${pname}, catch-up of 1 interval`, {
      config: altMedian,
      state: st,
      index: altIndex,
      nowTs: boundary + INTERVAL / 2n,
    });
    add("MarketLib.sync", `${pname}, catch-up of 3 intervals`, {
      config: altMedian,
      state: st,
      index: altIndex,
      nowTs: boundary + 2n * INTERVAL + 17n,
    });
    add("MarketLib.sync", `${pname}, catch-up of 100 intervals`, {
      config: altMedian,
      state: st,
      index: altIndex,
      nowTs: boundary + 99n * INTERVAL + HOUR,
    });
    add("MarketLib.predictedFundingRate", `${pname}, mid-interval`, { config: altMedian, state: st, nowTs: nowMid });
    add("MarketLib.predictedFundingRate", `${pname}, past the boundary`, {
      config: altMedian,
      state: st,
      nowTs: boundary + HOUR,
    });
  }
  const quiet = sampled(wad("0.001"), T0 + 600n, { emaBasis: wad("0.01") });
  add("MarketLib.sync", "dt 0: nothing moves", { config: altMedian, state: quiet, index: altIndex, nowTs: T0 + 600n });
  add("MarketLib.sync", "EMA with no smoothing", {
    config: configOf(ALT_USD, "median", { emaHalfLife: 0n }),
    state: skewedLong,
    index: altIndex,
    nowTs: T0 + 601n,
  });
  add("MarketLib.sync", "EMA after many halvings", {
    config: altMedian,
    state: skewedShort,
    index: altIndex,
    nowTs: T0 + 7n * HOUR,
  });
  add("MarketLib.sync", "index model with a band across a boundary", {
    config: configOf(ALT_USD, "index", { markBand: wad("0.002") }),
    state: sampled(wad("0.004"), T0 + HOUR, { longOpenInterest: wad(20_000) }),
    index: altIndex,
    nowTs: boundary + 1n,
  });
  // An inverse market's negative interest rate (lib/markets.ts): at a boundary with no premium the shorts pay.
  const negativeInterest = { ...altMedian, fundingInterestRate: -wad(ALT_USD.fundingInterestRate) };
  add("MarketLib.sync", "negative interest rate at the boundary", {
    config: negativeInterest,
    state: sampled(0n, T0 + HOUR, { shortOpenInterest: wad(20_000) }),
    index: altIndex,
    nowTs: boundary + 1n,
  });
  add("MarketLib.sync", "BTC at the boundary", {
    config: btcMedian,
    state: sampled(-wad("0.0011"), T0 + 5n * HOUR, { shortOpenInterest: wad(110), emaBasis: -wad(33) }),
    index: btcIndex,
    nowTs: boundary,
  });
  const atBoundaryStart = sampled(wad("0.002"), boundary, { premiumStart: boundary, premiumCum: 0n });
  add("MarketLib.sync", "premium interval of zero length uses the last premium", {
    config: altMedian,
    state: atBoundaryStart,
    index: altIndex,
    nowTs: boundary,
  });
  add("MarketLib.predictedFundingRate", "at the premium start", { config: altMedian, state: quiet, nowTs: T0 + 600n });
  add("MarketLib.predictedFundingRate", "premium interval of zero length", {
    config: altMedian,
    state: stateOf({ premiumStart: T0 + 600n, lastPremium: -wad("0.02") }),
    nowTs: T0 + 600n,
  });
  for (let i = 0; i < 25; ++i) {
    const cfg = rng.pick([altMedian, altIndexModel, altBanded, btcMedian]);
    const S = cfg.skewScale;
    const index =
      cfg.symbol === btcMedian.symbol ? rng.between(wad(10_000), wad(60_000)) : rng.between(wad("0.5"), wad(5));
    const lastFundingTime = T0 + INTERVAL * rng.between(-5n, 5n);
    const premiumStart = lastFundingTime + rng.between(0n, INTERVAL - 1n);
    const lastSampleTime = rng.between(premiumStart, lastFundingTime + INTERVAL - 1n);
    const lastPremium = rng.between(-wad("0.02"), wad("0.02"));
    const st = stateOf({
      longOpenInterest: rng.between(0n, S / 2n),
      shortOpenInterest: rng.between(0n, S / 2n),
      fundingIndex: rng.sign() * rng.decades(0, 21),
      lastFundingRate: rng.between(-cfg.fundingCap, cfg.fundingCap),
      lastFundingTime,
      premiumStart,
      lastSampleTime,
      lastPremium,
      premiumCum: lastPremium * (lastSampleTime - premiumStart) + rng.between(-wad(10), wad(10)),
      emaBasis: (rng.sign() * index * rng.between(0n, 100n)) / 1000n,
    });
    const nowTs =
      lastSampleTime +
      rng.pick([0n, rng.between(1n, HOUR), rng.between(1n, 3n * INTERVAL), rng.between(1n, 200n * INTERVAL)]);
    add("MarketLib.sync", `random ${i}`, { config: cfg, state: st, index, nowTs });
    add("MarketLib.asOfNow", `random ${i}`, { config: cfg, state: st, index, nowTs });
    add("MarketLib.predictedFundingRate", `random ${i}`, { config: cfg, state: st, nowTs });
    add("MarketLib.samplePremium", `random ${i}`, { config: cfg, state: st, index });
  }
  /* MarketLib: the pool's exact aggregates, built by a sequence of opens, changes and closes. Its own
     draws, so the vectors generated after it keep theirs. */
  {
    const rng = new Rng(SEED + 9_1n);
    let agg = stateOf();
    const open: { size: bigint; entry: bigint; snapshot: bigint }[] = [];
    for (let i = 0; i < 30; ++i) {
      const closing = open.length > 0 && rng.between(0n, 2n) === 0n;
      const p = closing
        ? open.splice(Number(rng.between(0n, BigInt(open.length - 1))), 1)[0]
        : {
            size: rng.sign() * rng.between(1n, wad(100_000)),
            entry: rng.between(wad("0.5"), wad(5)) + rng.between(0n, 999n),
            snapshot: rng.sign() * rng.decades(0, 19),
          };
      const sign = closing ? -1n : 1n;
      add("MarketLib.aggregate", `${closing ? "remove" : "add"} ${i}`, { state: agg, ...p, sign });
      agg = MarketLib.aggregate(agg, p.size, p.entry, p.snapshot, sign);
      if (!closing) open.push(p);
      if (i % 5 === 4 && open.length > 0) {
        const q = open[0];
        const to = q.snapshot + rng.sign() * rng.decades(0, 18);
        add("MarketLib.moveFundingSnapshot", `margin change ${i}`, {
          state: agg,
          size: q.size,
          from: q.snapshot,
          to,
          sign: 1n,
        });
        agg = MarketLib.moveFundingSnapshot(agg, q.size, q.snapshot, to, 1n);
        q.snapshot = to;
      }
      const mark = rng.between(wad("0.5"), wad(5)) + rng.between(0n, 999n);
      const withIndex = { ...agg, fundingIndex: rng.sign() * rng.decades(0, 19) };
      add("MarketLib.tradersPnl", `after step ${i}`, { state: agg, mark });
      add("MarketLib.sidePnl", `long, after step ${i}`, { state: agg, mark, isLong: 1n });
      add("MarketLib.sidePnl", `short, after step ${i}`, { state: agg, mark, isLong: 0n });
      add("MarketLib.tradersFundingOwed", `after step ${i}`, { state: withIndex });
    }
    for (const [name, pnl, ledger] of [
      ["a loss counts in full", -wad(1_000_000), wad(1_000)],
      ["a profit under the cap", wad(400), wad(1_000)],
      ["a profit at the cap", wad(500), wad(1_000)],
      ["a profit above the cap", wad(500) + 1n, wad(1_000)],
      ["an empty pool counts no profit", wad(1), 0n],
    ] as const) {
      add("MarketLib.cappedTradersPnl", name, { pnl, ledger, maxPnlFactor: wad("0.5") });
    }
    // A close's profit above the cap: paid x cap / traders' PnL, rounded down (SPEC 9.1).
    for (const [name, realized, traderPnl, cap] of [
      ["a loss is paid in full", -wad(50), wad(2_000), wad(1_000)],
      ["a profit under the cap in full", wad(50), wad(900), wad(1_000)],
      ["a profit at the cap in full", wad(50), wad(1_000), wad(1_000)],
      ["traders at a loss: in full", wad(50), -wad(10), 0n],
      ["twice the cap: half", wad(50), wad(2_000), wad(1_000)],
      ["one unit above the cap, rounded down", wad(3), wad(1_000) + 1n, wad(1_000)],
      ["an empty pool pays no profit", wad(50), wad(2_000), 0n],
    ] as const) {
      add("MarketLib.payableProfit", name, { realized, traderPnl, cap });
    }
    // ADL: a long of 1,000 at 2 and a short of 400 at 2.1; at a mark of 2.5 the traders are up exactly 340.
    const book = MarketLib.aggregate(
      MarketLib.aggregate(stateOf(), wad(1_000), wad(2), 0n, 1n),
      -wad(400),
      wad("2.1"),
      0n,
      1n,
    );
    for (const [name, st, mark, poolAssets] of [
      ["a profit under the cap", book, wad("2.5"), wad(1_000)],
      ["a profit at the cap", book, wad("2.5"), wad(680)],
      ["a profit one unit above the cap", book, wad("2.5"), wad(680) - 2n],
      ["a loss, however small the pool", book, wad("1.5"), 0n],
      ["uncovered bad debt, traders at a loss", { ...book, uncoveredBadDebt: 1n }, wad("1.5"), wad(1_000)],
    ] as const) {
      add("MarketLib.adlActive", name, { state: st, mark, poolAssets, maxPnlFactor: wad("0.5") });
    }
  }
  add("MarketLib.samplePremium", "long skew", { config: altMedian, state: skewedLong, index: altIndex });
  add("MarketLib.samplePremium", "short skew rounds toward zero", {
    config: altMedian,
    state: skewedShort,
    index: altIndex + 1n,
  });

  /* strategies */
  const I = wad(ALT_USD.fundingInterestRate);
  const clampRate = wad(ALT_USD.fundingClamp);
  for (const [name, avgPremium] of [
    ["zero premium: F = I", 0n],
    ["premium equal to I", I],
    ["at the top of the clamp band", I + clampRate],
    ["one wei above the clamp band", I + clampRate + 1n],
    ["one wei below the clamp band", I - clampRate - 1n],
    ["at the cap", cap + clampRate],
    ["one wei above the cap", cap + clampRate + 1n],
    ["at minus the cap", -cap - clampRate],
    ["one wei below minus the cap", -cap - clampRate - 1n],
    ["far above the cap", wad(1)],
  ] as const) {
    add("PremiumFundingModel.fundingRate", name, { avgPremium, interestRate: I, clampRate, cap });
  }
  for (const [name, avgPremium] of [
    ["negative interest, zero premium: F = I < 0", 0n],
    ["negative interest, at the bottom of the clamp band", -I - clampRate],
    ["negative interest, one wei below the clamp band", -I - clampRate - 1n],
  ] as const) {
    add("PremiumFundingModel.fundingRate", name, { avgPremium, interestRate: -I, clampRate, cap });
  }
  for (let i = 0; i < 10; ++i) {
    add("PremiumFundingModel.fundingRate", `random ${i}`, {
      avgPremium: rng.between(-wad("0.03"), wad("0.03")),
      interestRate: rng.between(-wad("0.001"), wad("0.001")),
      clampRate: rng.between(0n, wad("0.002")),
      cap: rng.between(wad("0.001"), wad("0.05")),
    });
  }
  for (const [name, emaBasis, lastFundingRate, timeToNextFunding, last] of [
    ["last is the median", wad("0.2"), wad("0.0001"), 4n * HOUR, wad("2.1")],
    ["P1 is the median", wad("0.3"), wad("0.0075"), INTERVAL, wad("2.001")],
    ["P1 truncates toward zero", 0n, -wad("0.0001") - 1n, 7n, wad(2)],
    ["P2 is the median", -wad("0.01"), -wad("0.0075"), 0n, wad("1.5")],
  ] as const) {
    add("MedianMarkModel.markPrice", name, {
      index: altIndex,
      lastPrice: last,
      emaBasis,
      lastFundingRate,
      timeToNextFunding,
      fundingInterval: INTERVAL,
    });
  }
  // Velocity funding: F = clamp(F_last + v * s * T^2 / day^2, -cap, cap), s = clamp(avgPremium, -1, 1).
  const velocity = (avgPremium: bigint, lastRate: bigint, maxVelocity: bigint, interval = INTERVAL) => ({
    avgPremium,
    interestRate: I,
    clampRate,
    cap,
    lastRate,
    interval,
    maxVelocity,
  });
  for (const [name, args] of [
    ["balanced skew keeps the last rate", velocity(0n, wad("0.0003"), wad(3))],
    // 0.3% long skew at 3/day over 8 h: 3 * 0.003 * (1/3)^2 = 0.001
    ["long skew drifts the rate up", velocity(wad("0.003"), wad("0.0002"), wad(3))],
    ["short skew drifts the rate down", velocity(-wad("0.003"), wad("0.0002"), wad(3))],
    ["a one-wei short drift rounds toward minus infinity", velocity(-1n, 0n, wad(1))],
    ["skew beyond the scale counts as full skew", velocity(wad(3), 0n, wad("0.01"))],
    ["the drift stops at the cap", velocity(wad("0.5"), cap - 1n, wad(1))],
    ["the drift stops at minus the cap", velocity(-wad("0.5"), -cap + 1n, wad(1))],
    ["an hourly interval drifts 1/64 of an 8 h one", velocity(wad("0.003"), 0n, wad(3), HOUR)],
    ["zero velocity holds the rate", velocity(wad("0.02"), wad("0.0001"), 0n)],
  ] as const) {
    add("VelocityFundingModel.fundingRate", name, args);
  }
  for (let i = 0; i < 10; ++i) {
    add(
      "VelocityFundingModel.fundingRate",
      `random ${i}`,
      velocity(rng.between(-wad("0.05"), wad("0.05")), rng.between(-cap, cap), rng.between(0n, wad(10))),
    );
  }

  return cases;
}

/** The predicate at the contract's liquidation price and one unit on its safe side (above a long's, below a short's). */
function liquidationBoundary(c: Case, liquidationPrice: bigint): Case[] {
  const size = c.args.size as bigint;
  const safe = size > 0n ? liquidationPrice + 1n : liquidationPrice - 1n;
  return [
    {
      fn: "MarginMath.isLiquidatable",
      name: `${c.name}, at its liquidation price`,
      args: { ...c.args, price: liquidationPrice },
    },
    { fn: "MarginMath.isLiquidatable", name: `${c.name}, one unit on the safe side`, args: { ...c.args, price: safe } },
  ];
}

/* ------------------------------------------------------------------ evaluation and files */

const FILE_OF: Record<string, string> = {
  WadMath: "wadmath",
  Pricing: "pricing",
  Ema: "ema",
  MarginMath: "marginmath",
  PositionLib: "positionlib",
  DecimalFloat: "positionlib",
  MarketLib: "marketlib",
  MedianMarkModel: "strategies",
  PremiumFundingModel: "strategies",
  VelocityFundingModel: "strategies",
};

/** One vector a line, so a regenerated file diffs line by line. */
function render(file: VectorFile): string {
  const lines = file.vectors.map((v) => "    " + JSON.stringify(v));
  return [
    "{",
    `  "library": ${JSON.stringify(file.library)},`,
    `  "generatedBy": ${JSON.stringify(file.generatedBy)},`,
    `  "vectors": [`,
    lines.join(",\n"),
    "  ]",
    "}",
    "",
  ].join("\n");
}

async function main(): Promise<void> {
  const [signer] = await ethers.getSigners();
  const contracts: MathContracts = await deployMathContracts(signer);
  const derive = async (ts: Tier[]) =>
    (await evaluateOnChain(contracts, "MarginMath.deriveMaintenanceAmounts", argsOf({ tiers: ts }))) as Tier[];
  const tierSets = {
    alt: await derive(tiersOf(ALT_USD)),
    btc: await derive(tiersOf(BTC_USD)),
    odd: await derive(ODD_TIERS_RAW),
    single: await derive(SINGLE_TIER),
  };
  const cases = buildCases(new Rng(SEED), tierSets);

  const files = new Map<string, VectorFile>();
  for (let i = 0; i < cases.length; ++i) {
    const c = cases[i];
    const library = c.fn.split(".")[0];
    const fileName = FILE_OF[library];
    if (!fileName) throw new Error(`no vector file for ${c.fn}`);
    const result = await evaluateOnChain(contracts, c.fn, c.args);
    const vector: Vector = { name: c.name, fn: c.fn, args: encode(c.args) as Args, expected: encode(result) };
    const file = files.get(fileName) ?? { library: fileName, generatedBy: GENERATED_BY, vectors: [] };
    file.vectors.push(vector);
    files.set(fileName, file);
    if (c.fn === "MarginMath.liquidationPrice" && typeof result === "bigint" && result > 0n) {
      cases.push(...liquidationBoundary(c, result));
    }
  }
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [name, file] of files) {
    writeFileSync(path.join(OUT_DIR, `${name}.json`), render(file));
    console.log(`test/vectors/${name}.json: ${file.vectors.length} vectors`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
