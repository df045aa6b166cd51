/**
 * Expected ledger movements, derived from the events of a command's transactions and SPEC formulas on the
 * positions as they were before, independently of the vault's bookings (which log no event of their own:
 * these events are their record, and this accountant is what shows they are complete).
 *
 * For every position touch (a trade, a margin change, a liquidation, an ADL) the accountant pairs the
 * touch's event with the PositionUpdated it emitted, recomputes in TypeScript the funding the position owed
 * since its snapshot, the realised PnL, the payout, the keeper's reward and the bad debt, and books them:
 * the trader's free balance, the margin ledger, the insurance fund, the keeper, and the pool as the
 * counterparty. Order escrow and the vault's token crossings (deposits, withdrawals, LP entry and exit)
 * are booked from their events. The runner then requires the chain's ledgers and every free balance to
 * have moved by exactly these amounts: money moves only where the SPEC says, and the funding a position
 * pays lands in the pool (SPEC section 8, invariants 1, 2, 4 and 5).
 */
import { expect } from "chai";
import type { LogDescription } from "ethers";
import { DecimalFloat, MarginMath, PositionLib, WadMath, type Position } from "../../lib/math";
import { OrderBook__factory, PerpEngine__factory, Vault__factory } from "../../typechain-types";
import type { Receipt } from "./chain";
import { averageEntry, planLiquidation } from "./engine-model";
import { marketOf, type LiveOrder, type World } from "./world";

export const ORDER_TYPE = { LimitOpen: 0n, LimitClose: 1n, TakeProfit: 2n, StopLoss: 3n } as const;

/** topic0 of every event the accountant books or follows; the rest is skipped unparsed. */
const BOOKED_EVENTS = new Set<string>([
  ...(
    [
      "PositionUpdated",
      "Trade",
      "MarginChanged",
      "Liquidation",
      "AutoDeleveraged",
      "BadDebt",
      "ProfitCapped",
      "FundingSettled",
    ] as const
  ).map((name) => PerpEngine__factory.createInterface().getEvent(name)!.topicHash),
  ...(["OrderCreated", "OrderExecuted", "OrderCancelled", "OrderExpired"] as const).map(
    (name) => OrderBook__factory.createInterface().getEvent(name)!.topicHash,
  ),
  ...(["Deposited", "Withdrawn", "PoolCredited", "PoolPaid", "InsuranceFunded"] as const).map(
    (name) => Vault__factory.createInterface().getEvent(name)!.topicHash,
  ),
]);

export interface LedgerDeltas {
  held: bigint;
  margin: bigint;
  escrow: bigint;
  pool: bigint;
  insurance: bigint;
  free: Map<string, bigint>;
  /** per market: change of the uncovered bad debt */
  uncoveredBadDebt: Map<bigint, bigint>;
}

/** A position touch, in order, for replaying the market's stored state. */
export interface TouchRecord {
  marketId: bigint;
  kind: "increase" | "decrease" | "margin" | "liquidation" | "adl";
  before: Position;
  after: Position;
  /** trades only: the signed size traded, the fill and the fee as the Trade event says */
  trade?: { delta: bigint; fill: bigint; fee: bigint };
}

/** A liquidation seen in the logs, checked against the position it closed. */
export interface SeenLiquidation {
  id: bigint;
  marketId: bigint;
  keeper: string;
  closedSize: bigint;
  mark: bigint;
  reward: bigint;
  full: boolean;
}

interface Touch {
  event: LogDescription;
  /** the order that caused it, when an order execution did */
  order?: LiveOrder;
}

/** A PositionUpdated event: the position as stored after the touch. */
type Updated = Position & { id: bigint };

