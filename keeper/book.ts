/**
 * The keeper's picture of the exchange, rebuilt from events alone: open positions from the engine's
 * PositionUpdated, Trade and Liquidation (every change carries the position's full state; size 0 means closed), live orders
 * from the order book's OrderCreated / OrderExecuted / OrderCancelled / OrderExpired, and the markets
 * from MarketCreated. Events must be applied in chain order.
 *
 * Each book remembers what changed since it was last asked (`takeChanged`), so the health tracker
 * recomputes only those positions. Every change returns what it replaced, so the indexer can undo a
 * block that a reorg took away (`restore`, newest change first).
 */
import { PositionLib } from "../lib/math";

/** A position id as the tasks print it: 0x and 64 hex digits. */
export function positionIdHex(id: bigint): string {
  return "0x" + id.toString(16).padStart(64, "0");
}

export interface TrackedPosition {
  id: bigint;
  owner: string;
  marketId: bigint;
  /** signed base units (WAD): > 0 long, < 0 short */
  size: bigint;
  entryPrice: bigint;
  margin: bigint;
  fundingSnapshot: bigint;
  /** block of the last change */
  block: number;
}

export class PositionBook {
  private readonly positions = new Map<bigint, TrackedPosition>();
  private readonly byMarket = new Map<bigint, Set<bigint>>();
  private changed = new Set<bigint>();

  /** Applies one PositionUpdated; events must arrive in chain order. Returns the state it replaced. */
  apply(p: TrackedPosition): TrackedPosition | undefined {
    const previous = this.positions.get(p.id);
    this.put(p.id, p.size === 0n ? undefined : p);
    return previous;
  }

  /** Puts back what an `apply` replaced (undefined: the position was not open). */
  restore(id: bigint, previous: TrackedPosition | undefined): void {
    this.put(id, previous);
  }

  /** Forgets every position (a rebuild from scratch); each counts as changed. */
  clear(): void {
    for (const id of this.positions.keys()) this.changed.add(id);
    this.positions.clear();
    this.byMarket.clear();
  }

  private put(id: bigint, next: TrackedPosition | undefined): void {
    const previous = this.positions.get(id);
    if (previous !== undefined) this.byMarket.get(previous.marketId)?.delete(id);
    if (next === undefined) {
      this.positions.delete(id);
    } else {
      this.positions.set(id, next);
      let ids = this.byMarket.get(next.marketId);
      if (ids === undefined) this.byMarket.set(next.marketId, (ids = new Set()));
      ids.add(id);
    }
    this.changed.add(id);
  }

  get size(): number {
    return this.positions.size;
  }

  get(id: bigint): TrackedPosition | undefined {
    return this.positions.get(id);
  }

  open(): TrackedPosition[] {
    return [...this.positions.values()];
  }

  ids(): bigint[] {
    return [...this.positions.keys()];
  }

  /** The open positions' ids on one market. */
  idsIn(marketId: bigint): bigint[] {
    return [...(this.byMarket.get(marketId) ?? [])];
  }

  /** Ids opened, changed or closed since the last call (a closed id is no longer in the book). */
  takeChanged(): bigint[] {
    const ids = [...this.changed];
    this.changed = new Set();
    return ids;
  }
}

/** OrderBook.OrderType, in the contract's order. */
export enum OrderType {
  LimitOpen = 0,
  LimitClose = 1,
  TakeProfit = 2,
  StopLoss = 3,
}

export const ORDER_TYPE_NAMES: Record<OrderType, string> = {
  [OrderType.LimitOpen]: "limit open",
  [OrderType.LimitClose]: "limit close",
  [OrderType.TakeProfit]: "take-profit",
  [OrderType.StopLoss]: "stop-loss",
};

/** A live order as OrderCreated announced it. Prices and amounts WAD. */
export interface TrackedOrder {
  id: bigint;
  account: string;
  marketId: bigint;
  type: OrderType;
  /** signed trade: > 0 buys, < 0 sells (base units) */
  sizeDelta: bigint;
  /** the limit (limit orders) or the mark trigger (take-profit, stop-loss) */
  triggerPrice: bigint;
  acceptablePrice: bigint;
  margin: bigint;
  executionFee: bigint;
  /** seconds; executable while the block's timestamp is below it; 0 = good till cancelled */
  expirySec: bigint;
  /** the owner's position on the market (the one a reduce-only order reduces) */
  positionId: bigint;
  block: number;
}

export class OrderList {
  private readonly orders = new Map<bigint, TrackedOrder>();

  /** An OrderCreated; returns the order it replaced, if any. */
  add(order: Omit<TrackedOrder, "positionId">): TrackedOrder | undefined {
    const previous = this.orders.get(order.id);
    this.orders.set(order.id, { ...order, positionId: PositionLib.id(order.account, order.marketId) });
    return previous;
  }

  /** An OrderExecuted, OrderCancelled or OrderExpired; returns the order removed, if it was live. */
  remove(id: bigint): TrackedOrder | undefined {
    const previous = this.orders.get(id);
    this.orders.delete(id);
    return previous;
  }

  /** Puts back what an `add` or `remove` replaced (undefined: the order was not live). */
  restore(id: bigint, previous: TrackedOrder | undefined): void {
    if (previous === undefined) this.orders.delete(id);
    else this.orders.set(id, previous);
  }

  clear(): void {
    this.orders.clear();
  }

  get size(): number {
    return this.orders.size;
  }

  get(id: bigint): TrackedOrder | undefined {
    return this.orders.get(id);
  }

  /** Live orders, oldest first. */
  live(): TrackedOrder[] {
    return [...this.orders.values()];
  }
}

/** Everything the indexer maintains. */
export interface KeeperState {
  positions: PositionBook;
  orders: OrderList;
  /** Market ids seen in MarketCreated (plus the deployment's). */
  markets: Set<bigint>;
}
