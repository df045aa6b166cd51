/**
 * A coin-margined (inverse) market in the trader's terms, over the engine that runs it (SPEC 9.2).
 *
 * The engine of a coin runs its inverse markets as linear markets on the reciprocal price 1/P (coin per
 * USD, from contracts/oracle/ReciprocalOracle.sol): a trader's position of `contracts` contracts of face F
 * USD, long or short, is the engine's position of size Q = contracts * F on the opposite side, because
 * s*Q*(1/entry - 1/P) = -s*Q*(1/P - 1/entry). Margin, PnL, fees and funding come out in the coin, the
 * engine's collateral. These functions translate sides, sizes and prices both ways, bigint only; the
 * rounding of each is stated, and always leans against the trader where it limits a fill.
 */
import { MAX_UINT256, WAD } from "./math";

const WAD_SQUARED = WAD * WAD;

/** 1/P in WAD, rounded down; 0 stays 0 (no price). */
export function reciprocal(price: bigint): bigint {
  return price === 0n ? 0n : WAD_SQUARED / price;
}

/** The engine's signed size for a trader's `contracts` (a whole number) long or short of face `faceUsd` (WAD). */
export function engineSize(contracts: bigint, faceUsd: bigint, isLong: boolean): bigint {
  if (contracts <= 0n) throw new Error(`contracts: expected a positive whole number, got ${contracts}`);
  const face = contracts * faceUsd;
  return isLong ? -face : face;
}

/** The trader's side and face (WAD USD) of the engine's signed size. */
export function traderSide(engineSize: bigint): { isLong: boolean; face: bigint } {
  return { isLong: engineSize < 0n, face: engineSize < 0n ? -engineSize : engineSize };
}

/** The whole contracts in `face` (WAD USD) at `faceUsd` a contract, and what is left over. */
export function contractsOf(face: bigint, faceUsd: bigint): { contracts: bigint; rest: bigint } {
  return { contracts: face / faceUsd, rest: face % faceUsd };
}

/**
 * The engine's acceptable price for a trader's worst USD price: a long buys at most at `worstUsd`, so the
 * engine's short sells at no less than 1/worstUsd (rounded up); a short sells at no less than `worstUsd`,
 * so the engine's long buys at no more than 1/worstUsd (rounded down). 0 means no limit.
 */
export function engineAcceptablePrice(worstUsd: bigint, isLong: boolean): bigint {
  if (worstUsd === 0n) return isLong ? 0n : MAX_UINT256;
  return isLong ? (WAD_SQUARED + worstUsd - 1n) / worstUsd : WAD_SQUARED / worstUsd;
}

/**
 * The USD liquidation price for a trader long or short of the engine's liquidation price `engineLiq` (the
 * engine's 0 is "never" for its long and "at every price" for its short). undefined when there is none: a
 * short whose engine long never is liquidatable (a 1x short). MAX_UINT256 for a long liquidatable at
 * every price.
 */
export function usdLiquidationPrice(engineLiq: bigint, isLong: boolean): bigint | undefined {
  if (engineLiq === 0n) return isLong ? MAX_UINT256 : undefined;
  return reciprocal(engineLiq);
}
