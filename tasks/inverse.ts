/**
 * The trader's tasks on a coin-margined (inverse) market, e.g.
 *   npx hardhat perp:open --network localhost --market BTCUSD-INV --side short --contracts 300 --leverage 10
 *
 * The coin's engine runs the market as a linear market on 1/P (lib/coin-margined.ts): these functions
 * translate the trader's terms (contracts of a USD face, long or short, USD prices, amounts in the coin)
 * into the engine's (a size of USD face on the opposite side, prices in coin per USD) and back. The
 * pure translations come first, each a decision on numbers; the actions are thin shells around them.
 */
import * as f from "../lib/format";
import { engineAcceptablePrice, engineSize, reciprocal, traderSide, usdLiquidationPrice } from "../lib/coin-margined";
import { MAX_UINT256, Pricing } from "../lib/math";
import { WAD } from "../lib/units";
import type { TradeEvent } from "../typechain-types/contracts/core/PerpEngine";
import type { MarketHandles } from "../lib/contracts";
import {
  accountLabel,
  chainTime,
  decimalArg,
  eventArgs,
  fail,
  MAX_LEVERAGE,
  MAX_UNITS,
  out,
  positionIdHex,
  send,
  view,
  wholeArg,
  type TaskContext,
} from "./common";
import { acceptable, checkOpenInterest, closeWhole, maxLeverageOf, quoteFill, type CloseSettlement } from "./trading";

/* ------------------------------------------------------------------ TRANSLATIONS (pure) */

/** One contract's USD face of an inverse market, WAD. */
export function faceOf(market: MarketHandles): bigint {
  if (!market.inverse) throw new Error(`${market.symbol} is not a coin-margined market`);
  const [whole, frac = ""] = market.inverse.faceUsd.split(".");
  return BigInt(whole) * WAD + BigInt(frac.padEnd(18, "0").slice(0, 18));
}

/** The most contracts an order takes: far beyond any real order, inside the engine's 128-bit sizes. */
export const MAX_CONTRACTS = MAX_UNITS;

/**
 * How an inverse open is sized: exactly two of --contracts, --margin (coin) and --leverage.
 *  - contracts and leverage: the margin is the coin notional at the fill / leverage, rounded up, so the
 *    leverage holds at entry; the opening fee is paid from the free balance beside it (a 1x short's margin
 *    is then its whole notional: no liquidation price);
 *  - margin and leverage: contracts = margin * leverage * USD price / face, rounded down;
 *  - contracts and margin: as given.
 */
export type InverseSizing =
  | { mode: "contracts+leverage"; contracts: bigint; leverage: bigint }
  | { mode: "margin+leverage"; margin: bigint; leverage: bigint }
  | { mode: "contracts+margin"; contracts: bigint; margin: bigint };

export interface InverseSizeArgs {
  contracts?: string;
  margin?: string;
  leverage?: string;
}

/** Parses --contracts/--margin/--leverage into a sizing, refusing a missing or extra one by name. */
export function inverseSizingArg(args: InverseSizeArgs, coin: string): InverseSizing {
  const given = (["contracts", "margin", "leverage"] as const).filter((k) => args[k] !== undefined);
  if (given.length !== 2) {
    fail(
      `${given.length > 2 ? "--contracts, --margin and --leverage: pass only two of them" : "pass two of --contracts, --margin and --leverage"}` +
        ` on a coin-margined market, e.g. --contracts 300 --leverage 10 (margin in ${coin} follows), or --margin 0.1 --leverage 10`,
    );
  }
  const contracts = () => {
    const n = wholeArg("contracts", args.contracts, MAX_CONTRACTS);
    if (n === 0n) fail(`--contracts ${args.contracts}: must be at least 1`);
    return n;
  };
  const margin = () => decimalArg("margin", args.margin, { unit: coin, example: "0.1" });
  const leverage = () => decimalArg("leverage", args.leverage, { example: "10", max: MAX_LEVERAGE });
  if (args.margin === undefined) return { mode: "contracts+leverage", contracts: contracts(), leverage: leverage() };
  if (args.contracts === undefined) return { mode: "margin+leverage", margin: margin(), leverage: leverage() };
  return { mode: "contracts+margin", contracts: contracts(), margin: margin() };
}

