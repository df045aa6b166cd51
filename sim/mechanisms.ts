/**
 * A scenario market's mechanisms (sim/scenario.ts, SPEC 9.3) as the deployment's market spec spells
 * them: the strategy contracts by name, and full liquidation as a zero partial-liquidation buffer
 * (the engine's switch). Spread into the market spec by the runner's `systemSpecOf`.
 */
import { formatWad } from "./decimal";
import type { EngineMarketSpec, MarketSpec } from "../lib/markets";
import type { CoinMarketConfig, MarketConfig } from "./scenario";

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

/** The engine fields a scenario market sets, for a USD market or its coin twin alike (sizes in their units). */
export function engineFieldsOf(
  m: MarketConfig | CoinMarketConfig,
): Pick<
  EngineMarketSpec,
  | "skewScale"
  | "maxOpenInterest"
  | "tiers"
  | "takerFee"
  | "makerFee"
  | "fundingIntervalSeconds"
  | "markBand"
  | "maxPnlFactor"
  | "markModel"
  | "fundingModel"
  | "maxFundingVelocity"
> &
  Partial<Pick<MarketSpec, "partialLiquidationBuffer">> {
  return {
    skewScale: formatWad(m.skewScale),
    maxOpenInterest: formatWad(m.protections.oiCap > 0n ? m.protections.oiCap : m.maxOpenInterest),
    tiers: m.tiers.map((t) => ({
      notionalCap: formatWad(t.notionalCap),
      mmr: formatWad(t.mmr),
      maxLeverage: formatWad(t.maxLeverage),
    })),
    takerFee: formatWad(m.fees.taker),
    makerFee: formatWad(m.fees.maker),
    fundingIntervalSeconds: m.fundingIntervalSec,
    markBand: formatWad(m.protections.priceBand),
    maxPnlFactor: formatWad(m.protections.maxPnlFactor),
    ...mechanismSpec(m),
  };
}
