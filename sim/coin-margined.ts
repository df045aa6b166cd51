/**
 * Coin-margined (inverse) markets in a run (SPEC 9.2): each is deployed as the coin twin of one of the
 * scenario's USD markets (lib/deploy.ts deployCoinMargined), an engine of its own whose collateral is the
 * underlying's coin and whose index is 1/index of the underlying, so every move of the underlying (the
 * market maker's spot pushes, the feeds that follow them) moves it too.
 *
 * The runner hands this file the retail traders drawn for coin markets and calls `step` once per step,
 * after its own phases; each step does what the runner does for a USD market, on the coin engine: the
 * premium sample, one read of each market, the traders' orders in one block, then the coin engine's
 * keeper (the same Keeper class, on the coin exchange) after the scenario's latency. At each step's end the
 * runner's timeline row takes each coin market's entry (`timelineSteps`, in the trader's terms: USD prices,
 * the traders' sides, USD face, money in the coin), read with the row's reads. Every action goes to
 * the run's ActionLedger, so `actions` in summary.json counts them with the others. Scenarios without
 * coin markets never reach this file: their runs are unchanged.
 *
 * Amounts here are in the coin unless named USD; the summary gives each coin amount beside its USD value
 * at a stated price (sim/types.ts CoinMarketSummary).
 */
import type { EthereumProvider } from "hardhat/types";
import type { Signer } from "ethers";
import { CoinToken__factory } from "../typechain-types";
import type { Exchange } from "../lib/contracts";
import { reciprocal } from "../lib/coin-margined";
import { ALTUSD_INV, type CoinMarginedSpec, type InverseMarketSpec } from "../lib/markets";
import { MarketLib, positionHealth, type MarketConfig as EngineConfig } from "../lib/math";
import { WAD } from "../lib/units";
import { Keeper } from "../keeper/keeper";
import { formatWad } from "./decimal";
import { engineFieldsOf } from "./mechanisms";
import { mineSends, SimChain, type Send, type VaultReading } from "./chain";
import type { BlockClock } from "./clock";
import type { CoinMarketConfig, MarketConfig, Scenario } from "./scenario";
import type { AgentPnlSeries, CoinMarketStep, CoinMarketSummary, LiquidationEvent } from "./types";
import { medianCrossingToLiquidationSec } from "./metrics";
import { ActionLedger, UNLIMITED_ALLOWANCE, type Action } from "./agents/intents";
import { afterOutcome, afterPositionGone, type RetailTrader } from "./agents/retail";
import {
  coinRetailDecision,
  coinRetailTrader,
  entersAt,
  entryMargin,
  type CoinRetailTrader,
} from "./agents/coin-retail";
import { afterOrder, tradersPnl, viewPosition, type MarketView } from "./agents/view";

/** USD amounts of the USD market's engine minimums, taken in the coin at the underlying's initial price. */
const MIN_MARGIN_USD = 10n * WAD;
const MIN_POSITION_NOTIONAL_USD = 10n * WAD;
const MIN_LIQUIDATION_FEE_USD = 1n * WAD;
const MIN_EXECUTION_FEE_USD = WAD / 2n;
/** A coin trader deposits this many times its position's margin, as a USD-margined one does. */
const RETAIL_DEPOSIT_MARGINS = 2n;
/**
 * The coins in a coin trader's wallet at the start, in deposits at the start price: it deposits at its
 * entry, whatever the price has done by then (a thousandth of the start price included).
 */
const WALLET_DEPOSITS = 1_000n;

/** The scenario's USD market a coin market twins. */
function underlyingOf(scenario: Scenario, market: CoinMarketConfig): MarketConfig {
  const u = scenario.markets.find((m) => m.symbol === market.underlying);
  if (u === undefined) throw new Error(`${market.symbol}: underlying ${market.underlying} is not a USD market`);
  return u;
}

/** The coin of a USD market: the base of its symbol, as the runner deploys it (systemSpecOf). */
function assetOf(usdSymbol: string): string {
  return usdSymbol.split("-")[0]!;
}

/** `usd` in the coin at `price`, as a decimal string (exact: a WAD has 18 decimals). */
function coinsOf(usd: bigint, price: bigint): string {
  return formatWad((usd * WAD) / price);
}