/** Whole contracts worth margin * leverage in USD at `usdPrice`, rounded down. */
export function contractsFor(margin: bigint, leverage: bigint, usdPrice: bigint, face: bigint): bigint {
  return (((margin * leverage) / WAD) * usdPrice) / WAD / face;
}

/** The coin margin that gives `leverage` on an engine size `size` filled at the engine price `fill`, rounded up. */
export function marginFor(size: bigint, fill: bigint, leverage: bigint): bigint {
  const abs = size < 0n ? -size : size;
  const notional = (abs * fill + WAD - 1n) / WAD;
  return (notional * WAD + leverage - 1n) / leverage;
}

/**
 * A USD liquidation price as printed, from the engine's and the trader's side: "none" for a short whose
 * margin covers any rise (a 1x short), "any price" for a long under water everywhere.
 */
export function usdLiquidationText(engineLiq: bigint, isLong: boolean, usdMark: bigint): string {
  const usd = usdLiquidationPrice(engineLiq, isLong);
  if (usd === undefined) return "none (the margin covers any rise: the short holds its dollars in the coin)";
  if (usd === MAX_UINT256) return "any price (the margin is gone at every mark)";
  return `${f.price(usd)} USD (${f.change(usd, usdMark)} from mark)`;
}

/** An amount of the coin with its USD worth at `usdPrice`: "0.10000000 BTC (3,000.00 USD)". */
export function coinWithUsd(amount: bigint, coin: string, usdPrice: bigint): string {
  return `${f.coin(amount, coin)} (${f.usd((amount * usdPrice) / WAD)})`;
}

/* ------------------------------------------------------------------ perp:open */

export interface InverseOpenArgs extends InverseSizeArgs {
  side: string;
  slippage: string;
}

export interface InverseOpenResult {
  market: string;
  coin: string;
  positionId: bigint;
  isLong: boolean;
  /** contracts added, and held after the order */
  contracts: bigint;
  totalContracts: bigint;
  /** the engine's signed size delta (USD face, opposite side) */
  engineSizeDelta: bigint;
  /** USD prices, WAD */
  fillPrice: bigint;
  entryPrice: bigint;
  markPrice: bigint;
  /** undefined: none (a short whose margin covers any rise); MAX_UINT256: at every price */
  liquidationPrice: bigint | undefined;
  /** coin, WAD */
  fee: bigint;
  margin: bigint;
  leverage: bigint;
  hash: string;
  gasUsed: bigint;
}

