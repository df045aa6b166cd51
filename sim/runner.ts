/**
 * Runs a scenario on real contract code: deploys the exchange the scenario describes, then steps time
 * through block timestamps. Each step is a sequence of phases, each one function:
 *   1. the market maker's perp position and spot pushes that fall due (sim/agents/market-maker.ts), then
 *      a replay's attacker steps (sim/agents/attacker.ts, shell in sim/replay.ts);
 *   2. the oracle: the pushed feeds follow the spot pool, the premium is sampled (sim/agents/oracle.ts);
 *   3. one read of each market, projected with lib/math, which every agent then decides on;
 *   4. retail traders enter and manage their positions (sim/agents/retail.ts);
 *   5. the arbitrageur leans against the premium (sim/agents/arbitrageur.ts);
 *   6. the keeper engine (the class the keeper CLI runs) settles funding and liquidates after its latency;
 *   7. a timeline row, and now and then a point on each agent's PnL line.
 * Agents' decisions are pure functions that return intents; this file is the shell that sends them
 * (sim/chain.ts) and counts every outcome (sim/agents/intents.ts ActionLedger). A refused action the
 * scenario does not mark optional stops the run with a RequiredActionRefused naming it.
 *
 * On the in-process Hardhat network the chain is reset and the clock set to a fixed epoch first, so a
 * seed gives the same chain, and the same summary.json, on every run.
 */
import type { HardhatRuntimeEnvironment, EthereumProvider } from "hardhat/types";
import { defaultChain, simNetwork, type ChainKind, type SimNetwork } from "./network";
import { id as keccakId, getAddress } from "ethers";
import { clearSnapshots } from "@nomicfoundation/hardhat-network-helpers";
import { deploySystem, type SystemSpec } from "../lib/deploy";
import type { Exchange } from "../lib/contracts";
import { ALT_USD, type MarketSpec } from "../lib/markets";
import { MarketLib, WadMath, positionHealth } from "../lib/math";
import { USD6_TO_WAD, WAD } from "../lib/units";
import { Keeper, type TickReport } from "../keeper/keeper";
import { Random } from "./random";
import { BlockClock, type ClockState } from "./clock";
import { formatWad } from "./decimal";
import { engineFieldsOf } from "./mechanisms";
import { SimChain, awaitedLater, type Call, type Send } from "./chain";
import type { Scenario } from "./scenario";
import type { AgentPnlSeries, LiquidationEvent, MarketStep, SimulationResult, TimelineRow } from "./types";
import { assignCascadeRounds } from "./metrics";
import { buildSummary, type MarketFacts, type RiskSnapshot } from "./summary";
import { ActionLedger, UNLIMITED_ALLOWANCE, type Action } from "./agents/intents";
import { afterOutcome, afterPositionGone, retailDecision, type RetailTrader } from "./agents/retail";
import { marketMakerActions, marketMakerActsIn, marketMakerDeposit } from "./agents/market-maker";
import { ARB_LEVERAGE, arbitrageActions } from "./agents/arbitrageur";
import { attackerActsIn } from "./agents/attacker";
import { CoinMarkets, coinMarginedSpecs, isCoinMarketSymbol } from "./coin-margined";
import { feedAnswers } from "./agents/oracle";
import { afterOrder, tradersPnl, viewPosition, type MarketView } from "./agents/view";
import type { SpotPool } from "../typechain-types";
import {
  attackerPhase,
  attackerRun,
  attackerSummary,
  deployVenues,
  fundAttacker,
  venueReferences,
  type AttackerRun,
} from "./replay";

/** 2100-01-01T00:00:00Z, a multiple of every funding interval in hours: boundaries fall on round hours. */
export const SIM_EPOCH_SEC = 4_102_444_800;
/** Points on each agent's PnL line: enough for the chart, few enough to keep steps cheap. */
const PNL_POINTS = 96;
/** 100 ETH for each impersonated account's gas. */
const ACCOUNT_ETH = "0x56BC75E2D63100000";
/** The collateral faucet mints at most this per call (CollateralToken.FAUCET_LIMIT), 6 decimals. */
const FAUCET_LIMIT6 = 1_000_000n * 10n ** 6n;
/** A retail trader deposits this many times its position's margin (the rest pays fees and top-ups). */
const RETAIL_DEPOSIT_MARGINS = 2n;
/** The arbitrageur deposits this many times the margin of its largest position. */
const ARB_DEPOSIT_MARGINS = 2n;

export interface RunOptions {
  seed?: number;
  /** Sees each finished step, and the number of the last block mined in it. */
  onStep?: (step: number, total: number, block: number) => void;
  /** The chain backend (sim/network.ts); PERPSIM_CHAIN or the default when not given. */
  chain?: ChainKind;
}

/** A retail trader and where it lives on chain. */
interface RetailAgent extends RetailTrader {
  address: string;
  symbol: string;
  positionId: bigint;
  /** USD deposited in the vault at the start. */
  deposit: bigint;
  /** Its free balance as last read; undefined after anything that may have changed it. */
  free: bigint | undefined;
}

interface MarketMakerAgent {
  plan: NonNullable<Scenario["agents"]["marketMaker"]>;
  address: string;
  positionId: bigint;
  /** USD put in the vault for the perp leg. */
  deposit: bigint;
  /** USD left in the wallet for the spot leg. */
  wallet: bigint;
  /** USD spent on spot buys so far. */
  cost: bigint;
}

interface ArbitrageurAgent {
  plan: NonNullable<Scenario["agents"]["arbitrageur"]>;
  address: string;
  positionId: bigint;
}

/** Per market, what the timeline rows carry from one step to the next. */
interface MarketTrack {
  symbol: string;
  prevFundingIndex: bigint;
  prevOiLong: bigint;
  prevOiShort: bigint;
  fundingPaidLongs: bigint;
  fundingPaidShorts: bigint;
  liquidationsInStep: number;
  /** Each pushed feed's last answer (8 decimals). */
  feedAnswers: bigint[];
  /** Spot price at the end of the last step; only swaps move it, and only the market maker swaps. */
  spot: bigint;
}