/** Whether `symbol` names one of the scenario's coin-margined markets. */
export function isCoinMarketSymbol(scenario: Scenario, symbol: string): boolean {
  return scenario.coinMarkets.some((m) => m.symbol === symbol);
}

/** The coin exchanges the scenario's coin markets need: one per coin, each with its one market. */
export function coinMarginedSpecs(scenario: Scenario, oracleGracePeriodSeconds: number): CoinMarginedSpec[] {
  return scenario.coinMarkets.map((m) => {
    const price = underlyingOf(scenario, m).initialPrice;
    const market: InverseMarketSpec = {
      ...ALTUSD_INV,
      symbol: m.symbol,
      underlying: m.underlying,
      faceUsd: formatWad(m.faceUsd),
      ...engineFieldsOf(m),
      minMargin: coinsOf(MIN_MARGIN_USD, price),
      minPositionNotional: coinsOf(MIN_POSITION_NOTIONAL_USD, price),
      minLiquidationFee: coinsOf(MIN_LIQUIDATION_FEE_USD, price),
      oracleGracePeriodSeconds,
    };
    return {
      asset: assetOf(m.underlying),
      markets: [market],
      lpDeposit: formatWad(m.lpDepositCoin),
      insuranceFund: formatWad(m.insuranceFundCoin),
      minExecutionFee: coinsOf(MIN_EXECUTION_FEE_USD, price),
    };
  });
}

/** A coin trader and where it lives on its coin engine. */
interface CoinTraderAgent extends CoinRetailTrader {
  address: string;
  symbol: string;
  positionId: bigint;
  /** Coins it deposited in the coin vault at its entry (0 before). */
  deposit: bigint;
  /** Their USD value then, at the index. */
  depositUsd: bigint;
}

/** One coin market: its exchange, chain shell, keeper, traders and what the run recorded of it. */
interface CoinVenue {
  config: CoinMarketConfig;
  asset: string;
  /** The underlying's USD price at the start, at which the traders' USD margins became coins. */
  priceStartUsd: bigint;
  ex: Exchange;
  chain: SimChain;
  keeper: Keeper;
  keeperAddress: string;
  traders: CoinTraderAgent[];
  liquidations: LiquidationEvent[];
  /** Liquidations its keeper executed in the current step (the timeline row's count). */
  liquidationsInStep: number;
  crossedAt: Map<bigint, number>;
  /** The underlying's USD price seen at each step's read, with the head block then: for bad debt at its time. */
  prices: { block: number; priceUsd: bigint }[];
  initialPool: bigint;
  initialInsurance: bigint;
}

/** A coin trader's order of this step, on its market. */
interface CoinOrder {
  trader: CoinTraderAgent;
  step: NonNullable<ReturnType<typeof coinRetailDecision>>["step"];
  action: Action;
  venue: CoinVenue;
}

/** What the runner gives the coin markets at set-up. */
export interface CoinSetUp {
  scenario: Scenario;
  provider: EthereumProvider;
  clock: BlockClock;
  /** The USD exchange, whose `coinMargined` holds the coin exchanges. */
  ex: Exchange;
  ledger: ActionLedger;
  deployer: string;
  signer: (address: string) => Promise<Signer>;
  addressOf: (label: string) => string;
  /** The retail traders drawn for the coin markets' groups (margins in USD), with their addresses. */
  traders: readonly (RetailTrader & { address: string; symbol: string })[];
  /** The number of the head block (every block of the run is mined through the clock). */
  headBlock: () => number;
  startSec: number;
}

/** 100 ETH for each impersonated account's gas (as the runner gives its own). */
const ACCOUNT_ETH = "0x56BC75E2D63100000";

export class CoinMarkets {
  private constructor(
    private readonly setup: CoinSetUp,
    private readonly venues: CoinVenue[],
  ) {}

  /** Funds the coin traders and starts each coin market's keeper; undefined for a scenario without coin markets. */
  static async setUp(setup: CoinSetUp): Promise<CoinMarkets | undefined> {
    const { scenario } = setup;
    if (scenario.coinMarkets.length === 0) return undefined;
    const venues: CoinVenue[] = [];
    for (const config of scenario.coinMarkets) venues.push(await openVenue(setup, config));
    return new CoinMarkets(setup, venues);
  }

