/**
 * The shell around the replays of SPEC 9.4: spot venues whose median is the index, and the attacker.
 * The runner calls these as its own phases (set-up, the attacker's step, the venues' references for
 * the oracle, the attacker's facts at the end); the decisions are sim/agents/attacker.ts's.
 *
 *   venues    venue 0 is the market's spot pool (deploySystem's); venues 1.. are more SpotPools, seeded
 *             at the initial price with their own depth. The market's pushed feeds are one reporter
 *             per venue, and the oracle's sources become those reporters alone, so the index is the
 *             median over the venues (the spot-TWAP adapter over venue 0 leaves the median).
 *   attacker  one impersonated address per perp account, each funded with its deposit in the vault,
 *             and a spot wallet funded with the spot budget, allowed to swap on every venue.
 */
import type { Signer } from "ethers";
import type { Exchange } from "../lib/contracts";
import { USD6_TO_WAD, WAD } from "../lib/units";
import { positionHealth } from "../lib/math";
import { SpotPool__factory, type SpotPool } from "../typechain-types";
import type { PositionBook } from "../keeper/book";
import type { SimChain, Call } from "./chain";
import type { AttackerPlan, MarketConfig, Scenario } from "./scenario";
import type { ActionLedger, Outcome } from "./agents/intents";
import { UNLIMITED_ALLOWANCE } from "./agents/intents";
import { attackerActions, attackerActsIn, SPOT_WALLET } from "./agents/attacker";
import type { MarketView } from "./agents/view";
import type { AttackerSummary, LiquidationEvent } from "./types";

/** The oracle's heartbeat for a venue reporter: as the runner's pushed feeds. */
export interface VenueWiring {
  heartbeatSec: number;
}

/** Deploys venues 1.. of every market that has venues and makes the venue reporters its only sources. */
export async function deployVenues(
  deployer: Signer,
  ex: Exchange,
  chain: SimChain,
  scenario: Scenario,
  wiring: VenueWiring,
): Promise<Map<string, SpotPool[]>> {
  const venues = new Map<string, SpotPool[]>();
  const admin = await deployer.getAddress();
  for (const m of scenario.markets) {
    const h = chain.handles(m.symbol);
    const pools: SpotPool[] = [h.spotPool];
    if (m.venueOracle) {
      for (const depth of m.venueLiquidityUsd.slice(1)) pools.push(await seededPool(deployer, ex, admin, m, depth));
      const feeds = await Promise.all(h.pushedFeeds.map((f) => f.getAddress()));
      await (
        await ex.oracle.setSources(
          h.marketId,
          feeds,
          feeds.map(() => wiring.heartbeatSec),
        )
      ).wait();
      chain.setVenues(m.symbol, await Promise.all(pools.slice(1).map((p) => p.getAddress())));
    }
    venues.set(m.symbol, pools);
  }
  return venues;
}

/** A spot pool at the market's initial price with `depthUsd` on each side. */
async function seededPool(
  deployer: Signer,
  ex: Exchange,
  admin: string,
  m: MarketConfig,
  depthUsd: bigint,
): Promise<SpotPool> {
  const h = ex.markets.get(m.symbol)!;
  const pool = await new SpotPool__factory(deployer).deploy(h.coin, ex.collateral);
  const usd6 = depthUsd / USD6_TO_WAD;
  const coins = (depthUsd * WAD) / m.initialPrice;
  for (let left = usd6; left > 0n; left -= FAUCET_LIMIT6)
    await (await ex.collateral.faucet(admin, left < FAUCET_LIMIT6 ? left : FAUCET_LIMIT6)).wait();
  await (await h.coin.mint(admin, coins)).wait();
  await (await h.coin.approve(pool, coins)).wait();
  await (await ex.collateral.approve(pool, usd6)).wait();
  await (await pool.addLiquidity(coins, usd6)).wait();
  return pool;
}

/** The collateral faucet's largest mint per call (CollateralToken.FAUCET_LIMIT), 6 decimals. */
const FAUCET_LIMIT6 = 1_000_000n * 10n ** 6n;

/** Each venue's reference for its reporter: its TWAP over the window, or its spot price without one. */
export function venueReferences(pools: readonly SpotPool[], twapWindowSec: number): Promise<bigint[]> {
  return Promise.all(pools.map((p) => (twapWindowSec === 0 ? p.spotPrice() : p.twap(twapWindowSec))));
}

/* THE ATTACKER */

/** The attacker on chain: its addresses, its position ids and what it put in. */
export interface AttackerRun {
  plan: AttackerPlan;
  /** Perp account name -> address; SPOT_WALLET -> the spot wallet's. */
  addresses: Map<string, string>;
  positionIds: Map<string, bigint>;
  deposits: Map<string, bigint>;
  /** USD spent on spot buys that went through. */
  spotSpent: bigint;
}

/** What the runner lends the attacker's set-up: fund a vault account, fund and approve a wallet. */
export interface FundingShell {
  deposit(address: string, usd: bigint): Promise<void>[];
  wallet(address: string, usd: bigint): Promise<void>[];
}

