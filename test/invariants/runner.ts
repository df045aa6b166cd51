/**
 * Runs one fuzz sequence: resolves each command against the chain, sends its one or two transactions,
 * reads the chain back and holds it to SPEC section 8 and to the TypeScript model, command by command.
 *
 * Exchanges. A command acts on one exchange: the USD one or a coin-margined one (world.ts), each with its
 * own vault, engine, pool, order book and ledgers, so each has its own accountant and its own checks,
 * conservation per asset included. The command's exchange is checked after it; so is every exchange with
 * a market whose price the command moved (a push, a swap or new sources on a USD market move the
 * coin-margined market that inverts it too), and every exchange after a time jump. An exchange no contract
 * of which the command called (asserted: none of them emitted an event) is read at its next check, which
 * holds it to the events since.
 *
 * What is checked after every command (see `checkAfter`), per exchange:
 *  1. conservation per asset: collateral held * 10^(18 - decimals) (1e12 for USD, 1 for a coin) ==
 *     vault.totalOwed() == sum of the ledgers; the margin ledger == the open positions' margins; the escrow
 *     ledger == the live orders' escrow; the free ledger == the actors' free balances; all to the unit;
 *  2. every ledger and every free balance moved by exactly what the accountant derived from the events
 *     (funding owed lands in the pool); funding accrued on open positions sums, per market, to the skew's
 *     share to within one unit per position, rounded in the protocol's favour;
 *  3. a position liquidatable at the latest block can be liquidated (a call succeeds; one per command, in
 *     turn) and the healthy position nearest its boundary cannot (PositionHealthy); every liquidate and
 *     liquidateMany transaction does exactly what the model predicts at its timestamp, cascade included,
 *     and every Liquidation event closes a position that was liquidatable at the event's mark;
 *  4/5. a position nobody liquidated, deleveraged or traded for its owner is unchanged, and a free
 *     balance moves only by its owner's actions and payouts to it (checked through 2);
 *  6. a position the owner just opened or increased meets initial margin, and no owner's own trade or
 *     margin removal leaves the position liquidatable;
 *  7. every live order can be cancelled by its owner (a call succeeds);
 *  8. the pool valued at mark (SPEC 9.1) equals the ledger minus the sum of every open position's
 *     unrealised PnL plus the funding each owes, recomputed from all positions, to the unit: per market
 *     the exact sums of size * (mark - entry) (rounded up, a profit capped at maxPnlFactor x ledger) and
 *     of size * (fundingIndex - snapshot) (rounded down). Against the per-position rounded figures
 *     (PnL down, funding up) it differs by less than one unit per position and term, in the pool's favour;
 *  plus: PerpLens agrees with lib/math.ts field by field (one market's view and its positions' panels per
 *  command, on the command's exchange, its markets in turn); after a keeper pass nothing is liquidatable;
 *  every revert is a declared custom error (chain.ts), and the ones a command may meet are listed per
 *  command.
 *
 * Each position's health is computed by lib/math.ts for every command; the calls to the chain are
 * sampled where each one costs a market projection (~5-10 ms on the in-process network).
 */
import { expect } from "chai";
import { network } from "hardhat";
import { MaxUint256 } from "ethers";
import { Keeper } from "../../keeper/keeper";
import { connectExchange } from "../../lib/contracts";
import { marketConfig } from "../../lib/deploy";
import {
  MarginMath,
  MarketLib,
  PositionLib,
  Pricing,
  WadMath,
  WAD,
  positionHealth,
  projectMarket,
  type MarketConfig,
  type MarketState,
  type Position,
} from "../../lib/math";
import { Accountant, ORDER_TYPE } from "./accountant";
import {
  addressOf,
  Clock,
  dryRun,
  pinnedEthersSigner,
  send,
  signed,
  view,
  type DeclaredRevert,
  type Receipt,
  type Target,
} from "./chain";
import type { Command, FeeChoice, MarginChoice, Portion, SizeChoice, ExpiryChoice } from "./commands";
import {
  addOpenInterest,
  adlRefusal,
  indexOf,
  noFreshPrice,
  predictLiquidations,
  removeOpenInterest,
  syncAt,
  type PredictedLiquidation,
} from "./engine-model";
import {
  marketOf,
  readStates,
  type Actor,
  type ChainState,
  type FuzzMarket,
  type LiveOrder,
  type MarketRead,
  type World,
} from "./world";

/** Per-command counts, printed at the end of the run. */
export class Stats {
  readonly outcomes = new Map<string, number>();
  commands = 0;
  transactions = 0;
  liquidations = 0;
  keeperLiquidations = 0;
  deleveraged = 0;
  badDebts = 0;

  /** Per exchange (USD, BTC, ALT): the commands that named it and the liquidations on it. */
  readonly exchanges = new Map<string, { commands: number; liquidations: number }>();

  readonly timings = new Map<string, number>();
  /** The most gas a liquidating transaction used, per number of positions it liquidated. */
  readonly maxLiquidationGas = new Map<number, { gas: bigint; command: string }>();

  liquidationGas(gasUsed: bigint, liquidated: number, command: string): void {
    if (gasUsed > (this.maxLiquidationGas.get(liquidated)?.gas ?? 0n))
      this.maxLiquidationGas.set(liquidated, { gas: gasUsed, command });
  }

  /** Adds the time since `since` (ms) to a phase. */
  time(phase: string, since: number): number {
    const now = performance.now();
    this.timings.set(phase, (this.timings.get(phase) ?? 0) + now - since);
    return now;
  }

  exchange(name: string): { commands: number; liquidations: number } {
    let e = this.exchanges.get(name);
    if (!e) {
      e = { commands: 0, liquidations: 0 };
      this.exchanges.set(name, e);
    }
    return e;
  }

  /** "per exchange: USD 120 commands 3 liquidations, BTC ...", in the worlds' order. */
  exchangeLine(): string {
    const parts = [...this.exchanges].map(([n, e]) => `${n} ${e.commands} commands ${e.liquidations} liquidations`);
    return `per exchange: ${parts.join(", ")}`;
  }

