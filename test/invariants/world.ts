/**
 * The fuzzed exchanges: the deployed system with six traders, a keeper, an LP and the admin, funded on the
 * USD exchange and on every coin-margined exchange (SPEC 9.2: BTCUSD-INV on the BTC exchange, ALTUSD-INV
 * on the ALT exchange), each exchange a `World` of its own (its contracts, markets and ledgers; the actors
 * are the same accounts), the markets' static configuration in lib/math's form, and `readStates`, which
 * reads everything the invariants compare (per exchange: vault ledgers, every actor's free balance, every
 * trader's position on every market, market states and oracle indexes, the live orders' escrow) in one
 * batched call at the latest block.
 *
 * A coin-margined market is the linear engine on 1/P (contracts/oracle/ReciprocalOracle.sol): the fuzz
 * drives it in the engine's terms (sizes in USD face, prices in coin per USD, amounts in the coin), and
 * moves its price through the feeds and spot pool of the USD market it inverts, so a push moves both kinds.
 */
import { ethers, network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Interface, MaxUint256 } from "ethers";
import type { Exchange } from "../../lib/contracts";
import { ALT_USD, ALTUSD_INV, BTC_USD, BTCUSD_INV, type EngineMarketSpec, type MarketSpec } from "../../lib/markets";
import {
  fundingModelOf,
  marketConfigFromChain,
  PositionLib,
  tiersFromChain,
  type ChainMarketConfig,
  type MarketConfig,
  type MarketState,
  type Position,
  type Tier,
} from "../../lib/math";
import { usd6, wad, WAD } from "../../lib/units";
import { exchangeFixture, fund, openByLeverage } from "../helpers/fixtures";
import { addressOf, Batch, installBatchReader, signed, type Target, WordReader } from "./chain";

export const TRADER_COUNT = 6;
/** Collateral (USD) each trader deposits into every exchange, at the coin's initial price on a coin exchange. */
const TRADER_DEPOSIT_USD = 1_000_000n;
/** Collateral (USD) the admin holds in its wallet to push spot pools around. */
const ADMIN_SPOT_BUDGET_USD = 60_000_000n;
/** Collateral (USD) each trader holds in its wallet, besides its deposit. */
const TRADER_WALLET_USD = 100_000n;
/** Collateral (USD) the LP holds in its wallet at the start. */
const LP_WALLET_USD = 3_000_000n;

export interface Actor {
  name: string;
  address: string;
}

export interface FuzzMarket {
  marketId: bigint;
  /** a coin-margined market: the engine runs it on 1/P of `priceMarketId` */
  inverse: boolean;
  spec: EngineMarketSpec;
  /** as the engine holds it now: a sequence's configure commands change it (see forSequence) */
  cfg: MarketConfig;
  /** the strategy contract behind cfg.fundingModel */
  cfgAddresses: { fundingModel: string };
  tiers: Tier[];
  /** USD per coin at deployment, of the USD market whose feeds price this one */
  initialPrice: bigint;
  /** the pushed feeds of the USD market (this one's, or the one a coin-margined market inverts) */
  feeds: Target[];
  /** The USD oracle whose sources price this market, and the USD market's id there. */
  priceOracle: Target;
  priceMarketId: bigint;
  /** The USD oracle's sources as deployed (the pushed feeds, then the spot TWAP adapter), with heartbeats. */
  sources: { feed: string; heartbeat: bigint }[];
  /** The spot TWAP adapter: always fresh, so without it the oracle goes stale when nobody pushes. */
  twapFeed: string;
  spotPool: Target;
  coin: Target;
}

export interface Targets {
  engine: Target;
  admin: Target; // PerpEngineAdmin's ABI at the engine
  lens: Target;
  vault: Target;
  collateral: Target;
  pool: Target;
  orderBook: Target;
  oracle: Target;
}

