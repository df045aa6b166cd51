/**
 * The shared math vectors' file format (test/vectors/*.json), written by scripts/gen-vectors.ts and read
 * by vectors.test.ts. Integers are decimal strings (JSON numbers lose precision past 2^53); any string of
 * digits decodes back to a bigint, other strings (addresses, symbols, model names) stay strings.
 */
import type { MarketConfig, MarketState, Position, Tier } from "../../lib/math";

/** A decoded argument or result. */
export type Value = bigint | boolean | string | Value[] | { [key: string]: Value };
export type Args = { [key: string]: Value };

/** One vector: a library function (`"Pricing.fillPrice"`), named arguments, and what the contracts return. */
export interface Vector {
  name: string;
  fn: string;
  args: Args;
  /** the encoded result, or { error: name } when the call reverts */
  expected: unknown;
}

export interface VectorFile {
  library: string;
  generatedBy: string;
  vectors: Vector[];
}

/** An evaluation that reverted: the error's name (a custom error, or DivisionByZero for panic 0x12). */
export interface Reverted {
  error: string;
}

/** Named arguments from typed values (interfaces such as Tier are not index-signature types). */
export function argsOf(values: object): Args {
  return values as Args;
}

/** bigint -> decimal string, recursively; the form stored in JSON and compared in tests. */
export function encode(v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return v.map(encode);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, encode(x)]));
  }
  return v;
}

/** Decimal strings -> bigint, recursively. */
export function decode(v: unknown): Value {
  if (typeof v === "string") return /^-?\d+$/.test(v) ? BigInt(v) : v;
  if (typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map(decode);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decode(x)]));
  }
  throw new TypeError(`vector value ${JSON.stringify(v)} is not a string, boolean, array or object`);
}

/* ------------------------------------------------------------------ typed argument access */

export function big(args: Args, key: string): bigint {
  const v = args[key];
  if (typeof v !== "bigint")
    throw new TypeError(`argument ${key} is ${JSON.stringify(encode(v))}, expected an integer`);
  return v;
}

export function bool(args: Args, key: string): boolean {
  const v = args[key];
  if (typeof v !== "boolean")
    throw new TypeError(`argument ${key} is ${JSON.stringify(encode(v))}, expected a boolean`);
  return v;
}

export function str(args: Args, key: string): string {
  const v = args[key];
  if (typeof v !== "string") throw new TypeError(`argument ${key} is ${JSON.stringify(encode(v))}, expected a string`);
  return v;
}

function struct<T>(v: Value | undefined, keys: readonly (keyof T & string)[], what: string): T {
  if (v === undefined || typeof v !== "object" || Array.isArray(v)) throw new TypeError(`${what} is not an object`);
  for (const k of keys) if (!(k in v)) throw new TypeError(`${what} has no field ${k}`);
  return v as unknown as T;
}

const TIER_KEYS = ["notionalCap", "maintenanceAmount", "mmr", "maxLeverage"] as const;
const POSITION_KEYS = ["owner", "marketId", "size", "entryPrice", "margin", "fundingSnapshot"] as const;
const STATE_KEYS = [
  "longOpenInterest",
  "shortOpenInterest",
  "longEntryNotional",
  "shortEntryNotional",
  "fundingIndex",
  "lastFundingRate",
  "lastFundingTime",
  "premiumCum",
  "lastPremium",
  "lastSampleTime",
  "premiumStart",
  "emaBasis",
  "uncoveredBadDebt",
  "paused",
  "longEntryRemainder",
  "fundingSnapshotSum",
  "fundingSnapshotRemainder",
  "shortEntryRemainder",
] as const;
const CONFIG_KEYS = [
  "symbol",
  "skewScale",
  "maxOpenInterest",
  "takerFee",
  "makerFee",
  "liquidationFeeRate",
  "insuranceFeeShare",
  "minLiquidationFee",
  "minMargin",
  "fundingInterestRate",
  "fundingClamp",
  "fundingCap",
  "fundingInterval",
  "emaHalfLife",
  "markBand",
  "reserveFactor",
  "maxPnlFactor",
  "partialLiquidationBuffer",
  "markModel",
  "minPositionNotional",
  "fundingModel",
  "oracleGracePeriod",
] as const;

export function tiers(args: Args, key = "tiers"): Tier[] {
  const v = args[key];
  if (!Array.isArray(v)) throw new TypeError(`argument ${key} is not an array`);
  return v.map((t, i) => struct<Tier>(t, TIER_KEYS, `${key}[${i}]`));
}

export function position(args: Args, key = "position"): Position {
  return struct<Position>(args[key], POSITION_KEYS, key);
}

export function state(args: Args, key = "state"): MarketState {
  return struct<MarketState>(args[key], STATE_KEYS, key);
}

/** A vector's config; vectors written before the velocity funding model carry no maxFundingVelocity (0). */
export function config(args: Args, key = "config"): MarketConfig {
  const c = struct<Omit<MarketConfig, "maxFundingVelocity"> & { maxFundingVelocity?: bigint }>(
    args[key],
    CONFIG_KEYS,
    key,
  );
  return { ...c, maxFundingVelocity: c.maxFundingVelocity ?? 0n };
}