  count(kind: string, outcome: string): void {
    const key = `${kind}: ${outcome}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }

  table(): string {
    const gas = [...this.maxLiquidationGas.entries()]
      .sort(([a], [b]) => a - b)
      .map(([n, g]) => `    most gas liquidating ${n} position(s) in one transaction: ${g.gas} (${g.command})`);
    const phases = [...this.timings.entries()].map(([k, ms]) => `    time ${k.padEnd(43)} ${(ms / 1000).toFixed(1)} s`);
    return [
      ...gas,
      ...phases,
      ...[...this.outcomes.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, n]) => `    ${k.padEnd(48)} ${n}`),
    ].join("\n");
  }
}

/** What a transaction must do: succeed, revert with one error, or either succeed or revert with one of a list. */
type Rule = { succeeds: true } | { reverts: string } | { mayRevert: readonly string[] };
const SUCCEEDS: Rule = { succeeds: true };

/** Refusals a trade may meet that the fuzz does not predict one by one. */
const INCREASE_REFUSALS = [
  "InsufficientBalance",
  "LeverageTooHigh",
  "MarginTooLow",
  "PositionTooLarge",
  "PositionTooSmall", // below the market's minimum notional at fill
  "OpenInterestCapExceeded",
  "SlippageExceeded",
  "MarketIsPaused",
  "SideMismatch",
  "SkewBeyondScale", // a sell of more than twice the skew scale would fill at a price <= 0
  "InsufficientLedger", // the pool cannot pay funding owed to the position
] as const;
const DECREASE_REFUSALS = ["WouldBeLiquidatable", "InsufficientLedger"] as const;
const ORDER_CREATE_REFUSALS = [
  "ZeroSize",
  "ZeroPrice",
  "ExecutionFeeTooLow",
  "InvalidExpiry",
  "WouldFillImmediately",
  "InsufficientBalance",
  "NoPosition",
  "SizeExceedsPosition",
  "InvalidTrigger",
  "SkewBeyondScale",
] as const;

const BPS = 10_000n;
/** Commands that move a USD market's price: checked on every exchange with a market priced by it. */
const MOVES_PRICE = new Set<Command["kind"]>(["push", "swap", "sources"]);
/** The mark band a configure command turns on: mark within 5% of the index. */
const MARK_BAND = WAD / 20n;
/** A healthy position this close to its boundary (equity - MM, as a share of notional) gets a liquidate call. */
const NEAR_LIQUIDATION = WAD / 50n;
/** Prices stay within this factor of the market's initial price either way (10x pumps compound). */
const PRICE_RANGE = 10_000n;
const FEED_SCALE = 10n ** 10n; // WAD -> 8-decimal feed answer

/** One exchange in a sequence: its world, its state at the latest block, its live orders and health. */
interface Venue {
  w: World;
  state: ChainState;
  readonly orders: Map<bigint, LiveOrder>;
  /** every order id ever created on it in this sequence, for commands that name an order that is not live */
  readonly allOrders: bigint[];
  /** each open position's health at the latest block, from the last check */
  health: Map<bigint, ViewHealth>;
}

export class Sequence {
  /** the USD exchange, then each coin exchange: a command's `venue` picks one (modulo their number) */
  private readonly venues: Venue[];
  readonly clock: Clock;
  private readonly log: string[] = [];
  /** the latest block the checks have seen */
  private block = 0;

  constructor(
    worlds: readonly World[],
    private readonly stats: Stats,
  ) {
    this.clock = new Clock(worlds[0].startTime);
    for (const w of worlds) stats.exchange(w.name); // reported in the worlds' order
    this.venues = worlds.map((w) => ({
      w,
      state: undefined as unknown as ChainState, // read by start()
      orders: new Map(),
      allOrders: [],
      health: new Map(),
    }));
  }

  async start(): Promise<void> {
    const states = await readStates(
      this.venues.map((v) => v.w),
      this.venues.map(() => []),
      this.clock.now,
    );
    this.block = states[0].block;
    for (const [i, v] of this.venues.entries()) {
      v.state = states[i];
      const acct = new Accountant(v.w, v.state.positions, v.orders, v.state.insurance, new Map(), new Map());
      await this.checkAfter(v, v.state, v.state, acct, undefined, i === 0);
    }
  }

  /** The transactions of the last command, as a reader would see them. */
  get lastLog(): readonly string[] {
    return this.log;
  }

  /** Whether command `c` on exchange `target` moves a price or the time on exchange `v`. */
  private moves(c: Command, target: Venue, v: Venue): boolean {
    if (c.kind === "advance") return true;
    if (!MOVES_PRICE.has(c.kind) || !("market" in c)) return false;
    const priced = marketAt(target.w, c.market).priceMarketId;
    return v.w.markets.some((m) => m.priceMarketId === priced);
  }

  /** The exchange a command acts on; a time jump names none and acts on all (the USD one stands for it). */
  private venueOf(c: Command): Venue {
    return "venue" in c ? this.venues[c.venue % this.venues.length] : this.venues[0];
  }

  async run(c: Command): Promise<void> {
    this.log.length = 0;
    this.stats.commands++;
    const target = this.venueOf(c);
    if ("venue" in c) this.stats.exchange(target.w.name).commands++;
    const pres = this.venues.map((v) => v.state);
    let t = performance.now();
    const step = await this.execute(c, target);
    t = this.stats.time(`execute ${c.kind}`, t);
    // One accountant per exchange: each books the events of its own contracts.
    const accts = this.venues.map(
      (v, i) =>
        new Accountant(
          v.w,
          pres[i].positions,
          v.orders,
          pres[i].insurance,
          new Map([...pres[i].markets].map(([id, m]) => [id, m.state.uncoveredBadDebt])),
          new Map([...pres[i].markets].map(([id, m]) => [id, m.state.fundingIndex])),
          v === target ? step.marginIn : undefined,
        ),
    );
    const latest = Number(await network.provider.request({ method: "eth_blockNumber", params: [] }));
    for (let b = this.block + 1; b <= latest; b++) {
      const receipt = await blockReceipt(b);
      if (!receipt) continue;
      for (const acct of accts) {
        const before = acct.liquidations.length;
        acct.apply(receipt);
        const liquidated = acct.liquidations.length - before;
        if (liquidated > 0) this.stats.liquidationGas(receipt.gasUsed, liquidated, c.kind);
      }
    }
    this.block = latest;
    t = this.stats.time("receipts + accountant", t);
    // The command's exchange is read and checked, and every exchange whose prices or time it moved. On
    // the others only the command's blocks' seconds passed and none of their contracts was called
    // (asserted): their state is the one read last, and their next check holds it to the events since.
    const checked = this.venues.map((v) => v === target || this.moves(c, target, v));
    for (const [i, v] of this.venues.entries()) {
      if (!checked[i]) expect(accts[i].emitted, `${v.w.name} exchange: untouched by ${c.kind}`).to.equal(0);
    }
    const full = [...this.venues.keys()].filter((i) => checked[i]);
    const read = await readStates(
      full.map((i) => this.venues[i].w),
      full.map((i) => [...this.venues[i].orders.keys(), ...accts[i].executedOrders, ...accts[i].cancelledOrders]),
      this.clock.now,
    );
    t = this.stats.time("read state", t);
    for (const [k, i] of full.entries()) {
      const v = this.venues[i];
      const acct = accts[i];
      const post = read[k];
      for (const id of acct.createdOrders) if (!v.allOrders.includes(id)) v.allOrders.push(id);
      this.stats.liquidations += acct.liquidations.length;
      this.stats.exchange(v.w.name).liquidations += acct.liquidations.length;
      this.stats.deleveraged += acct.deleveraged;
      this.stats.badDebts += acct.badDebts;
      if (c.kind === "keeperPass") this.stats.keeperLiquidations += acct.liquidations.length;
      // The command's step is its exchange's; on the others prices or time moved.
      const s: Step = v === target ? step : {};
      await this.checkAfter(v, pres[i], post, acct, s, v === target);
      if (c.kind !== "keeperPass" || v !== target) this.checkMarkets(v.w, pres[i], post, acct, s);
      if (s.check) await s.check(pres[i], post, acct);
      v.state = post;
    }
    this.stats.time("checks (all)", t);
  }

  /* ------------------------------------------------------------------ TRANSACTIONS */

  private async tx(
    from: Actor,
    t: Target,
    fn: string,
    args: readonly unknown[],
    rule: Rule,
  ): Promise<DeclaredRevert | undefined> {
    this.stats.transactions++;
    const res = await send(this.clock, from.address, t, fn, args);
    const what = `${from.name} ${fn}(${args.map(show).join(", ")})`;
    if (res.ok) {
      this.log.push(`${what} -> ok`);
      if ("reverts" in rule) expect.fail(`${what} succeeded; expected ${rule.reverts}`);
      return undefined;
    }
    const r = res.revert;
    this.log.push(`${what} -> ${r.name}(${r.args.map(show).join(", ")})`);
    if ("succeeds" in rule) expect.fail(`${what} reverted ${r.name}(${r.args.map(show).join(", ")}); it must succeed`);
    if ("reverts" in rule) expect(r.name, `${what}: the refusal`).to.equal(rule.reverts);
    if ("mayRevert" in rule) {
      expect(
        rule.mayRevert,
        `${what}: ${r.name}(${r.args.map(show).join(", ")}) is not a refusal this command may meet`,
      ).to.include(r.name);
    }
    return r;
  }

  /** Pins the next block's timestamp and reads the oracle as the transaction will see it. */
  private async preview(v: Venue): Promise<{ T: bigint; reads: Map<bigint, MarketRead> }> {
    const T = await this.clock.pinNext();
    const reads = new Map<bigint, MarketRead>();
    for (const m of v.w.markets) {
      const [oracleIndex, fresh] = await v.w.r.oracle.words("indexPrice", [m.marketId], "pending");
      const [lastIndex, freshUntil] = await v.w.r.oracle.words("lastIndexPrice", [m.marketId], "pending");
      const state = v.state.markets.get(m.marketId)!.state;
      reads.set(m.marketId, { state, oracleIndex, fresh: fresh !== 0n, lastIndex, freshUntil });
    }
    return { T, reads };
  }

  /** Whether some market has no fresh index in the next block: the pool refuses deposits and redemptions. */
  private async staleMarket(v: Venue): Promise<boolean> {
    const { reads } = await this.preview(v);
    return [...reads.values()].some((r) => !r.fresh);
  }

  /* ------------------------------------------------------------------ COMMANDS */

  private async execute(c: Command, v: Venue): Promise<Step> {
    const w = v.w;
    const pre = v.state;
    const step: Step = {};
    const outcome = (r: DeclaredRevert | undefined) => this.stats.count(c.kind, r ? r.name : "ok");
    switch (c.kind) {
      case "faucet": {
        const who = c.who === "lp" ? w.lp : w.traders[c.who];
        const amount =
          c.amount === "dust"
            ? 1n
            : c.amount === "limit"
              ? w.faucetLimit
              : c.amount === "overLimit"
                ? w.faucetLimit + 1n
                : (BigInt(c.amount.usd) * w.usdWad) / w.toWad;
        const rule: Rule = amount > w.faucetLimit ? { reverts: "FaucetAmountTooLarge" } : SUCCEEDS;
        outcome(await this.tx(who, w.t.collateral, "faucet", [who.address, amount], rule));
        break;
      }
      case "deposit": {
        const who = w.traders[c.trader];
        const wallet = await view<bigint>(w.t.collateral, "balanceOf", [who.address]);
        const amount = portionOf(c.portion, wallet, 1n);
        const rule: Rule =
          amount === 0n
            ? { reverts: "ZeroAmount" }
            : amount <= wallet
              ? SUCCEEDS
              : { reverts: "ERC20InsufficientBalance" };
        const r = await this.tx(who, w.t.vault, "deposit", [amount], rule);
        outcome(r);
        break;
      }
      case "withdraw": {
        const who = w.traders[c.trader];
        const free = pre.free.get(who.address)!;
        const amount = portionOf(c.portion, free / w.toWad, 1n);
        const rule: Rule =
          amount === 0n
            ? { reverts: "ZeroAmount" }
            : amount * w.toWad <= free
              ? SUCCEEDS
              : { reverts: "InsufficientBalance" };
        outcome(await this.tx(who, w.t.vault, "withdraw", [amount, who.address], rule));
        break;
      }
      case "increase": {
        const who = w.traders[c.trader];
        const m = marketAt(w, c.market);
        const margin = this.marginOf(w, c.margin, m, who, pre);
        const size = this.sizeOf(c.size, c.side, margin, m, pre);
        const index = indexOf(pre.markets.get(m.marketId)!);
        const acceptable = c.tight ? index : size > 0n ? MaxUint256 : 0n;
        const p = pre.positions.get(PositionLib.id(who.address, m.marketId))!;
        const rule: Rule =
          size === 0n
            ? { reverts: "ZeroSize" }
            : this.refusesPrice(m, pre, true)
              ? { reverts: "NoFreshPrice" }
              : pre.markets.get(m.marketId)!.state.paused
                ? { reverts: "MarketIsPaused" }
                : p.size !== 0n && p.size > 0n !== size > 0n
                  ? { reverts: "SideMismatch" }
                  : { mayRevert: INCREASE_REFUSALS };
        step.marginIn = margin;
        const r = await this.tx(who, w.t.engine, "increasePosition", [m.marketId, size, margin, acceptable], rule);
        outcome(r);
        if (!r) step.ownTrade = PositionLib.id(who.address, m.marketId);
        break;
      }
      case "decrease": {
        const { who, m, p } = this.target(w, c.trader, c.market, pre);
        const abs = WadMath.abs(p.size);
        const size = portionOf(c.portion, abs, 1n);
        const rule: Rule =
          p.size === 0n
            ? { reverts: "NoPosition" }
            : size === 0n
              ? { reverts: "ZeroSize" }
              : size > abs
                ? { reverts: "SizeExceedsPosition" }
                : this.refusesPrice(m, pre, false)
                  ? { reverts: "NoFreshPrice" }
                  : { mayRevert: DECREASE_REFUSALS };
        const r = await this.tx(
          who,
          w.t.engine,
          "decreasePosition",
          [m.marketId, size, p.size > 0n ? 0n : MaxUint256],
          rule,
        );
        outcome(r);
        if (!r && size < abs) step.ownTrade = PositionLib.id(who.address, m.marketId);
        break;
      }
      case "close": {
        const { who, m, p } = this.target(w, c.trader, c.market, pre);
        const rule: Rule =
          p.size === 0n
            ? { reverts: "NoPosition" }
            : this.refusesPrice(m, pre, false)
              ? { reverts: "NoFreshPrice" }
              : { mayRevert: ["InsufficientLedger"] };
        outcome(await this.tx(who, w.t.engine, "closePosition", [m.marketId, p.size > 0n ? 0n : MaxUint256], rule));
        break;
      }
      case "addMargin":
      case "removeMargin": {
        const { who, m, p } = this.target(w, c.trader, c.market, pre);
        const adding = c.kind === "addMargin";
        const amount = portionOf(c.portion, adding ? pre.free.get(who.address)! : p.margin, 1n);
        const rule: Rule =
          amount === 0n
            ? { reverts: "ZeroAmount" }
            : p.size === 0n
              ? { reverts: "NoPosition" }
              : this.refusesPrice(m, pre, !adding)
                ? { reverts: "NoFreshPrice" }
                : adding
                  ? { mayRevert: ["InsufficientBalance", "MarginTooLow", "InsufficientLedger"] }
                  : { mayRevert: ["MarginTooLow", "LeverageTooHigh", "PositionTooLarge", "InsufficientLedger"] };
        const r = await this.tx(who, w.t.engine, c.kind, [m.marketId, amount], rule);
        outcome(r);
        if (!r && !adding) step.ownTrade = PositionLib.id(who.address, m.marketId);
        break;
      }
      case "limitOpen": {
        const who = w.traders[c.trader];
        const m = marketAt(w, c.market);
        const margin = this.marginOf(w, c.margin, m, who, pre);
        const size = this.sizeOf(c.size, c.side, margin, m, pre);
        const index = indexOf(pre.markets.get(m.marketId)!);
        const limit = (index * (BPS + BigInt(c.offsetBps))) / BPS;
        const args = [m.marketId, size, margin, limit, this.feeOf(w, c.fee), this.expiryOf(c.expiry), c.immediate];
        step.marginIn = margin;
        const rule: Rule = {
          mayRevert: [
            "MarginTooLow",
            ...["LeverageTooHigh", "PositionTooLarge", "PositionTooSmall"], // refused at the door
            ...ORDER_CREATE_REFUSALS,
            ...(c.immediate ? INCREASE_REFUSALS : []),
            ...(c.immediate && this.refusesPrice(m, pre, true) ? ["NoFreshPrice"] : []),
          ],
        };
        const r = await this.tx(who, w.t.orderBook, "createLimitOpen", args, rule);
        outcome(r);
        break;
      }
      case "limitClose": {
        const { who, m, p } = this.target(w, c.trader, c.market, pre);
        const size = portionOf(c.portion, WadMath.abs(p.size), 1n);
        const index = indexOf(pre.markets.get(m.marketId)!);
        const limit = (index * (BPS + BigInt(c.offsetBps))) / BPS;
        const args = [m.marketId, size, limit, this.feeOf(w, c.fee), this.expiryOf(c.expiry), c.immediate];
        const rule: Rule = {
          mayRevert: [
            ...ORDER_CREATE_REFUSALS,
            ...(c.immediate ? [...DECREASE_REFUSALS, "SlippageExceeded"] : []),
            ...(c.immediate && this.refusesPrice(m, pre, false) ? ["NoFreshPrice"] : []),
          ],
        };
        outcome(await this.tx(who, w.t.orderBook, "createLimitClose", args, rule));
        break;
      }
      case "trigger": {
        const { who, m, p } = this.target(w, c.trader, c.market, pre);
        const size = portionOf(c.portion, WadMath.abs(p.size), 1n);
        const base = p.entryPrice !== 0n ? p.entryPrice : indexOf(pre.markets.get(m.marketId)!);
        const trigger = (base * (BPS + BigInt(c.offsetBps))) / BPS;
        const sells = p.size > 0n;
        const slip = BigInt(c.slippageBps);
        const acceptable = sells ? (trigger * (BPS - slip)) / BPS : (trigger * (BPS + slip)) / BPS;
        const type = c.takeProfit ? ORDER_TYPE.TakeProfit : ORDER_TYPE.StopLoss;
        const args = [m.marketId, type, size, trigger, acceptable, this.feeOf(w, c.fee), this.expiryOf(c.expiry)];
        outcome(await this.tx(who, w.t.orderBook, "createTriggerOrder", args, { mayRevert: ORDER_CREATE_REFUSALS }));
        break;
      }
      case "cancel": {
        const { id, order } = this.orderAt(v, c.slot);
        const T = this.clock.now + 1n;
        const caller =
          c.who === "owner"
            ? this.actorOf(w, order?.owner ?? w.traders[0].address)
            : c.who === "keeper"
              ? w.keeper
              : w.traders[c.who];
        let rule: Rule;
        if (!order) rule = { reverts: "OrderNotLive" };
        else if (caller.address === order.owner || (order.expiry !== 0n && T >= order.expiry))
          rule = SUCCEEDS; // invariant 7
        else rule = { reverts: "NotOrderOwner" };
        outcome(await this.tx(caller, w.t.orderBook, "cancelOrder", [id], rule));
        break;
      }
      case "execute": {
        const { id, order } = (c.pick === "due" && this.dueOrder(v)) || this.orderAt(v, c.slot);
        const caller = c.who === "keeper" ? w.keeper : w.traders[c.who];
        const { T, reads } = await this.preview(v);
        let rule: Rule;
        if (!order) rule = { reverts: "OrderNotLive" };
        else if (order.expiry !== 0n && T >= order.expiry) rule = { reverts: "ExpiredOrder" };
        else if (order.orderType === ORDER_TYPE.LimitOpen) {
          rule = { mayRevert: [...INCREASE_REFUSALS, "NoFreshPrice"] };
        } else {
          const p = pre.positions.get(PositionLib.id(order.owner, order.marketId))!;
          const m = marketOf(w, order.marketId);
          const read = reads.get(m.marketId)!;
          const refusals = [
            ...DECREASE_REFUSALS,
            "SlippageExceeded",
            ...(noFreshPrice(m.cfg, read, T, false) ? ["NoFreshPrice"] : []),
          ];
          if (p.size === 0n || p.size > 0n === order.sizeDelta > 0n)
            rule = SUCCEEDS; // cancelled: the position is gone
          else if (order.orderType === ORDER_TYPE.LimitClose) rule = { mayRevert: refusals };
          else {
            const mark = syncAt(m.cfg, read, T).mark;
            const sells = order.sizeDelta < 0n;
            const above = (order.orderType === ORDER_TYPE.TakeProfit) === sells;
            const triggered = above ? mark >= order.triggerPrice : mark <= order.triggerPrice;
            rule = triggered ? { mayRevert: refusals } : { reverts: "TriggerNotReached" };
            step.check = async (_pre, _post, acct) => {
              if (acct.executedOrders.includes(id)) this.stats.count("execute", "TP/SL filled");
            };
          }
        }
        outcome(await this.tx(caller, w.t.orderBook, "executeOrder", [id], rule));
        break;
      }
      case "push": {
        const m = marketAt(w, c.market);
        const [, answer] = await view<[bigint, bigint]>(m.feeds[0], "latestRoundData");
        const current = answer * FEED_SCALE;
        let target: bigint;
        if (c.move === "crash90") target = current / 10n;
        else if (c.move === "pump10x") target = current * 10n;
        else if ("bps" in c.move) target = (current * (BPS + BigInt(c.move.bps))) / BPS;
        else {
          // Against the crowd of the market named: an inverse market's engine longs are USD shorts.
          const st = pre.markets.get(m.marketId)!.state;
          const down = m.inverse
            ? st.shortOpenInterest > st.longOpenInterest
            : st.longOpenInterest > st.shortOpenInterest;
          const bps = BigInt(c.move.againstCrowdBps);
          target = (current * (down ? BPS - bps : BPS + bps)) / BPS;
        }
        target = WadMath.clamp(target, m.initialPrice / PRICE_RANGE, m.initialPrice * PRICE_RANGE);
        const feedAnswer = WadMath.max(target / FEED_SCALE, 1n);
        const feeds = c.feeds === "both" ? m.feeds : m.feeds.slice(0, 1);
        // Only the oracle role pushes prices (SPEC section 8, invariant 5).
        const by = c.as === "admin" ? w.admin : w.traders[c.as];
        const rule: Rule = c.as === "admin" ? SUCCEEDS : { reverts: "AccessControlUnauthorizedAccount" };
        for (const feed of c.as === "admin" ? feeds : feeds.slice(0, 1))
          outcome(await this.tx(by, feed, "setPrice", [feedAnswer], rule));
        break;
      }
      case "swap": {
        const m = marketAt(w, c.market);
        const spot = await view<bigint>(m.spotPool, "spotPrice");
        const usdWad = BigInt(c.usd) * WAD;
        const amountIn = c.buyCoin ? BigInt(c.usd) * 10n ** 6n : (usdWad * WAD) / spot;
        outcome(
          await this.tx(w.admin, m.spotPool, "swap", [c.buyCoin, amountIn, 0n, w.admin.address], {
            mayRevert: ["SlippageExceeded"],
          }),
        );
        break;
      }
      case "advance": {
        const now = this.clock.now;
        const interval = w.markets[0].cfg.fundingInterval;
        const s = BigInt(c.seconds);
        const next = MarketLib.nextBoundary(now, interval);
        const seconds =
          c.time === "block"
            ? 1n + (s % 12n)
            : c.time === "minutes"
              ? s
              : c.time === "hour"
                ? 3_600n + s
                : c.time === "toBoundary"
                  ? WadMath.max(next - now - 1n, 1n)
                  : c.time === "pastBoundary"
                    ? next - now + (s % 60n)
                    : 86_400n * (1n + (s % 5n)) + s;
        await this.clock.advance(seconds);
        this.log.push(`advance ${seconds}s to ${this.clock.now}`);
        this.stats.count(c.kind, c.time);
        break;
      }
      case "settle": {
        const m = marketAt(w, c.market);
        const caller = c.who === "keeper" ? w.keeper : w.traders[c.who];
        const { T, reads } = await this.preview(v);
        const read = reads.get(m.marketId)!;
        const rule: Rule = noFreshPrice(m.cfg, read, T, false) ? { reverts: "NoFreshPrice" } : SUCCEEDS;
        const r = await this.tx(caller, w.t.engine, "settleFunding", [m.marketId], rule);
        outcome(r);
        if (!r) step.loads = [m.marketId];
        break;
      }
      case "liquidate":
      case "liquidateMany": {
        const caller = c.who === "keeper" ? w.keeper : w.traders[c.who];
        const targets = c.kind === "liquidate" ? [{ trader: c.trader, market: c.market }] : c.targets;
        let ids = targets.map((x) => this.target(w, x.trader, x.market, pre).id);
        const liquidatableNow = w.positionIds.filter((id) => v.health.get(id)?.liquidatable);
        if (c.kind === "liquidate" && c.pick === "liquidatable" && liquidatableNow.length > 0)
          ids = [liquidatableNow[0]];
        if (c.kind === "liquidateMany" && c.withLiquidatable) ids = [...ids, ...liquidatableNow];
        const { T, reads } = await this.preview(v);
        const predicted = predictLiquidations(w.markets, reads, pre.positions, ids, T);
        // liquidate and liquidateMany load the market of every open position they name: a market past
        // the oracle grace period refuses the whole call.
        const refusesPrice = ids.some((id) => {
          const p = pre.positions.get(id)!;
          return p.size !== 0n && noFreshPrice(marketOf(w, p.marketId).cfg, reads.get(p.marketId)!, T, false);
        });
        let rule: Rule;
        if (c.kind === "liquidate" && pre.positions.get(ids[0])!.size === 0n) rule = { reverts: "PositionNotFound" };
        else if (refusesPrice) rule = { reverts: "NoFreshPrice" };
        else if (c.kind === "liquidateMany") rule = { mayRevert: ["InsufficientLedger"] };
        else rule = predicted.length > 0 ? { mayRevert: ["InsufficientLedger"] } : { reverts: "PositionHealthy" };
        const r = await this.tx(caller, w.t.engine, c.kind, [c.kind === "liquidate" ? ids[0] : ids], rule);
        outcome(r);
        if (r?.name === "PositionHealthy") {
          const m = marketOf(w, pre.positions.get(ids[0])!.marketId);
          expect(r.args[1], "PositionHealthy carries the mark lib/math computes").to.equal(
            syncAt(m.cfg, reads.get(m.marketId)!, T).mark,
          );
        }
        if (!r) {
          step.check = (_pre, _post, acct) => expectLiquidations(acct.liquidations, predicted, caller.address);
          step.loads = [
            ...new Set(
              ids.filter((id) => pre.positions.get(id)!.size !== 0n).map((id) => pre.positions.get(id)!.marketId),
            ),
          ];
        }
        break;
      }
      case "adl": {
        const caller = c.who === "keeper" ? w.keeper : w.traders[c.who];
        const { m, id, p } = this.target(w, c.trader, c.market, pre);
        const size = portionOf(c.portion, WadMath.abs(p.size), 1n);
        const { T, reads } = await this.preview(v);
        const refusal = adlRefusal(m, reads.get(m.marketId)!, p, size, pre.pool, T);
        const rule: Rule = refusal ? { reverts: refusal } : { mayRevert: ["InsufficientLedger"] };
        const r = await this.tx(caller, w.t.engine, "autoDeleverage", [id, size], rule);
        outcome(r);
        break;
      }
      case "lpDeposit": {
        const wallet = await view<bigint>(w.t.collateral, "balanceOf", [w.lp.address]);
        const amount = portionOf(c.portion, wallet, 1n);
        const stale = await this.staleMarket(v);
        const rule: Rule = stale
          ? { reverts: "StaleMarket" }
          : amount <= wallet
            ? SUCCEEDS
            : { reverts: "ERC20InsufficientBalance" };
        outcome(await this.tx(w.lp, w.t.pool, "deposit", [amount, w.lp.address], rule));
        break;
      }
      case "lpRedeem": {
        const who = c.who === "lp" ? w.lp : w.admin;
        // Shares are priced at mark, which moves with time: read the max in the block the redeem lands in.
        const stale = await this.staleMarket(v);
        const [max] = await w.r.pool.words("maxRedeem", [who.address], "pending");
        const shares = portionOf(c.portion, max, 1n);
        // OZ checks maxRedeem before the pool's own freshness check
        const rule: Rule =
          shares > max ? { reverts: "ERC4626ExceededMaxRedeem" } : stale ? { reverts: "StaleMarket" } : SUCCEEDS;
        outcome(await this.tx(who, w.t.pool, "redeem", [shares, who.address, who.address], rule));
        break;
      }
      case "pause": {
        const m = marketAt(w, c.market);
        // Only the config role pauses (SPEC section 8, invariant 5).
        const by = c.as === "admin" ? w.admin : w.traders[c.as];
        const rule: Rule = c.as === "admin" ? SUCCEEDS : { reverts: "AccessControlUnauthorizedAccount" };
        const r = await this.tx(by, w.t.admin, "setPaused", [m.marketId, c.paused], rule);
        outcome(r);
        if (!r) step.paused = { marketId: m.marketId, paused: c.paused };
        break;
      }
      case "configure": {
        const m = marketAt(w, c.market);
        const spec = await marketConfig(m.spec, m.cfgAddresses.fundingModel);
        const cfg: MarketConfig = { ...m.cfg };
        if (c.change === "band") cfg.markBand = MARK_BAND;
        else if (c.change === "noBand") cfg.markBand = 0n;
        else if (c.change === "lowerOiCap") {
          const st = pre.markets.get(m.marketId)!.state;
          // Half the larger side, in the whole base units the engine stores a cap in.
          const half = WadMath.max(st.longOpenInterest, st.shortOpenInterest) / 2n;
          cfg.maxOpenInterest = WadMath.max((half / WAD) * WAD, WAD);
        } else if (c.change === "restoreOiCap") cfg.maxOpenInterest = BigInt(spec.maxOpenInterest);
        else if (c.change === "doubleFees") {
          cfg.takerFee = 2n * BigInt(spec.takerFee);
          cfg.makerFee = 2n * BigInt(spec.makerFee);
        } else {
          cfg.takerFee = BigInt(spec.takerFee);
          cfg.makerFee = BigInt(spec.makerFee);
        }
        const struct = { ...spec, ...chainConfigOf(cfg), markModel: spec.markModel, fundingModel: spec.fundingModel };
        // Only the config role changes a market (SPEC section 8, invariant 5).
        const by = c.as === "admin" ? w.admin : w.traders[c.as];
        const rule: Rule = c.as === "admin" ? SUCCEEDS : { reverts: "AccessControlUnauthorizedAccount" };
        const r = await this.tx(by, w.t.admin, "setMarketConfig", [m.marketId, struct], rule);
        outcome(r);
        if (!r) m.cfg = cfg;
        break;
      }
      case "fundInsurance": {
        const who = c.who === "lp" ? w.lp : w.admin;
        const wallet = await view<bigint>(w.t.collateral, "balanceOf", [who.address]);
        const amount = (BigInt(c.usd) * w.usdWad) / w.toWad;
        const rule: Rule = amount <= wallet ? SUCCEEDS : { reverts: "ERC20InsufficientBalance" };
        outcome(await this.tx(who, w.t.vault, "fundInsurance", [amount], rule));
        break;
      }
      case "sources": {
        const m = marketAt(w, c.market);
        const sources = c.twap ? m.sources : m.sources.filter((x) => x.feed !== m.twapFeed);
        // An inverse market's price is its USD market's: the sources are set on the USD oracle.
        const args = [m.priceMarketId, sources.map((x) => x.feed), sources.map((x) => x.heartbeat)];
        // Only the oracle's config role sets sources (SPEC section 8, invariant 5).
        const by = c.as === "admin" ? w.admin : w.traders[c.as];
        const rule: Rule = c.as === "admin" ? SUCCEEDS : { reverts: "AccessControlUnauthorizedAccount" };
        outcome(await this.tx(by, m.priceOracle, "setSources", args, rule));
        break;
      }
      case "keeperPass": {
        const signer = await pinnedEthersSigner(this.clock, w.keeper.address);
        // The keeper's own handles on the exchange, so its static calls and sends come from its address.
        const exchange = connectExchange(w.ex.deployment, signer);
        const report = await new Keeper(exchange, signer, { fromBlock: w.ex.deployment.deploymentBlock }).tick();
        this.log.push(`keeper tick: ${report.liquidations.length} liquidations, ${report.funding.length} settlements`);
        this.stats.count(c.kind, report.liquidations.length > 0 ? "liquidated" : "nothing to do");
        step.afterKeeper = true;
        break;
      }
    }
    return step;
  }

  /* ------------------------------------------------------------------ RESOLUTION */

  /**
   * Whether the engine refuses a transaction in the next block on `m` for want of a price (`_price`):
   * from the latest block's oracle reads, since only a push (a command of its own) makes a source fresh.
   */
  private refusesPrice(m: FuzzMarket, state: ChainState, riskIncreasing: boolean, T = this.clock.now + 1n): boolean {
    const read = state.markets.get(m.marketId)!;
    const fresh = read.lastIndex !== 0n && read.freshUntil >= T;
    return !fresh && noFreshPrice(m.cfg, { ...read, fresh }, T, riskIncreasing);
  }

  private marginOf(w: World, choice: MarginChoice, m: FuzzMarket, who: Actor, pre: ChainState): bigint {
    const free = pre.free.get(who.address)!;
    if (choice === "belowMin") return m.cfg.minMargin - 1n;
    if (choice === "min") return m.cfg.minMargin;
    if (choice === "allFree") return (free * 99n) / 100n;
    if (choice === "overFree") return free + 1n;
    return BigInt(choice.usd) * w.usdWad;
  }

  /** Signed size for a margin and a leverage at the index, or an extreme. */
  private sizeOf(choice: SizeChoice, side: "long" | "short", margin: bigint, m: FuzzMarket, pre: ChainState): bigint {
    const read = pre.markets.get(m.marketId)!;
    const index = indexOf(read);
    const sign = side === "long" ? 1n : -1n;
    const sideOi = side === "long" ? read.state.longOpenInterest : read.state.shortOpenInterest;
    let abs: bigint;
    if (typeof choice === "object") abs = (margin * BigInt(choice.leverage) * WAD) / index;
    else if (choice === "dust") abs = 1n;
    else if (choice === "oiCap" || choice === "overOiCap")
      abs = m.cfg.maxOpenInterest - sideOi + (choice === "overOiCap" ? 1n : 0n);
    else {
      // The largest leverage a tier allows at the notional it gives.
      let leverage = m.tiers[m.tiers.length - 1].maxLeverage;
      for (const t of m.tiers) {
        if (WadMath.mulDown(margin, t.maxLeverage) <= t.notionalCap) {
          leverage = t.maxLeverage;
          break;
        }
      }
      abs = WadMath.divDown(WadMath.mulDown(margin, leverage + (choice === "overTierMax" ? WAD : 0n)), index);
    }
    return sign * abs;
  }

  private feeOf(w: World, choice: FeeChoice): bigint {
    return choice === "min"
      ? w.minExecutionFee
      : choice === "belowMin"
        ? w.minExecutionFee - 1n
        : w.minExecutionFee * 20n;
  }

  private expiryOf(choice: ExpiryChoice): bigint {
    const next = this.clock.now + 1n;
    return choice === "none" ? 0n : choice === "soon" ? next + 120n : choice === "day" ? next + 86_400n : next;
  }

  /**
   * The position a command names, or when it is not open the next open one in (trader, market) order, so
   * that commands on positions mostly find one; the named one when none is open.
   */
  private target(
    w: World,
    trader: number,
    market: number,
    pre: ChainState,
  ): { who: Actor; m: FuzzMarket; id: bigint; p: Position } {
    const n = w.traders.length * w.markets.length;
    const start = trader * w.markets.length + ((market - 1) % w.markets.length);
    for (let k = 0; k < n; k++) {
      const slot = (start + k) % n;
      const who = w.traders[Math.floor(slot / w.markets.length)];
      const m = w.markets[slot % w.markets.length];
      const id = PositionLib.id(who.address, m.marketId);
      const p = pre.positions.get(id)!;
      if (p.size !== 0n) return { who, m, id, p };
    }
    const who = w.traders[trader];
    const m = marketAt(w, market);
    const id = PositionLib.id(who.address, m.marketId);
    return { who, m, id, p: pre.positions.get(id)! };
  }

  /** The first live order (by id) whose condition holds at the latest block by lib/math, if any. */
  private dueOrder(v: Venue): { id: bigint; order: LiveOrder } | undefined {
    const pre = v.state;
    const live = [...v.orders.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    for (const o of live) {
      const m = marketOf(v.w, o.marketId);
      const read = pre.markets.get(o.marketId)!;
      const proj = projectMarket(m.cfg, read.state, indexOf(read), pre.time);
      const p = pre.positions.get(PositionLib.id(o.owner, o.marketId))!;
      let due: boolean;
      if (o.orderType === ORDER_TYPE.TakeProfit || o.orderType === ORDER_TYPE.StopLoss) {
        const above = (o.orderType === ORDER_TYPE.TakeProfit) === o.sizeDelta < 0n;
        due = above ? proj.mark >= o.triggerPrice : proj.mark <= o.triggerPrice;
      } else {
        const delta =
          o.orderType === ORDER_TYPE.LimitClose && WadMath.abs(o.sizeDelta) > WadMath.abs(p.size)
            ? -p.size
            : o.sizeDelta;
        if (delta === 0n) continue;
        const fill = fillPriceOrZero(proj.index, MarketLib.skew(proj.state), delta, m.cfg.skewScale);
        due = fill !== 0n && (delta > 0n ? fill <= o.triggerPrice : fill >= o.triggerPrice);
      }
      if (due) return { id: o.id, order: o };
    }
    return undefined;
  }

  /** The live order in a slot (ids in order), or an id that is not live when none is. */
  private orderAt(v: Venue, slot: number): { id: bigint; order: LiveOrder | undefined } {
    const live = [...v.orders.keys()].sort((a, b) => (a < b ? -1 : 1));
    if (live.length > 0) {
      const id = live[slot % live.length];
      return { id, order: v.orders.get(id) };
    }
    const id = v.allOrders.length > 0 ? v.allOrders[slot % v.allOrders.length] : BigInt(slot + 1_000);
    return { id, order: undefined };
  }

  private actorOf(w: World, address: string): Actor {
    const a = w.actors.find((x) => x.address === address);
    if (!a) throw new Error(`no actor ${address}`);
    return a;
  }

  /* ------------------------------------------------------------------ INVARIANTS */

  /** The invariants on one exchange after a command; `lens`: PerpLens is held to lib/math there too. */
  private async checkAfter(
    v: Venue,
    pre: ChainState,
    post: ChainState,
    acct: Accountant,
    step: Step | undefined,
    lens: boolean,
  ): Promise<void> {
    const w = v.w;
    const d = acct.deltas;

    // 1. Conservation, to the unit.
    expect(post.heldWad, "collateral held * 1e12 == vault.totalOwed()").to.equal(post.totalOwed);
    expect(
      post.totalFree + post.totalMargin + post.totalEscrow + post.pool + post.insurance,
      "ledgers sum to totalOwed",
    ).to.equal(post.totalOwed);
    let margins = 0n;
    for (const p of post.positions.values()) margins += p.margin;
    expect(post.totalMargin, "margin ledger == sum of open positions' margins").to.equal(margins);
    let escrow = 0n;
    for (const o of v.orders.values()) {
      escrow += o.margin + o.executionFee;
      expect(post.escrowOf.get(o.id), `order ${o.id}: escrowOf == margin + execution fee`).to.equal(
        o.margin + o.executionFee,
      );
    }
    for (const [id, amount] of post.escrowOf)
      if (!v.orders.has(id)) expect(amount, `order ${id} is no longer live: no escrow`).to.equal(0n);
    expect(post.totalEscrow, "escrow ledger == sum of live orders' escrow").to.equal(escrow);
    let free = 0n;
    for (const v of post.free.values()) free += v;
    expect(post.totalFree, "free ledger == sum of the actors' free balances").to.equal(free);

    // 2, 4, 5. Every ledger and free balance moved by what the events and the SPEC formulas say.
    expect(post.heldWad - pre.heldWad, "collateral crossing the vault").to.equal(d.held);
    expect(post.totalMargin - pre.totalMargin, "margin ledger change").to.equal(d.margin);
    expect(post.totalEscrow - pre.totalEscrow, "escrow ledger change").to.equal(d.escrow);
    expect(post.insurance - pre.insurance, "insurance fund change").to.equal(d.insurance);
    expect(post.pool - pre.pool, "pool change (the counterparty: trading PnL, fees, funding, bad debt)").to.equal(
      d.pool,
    );
    for (const a of w.actors) {
      const change = post.free.get(a.address)! - pre.free.get(a.address)!;
      expect(change, `${a.name}'s free balance moves only by its own actions and payouts to it`).to.equal(
        d.free.get(a.address) ?? 0n,
      );
    }
    for (const m of w.markets) {
      const change =
        post.markets.get(m.marketId)!.state.uncoveredBadDebt - pre.markets.get(m.marketId)!.state.uncoveredBadDebt;
      expect(change, `market ${m.marketId}: uncovered bad debt change`).to.equal(
        d.uncoveredBadDebt.get(m.marketId) ?? 0n,
      );
    }
    const after = acct.positionsAfter();
    for (const id of w.positionIds) {
      const label = acct.touched.has(id) ? "as its events say" : "untouched, so unchanged";
      expect(post.positions.get(id), `position ${id}: ${label}`).to.deep.equal(normalize(after.get(id)!));
    }

    // 2. Funding accrued on open positions: each rounds up (against the trader), so per market the
    // traders owe at least the exact sum and less than one unit more per position; the pool's share is
    // minus the skew's, so longs, shorts and the pool sum to zero up to that rounding.
    for (const m of w.markets) {
      const F = post.markets.get(m.marketId)!.state.fundingIndex;
      let rounded = 0n;
      let exact = 0n;
      let n = 0n;
      for (const p of post.positions.values()) {
        if (p.marketId !== m.marketId || p.size === 0n) continue;
        rounded += PositionLib.pendingFunding(p.size, p.fundingSnapshot, F) * WAD;
        exact += p.size * (F - p.fundingSnapshot);
        n++;
      }
      expect(
        rounded >= exact && rounded < exact + n * WAD + (n === 0n ? 1n : 0n),
        `market ${m.marketId}: pending funding rounds in the protocol's favour by < 1 unit each`,
      ).to.equal(true);
    }

    // 8. The pool valued at mark, recomputed from every open position.
    let pnlCounted = 0n;
    let fundingOwed = 0n;
    for (const m of w.markets) {
      const synced = syncAt(m.cfg, post.markets.get(m.marketId)!, post.time);
      let pnlExact = 0n;
      let fundingExact = 0n;
      for (const p of post.positions.values()) {
        if (p.marketId !== m.marketId || p.size === 0n) continue;
        pnlExact += p.size * (synced.mark - p.entryPrice);
        fundingExact += p.size * (synced.state.fundingIndex - p.fundingSnapshot);
      }
      pnlCounted += MarketLib.cappedTradersPnl(-WadMath.floorDiv(-pnlExact, WAD), post.pool, m.cfg.maxPnlFactor);
      fundingOwed += WadMath.floorDiv(fundingExact, WAD);
    }
    expect(post.valuation.ledger, "pool valuation's ledger").to.equal(post.pool);
    expect(post.valuation.traderPnl, "pool valuation: traders' PnL = exact sum over positions").to.equal(pnlCounted);
    expect(post.valuation.fundingOwed, "pool valuation: funding owed = exact sum over positions").to.equal(fundingOwed);
    expect(post.valuation.value, "pool value = ledger - traders' PnL + funding owed, to the unit").to.equal(
      post.pool - pnlCounted + fundingOwed,
    );

    // Lens vs lib/math, and invariants 3, 6, 7 at the latest block.
    let t = performance.now();
    const health = await this.checkViews(w, post, lens);
    v.health = health;
    this.stats.count(
      "state",
      `${health.size} open, ${[...health.values()].filter((h) => h.liquidatable).length} liquidatable`,
    );
    t = this.stats.time("checks: lens", t);
    for (const id of acct.increased) {
      const p = post.positions.get(id)!;
      if (p.size === 0n) continue;
      const h = health.get(id)!;
      const abs = WadMath.abs(p.size);
      const im = MarginMath.meetsInitialMargin(marketOf(w, p.marketId).tiers, abs, h.mark, h.equity);
      expect(
        im.ok,
        `position ${id} opened or increased below initial margin: leverage ${im.leverage} > ${im.maxLeverage}`,
      ).to.equal(true);
    }
    if (step?.ownTrade !== undefined) {
      const h = health.get(step.ownTrade);
      if (h)
        expect(h.liquidatable, `the owner's own action left position ${step.ownTrade} liquidatable`).to.equal(false);
    }
    // The engine takes liquidations unless the market's oracle has been stale for longer than the grace
    // period: at the latest block (the calls below) and in the next one (what a keeper sends now lands in).
    const refusedAt = (id: bigint, T: bigint) =>
      this.refusesPrice(marketOf(w, post.positions.get(id)!.marketId), post, false, T);
    if (step?.afterKeeper) {
      for (const [id, h] of health) {
        if (refusedAt(id, post.time + 1n)) continue;
        expect(h.liquidatable, `position ${id} is still liquidatable after a keeper pass`).to.equal(false);
      }
    }
    // Invariant 3 by calls at the latest block: one liquidatable position (in turn, from command to
    // command) must be liquidatable, and the healthy position nearest its boundary must not be. Each call
    // costs a market projection on chain, so not every position every time; the liquidate commands and
    // keeper passes settle the rest by transactions held to the model's prediction.
    const liquidatable = [...health].filter(([id, h]) => h.liquidatable && !refusedAt(id, post.time)).map(([id]) => id);
    if (liquidatable.length > 0) {
      const id = liquidatable[this.stats.commands % liquidatable.length];
      const r = await dryRun(w.keeper.address, w.t.engine, "liquidate", [id]);
      expect(
        r === undefined,
        `position ${id} is liquidatable at the latest block, so liquidate must succeed (${r?.name})`,
      ).to.equal(true);
    }
    const healthy = [...health]
      .filter(([id, h]) => !h.liquidatable && !refusedAt(id, post.time))
      .sort(([, a], [, b]) => (a.slack < b.slack ? -1 : a.slack > b.slack ? 1 : 0));
    if (healthy.length > 0 && healthy[0][1].slack < NEAR_LIQUIDATION) {
      const [id] = healthy[0];
      const r = await dryRun(w.keeper.address, w.t.engine, "liquidate", [id]);
      expect(r?.name, `position ${id} is healthy at the latest block, so liquidate must refuse`).to.equal(
        "PositionHealthy",
      );
    }
    t = this.stats.time("checks: liquidate calls", t);
    for (const o of v.orders.values()) {
      const r = await dryRun(o.owner, w.t.orderBook, "cancelOrder", [o.id]);
      expect(r === undefined, `live order ${o.id} can be cancelled by its owner (${r?.name})`).to.equal(true);
    }
    this.stats.time("checks: cancel calls", t);
  }

  /**
   * Every market's stored state after a command of at most one engine transaction, replayed with
   * lib/math.ts: a market the transaction loaded is synced to its timestamp (funding boundaries, premium,
   * EMA), then each position touch takes the old position out of its side's open interest, puts the new
   * one back and re-samples the premium, as the engine does; trades are held to the SPEC fill price and
   * fee at the skew they met. Any other market must be exactly as it was.
   */
  private checkMarkets(w: World, pre: ChainState, post: ChainState, acct: Accountant, step: Step): void {
    for (const m of w.markets) {
      const before = pre.markets.get(m.marketId)!.state;
      const after = post.markets.get(m.marketId)!;
      const touches = acct.touches.filter((t) => t.marketId === m.marketId);
      let expected: MarketState;
      if (touches.length === 0 && !step.loads?.includes(m.marketId)) {
        expected = step.paused?.marketId === m.marketId ? { ...before, paused: step.paused.paused } : before;
      } else {
        // The transaction is the latest block: the oracle's answer there is the one it saw.
        const synced = syncAt(m.cfg, { ...after, state: before }, post.time);
        let st = synced.state;
        for (const t of touches) {
          if (t.trade) {
            const skew = MarketLib.skew(st);
            const fill = Pricing.fillPrice(synced.index, skew, t.trade.delta, m.cfg.skewScale);
            expect(t.trade.fill, `trade of ${t.trade.delta} at skew ${skew}: SPEC fill price`).to.equal(fill);
            const fee = Pricing.fee(skew, t.trade.delta, fill, m.cfg.takerFee, m.cfg.makerFee);
            expect(t.trade.fee, `trade of ${t.trade.delta} at skew ${skew}: SPEC fee`).to.equal(fee);
          }
          if (t.kind === "margin") {
            // a margin change realises funding: only the position's snapshot term moves
            st = MarketLib.moveFundingSnapshot(
              st,
              t.before.size,
              t.before.fundingSnapshot,
              t.after.fundingSnapshot,
              1n,
            );
            continue;
          }
          st = removeOpenInterest(st, t.before);
          if (t.after.size !== 0n) st = addOpenInterest(st, t.after);
          st = MarketLib.samplePremium(m.cfg, st, synced.index);
        }
        expected = {
          ...st,
          uncoveredBadDebt: before.uncoveredBadDebt + (acct.deltas.uncoveredBadDebt.get(m.marketId) ?? 0n),
        };
      }
      expect(after.state, `market ${m.marketId}: stored state == lib/math replay of the command`).to.deep.equal(
        expected,
      );
    }
  }

  /**
   * Each open position's health at the latest block by lib/math.ts, and PerpLens held to it: the view of
   * one market and the panels of its open positions (the markets alternate from command to command: each
   * lens call costs a market projection on chain).
   */
  private async checkViews(w: World, post: ChainState, lens: boolean): Promise<Map<bigint, ViewHealth>> {
    const out = new Map<bigint, ViewHealth>();
    const projections = new Map<bigint, ReturnType<typeof projectMarket>>();
    for (const m of w.markets) {
      const read = post.markets.get(m.marketId)!;
      projections.set(m.marketId, projectMarket(m.cfg, read.state, indexOf(read), post.time));
    }
    const healthOf = new Map<bigint, ReturnType<typeof positionHealth>>();
    for (const [id, p] of post.positions) {
      if (p.size === 0n) continue;
      const pp = projections.get(p.marketId)!;
      const h = positionHealth(pp.state, marketOf(w, p.marketId).tiers, p, pp.mark);
      healthOf.set(id, h);
      // Distance to liquidation as a share of notional (WAD): picks the healthy position nearest to it.
      const slack = ((h.equity - h.maintenanceMargin) * WAD) / WadMath.max(h.notional, 1n);
      out.set(id, { liquidatable: h.liquidatable, equity: h.equity, mark: pp.mark, slack });
    }

    // The lens of the command's exchange, one market in turn.
    if (!lens) return out;
    const m = w.markets[this.stats.commands % w.markets.length];
    const read = post.markets.get(m.marketId)!;
    const proj = projections.get(m.marketId)!;
    const st = proj.state;
    const x = await w.r.lens.words("market", [m.marketId]);
    const actual = {
      indexPrice: x[2],
      indexFresh: x[3] !== 0n,
      markPrice: x[4],
      lastPrice: x[5],
      skew: signed(x[6]),
      longOpenInterest: x[7],
      shortOpenInterest: x[8],
      fundingIndex: signed(x[9]),
      lastFundingRate: signed(x[10]),
      predictedFundingRate: signed(x[11]),
      nextFundingTime: x[12],
      traderPnl: signed(x[13]),
      fundingOwed: signed(x[14]),
      uncoveredBadDebt: x[15],
      paused: x[16] !== 0n,
    };
    const expected = {
      indexPrice: proj.index,
      indexFresh: read.fresh,
      markPrice: proj.mark,
      lastPrice: proj.last,
      skew: MarketLib.skew(st),
      longOpenInterest: st.longOpenInterest,
      shortOpenInterest: st.shortOpenInterest,
      fundingIndex: st.fundingIndex,
      lastFundingRate: st.lastFundingRate,
      predictedFundingRate: MarketLib.predictedFundingRate(m.cfg, st, post.time),
      nextFundingTime: st.lastFundingTime + m.cfg.fundingInterval,
      traderPnl: MarketLib.tradersPnl(st, proj.mark),
      fundingOwed: MarketLib.tradersFundingOwed(st),
      uncoveredBadDebt: st.uncoveredBadDebt,
      paused: st.paused,
    };
    expect(actual, `lens.market(${m.marketId}) == lib/math projection`).to.deep.equal(expected);

    const open = [...post.positions].filter(([, p]) => p.size !== 0n && p.marketId === m.marketId).map(([id]) => id);
    if (open.length === 0) return out;
    const words = await w.r.lens.wordsOfArray("positions", open);
    open.forEach((id, i) => {
      const v = words.slice(2 + i * POSITION_VIEW_WORDS, 2 + (i + 1) * POSITION_VIEW_WORDS);
      const p = post.positions.get(id)!;
      const panel = {
        id: v[0],
        owner: addressOf(v[1]),
        marketId: v[2],
        size: signed(v[3]),
        entryPrice: v[4],
        margin: v[5],
        pendingFunding: signed(v[6]),
        markPrice: v[7],
        notional: v[8],
        unrealizedPnl: signed(v[9]),
        equity: signed(v[10]),
        maintenanceMargin: v[11],
        leverage: v[12],
        liquidationPrice: v[13],
        liquidatable: v[14] !== 0n,
      };
      expect(panel, `lens.positions: position ${id} == lib/math positionHealth`).to.deep.equal({
        id,
        owner: p.owner,
        marketId: p.marketId,
        size: p.size,
        entryPrice: p.entryPrice,
        margin: p.margin,
        markPrice: proj.mark,
        ...healthOf.get(id)!,
      });
    });
    return out;
  }
}

