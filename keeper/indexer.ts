/**
 * Follows the exchange's events into the keeper's state, block by hash: paged eth_getLogs from the
 * deployment block, then only the blocks not seen yet. One eth_getLogs per page covers the engine
 * (MarketCreated, PositionUpdated, Trade, Liquidation) and the order book (OrderCreated and the three ways an order ends),
 * filtered by topic on the node. A restart rebuilds the same state from the same logs.
 *
 * Reorgs. Every applied block that carried events, and the last block of every page, is remembered
 * with its hash and an undo log (what each of its events replaced in the book). Before reading further,
 * the newest remembered block is compared with the chain's block at that height; when they differ, the
 * remembered blocks are checked newest first until one still matches (the fork point: a block whose
 * hash matches has the same ancestry), everything applied above it is undone, newest first, and the new
 * branch is read from there. Blocks older than UNDO_DEPTH are forgotten: a reorg deeper than that
 * rebuilds the state from the deployment block. A log the node marks `removed` is never applied: it
 * means the node saw a reorg, so the page is dropped and the ancestry checked again.
 *
 * A chain reset (the deployment block itself has another hash: a restarted node, a snapshot reverted
 * below the deployment) is not the indexer's to resolve: it throws ChainResetError, and the keeper
 * decides (rebuild where the engine has code, else stop).
 *
 * Pages are bounded (DEFAULT_LOG_PAGE blocks, as providers cap eth_getLogs ranges); a page the node
 * refuses with an error answer (not a transport fault) is halved until it is accepted, and the smaller
 * size is kept. The cursor moves only after a whole page is applied, so an RPC failure mid-sync resumes
 * from the first page not applied; nothing is skipped and nothing applied twice.
 */
import type { Interface, Log, Provider, Result } from "ethers";
import { FastAbi } from "../lib/abi";
import type { OrderBook, PerpEngine } from "../typechain-types";
import type { KeeperState, OrderType } from "./book";
import { isRpcTransportError } from "./chain/errors";

export const DEFAULT_LOG_PAGE = 2_000;
/** Blocks whose undo log is kept: a reorg deeper than this rebuilds from the deployment block. */
export const UNDO_DEPTH = 256;
/** Remembered blocks whose hashes are fetched together while looking for a fork point. */
const FORK_SEARCH_CHUNK = 8;
/** Times a sync restarts its ancestry check in one call when the chain moves under it. */
const MAX_SYNC_ATTEMPTS = 3;

const ENGINE_EVENTS = ["MarketCreated", "PositionUpdated", "Trade", "Liquidation"] as const;
const ORDER_EVENTS = ["OrderCreated", "OrderExecuted", "OrderCancelled", "OrderExpired"] as const;

export interface IndexedContracts {
  engine: PerpEngine;
  /** Absent: orders are not followed. */
  orderBook?: OrderBook;
}

/** A block as the indexer checks it. */
export interface BlockRef {
  number: number;
  hash: string;
  /** Lets the check skip a call when the head extends the newest block applied. */
  parentHash?: string;
}

/** The deployment block's hash is not the one the keeper started on: another chain, or one reset under it. */
export class ChainResetError extends Error {
  override name = "ChainResetError";
}

/** What one sync did. */
export interface SyncReport {
  /** Events applied. */
  applied: number;
  /**
   * Blocks the keeper had applied were replaced: undone back to `forkBlock`, the newest remembered block
   * both branches share (the real fork point or an older block without events), `depth` blocks above it.
   */
  reorg?: { forkBlock: number; depth: number; eventsUndone: number };
  /** A reorg deeper than UNDO_DEPTH: the state was rebuilt from the deployment block. */
  rebuilt?: boolean;
  /** The chain moved while the sync read it: applied up to the cursor only; the next sync continues. */
  interrupted?: boolean;
}

/** A page of logs the node refused (not a transport fault), and the smaller page tried next. */
export interface RangeRefusal {
  fromBlock: number;
  toBlock: number;
  nextPageSize: number;
  error: unknown;
}

