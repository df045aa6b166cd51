/**
 * ADL job. A market is open to auto-deleveraging while it carries uncovered bad debt or its traders'
 * unrealised profit exceeds its configured share of the pool (MarketLib.adlActive, evaluated here on
 * the market's projection). While it is, the keeper ranks the profitable positions on the winning
 * side by PerpLens.adlScore (pnl% of margin * effective leverage, the exchanges' rule), highest
 * first, and closes them one by one with autoDeleverage, each confirmed by a static call; the first
 * AdlNotActive means the market is healthy again and the job stops there.
 */
import { FastAbi } from "../../lib/abi";
import { MarketLib, PositionLib, WadMath } from "../../lib/math";
import type { PerpEngine, PerpLens } from "../../typechain-types";
import { positionIdHex } from "../book";
import type { PositionBook } from "../book";
import { revertInfo } from "../chain/errors";
import type { MarketSnapshot } from "../markets";
import { exchangeErrors } from "../transactor";
import type { JobContext } from "./context";
import { describeOutcome, isRpcOutage } from "./context";

/** Unrealised PnL of each side at the projected mark, from the aggregate entry notionals (MarketLib.sidePnl). */
export function sidePnl(market: MarketSnapshot): { long: bigint; short: bigint } {
  const { state, mark } = market.projected;
  return {
    long: MarketLib.sidePnl(state, mark, true),
    short: MarketLib.sidePnl(state, mark, false),
  };
}

/** MarketLib.adlActive on the projection, given the pool's assets. */
export function adlActive(market: MarketSnapshot, poolAssets: bigint): boolean {
  const { state, mark } = market.projected;
  return MarketLib.adlActive(state, mark, poolAssets, market.config.maxPnlFactor);
}

export interface Deleveraging {
  id: bigint;
  marketId: bigint;
  closedSize: bigint;
  markPrice: bigint;
  realizedPnl: bigint;
  haircut: bigint;
  score: bigint;
  block: number;
}

export interface AdlResult {
  deleveraged: Deleveraging[];
  rpcOutage: boolean;
}

export interface AdlJobOptions {
  /** autoDeleverage calls per market per tick at most */
  maxPerTick: number;
}

export const DEFAULT_ADL_OPTIONS: AdlJobOptions = { maxPerTick: 25 };

export class AdlJob {
  private readonly errors = exchangeErrors();

  constructor(
    private readonly engine: PerpEngine,
    private readonly lens: PerpLens,
    /** The vault's pool assets at a block (Vault.poolAssets, or a host's reading of it). */
    private readonly readPoolAssets: (block: number) => Promise<bigint>,
    private readonly options: AdlJobOptions,
    private readonly ctx: JobContext,
  ) {}

  async run(positions: PositionBook, markets: ReadonlyMap<bigint, MarketSnapshot>): Promise<AdlResult> {
    const result: AdlResult = { deleveraged: [], rpcOutage: false };
    let poolAssets: bigint | undefined;
    for (const market of markets.values()) {
      const { long, short } = sidePnl(market);
      // The pool's assets matter only when the traders are in profit and no bad debt decides already.
      if (market.projected.state.uncoveredBadDebt === 0n && long + short <= 0n) continue;
      poolAssets ??= await this.readPoolAssets(market.block);
      if (!adlActive(market, poolAssets)) continue;
      const ranked = await this.rank(positions, market, { long: long > 0n, short: short > 0n });
      this.ctx.log.info(
        {
          marketId: market.marketId,
          uncoveredBadDebt: market.projected.state.uncoveredBadDebt,
          candidates: ranked.length,
        },
        "ADL active",
      );
      const done = await this.deleverage(positions, market, ranked.slice(0, this.options.maxPerTick));
      result.deleveraged.push(...done.deleveraged);
      if (done.rpcOutage) return { ...result, rpcOutage: true };
    }
    return result;
  }

  /** Profitable positions on a winning side, by adlScore, highest first (ties: lower id first). */
  private async rank(
    positions: PositionBook,
    market: MarketSnapshot,
    winning: { long: boolean; short: boolean },
  ): Promise<{ id: bigint; score: bigint }[]> {
    const { mark, state } = market.projected;
    const candidates = positions.idsIn(market.marketId).filter((id) => {
      const p = positions.get(id)!;
      if (!(p.size > 0n ? winning.long : winning.short)) return false;
      const profit =
        PositionLib.pnl(p.size, p.entryPrice, mark) -
        PositionLib.pendingFunding(p.size, p.fundingSnapshot, state.fundingIndex);
      return profit > 0n;
    });
    const scores = await Promise.all(candidates.map((id) => this.lens.adlScore(id, { blockTag: market.block })));
    return candidates
      .map((id, i) => ({ id, score: scores[i].score }))
      .sort((a, b) => (a.score !== b.score ? (a.score > b.score ? -1 : 1) : a.id < b.id ? -1 : 1));
  }

  private async deleverage(
    positions: PositionBook,
    market: MarketSnapshot,
    ranked: { id: bigint; score: bigint }[],
  ): Promise<AdlResult> {
    const { transactor, metrics } = this.ctx;
    const log = this.ctx.log.child({ marketId: market.marketId });
    const deleveraged: Deleveraging[] = [];
    for (const { id, score } of ranked) {
      if (this.ctx.stopping()) break;
      const size = WadMath.abs(positions.get(id)!.size);
      try {
        await this.engine.autoDeleverage.staticCall(id, size, { from: this.ctx.from() });
      } catch (error) {
        const revert = revertInfo(error, this.errors);
        if (revert === undefined) throw error;
        if (revert.errorName === "AdlNotActive") break;
        log.debug({ id: positionIdHex(id), revert: revert.reason }, "autoDeleverage would revert; next position");
        continue;
      }
      const outcome = await transactor.send({
        to: this.engine.target.toString(),
        data: this.engine.interface.encodeFunctionData("autoDeleverage", [id, size]),
        label: `autoDeleverage(${id})`,
      });
      if (outcome.kind === "dryRun") {
        log.info({ id: positionIdHex(id), score, size }, "dry run: would auto-deleverage");
        continue;
      }
      if (outcome.kind !== "mined") {
        log[outcome.kind === "lostRace" ? "info" : "warn"](
          { id: positionIdHex(id), ...describeOutcome(outcome) },
          "autoDeleverage did not go through",
        );
        if (isRpcOutage(outcome)) return { deleveraged, rpcOutage: true };
        if (outcome.kind === "lostRace" && outcome.errorName === "AdlNotActive") break;
        continue;
      }
      for (const entry of outcome.receipt.logs) {
        const parsed = FastAbi.of(this.engine.interface).parseLog(entry);
        if (parsed?.name !== "AutoDeleveraged") continue;
        const a = parsed.args;
        const record: Deleveraging = {
          id: a.id,
          marketId: a.marketId,
          closedSize: a.closedSize,
          markPrice: a.markPrice,
          realizedPnl: a.realizedPnl,
          haircut: a.haircut,
          score,
          block: outcome.receipt.blockNumber,
        };
        deleveraged.push(record);
        metrics?.adl.inc();
        log.info({ ...record, id: positionIdHex(record.id) }, "auto-deleveraged");
      }
    }
    return { deleveraged, rpcOutage: false };
  }
}
