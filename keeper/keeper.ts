/**
 * The keeper engine. One `tick()` per new block:
 *   1. the indexer applies the events since the last block (positions, orders, markets), after undoing
 *      the blocks a reorg replaced; a chain reset under it is rebuilt from the engine's creation block
 *      when the engine still has code there, and stops the keeper (ChainGoneError) when it has none;
 *   2. each market is read once (config, tiers, stored state, index) and projected to the keeper's
 *      clock with lib/math;
 *   3. the health tracker recomputes the liquidation prices that changed (a position that changed;
 *      a whole market when its funding index or tiers moved) and finds the positions the mark has
 *      crossed without touching the healthy ones;
 *   4. liquidations: the crossed positions sent to liquidateMany in batches, all at once, in rounds
 *      while each round's liquidations push further positions over (a cascade); a sharded keeper sends
 *      its own shard's, and another shard's once it has stayed liquidatable `takeoverBlocks` blocks.
 *      The health index is the engine's own math on the book and the new mark, so a crossed position
 *      goes out without a read: on a price move every liquidation leaves in the same tick, with no
 *      round trip between the move's block and the batches (a lens read of 1,000 positions costs a
 *      block interval on `hardhat node`). Only a position the chain already refused while the book
 *      said crossed (liquidateMany skipped it: another keeper was first, or the clock ran ahead of
 *      the block) is confirmed by the lens before it is sent again, so a disagreement costs one
 *      skipped slot, not a batch every block;
 *   5. funding settled on markets past their boundary; due limit / take-profit / stop-loss orders
 *      executed; ADL where the market is open to it;
 *   6. when those sent anything, liquidations once more: their blocks moved time, skew and mark.
 *
 * One Keeper serves one exchange (a venue: the USD-margined one, or a coin's coin-margined one, whose
 * engine runs on 1/P so lib/math's mirror applies unchanged). The CLI (keeper/main.ts, via
 * keeper/service.ts) runs one per venue against a JSON-RPC node, sharing its TxSender; the simulator
 * runs the same class in-process over a plain signer.
 */
import type { Signer } from "ethers";
import type { Exchange } from "../lib/contracts";
import { OrderList, PositionBook } from "./book";
import type { KeeperState } from "./book";
import { HealthTracker } from "./health";
import { ChainResetError, EventIndexer } from "./indexer";
import type { BlockRef, RangeRefusal, SyncReport } from "./indexer";
import { AdlJob, DEFAULT_ADL_OPTIONS } from "./jobs/adl";
import type { AdlJobOptions, Deleveraging } from "./jobs/adl";
import type { JobContext } from "./jobs/context";
import { FundingJob } from "./jobs/funding";
import type { FundingSettlement } from "./jobs/funding";
import { DEFAULT_LIQUIDATION_OPTIONS, LiquidationJob } from "./jobs/liquidations";
import type { LiquidationJobOptions, LiquidationRecord } from "./jobs/liquidations";
import { OrdersJob } from "./jobs/orders";
import type { OrderExecution } from "./jobs/orders";
import { createSilentLogger } from "./log";
import type { Logger } from "./log";
import { MarketReader, canLiquidate } from "./markets";
import type { MarketSnapshot, MarketSource } from "./markets";
import type { VenueMetrics } from "./metrics";
import { SignerTransactor } from "./transactor";
import type { Transactor } from "./transactor";
import { SINGLE_SHARD, takeoverSplit } from "./shard";
import type { Shard } from "./shard";

export type { LiquidationRecord } from "./jobs/liquidations";

/** The head block as the clock sees it. */
export interface HeadBlock {
  number: number;
  /** seconds */
  timestamp: number;
  gasLimit?: bigint;
  hash?: string;
  parentHash?: string;
}

/**
 * The chain was reset under the keeper and the engine has no code at its address any more (a node
 * restarted and not redeployed): nothing left to keep. The CLI exits 2 with this message.
 */
export class ChainGoneError extends Error {
  override name = "ChainGoneError";
}

/** The chain was reset and the engine has no code yet: a redeploy may follow within the grace period. */
export class ChainResetPendingError extends Error {
  override name = "ChainResetPendingError";
}