interface AppliedBlock {
  number: number;
  hash: string;
  /** Undo of each event applied in this block, in the order applied. */
  undo: (() => void)[];
}

export interface IndexerOptions {
  pageSize?: number;
  onRangeRefused?: (refusal: RangeRefusal) => void;
}

export class EventIndexer {
  private nextBlock: number;
  private pageSize: number;
  private readonly engineAddress: string;
  private readonly orderBookAddress: string | undefined;
  /** Recent applied blocks, ascending: the ones with events and each page's last block. */
  private applied: AppliedBlock[] = [];
  /** The deployment block as first read; a different hash later is a chain reset. */
  private anchor: BlockRef | undefined;
  /** The markets known before any event (the deployment's), restored by a rebuild. */
  private initialMarkets: Set<bigint> | undefined;
  private readonly topics: string[];
  private readonly addresses: string[];

  constructor(
    private readonly contracts: IndexedContracts,
    private readonly provider: Provider,
    private fromBlock: number,
    private readonly options: IndexerOptions = {},
  ) {
    this.nextBlock = fromBlock;
    this.pageSize = options.pageSize ?? DEFAULT_LOG_PAGE;
    this.engineAddress = contracts.engine.target.toString().toLowerCase();
    this.orderBookAddress = contracts.orderBook?.target.toString().toLowerCase();
    const { engine, orderBook } = contracts;
    this.topics = [
      ...ENGINE_EVENTS.map((name) => engine.interface.getEvent(name).topicHash),
      ...(orderBook ? ORDER_EVENTS.map((name) => orderBook.interface.getEvent(name).topicHash) : []),
    ];
    this.addresses = orderBook ? [this.engineAddress, this.orderBookAddress!] : [this.engineAddress];
  }

  /** The first block not yet applied. */
  get cursor(): number {
    return this.nextBlock;
  }

  /** The block the indexer starts from (and rebuilds from). */
  get startBlock(): number {
    return this.fromBlock;
  }

  /** The newest block applied, with the hash it had. */
  get lastApplied(): BlockRef | undefined {
    return this.applied.at(-1);
  }

  /**
   * Applies every event up to and including `head` (a number reads that block's header first), after
   * undoing whatever a reorg took away. Throws ChainResetError when the deployment block changed.
   */
  async syncTo(head: BlockRef | number, state: KeeperState): Promise<SyncReport> {
    this.initialMarkets ??= new Set(state.markets);
    const report: SyncReport = { applied: 0 };
    let target = typeof head === "number" ? await this.header(head) : head;
    for (let attempt = 1; attempt <= MAX_SYNC_ATTEMPTS; attempt++) {
      if (target === undefined) return { ...report, interrupted: true };
      this.anchor ??= await this.header(this.fromBlock);
      if (this.anchor === undefined) {
        throw new ChainResetError(
          `chain reset: the chain ends at block ${target.number}, before the deployment block ${this.fromBlock}`,
        );
      }
      const fork = await this.checkAncestry(target, state);
      if (fork === "rebuild") report.rebuilt = true;
      else if (fork !== undefined) report.reorg = mergeReorg(report.reorg, fork);
      const done = await this.readUpTo(target, state);
      report.applied += done.applied;
      if (done.complete) return report;
      // The chain moved under the page: check the ancestry again from a fresh head.
      target = await this.header("latest");
    }
    return { ...report, interrupted: true };
  }

  /** Forgets everything applied and reads again from `fromBlock` (a rebuild after a chain reset). */
  restart(state: KeeperState, fromBlock: number): void {
    state.positions.clear();
    state.orders.clear();
    state.markets.clear();
    for (const id of this.initialMarkets ?? []) state.markets.add(id);
    this.applied = [];
    this.anchor = undefined;
    this.fromBlock = fromBlock;
    this.nextBlock = fromBlock;
  }

