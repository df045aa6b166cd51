/**
 * The summary of a run, from what the run recorded (timeline, liquidations, action counts) and the
 * facts the runner read at its end (each trader's value, bad debt, the market maker's legs). Pure: the
 * runner brings the reads.
 */
import type { ActionCounts } from "./agents/intents";
import type { Scenario } from "./scenario";
import type {
  AttackerSummary,
  CoinMarketSummary,
  LiquidationEvent,
  MarketSummary,
  Summary,
  TimelineRow,
  Wad,
} from "./types";
import {
  cascadeDepth,
  maxLiquidationsPerBlock,
  medianCrossingToLiquidationSec,
  peakMove,
  squeezeEconomics,
  type PositionAtRisk,
} from "./metrics";

/** The spot pools' swap fee (SpotPool: 0.3%), for the squeeze economics. */
export const SPOT_FEE = 3n * 10n ** 15n;

/** The open positions and the spot pool of a market at one moment: what a squeeze would meet. */
export interface RiskSnapshot {
  symbol: string;
  reserveUsd: Wad;
  reference: Wad;
  positions: PositionAtRisk[];
}

/** A retail trader that opened, at the end: its position id, what it deposited and what it holds now. */
export interface TraderFacts {
  positionId: bigint;
  deposit: Wad;
  /** Free balance plus the open position's equity (nothing for a negative one), USD. */
  value: Wad;
}

export interface MarketFacts {
  symbol: string;
  traders: TraderFacts[];
  badDebt: Wad;
  adlCount: number;
  fundingPaidLongs: Wad;
  fundingPaidShorts: Wad;
  /** Before the market maker's first push, or at the end when it never pushed. */
  risk: RiskSnapshot;
  /** The market maker's spot buys and its two legs' PnL, when it trades this market. */
  marketMaker?: { cost: Wad; perpPnl: Wad; spotPnl: Wad };
}

export interface RunFacts {
  scenario: Scenario;
  seed: number;
  blocks: number;
  insuranceFundDelta: Wad;
  poolPnl: Wad;
  actions: ActionCounts;
  timeline: readonly TimelineRow[];
  liquidations: readonly LiquidationEvent[];
  markets: readonly MarketFacts[];
  attacker?: AttackerSummary;
  coinMargined?: CoinMarketSummary[];
}

export function buildSummary(facts: RunFacts): Summary {
  return {
    scenario: facts.scenario.name,
    seed: facts.seed,
    durationSec: facts.scenario.durationSec,
    stepSec: facts.scenario.stepSec,
    blocks: facts.blocks,
    actions: facts.actions,
    markets: facts.markets.map((m) => marketSummary(facts, m)),
    ...(facts.attacker === undefined ? {} : { attacker: facts.attacker }),
    ...(facts.coinMargined === undefined ? {} : { coinMargined: facts.coinMargined }),
  };
}

function marketSummary(facts: RunFacts, m: MarketFacts): MarketSummary {
  const rows = facts.timeline.map((r) => r.markets.find((x) => x.symbol === m.symbol)!);
  const events = facts.liquidations.filter((l) => l.market === m.symbol);
  const liquidatedIds = new Set(events.map((e) => e.positionId));
  const move = (pick: (row: (typeof rows)[number]) => Wad) => peakMove(rows.map(pick), pick(rows[0]!));
  const mm = m.marketMaker;
  return {
    symbol: m.symbol,
    traders: m.traders.length,
    tradersLiquidated: m.traders.filter((t) => liquidatedIds.has(t.positionId)).length,
    liquidations: events.length,
    liquidatedNotional: events.reduce((s, e) => s + e.notional, 0n),
    tradersLoss: m.traders.reduce((s, t) => s + t.deposit - t.value, 0n),
    marketMakerCost: mm?.cost ?? 0n,
    marketMakerPnl: mm ? mm.perpPnl + mm.spotPnl : 0n,
    marketMakerPnlPerp: mm?.perpPnl ?? 0n,
    marketMakerPnlSpot: mm?.spotPnl ?? 0n,
    insuranceFundDelta: facts.insuranceFundDelta,
    poolPnl: facts.poolPnl,
    fundingPaidLongs: m.fundingPaidLongs,
    fundingPaidShorts: m.fundingPaidShorts,
    badDebt: m.badDebt,
    adlCount: m.adlCount,
    peakMove: {
      spot: move((r) => r.spot),
      index: move((r) => r.index),
      mark: move((r) => r.mark),
      last: move((r) => r.last),
    },
    cascadeDepth: cascadeDepth(events),
    maxLiquidationsPerBlock: maxLiquidationsPerBlock(events),
    medianCrossingToLiquidationSec: medianCrossingToLiquidationSec(events),
    squeeze: squeezeEconomics(m.risk.reserveUsd, SPOT_FEE, m.risk.reference, m.risk.positions),
  };
}