export interface KeeperOptions extends LiquidationJobOptions {
  /** The deployment block: the indexer starts there. */
  fromBlock: number;
  log?: Logger;
  /** The series of the venue this keeper serves (KeeperMetrics.venue). */
  metrics?: VenueMetrics;
  /**
   * Where each tick's market reads come from; a MarketReader over the signer's provider unless given (the
   * simulator passes its own, which shares one read per block with the runner).
   */
  markets?: MarketSource;
  /**
   * How transactions go out; a SignerTransactor over the signer unless given (the CLI passes its TxSender).
   * Keepers of several venues that sign with one key must share one transactor (keeper/venues.ts): each
   * of two would number its nonces from the same count.
   */
  transactor?: Transactor;
  /**
   * The time, in seconds, a transaction sent now would see, which markets are projected to. The head
   * block's timestamp unless given; the CLI takes the later of that and the wall clock, so a mark that
   * moves with time alone (the basis EMA, P1) and a funding boundary are seen on a chain that mines
   * no block.
   */
  clock?: (head: HeadBlock) => bigint;
  /** Jobs besides liquidations; all on unless turned off. */
  funding: boolean;
  orders: boolean;
  adl: boolean;
  /** Remove expired and orphaned orders for their owners. */
  cleanupOrders: boolean;
  adlOptions: AdlJobOptions;
  /** Blocks per eth_getLogs page (halved while the node refuses a range). */
  logPageSize?: number;
  /** This keeper's share of the positions, by id; the whole book unless given. */
  shard: Shard;
  /** Blocks another shard's position stays liquidatable before this keeper takes it over. */
  takeoverBlocks: number;
  /** How long a reset chain may go without code at the engine (a redeploy on the way) before ChainGoneError. */
  resetGraceMs: number;
  /** Told while a chain change is being resolved (a reason), and when it is (undefined): /health listens. */
  onChainChange?: (reason: string | undefined) => void;
}

export const DEFAULT_KEEPER_OPTIONS: Omit<KeeperOptions, "fromBlock"> = {
  ...DEFAULT_LIQUIDATION_OPTIONS,
  funding: true,
  orders: true,
  adl: true,
  cleanupOrders: true,
  adlOptions: DEFAULT_ADL_OPTIONS,
  shard: SINGLE_SHARD,
  takeoverBlocks: 3,
  resetGraceMs: 30_000,
};

export interface TickReport {
  block: number;
  positionsTracked: number;
  ordersTracked: number;
  liquidations: LiquidationRecord[];
  /** Positions this keeper sent that another keeper liquidated first. */
  lostRace: bigint[];
  funding: FundingSettlement[];
  orders: OrderExecution[];
  adl: Deleveraging[];
  /** False when a transaction could not be sent because the RPC is down: tick again. */
  complete: boolean;
}

/** A tick's report before any job has run: nothing done, complete. */
export function emptyTickReport(block: number): TickReport {
  return {
    block,
    positionsTracked: 0,
    ordersTracked: 0,
    liquidations: [],
    lostRace: [],
    funding: [],
    orders: [],
    adl: [],
    complete: true,
  };
}

export class Keeper {
  readonly book = new PositionBook();
  readonly orderList = new OrderList();
  readonly health = new HealthTracker();
  private readonly state: KeeperState;
  private readonly indexer: EventIndexer;
  private readonly reader: MarketSource;
  private readonly liquidations: LiquidationJob;
  private readonly funding: FundingJob;
  private readonly orders: OrdersJob;
  private readonly adl: AdlJob;
  private readonly options: KeeperOptions;
  private readonly log: Logger;
  private readonly metrics: VenueMetrics | undefined;
  private readonly clock: (head: HeadBlock) => bigint;
  /** When this keeper first saw each crossed position liquidatable (clock seconds). */
  private readonly crossedAt = new Map<bigint, bigint>();
  /** The block at which this keeper first saw each of another shard's positions liquidatable. */
  private readonly foreignSince = new Map<bigint, number>();
  /** Crossed positions that a liquidateMany of ours skipped: the lens confirms them before the next send. */
  private readonly refused = new Set<bigint>();
  private readonly engineAddress: string;
  /** When a reset chain was first seen without code at the engine (ms), while waiting for a redeploy. */
  private goneSince: number | undefined;
  private from = "";
  private stopRequested = false;
  /** How long the last health update took; a health scan is that plus finding the candidates. */
  private lastUpdateNs = 0n;

