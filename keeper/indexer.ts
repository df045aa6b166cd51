/**
 * Follows the engine's events into a PositionBook: paged eth_getLogs from the deployment block, then
 * only the blocks not seen yet. A restart rebuilds the same book from the same logs.
 */
import type { PerpEngine } from "../typechain-types";
import type { PositionBook } from "./book";

export const DEFAULT_LOG_PAGE = 5_000;

export class EventIndexer {
  private nextBlock: number;

  constructor(
    private readonly engine: PerpEngine,
    fromBlock: number,
    private readonly pageSize = DEFAULT_LOG_PAGE,
  ) {
    this.nextBlock = fromBlock;
  }

  /** The first block not yet applied. */
  get cursor(): number {
    return this.nextBlock;
  }

  /** Applies every PositionUpdated up to and including `toBlock`; returns how many were applied. */
  async syncTo(toBlock: number, book: PositionBook): Promise<number> {
    let applied = 0;
    const filter = this.engine.filters.PositionUpdated();
    while (this.nextBlock <= toBlock) {
      const end = Math.min(toBlock, this.nextBlock + this.pageSize - 1);
      const events = await this.engine.queryFilter(filter, this.nextBlock, end);
      for (const e of events) {
        const a = e.args;
        book.apply({
          id: a.id,
          owner: a.account,
          marketId: a.marketId,
          size: a.size,
          entryPrice: a.entryPrice,
          margin: a.margin,
          fundingSnapshot: a.fundingSnapshot,
          block: e.blockNumber,
        });
        applied++;
      }
      this.nextBlock = end + 1;
    }
    return applied;
  }
}
