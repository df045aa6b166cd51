/**
 * Market specifications: what `deploySystem` builds, in human units (decimal strings), converted to
 * on-chain WAD exactly. The two defaults are the local exchange's markets: ALT-USD (a thin altcoin
 * whose spot a market maker can move) and BTC-USD (deep), with exchange-style maintenance brackets.
 */
export interface TierSpec {
  /** USD notional cap of the bracket */
  notionalCap: string;
  /** maintenance margin rate, e.g. "0.005" */
  mmr: string;
  maxLeverage: string;
}

export interface MarketSpec {
  symbol: string;
  coinName: string;
  coinSymbol: string;
  /** USD per coin */
  initialPrice: string;
  /** USD on each side of the spot pool */
  spotLiquidityUsd: string;
  /** base units */
  skewScale: string;
  /** base units, per side */
  maxOpenInterest: string;
  tiers: TierSpec[];
  takerFee: string;
  makerFee: string;
  liquidationFeeRate: string;
  minLiquidationFee: string;
  insuranceFeeShare: string;
  minMargin: string;
  fundingInterestRate: string;
  fundingClamp: string;
  fundingCap: string;
  fundingIntervalSeconds: number;
  emaHalfLifeSeconds: number;
  /** 0 = off */
  markBand: string;
  reserveFactor: string;
  /** traders' net profit the pool counts is capped at this share of its ledger; above it profits are
   * paid pro rata and ADL opens */
  maxPnlFactor: string;
  /** USD: the smallest notional a position may be opened or increased to, at fill */
  minPositionNotional: string;
  partialLiquidationBuffer: string;
  oracleGracePeriodSeconds: number;
  /** pushed feeds standing in for external exchanges */
  pushedFeeds: number;
  pushedFeedHeartbeatSeconds: number;
  /** 0 = the spot adapter reads the instantaneous price */
  twapWindowSeconds: number;
  /** per-update deviation limit of the pushed feeds, 0 = off */
  maxPriceDeviation: string;
  /** "median" (SPEC mark) or "index" */
  markModel: "median" | "index";
  /** "premium" (SPEC funding) or "velocity" (Synthetix v3: the rate drifts with the skew) */
  fundingModel: "premium" | "velocity";
  /** velocity funding only: the most the daily rate moves per day, at full skew */
  maxFundingVelocity: string;
}

const COMMON = {
  takerFee: "0.0005",
  makerFee: "0.0002",
  liquidationFeeRate: "0.0025",
  minLiquidationFee: "1",
  insuranceFeeShare: "0.2",
  minMargin: "10",
  fundingInterestRate: "0.0001",
  fundingClamp: "0.0005",
  fundingCap: "0.0075",
  fundingIntervalSeconds: 8 * 3600,
  emaHalfLifeSeconds: 300,
  markBand: "0",
  reserveFactor: "0.5",
  maxPnlFactor: "0.5",
  minPositionNotional: "10",
  partialLiquidationBuffer: "0.1",
  oracleGracePeriodSeconds: 3600,
  pushedFeeds: 2,
  pushedFeedHeartbeatSeconds: 3600,
  twapWindowSeconds: 600,
  maxPriceDeviation: "0",
  markModel: "median",
  fundingModel: "premium",
  maxFundingVelocity: "0",
} as const;

export const ALT_USD: MarketSpec = {
  ...COMMON,
  symbol: "ALT-USD",
  coinName: "Altcoin",
  coinSymbol: "ALT",
  initialPrice: "2",
  spotLiquidityUsd: "200000",
  skewScale: "5000000",
  maxOpenInterest: "2000000",
  tiers: [
    { notionalCap: "50000", mmr: "0.005", maxLeverage: "50" },
    { notionalCap: "250000", mmr: "0.01", maxLeverage: "25" },
    { notionalCap: "1000000", mmr: "0.025", maxLeverage: "10" },
    { notionalCap: "5000000", mmr: "0.05", maxLeverage: "5" },
  ],
};

export const BTC_USD: MarketSpec = {
  ...COMMON,
  symbol: "BTC-USD",
  coinName: "Bitcoin",
  coinSymbol: "BTC",
  initialPrice: "30000",
  spotLiquidityUsd: "50000000",
  skewScale: "100000",
  maxOpenInterest: "10000",
  tiers: [
    { notionalCap: "250000", mmr: "0.004", maxLeverage: "100" },
    { notionalCap: "1000000", mmr: "0.005", maxLeverage: "50" },
    { notionalCap: "10000000", mmr: "0.01", maxLeverage: "25" },
    { notionalCap: "50000000", mmr: "0.025", maxLeverage: "10" },
    { notionalCap: "200000000", mmr: "0.05", maxLeverage: "5" },
  ],
};

export const DEFAULT_MARKETS: MarketSpec[] = [ALT_USD, BTC_USD];
