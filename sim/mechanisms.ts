/**
 * A scenario market's mechanisms (sim/scenario.ts, SPEC 9.3) as the deployment's market spec spells
 * them: the strategy contracts by name, and full liquidation as a zero partial-liquidation buffer
 * (the engine's switch). Spread into the market spec by the runner's `systemSpecOf`.
 */
import { formatWad } from "./decimal";
import type { MarketSpec } from "../lib/markets";
import type { MarketConfig } from "./scenario";

/** The engine's "partial liquidation off". */
const FULL_LIQUIDATION_BUFFER = "0";

export function mechanismSpec(
  market: Pick<MarketConfig, "mechanisms">,
): Pick<MarketSpec, "markModel" | "fundingModel" | "maxFundingVelocity"> &
  Partial<Pick<MarketSpec, "partialLiquidationBuffer">> {
  const m = market.mechanisms;
  return {
    markModel: m.markMethod,
    fundingModel: m.fundingModel,
    maxFundingVelocity: formatWad(m.maxFundingVelocity),
    ...(m.liquidation === "full" ? { partialLiquidationBuffer: FULL_LIQUIDATION_BUFFER } : {}),
  };
}
