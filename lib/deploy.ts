/**
 * Deploys a complete local exchange: collateral token, vault, oracle, engine (with its admin module),
 * lens, LP pool, strategies, and per market a coin, a seeded spot pool, pushed feeds and a spot-TWAP
 * adapter; then, per collateral coin, a coin-margined exchange over the same feeds (`deployCoinMargined`).
 * Used by `npm run deploy`, the test fixtures, the simulator and the bench, so all of them run the same
 * wiring. Takes an ethers signer: works in-process and against any JSON-RPC node.
 */
import type { Addressable, Signer } from "ethers";
import {
  CoinToken__factory,
  CollateralToken__factory,
  LiquidityPool__factory,
  OrderBook__factory,
  Oracle__factory,
  PerpEngineAdmin__factory,
  PerpEngine__factory,
  PerpLens__factory,
  PremiumFundingModel__factory,
  PushPriceFeed__factory,
  ReciprocalOracle__factory,
  SpotPool__factory,
  SpotTwapFeed__factory,
  Vault__factory,
  VelocityFundingModel__factory,
} from "../typechain-types";
import type { MarketConfigStruct } from "../typechain-types/contracts/core/PerpEngineAdmin";
import {
  connectExchange,
  type CoinMarginedRecord,
  type Deployment,
  type Exchange,
  type MarketRecord,
} from "./contracts";
import {
  DEFAULT_COIN_MARGINED,
  DEFAULT_MARKETS,
  type CoinMarginedSpec,
  type EngineMarketSpec,
  type MarketSpec,
} from "./markets";
import { MARK_METHOD } from "./math";
import { FEED_DECIMALS, toFeedAnswer, usd6, wad } from "./units";

export interface SystemSpec {
  markets: MarketSpec[];
  /** USD the deployer deposits into the LP pool */
  lpDepositUsd: string;
  /** USD the deployer puts in the insurance fund */
  insuranceFundUsd: string;
  /** the order book's minimum execution fee in USD; DEFAULT_MIN_EXECUTION_FEE_USD when absent */
  minExecutionFeeUsd?: string;
  /** coin-margined exchanges, one per collateral coin; none when absent */
  coinMargined?: CoinMarginedSpec[];
}

/** The smallest fee a limit/TP/SL order must escrow for the keeper that executes it. */
export const DEFAULT_MIN_EXECUTION_FEE_USD = "0.5";

export const DEFAULT_SYSTEM: SystemSpec = {
  markets: DEFAULT_MARKETS,
  lpDepositUsd: "5000000",
  insuranceFundUsd: "100000",
  coinMargined: DEFAULT_COIN_MARGINED,
};

const FAUCET_LIMIT_USD = 1_000_000n;