/** Words per PerpLens.PositionView. */
const POSITION_VIEW_WORDS = 15;

interface ViewHealth {
  liquidatable: boolean;
  equity: bigint;
  mark: bigint;
  slack: bigint;
}

interface Step {
  /** margin a direct increase adds (for the accountant) */
  marginIn?: bigint;
  /** the position the owner traded or took margin from: it must not be left liquidatable */
  ownTrade?: bigint;
  afterKeeper?: boolean;
  /** markets an engine transaction of the command loaded and synced (besides the ones it touched positions on) */
  loads?: bigint[];
  paused?: { marketId: bigint; paused: boolean };
  check?: (pre: ChainState, post: ChainState, acct: Accountant) => void | Promise<void>;
}

function expectLiquidations(
  seen: readonly { id: bigint; closedSize: bigint; mark: bigint; reward: bigint; keeper: string }[],
  predicted: readonly PredictedLiquidation[],
  caller: string,
): void {
  expect(
    seen.map((s) => [s.id, s.closedSize, s.mark, s.reward, s.keeper]),
    "the liquidations lib/math predicts at the transaction's timestamp, in order, cascade included",
  ).to.deep.equal(predicted.map((p) => [p.id, p.plan.closed, p.mark, p.plan.reward, caller]));
}

/** The numeric fields of a MarketConfig, as the engine's struct takes them. */
function chainConfigOf(cfg: MarketConfig): Omit<MarketConfig, "symbol" | "markModel" | "fundingModel"> {
  const { symbol, markModel, fundingModel, ...numbers } = cfg;
  void symbol;
  void markModel;
  void fundingModel;
  return numbers;
}