/** Opens or adds to a position on an inverse market by a market order; amounts in the coin, prices in USD. */
export async function openInverse(
  ctx: TaskContext,
  market: MarketHandles,
  coin: string,
  args: InverseOpenArgs,
  side: 1n | -1n,
  slippage: bigint,
): Promise<InverseOpenResult> {
  const sizing = inverseSizingArg(args, coin);
  const isLong = side > 0n;
  const face = faceOf(market);
  const { engine, admin, lens, vault } = ctx.exchange;
  const [m, cfg] = await Promise.all([lens.market(market.marketId), admin.marketConfig(market.marketId)]);
  if (!m.indexFresh) {
    fail(`${market.symbol} has no fresh oracle price; push one to ${market.inverse?.underlying} with perp:price`);
  }
  const usdMark = reciprocal(m.markPrice);
  const contracts =
    sizing.mode === "margin+leverage" ? contractsFor(sizing.margin, sizing.leverage, usdMark, face) : sizing.contracts;
  const label = Object.entries(args)
    .filter(([k, v]) => ["contracts", "margin", "leverage"].includes(k) && v !== undefined)
    .map(([k, v]) => `--${k} ${String(v)}`)
    .join(" ");
  if (contracts === 0n) fail(`${label}: less than one contract of ${f.usd(face)} at mark ${f.price(usdMark)} USD`);
  if (sizing.mode !== "contracts+margin") {
    const maxLeverage = await maxLeverageOf(ctx, market);
    if (sizing.leverage > maxLeverage)
      fail(`--leverage ${args.leverage}: ${market.symbol} allows at most ${f.leverage(maxLeverage)}`);
  }
  const sizeDelta = engineSize(contracts, face, isLong);
  const id = await admin.positionId(ctx.address, market.marketId);
  const existing = await admin.position(id);
  if (existing.size !== 0n && traderSide(existing.size).isLong !== isLong) {
    fail(
      `--side ${args.side}: ${accountLabel(ctx)} holds a ${traderSide(existing.size).isLong ? "long" : "short"} on ` +
        `${market.symbol}; close it first (perp:close --market ${market.symbol})`,
    );
  }
  const fill = quoteFill(market.symbol, m, cfg, sizeDelta, label);
  checkOpenInterest(market.symbol, m, cfg, sizeDelta, label);
  const margin = sizing.mode === "contracts+leverage" ? marginFor(sizeDelta, fill, sizing.leverage) : sizing.margin;
  const fee = Pricing.fee(m.skew, sizeDelta, fill, cfg.takerFee, cfg.makerFee);
  const free = await vault.freeBalance(ctx.address);
  if (free < margin + fee) {
    fail(
      `${label}: the free balance of ${accountLabel(ctx)} is ${f.coin(free, coin)}, the order needs ` +
        `${f.coin(margin, coin)} margin + ${f.coin(fee, coin)} fee; deposit with perp:deposit --asset ${coin}`,
    );
  }
  const engineAcceptable = acceptable(fill, sizeDelta > 0n, slippage);
  const sent = await send(`open ${market.symbol}`, () =>
    engine.increasePosition(market.marketId, sizeDelta, margin, engineAcceptable),
  );
  const trade = eventArgs<TradeEvent.OutputObject>(sent.receipt, engine.interface, await engine.getAddress(), "Trade");
  if (!trade) fail("open: the transaction emitted no Trade event");
  const p = await view("position view", () => lens.position(id));
  const result: InverseOpenResult = {
    market: market.symbol,
    coin,
    positionId: id,
    isLong,
    contracts,
    totalContracts: traderSide(p.size).face / face,
    engineSizeDelta: sizeDelta,
    fillPrice: reciprocal(trade.fillPrice),
    entryPrice: reciprocal(p.entryPrice),
    markPrice: reciprocal(p.markPrice),
    liquidationPrice: usdLiquidationPrice(p.liquidationPrice, isLong),
    fee: trade.fee,
    margin: p.margin,
    leverage: p.leverage,
    hash: sent.hash,
    gasUsed: sent.gasUsed,
  };
  const sideName = isLong ? "long" : "short";
  out(
    `${existing.size === 0n ? "Opened" : "Increased"} a ${sideName} on ${market.symbol} (margined in ${coin}) for ${accountLabel(ctx)}`,
    ...f.panel([
      [
        "filled",
        `${contracts} contracts of ${f.usd(face)} at ${f.price(result.fillPrice)} USD ` +
          `(acceptable ${f.price(reciprocal(engineAcceptable))} USD)`,
      ],
      ["fee", coinWithUsd(result.fee, coin, result.markPrice)],
      [
        "position",
        `${result.totalContracts} contracts ${sideName} (${f.usd(traderSide(p.size).face)} face), entry ${f.price(result.entryPrice)} USD`,
      ],
      ["margin", `${coinWithUsd(p.margin, coin, result.markPrice)}, leverage ${f.leverage(p.leverage)}`],
      ["mark price", `${f.price(result.markPrice)} USD`],
      ["LIQUIDATION PRICE", usdLiquidationText(p.liquidationPrice, isLong, result.markPrice)],
      ["position id", positionIdHex(id)],
      ["tx", `${sent.hash} (gas ${f.amount(sent.gasUsed, 0, 0)})`],
    ]),
  );
  return result;
}

/* ------------------------------------------------------------------ perp:close */