export class Accountant {
  readonly deltas: LedgerDeltas = {
    held: 0n,
    margin: 0n,
    escrow: 0n,
    pool: 0n,
    insurance: 0n,
    free: new Map(),
    uncoveredBadDebt: new Map(),
  };
  readonly liquidations: SeenLiquidation[] = [];
  /** positions whose owner's own trade or order increased them: they must meet initial margin */
  readonly increased = new Set<bigint>();
  /** positions touched by any event */
  readonly touched = new Set<bigint>();
  readonly executedOrders: bigint[] = [];
  readonly cancelledOrders: bigint[] = [];
  readonly createdOrders: bigint[] = [];
  readonly touches: TouchRecord[] = [];
  deleveraged = 0;
  /** events of any kind the exchange's engine, order book and vault emitted */
  emitted = 0;
  badDebts = 0;
  private readonly positions: Map<bigint, Position>;
  private insuranceRunning: bigint;
  private readonly uncoveredRunning = new Map<bigint, bigint>();
  /** each market's funding index, as FundingSettled moves it: what a touch realises funding against */
  private readonly fundingIndex: Map<bigint, bigint>;

  /**
   * @param positions every trader position before the command (mutated copies are kept here)
   * @param orders the model's live orders; updated as orders are created, executed and cancelled
   * @param fundingIndex each market's funding index before the command
   * @param marginIn the margin a direct increasePosition of this command adds
   */
  constructor(
    private readonly w: World,
    positions: ReadonlyMap<bigint, Position>,
    private readonly orders: Map<bigint, LiveOrder>,
    insurance: bigint,
    uncoveredBadDebt: ReadonlyMap<bigint, bigint>,
    fundingIndex: ReadonlyMap<bigint, bigint>,
    private readonly marginIn?: bigint,
  ) {
    this.positions = new Map(positions);
    this.fundingIndex = new Map(fundingIndex);
    this.insuranceRunning = insurance;
    for (const [id, amount] of uncoveredBadDebt) this.uncoveredRunning.set(id, amount);
  }

  private credit(account: string, amount: bigint): void {
    this.deltas.free.set(account, (this.deltas.free.get(account) ?? 0n) + amount);
  }

  private insurance(amount: bigint): void {
    this.deltas.insurance += amount;
    this.insuranceRunning += amount;
  }