/** One exchange under the fuzz: the USD exchange or a coin's, with the actors (the same accounts on each). */
export interface World {
  /** "USD", or the coin margining a coin-margined exchange ("BTC", "ALT") */
  name: string;
  /** whether the exchange is coin-margined (its markets inverse) */
  inverse: boolean;
  ex: Exchange;
  t: Targets;
  /** hand-decoded reads of the same contracts */
  r: Record<keyof Targets, WordReader>;
  traders: Actor[];
  keeper: Actor;
  lp: Actor;
  admin: Actor;
  /** every account that can hold a free balance in the vault */
  actors: Actor[];
  markets: FuzzMarket[];
  /** every trader's position id on every market */
  positionIds: bigint[];
  minExecutionFee: bigint;
  /** the collateral token's faucet limit, in token units */
  faucetLimit: bigint;
  /** one collateral token unit in WAD: 1e12 for the 6-decimal USD token, 1 for a coin */
  toWad: bigint;
  /** one USD of a command's amount in the collateral (WAD), at the coin's initial price on a coin exchange */
  usdWad: bigint;
  /** the block the sequence starts after */
  startBlock: number;
  startTime: bigint;
}

/**
 * The deployed exchanges plus three more traders, an LP with a wallet, and an admin able to move spot;
 * on every coin exchange each trader has deposited and holds in its wallet as much as on the USD one (at
 * the coin's initial price), and a book to start from.
 */
export async function statefulFixture(): Promise<{ ex: Exchange; signers: HardhatEthersSigner[] }> {
  const f = await exchangeFixture();
  const signers = await ethers.getSigners();
  // signers: 0 admin, 1-3 traders of the shared fixture, 4 keeper, 5-7 more traders, 8 LP
  for (const extra of signers.slice(5, 8)) await fund(f.ex, extra, 1_000_000n);
  const lp = signers[8];
  for (let left = LP_WALLET_USD; left > 0n; left -= 1_000_000n) {
    await (await f.ex.collateral.faucet(lp.address, usd6(1_000_000n))).wait();
  }
  const admin = f.deployer;
  for (const s of [lp, admin]) {
    await (await f.ex.collateral.connect(s).approve(f.ex.pool, MaxUint256)).wait();
    await (await f.ex.collateral.connect(s).approve(f.ex.vault, MaxUint256)).wait();
  }
  for (let left = ADMIN_SPOT_BUDGET_USD; left > 0n; left -= 1_000_000n) {
    await (await f.ex.collateral.faucet(admin.address, usd6(1_000_000n))).wait();
  }
  for (const m of f.ex.markets.values()) {
    await (await m.coin.connect(admin).mint(admin.address, wad(10_000_000_000n))).wait();
    await (await m.coin.connect(admin).approve(m.spotPool, MaxUint256)).wait();
    await (await f.ex.collateral.connect(admin).approve(m.spotPool, MaxUint256)).wait();
  }
  // A book to start from: both sides on both markets, from 5x to 25x.
  const [t3, t4, t5] = signers.slice(5, 8);
  const alt = f.alt.marketId;
  const btc = f.btc.marketId;
  await openByLeverage(f.ex, t3, alt, { side: "long", margin: wad(5_000), leverage: 10n });
  await openByLeverage(f.ex, t4, alt, { side: "short", margin: wad(2_000), leverage: 20n });
  await openByLeverage(f.ex, t5, btc, { side: "long", margin: wad(200_000), leverage: 5n });
  await openByLeverage(f.ex, t4, btc, { side: "short", margin: wad(10_000), leverage: 25n });
  await installBatchReader();
  const traders = [...signers.slice(1, 4), ...signers.slice(5, 8)];
  // Every trader holds some collateral in its wallet too, and may deposit it.
  for (const s of traders) {
    await (await f.ex.collateral.faucet(s.address, usd6(TRADER_WALLET_USD))).wait();
    await (await f.ex.collateral.connect(s).approve(f.ex.vault, MaxUint256)).wait();
  }
  for (const coinEx of f.ex.coinMargined.values()) await fundCoinExchange(coinEx, traders, lp, admin);
  return { ex: f.ex, signers };
}

/**
 * A coin exchange funded as the USD one is: each trader deposits TRADER_DEPOSIT_USD's worth of the coin and
 * keeps TRADER_WALLET_USD's worth in its wallet, the LP holds LP_WALLET_USD's worth, the admin approves
 * the vault and the pool (it mints the coin), and three traders open both sides, from 5x to 25x (engine
 * sides: an engine long is a trader's coin-margined short).
 */
