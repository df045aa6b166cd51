/**
 * The skew pricing functions under their earlier names. The formulas live once, in lib/math.ts
 * (`Pricing`, checked against contracts/libraries/Pricing.sol by test/vectors); new code imports
 * `Pricing` from there. This module goes away when its last importer has moved.
 */
import { Pricing } from "./math";

/** P_last = index * (1 + K/S); rounds down. */
export const lastPrice = Pricing.lastPrice;
/** P_fill = index * (1 + (2K + d) / 2S); a buy rounds up, a sell rounds down. */
export const fillPrice = Pricing.fillPrice;
/** rate * |d| * fill, taker rate when the order grows |K|; rounds up. */
export const tradeFee = Pricing.fee;