/** A run in progress: the chain, the agents and everything recorded so far. */
interface Run {
  scenario: Scenario;
  seed: number;
  provider: EthereumProvider;
  clock: BlockClock;
  chain: SimChain;
  ex: Exchange;
  /** Timestamp of the run's start. */
  startSec: number;
  /** The block number when the clock was installed; the clock counts the blocks since. */
  clockStartBlock: number;
  rng: Random;
  deployer: string;
  retail: RetailAgent[];
  marketMaker?: MarketMakerAgent;
  arbitrageur?: ArbitrageurAgent;
  /** The replays' attacker (SPEC 9.4). */
  attacker?: AttackerRun;
  /** Each market's spot venues; venue 0 is its spot pool. */
  venues: Map<string, SpotPool[]>;
  keeper: Keeper;
  keeperAddress: string;
  ledger: ActionLedger;
  tracks: MarketTrack[];
  timeline: TimelineRow[];
  liquidations: LiquidationEvent[];
  /** When the mark was first seen past each position's liquidation price (seconds since the start). */
  crossedAt: Map<bigint, number>;
  pnl: Map<string, AgentPnlSeries>;
  risk?: RiskSnapshot[];
  firstPushSec: number;
  initialInsurance: bigint;
  initialPool: bigint;
  /** Markets whose spot price moved since it was last read (only swaps move it). */
  spotMoved: Set<string>;
  /** The coin-margined markets (sim/coin-margined.ts); undefined without any. */
  coin: CoinMarkets | undefined;
}

/** The on-chain exchange a scenario describes. */
export function systemSpecOf(s: Scenario): SystemSpec {
  const markets: MarketSpec[] = s.markets.map((m) => {
    const base = m.symbol.split("-")[0]!;
    return {
      ...ALT_USD,
      symbol: m.symbol,
      coinName: base,
      coinSymbol: base,
      initialPrice: formatWad(m.initialPrice),
      spotLiquidityUsd: formatWad(m.venueLiquidityUsd[0]!),
      ...engineFieldsOf(m),
      twapWindowSeconds: m.protections.twapWindowSec,
      maxPriceDeviation: formatWad(m.protections.maxPriceDeviationPerUpdate),
      // With venues, one reporter per venue (sim/replay.ts makes them the oracle's only sources).
      pushedFeeds: m.venueOracle ? m.venueLiquidityUsd.length : m.feeds.pushed,
      pushedFeedHeartbeatSeconds: Math.max(3600, s.stepSec * 4),
      oracleGracePeriodSeconds: Math.max(3600, s.stepSec * 4),
    };
  });
  const coinMargined = coinMarginedSpecs(s, Math.max(3600, s.stepSec * 4));
  return {
    markets,
    lpDepositUsd: formatWad(s.lp.depositUsd),
    insuranceFundUsd: formatWad(s.insuranceFundUsd),
    ...(coinMargined.length > 0 ? { coinMargined } : {}),
  };
}

/**
 * Runs one scenario and returns everything it produced. The entry point for programmatic use (the
 * CLI, the bench, sweeps): `seed` overrides the scenario's, `onStep` sees each finished step.
 */
export async function runScenario(
  hre: HardhatRuntimeEnvironment,
  scenario: Scenario,
  options: RunOptions = {},
): Promise<SimulationResult> {
  const seed = options.seed ?? scenario.seed;
  const net = await simNetwork(hre, options.chain ?? defaultChain());
  const owned = net.owned;
  const system = systemSpecOf(scenario);
  let deployed = owned ? await revertToDeployed(net.provider, system) : undefined;
  if (owned && deployed === undefined) {
    await net.provider.send(net.label === "anvil" ? "anvil_reset" : "hardhat_reset", []);
    // A reset (or a revert to an older snapshot) voids every snapshot taken since, loadFixture's cache too.
    if (net.label === "edr") await clearSnapshots();
  }
  const latest = (await net.ethers.getBlock("latest"))!;
  const clock = new BlockClock(net.provider, startSec(scenario, owned, latest.timestamp));
  if (deployed !== undefined) clock.resume(deployed.clock);
  clock.install();
  try {
    if (deployed === undefined) {
      deployed = await deploy(net, system, clock, latest.number);
      if (owned) await keepDeployed(net.provider, system, deployed, clock);
    }
    const run = await setUp(net, scenario, seed, clock, deployed);
    const total = Math.floor(scenario.durationSec / scenario.stepSec);
    const pnlEvery = Math.max(1, Math.ceil(total / PNL_POINTS));
    for (let step = 1; step <= total; step++) {
      await runStep(run, step, step % pnlEvery === 0 || step === total);
      options.onStep?.(step, total, headBlock(run));
    }
    return await finish(run);
  } finally {
    clock.uninstall();
  }
}

/**
 * The timestamp of the run's first block. In-process, SIM_EPOCH_SEC. On a node, whose clock cannot go
 * back, the first time after its head that falls where SIM_EPOCH_SEC falls relative to every market's
 * funding interval: funding boundaries are multiples of the interval, so this puts them at the same
 * hours of the run as in-process, and the same seed gives the same numbers.
 */
export function startSec(scenario: Scenario, inProcess: boolean, headSec: number): number {
  if (inProcess) return SIM_EPOCH_SEC;
  const period = [...scenario.markets, ...scenario.coinMarkets].reduce(
    (p, m) => lcm(p, BigInt(m.fundingIntervalSec)),
    1n,
  );
  const epoch = BigInt(SIM_EPOCH_SEC) % period;
  const after = BigInt(headSec) + 1n;
  const offset = (((epoch - after) % period) + period) % period;
  return Number(after + offset);
}

function lcm(a: bigint, b: bigint): bigint {
  const gcd = (x: bigint, y: bigint): bigint => (y === 0n ? x : gcd(y, x % y));
  return (a / gcd(a, b)) * b;
}

/* SET-UP */

/** An exchange deployed and connected, and where the run's clock stood once it was. */
interface Deployed {
  ex: Exchange;
  chain: SimChain;
  /** The block number when the clock was installed, before the deployment. */
  clockStartBlock: number;
  clock: ClockState;
}