  constructor(
    exchange: Exchange,
    private readonly signer: Signer,
    options: Partial<KeeperOptions> & { fromBlock: number },
  ) {
    const opts: KeeperOptions = { ...DEFAULT_KEEPER_OPTIONS, ...options };
    this.options = opts;
    this.log = opts.log ?? createSilentLogger();
    this.metrics = opts.metrics;
    this.clock = opts.clock ?? ((head) => BigInt(head.timestamp));
    const provider = signer.provider;
    if (!provider) throw new Error("the keeper's signer needs a provider");
    this.state = {
      positions: this.book,
      orders: this.orderList,
      markets: new Set([...exchange.markets.values()].map((m) => m.marketId)),
    };
    // Reads and static calls go through the provider (a static call from the keeper's address would be
    // refused by a contract handle bound to another signer); transactions through the transactor.
    const engine = exchange.engine.connect(provider);
    const lens = exchange.lens.connect(provider);
    const orderBook = exchange.orderBook.connect(provider);
    this.engineAddress = exchange.engine.target.toString();
    this.indexer = new EventIndexer(
      { engine, orderBook: opts.orders ? orderBook : undefined },
      provider,
      opts.fromBlock,
      {
        pageSize: opts.logPageSize,
        onRangeRefused: (refusal: RangeRefusal) =>
          this.log.warn(
            {
              fromBlock: refusal.fromBlock,
              toBlock: refusal.toBlock,
              nextPageSize: refusal.nextPageSize,
              err: refusal.error,
            },
            "the node refused an eth_getLogs range; halving it",
          ),
      },
    );
    this.reader =
      opts.markets ?? new MarketReader(exchange.admin.connect(provider), exchange.oracle.connect(provider), provider);
    const transactor = opts.transactor ?? new SignerTransactor(signer, { dryRun: opts.dryRun });
    const context = (job: string): JobContext => ({
      transactor,
      log: this.log.child({ job }),
      metrics: this.metrics,
      dryRun: opts.dryRun,
      from: () => this.from,
      stopping: () => this.stopRequested,
    });
    this.liquidations = new LiquidationJob(engine, lens, opts, context("liquidations"));
    this.funding = new FundingJob(engine, context("funding"));
    this.orders = new OrdersJob(orderBook, { cleanup: opts.cleanupOrders }, context("orders"));
    const vault = exchange.vault.connect(provider);
    const poolAssets =
      opts.markets?.poolAssets?.bind(opts.markets) ?? ((block: number) => vault.poolAssets({ blockTag: block }));
    this.adl = new AdlJob(engine, lens, poolAssets, opts.adlOptions, context("adl"));
  }

  /** The first block the indexer has not applied yet. */
  get cursor(): number {
    return this.indexer.cursor;
  }

  /** The newest block the indexer applied, with its hash. */
  get lastApplied(): BlockRef | undefined {
    return this.indexer.lastApplied;
  }

  get stopping(): boolean {
    return this.stopRequested;
  }

  /** From now on no job starts a new transaction; the ones in flight finish. */
  requestStop(): void {
    this.stopRequested = true;
  }

  /** Brings the book up to the head without acting (a keeper that only watches). */
  async syncOnly(): Promise<void> {
    await this.sync(await this.head());
    this.updateGauges();
  }

  async tick(): Promise<TickReport> {
    this.from ||= await this.signer.getAddress();
    let head = await this.head();
    let markets = await this.refresh(head);
    const report = emptyTickReport(head.number);

    const first = await this.liquidationRounds(report, head, markets, true);
    if (first.rpcOutage) return this.finish(report, false);
    ({ head, markets } = first);

    // Whether the other jobs' own transactions moved the chain (time, skew, the mark).
    let moved = false;
    if (this.options.funding && !this.stopRequested) {
      const funding = await this.funding.run(markets);
      report.funding = funding.settled;
      moved ||= funding.settled.length > 0;
      if (funding.rpcOutage) return this.finish(report, false);
    }
    if (this.options.orders && !this.stopRequested) {
      const orders = await this.orders.run(this.orderList, this.book, markets);
      report.orders = orders.executed;
      if (orders.rpcOutage) return this.finish(report, false);
      if (orders.executed.length > 0 || orders.cleanedUp.length > 0) {
        moved = true;
        head = await this.head();
        markets = await this.refresh(head);
      }
    }
    if (this.options.adl && !this.stopRequested) {
      const adl = await this.adl.run(this.book, markets);
      report.adl = adl.deleveraged;
      moved ||= adl.deleveraged.length > 0;
      if (adl.rpcOutage) return this.finish(report, false);
    }
    // Those blocks may have pushed positions over (a TWAP index creeps with every second a pump holds,
    // a fill moves the skew): liquidations once more, so the tick ends with none left that it could take.
    if (moved && !this.options.dryRun && !this.stopRequested) {
      const now = await this.head();
      // The orders job re-reads after its fills; read again only if funding or ADL mined since.
      if (now.number !== head.number) [head, markets] = [now, await this.refresh(now)];
      const last = await this.liquidationRounds(report, head, markets, false);
      if (last.rpcOutage) return this.finish(report, false);
    }
    return this.finish(report, true);
  }