/** A close on an inverse market: its money (CloseSettlement) in the coin, WAD. */
export interface InverseCloseResult extends CloseSettlement {
  market: string;
  coin: string;
  positionId: bigint;
  isLong: boolean;
  contracts: bigint;
  /** USD */
  fillPrice: bigint;
}

/** Closes the whole position on an inverse market by a market order; PnL in the coin. */
export async function closeInverse(
  ctx: TaskContext,
  market: MarketHandles,
  coin: string,
  slippage: bigint,
): Promise<InverseCloseResult> {
  const { id, position: p, fillPrice, settled } = await closeWhole(ctx, market, slippage);
  const { isLong, face } = traderSide(p.size);
  const usdFill = reciprocal(fillPrice);
  const result: InverseCloseResult = {
    market: market.symbol,
    coin,
    positionId: id,
    isLong,
    contracts: face / faceOf(market),
    fillPrice: usdFill,
    ...settled,
  };
  out(
    `Closed the ${isLong ? "long" : "short"} on ${market.symbol} for ${accountLabel(ctx)}`,
    ...f.panel([
      ["filled", `${result.contracts} contracts at ${f.price(usdFill)} USD`],
      [
        "realised PnL",
        `${f.signedCoin(result.realizedPnl, coin)} (${f.signedUsd((result.realizedPnl * usdFill) / WAD)})`,
      ],
      ["fee", coinWithUsd(result.fee, coin, usdFill)],
      ["funding paid", f.signedCoin(result.fundingPaid, coin)],
      ["returned", `${f.coin(result.returned, coin)}; free balance ${f.coin(result.freeBalance, coin)}`],
      ["tx", `${result.hash} (gas ${f.amount(result.gasUsed, 0, 0)})`],
    ]),
  );
  return result;
}

/* ------------------------------------------------------------------ perp:position */

export interface InversePanel {
  market: string;
  coin: string;
  account: string;
  positionId: bigint;
  open: boolean;
  isLong: boolean;
  contracts: bigint;
  /** USD face held, WAD */
  face: bigint;
  /** USD prices, WAD */
  entryPrice: bigint;
  indexPrice: bigint;
  markPrice: bigint;
  lastPrice: bigint;
  /** undefined: none (a short whose margin covers any rise); MAX_UINT256: at every price */
  liquidationPrice: bigint | undefined;
  /** coin, WAD */
  margin: bigint;
  unrealizedPnl: bigint;
  pendingFunding: bigint;
  equity: bigint;
  maintenanceMargin: bigint;
  leverage: bigint;
  liquidatable: boolean;
  /** the trader's funding rate: positive, longs pay shorts (the engine's, whose sides are flipped, negated) */
  fundingRate: bigint;
  secondsToFunding: bigint;
}