/**
 * The last system deployed in-process in this runtime (a sweep thread runs many seeds of one system),
 * with an EVM snapshot just after its deployment: the next run of the same system reverts to it instead
 * of resetting the chain and deploying again. Same chain, same blocks and timestamps, so the same seed
 * still gives the same summary.json.
 */
const lastDeployed = new WeakMap<
  EthereumProvider,
  { key: string; snapshot: string; headHash: string; deployed: Deployed }
>();

async function deploy(
  net: SimNetwork,
  system: SystemSpec,
  clock: BlockClock,
  clockStartBlock: number,
): Promise<Deployed> {
  const ex = await deploySystem(await net.deployer(), system);
  const chain = await SimChain.connect(net.provider, ex);
  return { ex, chain, clockStartBlock, clock: clock.state() };
}

async function keepDeployed(
  provider: EthereumProvider,
  system: SystemSpec,
  deployed: Deployed,
  clock: BlockClock,
): Promise<void> {
  const snapshot = (await provider.send("evm_snapshot", [])) as string;
  const head = (await provider.send("eth_getBlockByNumber", ["latest", false])) as { hash: string };
  deployed.clock = clock.state();
  lastDeployed.set(provider, { key: JSON.stringify(system), snapshot, headHash: head.hash, deployed });
}

/**
 * Back to just after the deployment of `system`, when it is the one deployed last and its snapshot still
 * leads to the same block (a reset or someone else's revert since leaves it unusable); undefined otherwise.
 */
async function revertToDeployed(provider: EthereumProvider, system: SystemSpec): Promise<Deployed | undefined> {
  const kept = lastDeployed.get(provider);
  lastDeployed.delete(provider);
  if (kept === undefined || kept.key !== JSON.stringify(system)) return undefined;
  if (!((await provider.send("evm_revert", [kept.snapshot])) as boolean)) return undefined;
  const head = (await provider.send("eth_getBlockByNumber", ["latest", false])) as { hash: string };
  if (head.hash !== kept.headHash) return undefined;
  // A snapshot is used up by its revert: take it again for the run after this one.
  lastDeployed.set(provider, { ...kept, snapshot: (await provider.send("evm_snapshot", [])) as string });
  return { ...kept.deployed, chain: kept.deployed.chain.reconnect() };
}

async function setUp(
  net: SimNetwork,
  scenario: Scenario,
  seed: number,
  clock: BlockClock,
  { ex, chain, clockStartBlock }: Deployed,
): Promise<Run> {
  const provider = net.provider;
  const deployerSigner = await net.deployer();
  const venues = await deployVenues(deployerSigner, ex, chain, scenario, {
    heartbeatSec: Math.max(3600, scenario.stepSec * 4),
  });
  const startSec = Number((await net.ethers.getBlock("latest"))!.timestamp);
  const rng = Random.fromSeed(seed);
  const deployer = await deployerSigner.getAddress();
  const addressOf = (label: string) => getAddress("0x" + keccakId(`perpsim:${seed}:${label}`).slice(26));

  const drawn = drawRetail(scenario, rng, addressOf);
  // The coin markets' traders are sim/coin-margined.ts's.
  const retail = drawn.filter((a) => !isCoinMarketSymbol(scenario, a.symbol));
  const mmPlan = scenario.agents.marketMaker;
  const arbPlan = scenario.agents.arbitrageur?.enabled ? scenario.agents.arbitrageur : undefined;
  const mmAddress = addressOf("market-maker");
  const arbAddress = addressOf("arbitrageur");
  const keeperAddress = addressOf("keeper");
  const attackerPlan = scenario.agents.attacker;
  const attacker = attackerPlan ? attackerRun(attackerPlan, addressOf) : undefined;
  const accounts = [
    ...(attacker ? attacker.addresses.values() : []),
    ...retail.map((a) => a.address),
    ...(mmPlan ? [mmAddress] : []),
    ...(arbPlan ? [arbAddress] : []),
    keeperAddress,
  ];
  await Promise.all(
    accounts.flatMap((address) => [
      provider.send("hardhat_setBalance", [address, ACCOUNT_ETH]),
      provider.send("hardhat_impersonateAccount", [address]),
    ]),
  );

  const funding: Promise<void>[] = [];
  const deposit = (address: string, usd: bigint) => funding.push(...depositCalls(chain, deployer, address, usd));
  for (const a of retail) deposit(a.address, a.deposit);
  let marketMaker: MarketMakerAgent | undefined;
  if (mmPlan) {
    const takerFee = scenario.markets.find((m) => m.symbol === mmPlan.market)!.fees.taker;
    const perpDeposit = marketMakerDeposit(mmPlan, takerFee);
    marketMaker = {
      plan: mmPlan,
      address: mmAddress,
      positionId: 0n,
      deposit: perpDeposit,
      wallet: mmPlan.budgetUsd - perpDeposit,
      cost: 0n,
    };
    if (perpDeposit > 0n) deposit(mmAddress, perpDeposit);
    funding.push(...walletCalls(chain, ex, deployer, mmAddress, marketMaker.wallet, mmPlan.market));
  }
  if (arbPlan) deposit(arbAddress, (arbPlan.maxNotionalUsd / ARB_LEVERAGE) * ARB_DEPOSIT_MARGINS);
  if (attacker)
    funding.push(
      fundAttacker(attacker, chain, venues.get(attacker.plan.market)!, {
        deposit: (address, usd) => depositCalls(chain, deployer, address, usd),
        wallet: (address, usd) => faucetCalls(chain, deployer, address, usd / USD6_TO_WAD),
      }),
    );
  await Promise.all(funding);

  const positionIds = await Promise.all(
    [...retail.map((a) => [a.address, a.symbol] as const), [mmAddress, mmPlan?.market], [arbAddress, arbPlan?.market]]
      .filter((entry): entry is readonly [string, string] => entry[1] !== undefined)
      .map(([address, symbol]) => ex.admin.positionId(address, chain.handles(symbol).marketId)),
  );
  retail.forEach((a, i) => (a.positionId = positionIds[i]!));
  let next = retail.length;
  if (marketMaker) marketMaker.positionId = positionIds[next++]!;
  const arbitrageur = arbPlan ? { plan: arbPlan, address: arbAddress, positionId: positionIds[next]! } : undefined;

  const keeperSigner = await net.signer(keeperAddress);
  const keeper = new Keeper(ex, keeperSigner, {
    fromBlock: ex.deployment.deploymentBlock,
    markets: chain.marketSource(),
    // The time of the last block, mined or owed (keeperPhase): what the keeper's next transaction follows.
    clock: () => BigInt(clock.peek() - 1),
  });
  const tracks: MarketTrack[] = await Promise.all(
    scenario.markets.map(async (m) => ({
      symbol: m.symbol,
      prevFundingIndex: 0n,
      prevOiLong: 0n,
      prevOiShort: 0n,
      fundingPaidLongs: 0n,
      fundingPaidShorts: 0n,
      liquidationsInStep: 0,
      spot: 0n,
      feedAnswers: await Promise.all(
        chain.handles(m.symbol).pushedFeeds.map(async (f) => (await f.latestRoundData())[1]),
      ),
    })),
  );
  const ledger = new ActionLedger();
  const run: Run = {
    scenario,
    seed,
    provider,
    clock,
    chain,
    ex,
    startSec,
    clockStartBlock,
    rng,
    deployer,
    retail,
    marketMaker,
    arbitrageur,
    attacker,
    venues,
    keeper,
    keeperAddress,
    ledger,
    tracks,
    timeline: [],
    liquidations: [],
    crossedAt: new Map(),
    pnl: new Map(),
    firstPushSec: mmPlan?.pushes.length ? Math.min(...mmPlan.pushes.map((p) => p.atSec)) : scenario.durationSec,
    initialInsurance: 0n,
    initialPool: 0n,
    spotMoved: new Set(scenario.markets.map((m) => m.symbol)),
    coin: await CoinMarkets.setUp({
      scenario,
      provider,
      clock,
      ex,
      ledger,
      deployer,
      signer: (address) => net.signer(address),
      addressOf,
      traders: drawn.filter((a) => isCoinMarketSymbol(scenario, a.symbol)),
      headBlock: () => clockStartBlock + clock.blocksMined,
      startSec,
    }),
  };
  const first = await readRow(run, 0, 0);
  run.timeline.push(first.row);
  run.initialInsurance = first.insurance;
  run.initialPool = first.row.markets[0]?.poolValue ?? 0n;
  return run;
}