  /**
   * Liquidation rounds from `head`: candidates from the health index (the lens confirms only those
   * the chain refused before), sent in batches; each round's liquidations may push further positions over (a cascade), which the next
   * round takes. Returns the head and markets it ended on.
   */
  private async liquidationRounds(
    report: TickReport,
    head: HeadBlock,
    markets: Map<bigint, MarketSnapshot>,
    firstOfTick: boolean,
  ): Promise<{ head: HeadBlock; markets: Map<bigint, MarketSnapshot>; rpcOutage: boolean }> {
    for (let round = 1; round <= this.options.maxRounds && !this.stopRequested; round++) {
      const scanStart = process.hrtime.bigint();
      const crossed = [...markets.values()]
        .filter((m) => canLiquidate(m))
        .map((m) => this.health.candidates(m.marketId, m.projected.mark));
      const candidates = crossed.flat();
      const scanNs = process.hrtime.bigint() - scanStart + this.lastUpdateNs;
      this.metrics?.healthScanSeconds.observe(Number(scanNs) / 1e9);
      if (round === 1 && firstOfTick) this.forgetHealed(candidates);
      if (candidates.length === 0) break;
      const confirmed = await this.toSend(candidates);
      const nowSec = this.clock(head);
      for (const id of confirmed) if (!this.crossedAt.has(id)) this.crossedAt.set(id, nowSec);
      const split = takeoverSplit(
        confirmed,
        this.options.shard,
        this.foreignSince,
        head.number,
        this.options.takeoverBlocks,
      );
      this.log.debug(
        { round, candidates: candidates.length, confirmed: confirmed.length, otherShards: split.waiting.length },
        "liquidation candidates",
      );
      if (split.takeover.length > 0) {
        this.log.warn(
          { round, ids: split.takeover.map((id) => "0x" + id.toString(16)), blocks: this.options.takeoverBlocks },
          "taking over another shard's liquidations: liquidatable for too long",
        );
      }
      const take = [...split.own, ...split.takeover];
      if (take.length === 0) break;
      const ok = new Set(take);
      const byMarket = crossed.map((ids) => ids.filter((id) => ok.has(id)));
      const result = await this.liquidations.liquidate(byMarket, round, head.gasLimit);
      report.liquidations.push(...result.records);
      report.lostRace.push(...result.lostRace);
      for (const id of result.lostRace) this.refused.add(id);
      await this.observeCrossings(result.records);
      if (result.rpcOutage) return { head, markets, rpcOutage: true };
      if (this.options.dryRun || result.records.length === 0) break;
      head = await this.head();
      markets = await this.refresh(head);
    }
    return { head, markets, rpcOutage: false };
  }

  /**
   * The candidates to send: all of them but those the chain refused before, which only go out again
   * if the lens says they are liquidatable now.
   */
  private async toSend(candidates: bigint[]): Promise<bigint[]> {
    const doubtful = candidates.filter((id) => this.refused.has(id));
    if (doubtful.length === 0) return candidates;
    const confirmed = new Set(await this.liquidations.confirm(doubtful));
    this.log.debug({ doubtful: doubtful.length, confirmed: confirmed.size }, "refused before: confirmed by the lens");
    return candidates.filter((id) => !this.refused.has(id) || confirmed.has(id));
  }

  private provider() {
    return this.signer.provider!;
  }

  private async head(): Promise<HeadBlock> {
    const block = await this.provider().getBlock("latest");
    if (!block) throw new Error("the node returned no latest block");
    return {
      number: block.number,
      timestamp: block.timestamp,
      gasLimit: block.gasLimit,
      hash: block.hash ?? undefined,
      parentHash: block.parentHash,
    };
  }

  /**
   * The indexer's sync to `head`, with what it found told: a reorg is logged and counted; a chain reset
   * is rebuilt from the engine's creation block when the engine has code, else ends in ChainGoneError.
   */
  private async sync(head: HeadBlock): Promise<void> {
    const ref: BlockRef | number =
      head.hash === undefined ? head.number : { number: head.number, hash: head.hash, parentHash: head.parentHash };
    let report: SyncReport;
    try {
      report = await this.indexer.syncTo(ref, this.state);
    } catch (error) {
      if (!(error instanceof ChainResetError)) throw error;
      this.options.onChainChange?.(error.message);
      await this.rebuildAfterReset(error, head.number);
      report = await this.indexer.syncTo(ref, this.state);
      this.options.onChainChange?.(undefined);
    }
    if (report.reorg !== undefined) {
      this.metrics?.reorgs.inc();
      this.log.warn(
        { ...report.reorg, head: head.number, positions: this.book.size, orders: this.orderList.size },
        `reorg: undid ${report.reorg.depth} block(s) above block ${report.reorg.forkBlock}; following the new branch`,
      );
    }
    if (report.rebuilt) {
      this.metrics?.reorgs.inc();
      this.log.warn(
        { head: head.number, fromBlock: this.indexer.startBlock },
        "reorg deeper than the undo logs: rebuilt the state from the deployment block",
      );
    }
    // In the same turn as the sync's last change: the gauges never lag the book they count.
    this.updateGauges();
  }

