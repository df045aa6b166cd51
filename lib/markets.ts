/**
 * Market specifications: what `deploySystem` builds, in human units (decimal strings), converted to
 * on-chain WAD exactly. The two defaults are the local exchange's markets: ALT-USD (a thin altcoin
 * whose spot a market maker can move) and BTC-USD (deep), with exchange-style maintenance brackets;
 * beside them, their coin-margined (inverse) twins BTCUSD-INV and ALTUSD-INV (SPEC 9.2), each margined in
 * its coin on an engine of its own.
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

/** The fields of a market the engine's `createMarket` takes, in the units of its engine's collateral. */
export type EngineMarketSpec = Pick<
  MarketSpec,
  | "symbol"
  | "skewScale"
  | "maxOpenInterest"
  | "tiers"
  | "takerFee"
  | "makerFee"
  | "liquidationFeeRate"
  | "minLiquidationFee"
  | "insuranceFeeShare"
  | "minMargin"
  | "fundingInterestRate"
  | "fundingClamp"
  | "fundingCap"
  | "fundingIntervalSeconds"
  | "emaHalfLifeSeconds"
  | "markBand"
  | "reserveFactor"
  | "maxPnlFactor"
  | "minPositionNotional"
  | "partialLiquidationBuffer"
  | "oracleGracePeriodSeconds"
  | "markModel"
  | "fundingModel"
  | "maxFundingVelocity"
>;

/**
 * A coin-margined (inverse) market: quoted in USD, margined and settled in the coin of its `underlying`
 * USD market, whose index it reads (inverted: contracts/oracle/ReciprocalOracle.sol). Amounts are in the
 * coin: tier caps, minimum margin, minimum liquidation fee and minimum notional; the skew scale and the OI
 * cap are in USD face, as the engine counts an inverse position's size.
 */
export interface InverseMarketSpec extends EngineMarketSpec {
  /** the USD market whose coin margins this market and whose index it inverts */
  underlying: string;
  /** USD face value of one contract */
  faceUsd: string;
}

/** The engine of one collateral coin: its inverse markets, and what the deployer funds it with. */
export interface CoinMarginedSpec {
  /** the coin's symbol, as its USD market's `coinSymbol` */
  asset: string;
  markets: InverseMarketSpec[];
  /** coins the deployer deposits into the coin's LP pool */
  lpDeposit: string;
  /** coins the deployer puts in the coin engine's insurance fund */
  insuranceFund: string;
  /** the coin order book's minimum execution fee, in the coin */
  minExecutionFee: string;
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

/**
 * An inverse market's interest rate, in the engine's terms: the engine trades 1/P, so its longs are the
 * traders' shorts, and the -0.01% per interval charges the traders' longs, as the linear +0.01% does.
 */
const INVERSE_INTEREST_RATE = "-0.0001";

/** BTC-USD's coin-margined twin: 100 USD a contract, margined in BTC; brackets in BTC at 30,000 USD. */
export const BTCUSD_INV: InverseMarketSpec = {
  ...COMMON,
  symbol: "BTCUSD-INV",
  underlying: "BTC-USD",
  fundingInterestRate: INVERSE_INTEREST_RATE,
  faceUsd: "100",
  skewScale: "3000000000",
  maxOpenInterest: "300000000",
  minLiquidationFee: "0.00003",
  minMargin: "0.0003",
  minPositionNotional: "0.0003",
  tiers: [
    { notionalCap: "10", mmr: "0.004", maxLeverage: "100" },
    { notionalCap: "50", mmr: "0.005", maxLeverage: "50" },
    { notionalCap: "300", mmr: "0.01", maxLeverage: "25" },
    { notionalCap: "1500", mmr: "0.025", maxLeverage: "10" },
    { notionalCap: "7000", mmr: "0.05", maxLeverage: "5" },
  ],
};

/** ALT-USD's coin-margined twin: 10 USD a contract, margined in ALT; brackets in ALT at 2 USD. */
export const ALTUSD_INV: InverseMarketSpec = {
  ...COMMON,
  symbol: "ALTUSD-INV",
  underlying: "ALT-USD",
  fundingInterestRate: INVERSE_INTEREST_RATE,
  faceUsd: "10",
  skewScale: "10000000",
  maxOpenInterest: "4000000",
  minLiquidationFee: "0.5",
  minMargin: "5",
  minPositionNotional: "5",
  tiers: [
    { notionalCap: "25000", mmr: "0.005", maxLeverage: "50" },
    { notionalCap: "125000", mmr: "0.01", maxLeverage: "25" },
    { notionalCap: "500000", mmr: "0.025", maxLeverage: "10" },
    { notionalCap: "2500000", mmr: "0.05", maxLeverage: "5" },
  ],
};

export const DEFAULT_COIN_MARGINED: CoinMarginedSpec[] = [
  { asset: "BTC", markets: [BTCUSD_INV], lpDeposit: "100", insuranceFund: "3", minExecutionFee: "0.00002" },
  { asset: "ALT", markets: [ALTUSD_INV], lpDeposit: "1000000", insuranceFund: "50000", minExecutionFee: "0.25" },
];
