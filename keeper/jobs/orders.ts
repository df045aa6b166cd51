/**
 * Orders job: every block, each live order's condition is evaluated off-chain on the market's
 * projection with lib/math (the order book evaluates the same functions on chain):
 *   - a limit open or close fills when Pricing.fillPrice of its trade reaches the limit (a buy at or
 *     below it, a sell at or above);
 *   - a take-profit or stop-loss triggers on the mark (a sell's take-profit and a buy's stop-loss at
 *     or above the trigger, the other two at or below), and fills at market within its acceptable price.
 * An order whose condition holds is confirmed with a static call of executeOrder from the keeper's
 * address, then sent; orders go one at a time, as each fill moves the skew the next one fills against.
 *
 * Clean-up, for the owners' sake and at the keeper's gas: an order past its expiry is removed with
 * cancelOrder (its escrow goes back to the owner), and a reduce-only order whose position is gone is
 * executed, which cancels it and refunds the owner.
 */
import { FastAbi } from "../../lib/abi";
import { Pricing, WadMath } from "../../lib/math";
import type { OrderBook } from "../../typechain-types";
import { ORDER_TYPE_NAMES, OrderType } from "../book";
import type { OrderList, PositionBook, TrackedOrder, TrackedPosition } from "../book";
import { revertInfo } from "../chain/errors";
import type { MarketSnapshot } from "../markets";
import { exchangeErrors } from "../transactor";
import type { JobContext } from "./context";
import { describeOutcome, isRpcOutage } from "./context";

export type OrderDecision =
  /** the condition holds: `fill` is the expected fill price, `mark` the mark a trigger met */
  | { kind: "execute"; fill: bigint; mark: bigint }
  | { kind: "wait" }
  /** past its expiry: only cancelOrder can touch it */
  | { kind: "expired" }
  /** reduce-only with no position to reduce: executing it cancels it */
  | { kind: "orphaned" };

/** Whether `order` can execute against `market` now; `position` is its owner's on that market. */
export function orderDecision(
  order: TrackedOrder,
  position: TrackedPosition | undefined,
  market: MarketSnapshot,
): OrderDecision {
  if (order.expirySec !== 0n && market.nowSec >= order.expirySec) return { kind: "expired" };
  const { index, mark, state } = market.projected;
  const skew = state.longOpenInterest - state.shortOpenInterest;
  let delta = order.sizeDelta;
  if (order.type !== OrderType.LimitOpen) {
    if (position === undefined || position.size > 0n === order.sizeDelta > 0n) return { kind: "orphaned" };
    if (WadMath.abs(delta) > WadMath.abs(position.size)) delta = -position.size;
  }
  let fill: bigint;
  try {
    fill = Pricing.fillPrice(index, skew, delta, market.config.skewScale);
  } catch {
    return { kind: "wait" }; // the trade would push the skew past the scale: it cannot fill now
  }
  const buys = delta > 0n;
  const within = (limit: bigint) => (buys ? fill <= limit : fill >= limit);
  switch (order.type) {
    case OrderType.LimitOpen:
    case OrderType.LimitClose:
      return within(order.triggerPrice) ? { kind: "execute", fill, mark } : { kind: "wait" };
    case OrderType.TakeProfit:
    case OrderType.StopLoss: {
      const atOrAbove = (order.type === OrderType.TakeProfit) === !buys;
      const triggered = atOrAbove ? mark >= order.triggerPrice : mark <= order.triggerPrice;
      return triggered && within(order.acceptablePrice) ? { kind: "execute", fill, mark } : { kind: "wait" };
    }
  }
}

export interface OrderExecution {
  id: bigint;
  account: string;
  marketId: bigint;
  type: OrderType;
  sizeDelta: bigint;
  /** the mark that met a TP/SL trigger; 0 for limit orders */
  markPrice: bigint;
  block: number;
}

export interface OrdersResult {
  executed: OrderExecution[];
  /** orders removed for their owners: expired, or reduce-only with nothing to reduce */
  cleanedUp: bigint[];
  rpcOutage: boolean;
}