async function fundCoinExchange(
  coinEx: Exchange,
  traders: HardhatEthersSigner[],
  lp: HardhatEthersSigner,
  admin: HardhatEthersSigner,
): Promise<void> {
  const [m] = coinEx.markets.values();
  const usdWad = coinUsdWad(coinEx);
  const coin = m.coin.connect(admin);
  for (const s of traders) {
    await (await coin.mint(s.address, (TRADER_DEPOSIT_USD + TRADER_WALLET_USD) * usdWad)).wait();
    await (await coinEx.collateral.connect(s).approve(coinEx.vault, MaxUint256)).wait();
    await (await coinEx.vault.connect(s).deposit(TRADER_DEPOSIT_USD * usdWad)).wait();
  }
  await (await coin.mint(lp.address, LP_WALLET_USD * usdWad)).wait();
  for (const s of [lp, admin]) {
    await (await coinEx.collateral.connect(s).approve(coinEx.pool, MaxUint256)).wait();
    await (await coinEx.collateral.connect(s).approve(coinEx.vault, MaxUint256)).wait();
  }
  const [t3, t4, t5] = traders.slice(3);
  await openByLeverage(coinEx, t3, m.marketId, { side: "long", margin: 5_000n * usdWad, leverage: 10n });
  await openByLeverage(coinEx, t4, m.marketId, { side: "short", margin: 2_000n * usdWad, leverage: 20n });
  await openByLeverage(coinEx, t5, m.marketId, { side: "short", margin: 50_000n * usdWad, leverage: 5n });
}

/** One USD in a coin exchange's collateral (WAD) at the initial price of the USD market it inverts. */
function coinUsdWad(coinEx: Exchange): bigint {
  const [m] = coinEx.markets.values();
  const underlying = SPECS.get(m.inverse!.underlying);
  if (!underlying || !("initialPrice" in underlying)) throw new Error(`no USD spec for ${m.inverse!.underlying}`);
  return (WAD * WAD) / wad(underlying.initialPrice);
}

const SPECS = new Map<string, EngineMarketSpec | MarketSpec>(
  [ALT_USD, BTC_USD, BTCUSD_INV, ALTUSD_INV].map((s) => [s.symbol, s]),
);

function target(address: string, abi: Interface | ConstructorParameters<typeof Interface>[0]): Target {
  return { address, iface: abi instanceof Interface ? abi : new Interface(abi) };
}

/** The worlds around a (re)loaded fixture: the USD exchange's, then each coin exchange's; markets' static config is read once. */
export async function makeWorlds(ex: Exchange, signers: HardhatEthersSigner[]): Promise<World[]> {
  const usd = await makeWorld(ex, ex, signers, "USD");
  const worlds = [usd];
  for (const [asset, coinEx] of ex.coinMargined) worlds.push(await makeWorld(coinEx, ex, signers, asset));
  return worlds;
}