  /** Books one transaction's logs. */
  apply(receipt: Receipt): void {
    const w = this.w;
    const sources = [
      ["engine", w.t.engine],
      ["book", w.t.orderBook],
      ["vault", w.t.vault],
    ] as const;
    const logs: { source: "engine" | "book" | "vault"; ev: LogDescription }[] = [];
    for (const log of receipt.logs) {
      const match = sources.find(([, t]) => t.address.toLowerCase() === log.address.toLowerCase());
      if (!match) continue;
      this.emitted++;
      if (!BOOKED_EVENTS.has(log.topics[0])) continue;
      const ev = match[1].iface.parseLog({ topics: [...log.topics], data: log.data });
      if (ev) logs.push({ source: match[0], ev });
    }

    const touches = new Map<bigint, Touch[]>();
    const updates = new Map<bigint, Updated[]>();
    const badDebts: LogDescription[] = [];
    const createdHere = new Map<bigint, LiveOrder>();
    let orderInFlight: LiveOrder | undefined;

    const pair = (id: bigint) => {
      const ts = touches.get(id) ?? [];
      const us = updates.get(id) ?? [];
      while (ts.length > 0 && us.length > 0) this.touch(ts.shift()!, us.shift()!, badDebts);
    };

    for (const { source, ev } of logs) {
      if (source === "vault") this.vaultEvent(ev);
      else if (source === "book") {
        if (ev.name === "OrderCreated") {
          const o = orderOf(ev);
          createdHere.set(o.id, o);
          this.createdOrders.push(o.id);
        } else if (ev.name === "OrderExecuted") {
          const id = ev.args.id as bigint;
          this.executedOrders.push(id);
          const immediate = createdHere.get(id);
          if (immediate) {
            createdHere.delete(id); // filled at creation: nothing was escrowed
            orderInFlight = immediate;
          } else {
            const o = this.orders.get(id);
            expect(o !== undefined, `executed order ${id} was live`).to.equal(true);
            this.credit(o!.owner, o!.margin);
            this.credit(ev.args.keeper as string, o!.executionFee);
            this.deltas.escrow -= o!.margin + o!.executionFee;
            this.orders.delete(id);
            orderInFlight = o;
          }
          expect(ev.args.executionFee, `order ${id}: fee in the event`).to.equal(orderInFlight!.executionFee);
          this.checkExecutedSize(ev, orderInFlight!);
        } else if (ev.name === "OrderCancelled" || ev.name === "OrderExpired") {
          const id = ev.args.id as bigint;
          const o = this.orders.get(id);
          expect(o !== undefined, `cancelled order ${id} was live`).to.equal(true);
          expect(ev.args.refund, `order ${id}: refund = margin + execution fee`).to.equal(o!.margin + o!.executionFee);
          this.credit(o!.owner, o!.margin + o!.executionFee);
          this.deltas.escrow -= o!.margin + o!.executionFee;
          this.orders.delete(id);
          this.cancelledOrders.push(id);
        }
      } else {
        switch (ev.name) {
          case "PositionUpdated": {
            const u = updatedOf(ev);
            updates.set(u.id, [...(updates.get(u.id) ?? []), u]);
            pair(u.id);
            break;
          }
          case "Trade":
          case "Liquidation": {
            // One event per trade or liquidation: the touch and the position's state after it.
            const u = updatedOf(ev);
            const order = ev.name === "Trade" ? orderInFlight : undefined;
            if (ev.name === "Trade") orderInFlight = undefined;
            touches.set(u.id, [...(touches.get(u.id) ?? []), { event: ev, order }]);
            updates.set(u.id, [...(updates.get(u.id) ?? []), u]);
            pair(u.id);
            break;
          }
          case "MarginChanged":
          case "AutoDeleveraged": {
            const id = ev.args.id as bigint;
            touches.set(id, [...(touches.get(id) ?? []), { event: ev, order: undefined }]);
            pair(id);
            break;
          }
          case "BadDebt":
            badDebts.push(ev);
            break;
          case "ProfitCapped": // precedes its close's Trade or its AutoDeleveraged
            this.profitCaps.set(ev.args.id as bigint, ev);
            break;
          case "FundingSettled": // no money moves; the touches after it realise funding to its index
            this.fundingIndex.set(ev.args.marketId as bigint, ev.args.fundingIndex as bigint);
            break;
          default:
            break;
        }
      }
    }
    for (const [id, ts] of touches)
      expect(ts.length, `position ${id}: every touch emitted PositionUpdated`).to.equal(0);
    for (const [id, us] of updates) expect(us.length, `position ${id}: no PositionUpdated without a touch`).to.equal(0);
    expect(badDebts.length, "every BadDebt event belongs to a touch").to.equal(0);
    expect(this.profitCaps.size, "every ProfitCapped event belongs to a close or an ADL").to.equal(0);
    // Orders that rested: their margin and fee moved from the owner's free balance into escrow.
    for (const o of createdHere.values()) {
      this.credit(o.owner, -(o.margin + o.executionFee));
      this.deltas.escrow += o.margin + o.executionFee;
      this.orders.set(o.id, o);
    }
  }

  private vaultEvent(ev: LogDescription): void {
    const a = ev.args;
    switch (ev.name) {
      case "Deposited":
        this.credit(a.account as string, (a.amount as bigint) * this.w.toWad);
        this.deltas.held += (a.amount as bigint) * this.w.toWad;
        break;
      case "Withdrawn":
        this.credit(a.account as string, -(a.amount as bigint) * this.w.toWad);
        this.deltas.held -= (a.amount as bigint) * this.w.toWad;
        break;
      case "PoolCredited":
        this.deltas.pool += (a.amount as bigint) * this.w.toWad;
        this.deltas.held += (a.amount as bigint) * this.w.toWad;
        break;
      case "PoolPaid":
        this.deltas.pool -= (a.amount as bigint) * this.w.toWad;
        this.deltas.held -= (a.amount as bigint) * this.w.toWad;
        break;
      case "InsuranceFunded":
        this.insurance((a.amount as bigint) * this.w.toWad);
        this.deltas.held += (a.amount as bigint) * this.w.toWad;
        break;
      default:
        break; // the vault's other events (roles) move no money
    }
  }