/** Each retail group's traders, their margins, leverages and entry times drawn from the seed. */
function drawRetail(scenario: Scenario, rng: Random, addressOf: (label: string) => string): RetailAgent[] {
  const retail: RetailAgent[] = [];
  for (const [g, group] of scenario.agents.retail.entries()) {
    const r = rng.fork(`retail:${group.sameDrawsAs ?? g}`);
    for (let i = 0; i < group.count; i++) {
      const name = `retail-${g}-${i}`;
      const margin = r.uniformWad(group.marginUsd.min, group.marginUsd.max, WAD);
      const leverage = r.uniformWad(group.leverage.min, group.leverage.max, WAD / 10n);
      const { from, to } = group.entryWindowSec;
      const entrySec = Math.ceil(r.int(from, to) / scenario.stepSec) * scenario.stepSec;
      retail.push({
        name,
        group,
        entrySec,
        leverage,
        margin,
        addsMargin: group.addMarginBelowPct !== undefined && r.float() < Number(formatWad(group.addMarginBelowPct)),
        phase: "waiting",
        addedMargin: false,
        opened: false,
        address: addressOf(name),
        symbol: group.market,
        positionId: 0n,
        deposit: margin * RETAIL_DEPOSIT_MARGINS,
        free: undefined,
      });
    }
  }
  return retail;
}

/** Faucet `usd` (in chunks the faucet allows) to `address`, which approves the vault and deposits it. */
function depositCalls(chain: SimChain, deployer: string, address: string, usd: bigint): Promise<void>[] {
  const ex = chain.ex;
  const amount6 = usd / USD6_TO_WAD;
  const vault = ex.deployment.contracts.vault;
  return [
    ...faucetCalls(chain, deployer, address, amount6),
    setUpSend(chain, address, {
      to: ex.deployment.contracts.collateral,
      data: ex.collateral.interface.encodeFunctionData("approve", [vault, amount6]),
    }),
    setUpSend(chain, address, { to: vault, data: ex.vault.interface.encodeFunctionData("deposit", [amount6]) }),
  ];
}

/** The market maker's wallet: `usd` of collateral, and the spot pool allowed to take its collateral and coins. */
function walletCalls(
  chain: SimChain,
  ex: Exchange,
  deployer: string,
  address: string,
  usd: bigint,
  symbol: string,
): Promise<void>[] {
  const m = chain.handles(symbol);
  const spot = m.spotPool.target as string;
  return [
    ...faucetCalls(chain, deployer, address, usd / USD6_TO_WAD),
    setUpSend(chain, address, {
      to: ex.deployment.contracts.collateral,
      data: ex.collateral.interface.encodeFunctionData("approve", [spot, UNLIMITED_ALLOWANCE]),
    }),
    setUpSend(chain, address, {
      to: m.coin.target as string,
      data: m.coin.interface.encodeFunctionData("approve", [spot, UNLIMITED_ALLOWANCE]),
    }),
  ];
}

function faucetCalls(chain: SimChain, from: string, to: string, amount6: bigint): Promise<void>[] {
  const calls: Promise<void>[] = [];
  for (let left = amount6; left > 0n; left -= FAUCET_LIMIT6) {
    const chunk = left < FAUCET_LIMIT6 ? left : FAUCET_LIMIT6;
    calls.push(
      setUpSend(chain, from, {
        to: chain.ex.deployment.contracts.collateral,
        data: chain.ex.collateral.interface.encodeFunctionData("faucet", [to, chunk]),
      }),
    );
  }
  return calls;
}