  /** A chain reset: rebuild from where the engine was created on the new chain, or stop if it has no code. */
  private async rebuildAfterReset(reset: ChainResetError, headNumber: number): Promise<void> {
    const provider = this.provider();
    if ((await provider.getCode(this.engineAddress, headNumber)) === "0x") {
      this.goneSince ??= Date.now();
      const waitedMs = Date.now() - this.goneSince;
      const gone = `${reset.message}, and there is no contract at the engine ${this.engineAddress}`;
      if (waitedMs >= this.options.resetGraceMs) {
        throw new ChainGoneError(`${gone} any more: deploy again and restart the keeper with the new deployment file`);
      }
      const message = `${gone}: waiting up to ${this.options.resetGraceMs / 1000} s for a redeploy at the same addresses`;
      this.options.onChainChange?.(message);
      throw new ChainResetPendingError(message);
    }
    this.goneSince = undefined;
    this.metrics?.chainResets.inc();
    const created = await creationBlock(provider, this.engineAddress, headNumber);
    this.log.error(
      { engine: this.engineAddress, createdAt: created, head: headNumber },
      `${reset.message}; the engine has code at the same address (redeployed): rebuilding from block ${created}`,
    );
    this.crossedAt.clear();
    this.foreignSince.clear();
    this.refused.clear();
    this.indexer.restart(this.state, created);
  }

  /** Applies the events up to `head`, reads every market at it and brings the health index up to date. */
  private async refresh(head: HeadBlock): Promise<Map<bigint, MarketSnapshot>> {
    await this.sync(head);
    const markets = await this.reader.read(this.state.markets, head.number, this.clock(head));
    const start = process.hrtime.bigint();
    const update = this.health.update(this.book, this.book.takeChanged(), markets);
    this.lastUpdateNs = process.hrtime.bigint() - start;
    if (update.marketsRecomputed.length > 0) {
      this.log.debug(
        { markets: update.marketsRecomputed, positions: update.recomputed },
        "liquidation prices recomputed",
      );
    }
    return markets;
  }

  /** Forgets the crossing time of positions that are no longer crossed. */
  private forgetHealed(candidates: readonly bigint[]): void {
    const crossed = new Set(candidates);
    for (const id of this.crossedAt.keys()) if (!crossed.has(id)) this.crossedAt.delete(id);
    for (const id of this.foreignSince.keys()) if (!crossed.has(id)) this.foreignSince.delete(id);
    for (const id of this.refused) if (!crossed.has(id)) this.refused.delete(id);
  }

  private async observeCrossings(records: readonly LiquidationRecord[]): Promise<void> {
    if (this.metrics === undefined || records.length === 0) return;
    const blockTimes = new Map<number, bigint>();
    for (const r of records) {
      const crossed = this.crossedAt.get(r.id);
      this.crossedAt.delete(r.id);
      this.foreignSince.delete(r.id);
      if (crossed === undefined) continue;
      let mined = blockTimes.get(r.block);
      if (mined === undefined) {
        mined = BigInt((await this.provider().getBlock(r.block))?.timestamp ?? 0);
        blockTimes.set(r.block, mined);
      }
      this.metrics.crossingToLiquidationSeconds.observe(Number(mined > crossed ? mined - crossed : 0n));
    }
  }

  private async finish(report: TickReport, complete: boolean): Promise<TickReport> {
    // The keeper's own transactions are events too: apply them so the book is the chain's.
    const last = await this.head();
    await this.sync(last);
    return {
      ...report,
      block: last.number,
      positionsTracked: this.book.size,
      ordersTracked: this.orderList.size,
      complete,
    };
  }

  private updateGauges(): void {
    this.metrics?.positionsTracked.set(this.book.size);
    this.metrics?.ordersTracked.set(this.orderList.size);
  }
}

/** The first block at which `address` has code: a binary search over eth_getCode at past blocks. */
async function creationBlock(
  provider: { getCode(address: string, blockTag: number): Promise<string> },
  address: string,
  head: number,
): Promise<number> {
  let [low, high] = [0, head];
  while (low < high) {
    const mid = Math.floor((low + high) / 2);
    if ((await provider.getCode(address, mid)) === "0x") low = mid + 1;
    else high = mid;
  }
  return low;
}