  /** A reduce-only order trades at most the position; a limit open trades its size. */
  private checkExecutedSize(ev: LogDescription, o: LiveOrder): void {
    const sizeDelta = ev.args.sizeDelta as bigint;
    if (o.orderType === ORDER_TYPE.LimitOpen) {
      expect(sizeDelta, `order ${o.id}: size traded`).to.equal(o.sizeDelta);
      return;
    }
    const p = this.positions.get(PositionLib.id(o.owner, o.marketId))!;
    const expected = WadMath.abs(o.sizeDelta) > WadMath.abs(p.size) ? -p.size : o.sizeDelta;
    expect(sizeDelta, `order ${o.id}: reduce-only size, at most the position`).to.equal(expected);
    if (o.orderType === ORDER_TYPE.TakeProfit || o.orderType === ORDER_TYPE.StopLoss) {
      const mark = ev.args.markPrice as bigint;
      const sells = o.sizeDelta < 0n;
      const above = (o.orderType === ORDER_TYPE.TakeProfit) === sells;
      expect(
        above ? mark >= o.triggerPrice : mark <= o.triggerPrice,
        `order ${o.id}: trigger met at mark ${mark}`,
      ).to.equal(true);
    }
  }

  /** Consumes the BadDebt event of a touch; returns what the insurance fund covered. */
  private takeBadDebt(badDebts: LogDescription[], marketId: bigint, amount: bigint): bigint {
    const bd = badDebts.shift();
    this.badDebts++;
    expect(bd !== undefined, `bad debt ${amount} on market ${marketId} emits BadDebt`).to.equal(true);
    expect(bd!.args.marketId, "BadDebt market").to.equal(marketId);
    expect(bd!.args.amount, "BadDebt amount").to.equal(amount);
    const available = this.insuranceRunning > 0n ? this.insuranceRunning : 0n;
    const cover = WadMath.min(amount, available);
    expect(bd!.args.coveredByInsurance, "insurance covers what it holds").to.equal(cover);
    expect(bd!.args.uncovered, "the pool absorbs the rest").to.equal(amount - cover);
    this.addUncovered(marketId, amount - cover);
    return cover;
  }

  private addUncovered(marketId: bigint, amount: bigint): void {
    this.deltas.uncoveredBadDebt.set(marketId, (this.deltas.uncoveredBadDebt.get(marketId) ?? 0n) + amount);
    this.uncoveredRunning.set(marketId, (this.uncoveredRunning.get(marketId) ?? 0n) + amount);
  }

  /** ProfitCapped events of the transaction being booked, by position, until their Trade or ADL is. */
  private readonly profitCaps = new Map<bigint, LogDescription>();

  /**
   * The profit a close or an ADL pays on `realized`: all of it, or, when the engine emitted ProfitCapped
   * for the position (traders' profit above maxPnlFactor x ledger), its `paid`: less, never below 0.
   */
  private paidProfit(id: bigint, realized: bigint, who: string): bigint {
    const capped = this.profitCaps.get(id);
    if (!capped) return realized;
    this.profitCaps.delete(id);
    expect(capped.args.realizedPnl, `${who}: the capped profit is the PnL of the closed part`).to.equal(realized);
    const paid = capped.args.paid as bigint;
    expect(paid >= 0n && paid < realized, `${who}: a capped profit pays less, never below 0`).to.equal(true);
    return paid;
  }