  /**
   * Finds where the chain left the blocks applied and undoes everything above that point. Returns the
   * reorg, "rebuild" when the fork point is older than the undo logs, or undefined when nothing changed.
   * A remembered block that still matches vouches for its ancestors, so the deployment block is read
   * only when none does.
   */
  private async checkAncestry(
    head: BlockRef,
    state: KeeperState,
  ): Promise<SyncReport["reorg"] | "rebuild" | undefined> {
    const last = this.applied.at(-1);
    if (last === undefined) return undefined;
    if (head.number === last.number + 1 && head.parentHash === last.hash) return undefined;
    if (head.number === last.number && head.hash === last.hash) return undefined;
    // The common case, several blocks mined since the last sync: the newest applied block still there
    // vouches for everything applied, one header read. Only when it is gone, the search in chunks.
    if (head.number > last.number && (await this.header(last.number))?.hash === last.hash) return undefined;
    for (let end = this.applied.length; end > 0; end -= FORK_SEARCH_CHUNK) {
      const chunk = this.applied.slice(Math.max(0, end - FORK_SEARCH_CHUNK), end).reverse();
      const hashes = await Promise.all(
        chunk.map((b) => (b.number === head.number ? head.hash : this.header(b.number).then((h) => h?.hash))),
      );
      const match = chunk.findIndex((b, i) => hashes[i] === b.hash);
      if (match === 0 && chunk[0] === last) return undefined;
      if (match >= 0) return this.rollBackTo(chunk[match].number, last.number);
    }
    const anchor = this.anchor!;
    const now = await this.header(anchor.number);
    if (now?.hash !== anchor.hash) {
      throw new ChainResetError(
        `chain reset: block ${anchor.number} (the deployment block) is now ${now?.hash ?? "missing"}; ` +
          `it was ${anchor.hash} when the keeper indexed it`,
      );
    }
    // The deployment block survived but no remembered block did: the fork is older than the undo logs.
    this.restart(state, this.fromBlock);
    this.anchor = anchor;
    return "rebuild";
  }

  /** Undoes the blocks above `forkBlock`, newest first, and reads again from the block after it. */
  private rollBackTo(forkBlock: number, lastApplied: number): SyncReport["reorg"] {
    let eventsUndone = 0;
    while (this.applied.length > 0 && this.applied.at(-1)!.number > forkBlock) {
      const block = this.applied.pop()!;
      for (let i = block.undo.length - 1; i >= 0; i--) block.undo[i]();
      eventsUndone += block.undo.length;
    }
    this.nextBlock = forkBlock + 1;
    return { forkBlock, depth: lastApplied - forkBlock, eventsUndone };
  }

  /** Pages of logs from the cursor to `head`. Incomplete when the chain moved under a page. */
  private async readUpTo(head: BlockRef, state: KeeperState): Promise<{ applied: number; complete: boolean }> {
    let applied = 0;
    while (this.nextBlock <= head.number) {
      const from = this.nextBlock;
      const end = Math.min(head.number, from + this.pageSize - 1);
      // The page's last block is read before its logs: logs of a branch that replaced it after this
      // read carry another hash and are caught below, or at the next sync's ancestry check.
      const endBlock = end === head.number ? head : await this.header(end);
      if (endBlock === undefined) return { applied, complete: false };
      const logs = await this.logsIn(from, end);
      if (logs === undefined) continue;
      const stale = logs.some((log) => log.removed || (log.blockNumber === end && log.blockHash !== endBlock.hash));
      if (stale) return { applied, complete: false };
      applied += this.applyPage(logs, endBlock, state);
      this.nextBlock = end + 1;
    }
    this.prune();
    return { applied, complete: true };
  }

  /** The page's logs, or undefined after the node refused the range (the page is smaller now). */
  private async logsIn(fromBlock: number, toBlock: number): Promise<Log[] | undefined> {
    try {
      return await this.provider.getLogs({ address: this.addresses, topics: [this.topics], fromBlock, toBlock });
    } catch (error) {
      if (isRpcTransportError(error) || toBlock === fromBlock) throw error;
      this.pageSize = Math.max(1, Math.floor((toBlock - fromBlock + 1) / 2));
      this.options.onRangeRefused?.({ fromBlock, toBlock, nextPageSize: this.pageSize, error });
      return undefined;
    }
  }