/** The world of one exchange `ex` (the USD exchange `usdEx` itself, or a coin exchange over its feeds). */
async function makeWorld(ex: Exchange, usdEx: Exchange, signers: HardhatEthersSigner[], name: string): Promise<World> {
  const c = ex.deployment.contracts;
  const inverse = ex !== usdEx;
  const t: Targets = {
    engine: target(c.engine, ex.engine.interface),
    admin: target(c.engine, ex.admin.interface),
    lens: target(c.lens, ex.lens.interface),
    vault: target(c.vault, ex.vault.interface),
    collateral: target(c.collateral, ex.collateral.interface),
    pool: target(c.pool, ex.pool.interface),
    orderBook: target(c.orderBook, ex.orderBook.interface),
    oracle: target(c.oracle, ex.oracle.interface),
  };
  const actor = (name: string, s: HardhatEthersSigner): Actor => ({ name, address: s.address });
  const traders = [...signers.slice(1, 4), ...signers.slice(5, 8)].map((s, i) => actor(`T${i}`, s));
  const keeper = actor("keeper", signers[4]);
  const lp = actor("lp", signers[8]);
  const admin = actor("admin", signers[0]);
  const markets: FuzzMarket[] = [];
  for (const m of ex.markets.values()) {
    const chainCfg = (await ex.admin.marketConfig(m.marketId)) as unknown as ChainMarketConfig;
    const fundingName = await new ethers.Contract(
      chainCfg.fundingModel,
      ["function name() view returns (string)"],
      ethers.provider,
    ).name();
    const spec = SPECS.get(m.symbol);
    const priced = usdEx.markets.get(m.inverse?.underlying ?? m.symbol);
    const usdSpec = SPECS.get(priced?.symbol ?? "");
    if (!spec || !priced || !usdSpec || !("initialPrice" in usdSpec)) throw new Error(`no spec for ${m.symbol}`);
    markets.push({
      marketId: m.marketId,
      inverse: m.inverse !== undefined,
      spec,
      cfg: marketConfigFromChain(chainCfg, fundingModelOf(fundingName)),
      cfgAddresses: { fundingModel: chainCfg.fundingModel },
      tiers: tiersFromChain(await ex.admin.tiers(m.marketId)),
      initialPrice: wad(usdSpec.initialPrice),
      feeds: await Promise.all(m.pushedFeeds.map(async (f) => target(await f.getAddress(), f.interface))),
      priceOracle: target(usdEx.deployment.contracts.oracle, usdEx.oracle.interface),
      priceMarketId: priced.marketId,
      sources: (await usdEx.oracle.sources(priced.marketId)).map((x) => ({ feed: x.feed, heartbeat: x.heartbeat })),
      twapFeed: await m.twapFeed.getAddress(),
      spotPool: target(await m.spotPool.getAddress(), m.spotPool.interface),
      coin: target(await m.coin.getAddress(), m.coin.interface),
    });
  }
  const positionIds: bigint[] = [];
  for (const tr of traders) for (const m of markets) positionIds.push(PositionLib.id(tr.address, m.marketId));
  const latest = await ethers.provider.getBlock("latest");
  if (!latest) throw new Error("no latest block");
  const r = Object.fromEntries(Object.entries(t).map(([k, v]) => [k, new WordReader(v)])) as Record<
    keyof Targets,
    WordReader
  >;
  const decimals = await ex.collateral.decimals();
  return {
    name,
    inverse,
    ex,
    t,
    r,
    traders,
    keeper,
    lp,
    admin,
    actors: [...traders, keeper, lp, admin],
    markets,
    positionIds,
    minExecutionFee: await ex.orderBook.minExecutionFee(),
    faucetLimit: await ex.collateral.FAUCET_LIMIT(),
    toWad: 10n ** (18n - decimals),
    usdWad: inverse ? coinUsdWad(ex) : WAD,
    startBlock: latest.number,
    startTime: BigInt(latest.timestamp),
  };
}

/** The worlds for one sequence: their own copy of the markets' configuration, which configure commands change. */
export function forSequence(worlds: readonly World[]): World[] {
  return worlds.map((w) => ({ ...w, markets: w.markets.map((m) => ({ ...m, cfg: { ...m.cfg } })) }));
}

/** A market as read at the latest block: its stored state and the oracle's answers. */
export interface MarketRead {
  state: MarketState;
  oracleIndex: bigint;
  fresh: boolean;
  /** Oracle.lastIndexPrice: the index when the oracle went stale, and the last second it was fresh. */
  lastIndex: bigint;
  freshUntil: bigint;
}

/** An order the model holds live, with what it escrowed. */
export interface LiveOrder {
  id: bigint;
  owner: string;
  marketId: bigint;
  orderType: bigint;
  sizeDelta: bigint;
  triggerPrice: bigint;
  acceptablePrice: bigint;
  margin: bigint;
  executionFee: bigint;
  expiry: bigint;
}

/** Everything the invariants compare, read at the latest block. */
export interface ChainState {
  time: bigint;
  block: number;
  heldWad: bigint;
  totalOwed: bigint;
  totalFree: bigint;
  totalMargin: bigint;
  totalEscrow: bigint;
  pool: bigint;
  insurance: bigint;
  free: Map<string, bigint>;
  positions: Map<bigint, Position>;
  markets: Map<bigint, MarketRead>;
  /** escrowOf for every order the model holds live */
  escrowOf: Map<bigint, bigint>;
  /** PerpEngineAdmin.poolValuation: the pool valued at mark (SPEC 9.1) */
  valuation: { ledger: bigint; traderPnl: bigint; fundingOwed: bigint; value: bigint };
}

/** Every world's state at the latest block, in one batched call; `liveOrders[i]` are world i's order ids. */
export async function readStates(
  worlds: readonly World[],
  liveOrders: readonly Iterable<bigint>[],
  time: bigint,
): Promise<ChainState[]> {
  const b = new Batch();
  const decoders = worlds.map((w, i) => addStateReads(b, w, liveOrders[i], time));
  const x = await b.run();
  const block = Number(await network.provider.request({ method: "eth_blockNumber", params: [] }));
  return decoders.map((decode) => decode(x, block));
}