  private touch(t: Touch, u: Updated, badDebts: LogDescription[]): void {
    const ev = t.event;
    const a = ev.args;
    const id = u.id;
    this.touched.add(id);
    const p = this.positions.get(id) ?? zeroPosition(u.owner, u.marketId);
    const m = marketOf(this.w, u.marketId);
    const fundingIndex = this.fundingIndex.get(u.marketId);
    expect(fundingIndex !== undefined, `market ${u.marketId}: a funding index before the touch`).to.equal(true);
    const owed = p.size === 0n ? 0n : PositionLib.pendingFunding(p.size, p.fundingSnapshot, fundingIndex!);
    expect(u.fundingSnapshot, `position ${id}: snapshot = the index, rounded in the protocol's favour`).to.equal(
      u.size === 0n ? 0n : DecimalFloat.snapshot(fundingIndex!, u.size > 0n),
    );
    const net = p.margin - owed;
    const who = `${ev.name} on position ${id}`;
    let marginDelta = 0n;
    let insuranceDelta = 0n;
    let outflow = 0n; // to free balances (trader, keeper)
    let kind: TouchRecord["kind"];
    let trade: TouchRecord["trade"];
    switch (ev.name) {
      case "Trade": {
        expect(a.fundingPaid, `${who}: funding realised = size * (index - snapshot), rounded up`).to.equal(owed);
        const delta = a.sizeDelta as bigint;
        const fill = a.fillPrice as bigint;
        const fee = a.fee as bigint;
        const increasing = p.size === 0n || p.size > 0n === delta > 0n;
        kind = increasing ? "increase" : "decrease";
        trade = { delta, fill, fee };
        if (increasing) {
          const marginIn = t.order ? t.order.margin : this.marginIn;
          expect(marginIn !== undefined, `${who}: an increase with a known margin`).to.equal(true);
          expect(a.realizedPnl, `${who}: an increase realises nothing`).to.equal(0n);
          expect(u.size, `${who}: size`).to.equal(p.size + delta);
          expect(u.entryPrice, `${who}: size-weighted entry, rounded against the trader`).to.equal(
            averageEntry(p, delta, fill),
          );
          expect(u.margin, `${who}: margin = old + added - funding`).to.equal(p.margin + marginIn! - owed);
          const toInsurance = WadMath.mulDown(fee, m.cfg.insuranceFeeShare);
          this.credit(u.owner, -(marginIn! + fee));
          outflow -= marginIn! + fee;
          marginDelta = marginIn! - owed;
          insuranceDelta = toInsurance;
          this.increased.add(id);
        } else {
          const closed = -delta;
          const size = WadMath.abs(delta);
          const absSize = WadMath.abs(p.size);
          const realized = this.paidProfit(id, PositionLib.pnl(closed, p.entryPrice, fill), who);
          expect(a.realizedPnl, `${who}: realised PnL at the fill (pro rata above the cap), rounded down`).to.equal(
            realized,
          );
          const value = p.margin - owed + realized - fee;
          marginDelta = -p.margin;
          if (u.size === 0n) {
            expect(size, `${who}: a close takes the whole size`).to.equal(absSize);
            if (value >= 0n) {
              this.credit(u.owner, value);
              outflow += value;
              insuranceDelta = WadMath.mulDown(fee, m.cfg.insuranceFeeShare);
            } else {
              // The trader loses the margin and nothing more: bad debt goes to insurance, then the pool.
              insuranceDelta = -this.takeBadDebt(badDebts, m.marketId, -value);
            }
          } else {
            expect(value > 0n, `${who}: a partial close keeps positive value`).to.equal(true);
            const payout = (value * size) / absSize;
            expect(u.size, `${who}: size`).to.equal(p.size + delta);
            expect(u.entryPrice, `${who}: entry unchanged`).to.equal(p.entryPrice);
            expect(u.margin, `${who}: the remainder keeps value - payout`).to.equal(value - payout);
            this.credit(u.owner, payout);
            outflow += payout;
            marginDelta += value - payout;
            insuranceDelta = WadMath.mulDown(fee, m.cfg.insuranceFeeShare);
          }
        }
        break;
      }
      case "MarginChanged": {
        kind = "margin";
        const amount = a.amount as bigint;
        expect(a.fundingPaid, `${who}: funding realised`).to.equal(owed);
        expect(u.margin, `${who}: margin = old - funding + amount`).to.equal(p.margin - owed + amount);
        expect(u.size, `${who}: size unchanged`).to.equal(p.size);
        this.credit(u.owner, -amount);
        outflow -= amount;
        marginDelta = amount - owed;
        break;
      }
      case "Liquidation": {
        kind = "liquidation";
        const mark = a.markPrice as bigint;
        expect(
          MarginMath.isLiquidatable(m.tiers, p.size, p.entryPrice, net, mark),
          `${who}: liquidatable at mark ${mark} (net margin ${net})`,
        ).to.equal(true);
        const equity = net + PositionLib.pnl(p.size, p.entryPrice, mark);
        expect(a.equity, `${who}: equity = margin - funding + PnL at mark`).to.equal(equity);
        const plan = planLiquidation(m.cfg, m.tiers, p, net, equity, mark);
        expect(a.closedSize, `${who}: closed size of the plan`).to.equal(plan.closed);
        expect(a.reward, `${who}: keeper reward`).to.equal(plan.reward);
        expect(a.badDebt, `${who}: bad debt`).to.equal(equity < 0n ? -equity : 0n);
        expect(u.size, `${who}: size left`).to.equal(p.size - plan.closed);
        const keeper = a.keeper as string;
        this.credit(keeper, plan.reward);
        outflow += plan.reward;
        if (plan.full) {
          marginDelta = -p.margin;
          if (equity > 0n) insuranceDelta = equity - plan.reward;
          else if (equity < 0n) insuranceDelta = -this.takeBadDebt(badDebts, m.marketId, -equity);
        } else {
          expect(u.margin, `${who}: the remainder's margin`).to.equal(plan.remainingMargin);
          marginDelta = plan.remainingMargin - p.margin;
        }
        this.liquidations.push({
          id,
          marketId: m.marketId,
          keeper,
          closedSize: plan.closed,
          mark,
          reward: plan.reward,
          full: plan.full,
        });
        break;
      }
      case "AutoDeleveraged": {
        kind = "adl";
        const closed = a.closedSize as bigint;
        const mark = a.markPrice as bigint;
        const realized = this.paidProfit(id, PositionLib.pnl(closed, p.entryPrice, mark), who);
        expect(a.realizedPnl, `${who}: realised PnL at mark (pro rata above the cap, as a close)`).to.equal(realized);
        const haircut = a.haircut as bigint;
        const uncovered = this.uncoveredRunning.get(m.marketId) ?? 0n;
        expect(haircut, `${who}: the paid profit repays uncovered bad debt first`).to.equal(
          realized > 0n ? WadMath.min(realized, uncovered) : 0n,
        );
        const value = net + realized - haircut;
        const absSize = WadMath.abs(p.size);
        const size = WadMath.abs(closed);
        const payout = size === absSize ? value : (value * size) / absSize;
        expect(u.size, `${who}: size`).to.equal(p.size - closed);
        expect(u.margin, `${who}: margin left`).to.equal(value - payout);
        this.credit(u.owner, payout);
        outflow += payout;
        marginDelta = value - payout - p.margin;
        this.addUncovered(m.marketId, -haircut);
        this.deleveraged++;
        break;
      }
      default:
        throw new Error(`unexpected touch ${ev.name}`);
    }
    this.deltas.margin += marginDelta;
    this.insurance(insuranceDelta);
    // The pool is the counterparty: it takes what the others did not (the funding owed among it).
    this.deltas.pool -= outflow + marginDelta + insuranceDelta;
    const after: Position = {
      owner: u.owner,
      marketId: u.marketId,
      size: u.size,
      entryPrice: u.entryPrice,
      margin: u.margin,
      fundingSnapshot: u.fundingSnapshot,
    };
    this.touches.push({ marketId: m.marketId, kind, before: p, after, trade });
    this.positions.set(id, after);
  }

  /** The positions as the events left them. */
  positionsAfter(): ReadonlyMap<bigint, Position> {
    return this.positions;
  }
}

function zeroPosition(owner: string, marketId: bigint): Position {
  return { owner, marketId, size: 0n, entryPrice: 0n, margin: 0n, fundingSnapshot: 0n };
}

function updatedOf(ev: LogDescription): Updated {
  const a = ev.args;
  return {
    id: a.id as bigint,
    owner: a.account as string,
    marketId: a.marketId as bigint,
    size: a.size as bigint,
    entryPrice: a.entryPrice as bigint,
    margin: a.margin as bigint,
    fundingSnapshot: a.fundingSnapshot as bigint,
  };
}

function orderOf(ev: LogDescription): LiveOrder {
  const a = ev.args;
  return {
    id: a.id as bigint,
    owner: a.account as string,
    marketId: a.marketId as bigint,
    orderType: a.orderType as bigint,
    sizeDelta: a.sizeDelta as bigint,
    triggerPrice: a.triggerPrice as bigint,
    acceptablePrice: a.acceptablePrice as bigint,
    margin: a.margin as bigint,
    executionFee: a.executionFee as bigint,
    expiry: a.expiry as bigint,
  };
}
