/**
 * The engine's decisions, replayed in TypeScript on lib/math.ts: a market projected to a timestamp (the
 * engine's `_price` + `_sync`), the liquidation plan (full, or partial down to the size that restores
 * health), the liquidation loop of `liquidate`/`liquidateMany` with its cascade, and the ADL gate. The
 * fuzz predicts each keeper action with these before it sends it, then holds the chain to the prediction.
 */
import {
  DecimalFloat,
  MarginMath,
  MarketLib,
  PositionLib,
  WadMath,
  type MarketConfig,
  type MarketState,
  type Position,
  type Tier,
} from "../../lib/math";
import type { FuzzMarket, MarketRead } from "./world";

/** A market as a transaction at `nowTs` sees it after `_price` and `_sync`. */
export interface SyncedMarket {
  state: MarketState;
  index: bigint;
  mark: bigint;
}

/** The index `_price` uses: the oracle's while a source is fresh, else its last one. */
export function indexOf(read: MarketRead): bigint {
  return read.fresh ? read.oracleIndex : read.lastIndex;
}

/** `_price` + MarketLib.asOfNow at `nowTs`, with the oracle's answers at that timestamp. */
export function syncAt(cfg: MarketConfig, read: MarketRead, nowTs: bigint): SyncedMarket {
  const index = indexOf(read);
  const { state, mark } = MarketLib.asOfNow(cfg, read.state, index, nowTs);
  return { state, index, mark };
}

export function markOf(cfg: MarketConfig, st: MarketState, index: bigint, nowTs: bigint): bigint {
  return MarketLib.markOf(cfg, st, index, nowTs);
}

/**
 * Whether the engine's `_price` refuses: no fresh source and (risk increasing, or the oracle went stale
 * longer than the grace period ago).
 */
export function noFreshPrice(cfg: MarketConfig, read: MarketRead, nowTs: bigint, riskIncreasing: boolean): boolean {
  if (read.fresh) return false;
  return riskIncreasing || read.lastIndex === 0n || nowTs - read.freshUntil > cfg.oracleGracePeriod;
}

/* ------------------------------------------------------------------ OPEN INTEREST */

/** `_removeOpenInterest`: takes `p` whole out of the market's exact aggregates (MarketLib.aggregate). */
export function removeOpenInterest(st: MarketState, p: Position): MarketState {
  return MarketLib.aggregate(st, p.size, p.entryPrice, p.fundingSnapshot, -1n);
}

/** `_addOpenInterest` without the cap: puts `p` whole back into the aggregates. */
export function addOpenInterest(st: MarketState, p: Position): MarketState {
  return MarketLib.aggregate(st, p.size, p.entryPrice, p.fundingSnapshot, 1n);
}

/* ------------------------------------------------------------------ LIQUIDATION */

export interface LiquidationPlan {
  /** signed size closed at mark */
  closed: bigint;
  reward: bigint;
  remainingMargin: bigint;
  full: boolean;
}

/** `_liquidationReward`: min(equity, max(rate * closed notional, minimum fee)); 0 without equity. */
export function liquidationReward(cfg: MarketConfig, closeSize: bigint, mark: bigint, equity: bigint): bigint {
  if (equity <= 0n) return 0n;
  const fee = WadMath.max(
    WadMath.mulDown(WadMath.mulDown(closeSize, mark), cfg.liquidationFeeRate),
    cfg.minLiquidationFee,
  );
  return WadMath.min(equity, fee);
}

/** `_planLiquidation`: all of it, unless above the first tier a smaller remainder is healthy with the buffer. */
export function planLiquidation(
  cfg: MarketConfig,
  tiers: readonly Tier[],
  p: Position,
  net: bigint,
  equity: bigint,
  mark: bigint,
): LiquidationPlan {
  const absSize = WadMath.abs(p.size);
  const notional = WadMath.mulDown(absSize, mark);
  if (equity > 0n && cfg.partialLiquidationBuffer !== 0n && notional > tiers[0].notionalCap) {
    const keep = WadMath.divDown(
      MarginMath.partialRemainder(tiers, notional, equity, cfg.liquidationFeeRate, cfg.partialLiquidationBuffer),
      mark,
    );
    if (keep !== 0n) {
      const closed = p.size > 0n ? absSize - keep : -(absSize - keep);
      const reward = liquidationReward(cfg, absSize - keep, mark, equity);
      const remaining = net + PositionLib.pnl(closed, p.entryPrice, mark) - reward;
      if (remaining > 0n && !MarginMath.isLiquidatable(tiers, p.size - closed, p.entryPrice, remaining, mark)) {
        return { closed, reward, remainingMargin: remaining, full: false };
      }
    }
  }
  return { closed: p.size, reward: liquidationReward(cfg, absSize, mark, equity), remainingMargin: 0n, full: true };
}

export interface PredictedLiquidation {
  id: bigint;
  marketId: bigint;
  mark: bigint;
  equity: bigint;
  plan: LiquidationPlan;
}

/**
 * The liquidations `liquidateMany(ids)` performs at `nowTs` (and `liquidate(id)` with one id), in order:
 * each position is checked at the mark left by the liquidations before it.
 */