  /** One step on every coin market, after the runner's phases of step `t` (seconds since the start). */
  async step(t: number, pnl: Map<string, AgentPnlSeries> | undefined): Promise<void> {
    const { clock, provider, ledger } = this.setup;
    for (const v of this.venues) v.liquidationsInStep = 0;
    // The premium sample, on the index the oracle's block just moved.
    await this.mine(
      this.venues.map((v) => premiumSample(v)),
      t,
    );
    const views = await this.readViews(BigInt(clock.peek()));
    const { deposits, decided } = this.decide(views, t);
    // One block: the entering traders' deposits, then every trader's order.
    const { outcomes } = await mineSends(provider, clock, [
      ...deposits,
      ...decided.map(({ trader, action, venue }) => ({
        from: trader.address,
        call: venue.chain.callOf(action.intent, trader.address),
      })),
    ]);
    const all = await outcomes;
    all.slice(0, deposits.length).forEach((outcome, i) => {
      if (outcome.kind === "refused")
        throw new Error(
          `a coin trader's deposit was refused: ${outcome.error} (${outcome.message}) from ${deposits[i]!.from}`,
        );
    });
    for (const [i, outcome] of all.slice(deposits.length).entries()) {
      const { trader, step, action } = decided[i]!;
      ledger.record(action, outcome, t);
      afterOutcome(trader, step, outcome);
    }
    await this.keeperPhase();
    if (pnl !== undefined) await this.recordPnl(t, pnl);
  }

  /**
   * What every coin trader does on this step's views: the entering ones' deposits, and each trader's
   * order. Each opening order sees the ones decided before it on its market (they fill first), as in the
   * runner's retail phase.
   */
  private decide(views: readonly MarketView[], t: number): { deposits: Send[]; decided: CoinOrder[] } {
    const deposits: Send[] = [];
    const decided: CoinOrder[] = [];
    for (const [i, venue] of this.venues.entries()) {
      let view = views[i]!;
      venue.prices.push({ block: this.setup.headBlock(), priceUsd: reciprocal(view.projected.index) });
      observeCrossings(venue, view, t);
      for (const trader of venue.traders) {
        const position = venue.keeper.book.get(trader.positionId);
        if (trader.phase === "open" && position === undefined) {
          afterPositionGone(trader);
          continue;
        }
        if (entersAt(trader, t)) deposits.push(enter(venue, trader, view));
        const decision = coinRetailDecision(trader, t, view, position && viewPosition(position, view));
        if (decision === undefined) continue;
        const { intent, label, step } = decision;
        if (intent.kind === "increase") view = afterOrder(view, intent.sizeDelta);
        const action: Action = { actor: "retail", agent: trader.name, label, optional: true, intent };
        decided.push({ trader, step, action, venue });
      }
    }
    return { deposits, decided };
  }

  /** Every coin market's liquidations, in the scenario's order of markets, each market's in time order. */
  liquidations(): LiquidationEvent[] {
    return this.venues.flatMap((v) => v.liquidations);
  }

  /**
   * Each coin market's timeline entry at the end of a step, in the scenario's order: read at the last
   * block mined, whose timestamp is `lastBlockSec`.
   */
  async timelineSteps(lastBlockSec: bigint): Promise<CoinMarketStep[]> {
    const [views, vaults] = await Promise.all([
      this.readViews(lastBlockSec),
      Promise.all(this.venues.map((v) => v.chain.vaultAt(this.setup.headBlock()))),
    ]);
    return this.venues.map((v, i) =>
      coinMarketStep(views[i]!, v.chain.config(v.config.symbol), vaults[i]!, v.liquidationsInStep, lastBlockSec),
    );
  }

  /** Each coin market at the end, in the scenario's order. */
  async summaries(): Promise<CoinMarketSummary[]> {
    const views = await this.readViews(BigInt(this.setup.clock.peek() - 1));
    const out: CoinMarketSummary[] = [];
    for (const [i, v] of this.venues.entries()) out.push(await this.summaryOf(v, views[i]!));
    return out;
  }