/** A set-up transaction: it must go through, or the run cannot be the scenario's. */
async function setUpSend(chain: SimChain, from: string, call: Call): Promise<void> {
  const outcome = await chain.send(from, call);
  if (outcome.kind === "refused") throw new Error(`setting up ${from}: ${outcome.error} (${outcome.message})`);
}

/* ONE STEP */

/** The head block's number: every block of the run is mined through the clock, which counts them. */
function headBlock(run: Run): number {
  return run.clockStartBlock + run.clock.blocksMined;
}

async function runStep(run: Run, step: number, pnlPoint: boolean): Promise<void> {
  const t = step * run.scenario.stepSec;
  run.clock.advanceTo(run.startSec + t);
  for (const tr of run.tracks) tr.liquidationsInStep = 0;
  if (run.risk === undefined && t >= run.firstPushSec) run.risk = await readRisk(run);
  const pushed = await marketMakerPhase(run, t);
  const attacked = await attackPhase(run, t);
  const swapped = new Set([pushed, attacked].filter((symbol): symbol is string => symbol !== undefined));
  const oracle = await oraclePhase(run, step, t, swapped);
  // The oracle's block is mined: its outcomes are read with the markets.
  const [views] = await Promise.all([readMarkets(run, BigInt(run.clock.peek())), oracle.recorded]);
  observeCrossings(run, views, t);
  const retail = await retailPhase(run, t, views);
  // The arbitrageur decides on the same views, not on the traders' outcomes: its block goes out while
  // their receipts are read.
  const [arbitrage] = await Promise.all([arbitragePhase(run, t, views), retail.recorded]);
  await Promise.all([keeperPhase(run), arbitrage.recorded]);
  await run.coin?.step(t, pnlPoint ? run.pnl : undefined);
  // A PnL point's balances are read with the row's reads (issued in the same turn: one batched read).
  const pnlInputs = pnlPoint ? readPnlInputs(run) : undefined;
  const { row, views: endViews } = await readRow(run, step, t);
  run.timeline.push(row);
  if (pnlInputs !== undefined) recordPnl(run, t, endViews, row, await pnlInputs);
}

/** Notes the market whose spot price `action` may move (a swap): its price is read again at the step's end. */
function touchSpot(run: Run, action: Action): void {
  const kind = action.intent.kind;
  if (kind === "spotBuy" || kind === "spotSell") run.spotMoved.add(action.intent.symbol);
}

/** The market maker's actions due this step; returns the market whose spot pool it swapped on, if any. */
async function marketMakerPhase(run: Run, t: number): Promise<string | undefined> {
  const mm = run.marketMaker;
  if (mm === undefined || !marketMakerActsIn(mm.plan, t, run.scenario.stepSec)) return undefined;
  const m = run.chain.handles(mm.plan.market);
  const [market, usd6, coins, spot] = await Promise.all([
    run.chain.readMarket(mm.plan.market, BigInt(run.clock.peek()), headBlock(run)),
    run.chain.value(run.ex.collateral, "balanceOf", [mm.address]),
    run.chain.value(m.coin, "balanceOf", [mm.address]),
    run.chain.value(m.spotPool, "spotPrice"),
  ]);
  // One block, in order (one account's nonces): a push's price is the one the push before it left.
  const actions = marketMakerActions(mm.plan, t, run.scenario.stepSec, market, { usd6, coins, spot });
  actions.forEach((action) => touchSpot(run, action));
  const outcomes = await run.chain.sendBlock(
    run.clock,
    actions.map((action) => ({ from: mm.address, call: run.chain.callOf(action.intent, mm.address) })),
  );
  for (const [i, action] of actions.entries()) {
    const outcome = outcomes[i]!;
    run.ledger.record(action, outcome, t);
    if (outcome.kind === "done" && action.intent.kind === "spotBuy") mm.cost += action.intent.usd6 * USD6_TO_WAD;
  }
  return mm.plan.market;
}

/**
 * The pushed feeds follow spot (or its TWAP; with venues, feed i follows venue i), then each market
 * samples its premium. The spot price is read again only where the market maker or the attacker
 * swapped this step or a TWAP window makes it move with time.
 */
async function oraclePhase(
  run: Run,
  step: number,
  t: number,
  swapped: ReadonlySet<string>,
): Promise<{ recorded: Promise<void> }> {
  const sends: Send[] = [];
  const actions: Action[] = [];
  const send = (from: string, action: Action) => {
    actions.push(action);
    sends.push({ from, call: run.chain.callOf(action.intent, from) });
  };
  const references = await Promise.all(
    run.scenario.markets.map((m, i): Promise<bigint | bigint[]> | bigint | undefined => {
      if (!m.feeds.followSpot) return undefined;
      if (m.venueOracle) return venueReferences(run.venues.get(m.symbol)!, m.protections.twapWindowSec);
      const window = m.protections.twapWindowSec;
      if (window === 0 && !swapped.has(m.symbol)) return run.tracks[i]!.spot;
      return run.chain.value(run.chain.handles(m.symbol).spotPool, "twap", [window]);
    }),
  );
  for (const [i, m] of run.scenario.markets.entries()) {
    const track = run.tracks[i]!;
    const reference = references[i];
    if (reference !== undefined) {
      const noise = track.feedAnswers.map((_, f) =>
        run.rng.fork(`noise:${i}:${f}:${step}`).int(-m.feeds.noiseBps, m.feeds.noiseBps),
      );
      const answers = venueAnswers(reference, track.feedAnswers, noise, m.protections.maxPriceDeviationPerUpdate);
      answers.forEach((answer, feed) =>
        send(run.deployer, {
          actor: "oracle",
          agent: "oracle",
          label: `feed ${feed} update`,
          optional: false,
          intent: { kind: "pushPrice", symbol: m.symbol, feed, answer },
        }),
      );
      track.feedAnswers = answers;
    }
    send(run.keeperAddress, {
      actor: "oracle",
      agent: "oracle",
      label: "premium sample (settleFunding)",
      optional: false,
      intent: { kind: "settleFunding", symbol: m.symbol },
    });
  }
  // One block, in this order: each feed's push, then the premium sample that reads them.
  const { outcomes } = await run.chain.mineSends(run.clock, sends);
  const recorded = outcomes.then((all) => all.forEach((outcome, i) => run.ledger.record(actions[i]!, outcome, t)));
  return { recorded: awaitedLater(recorded) };
}

