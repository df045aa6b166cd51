/**
 * The skew pricing of contracts/libraries/Pricing.sol (SPEC section 5), in bigint with the same
 * rounding, so a client quotes exactly the fill the engine will give in the same block.
 * Skew K and size d are signed base units (positive long); S is the market's skew scale; all WAD.
 */
import { WAD } from "./units";

/** P_last = index * (1 + K/S); rounds down. */
export function lastPrice(index: bigint, skew: bigint, skewScale: bigint): bigint {
  const factor = skewScale + skew;
  if (factor <= 0n) throw new RangeError(`skew ${skew} is beyond the skew scale ${skewScale}`);
  return (index * factor) / skewScale;
}

/** P_fill = index * (1 + (2K + d) / 2S): a buy rounds up, a sell rounds down (the protocol's favour). */
export function fillPrice(index: bigint, skew: bigint, delta: bigint, skewScale: bigint): bigint {
  const factor = 2n * skewScale + 2n * skew + delta;
  if (factor <= 0n) throw new RangeError(`skew ${skew + delta} is beyond the skew scale ${skewScale}`);
  const num = index * factor;
  const den = 2n * skewScale;
  return delta > 0n ? divUp(num, den) : num / den;
}

/** Fee = rate * |d| * fill; the taker rate when the order grows |K|, the maker rate otherwise. Rounds up. */
export function tradeFee(skew: bigint, delta: bigint, fill: bigint, takerRate: bigint, makerRate: bigint): bigint {
  const rate = abs(skew + delta) > abs(skew) ? takerRate : makerRate;
  return mulUp(mulUp(abs(delta), fill), rate);
}

function mulUp(a: bigint, b: bigint): bigint {
  return divUp(a * b, WAD);
}

function divUp(a: bigint, b: bigint): bigint {
  return a === 0n ? 0n : (a - 1n) / b + 1n;
}

function abs(a: bigint): bigint {
  return a < 0n ? -a : a;
}