  private async summaryOf(v: CoinVenue, view: MarketView): Promise<CoinMarketSummary> {
    const id = view.marketId;
    const [badDebtEvents, adlEvents, insurance, poolAssets, values] = await Promise.all([
      v.ex.engine.queryFilter(v.ex.engine.filters.BadDebt(id)),
      v.ex.engine.queryFilter(v.ex.engine.filters.AutoDeleveraged(undefined, undefined, id)),
      v.chain.value(v.ex.vault, "insuranceFund"),
      v.chain.value(v.ex.vault, "poolAssets"),
      this.traderValues(v, view),
    ]);
    const priceEndUsd = reciprocal(view.projected.index);
    const opened = v.traders.filter((a) => a.opened);
    const liquidatedIds = new Set(v.liquidations.map((l) => l.positionId));
    const deposit = opened.reduce((s, a) => s + a.deposit, 0n);
    const depositUsd = opened.reduce((s, a) => s + a.depositUsd, 0n);
    const value = values.reduce((s, x) => s + x, 0n);
    const poolPnlCoin = poolAssets - tradersPnl(view) - v.initialPool;
    const usdAt = (coins: bigint, price: bigint) => (coins * price) / WAD;
    return {
      symbol: v.config.symbol,
      underlying: v.config.underlying,
      asset: v.asset,
      faceUsd: v.config.faceUsd,
      priceStartUsd: v.priceStartUsd,
      priceEndUsd,
      traders: opened.length,
      tradersLiquidated: opened.filter((a) => liquidatedIds.has(a.positionId)).length,
      liquidations: v.liquidations.length,
      liquidatedFaceUsd: v.liquidations.reduce((s, l) => s + l.notional, 0n),
      firstLiquidationSec: v.liquidations[0]?.t ?? null,
      medianCrossingToLiquidationSec: medianCrossingToLiquidationSec(v.liquidations),
      tradersDepositCoin: deposit,
      tradersDepositUsdAtTime: depositUsd,
      tradersValueCoin: value,
      tradersValueUsdAtEnd: usdAt(value, priceEndUsd),
      tradersLossCoin: deposit - value,
      tradersLossUsdAtEnd: usdAt(deposit - value, priceEndUsd),
      tradersUsdValueLost: depositUsd - usdAt(value, priceEndUsd),
      badDebtCoin: badDebtEvents.reduce((s, e) => s + e.args.amount, 0n),
      badDebtUsdAtTime: badDebtEvents.reduce(
        (s, e) => s + usdAt(e.args.amount, priceAtBlock(v, e.blockNumber, priceEndUsd)),
        0n,
      ),
      poolPnlCoin,
      poolPnlUsdAtEnd: usdAt(poolPnlCoin, priceEndUsd),
      insuranceFundDeltaCoin: insurance - v.initialInsurance,
      adlCount: adlEvents.length,
    };
  }

  /** Each opened trader's coins: free balance plus its position's equity at mark (nothing for a negative one). */
  private async traderValues(v: CoinVenue, view: MarketView): Promise<bigint[]> {
    const opened = v.traders.filter((a) => a.opened);
    const free = await Promise.all(opened.map((a) => v.chain.value(v.ex.vault, "freeBalance", [a.address])));
    return opened.map((a, i) => {
      const p = v.keeper.book.get(a.positionId);
      const equity =
        p === undefined ? 0n : positionHealth(view.projected.state, view.tiers, p, view.projected.mark).equity;
      return free[i]! + (equity > 0n ? equity : 0n);
    });
  }

  /** A point on each coin group's PnL line: its USD value now minus its deposit's USD value at the start. */
  private async recordPnl(t: number, pnl: Map<string, AgentPnlSeries>): Promise<void> {
    const views = await this.readViews(BigInt(this.setup.clock.peek() - 1));
    for (const [i, v] of this.venues.entries()) {
      const view = views[i]!;
      const priceUsd = reciprocal(view.projected.index);
      const values = await this.traderValues(v, view);
      const opened = v.traders.filter((a) => a.opened);
      const bySide = new Map<string, bigint>();
      opened.forEach((a, j) => {
        const key = `retail ${a.side}s (${v.config.symbol}, coin-margined, USD value)`;
        const change = (values[j]! * priceUsd) / WAD - a.depositUsd;
        bySide.set(key, (bySide.get(key) ?? 0n) + change);
      });
      for (const [agent, value] of bySide) {
        const series = pnl.get(agent) ?? { agent, kind: "retail" as const, points: [] };
        series.points.push({ t, pnl: value });
        pnl.set(agent, series);
      }
    }
  }

