/**
 * Exact conversion between human decimals (150000, 0.005, "1.25") and WAD bigints (18-decimal
 * fixed point), and back to text.
 *
 * No float arithmetic ever touches a value: a JS number is read through its shortest round-trip
 * decimal string (the text JSON held), then scaled as digits. A number with more significant digits
 * than a double keeps exactly is refused: such a value must be written as a string.
 */

export const WAD_DECIMALS = 18;
export const WAD = 10n ** 18n;

/** A double holds 15 significant decimal digits exactly; beyond that JSON.parse may have rounded. */
const MAX_NUMBER_DIGITS = 15;
/** Bounds the exponent of "1e21"-style input so a typo cannot build a gigantic bigint. */
const MAX_EXPONENT = 60;
const DECIMAL = /^([+-]?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/;

/** Thrown when a value is not an exact decimal that fits a WAD. */
export class DecimalError extends Error {
  override name = "DecimalError";
}

/** Reads a decimal number or string into a WAD, exactly; throws DecimalError otherwise. */
export function toWad(value: number | string): bigint {
  const text = typeof value === "number" ? numberToText(value) : value.trim();
  const match = DECIMAL.exec(text);
  if (!match) throw new DecimalError(`"${text}" is not a decimal number`);
  const [, sign, whole, fraction = "", exponentText = "0"] = match;
  const exponent = Number(exponentText);
  if (Math.abs(exponent) > MAX_EXPONENT) throw new DecimalError(`${text}: exponent out of range`);

  // value = digits * 10^(exponent - fraction.length), so wad = digits * 10^shift
  const digits = BigInt(whole + fraction);
  const shift = exponent - fraction.length + WAD_DECIMALS;
  let magnitude: bigint;
  if (shift >= 0) {
    magnitude = digits * 10n ** BigInt(shift);
  } else {
    const divisor = 10n ** BigInt(-shift);
    if (digits % divisor !== 0n) throw new DecimalError(`${text} has more than ${WAD_DECIMALS} decimal places`);
    magnitude = digits / divisor;
  }
  return sign === "-" ? -magnitude : magnitude;
}

/** Exact decimal text of a WAD, trailing zeros trimmed: 1.5e18 -> "1.5", -1n -> "-0.000000000000000001". */
export function formatWad(value: bigint): string {
  const magnitude = value < 0n ? -value : value;
  const whole = (magnitude / WAD).toString();
  const fraction = (magnitude % WAD).toString().padStart(WAD_DECIMALS, "0").replace(/0+$/, "");
  const text = fraction === "" ? whole : `${whole}.${fraction}`;
  return value < 0n ? `-${text}` : text;
}

/** A WAD rounded half away from zero to `decimals` places, always written with that many: (1.005, 2) -> "1.01". */
export function formatWadFixed(value: bigint, decimals: number): string {
  if (!Number.isInteger(decimals) || decimals < 0 || decimals > WAD_DECIMALS) {
    throw new RangeError(`decimals must be an integer in [0, ${WAD_DECIMALS}], got ${decimals}`);
  }
  const unit = 10n ** BigInt(WAD_DECIMALS - decimals);
  const magnitude = value < 0n ? -value : value;
  const rounded = (magnitude + unit / 2n) / unit;
  const scale = 10n ** BigInt(decimals);
  const whole = (rounded / scale).toString();
  const text = decimals === 0 ? whole : `${whole}.${(rounded % scale).toString().padStart(decimals, "0")}`;
  return value < 0n && rounded !== 0n ? `-${text}` : text;
}

function numberToText(value: number): string {
  if (!Number.isFinite(value)) throw new DecimalError(`${value} is not a finite number`);
  const text = String(value);
  const mantissa = text.replace(/^-/, "").replace(/e.*$/i, "").replace(".", "");
  const significant = mantissa.replace(/^0+/, "").replace(/0+$/, "");
  if (significant.length > MAX_NUMBER_DIGITS) {
    throw new DecimalError(`${text} has more than ${MAX_NUMBER_DIGITS} significant digits; write it as a string`);
  }
  return text;
}
