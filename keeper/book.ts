/**
 * The keeper's picture of the exchange, rebuilt from events alone: open positions from the engine's
 * PositionUpdated (every change carries the position's full state; size 0 means closed), live orders
 * from the order book's OrderCreated / OrderExecuted / OrderCancelled / OrderExpired, and the markets
 * from MarketCreated. Events must be applied in chain order.
 *
 * Each book remembers what changed since it was last asked (`takeChanged`), so the health tracker
 * recomputes only those positions.
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

  /** Applies one PositionUpdated; events must arrive in chain order. */
  apply(p: TrackedPosition): void {
    const previous = this.positions.get(p.id);
    if (previous !== undefined && previous.marketId !== p.marketId) this.byMarket.get(previous.marketId)?.delete(p.id);
    if (p.size === 0n) {
      this.positions.delete(p.id);
      this.byMarket.get(p.marketId)?.delete(p.id);
    } else {
      this.positions.set(p.id, p);
      let ids = this.byMarket.get(p.marketId);
      if (ids === undefined) this.byMarket.set(p.marketId, (ids = new Set()));
      ids.add(p.id);
    }
    this.changed.add(p.id);
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

  /** An OrderCreated. */
  add(order: Omit<TrackedOrder, "positionId">): void {
    this.orders.set(order.id, { ...order, positionId: PositionLib.id(order.account, order.marketId) });
  }

  /** An OrderExecuted, OrderCancelled or OrderExpired. */
  remove(id: bigint): void {
    this.orders.delete(id);
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
