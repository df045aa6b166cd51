/**
 * Human formatting of on-chain amounts for the CLI, the keeper's logs and the simulator's console.
 * Pure string functions of bigints: WAD (18 decimals) unless the name says otherwise. Display only:
 * values are rounded to the shown precision; never feed these strings back into math.
 */
import { formatUnits } from "ethers";
import { WAD } from "./units";

/** Sentinel the lens returns for the leverage of a position with no equity left. */
const MAX_UINT256 = (1n << 256n) - 1n;

/**
 * An amount with `decimals` fraction digits, rounded half away from zero, and thousands separators:
 * 1234567.891e18 -> "1,234,567.89". `units` is the value's own decimals (18 for WAD, 6 for collateral).
 */
export function amount(value: bigint, decimals = 2, units = 18): string {
  const negative = value < 0n;
  let abs = negative ? -value : value;
  if (decimals < units) {
    const step = 10n ** BigInt(units - decimals);
    abs = ((abs + step / 2n) / step) * step;
  }
  const [int, frac = ""] = formatUnits(abs, units).split(".");
  const grouped = int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const body = decimals > 0 ? `${grouped}.${frac.slice(0, decimals).padEnd(decimals, "0")}` : grouped;
  return negative && /[1-9]/.test(body) ? `-${body}` : body;
}

/** USD, WAD: 2 decimals, e.g. "1,234.56 USD". */
export function usd(value: bigint): string {
  return `${amount(value, 2)} USD`;
}

/** USD in the collateral token's 6 decimals. */
export function usd6(value: bigint): string {
  return `${amount(value, 2, 6)} USD`;
}

/** Decimals shown for an amount of a coin (BTC, ALT): 8, a satoshi. */
export const COIN_DECIMALS = 8;

/** An amount of a coin, WAD: 8 decimals, e.g. "0.10000000 BTC". */
export function coin(value: bigint, symbol: string): string {
  return `${amount(value, COIN_DECIMALS)} ${symbol}`;
}

/** A signed amount of a coin with its sign always shown: "+0.00120000 BTC". */
export function signedCoin(value: bigint, symbol: string): string {
  return `${value >= 0n ? "+" : ""}${coin(value, symbol)}`;
}

/** A signed USD amount with its sign always shown: "+12.50 USD", "-3.00 USD". */
export function signedUsd(value: bigint): string {
  return `${value >= 0n ? "+" : ""}${amount(value, 2)} USD`;
}

/**
 * A price with precision that suits its size: 6 decimals under 100 (an altcoin at 2.000000), 4 under
 * 10,000, 2 above (BTC at 30,000.00).
 */
export function price(value: bigint): string {
  const abs = value < 0n ? -value : value;
  if (abs !== 0n && abs < TINY_PRICE) {
    // Below 0.000001 six decimals would print a live price as 0: show four significant digits.
    const leadingZeros = 18 - abs.toString().length;
    return amount(value, Math.min(18, leadingZeros + 4));
  }
  const decimals = abs < 100n * WAD ? 6 : abs < 10_000n * WAD ? 4 : 2;
  return amount(value, decimals);
}

/** Prices under 10^-6 USD (a drained pool's) print with significant digits. */
const TINY_PRICE = 10n ** 12n;

/**
 * `value` relative to `reference` as a signed percentage with 2 decimals, true at the extremes: a
 * change that rounds to zero but is not zero prints "+<0.01%", a fall to 0 prints "-100.00%", and a
 * zero reference prints "n/a".
 */
export function change(value: bigint, reference: bigint): string {
  if (reference === 0n) return "n/a";
  const rate = ((value - reference) * WAD) / reference;
  const text = pct(rate, 2, true);
  if (value !== reference && /^[-+]?0\.00%$/.test(text)) return `${value > reference ? "+" : "-"}<0.01%`;
  return text;
}

/**
 * A position's liquidation price beside the mark. The lens's 0 means no price at all: a long whose
 * margin covers a fall to 0 cannot be liquidated by price, a short under water at every mark is
 * liquidatable at any.
 */
export function liquidationPrice(liqPrice: bigint, size: bigint, mark: bigint): string {
  if (liqPrice === 0n) {
    return size > 0n ? "none (the margin covers a fall to 0)" : "any price (the margin is gone at every mark)";
  }
  return `${price(liqPrice)} (${change(liqPrice, mark)} from mark)`;
}

/** A size in base units: up to 6 decimals, e.g. "4,999.900000". */
export function size(value: bigint, decimals = 6): string {
  return amount(value, decimals);
}

/** A WAD fraction as a percentage: 0.0945e18 -> "9.45%"; `signed` adds "+" to non-negative values. */
export function pct(rate: bigint, decimals = 2, signed = false): string {
  const text = `${amount(rate * 100n, decimals)}%`;
  return signed && rate >= 0n ? `+${text}` : text;
}

/** A WAD leverage: "10.00x"; the lens's max-uint sentinel (no equity left) prints as "inf". */
export function leverage(value: bigint): string {
  return value === MAX_UINT256 ? "inf" : `${amount(value, 2)}x`;
}

/** Seconds as "7h 59m 12s"; zero units are left out ("8h", "1d 30s"), zero is "0s". */
export function duration(seconds: bigint | number): string {
  let left = BigInt(seconds);
  const sign = left < 0n ? "-" : "";
  if (left < 0n) left = -left;
  const parts: string[] = [];
  for (const [unit, span] of [
    ["d", 86_400n],
    ["h", 3_600n],
    ["m", 60n],
    ["s", 1n],
  ] as const) {
    if (left >= span) parts.push(`${left / span}${unit}`);
    left %= span;
  }
  return parts.length === 0 ? "0s" : sign + parts.join(" ");
}

/**
 * Rows of cells as aligned columns; the first row is the header, underlined. A column whose cells are
 * all numbers (amounts, prices, percentages) is right-aligned, header included.
 */
export function table(rows: string[][]): string[] {
  if (rows.length === 0) return [];
  const columns = Math.max(...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  const numeric = (cell: string) => /^[-+]?[\d,]+(\.\d+)?(%|x| USD)?$/.test(cell);
  const right = widths.map((_, c) => c > 0 && rows.length > 1 && rows.slice(1).every((r) => numeric(r[c] ?? "")));
  const line = (r: string[]) =>
    widths
      .map((w, c) => (right[c] ? (r[c] ?? "").padStart(w) : (r[c] ?? "").padEnd(w)))
      .join("  ")
      .trimEnd();
  return [line(rows[0]), widths.map((w) => "-".repeat(w)).join("  "), ...rows.slice(1).map(line)];
}

/** Label-value pairs as two aligned columns, e.g. for a position panel. */
export function panel(pairs: [string, string][], indent = "  "): string[] {
  const width = Math.max(0, ...pairs.map(([label]) => label.length));
  return pairs.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`);
}