export function predictLiquidations(
  markets: readonly FuzzMarket[],
  reads: ReadonlyMap<bigint, MarketRead>,
  positions: ReadonlyMap<bigint, Position>,
  ids: readonly bigint[],
  nowTs: bigint,
): PredictedLiquidation[] {
  const working = new Map(positions);
  const synced = new Map<bigint, SyncedMarket>();
  const out: PredictedLiquidation[] = [];
  for (const id of ids) {
    const p = working.get(id);
    if (!p || p.size === 0n) continue;
    const m = markets.find((x) => x.marketId === p.marketId)!;
    let s = synced.get(m.marketId);
    if (!s) {
      s = syncAt(m.cfg, reads.get(m.marketId)!, nowTs);
      synced.set(m.marketId, s);
    }
    const net = PositionLib.netMargin(p, s.state.fundingIndex);
    if (!MarginMath.isLiquidatable(m.tiers, p.size, p.entryPrice, net, s.mark)) continue;
    const equity = net + PositionLib.pnl(p.size, p.entryPrice, s.mark);
    const plan = planLiquidation(m.cfg, m.tiers, p, net, equity, s.mark);
    out.push({ id, marketId: m.marketId, mark: s.mark, equity, plan });
    let st = removeOpenInterest(s.state, p);
    const size = p.size - plan.closed;
    // A partial remainder's snapshot moves to the index (PositionLib.update); a full liquidation deletes.
    const rest: Position =
      size === 0n
        ? { ...p, size, entryPrice: 0n, margin: 0n, fundingSnapshot: 0n }
        : {
            ...p,
            size,
            margin: plan.remainingMargin,
            fundingSnapshot: DecimalFloat.snapshot(st.fundingIndex, size > 0n),
          };
    if (rest.size !== 0n) st = addOpenInterest(st, rest);
    st = MarketLib.samplePremium(m.cfg, st, s.index);
    working.set(id, rest);
    synced.set(m.marketId, { state: st, index: s.index, mark: markOf(m.cfg, st, s.index, nowTs) });
  }
  return out;
}

/* ------------------------------------------------------------------ ADL */

/** MarketLib.sidePnl: one side's unrealised PnL at mark from the exact aggregates. */
export function sidePnl(st: MarketState, mark: bigint, isLong: boolean): bigint {
  return MarketLib.sidePnl(st, mark, isLong);
}

/** MarketLib.adlActive on the synced market: uncovered bad debt, or traders' profit above the cap. */
export function adlActive(cfg: MarketConfig, s: SyncedMarket, poolAssets: bigint): boolean {
  return MarketLib.adlActive(s.state, s.mark, poolAssets, cfg.maxPnlFactor);
}

/** The refusal `autoDeleverage(id, size)` must give at `nowTs`, or undefined when it must succeed. */
export function adlRefusal(
  m: FuzzMarket,
  read: MarketRead,
  p: Position | undefined,
  size: bigint,
  poolAssets: bigint,
  nowTs: bigint,
): string | undefined {
  if (!p || p.size === 0n) return "PositionNotFound";
  if (size === 0n) return "ZeroSize";
  const absSize = WadMath.abs(p.size);
  if (size > absSize) return "SizeExceedsPosition";
  if (noFreshPrice(m.cfg, read, nowTs, false)) return "NoFreshPrice";
  const s = syncAt(m.cfg, read, nowTs);
  if (!adlActive(m.cfg, s, poolAssets)) return "AdlNotActive";
  const isLong = p.size > 0n;
  const net = PositionLib.netMargin(p, s.state.fundingIndex);
  const profit = PositionLib.pnl(p.size, p.entryPrice, s.mark) - (p.margin - net);
  if (profit <= 0n) return "NotProfitable";
  if (sidePnl(s.state, s.mark, isLong) <= 0n) return "NotWinningSide";
  const closed = isLong ? size : -size;
  const realized = payableProfit(m.cfg, s.state, s.mark, poolAssets, PositionLib.pnl(closed, p.entryPrice, s.mark));
  const haircut = realized > 0n ? WadMath.min(realized, s.state.uncoveredBadDebt) : 0n;
  if (net + realized - haircut <= 0n) return "NotProfitable";
  return undefined;
}

/**
 * `PerpEngine._payableProfit`, the rule of a close and of ADL: MarketLib.payableProfit against the traders'
 * net unrealised PnL at `mark` (the position still in the aggregates `st`) and maxPnlFactor x `ledger`.
 */
export function payableProfit(
  cfg: MarketConfig,
  st: MarketState,
  mark: bigint,
  ledger: bigint,
  realized: bigint,
): bigint {
  const cap = WadMath.mulDown(ledger, cfg.maxPnlFactor);
  return MarketLib.payableProfit(realized, MarketLib.tradersPnl(st, mark), cap);
}

/* ------------------------------------------------------------------ TRADES */

/**
 * `_averageEntry`: size-weighted entry after adding `delta` at `fill`, on the grid a position stores (nine
 * significant digits); up for a long, down for a short.
 */
export function averageEntry(p: Position, delta: bigint, fill: bigint): bigint {
  const absOld = WadMath.abs(p.size);
  const absNew = absOld + WadMath.abs(delta);
  const num = absOld * p.entryPrice + WadMath.abs(delta) * fill;
  const long = delta > 0n;
  return DecimalFloat.entry(long ? WadMath.divRoundUp(num, absNew) : num / absNew, long);
}