/** Each pushed feed's next answer: all follow one reference, or with venues, feed f follows venue f. */
function venueAnswers(
  reference: bigint | readonly bigint[],
  previous: readonly bigint[],
  noise: readonly number[],
  maxDeviation: bigint,
): bigint[] {
  if (typeof reference === "bigint") return feedAnswers(reference, previous, noise, maxDeviation);
  return previous.map((prev, f) => feedAnswers(reference[f]!, [prev], [noise[f]!], maxDeviation)[0]!);
}

/** Each market once, projected to `nowSec`: the view every agent decides on this step. */
async function readMarkets(run: Run, nowSec: bigint): Promise<Map<string, MarketView>> {
  const block = headBlock(run);
  const views = await Promise.all(run.scenario.markets.map((m) => run.chain.readMarket(m.symbol, nowSec, block)));
  return new Map(views.map((v) => [v.symbol, v]));
}

/** Notes when the mark first crossed each open position's liquidation price (and forgets healed ones). */
function observeCrossings(run: Run, views: ReadonlyMap<string, MarketView>, t: number): void {
  const bySymbol = new Map([...views.values()].map((v) => [v.marketId, v]));
  for (const p of run.keeper.book.open()) {
    const view = bySymbol.get(p.marketId);
    if (view === undefined) continue;
    if (viewPosition(p, view).health.liquidatable) {
      if (!run.crossedAt.has(p.id)) run.crossedAt.set(p.id, t);
    } else run.crossedAt.delete(p.id);
  }
}

/** The traders' orders, mined; their outcomes recorded once their receipts are read (`recorded`). */
async function retailPhase(
  run: Run,
  t: number,
  views: ReadonlyMap<string, MarketView>,
): Promise<{ recorded: Promise<void> }> {
  const book = run.keeper.book;
  const decided: [RetailAgent, NonNullable<ReturnType<typeof retailDecision>>, Action][] = [];
  // Each opening order sees the ones sent before it in this step: they fill first.
  const seen = new Map(views);
  for (const a of run.retail) {
    const position = book.get(a.positionId);
    if (a.phase === "open" && position === undefined) {
      afterPositionGone(a);
      a.free = undefined;
      continue;
    }
    const view = seen.get(a.symbol)!;
    const decision = retailDecision(a, t, view, position && viewPosition(position, view));
    if (decision === undefined) continue;
    if (decision.intent.kind === "increase") seen.set(a.symbol, afterOrder(view, decision.intent.sizeDelta));
    const action: Action = {
      actor: "retail",
      agent: a.name,
      label: decision.label,
      optional: true,
      intent: decision.intent,
    };
    touchSpot(run, action);
    decided.push([a, decision, action]);
  }
  // One block, in this order: the traders act independently, each on its own account.
  const { outcomes } = await run.chain.mineSends(
    run.clock,
    decided.map(([a, , action]) => ({ from: a.address, call: run.chain.callOf(action.intent, a.address) })),
  );
  const recorded = outcomes.then((all) => {
    for (const [i, [a, decision, action]] of decided.entries()) {
      const outcome = all[i]!;
      run.ledger.record(action, outcome, t);
      afterOutcome(a, decision.step, outcome);
      a.free = undefined;
    }
  });
  return { recorded: awaitedLater(recorded) };
}

/**
 * The arbitrageur's turn, each action in a block of its own; its last action's outcome is recorded once
 * its receipt is read (`recorded`), meanwhile the keeper's phase starts.
 */
async function arbitragePhase(
  run: Run,
  t: number,
  views: ReadonlyMap<string, MarketView>,
): Promise<{ recorded: Promise<void> }> {
  const arb = run.arbitrageur;
  if (arb === undefined) return { recorded: Promise.resolve() };
  const own = run.keeper.book.get(arb.positionId)?.size ?? 0n;
  const actions = arbitrageActions(arb.plan, views.get(arb.plan.market)!, own);
  for (const [i, action] of actions.entries()) {
    touchSpot(run, action);
    const call = run.chain.callOf(action.intent, arb.address);
    const { outcomes } = await run.chain.mineSends(run.clock, [{ from: arb.address, call }]);
    const outcome = outcomes.then(([o]) => {
      run.ledger.record(action, o!, t);
      return o!;
    });
    if (i === actions.length - 1) return { recorded: awaitedLater(outcome.then(() => undefined)) };
    if ((await outcome).kind === "refused") break; // a turn whose close was refused does not open the other side
  }
  return { recorded: Promise.resolve() };
}

/**
 * The keeper, after its latency: one tick, and its liquidations recorded. It sees the last block mined
 * and its transactions land `latencyBlocks` blocks later: the clock owes those blocks, mined only if
 * the keeper sends (BlockClock.owe), and the keeper projects the markets to the last of them.
 */
async function keeperPhase(run: Run): Promise<void> {
  const { enabled, latencyBlocks } = run.scenario.keeper;
  if (!enabled) {
    await run.keeper.syncOnly();
    return;
  }
  run.clock.owe(latencyBlocks);
  let report: TickReport;
  try {
    report = await run.keeper.tick();
  } finally {
    run.clock.dropOwed();
  }
  const sent = report.liquidations.length + report.funding.length + report.orders.length + report.adl.length;
  run.ledger.recordKeeper(sent, report.lostRace.length);
  // Every block is stamped by the clock: the last one mined carries the timestamp just before the next.
  const now = run.clock.peek() - 1 - run.startSec;
  for (const l of report.liquidations) {
    const track = run.tracks.find((x) => run.chain.handles(x.symbol).marketId === l.marketId)!;
    track.liquidationsInStep++;
    const size = l.closedSize < 0n ? -l.closedSize : l.closedSize;
    run.liquidations.push({
      t: now,
      block: l.block,
      market: track.symbol,
      positionId: l.id,
      side: l.closedSize > 0n ? "long" : "short",
      size,
      price: l.markPrice,
      notional: (size * l.markPrice) / WAD,
      keeper: run.keeperAddress,
      round: l.round,
      crossedAt: run.crossedAt.get(l.id) ?? null,
    });
    run.crossedAt.delete(l.id);
  }
}