/** The attacker's addresses and plan; the runner impersonates the addresses, then calls fundAttacker. */
export function attackerRun(plan: AttackerPlan, addressOf: (label: string) => string): AttackerRun {
  const addresses = new Map<string, string>([
    ...plan.accounts.map((a) => [a.name, addressOf(`attacker-${a.name}`)] as const),
    [SPOT_WALLET, addressOf(`attacker-${SPOT_WALLET}`)],
  ]);
  return {
    plan,
    addresses,
    positionIds: new Map(),
    deposits: new Map(plan.accounts.map((a) => [a.name, a.depositUsd])),
    spotSpent: 0n,
  };
}

/** Funds the accounts and the wallet, lets the wallet swap on every venue, and reads the position ids. */
export async function fundAttacker(
  attacker: AttackerRun,
  chain: SimChain,
  venues: readonly SpotPool[],
  funding: FundingShell,
): Promise<void> {
  const ex = chain.ex;
  const wallet = attacker.addresses.get(SPOT_WALLET)!;
  const coin = chain.handles(attacker.plan.market).coin;
  const approvals: Call[] = [];
  for (const pool of venues) {
    const target = await pool.getAddress();
    approvals.push(
      {
        to: ex.deployment.contracts.collateral,
        data: ex.collateral.interface.encodeFunctionData("approve", [target, UNLIMITED_ALLOWANCE]),
      },
      { to: coin.target as string, data: coin.interface.encodeFunctionData("approve", [target, UNLIMITED_ALLOWANCE]) },
    );
  }
  await Promise.all([
    ...attacker.plan.accounts.flatMap((a) => funding.deposit(attacker.addresses.get(a.name)!, a.depositUsd)),
    ...funding.wallet(wallet, attacker.plan.spotBudgetUsd),
    ...approvals.map(async (call) => {
      const outcome = await chain.send(wallet, call);
      if (outcome.kind === "refused") throw new Error(`setting up the attacker's wallet: ${outcome.error}`);
    }),
  ]);
  const marketId = chain.handles(attacker.plan.market).marketId;
  for (const a of attacker.plan.accounts)
    attacker.positionIds.set(a.name, await ex.admin.positionId(attacker.addresses.get(a.name)!, marketId));
}

/** The attacker's step: its due actions sent in plan order, each outcome counted. Returns whether it swapped. */
export async function attackerPhase(
  attacker: AttackerRun,
  chain: SimChain,
  book: PositionBook,
  ledger: ActionLedger,
  market: MarketView,
  tSec: number,
  stepSec: number,
): Promise<boolean> {
  if (!attackerActsIn(attacker.plan, tSec, stepSec)) return false;
  const symbol = attacker.plan.market;
  const wallet = attacker.addresses.get(SPOT_WALLET)!;
  const coins = await chain.handles(symbol).coin.balanceOf(wallet);
  const positions = new Map([...attacker.positionIds].map(([name, id]) => [name, book.get(id)] as const));
  const actions = attackerActions({
    plan: attacker.plan,
    tSec,
    stepSec,
    market,
    maxOpenInterest: chain.config(symbol).maxOpenInterest,
    positions,
    coins,
  });
  let swapped = false;
  for (const { account, action } of actions) {
    const from = attacker.addresses.get(account)!;
    const outcome: Outcome = await chain.send(from, chain.callOf(action.intent, from));
    ledger.record(action, outcome, tSec);
    if (outcome.kind !== "done") continue;
    if (action.intent.kind === "spotBuy") attacker.spotSpent += action.intent.usd6 * USD6_TO_WAD;
    swapped ||= action.intent.kind === "spotBuy" || action.intent.kind === "spotSell";
  }
  return swapped;
}

/**
 * The attacker's accounts now: each one's free balance plus its position's equity at the view's mark
 * (nothing for a negative one: a liquidated loser loses its margin, the rest is bad debt), and the
 * wallet's USD plus its coins at `spot`.
 */
export async function attackerSummary(
  attacker: AttackerRun,
  chain: SimChain,
  book: PositionBook,
  view: MarketView,
  spot: bigint,
  liquidations: readonly LiquidationEvent[],
): Promise<AttackerSummary> {
  const ex = chain.ex;
  const accounts = await Promise.all(
    attacker.plan.accounts.map(async (a) => {
      const address = attacker.addresses.get(a.name)!;
      const id = attacker.positionIds.get(a.name)!;
      const free = await ex.vault.freeBalance(address);
      const p = book.get(id);
      const equity =
        p === undefined ? 0n : positionHealth(view.projected.state, view.tiers, p, view.projected.mark).equity;
      return {
        name: a.name,
        deposit: a.depositUsd,
        value: free + (equity > 0n ? equity : 0n),
        liquidations: liquidations.filter((l) => l.positionId === id).length,
      };
    }),
  );
  const wallet = attacker.addresses.get(SPOT_WALLET)!;
  const [usd6, coins] = await Promise.all([
    ex.collateral.balanceOf(wallet),
    chain.handles(attacker.plan.market).coin.balanceOf(wallet),
  ]);
  const perpPnl = accounts.reduce((s, a) => s + a.value - a.deposit, 0n);
  const spotPnl = usd6 * USD6_TO_WAD + (coins * spot) / WAD - attacker.plan.spotBudgetUsd;
  return {
    market: attacker.plan.market,
    accounts,
    spotSpent: attacker.spotSpent,
    perpPnl,
    spotPnl,
    pnl: perpPnl + spotPnl,
  };
}