  private applyPage(logs: readonly Log[], endBlock: BlockRef, state: KeeperState): number {
    let applied = 0;
    let block: AppliedBlock | undefined;
    for (const log of logs) {
      if (block?.number !== log.blockNumber) {
        block = { number: log.blockNumber, hash: log.blockHash, undo: [] };
        this.applied.push(block);
      }
      const undo = this.apply(log, state);
      if (undo === undefined) continue;
      block.undo.push(undo);
      applied++;
    }
    if (block?.number !== endBlock.number)
      this.applied.push({ number: endBlock.number, hash: endBlock.hash, undo: [] });
    return applied;
  }

  /** Forgets blocks older than UNDO_DEPTH below the newest (the newest is always kept). */
  private prune(): void {
    const newest = this.applied.at(-1)?.number;
    if (newest === undefined) return;
    const keepFrom = this.applied.findIndex((b) => b.number > newest - UNDO_DEPTH);
    if (keepFrom > 0) this.applied = this.applied.slice(keepFrom);
  }

  private async header(tag: number | "latest"): Promise<BlockRef | undefined> {
    const block = await this.provider.getBlock(tag);
    if (block === null || block.hash === null) return undefined;
    return { number: block.number, hash: block.hash, parentHash: block.parentHash };
  }

  /** Applies one log; returns how to undo it, or undefined if it changed nothing. */
  private apply(log: Log, state: KeeperState): (() => void) | undefined {
    const from = log.address.toLowerCase();
    if (from === this.engineAddress) {
      const parsed = parseLog(this.contracts.engine.interface, log);
      // A Trade or a Liquidation carries the position's state after it, as PositionUpdated does for the
      // other changes.
      if (parsed?.name === "PositionUpdated" || parsed?.name === "Trade" || parsed?.name === "Liquidation") {
        const a = parsed.args;
        const id: bigint = a.id;
        const previous = state.positions.apply({
          id,
          owner: a.account,
          marketId: a.marketId,
          size: a.size,
          entryPrice: a.entryPrice,
          margin: a.margin,
          fundingSnapshot: a.fundingSnapshot,
          block: log.blockNumber,
        });
        return () => state.positions.restore(id, previous);
      }
      if (parsed?.name === "MarketCreated") {
        const marketId: bigint = parsed.args.marketId;
        if (state.markets.has(marketId)) return () => undefined;
        state.markets.add(marketId);
        return () => state.markets.delete(marketId);
      }
      return undefined;
    }
    if (from !== this.orderBookAddress) return undefined;
    const parsed = parseLog(this.contracts.orderBook!.interface, log);
    if (parsed === null) return undefined;
    const a = parsed.args;
    const id: bigint = a.id;
    switch (parsed.name) {
      case "OrderCreated": {
        const previous = state.orders.add({
          id,
          account: a.account,
          marketId: a.marketId,
          type: Number(a.orderType) as OrderType,
          sizeDelta: a.sizeDelta,
          triggerPrice: a.triggerPrice,
          acceptablePrice: a.acceptablePrice,
          margin: a.margin,
          executionFee: a.executionFee,
          expirySec: a.expiry,
          block: log.blockNumber,
        });
        return () => state.orders.restore(id, previous);
      }
      case "OrderExecuted":
      case "OrderCancelled":
      case "OrderExpired": {
        const previous = state.orders.remove(id);
        return () => state.orders.restore(id, previous);
      }
      default:
        return undefined;
    }
  }
}

/** Two reorgs met in one sync, as one: the older fork point, the deeper depth. */
function mergeReorg(a: SyncReport["reorg"], b: NonNullable<SyncReport["reorg"]>): SyncReport["reorg"] {
  if (a === undefined) return b;
  return {
    forkBlock: Math.min(a.forkBlock, b.forkBlock),
    depth: Math.max(a.depth, b.depth),
    eventsUndone: a.eventsUndone + b.eventsUndone,
  };
}

/** `iface.parseLog(log)`'s name and arguments, events found by topic and read a word at a time (lib/abi.ts). */
function parseLog(iface: Interface, log: Log): { name: string; args: Result } | null {
  return FastAbi.of(iface).parseLog(log);
}