export interface OrdersJobOptions {
  /** Remove expired and orphaned orders (refunding their owners) at the keeper's gas. */
  cleanup: boolean;
}

export class OrdersJob {
  private readonly errors = exchangeErrors();

  constructor(
    private readonly orderBook: OrderBook,
    private readonly options: OrdersJobOptions,
    private readonly ctx: JobContext,
  ) {}

  async run(
    orders: OrderList,
    positions: PositionBook,
    markets: ReadonlyMap<bigint, MarketSnapshot>,
  ): Promise<OrdersResult> {
    const result: OrdersResult = { executed: [], cleanedUp: [], rpcOutage: false };
    for (const order of orders.live()) {
      if (this.ctx.stopping()) break;
      const market = markets.get(order.marketId);
      if (market === undefined) continue;
      const decision = orderDecision(order, positions.get(order.positionId), market);
      if (decision.kind === "wait") continue;
      if (decision.kind !== "execute" && !this.options.cleanup) continue;
      const method = decision.kind === "expired" ? "cancelOrder" : "executeOrder";
      const outcome = await this.send(order, method, decision);
      if (outcome === "outage") {
        result.rpcOutage = true;
        break;
      }
      if (outcome === undefined) continue;
      if (decision.kind === "execute") result.executed.push(...outcome);
      else result.cleanedUp.push(order.id);
    }
    return result;
  }

  /** Confirms with a static call, sends, and returns the executions it made (undefined: nothing done). */
  private async send(
    order: TrackedOrder,
    method: "executeOrder" | "cancelOrder",
    decision: OrderDecision,
  ): Promise<OrderExecution[] | undefined | "outage"> {
    const { transactor, metrics } = this.ctx;
    const log = this.ctx.log.child({ order: order.id, type: ORDER_TYPE_NAMES[order.type], marketId: order.marketId });
    const why = decision.kind === "execute" ? { fill: decision.fill, mark: decision.mark } : { reason: decision.kind };
    try {
      await this.orderBook[method].staticCall(order.id, { from: this.ctx.from() });
    } catch (error) {
      const revert = revertInfo(error, this.errors);
      if (revert === undefined) throw error;
      log.debug({ ...why, revert: revert.reason }, `${method} would revert; left for a later block`);
      return undefined;
    }
    const outcome = await transactor.send({
      to: this.orderBook.target.toString(),
      data:
        method === "executeOrder"
          ? this.orderBook.interface.encodeFunctionData("executeOrder", [order.id])
          : this.orderBook.interface.encodeFunctionData("cancelOrder", [order.id]),
      label: `${method}(${order.id})`,
    });
    if (outcome.kind === "dryRun") {
      log.info(why, `dry run: would ${method}`);
      return undefined;
    }
    if (outcome.kind !== "mined") {
      log[outcome.kind === "lostRace" ? "info" : "warn"](
        { ...why, ...describeOutcome(outcome) },
        `${method} did not go through`,
      );
      return isRpcOutage(outcome) ? "outage" : undefined;
    }
    const executions: OrderExecution[] = [];
    for (const entry of outcome.receipt.logs) {
      if (entry.address.toLowerCase() !== this.orderBook.target.toString().toLowerCase()) continue;
      const parsed = FastAbi.of(this.orderBook.interface).parseLog(entry);
      if (parsed?.name === "OrderExecuted") {
        const a = parsed.args;
        executions.push({
          id: a.id,
          account: a.account,
          marketId: a.marketId,
          type: Number(a.orderType) as OrderType,
          sizeDelta: a.sizeDelta,
          markPrice: a.markPrice,
          block: outcome.receipt.blockNumber,
        });
        metrics?.ordersExecuted.inc();
        log.info({ ...why, sizeDelta: a.sizeDelta, block: outcome.receipt.blockNumber }, "order executed");
      } else if (parsed?.name === "OrderCancelled" || parsed?.name === "OrderExpired") {
        log.info(
          { ...why, refund: parsed.args.refund, block: outcome.receipt.blockNumber },
          "order removed for its owner",
        );
      }
    }
    return executions;
  }
}