/** The trader's panel of an inverse market: amounts in the coin with their USD worth, prices in USD. */
export async function inversePosition(ctx: TaskContext, market: MarketHandles, coin: string): Promise<InversePanel> {
  const { admin, lens } = ctx.exchange;
  const id = await admin.positionId(ctx.address, market.marketId);
  const [p, m, now] = await Promise.all([
    view("position view", () => lens.position(id)),
    view("market view", () => lens.market(market.marketId)),
    chainTime(ctx),
  ]);
  const { isLong, face } = traderSide(p.size);
  const mark = reciprocal(m.markPrice);
  const panel: InversePanel = {
    market: market.symbol,
    coin,
    account: ctx.address,
    positionId: id,
    open: p.size !== 0n,
    isLong,
    contracts: face / faceOf(market),
    face,
    entryPrice: reciprocal(p.entryPrice),
    indexPrice: reciprocal(m.indexPrice),
    markPrice: mark,
    lastPrice: reciprocal(m.lastPrice),
    liquidationPrice: p.size === 0n ? undefined : usdLiquidationPrice(p.liquidationPrice, isLong),
    margin: p.margin,
    unrealizedPnl: p.unrealizedPnl,
    pendingFunding: p.pendingFunding,
    equity: p.equity,
    maintenanceMargin: p.maintenanceMargin,
    leverage: p.size !== 0n ? p.leverage : 0n,
    liquidatable: p.liquidatable,
    fundingRate: -m.predictedFundingRate,
    secondsToFunding: m.nextFundingTime > now ? m.nextFundingTime - now : 0n,
  };
  const marketLines: [string, string][] = [
    ["index price", `${f.price(panel.indexPrice)} USD (${market.inverse?.underlying}'s index)`],
    ["mark price", `${f.price(mark)} USD`],
    ["last price", `${f.price(panel.lastPrice)} USD`],
    [
      "funding rate",
      `predicted ${f.pct(panel.fundingRate, 4, true)} per interval (positive: longs pay shorts), in ${f.duration(panel.secondsToFunding)}`,
    ],
  ];
  if (!panel.open) {
    out(`${accountLabel(ctx)} has no open ${market.symbol} position`, ...f.panel(marketLines));
    return panel;
  }
  const sideName = isLong ? "long" : "short";
  out(
    `${market.symbol} ${sideName} of ${accountLabel(ctx)} (margined in ${coin}), position ${positionIdHex(id)}`,
    ...f.panel([
      ["side", sideName],
      ["size", `${panel.contracts} contracts of ${f.usd(faceOf(market))} (${f.usd(face)} face)`],
      ["entry price", `${f.price(panel.entryPrice)} USD`],
      ["margin", coinWithUsd(p.margin, coin, mark)],
      ["leverage", `${f.leverage(p.leverage)} (notional / equity, in ${coin})`],
      ...marketLines,
      [
        "unrealised PnL",
        `${f.signedCoin(p.unrealizedPnl, coin)} (${f.signedUsd((p.unrealizedPnl * mark) / WAD)}) at mark`,
      ],
      ["pending funding", `${f.coin(p.pendingFunding, coin)} (owed by the position; negative: owed to it)`],
      ["equity", coinWithUsd(p.equity, coin, mark)],
      ["maintenance margin", coinWithUsd(p.maintenanceMargin, coin, mark)],
      [
        "LIQUIDATION PRICE",
        usdLiquidationText(p.liquidationPrice, isLong, mark) + (p.liquidatable ? "  LIQUIDATABLE NOW" : ""),
      ],
    ]),
  );
  return panel;
}

/* ------------------------------------------------------------------ ORDERS */

/** An inverse order's trigger or limit, given in USD, as the engine's price (coin per USD). */
export interface EngineOrderPrices {
  trigger: bigint;
  acceptable: bigint;
}

/**
 * A limit on an inverse market in the engine's terms. A trader's buy limit at `usd` (fill at or below it)
 * is the engine's sell at or above 1/usd, rounded up; a sell limit at or above `usd` is the engine's buy
 * at or below 1/usd, rounded down: both round so the trader's bound holds.
 */
export function engineLimitPrice(usd: bigint, traderBuys: boolean): bigint {
  return engineAcceptablePrice(usd, traderBuys);
}

/**
 * A take-profit or stop-loss on an inverse market in the engine's terms. The book compares the engine's
 * mark 1/P with the trigger, on the engine position's side, which is the trader's flipped: a short's
 * take-profit (the USD price falls to `usd`) is the engine long's take-profit (1/P rises to 1/usd), its
 * stop-loss (P rises to `usd`) the engine long's stop-loss (1/P falls to 1/usd); the order type stays.
 * The trigger 1/usd is rounded toward the side that fires no later than the USD price reaches `usd`
 * (down when the engine waits for a rise, up when it waits for a fall). `worstUsd` is the trader's worst
 * fill for the closing trade (a short's close buys).
 */
export function engineTriggerPrices(
  usd: bigint,
  worstUsd: bigint,
  engineRises: boolean,
  traderBuys: boolean,
): EngineOrderPrices {
  const WAD2 = WAD * WAD;
  const trigger = engineRises ? WAD2 / usd : (WAD2 + usd - 1n) / usd;
  return { trigger, acceptable: engineAcceptablePrice(worstUsd, traderBuys) };
}
