/**
 * Follows the exchange's events into the keeper's state: paged eth_getLogs from the deployment block,
 * then only the blocks not seen yet. One eth_getLogs per page covers the engine (MarketCreated,
 * PositionUpdated) and the order book (OrderCreated and the three ways an order ends), filtered by
 * topic on the node. A restart rebuilds the same state from the same logs.
 *
 * The cursor moves only after a whole page is applied, so an RPC failure mid-sync resumes from the
 * first page not applied; nothing is skipped and nothing applied twice.
 */
import type { Log, Provider } from "ethers";
import type { OrderBook, PerpEngine } from "../typechain-types";
import type { KeeperState, OrderType } from "./book";

export const DEFAULT_LOG_PAGE = 5_000;

const ENGINE_EVENTS = ["MarketCreated", "PositionUpdated"] as const;
const ORDER_EVENTS = ["OrderCreated", "OrderExecuted", "OrderCancelled", "OrderExpired"] as const;

export interface IndexedContracts {
  engine: PerpEngine;
  /** Absent: orders are not followed. */
  orderBook?: OrderBook;
}

export class EventIndexer {
  private nextBlock: number;
  private readonly engineAddress: string;
  private readonly orderBookAddress: string | undefined;

  constructor(
    private readonly contracts: IndexedContracts,
    private readonly provider: Provider,
    fromBlock: number,
    private readonly pageSize = DEFAULT_LOG_PAGE,
  ) {
    this.nextBlock = fromBlock;
    this.engineAddress = contracts.engine.target.toString().toLowerCase();
    this.orderBookAddress = contracts.orderBook?.target.toString().toLowerCase();
  }

  /** The first block not yet applied. */
  get cursor(): number {
    return this.nextBlock;
  }

  /** Applies every event up to and including `toBlock`; returns how many were applied. */
  async syncTo(toBlock: number, state: KeeperState): Promise<number> {
    let applied = 0;
    const { engine, orderBook } = this.contracts;
    const topics = [
      ...ENGINE_EVENTS.map((name) => engine.interface.getEvent(name).topicHash),
      ...(orderBook ? ORDER_EVENTS.map((name) => orderBook.interface.getEvent(name).topicHash) : []),
    ];
    const address = orderBook ? [this.engineAddress, this.orderBookAddress!] : this.engineAddress;
    while (this.nextBlock <= toBlock) {
      const end = Math.min(toBlock, this.nextBlock + this.pageSize - 1);
      const logs = await this.provider.getLogs({ address, topics: [topics], fromBlock: this.nextBlock, toBlock: end });
      for (const log of logs) if (this.apply(log, state)) applied++;
      this.nextBlock = end + 1;
    }
    return applied;
  }

  private apply(log: Log, state: KeeperState): boolean {
    const from = log.address.toLowerCase();
    if (from === this.engineAddress) {
      const parsed = this.contracts.engine.interface.parseLog(log);
      if (parsed?.name === "PositionUpdated") {
        const a = parsed.args;
        state.positions.apply({
          id: a.id,
          owner: a.account,
          marketId: a.marketId,
          size: a.size,
          entryPrice: a.entryPrice,
          margin: a.margin,
          fundingSnapshot: a.fundingSnapshot,
          block: log.blockNumber,
        });
        return true;
      }
      if (parsed?.name === "MarketCreated") {
        state.markets.add(parsed.args.marketId);
        return true;
      }
      return false;
    }
    if (from !== this.orderBookAddress) return false;
    const parsed = this.contracts.orderBook!.interface.parseLog(log);
    if (parsed === null) return false;
    const a = parsed.args;
    switch (parsed.name) {
      case "OrderCreated":
        state.orders.add({
          id: a.id,
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
        return true;
      case "OrderExecuted":
      case "OrderCancelled":
      case "OrderExpired":
        state.orders.remove(a.id);
        return true;
      default:
        return false;
    }
  }
}