  /** Each coin keeper, after the scenario's latency: one tick, its liquidations recorded. */
  private async keeperPhase(): Promise<void> {
    const { enabled, latencyBlocks } = this.setup.scenario.keeper;
    const { provider, ledger, clock, startSec } = this.setup;
    if (enabled && latencyBlocks > 0) await provider.send("hardhat_mine", ["0x" + latencyBlocks.toString(16), "0x1"]);
    for (const v of this.venues) {
      if (!enabled) {
        await v.keeper.syncOnly();
        continue;
      }
      const report = await v.keeper.tick();
      const sent = report.liquidations.length + report.funding.length + report.orders.length + report.adl.length;
      ledger.recordKeeper(sent, report.lostRace.length);
      const now = clock.peek() - 1 - startSec;
      for (const l of report.liquidations) {
        const face = l.closedSize < 0n ? -l.closedSize : l.closedSize;
        const priceUsd = reciprocal(l.markPrice);
        v.liquidationsInStep++;
        v.liquidations.push({
          t: now,
          block: l.block,
          market: v.config.symbol,
          positionId: l.id,
          // The engine's long is the trader's short.
          side: l.closedSize > 0n ? "short" : "long",
          size: (face * WAD) / priceUsd,
          price: priceUsd,
          notional: face,
          keeper: v.keeperAddress,
          round: l.round,
          crossedAt: v.crossedAt.get(l.id) ?? null,
        });
        v.crossedAt.delete(l.id);
      }
    }
  }

  private readViews(nowSec: bigint): Promise<MarketView[]> {
    const block = this.setup.headBlock();
    return Promise.all(this.venues.map((v) => v.chain.readMarket(v.config.symbol, nowSec, block)));
  }

  /** `actions` in one block, their outcomes recorded. */
  private async mine(actions: readonly [Action, Send][], t: number): Promise<void> {
    const { outcomes } = await mineSends(
      this.setup.provider,
      this.setup.clock,
      actions.map(([, send]) => send),
    );
    (await outcomes).forEach((outcome, i) => this.setup.ledger.record(actions[i]![0], outcome, t));
  }
}

/**
 * A coin market's timeline entry from the engine's view, in the trader's terms: prices inverted, sides and
 * the funding rate's sign flipped (the engine's long is the trader's short), the pool valued at mark.
 */
export function coinMarketStep(
  view: MarketView,
  config: EngineConfig,
  vault: VaultReading,
  liquidations: number,
  lastBlockSec: bigint,
): CoinMarketStep {
  const { index, mark, last, state } = view.projected;
  return {
    symbol: view.symbol,
    index: reciprocal(index),
    mark: reciprocal(mark),
    last: reciprocal(last),
    fundingRate: -MarketLib.predictedFundingRate(config, state, lastBlockSec),
    oiLong: state.shortOpenInterest,
    oiShort: state.longOpenInterest,
    insuranceFund: vault.insurance,
    poolValue: vault.poolAssets - tradersPnl(view),
    liquidations,
  };
}

/** The oracle's premium sample on a coin market (settleFunding, sent from its keeper's address), as the runner's. */
function premiumSample(v: CoinVenue): [Action, Send] {
  const action: Action = {
    actor: "oracle",
    agent: "oracle",
    label: `${v.config.symbol} premium sample (settleFunding)`,
    optional: false,
    intent: { kind: "settleFunding", symbol: v.config.symbol },
  };
  return [action, { from: v.keeperAddress, call: v.chain.callOf(action.intent, v.keeperAddress) }];
}

/** The coin price in USD of the last read at or before `block`; `fallback` before any. */
function priceAtBlock(v: CoinVenue, block: number, fallback: bigint): bigint {
  let price = v.prices[0]?.priceUsd ?? fallback;
  for (const p of v.prices) if (p.block <= block) price = p.priceUsd;
  return price;
}

/** Notes when the mark first crossed each coin position's liquidation price (and forgets healed ones). */
function observeCrossings(v: CoinVenue, view: MarketView, t: number): void {
  for (const p of v.keeper.book.open()) {
    if (p.marketId !== view.marketId) continue;
    if (viewPosition(p, view).health.liquidatable) {
      if (!v.crossedAt.has(p.id)) v.crossedAt.set(p.id, t);
    } else v.crossedAt.delete(p.id);
  }
}