/* RECORDS */

/** The state at the end of a step, read once: the timeline row and the views it came from. */
async function readRow(
  run: Run,
  step: number,
  t: number,
): Promise<{ row: TimelineRow; views: Map<string, MarketView>; insurance: bigint }> {
  const lastBlockSec = BigInt(run.clock.peek() - 1);
  const block = run.clockStartBlock + run.clock.blocksMined;
  const [{ insurance, poolAssets }, views, spots, coinMarkets] = await Promise.all([
    run.chain.vaultAt(headBlock(run)),
    readMarkets(run, lastBlockSec),
    Promise.all(
      run.tracks.map((tr) =>
        run.spotMoved.has(tr.symbol) ? run.chain.value(run.chain.handles(tr.symbol).spotPool, "spotPrice") : tr.spot,
      ),
    ),
    run.coin?.timelineSteps(lastBlockSec),
  ]);
  run.spotMoved.clear();
  const pnlOf = (v: MarketView) => tradersPnl(v);
  const pool = [...views.values()].reduce((value, v) => value - pnlOf(v), poolAssets);
  const markets: MarketStep[] = run.tracks.map((tr, i) => {
    const v = views.get(tr.symbol)!;
    const st = v.projected.state;
    if (step > 0 && st.fundingIndex !== tr.prevFundingIndex) {
      const delta = st.fundingIndex - tr.prevFundingIndex;
      tr.fundingPaidLongs += (tr.prevOiLong * delta) / WAD;
      tr.fundingPaidShorts -= (tr.prevOiShort * delta) / WAD;
    }
    tr.prevFundingIndex = st.fundingIndex;
    tr.prevOiLong = st.longOpenInterest;
    tr.prevOiShort = st.shortOpenInterest;
    tr.spot = spots[i]!;
    return {
      symbol: tr.symbol,
      spot: spots[i]!,
      index: v.projected.index,
      mark: v.projected.mark,
      last: v.projected.last,
      fundingRate: MarketLib.predictedFundingRate(run.chain.config(tr.symbol), st, lastBlockSec),
      oiLong: st.longOpenInterest,
      oiShort: st.shortOpenInterest,
      insuranceFund: insurance,
      poolValue: pool,
      liquidations: tr.liquidationsInStep,
    };
  });
  const row: TimelineRow = { t, step, block, markets, ...(coinMarkets === undefined ? {} : { coinMarkets }) };
  return { row, views, insurance };
}

/** A position's equity at the view's mark, 0 without a position or when it is under water. */
function equityOf(run: Run, positionId: bigint, view: MarketView): bigint {
  const p = run.keeper.book.get(positionId);
  if (p === undefined) return 0n;
  const equity = positionHealth(view.projected.state, view.tiers, p, view.projected.mark).equity;
  return equity > 0n ? equity : 0n;
}

/** Reads the free balances that may have changed since they were last read. */
async function refreshFreeBalances(run: Run, agents: readonly RetailAgent[]): Promise<void> {
  const stale = agents.filter((a) => a.free === undefined);
  const balances = await Promise.all(stale.map((a) => run.chain.value(run.ex.vault, "freeBalance", [a.address])));
  stale.forEach((a, i) => (a.free = balances[i]!));
}

/** The market maker's balances: its free balance in the vault, its wallet's collateral (6 decimals) and coins. */
interface MarketMakerBalances {
  free: bigint;
  usd6: bigint;
  coins: bigint;
}

function readMarketMakerBalances(run: Run, mm: MarketMakerAgent): Promise<MarketMakerBalances> {
  const m = run.chain.handles(mm.plan.market);
  return Promise.all([
    run.chain.value(run.ex.vault, "freeBalance", [mm.address]),
    run.chain.value(run.ex.collateral, "balanceOf", [mm.address]),
    run.chain.value(m.coin, "balanceOf", [mm.address]),
  ]).then(([free, usd6, coins]) => ({ free, usd6, coins }));
}

/** The market maker's two legs: the vault deposit's value and the wallet's. */
function marketMakerLegsOf(
  run: Run,
  mm: MarketMakerAgent,
  view: MarketView,
  spot: bigint,
  b: MarketMakerBalances,
): { perp: bigint; spot: bigint } {
  return {
    perp: b.free + equityOf(run, mm.positionId, view) - mm.deposit,
    spot: b.usd6 * USD6_TO_WAD + (b.coins * spot) / WAD - mm.wallet,
  };
}

/** The market maker's two legs now. */
async function marketMakerLegs(
  run: Run,
  mm: MarketMakerAgent,
  view: MarketView,
  spot: bigint,
): Promise<{ perp: bigint; spot: bigint }> {
  return marketMakerLegsOf(run, mm, view, spot, await readMarketMakerBalances(run, mm));
}

/** What a PnL point reads: the opened traders' stale free balances (kept on them) and the market maker's balances. */
async function readPnlInputs(run: Run): Promise<MarketMakerBalances | undefined> {
  const mm = run.marketMaker;
  const [, balances] = await Promise.all([
    refreshFreeBalances(
      run,
      run.retail.filter((a) => a.opened),
    ),
    mm === undefined ? undefined : readMarketMakerBalances(run, mm),
  ]);
  return balances;
}