/** Adds one world's reads to a batch; returns the decoder of their results. */
function addStateReads(
  b: Batch,
  w: World,
  liveOrders: Iterable<bigint>,
  time: bigint,
): (x: bigint[][], block: number) => ChainState {
  const v = w.r.vault;
  const held = b.add(w.r.collateral, "balanceOf", [w.t.vault.address], 1);
  const ledgers = ["totalOwed", "totalFree", "totalMargin", "totalEscrow", "poolAssets", "insuranceFund"].map((fn) =>
    b.add(v, fn, [], 1),
  );
  const frees = w.actors.map((a) => b.add(v, "freeBalance", [a.address], 1));
  const positions = w.positionIds.map((id) => b.add(w.r.admin, "position", [id], POSITION_WORDS));
  const markets = w.markets.map((m) => [
    b.add(w.r.admin, "marketState", [m.marketId], MARKET_STATE_WORDS),
    b.add(w.r.oracle, "indexPrice", [m.marketId], 2),
    b.add(w.r.oracle, "lastIndexPrice", [m.marketId], 2),
  ]);
  const orderIds = [...liveOrders];
  const escrows = orderIds.map((id) => b.add(w.r.orderBook, "escrowOf", [id], 1));
  const valuation = b.add(w.r.admin, "poolValuation", [], 5);
  return (x, block) => {
    const [totalOwed, totalFree, totalMargin, totalEscrow, pool, insurance] = ledgers.map((i) => x[i][0]);
    return {
      time,
      block,
      heldWad: x[held][0] * w.toWad,
      totalOwed,
      totalFree,
      totalMargin,
      totalEscrow,
      pool,
      insurance,
      free: new Map(w.actors.map((a, i) => [a.address, x[frees[i]][0]])),
      positions: new Map(w.positionIds.map((id, i) => [id, positionOfWords(x[positions[i]])])),
      markets: new Map(
        w.markets.map((m, i) => {
          const [state, index, last] = markets[i];
          const read: MarketRead = {
            state: marketStateOfWords(x[state]),
            oracleIndex: x[index][0],
            fresh: x[index][1] !== 0n,
            lastIndex: x[last][0],
            freshUntil: x[last][1],
          };
          return [m.marketId, read];
        }),
      ),
      escrowOf: new Map(orderIds.map((id, i) => [id, x[escrows[i]][0]])),
      valuation: {
        ledger: x[valuation][0],
        traderPnl: signed(x[valuation][1]),
        fundingOwed: signed(x[valuation][2]),
        value: signed(x[valuation][3]),
      },
    };
  };
}

const POSITION_WORDS = 6;
const MARKET_STATE_WORDS = 18;

/** PositionLib's Position from its six words. */
export function positionOfWords(x: readonly bigint[]): Position {
  return {
    owner: addressOf(x[0]),
    marketId: x[1],
    size: signed(x[2]),
    entryPrice: x[3],
    margin: x[4],
    fundingSnapshot: signed(x[5]),
  };
}

/** MarketLib's MarketState from its eighteen words. */
export function marketStateOfWords(x: readonly bigint[]): MarketState {
  return {
    longOpenInterest: x[0],
    shortOpenInterest: x[1],
    longEntryNotional: x[2],
    shortEntryNotional: x[3],
    fundingIndex: signed(x[4]),
    lastFundingRate: signed(x[5]),
    lastFundingTime: x[6],
    premiumCum: signed(x[7]),
    lastPremium: signed(x[8]),
    lastSampleTime: x[9],
    premiumStart: x[10],
    emaBasis: signed(x[11]),
    uncoveredBadDebt: x[12],
    paused: x[13] !== 0n,
    longEntryRemainder: x[14],
    fundingSnapshotSum: signed(x[15]),
    fundingSnapshotRemainder: x[16],
    shortEntryRemainder: x[17],
  };
}

export function marketOf(w: World, marketId: bigint): FuzzMarket {
  const m = w.markets.find((x) => x.marketId === marketId);
  if (!m) throw new Error(`unknown market ${marketId}`);
  return m;
}