export async function deploySystem(deployer: Signer, spec: SystemSpec = DEFAULT_SYSTEM): Promise<Exchange> {
  const admin = await deployer.getAddress();
  const provider = deployer.provider;
  if (!provider) throw new Error("deployer has no provider");
  const { chainId } = await provider.getNetwork();
  const deploymentBlock = await provider.getBlockNumber();

  const collateral = await new CollateralToken__factory(deployer).deploy();
  const vault = await new Vault__factory(deployer).deploy(collateral, admin);
  const oracle = await new Oracle__factory(deployer).deploy(admin);
  const adminModule = await new PerpEngineAdmin__factory(deployer).deploy(vault, oracle);
  const engine = await new PerpEngine__factory(deployer).deploy(vault, oracle, adminModule, admin);
  const engineAdmin = PerpEngineAdmin__factory.connect(await engine.getAddress(), deployer);
  const lens = await new PerpLens__factory(deployer).deploy(engine, oracle);
  const pool = await new LiquidityPool__factory(deployer).deploy(collateral, vault, engine, 10n ** 12n);
  const fundingModel = await new PremiumFundingModel__factory(deployer).deploy();
  // Deployed only when a market asks for it, so the default exchange keeps its addresses.
  const velocityFunding = spec.markets.some((m) => m.fundingModel === "velocity")
    ? await new VelocityFundingModel__factory(deployer).deploy()
    : undefined;

  await (await vault.grantRole(await vault.OPERATOR_ROLE(), engine)).wait();
  await (await vault.grantRole(await vault.POOL_ROLE(), pool)).wait();

  const markets: MarketRecord[] = [];
  for (const m of spec.markets) {
    const coin = await new CoinToken__factory(deployer).deploy(m.coinName, m.coinSymbol, admin);
    const spotPool = await new SpotPool__factory(deployer).deploy(coin, collateral);
    const price = wad(m.initialPrice);
    const usdSide = usd6(m.spotLiquidityUsd);
    const coinSide = (wad(m.spotLiquidityUsd) * 10n ** 18n) / price;
    await mintCollateral(collateral, admin, usdSide);
    await (await coin.mint(admin, coinSide)).wait();
    await (await coin.approve(spotPool, coinSide)).wait();
    await (await collateral.approve(spotPool, usdSide)).wait();
    await (await spotPool.addLiquidity(coinSide, usdSide)).wait();

    const feeds = [];
    for (let i = 0; i < m.pushedFeeds; i++) {
      const feed = await new PushPriceFeed__factory(deployer).deploy(FEED_DECIMALS, `${m.symbol} feed ${i + 1}`, admin);
      await (await feed.setPrice(toFeedAnswer(price))).wait();
      if (m.maxPriceDeviation !== "0") await (await feed.setMaxDeviation(wad(m.maxPriceDeviation))).wait();
      // Connected before the oracle lists it: the oracle then reads its pushes from its own storage.
      await (await feed.setOracle(oracle)).wait();
      feeds.push(feed);
    }
    const twapFeed = await new SpotTwapFeed__factory(deployer).deploy(spotPool, m.twapWindowSeconds);
    const marketId = BigInt(markets.length + 1);
    const sources = [...feeds.map((f) => f.getAddress()), twapFeed.getAddress()];
    const heartbeats = [...feeds.map(() => m.pushedFeedHeartbeatSeconds), 3600];
    await (await oracle.setSources(marketId, await Promise.all(sources), heartbeats)).wait();

    const funding = m.fundingModel === "velocity" ? velocityFunding! : fundingModel;
    await (await engineAdmin.createMarket(await marketConfig(m, await funding.getAddress()), tiersOf(m))).wait();
    markets.push({
      symbol: m.symbol,
      marketId: Number(marketId),
      coin: await coin.getAddress(),
      spotPool: await spotPool.getAddress(),
      pushedFeeds: await Promise.all(feeds.map((f) => f.getAddress())),
      twapFeed: await twapFeed.getAddress(),
    });
  }

  const lpDeposit = usd6(spec.lpDepositUsd);
  if (lpDeposit > 0n) {
    await mintCollateral(collateral, admin, lpDeposit);
    await (await collateral.approve(pool, lpDeposit)).wait();
    await (await pool.deposit(lpDeposit, admin)).wait();
  }
  const insurance = usd6(spec.insuranceFundUsd);
  if (insurance > 0n) {
    await mintCollateral(collateral, admin, insurance);
    await (await collateral.approve(vault, insurance)).wait();
    await (await vault.fundInsurance(insurance)).wait();
  }

  // Deployed last, so adding it left every other address where it was.
  const minExecutionFee = wad(spec.minExecutionFeeUsd ?? DEFAULT_MIN_EXECUTION_FEE_USD);
  const orderBook = await new OrderBook__factory(deployer).deploy(engine, vault, admin, minExecutionFee);
  // The order book books escrow in the vault and trades for the accounts whose orders it executes.
  await (await vault.grantRole(await vault.OPERATOR_ROLE(), orderBook)).wait();
  await (await engine.grantRole(await engine.EXECUTOR_ROLE(), orderBook)).wait();

  const deployment: Deployment = {
    chainId: Number(chainId),
    deploymentBlock,
    contracts: await addressesOf({
      collateral,
      vault,
      oracle,
      engine,
      engineAdmin: adminModule,
      lens,
      pool,
      orderBook,
      fundingModel,
    }),
    markets,
  };
  const coinMargined: CoinMarginedRecord[] = [];
  for (const c of spec.coinMargined ?? []) {
    coinMargined.push(await deployCoinMargined(deployer, deployment, c));
  }
  if (coinMargined.length > 0) deployment.coinMargined = coinMargined;
  return connectExchange(deployment, deployer);
}

