/**
 * Typed handles to a deployed exchange, from a deployment record (deployments/<network>.json).
 * The engine's administration and raw getters live in PerpEngineAdmin's ABI at the engine's address.
 */
import { readFileSync } from "node:fs";
import type { ContractRunner } from "ethers";
import {
  CoinToken__factory,
  CollateralToken__factory,
  LiquidityPool__factory,
  Oracle__factory,
  OrderBook__factory,
  PerpEngineAdmin__factory,
  PerpEngine__factory,
  PerpLens__factory,
  PushPriceFeed__factory,
  SpotPool__factory,
  SpotTwapFeed__factory,
  Vault__factory,
} from "../typechain-types";
import type {
  CoinToken,
  CollateralToken,
  LiquidityPool,
  Oracle,
  OrderBook,
  PerpEngine,
  PerpEngineAdmin,
  PerpLens,
  PushPriceFeed,
  SpotPool,
  SpotTwapFeed,
  Vault,
} from "../typechain-types";

export interface MarketRecord {
  symbol: string;
  marketId: number;
  coin: string;
  spotPool: string;
  pushedFeeds: string[];
  twapFeed: string;
  /** a coin-margined market: its USD market, whose coin, spot pool and feeds these are, and its face */
  inverse?: InverseTerms;
}

/** What makes a market coin-margined (SPEC 9.2): the USD market it inverts and one contract's USD face. */
export interface InverseTerms {
  underlying: string;
  /** USD face value of one contract, a decimal string */
  faceUsd: string;
}

/**
 * The exchange of one collateral coin: its own vault, engine, lens, pool and order book, whose oracle is a
 * ReciprocalOracle over the USD oracle, and its inverse markets. It has the shape of a deployment's
 * contracts, so every tool that works on an exchange works on it (see `coinVenue`).
 */
export interface CoinMarginedRecord {
  /** the coin's symbol (BTC, ALT) */
  asset: string;
  contracts: Deployment["contracts"];
  markets: MarketRecord[];
}

export interface Deployment {
  chainId: number;
  deploymentBlock: number;
  contracts: {
    collateral: string;
    vault: string;
    oracle: string;
    engine: string;
    engineAdmin: string;
    lens: string;
    pool: string;
    orderBook: string;
    fundingModel: string;
  };
  markets: MarketRecord[];
  /** the coin-margined exchanges, one per collateral coin; absent in records written before them */
  coinMargined?: CoinMarginedRecord[];
}

/** A coin-margined exchange as a deployment of its own (same chain and block), or an error naming the coins. */
export function coinVenue(deployment: Deployment, asset: string): Deployment {
  const venues = deployment.coinMargined ?? [];
  const record = venues.find((v) => v.asset === asset.toUpperCase());
  if (!record) {
    const known = venues.map((v) => v.asset).join(", ") || "none in this deployment";
    throw new Error(`no coin-margined exchange for "${asset}"; coins: ${known}`);
  }
  return {
    chainId: deployment.chainId,
    deploymentBlock: deployment.deploymentBlock,
    contracts: record.contracts,
    markets: record.markets,
  };
}

export interface MarketHandles {
  symbol: string;
  marketId: bigint;
  coin: CoinToken;
  spotPool: SpotPool;
  pushedFeeds: PushPriceFeed[];
  twapFeed: SpotTwapFeed;
  inverse?: InverseTerms;
}

export interface Exchange {
  deployment: Deployment;
  collateral: CollateralToken;
  vault: Vault;
  oracle: Oracle;
  engine: PerpEngine;
  /** PerpEngineAdmin's ABI at the engine's address */
  admin: PerpEngineAdmin;
  lens: PerpLens;
  pool: LiquidityPool;
  orderBook: OrderBook;
  markets: Map<string, MarketHandles>;
  /** the coin-margined exchanges by coin symbol (BTC, ALT); empty for a coin exchange itself */
  coinMargined: Map<string, Exchange>;
}

export function connectExchange(deployment: Deployment, runner: ContractRunner): Exchange {
  const c = deployment.contracts;
  const markets = new Map<string, MarketHandles>();
  for (const m of deployment.markets) {
    markets.set(m.symbol, {
      symbol: m.symbol,
      marketId: BigInt(m.marketId),
      coin: CoinToken__factory.connect(m.coin, runner),
      spotPool: SpotPool__factory.connect(m.spotPool, runner),
      pushedFeeds: m.pushedFeeds.map((a) => PushPriceFeed__factory.connect(a, runner)),
      twapFeed: SpotTwapFeed__factory.connect(m.twapFeed, runner),
      inverse: m.inverse,
    });
  }
  const coinMargined = new Map<string, Exchange>();
  for (const v of deployment.coinMargined ?? []) {
    coinMargined.set(v.asset, connectExchange(coinVenue(deployment, v.asset), runner));
  }
  return {
    deployment,
    collateral: CollateralToken__factory.connect(c.collateral, runner),
    vault: Vault__factory.connect(c.vault, runner),
    oracle: Oracle__factory.connect(c.oracle, runner),
    engine: PerpEngine__factory.connect(c.engine, runner),
    admin: PerpEngineAdmin__factory.connect(c.engine, runner),
    lens: PerpLens__factory.connect(c.lens, runner),
    pool: LiquidityPool__factory.connect(c.pool, runner),
    orderBook: OrderBook__factory.connect(c.orderBook, runner),
    markets,
    coinMargined,
  };
}

/** The market's handles, or an error naming the known symbols. */
export function marketBySymbol(exchange: Exchange, symbol: string): MarketHandles {
  const m = exchange.markets.get(symbol.toUpperCase());
  if (!m) {
    throw new Error(`unknown market "${symbol}"; markets: ${[...exchange.markets.keys()].join(", ")}`);
  }
  return m;
}

export function readDeployment(file: string): Deployment {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`deployment file ${file}: ${(err as Error).message}`);
  }
  const d = parsed as Partial<Deployment>;
  if (
    typeof d.chainId !== "number" ||
    typeof d.deploymentBlock !== "number" ||
    !d.contracts ||
    !Array.isArray(d.markets)
  ) {
    throw new Error(`deployment file ${file}: expected chainId, deploymentBlock, contracts and markets`);
  }
  return d as Deployment;
}
