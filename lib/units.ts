/**
 * Units at the edges. On-chain amounts are bigint: WAD (18 decimals) for prices, sizes, rates and USD
 * amounts inside the engine; 6 decimals (USD6) for the collateral token. Human input is parsed from
 * decimal strings, never through floats.
 */
import { formatUnits, parseUnits } from "ethers";

export const WAD = 10n ** 18n;
export const USD6_TO_WAD = 10n ** 12n;
export const FEED_DECIMALS = 8;

/** "1.5" -> 1.5e18. Accepts number only when it is an exact decimal literal (no exponent). */
export function wad(value: string | number | bigint): bigint {
  if (typeof value === "bigint") return value * WAD;
  return parseUnits(decimalString(value), 18);
}

/** "100" -> 100e6 collateral units. */
export function usd6(value: string | number | bigint): bigint {
  if (typeof value === "bigint") return value * 10n ** 6n;
  return parseUnits(decimalString(value), 6);
}

/** A WAD price -> an 8-decimal feed answer, rounded down. */
export function toFeedAnswer(priceWad: bigint): bigint {
  return priceWad / 10n ** BigInt(18 - FEED_DECIMALS);
}

/** Formats a WAD value with at most `decimals` fraction digits (truncated), e.g. 1234.56. */
export function fmt(value: bigint, decimals = 4): string {
  const s = formatUnits(value, 18);
  const [int, frac = ""] = s.split(".");
  const trimmed = frac.slice(0, decimals).replace(/0+$/, "");
  return trimmed ? `${int}.${trimmed}` : int;
}

/** Formats a WAD rate as a percentage, e.g. 0.0001e18 -> "0.0100%". */
export function fmtPct(rate: bigint, decimals = 4): string {
  const scaled = rate * 100n;
  return `${fmt(scaled, decimals)}%`;
}

export function fmtUsd6(value: bigint): string {
  return formatUnits(value, 6);
}

function decimalString(value: string | number): string {
  const s = typeof value === "number" ? String(value) : value.trim();
  if (!/^-?\d+(\.\d+)?$/.test(s)) throw new Error(`not a decimal number: ${JSON.stringify(value)}`);
  return s;
}
