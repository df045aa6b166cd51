/**
 * The pushed feeds: stand-ins for external exchanges that follow the spot pool (its TWAP when the
 * scenario sets a window), each with its own noise, each update clamped to the protection's largest
 * move. Pure: the reference, the feeds' previous answers and the noise draws in, answers out.
 */
import { WAD } from "../../lib/units";

const BPS = 10_000n;
/** WAD (18 decimals) to a feed answer (8 decimals). */
const WAD_TO_FEED = 10n ** 10n;

/** `target` moved no further from `previous` than `maxDeviation` (a fraction; 0 = no limit). */
export function clampMove(target: bigint, previous: bigint, maxDeviation: bigint): bigint {
  if (maxDeviation === 0n || previous <= 0n) return target;
  const limit = (previous * maxDeviation) / WAD;
  if (target > previous + limit) return previous + limit;
  if (target < previous - limit) return previous - limit;
  return target;
}

/**
 * Each feed's next answer (8 decimals): the reference (WAD) times (1 + noise in bps), clamped to
 * `maxDeviation` from the feed's previous answer.
 */
export function feedAnswers(
  reference: bigint,
  previous: readonly bigint[],
  noiseBps: readonly number[],
  maxDeviation: bigint,
): bigint[] {
  return previous.map((prev, f) => {
    const target = (reference * (BPS + BigInt(noiseBps[f] ?? 0))) / BPS / WAD_TO_FEED;
    return clampMove(target, prev, maxDeviation);
  });
}