/** Pricing.fillPrice, or 0 where the contract refuses the size (SkewBeyondScale). */
function fillPriceOrZero(index: bigint, skew: bigint, delta: bigint, skewScale: bigint): bigint {
  try {
    return Pricing.fillPrice(index, skew, delta, skewScale);
  } catch {
    return 0n;
  }
}

/** A command's market on an exchange: 1-based, modulo the exchange's markets (a coin exchange has one). */
function marketAt(w: World, market: number): FuzzMarket {
  return w.markets[(market - 1) % w.markets.length];
}

/** A share of `amount`: `unit` (dust), all, all + unit, or basis points (rounded down). */
function portionOf(p: Portion, amount: bigint, unit: bigint): bigint {
  if (p === "dust") return unit;
  if (p === "all") return amount;
  if (p === "over") return amount + unit;
  return (amount * BigInt(p)) / BPS;
}

/** A closed position reads back as all zeros. */
function normalize(p: Position): Position {
  return p.size === 0n
    ? {
        owner: "0x0000000000000000000000000000000000000000",
        marketId: 0n,
        size: 0n,
        entryPrice: 0n,
        margin: 0n,
        fundingSnapshot: 0n,
      }
    : p;
}

function show(x: unknown): string {
  if (typeof x === "bigint") return x === MaxUint256 ? "max" : x.toString();
  if (Array.isArray(x)) return `[${x.map(show).join(", ")}]`;
  return String(x);
}

/** The receipt of the (single) transaction of block `n`, if it has one. */
async function blockReceipt(n: number): Promise<Receipt | undefined> {
  const block = (await network.provider.request({
    method: "eth_getBlockByNumber",
    params: ["0x" + n.toString(16), false],
  })) as {
    transactions: string[];
  };
  if (block.transactions.length === 0) return undefined;
  expect(block.transactions.length, `block ${n}: one transaction`).to.equal(1);
  const raw = (await network.provider.request({
    method: "eth_getTransactionReceipt",
    params: [block.transactions[0]],
  })) as {
    blockNumber: string;
    gasUsed: string;
    status: string;
    logs: { address: string; topics: string[]; data: string; logIndex: string }[];
  };
  if (raw.status !== "0x1") return undefined;
  return {
    blockNumber: n,
    gasUsed: BigInt(raw.gasUsed),
    logs: raw.logs.map(
      (l) => ({ address: l.address, topics: l.topics, data: l.data, index: Number(l.logIndex) }) as never,
    ),
  };
}