/** ReciprocalOracle.MAX_INITIAL_LISTINGS: the listings its constructor keeps in code. */
const MAX_INITIAL_LISTINGS = 8;

/**
 * Deploys the coin-margined exchange of `spec.asset`, after the USD exchange `usd` whose coin, feeds and
 * funding model it shares: a vault and an LP pool of the coin, an engine whose oracle is a ReciprocalOracle
 * over the USD oracle (an inverse market is the linear engine on 1/P: contracts/oracle/ReciprocalOracle.sol),
 * a lens and an order book; the deployer seeds the pool and the insurance fund with minted coins.
 */
export async function deployCoinMargined(
  deployer: Signer,
  usd: Deployment,
  spec: CoinMarginedSpec,
): Promise<CoinMarginedRecord> {
  const admin = await deployer.getAddress();
  const underlyings = spec.markets.map((m) => {
    const u = usd.markets.find((r) => r.symbol === m.underlying);
    if (!u) throw new Error(`${m.symbol}: underlying ${m.underlying} is not a market of this deployment`);
    return u;
  });
  const coin = CoinToken__factory.connect(underlyings[0].coin, deployer);
  if ((await coin.symbol()) !== spec.asset || underlyings.some((u) => u.coin !== underlyings[0].coin)) {
    throw new Error(`coin-margined ${spec.asset}: every market's underlying must be margined in ${spec.asset}`);
  }
  const vault = await new Vault__factory(deployer).deploy(coin, admin);
  // Market i + 1 of the coin engine inverts its underlying: the first eight listed in the oracle's code (a
  // trade reads no storage for them), any further ones in its storage.
  const listings = underlyings.map((u, i) => ({ marketId: i + 1, baseMarketId: u.marketId }));
  const inCode = listings.slice(0, MAX_INITIAL_LISTINGS);
  const oracle = await new ReciprocalOracle__factory(deployer).deploy(usd.contracts.oracle, admin, inCode);
  for (const l of listings.slice(inCode.length)) await (await oracle.list(l.marketId, l.baseMarketId)).wait();
  const adminModule = await new PerpEngineAdmin__factory(deployer).deploy(vault, oracle);
  const engine = await new PerpEngine__factory(deployer).deploy(vault, oracle, adminModule, admin);
  const engineAdmin = PerpEngineAdmin__factory.connect(await engine.getAddress(), deployer);
  const lens = await new PerpLens__factory(deployer).deploy(engine, oracle);
  const pool = await new LiquidityPool__factory(deployer).deploy(coin, vault, engine, 1n);
  const orderBook = await new OrderBook__factory(deployer).deploy(engine, vault, admin, wad(spec.minExecutionFee));
  await (await vault.grantRole(await vault.OPERATOR_ROLE(), engine)).wait();
  await (await vault.grantRole(await vault.POOL_ROLE(), pool)).wait();
  await (await vault.grantRole(await vault.OPERATOR_ROLE(), orderBook)).wait();
  await (await engine.grantRole(await engine.EXECUTOR_ROLE(), orderBook)).wait();

  const markets: MarketRecord[] = [];
  for (const [i, m] of spec.markets.entries()) {
    const u = underlyings[i];
    await (await engineAdmin.createMarket(await marketConfig(m, usd.contracts.fundingModel), tiersOf(m))).wait();
    const { symbol: _underlying, marketId: _id, ...shared } = u;
    markets.push({
      ...shared,
      symbol: m.symbol,
      marketId: i + 1,
      inverse: { underlying: m.underlying, faceUsd: m.faceUsd },
    });
  }

  const lpDeposit = wad(spec.lpDeposit);
  const insurance = wad(spec.insuranceFund);
  await (await coin.mint(admin, lpDeposit + insurance)).wait();
  if (lpDeposit > 0n) {
    await (await coin.approve(pool, lpDeposit)).wait();
    await (await pool.deposit(lpDeposit, admin)).wait();
  }
  if (insurance > 0n) {
    await (await coin.approve(vault, insurance)).wait();
    await (await vault.fundInsurance(insurance)).wait();
  }
  return {
    asset: spec.asset,
    contracts: await addressesOf({
      collateral: coin,
      vault,
      oracle,
      engine,
      engineAdmin: adminModule,
      lens,
      pool,
      orderBook,
      fundingModel: usd.contracts.fundingModel,
    }),
    markets,
  };
}

