/**
 * The fuzzed exchange: the deployed system with six traders, a keeper, an LP and the admin, the markets'
 * static configuration in lib/math's form, and `readState`, which reads everything the invariants compare
 * (vault ledgers, every actor's free balance, every trader's position on every market, market states and
 * oracle indexes, the live orders' escrow) with raw calls at the latest block.
 */
import { ethers, network } from "hardhat";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Interface, MaxUint256 } from "ethers";
import type { Exchange } from "../../lib/contracts";
import { ALT_USD, BTC_USD, type MarketSpec } from "../../lib/markets";
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
import { usd6, USD6_TO_WAD, wad } from "../../lib/units";
import { exchangeFixture, fund, openByLeverage } from "../helpers/fixtures";
import { addressOf, Batch, installBatchReader, signed, type Target, WordReader } from "./chain";

export const TRADER_COUNT = 6;
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
  spec: MarketSpec;
  /** as the engine holds it now: a sequence's configure commands change it (see forSequence) */
  cfg: MarketConfig;
  /** the strategy contract behind cfg.fundingModel */
  cfgAddresses: { fundingModel: string };
  tiers: Tier[];
  initialPrice: bigint;
  feeds: Target[];
  /** The oracle's sources as deployed (the pushed feeds, then the spot TWAP adapter), with heartbeats. */
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

export interface World {
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
  faucetLimit6: bigint;
  /** the block the sequence starts after */
  startBlock: number;
  startTime: bigint;
}

/** The deployed exchange plus three more traders, an LP with a wallet, and an admin able to move spot. */
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
  // Every trader holds some collateral in its wallet too, and may deposit it.
  for (const s of [...signers.slice(1, 4), ...signers.slice(5, 8)]) {
    await (await f.ex.collateral.faucet(s.address, usd6(TRADER_WALLET_USD))).wait();
    await (await f.ex.collateral.connect(s).approve(f.ex.vault, MaxUint256)).wait();
  }
  return { ex: f.ex, signers };
}

function target(address: string, abi: Interface | ConstructorParameters<typeof Interface>[0]): Target {
  return { address, iface: abi instanceof Interface ? abi : new Interface(abi) };
}

/** The world around a (re)loaded fixture; markets' static config is read once. */
export async function makeWorld(ex: Exchange, signers: HardhatEthersSigner[]): Promise<World> {
  const c = ex.deployment.contracts;
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
  const specs = new Map<string, MarketSpec>([
    [ALT_USD.symbol, ALT_USD],
    [BTC_USD.symbol, BTC_USD],
  ]);
  const markets: FuzzMarket[] = [];
  for (const m of ex.markets.values()) {
    const chainCfg = (await ex.admin.marketConfig(m.marketId)) as unknown as ChainMarketConfig;
    const fundingName = await new ethers.Contract(
      chainCfg.fundingModel,
      ["function name() view returns (string)"],
      ethers.provider,
    ).name();
    const spec = specs.get(m.symbol);
    if (!spec) throw new Error(`no spec for ${m.symbol}`);
    markets.push({
      marketId: m.marketId,
      spec,
      cfg: marketConfigFromChain(chainCfg, fundingModelOf(fundingName)),
      cfgAddresses: { fundingModel: chainCfg.fundingModel },
      tiers: tiersFromChain(await ex.admin.tiers(m.marketId)),
      initialPrice: wad(spec.initialPrice),
      feeds: await Promise.all(m.pushedFeeds.map(async (f) => target(await f.getAddress(), f.interface))),
      sources: (await ex.oracle.sources(m.marketId)).map((x) => ({ feed: x.feed, heartbeat: x.heartbeat })),
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
  return {
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
    faucetLimit6: await ex.collateral.FAUCET_LIMIT(),
    startBlock: latest.number,
    startTime: BigInt(latest.timestamp),
  };
}

/** The world for one sequence: its own copy of the markets' configuration, which configure commands change. */
export function forSequence(w: World): World {
  return { ...w, markets: w.markets.map((m) => ({ ...m, cfg: { ...m.cfg } })) };
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

export async function readState(w: World, liveOrders: Iterable<bigint>, time: bigint): Promise<ChainState> {
  const b = new Batch();
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
  const x = await b.run();
  const [totalOwed, totalFree, totalMargin, totalEscrow, pool, insurance] = ledgers.map((i) => x[i][0]);
  const block = Number(await network.provider.request({ method: "eth_blockNumber", params: [] }));
  return {
    time,
    block,
    heldWad: x[held][0] * USD6_TO_WAD,
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
}

const POSITION_WORDS = 6;
const MARKET_STATE_WORDS = 20;

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

/** MarketLib's MarketState from its twenty words. */
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
    lastIndex: x[12],
    lastIndexTime: x[13],
    uncoveredBadDebt: x[14],
    paused: x[15] !== 0n,
    longEntryRemainder: x[16],
    fundingSnapshotSum: signed(x[17]),
    fundingSnapshotRemainder: x[18],
    shortEntryRemainder: x[19],
  };
}

export function marketOf(w: World, marketId: bigint): FuzzMarket {
  const m = w.markets.find((x) => x.marketId === marketId);
  if (!m) throw new Error(`unknown market ${marketId}`);
  return m;
}