/** Connects a coin market's exchange, funds its traders in the coin and starts its keeper. */
async function openVenue(setup: CoinSetUp, config: CoinMarketConfig): Promise<CoinVenue> {
  const { scenario, provider, ex, addressOf } = setup;
  const asset = assetOf(config.underlying);
  const coinEx = ex.coinMargined.get(asset);
  if (coinEx === undefined) throw new Error(`${config.symbol}: no coin-margined exchange of ${asset} was deployed`);
  const chain = await SimChain.connect(provider, coinEx);
  const priceStartUsd = underlyingOf(scenario, config).initialPrice;
  const keeperAddress = addressOf(`keeper-${asset}`);
  const traders: CoinTraderAgent[] = setup.traders
    .filter((a) => a.symbol === config.symbol)
    .map((a) => {
      const trader = coinRetailTrader(a, config.faceUsd);
      return { ...trader, address: a.address, symbol: a.symbol, positionId: 0n, deposit: 0n, depositUsd: 0n };
    });
  await Promise.all(
    [...traders.map((a) => a.address), keeperAddress].flatMap((address) => [
      provider.send("hardhat_setBalance", [address, ACCOUNT_ETH]),
      provider.send("hardhat_impersonateAccount", [address]),
    ]),
  );
  await Promise.all(
    traders.flatMap((a) =>
      walletCalls(
        chain,
        setup.deployer,
        a.address,
        (a.marginUsd * RETAIL_DEPOSIT_MARGINS * WALLET_DEPOSITS * WAD) / priceStartUsd,
      ),
    ),
  );
  const { marketId } = chain.handles(config.symbol);
  const ids = await Promise.all(traders.map((a) => coinEx.admin.positionId(a.address, marketId)));
  traders.forEach((a, i) => (a.positionId = ids[i]!));
  const keeper = new Keeper(coinEx, await setup.signer(keeperAddress), {
    fromBlock: ex.deployment.deploymentBlock,
    markets: chain.marketSource(),
  });
  const view = await chain.readMarket(config.symbol, BigInt(setup.clock.peek()), setup.headBlock());
  const [poolAssets, insurance] = await Promise.all([
    chain.value(coinEx.vault, "poolAssets"),
    chain.value(coinEx.vault, "insuranceFund"),
  ]);
  return {
    config,
    asset,
    priceStartUsd,
    ex: coinEx,
    chain,
    keeper,
    keeperAddress,
    traders,
    liquidations: [],
    liquidationsInStep: 0,
    crossedAt: new Map(),
    prices: [],
    initialPool: poolAssets - tradersPnl(view),
    initialInsurance: insurance,
  };
}

/** The deployer mints `coins` to `address`, which lets the coin vault take them. */
function walletCalls(chain: SimChain, deployer: string, address: string, coins: bigint): Promise<void>[] {
  const { collateral, vault } = chain.ex.deployment.contracts;
  const coin = CoinToken__factory.createInterface();
  return [
    setUpSend(chain, deployer, { to: collateral, data: coin.encodeFunctionData("mint", [address, coins]) }),
    setUpSend(chain, address, {
      to: collateral,
      data: coin.encodeFunctionData("approve", [vault, UNLIMITED_ALLOWANCE]),
    }),
  ];
}

/**
 * The trader at its entry: its USD margin becomes coins at the index now, and it deposits twice that
 * (as a USD-margined trader deposits twice its margin); returns the deposit's transaction.
 */
function enter(v: CoinVenue, a: CoinTraderAgent, view: MarketView): Send {
  a.margin = entryMargin(a, view);
  a.deposit = a.margin * RETAIL_DEPOSIT_MARGINS;
  a.depositUsd = (a.deposit * WAD) / view.projected.index;
  const data = v.ex.vault.interface.encodeFunctionData("deposit", [a.deposit]);
  return { from: a.address, call: { to: v.ex.deployment.contracts.vault, data } };
}

/** A set-up transaction: it must go through, or the run cannot be the scenario's. */
async function setUpSend(chain: SimChain, from: string, call: { to: string; data: string }): Promise<void> {
  const outcome = await chain.send(from, call);
  if (outcome.kind === "refused") throw new Error(`setting up ${from}: ${outcome.error} (${outcome.message})`);
}