function recordPnl(
  run: Run,
  t: number,
  views: ReadonlyMap<string, MarketView>,
  row: TimelineRow,
  mmBalances: MarketMakerBalances | undefined,
): void {
  const push = (agent: string, kind: AgentPnlSeries["kind"], pnl: bigint) => {
    const s = run.pnl.get(agent) ?? { agent, kind, points: [] };
    s.points.push({ t, pnl });
    run.pnl.set(agent, s);
  };
  const opened = run.retail.filter((a) => a.opened);
  const bySide = new Map<string, bigint>();
  for (const a of opened) {
    const value = a.free! + equityOf(run, a.positionId, views.get(a.symbol)!);
    const key = `retail ${a.group.side}s (${a.symbol})`;
    bySide.set(key, (bySide.get(key) ?? 0n) + value - a.deposit);
  }
  for (const [k, v] of bySide) push(k, "retail", v);
  const mm = run.marketMaker;
  if (mm !== undefined && mmBalances !== undefined) {
    const spot = row.markets.find((m) => m.symbol === mm.plan.market)!.spot;
    const legs = marketMakerLegsOf(run, mm, views.get(mm.plan.market)!, spot, mmBalances);
    push("market maker", "marketMaker", legs.perp + legs.spot);
    push("market maker: perp", "marketMaker", legs.perp);
    push("market maker: spot", "marketMaker", legs.spot);
  }
}

/** The open positions and the spot pools before the market maker's first push. */
async function readRisk(run: Run): Promise<RiskSnapshot[]> {
  const views = await readMarkets(run, BigInt(run.clock.peek()));
  const reserves = await Promise.all(
    run.tracks.map((tr) => run.chain.value(run.chain.handles(tr.symbol).spotPool, "reserveUsd")),
  );
  return run.tracks.map((tr, i) => {
    const view = views.get(tr.symbol)!;
    return {
      symbol: tr.symbol,
      reserveUsd: reserves[i]! * USD6_TO_WAD,
      reference: view.projected.mark,
      positions: run.keeper.book
        .open()
        .filter((p) => p.marketId === view.marketId)
        .map((p) => ({
          side: p.size > 0n ? ("long" as const) : ("short" as const),
          notional: WadMath.mulDown(p.size < 0n ? -p.size : p.size, view.projected.mark),
          liquidationPrice: viewPosition(p, view).health.liquidationPrice,
        })),
    };
  });
}

/* THE END */

async function finish(run: Run): Promise<SimulationResult> {
  const last = run.timeline[run.timeline.length - 1]!;
  const views = await readMarkets(run, BigInt(run.clock.peek() - 1));
  const risk = run.risk ?? (await readRisk(run));
  const opened = run.retail.filter((a) => a.opened);
  await refreshFreeBalances(run, opened);
  const [blockHex, finalInsurance] = await Promise.all([
    run.provider.send("eth_blockNumber", []) as Promise<string>,
    run.ex.vault.insuranceFund(),
  ]);
  const markets: MarketFacts[] = [];
  for (const [i, tr] of run.tracks.entries()) {
    const view = views.get(tr.symbol)!;
    const id = view.marketId;
    const [badDebtEvents, adlEvents] = await Promise.all([
      run.ex.engine.queryFilter(run.ex.engine.filters.BadDebt(id)),
      run.ex.engine.queryFilter(run.ex.engine.filters.AutoDeleveraged(undefined, undefined, id)),
    ]);
    const mm = run.marketMaker?.plan.market === tr.symbol ? run.marketMaker : undefined;
    const legs = mm ? await marketMakerLegs(run, mm, view, last.markets[i]!.spot) : undefined;
    markets.push({
      symbol: tr.symbol,
      traders: opened
        .filter((a) => a.symbol === tr.symbol)
        .map((a) => ({
          positionId: a.positionId,
          deposit: a.deposit,
          value: a.free! + equityOf(run, a.positionId, view),
        })),
      badDebt: badDebtEvents.reduce((s, e) => s + e.args.amount, 0n),
      adlCount: adlEvents.length,
      fundingPaidLongs: tr.fundingPaidLongs,
      fundingPaidShorts: tr.fundingPaidShorts,
      risk: risk.find((r) => r.symbol === tr.symbol)!,
      marketMaker: mm && legs ? { cost: mm.cost, perpPnl: legs.perp, spotPnl: legs.spot } : undefined,
    });
  }
  const attackerSpot = run.attacker && last.markets.find((m) => m.symbol === run.attacker!.plan.market)!.spot;
  const attacker =
    run.attacker &&
    (await attackerSummary(
      run.attacker,
      run.chain,
      run.keeper.book,
      views.get(run.attacker.plan.market)!,
      attackerSpot!,
      run.liquidations,
    ));
  const summary = buildSummary({
    scenario: run.scenario,
    seed: run.seed,
    blocks: Number(BigInt(blockHex)) - run.ex.deployment.deploymentBlock,
    insuranceFundDelta: finalInsurance - run.initialInsurance,
    poolPnl: last.markets[0]!.poolValue - run.initialPool,
    actions: run.ledger.snapshot(),
    timeline: run.timeline,
    liquidations: run.liquidations,
    markets,
    attacker,
    coinMargined: await run.coin?.summaries(),
  });
  return {
    scenario: run.scenario,
    summary,
    timeline: run.timeline,
    liquidations: run.liquidations.every((e) => e.round > 0)
      ? run.liquidations
      : assignCascadeRounds(run.liquidations, 1),
    pnl: [...run.pnl.values()],
    ...(run.coin === undefined ? {} : { coinLiquidations: run.coin.liquidations() }),
  };
}

/* THE ATTACKER (SPEC 9.4; sim/replay.ts, sim/agents/attacker.ts) */

/** The attacker's actions due this step; returns its market when it swapped on a venue. */
async function attackPhase(run: Run, t: number): Promise<string | undefined> {
  const attacker = run.attacker;
  if (attacker === undefined || !attackerActsIn(attacker.plan, t, run.scenario.stepSec)) return undefined;
  const symbol = attacker.plan.market;
  const view = await run.chain.readMarket(symbol, BigInt(run.clock.peek()), headBlock(run));
  const { book } = run.keeper;
  await run.keeper.syncOnly();
  const swapped = await attackerPhase(attacker, run.chain, book, run.ledger, view, t, run.scenario.stepSec);
  // Its swaps move the venue's spot price.
  if (!swapped) return undefined;
  run.spotMoved.add(symbol);
  return symbol;
}
