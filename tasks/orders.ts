/**
 * Orders from the command line, e.g.
 *   npx hardhat perp:order --network localhost --type limit --market ALT-USD --side short --margin 100 --leverage 10 --price 2.05
 *   npx hardhat perp:order --network localhost --type sl --market ALT-USD --price 2.15
 *   npx hardhat perp:orders --network localhost
 *   npx hardhat perp:execute --network localhost --account 3 --id 1
 *
 * perp:order places a limit open (--side, --margin, --leverage), a limit close (--size N|all, no --side),
 * a take-profit or a stop-loss (--size defaults to the whole position); perp:orders lists an account's
 * live orders, rebuilt from the order book's OrderCreated events; perp:cancel cancels one (its owner, or
 * anyone once it has expired); perp:execute runs one as a keeper would and earns its fee.
 *
 * This file is read before typechain-types exists (see tasks/common.ts): it imports only modules that
 * need no generated code, and types.
 */
import { types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { OrderBook } from "../typechain-types";
import type {
  OrderCancelledEvent,
  OrderCreatedEvent,
  OrderExecutedEvent,
  OrderExpiredEvent,
} from "../typechain-types/contracts/core/OrderBook";
import type { TradeEvent } from "../typechain-types/contracts/core/PerpEngine";
import * as f from "../lib/format";
import { WAD } from "../lib/units";
import { perpTask, required } from "./perp";
import { maxLeverageOf, quoteFill } from "./trading";
import {
  contractsFor,
  engineLimitPrice,
  engineTriggerPrices,
  faceOf,
  inverseSizingArg,
  marginFor,
  MAX_CONTRACTS,
  type InverseSizing,
} from "./inverse";
import { engineSize, reciprocal, traderSide } from "../lib/coin-margined";
import type { MarketHandles } from "../lib/contracts";
import {
  accountLabel,
  assetArg,
  chainTime,
  cliAction,
  connect,
  decimalArg,
  eventArgs,
  fail,
  wholeArg,
  MAX_UNITS,
  marketVenueArg,
  MAX_LEVERAGE,
  money,
  out,
  percentArg,
  send,
  sideArg,
  view,
  type ConnectionArgs,
  type TaskContext,
} from "./common";

/* ------------------------------------------------------------------ ORDER KINDS */

/** The order book's OrderType enum, in order. */
export const ORDER_TYPES = ["limit open", "limit close", "take-profit", "stop-loss"] as const;
export type OrderTypeName = (typeof ORDER_TYPES)[number];
const TAKE_PROFIT = 2n;
const STOP_LOSS = 3n;
/** The order book's OrderStatus enum, in order. */
export const ORDER_STATUSES = ["none", "live", "executed", "cancelled", "expired"] as const;
const LIVE = 1n;

const SECONDS_PER_HOUR = 3600n;
/** Longest expiry an order takes: ten years, well inside the book's 40-bit expiry field. */
export const MAX_EXPIRY_HOURS = 87_600n;
/** Highest limit or trigger price, WAD. */
const MAX_PRICE = MAX_UNITS * WAD;
/** Order ids are a counter; anything past 2^64 cannot have been issued. */
const MAX_ORDER_ID = (1n << 64n) - 1n;
/**
 * Default tolerance beyond the trigger, percent. A take-profit fills as the price moves the trader's
 * way; a stop-loss fills in a market moving against them, often by more than a tick: a wider bound.
 */
const DEFAULT_TAKE_PROFIT_SLIPPAGE_PCT = "1";
const DEFAULT_STOP_LOSS_SLIPPAGE_PCT = "5";

/* ------------------------------------------------------------------ perp:order */

export interface OrderArgs extends ConnectionArgs {
  type: string;
  market: string;
  side?: string;
  margin?: string;
  leverage?: string;
  /** the limit (limit orders) or the mark trigger (tp, sl) */
  price?: string;
  /** base units or "all": limit close, tp, sl */
  size?: string;
  /** a coin-margined market: whole contracts to open (limit open) or close (or all) */
  contracts?: string;
  /** tp/sl: the worst fill accepted; default the trigger moved by --slippage against the trader */
  acceptable?: string;
  slippage?: string;
  expiryHours?: string;
  /** execution fee in USD; default the book's minimum */
  fee?: string;
  /** a limit that the price already satisfies fills at once as a market order instead of being refused */
  immediate?: boolean;
}

export interface OrderResult {
  id: bigint;
  type: OrderTypeName;
  market: string;
  /** signed trade: + buys, - sells */
  sizeDelta: bigint;
  triggerPrice: bigint;
  acceptablePrice: bigint;
  margin: bigint;
  executionFee: bigint;
  /** seconds; 0 = none */
  expiry: bigint;
  /** "live", or "executed" when an --immediate limit filled at once */
  status: "live" | "executed";
  /** the fill of an immediate execution, 0 otherwise */
  fillPrice: bigint;
  hash: string;
  gasUsed: bigint;
  /**
   * A coin-margined order: its prices above are USD (the engine's reciprocal), sizeDelta the engine's
   * (USD face, the trader's side flipped), margin and fee in `coin`.
   */
  inverse?: { coin: string; contracts: bigint; traderBuys: boolean };
}

/** An order's arguments, checked for form and range before anything is read from the chain. */
interface ParsedOrder {
  kind: "limit" | "tp" | "sl";
  /** the limit, or the mark trigger, WAD */
  price: bigint;
  /** 0 = no expiry */
  expiryHours: bigint;
  /** undefined = the book's minimum */
  fee?: bigint;
  /** a limit open: side, margin, leverage */
  open?: { side: 1n | -1n; margin: bigint; leverage: bigint };
  /** a close (limit close, tp, sl): base units, or undefined for the whole position */
  size?: bigint;
  /** a coin-margined limit open: two of contracts, margin (coin) and leverage */
  inverseSizing?: InverseSizing;
  /** a coin-margined close: whole contracts, or undefined for the whole position */
  contracts?: bigint;
  /** tp/sl: the worst fill accepted, or the tolerance beyond the trigger */
  acceptable?: bigint;
  slippage?: bigint;
}

/** Which arguments an order kind takes, each refused by name with what is allowed. */
export function parseOrderArgs(args: OrderArgs, coin?: string): ParsedOrder {
  if (args.type === undefined) fail("--type is required: limit, tp or sl");
  const kind = String(args.type).trim().toLowerCase();
  if (kind !== "limit" && kind !== "tp" && kind !== "sl") fail(`--type ${args.type}: expected limit, tp or sl`);
  const opening = kind === "limit" && args.side !== undefined;
  const only = (name: string, given: unknown, allowed: boolean, who: string, why = "") => {
    if (given !== undefined && !allowed) fail(`--${name} ${given}: only ${who} takes it${why ? `; ${why}` : ""}`);
  };
  const limitOpen = "a limit open (--type limit --side ...)";
  const trigger = "a take-profit or stop-loss";
  only(
    "side",
    args.side,
    kind === "limit",
    "a limit order",
    "a take-profit or stop-loss reduces the position it is set on",
  );
  only("margin", args.margin, opening, limitOpen);
  only("leverage", args.leverage, opening, limitOpen);
  only(
    "size",
    args.size,
    !opening,
    "a close (a limit without --side, tp, sl)",
    "a limit open's size follows from --margin and --leverage",
  );
  only("acceptable", args.acceptable, kind !== "limit", trigger, "a limit's price is its acceptable price");
  only("slippage", args.slippage, kind !== "limit", trigger, "a limit fills at its price or better");
  if (args.immediate === true && kind !== "limit") fail("--immediate: only a limit order takes it");
  const parsed: ParsedOrder = {
    kind,
    price: decimalArg("price", args.price, {
      unit: kind === "limit" ? "USD (the limit)" : "USD (the mark trigger)",
      example: "2.05",
      max: MAX_PRICE,
    }),
    expiryHours:
      args.expiryHours === undefined
        ? 0n
        : decimalArg("expiry-hours", args.expiryHours, { unit: "hours", example: "24", max: MAX_EXPIRY_HOURS * WAD }),
    fee:
      args.fee === undefined
        ? undefined
        : decimalArg("fee", args.fee, { unit: coin ?? "USD", allowZero: true, example: "1" }),
  };
  if (parsed.expiryHours !== 0n && (parsed.expiryHours * SECONDS_PER_HOUR) / WAD === 0n) {
    fail(`--expiry-hours ${args.expiryHours}: less than one second`);
  }
  if (coin === undefined && args.contracts !== undefined) {
    fail(
      `--contracts ${args.contracts}: only a coin-margined market takes it; size this order with --size or --margin`,
    );
  }
  if (coin !== undefined && args.size !== undefined) {
    fail(`--size ${args.size}: a coin-margined market counts whole contracts; pass --contracts N (or all)`);
  }
  if (opening && coin !== undefined) {
    parsed.inverseSizing = inverseSizingArg(args, coin);
    parsed.open = { side: sideArg(args.side), margin: 0n, leverage: 0n };
  } else if (opening) {
    parsed.open = {
      side: sideArg(args.side),
      margin: decimalArg("margin", args.margin, { unit: "USD" }),
      leverage: decimalArg("leverage", args.leverage, { example: "10", max: MAX_LEVERAGE }),
    };
  } else {
    const all = args.size === undefined || args.size.trim().toLowerCase() === "all";
    parsed.size = all ? undefined : decimalArg("size", args.size, { unit: "base units (or all)", example: "250" });
    const allContracts = args.contracts === undefined || args.contracts.trim().toLowerCase() === "all";
    parsed.contracts = allContracts ? undefined : wholeArg("contracts", args.contracts, MAX_CONTRACTS);
    if (parsed.contracts === 0n) fail(`--contracts ${args.contracts}: must be at least 1`);
    if (kind !== "limit") {
      parsed.slippage = percentArg(
        "slippage",
        args.slippage ?? (kind === "tp" ? DEFAULT_TAKE_PROFIT_SLIPPAGE_PCT : DEFAULT_STOP_LOSS_SLIPPAGE_PCT),
      );
      if (args.acceptable !== undefined) {
        parsed.acceptable = decimalArg("acceptable", args.acceptable, { unit: "USD", example: "2.1", max: MAX_PRICE });
      }
    }
  }
  return parsed;
}

/** Places a limit, take-profit or stop-loss order; prints its panel; returns the numbers. */
export async function placeOrder(args: OrderArgs, hre: HardhatRuntimeEnvironment): Promise<OrderResult> {
  const venue = marketVenueArg(await connect(hre, args), args.market);
  const order = parseOrderArgs(args, venue.coin);
  if (venue.coin !== undefined) return placeInverseOrder(venue.ctx, venue.market, venue.coin, order, args);
  const { kind, price } = order;
  const { ctx, market } = venue;
  const { orderBook, admin, vault } = ctx.exchange;
  const minFee = await orderBook.minExecutionFee();
  const fee = order.fee ?? minFee;
  if (fee < minFee) fail(`--fee ${args.fee}: the order book's minimum execution fee is ${f.usd(minFee)}`);
  const now = await chainTime(ctx);
  const expiry = order.expiryHours === 0n ? 0n : now + (order.expiryHours * SECONDS_PER_HOUR) / WAD;

  const position = await admin.position(await admin.positionId(ctx.address, market.marketId));
  const base = baseSymbol(market.symbol);
  let type: OrderTypeName;
  let sizeDelta: bigint;
  let margin = 0n;
  let acceptablePrice = price;
  let send_: () => ReturnType<OrderBook["createLimitOpen"]>;

  if (order.open) {
    const { side, leverage } = order.open;
    margin = order.open.margin;
    const maxLeverage = await maxLeverageOf(ctx, market);
    if (leverage > maxLeverage) {
      fail(`--leverage ${args.leverage}: ${market.symbol} allows at most ${f.leverage(maxLeverage)}`);
    }
    // size = margin * leverage / limit: the leverage holds at the price the order fills at.
    sizeDelta = side * ((((margin * leverage) / WAD) * WAD) / price);
    if (sizeDelta === 0n) {
      fail(
        `--margin ${args.margin} --leverage ${args.leverage} --price ${args.price}: ` +
          `the order would ${side > 0n ? "buy" : "sell"} less than 10^-18 ${base}`,
      );
    }
    if (position.size !== 0n && position.size > 0n !== side > 0n) {
      fail(
        `--side ${args.side}: ${accountLabel(ctx)} holds a ${sideName(position.size)} on ${market.symbol}, ` +
          `and a limit open only adds to its own side; close the ${sideName(position.size)} first ` +
          `(perp:close, or a limit close: --type limit without --side)`,
      );
    }
    type = "limit open";
    send_ = () =>
      orderBook.createLimitOpen(market.marketId, sizeDelta, margin, price, fee, expiry, args.immediate === true);
  } else {
    if (position.size === 0n) {
      fail(
        `${accountLabel(ctx)} has no position on ${market.symbol}; ${kind === "limit" ? "pass --side to open one by limit" : "open one first"}`,
      );
    }
    const held = abs(position.size);
    const size = order.size ?? held;
    if (size > held) fail(`--size ${args.size}: the position holds ${f.size(held)} ${base}`);
    sizeDelta = position.size > 0n ? -size : size;
    if (kind === "limit") {
      type = "limit close";
      send_ = () => orderBook.createLimitClose(market.marketId, size, price, fee, expiry, args.immediate === true);
    } else {
      type = kind === "tp" ? "take-profit" : "stop-loss";
      const isLong = position.size > 0n;
      const above = isLong === (kind === "tp");
      if (above ? price <= position.entryPrice : price >= position.entryPrice) {
        fail(
          `--price ${args.price}: a ${sideName(position.size)}'s ${type} triggers ${above ? "above" : "below"} ` +
            `its entry ${f.price(position.entryPrice)}`,
        );
      }
      acceptablePrice = order.acceptable ?? worseBy(price, sizeDelta > 0n, order.slippage ?? 0n);
      const orderType = kind === "tp" ? TAKE_PROFIT : STOP_LOSS;
      send_ = () => orderBook.createTriggerOrder(market.marketId, orderType, size, price, acceptablePrice, fee, expiry);
    }
  }

  if (type === "limit open" || type === "limit close") {
    const [m, cfg] = await Promise.all([
      view("market view", () => ctx.exchange.lens.market(market.marketId)),
      admin.marketConfig(market.marketId),
    ]);
    const fill = quoteFill(market.symbol, m, cfg, sizeDelta, `--price ${args.price}`);
    const fillsNow = sizeDelta > 0n ? fill <= price : fill >= price;
    if (fillsNow && args.immediate !== true) {
      fail(
        `--price ${args.price}: a ${sizeDelta > 0n ? "buy" : "sell"} limit at ${f.price(price)} would fill now ` +
          `(a market ${sizeDelta > 0n ? "buy" : "sell"} fills at ${f.price(fill)}); pass --immediate to take it at market, ` +
          `or set the limit ${sizeDelta > 0n ? "below" : "above"} ${f.price(fill)}`,
      );
    }
  }

  const free = await vault.freeBalance(ctx.address);
  if (free < margin + fee) {
    fail(
      `${accountLabel(ctx)} has ${f.usd(free)} free; the order escrows ${f.usd(margin)} margin + ${f.usd(fee)} fee. ` +
        `Deposit with perp:deposit`,
    );
  }

  const sent = await send(`create ${type} order`, send_, orderBook.interface);
  const result = await orderOutcome(ctx, sent, type, market.symbol);
  const executed = result.status === "executed";
  out(
    executed
      ? `Filled ${type} order #${result.id} on ${market.symbol} at once (the price was already there) for ${accountLabel(ctx)}`
      : `Placed ${type} order #${result.id} on ${market.symbol} for ${accountLabel(ctx)}`,
    ...f.panel([
      ["trade", `${result.sizeDelta > 0n ? "buy" : "sell"} ${f.size(abs(result.sizeDelta))} ${base}`],
      ...(executed
        ? ([["filled at", f.price(result.fillPrice)]] as [string, string][])
        : ([["executes when", condition(type, result.sizeDelta, result.triggerPrice)]] as [string, string][])),
      ["acceptable price", f.price(result.acceptablePrice)],
      ["escrow", `${f.usd(result.margin)} margin + ${f.usd(result.executionFee)} keeper fee`],
      ["expiry", result.expiry === 0n ? "none (good till cancelled)" : `in ${f.duration(result.expiry - now)}`],
      ["tx", `${sent.hash} (gas ${f.amount(sent.gasUsed, 0, 0)})`],
    ]),
  );
  return result;
}

/* ------------------------------------------------------------------ COIN-MARGINED ORDERS */

/** A coin-margined limit open in the engine's terms: its size, escrowed margin and limit (coin per USD). */
export function inverseLimitOpen(
  sizing: InverseSizing,
  limitUsd: bigint,
  isLong: boolean,
  face: bigint,
): { contracts: bigint; sizeDelta: bigint; margin: bigint; trigger: bigint } {
  const trigger = engineLimitPrice(limitUsd, isLong);
  const contracts =
    sizing.mode === "margin+leverage" ? contractsFor(sizing.margin, sizing.leverage, limitUsd, face) : sizing.contracts;
  if (contracts === 0n) return { contracts, sizeDelta: 0n, margin: 0n, trigger };
  const sizeDelta = engineSize(contracts, face, isLong);
  // The leverage holds at the limit: the worst fill the order takes (the engine's bound).
  const margin = sizing.mode === "contracts+leverage" ? marginFor(sizeDelta, trigger, sizing.leverage) : sizing.margin;
  return { contracts, sizeDelta, margin, trigger };
}

/** What an inverse order sends, decided from the position and the parsed order (engine terms). */
interface InverseOrderPlan {
  type: OrderTypeName;
  /** the engine's signed trade */
  sizeDelta: bigint;
  /** the trader buys (a long's open, a short's close) */
  traderBuys: boolean;
  contracts: bigint;
  margin: bigint;
  trigger: bigint;
  acceptable: bigint;
}

/** Plans an inverse order's engine terms, or refuses it naming the argument. */
function planInverseOrder(
  order: ParsedOrder,
  args: OrderArgs,
  position: { size: bigint; entryPrice: bigint },
  face: bigint,
  symbol: string,
): InverseOrderPlan {
  const usd = order.price;
  if (order.open) {
    const isLong = order.open.side > 0n;
    const t = inverseLimitOpen(order.inverseSizing!, usd, isLong, face);
    if (t.contracts === 0n) fail(`--price ${args.price}: the order is less than one contract of ${f.usd(face)}`);
    if (position.size !== 0n && traderSide(position.size).isLong !== isLong) {
      fail(
        `--side ${args.side}: the account holds a ${traderSide(position.size).isLong ? "long" : "short"} on ${symbol}; ` +
          `a limit open only adds to its own side`,
      );
    }
    return { type: "limit open", ...t, traderBuys: isLong, acceptable: t.trigger };
  }
  if (position.size === 0n)
    fail(`no position on ${symbol}; ${order.kind === "limit" ? "pass --side to open one by limit" : "open one first"}`);
  const held = traderSide(position.size);
  const closeFace = order.contracts === undefined ? held.face : order.contracts * face;
  if (closeFace > held.face) fail(`--contracts ${args.contracts}: the position holds ${held.face / face} contracts`);
  const sizeDelta = position.size > 0n ? -closeFace : closeFace;
  const traderBuys = !held.isLong;
  const base = { sizeDelta, traderBuys, contracts: closeFace / face, margin: 0n };
  if (order.kind === "limit") {
    const trigger = engineLimitPrice(usd, traderBuys);
    return { type: "limit close", ...base, trigger, acceptable: trigger };
  }
  const type: OrderTypeName = order.kind === "tp" ? "take-profit" : "stop-loss";
  const entryUsd = reciprocal(position.entryPrice);
  const above = held.isLong === (order.kind === "tp");
  if (above ? usd <= entryUsd : usd >= entryUsd) {
    fail(
      `--price ${args.price}: a ${held.isLong ? "long" : "short"}'s ${type} triggers ${above ? "above" : "below"} ` +
        `its entry ${f.price(entryUsd)} USD`,
    );
  }
  const worstUsd = order.acceptable ?? worseBy(usd, traderBuys, order.slippage ?? 0n);
  // The engine's position is the trader's flipped: it waits for 1/P to rise when the trader waits for P to fall.
  const { trigger, acceptable } = engineTriggerPrices(usd, worstUsd, !above, traderBuys);
  return { type, ...base, trigger, acceptable };
}

/** perp:order on a coin-margined market: prices in USD, sizes in contracts, margin and fee in the coin. */
async function placeInverseOrder(
  ctx: TaskContext,
  market: MarketHandles,
  coin: string,
  order: ParsedOrder,
  args: OrderArgs,
): Promise<OrderResult> {
  const { orderBook, admin, vault } = ctx.exchange;
  const minFee = await orderBook.minExecutionFee();
  const fee = order.fee ?? minFee;
  if (fee < minFee) fail(`--fee ${args.fee}: the order book's minimum execution fee is ${f.coin(minFee, coin)}`);
  const now = await chainTime(ctx);
  const expiry = order.expiryHours === 0n ? 0n : now + (order.expiryHours * SECONDS_PER_HOUR) / WAD;
  const position = await admin.position(await admin.positionId(ctx.address, market.marketId));
  const plan = planInverseOrder(order, args, position, faceOf(market), market.symbol);
  const sizing = order.inverseSizing;
  if (sizing && sizing.mode !== "contracts+margin") {
    const maxLeverage = await maxLeverageOf(ctx, market);
    if (sizing.leverage > maxLeverage)
      fail(`--leverage ${args.leverage}: ${market.symbol} allows at most ${f.leverage(maxLeverage)}`);
  }
  if (plan.type === "limit open" || plan.type === "limit close") {
    const [m, cfg] = await Promise.all([
      view("market view", () => ctx.exchange.lens.market(market.marketId)),
      admin.marketConfig(market.marketId),
    ]);
    const fill = quoteFill(market.symbol, m, cfg, plan.sizeDelta, `--price ${args.price}`);
    const fillsNow = plan.sizeDelta > 0n ? fill <= plan.trigger : fill >= plan.trigger;
    if (fillsNow && args.immediate !== true) {
      const way = plan.traderBuys ? "buy" : "sell";
      fail(
        `--price ${args.price}: a ${way} limit at ${f.price(order.price)} USD would fill now (a market ${way} fills at ` +
          `${f.price(reciprocal(fill))} USD); pass --immediate to take it at market`,
      );
    }
  }
  const free = await vault.freeBalance(ctx.address);
  if (free < plan.margin + fee) {
    fail(
      `${accountLabel(ctx)} has ${money(coin, free)} free; the order escrows ${money(coin, plan.margin)} margin + ` +
        `${money(coin, fee)} fee. Deposit with perp:deposit --asset ${coin}`,
    );
  }
  const id = market.marketId;
  const sent = await send(
    `create ${plan.type} order`,
    () =>
      plan.type === "limit open"
        ? orderBook.createLimitOpen(id, plan.sizeDelta, plan.margin, plan.trigger, fee, expiry, args.immediate === true)
        : plan.type === "limit close"
          ? orderBook.createLimitClose(id, abs(plan.sizeDelta), plan.trigger, fee, expiry, args.immediate === true)
          : orderBook.createTriggerOrder(
              id,
              plan.type === "take-profit" ? TAKE_PROFIT : STOP_LOSS,
              abs(plan.sizeDelta),
              plan.trigger,
              plan.acceptable,
              fee,
              expiry,
            ),
    orderBook.interface,
  );
  const result = await orderOutcome(ctx, sent, plan.type, market.symbol);
  const usdResult: OrderResult = {
    ...result,
    triggerPrice: reciprocal(result.triggerPrice),
    acceptablePrice: reciprocal(result.acceptablePrice),
    fillPrice: reciprocal(result.fillPrice),
    inverse: { coin, contracts: plan.contracts, traderBuys: plan.traderBuys },
  };
  const traderDelta = plan.traderBuys ? 1n : -1n;
  out(
    result.status === "executed"
      ? `Filled ${plan.type} order #${result.id} on ${market.symbol} at once for ${accountLabel(ctx)}`
      : `Placed ${plan.type} order #${result.id} on ${market.symbol} (margined in ${coin}) for ${accountLabel(ctx)}`,
    ...f.panel([
      ["trade", `${plan.traderBuys ? "buy" : "sell"} ${plan.contracts} contracts of ${f.usd(faceOf(market))}`],
      result.status === "executed"
        ? ["filled at", `${f.price(usdResult.fillPrice)} USD`]
        : ["executes when", `${condition(plan.type, traderDelta, order.price)} USD`],
      ["acceptable price", `${f.price(usdResult.acceptablePrice)} USD`],
      ["escrow", `${money(coin, result.margin)} margin + ${money(coin, result.executionFee)} keeper fee`],
      ["expiry", result.expiry === 0n ? "none (good till cancelled)" : `in ${f.duration(result.expiry - now)}`],
      ["tx", `${sent.hash} (gas ${f.amount(sent.gasUsed, 0, 0)})`],
    ]),
  );
  return usdResult;
}

/** The order a create transaction made, and its fill if it executed at once (engine terms). */
async function orderOutcome(
  ctx: TaskContext,
  sent: Awaited<ReturnType<typeof send>>,
  type: OrderTypeName,
  symbol: string,
): Promise<OrderResult> {
  const { orderBook, engine } = ctx.exchange;
  const obAddress = await orderBook.getAddress();
  const created = eventArgs<OrderCreatedEvent.OutputObject>(
    sent.receipt,
    orderBook.interface,
    obAddress,
    "OrderCreated",
  );
  if (!created) fail("perp:order: the transaction emitted no OrderCreated event");
  const executed = eventArgs<OrderExecutedEvent.OutputObject>(
    sent.receipt,
    orderBook.interface,
    obAddress,
    "OrderExecuted",
  );
  const trade = executed
    ? eventArgs<TradeEvent.OutputObject>(sent.receipt, engine.interface, await engine.getAddress(), "Trade")
    : undefined;
  return {
    id: created.id,
    type,
    market: symbol,
    sizeDelta: created.sizeDelta,
    triggerPrice: created.triggerPrice,
    acceptablePrice: created.acceptablePrice,
    margin: created.margin,
    executionFee: created.executionFee,
    expiry: created.expiry,
    status: executed ? "executed" : "live",
    fillPrice: trade?.fillPrice ?? 0n,
    hash: sent.hash,
    gasUsed: sent.gasUsed,
  };
}

/* ------------------------------------------------------------------ perp:orders */

export interface OrderRow {
  id: bigint;
  type: OrderTypeName;
  market: string;
  sizeDelta: bigint;
  triggerPrice: bigint;
  acceptablePrice: bigint;
  margin: bigint;
  executionFee: bigint;
  expiry: bigint;
  /** past its expiry: anyone may cancel it, the escrow going back to its owner */
  expired: boolean;
  /** the price the condition compares now: the mark for TP/SL, the quoted fill is not shown for limits */
  markPrice: bigint;
}

/** An account's live orders, rebuilt from OrderCreated events since the deployment block. */
export async function listOrders(args: AssetArgs, hre: HardhatRuntimeEnvironment): Promise<OrderRow[]> {
  const { ctx, asset } = assetArg(await connect(hre, args), args.asset);
  const { orderBook, lens } = ctx.exchange;
  const created = await orderBook.queryFilter(
    orderBook.filters.OrderCreated(undefined, ctx.address),
    ctx.exchange.deployment.deploymentBlock,
  );
  const now = await chainTime(ctx);
  const marks = new Map<bigint, bigint>();
  const rows: OrderRow[] = [];
  for (const log of created) {
    const id = log.args.id;
    const o = await orderBook.getOrder(id);
    if (o.status !== LIVE) continue;
    if (!marks.has(o.marketId))
      marks.set(o.marketId, (await view("market view", () => lens.market(o.marketId))).markPrice);
    rows.push({
      id,
      type: ORDER_TYPES[Number(o.orderType)],
      market: symbolOf(ctx, o.marketId),
      sizeDelta: o.sizeDelta,
      triggerPrice: o.triggerPrice,
      acceptablePrice: o.acceptablePrice,
      margin: o.margin,
      executionFee: o.executionFee,
      expiry: o.expiry,
      expired: o.expiry !== 0n && now >= o.expiry,
      markPrice: marks.get(o.marketId)!,
    });
  }
  if (rows.length === 0) {
    out(`${accountLabel(ctx)} has no live orders`);
    return rows;
  }
  out(`Live orders of ${accountLabel(ctx)}:`);
  for (const r of rows) {
    const expiry =
      r.expiry === 0n
        ? "no expiry"
        : r.expired
          ? "EXPIRED (anyone may cancel it)"
          : `expires in ${f.duration(r.expiry - now)}`;
    out(asset === "USD" ? orderLine(r, expiry) : inverseOrderLine(r, expiry, asset));
  }
  return rows;
}

/** An order of the USD book, in words. */
function orderLine(r: OrderRow, expiry: string): string {
  return (
    `  #${r.id} ${r.market} ${r.type}: ${r.sizeDelta > 0n ? "buy" : "sell"} ${f.size(abs(r.sizeDelta))} ${baseSymbol(r.market)}` +
    ` when ${condition(r.type, r.sizeDelta, r.triggerPrice)} (mark now ${f.price(r.markPrice)}),` +
    ` acceptable ${f.price(r.acceptablePrice)}; escrow ${f.usd(r.margin + r.executionFee)}; ${expiry}`
  );
}

/** An order of a coin's book in the trader's terms: the side flipped, USD prices, the escrow in the coin. */
function inverseOrderLine(r: OrderRow, expiry: string, coin: string): string {
  const traderDelta = -r.sizeDelta;
  return (
    `  #${r.id} ${r.market} ${r.type}: ${traderDelta > 0n ? "buy" : "sell"} ${f.usd(abs(r.sizeDelta))} of face` +
    ` when ${condition(r.type, traderDelta, reciprocal(r.triggerPrice))} USD (mark now ${f.price(reciprocal(r.markPrice))} USD),` +
    ` acceptable ${f.price(reciprocal(r.acceptablePrice))} USD; escrow ${money(coin, r.margin + r.executionFee)}; ${expiry}`
  );
}

/* ------------------------------------------------------------------ perp:cancel, perp:execute */

/** --asset picks the order book: USD (default), or a coin's (BTC, ALT) for its coin-margined markets. */
export interface AssetArgs extends ConnectionArgs {
  asset?: string;
}

export interface IdArgs extends AssetArgs {
  id: string;
}

export interface CancelResult {
  id: bigint;
  owner: string;
  /** "cancelled" by its owner, or removed after its expiry */
  outcome: "cancelled" | "expired";
  refund: bigint;
  hash: string;
}

/** Cancels an order: its owner at any time, anyone after its expiry; the escrow goes back to the owner. */
export async function cancelOrder(args: IdArgs, hre: HardhatRuntimeEnvironment): Promise<CancelResult> {
  const id = orderIdArg(args.id);
  const { ctx, asset } = assetArg(await connect(hre, args), args.asset);
  const { orderBook } = ctx.exchange;
  const o = await liveOrder(ctx, id);
  const now = await chainTime(ctx);
  // The next block is at least one second later: an order expiring then may be removed by anyone.
  if (o.account !== ctx.address && !(o.expiry !== 0n && now + 1n >= o.expiry)) {
    fail(`--id ${id}: order #${id} belongs to ${o.account}; only its owner may cancel it before it expires`);
  }
  const sent = await send(`cancel order #${id}`, () => orderBook.cancelOrder(id), orderBook.interface);
  const address = await orderBook.getAddress();
  const cancelled = eventArgs<OrderCancelledEvent.OutputObject>(
    sent.receipt,
    orderBook.interface,
    address,
    "OrderCancelled",
  );
  const expired = eventArgs<OrderExpiredEvent.OutputObject>(sent.receipt, orderBook.interface, address, "OrderExpired");
  const refund = cancelled?.refund ?? expired?.refund ?? 0n;
  const result: CancelResult = {
    id,
    owner: o.account,
    outcome: expired ? "expired" : "cancelled",
    refund,
    hash: sent.hash,
  };
  out(
    `${expired ? "Removed expired" : "Cancelled"} order #${id}; ${money(asset, refund)} returned to ` +
      `${o.account === ctx.address ? accountLabel(ctx) : o.account}'s free balance`,
  );
  return result;
}

export interface ExecuteResult {
  id: bigint;
  /** "executed", or "cancelled" when a reduce-only order found no position (its escrow refunded) */
  outcome: "executed" | "cancelled";
  sizeDelta: bigint;
  fillPrice: bigint;
  /** the mark that met a TP/SL trigger; 0 for limits */
  markPrice: bigint;
  /** the execution fee earned by the caller */
  feeEarned: bigint;
  hash: string;
  gasUsed: bigint;
}

/** Executes one order as a keeper would: it reverts, with the reason, unless its condition holds now. */
export async function executeOrder(args: IdArgs, hre: HardhatRuntimeEnvironment): Promise<ExecuteResult> {
  const id = orderIdArg(args.id);
  const { ctx, asset } = assetArg(await connect(hre, args), args.asset);
  const { orderBook, engine } = ctx.exchange;
  const o = await liveOrder(ctx, id);
  const type = ORDER_TYPES[Number(o.orderType)];
  try {
    await orderBook.executeOrder.staticCall(id);
  } catch (err) {
    const { decodeRevert } = await import("../lib/revert");
    const reason = notYet(decodeRevert(err, orderBook.interface), type, o.sizeDelta, o.triggerPrice);
    if (reason) fail(`order #${id} cannot execute now: ${reason}`);
  }
  const sent = await send(`execute ${type} order #${id}`, () => orderBook.executeOrder(id), orderBook.interface);
  const address = await orderBook.getAddress();
  const executed = eventArgs<OrderExecutedEvent.OutputObject>(
    sent.receipt,
    orderBook.interface,
    address,
    "OrderExecuted",
  );
  const trade = eventArgs<TradeEvent.OutputObject>(sent.receipt, engine.interface, await engine.getAddress(), "Trade");
  const result: ExecuteResult = {
    id,
    outcome: executed ? "executed" : "cancelled",
    sizeDelta: executed?.sizeDelta ?? 0n,
    fillPrice: trade?.fillPrice ?? 0n,
    markPrice: executed?.markPrice ?? 0n,
    feeEarned: executed?.executionFee ?? 0n,
    hash: sent.hash,
    gasUsed: sent.gasUsed,
  };
  const market = symbolOf(ctx, o.marketId);
  if (!executed) {
    out(`Order #${id} found no ${market} position to reduce: cancelled, its escrow returned to ${o.account}`);
    return result;
  }
  if (asset !== "USD") {
    // The trader's terms: a buy of contracts where the engine sold face, USD prices, the fee in the coin.
    out(
      `Executed ${type} order #${id} on ${market}: the trader ${result.sizeDelta < 0n ? "bought" : "sold"} ` +
        `${f.usd(abs(result.sizeDelta))} of face at ${f.price(reciprocal(result.fillPrice))} USD` +
        (result.markPrice !== 0n ? ` (mark ${f.price(reciprocal(result.markPrice))} USD)` : "") +
        `; ${accountLabel(ctx)} earned ${money(asset, result.feeEarned)} (gas ${f.amount(sent.gasUsed, 0, 0)})`,
    );
    return result;
  }
  out(
    `Executed ${type} order #${id} on ${market}: ${result.sizeDelta > 0n ? "bought" : "sold"} ` +
      `${f.size(abs(result.sizeDelta))} ${baseSymbol(market)} at ${f.price(result.fillPrice)}` +
      (result.markPrice !== 0n ? ` (mark ${f.price(result.markPrice)})` : "") +
      `; ${accountLabel(ctx)} earned ${f.usd(result.feeEarned)} (gas ${f.amount(sent.gasUsed, 0, 0)})`,
  );
  return result;
}

/* ------------------------------------------------------------------ HELPERS */

/** What an order waits for, in words: "the fill price is at or below 1.900000". */
export function condition(type: OrderTypeName, sizeDelta: bigint, trigger: bigint): string {
  const buys = sizeDelta > 0n;
  if (type === "limit open" || type === "limit close") {
    return `the fill price is at or ${buys ? "below" : "above"} ${f.price(trigger)}`;
  }
  // A long's take-profit (a sell) and a short's stop-loss (a buy) wait for the mark to rise.
  const rises = (type === "take-profit") !== buys;
  return `the mark is at or ${rises ? "above" : "below"} ${f.price(trigger)}`;
}

/** Why an order's execution reverted, in words, for the refusals a keeper meets; undefined for others. */
function notYet(
  decoded: { name: string; args: Record<string, unknown> } | undefined,
  type: OrderTypeName,
  sizeDelta: bigint,
  trigger: bigint,
): string | undefined {
  if (!decoded) return undefined;
  const a = decoded.args as Record<string, bigint>;
  switch (decoded.name) {
    case "TriggerNotReached":
      return `the mark is ${f.price(a.markPrice)}; the ${type} executes when ${condition(type, sizeDelta, trigger)}`;
    case "ExpiredOrder":
      return `it expired at ${new Date(Number(a.expiry) * 1000).toISOString()}; cancel it (anyone may) to return its escrow`;
    case "SlippageExceeded":
      return type === "limit open" || type === "limit close"
        ? `a ${sizeDelta > 0n ? "buy" : "sell"} would fill at ${f.price(a.fillPrice)}; it executes when ${condition(type, sizeDelta, trigger)}`
        : `the trigger is met but the fill ${f.price(a.fillPrice)} is worse than the order's acceptable price ` +
            `${f.price(a.acceptablePrice)} (the price gapped); cancel it and place it again with a wider --slippage`;
    default:
      return undefined;
  }
}

/** `price` moved `slippage` (WAD fraction) against the trader: up for a buy, down for a sell. */
function worseBy(price: bigint, isBuy: boolean, slippage: bigint): bigint {
  return isBuy ? (price * (WAD + slippage) + WAD - 1n) / WAD : (price * (WAD - slippage)) / WAD;
}

function orderIdArg(value: string | undefined): bigint {
  const id = wholeArg("id", value, MAX_ORDER_ID);
  if (id === 0n) fail("--id 0: order ids start at 1");
  return id;
}

async function liveOrder(ctx: TaskContext, id: bigint) {
  const o = await ctx.exchange.orderBook.getOrder(id);
  if (o.status !== LIVE) {
    fail(`--id ${id}: order #${id} is ${o.status === 0n ? "unknown" : ORDER_STATUSES[Number(o.status)]}, not live`);
  }
  return o;
}

function symbolOf(ctx: TaskContext, marketId: bigint): string {
  for (const m of ctx.exchange.markets.values()) if (m.marketId === marketId) return m.symbol;
  return `market ${marketId}`;
}

function baseSymbol(symbol: string): string {
  return symbol.split("-")[0];
}

function sideName(size: bigint): string {
  return size > 0n ? "long" : "short";
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

/* ------------------------------------------------------------------ TASKS */

perpTask("order", "Places a limit, take-profit or stop-loss order; margin and a keeper fee are escrowed")
  .addOptionalParam("type", required("limit, tp or sl"), undefined, types.string)
  .addOptionalParam("market", required("market symbol, e.g. ALT-USD"), undefined, types.string)
  .addOptionalParam(
    "side",
    "limit open: long or short (without it, a limit closes the position)",
    undefined,
    types.string,
  )
  .addOptionalParam("margin", "limit open: margin in USD", undefined, types.string)
  .addOptionalParam("leverage", "limit open: leverage at the limit price", undefined, types.string)
  .addOptionalParam(
    "price",
    required("the limit price (limit) or the mark trigger (tp, sl), USD"),
    undefined,
    types.string,
  )
  .addOptionalParam("size", "limit close, tp, sl: base units to close, or all (default all)", undefined, types.string)
  .addOptionalParam(
    "contracts",
    "coin-margined markets: whole contracts to open (with --leverage or --margin in the coin) or to close (or all)",
    undefined,
    types.string,
  )
  .addOptionalParam(
    "acceptable",
    "tp, sl: the worst fill price accepted (default: --slippage beyond the trigger)",
    undefined,
    types.string,
  )
  .addOptionalParam(
    "slippage",
    `tp, sl: tolerance beyond the trigger when no --acceptable, percent (default tp ${DEFAULT_TAKE_PROFIT_SLIPPAGE_PCT}, sl ${DEFAULT_STOP_LOSS_SLIPPAGE_PCT})`,
    undefined,
    types.string,
  )
  .addOptionalParam(
    "expiryHours",
    `hours until the order expires, at most ${MAX_EXPIRY_HOURS} (default: never)`,
    undefined,
    types.string,
  )
  .addOptionalParam("fee", "execution fee for the keeper, USD (default: the book's minimum)", undefined, types.string)
  .addFlag("immediate", "limit: if the price is already there, fill now at market instead of refusing")
  .setAction(cliAction("perp:order", async (args: OrderArgs, hre) => placeOrder(args, hre)));

perpTask("orders", "Lists the account's live orders")
  .addOptionalParam(
    "asset",
    "the order book: USD (default), or a coin's (BTC, ALT) for its coin-margined markets",
    "USD",
    types.string,
  )
  .setAction(cliAction("perp:orders", async (args: AssetArgs, hre) => listOrders(args, hre)));

perpTask("cancel", "Cancels an order (its owner; anyone once it expired) and returns its escrow to the owner")
  .addOptionalParam("id", required("order id"), undefined, types.string)
  .addOptionalParam(
    "asset",
    "the order book: USD (default), or a coin's (BTC, ALT) for its coin-margined markets",
    "USD",
    types.string,
  )
  .setAction(cliAction("perp:cancel", async (args: IdArgs, hre) => cancelOrder(args, hre)));

perpTask("execute", "Executes an order whose condition holds now, as a keeper; the caller earns its fee")
  .addOptionalParam("id", required("order id"), undefined, types.string)
  .addOptionalParam(
    "asset",
    "the order book: USD (default), or a coin's (BTC, ALT) for its coin-margined markets",
    "USD",
    types.string,
  )
  .setAction(cliAction("perp:execute", async (args: IdArgs, hre) => executeOrder(args, hre)));