/** The engine's MarketConfig for a market spec: the mark method by its MarkMethod number, the funding model
 * by the address of its contract. */
export async function marketConfig(m: EngineMarketSpec, fundingModel: string): Promise<MarketConfigStruct> {
  return {
    symbol: symbolBytes(m.symbol),
    skewScale: wad(m.skewScale),
    maxOpenInterest: wad(m.maxOpenInterest),
    takerFee: wad(m.takerFee),
    makerFee: wad(m.makerFee),
    liquidationFeeRate: wad(m.liquidationFeeRate),
    insuranceFeeShare: wad(m.insuranceFeeShare),
    minLiquidationFee: wad(m.minLiquidationFee),
    minMargin: wad(m.minMargin),
    fundingInterestRate: wad(m.fundingInterestRate),
    fundingClamp: wad(m.fundingClamp),
    fundingCap: wad(m.fundingCap),
    fundingInterval: m.fundingIntervalSeconds,
    emaHalfLife: m.emaHalfLifeSeconds,
    markBand: wad(m.markBand),
    reserveFactor: wad(m.reserveFactor),
    maxPnlFactor: wad(m.maxPnlFactor),
    partialLiquidationBuffer: wad(m.partialLiquidationBuffer),
    markModel: MARK_METHOD[m.markModel],
    minPositionNotional: wad(m.minPositionNotional),
    fundingModel,
    maxFundingVelocity: wad(m.maxFundingVelocity),
    oracleGracePeriod: m.oracleGracePeriodSeconds,
  };
}

/** An exchange's contracts as the record keeps them: their addresses. */
async function addressesOf(
  contracts: Record<keyof Deployment["contracts"], Addressable | string>,
): Promise<Deployment["contracts"]> {
  const entries = await Promise.all(
    Object.entries(contracts).map(async ([name, c]) => [name, typeof c === "string" ? c : await c.getAddress()]),
  );
  return Object.fromEntries(entries) as Deployment["contracts"];
}

export function tiersOf(m: EngineMarketSpec) {
  return m.tiers.map((t) => ({
    notionalCap: wad(t.notionalCap),
    maintenanceAmount: 0n,
    mmr: wad(t.mmr),
    maxLeverage: wad(t.maxLeverage),
  }));
}

export function symbolBytes(symbol: string): string {
  const bytes = Buffer.from(symbol, "utf8");
  if (bytes.length > 32) throw new Error(`market symbol too long: ${symbol}`);
  return "0x" + bytes.toString("hex").padEnd(64, "0");
}

async function mintCollateral(
  collateral: { faucet(to: string, amount: bigint): Promise<{ wait(): Promise<unknown> }> },
  to: string,
  amount: bigint,
): Promise<void> {
  const limit = usd6(FAUCET_LIMIT_USD);
  for (let left = amount; left > 0n; left -= limit) {
    await (await collateral.faucet(to, left < limit ? left : limit)).wait();
  }
}
