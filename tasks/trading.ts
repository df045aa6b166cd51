/**
 * A trader's actions: perp:faucet, perp:deposit, perp:withdraw, perp:open, perp:close, perp:margin.
 * Each action parses its arguments, checks what it can before sending (balances, sides) so the common
 * mistakes get a precise message, sends, prints a human summary and returns the numbers.
 * Amounts: WAD USD unless the name ends in 6 (collateral token units).
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import * as f from "../lib/format";
import { Pricing } from "../lib/math";
import type { TradeEvent } from "../typechain-types/contracts/core/PerpEngine";
import { USD6_TO_WAD, WAD } from "../lib/units";
import {
  accountLabel,
  assetArg,
  connect,
  money,
  type AssetVenue,
  decimalArg,
  fail,
  eventArgs,
  marketVenueArg,
  MAX_LEVERAGE,
  out,
  percentArg,
  positionIdHex,
  requireLocalChain,
  send,
  sideArg,
  view,
  type ConnectionArgs,
  type TaskContext,
} from "./common";
import type { Exchange, MarketHandles } from "../lib/contracts";
import { reciprocal, traderSide } from "../lib/coin-margined";
import {
  closeInverse,
  openInverse,
  usdLiquidationText,
  type InverseCloseResult,
  type InverseOpenResult,
} from "./inverse";

/* ------------------------------------------------------------------ WALLET AND VAULT */

export interface AmountArgs extends ConnectionArgs {
  amount?: string;
  /** USD (the default) or a coin of a coin-margined exchange: BTC, ALT */
  asset?: string;
}

/** What perp:faucet mints when no --amount is given, per asset. */
export const DEFAULT_FAUCET: Readonly<Record<string, string>> = { USD: "10000", BTC: "1", ALT: "5000" };

export interface FaucetResult {
  account: string;
  asset: string;
  /** in the asset token's units: 6 decimals for USD, 18 for a coin (the name is the USD case's) */
  amount6: bigint;
  walletBalance6: bigint;
  hash: string;
}

/** The asset's token amount as printed: "10,000.00 USD" (6 decimals) or "1.00000000 BTC" (18). */
function tokens(a: AssetVenue, units: bigint): string {
  return a.decimals === 6 ? f.usd6(units) : f.coin(units, a.asset);
}

/** A token amount (the asset's decimals) as WAD. */
function tokensToWad(a: AssetVenue, units: bigint): bigint {
  return a.decimals === 6 ? units * USD6_TO_WAD : units;
}

export async function faucet(args: AmountArgs, hre: HardhatRuntimeEnvironment): Promise<FaucetResult> {
  const a = assetArg(await connect(hre, args), args.asset);
  const { ctx } = a;
  requireLocalChain(ctx, "perp:faucet");
  const { collateral } = ctx.exchange;
  const limit = await collateral.FAUCET_LIMIT();
  const amount6 = decimalArg("amount", args.amount ?? DEFAULT_FAUCET[a.asset] ?? "1", {
    decimals: a.decimals,
    unit: a.asset,
    max: limit,
  });
  const sent = await send("faucet", () => collateral.faucet(ctx.address, amount6));
  const walletBalance6 = await collateral.balanceOf(ctx.address);
  out(`Minted ${tokens(a, amount6)} to ${accountLabel(ctx)}; wallet ${tokens(a, walletBalance6)}`);
  return { account: ctx.address, asset: a.asset, amount6, walletBalance6, hash: sent.hash };
}

export interface BalanceResult {
  account: string;
  asset: string;
  /** in the asset token's units: 6 decimals for USD, 18 for a coin */
  amount6: bigint;
  /** free balance in the asset's vault after the action, WAD */
  freeBalance: bigint;
  walletBalance6: bigint;
  hash: string;
}

export async function deposit(args: AmountArgs, hre: HardhatRuntimeEnvironment): Promise<BalanceResult> {
  const a = assetArg(await connect(hre, args), args.asset);
  const { ctx } = a;
  const amount6 = decimalArg("amount", args.amount, { decimals: a.decimals, unit: a.asset });
  const { collateral, vault } = ctx.exchange;
  const wallet6 = await collateral.balanceOf(ctx.address);
  if (wallet6 < amount6) {
    fail(
      `--amount ${args.amount}: the wallet of ${accountLabel(ctx)} holds ${tokens(a, wallet6)}; ` +
        `get more with perp:faucet${a.asset === "USD" ? "" : ` --asset ${a.asset}`}`,
    );
  }
  const vaultAddress = await vault.getAddress();
  if ((await collateral.allowance(ctx.address, vaultAddress)) < amount6) {
    await send("approve", () => collateral.approve(vaultAddress, amount6));
  }
  const sent = await send("deposit", () => vault.deposit(amount6));
  const freeBalance = await vault.freeBalance(ctx.address);
  const walletBalance6 = await collateral.balanceOf(ctx.address);
  out(
    `Deposited ${tokens(a, amount6)} for ${accountLabel(ctx)}; free balance ${money(a.asset, freeBalance)}` +
      (a.asset === "USD" ? "" : ` in the ${a.asset} vault`),
  );
  return { account: ctx.address, asset: a.asset, amount6, freeBalance, walletBalance6, hash: sent.hash };
}

/** `--amount all` withdraws the whole free balance, rounded down to the token's unit. */
export async function withdraw(args: AmountArgs, hre: HardhatRuntimeEnvironment): Promise<BalanceResult> {
  const all =
    String(args.amount ?? "")
      .trim()
      .toLowerCase() === "all";
  const a = assetArg(await connect(hre, args), args.asset);
  const { ctx } = a;
  const requested6 = all
    ? 0n
    : decimalArg("amount", args.amount, { decimals: a.decimals, unit: `${a.asset} (or all)` });
  const { collateral, vault } = ctx.exchange;
  const free = await vault.freeBalance(ctx.address);
  const amount6 = all ? (a.decimals === 6 ? free / USD6_TO_WAD : free) : requested6;
  if (amount6 === 0n)
    fail(`--amount all: the free balance of ${accountLabel(ctx)} is ${money(a.asset, free)}; nothing to withdraw`);
  if (tokensToWad(a, amount6) > free) {
    fail(`--amount ${args.amount}: the free balance of ${accountLabel(ctx)} is ${money(a.asset, free)}`);
  }
  const sent = await send("withdraw", () => vault.withdraw(amount6, ctx.address));
  const freeBalance = await vault.freeBalance(ctx.address);
  const walletBalance6 = await collateral.balanceOf(ctx.address);
  out(
    `Withdrew ${tokens(a, amount6)} to ${accountLabel(ctx)}; free balance ${money(a.asset, freeBalance)}, wallet ${tokens(
      a,
      walletBalance6,
    )}`,
  );
  return { account: ctx.address, asset: a.asset, amount6, freeBalance, walletBalance6, hash: sent.hash };
}

/* ------------------------------------------------------------------ POSITIONS */

export interface OpenArgs extends ConnectionArgs {
  market: string;
  side: string;
  /** USD on a USD market, the coin on a coin-margined one */
  margin?: string;
  leverage?: string;
  /** a coin-margined market: whole contracts of its USD face */
  contracts?: string;
  /** percent, "0.5" = 0.5% */
  slippage: string;
}

export interface OpenResult {
  market: string;
  positionId: bigint;
  /** the order's signed size, base units */
  sizeDelta: bigint;
  /** the position's signed size after the order */
  size: bigint;
  fillPrice: bigint;
  acceptablePrice: bigint;
  fee: bigint;
  margin: bigint;
  entryPrice: bigint;
  markPrice: bigint;
  leverage: bigint;
  liquidationPrice: bigint;
  /** (liquidation price - mark) / mark, signed WAD fraction */
  liquidationDistance: bigint;
  hash: string;
  gasUsed: bigint;
}

/**
 * Opens (or adds to) a position by a market order: size = margin * leverage / mark, filled at the skew
 * price quoted from the lens's index and skew, with the acceptable price `slippage` percent worse.
 * Every argument is checked before the quote (leverage against the market's tiers, margin against the
 * free balance), so an absurd order is refused by name instead of quoted.
 */
export async function open(args: OpenArgs, hre: HardhatRuntimeEnvironment): Promise<OpenResult | InverseOpenResult> {
  const side = sideArg(args.side);
  const slippage = percentArg("slippage", args.slippage);
  const venue = marketVenueArg(await connect(hre, args), args.market);
  if (venue.coin !== undefined) return openInverse(venue.ctx, venue.market, venue.coin, args, side, slippage);
  if (args.contracts !== undefined) {
    fail(
      `--contracts ${args.contracts}: only a coin-margined market (${coinMarketsOf(venue.ctx)}) takes it; ` +
        `size a ${venue.market.symbol} position with --margin and --leverage`,
    );
  }
  return openLinear(venue.ctx, venue.market, args, side, slippage);
}

/** Every coin-margined market of the deployment, "BTCUSD-INV, ALTUSD-INV", or "none". */
function coinMarketsOf(ctx: TaskContext): string {
  const symbols = [...ctx.exchange.coinMargined.values()].flatMap((ex) => [...ex.markets.keys()]);
  return symbols.join(", ") || "none in this deployment";
}

/** perp:open on a USD-margined market: size = margin * leverage / mark. */
async function openLinear(
  ctx: TaskContext,
  market: MarketHandles,
  args: OpenArgs,
  side: 1n | -1n,
  slippage: bigint,
): Promise<OpenResult> {
  const margin = decimalArg("margin", args.margin, { unit: "USD" });
  const leverage = decimalArg("leverage", args.leverage, { example: "10", max: MAX_LEVERAGE });
  const { engine, admin, lens, vault } = ctx.exchange;

  const maxLeverage = await maxLeverageOf(ctx, market);
  if (leverage > maxLeverage)
    fail(`--leverage ${args.leverage}: ${market.symbol} allows at most ${f.leverage(maxLeverage)}`);
  const free = await vault.freeBalance(ctx.address);
  if (free < margin) {
    fail(
      `--margin ${args.margin}: the free balance of ${accountLabel(ctx)} is ${f.usd(free)}; deposit with perp:deposit`,
    );
  }
  const [m, cfg] = await Promise.all([lens.market(market.marketId), admin.marketConfig(market.marketId)]);
  if (!m.indexFresh)
    fail(`${market.symbol} has no fresh oracle price; push one with perp:price --market ${market.symbol}`);
  const notional = (margin * leverage) / WAD;
  const sizeDelta = (side * ((notional * WAD) / m.markPrice)) as bigint;
  if (sizeDelta === 0n) {
    fail(
      `--margin ${args.margin} --leverage ${args.leverage}: the size rounds to zero at mark ${f.price(m.markPrice)}`,
    );
  }
  const id = await admin.positionId(ctx.address, market.marketId);
  const existing = await admin.position(id);
  if (existing.size !== 0n && existing.size > 0n !== sizeDelta > 0n) {
    fail(
      `--side ${args.side}: ${accountLabel(ctx)} holds a ${existing.size > 0n ? "long" : "short"} on ${
        market.symbol
      }; ` + `close it first (perp:close --market ${market.symbol})`,
    );
  }
  const sizeLabel = `--margin ${args.margin} --leverage ${args.leverage}`;
  const fill = quoteFill(market.symbol, m, cfg, sizeDelta, sizeLabel);
  checkOpenInterest(market.symbol, m, cfg, sizeDelta, sizeLabel);
  const fee = Pricing.fee(m.skew, sizeDelta, fill, cfg.takerFee, cfg.makerFee);
  const acceptablePrice = acceptable(fill, sizeDelta > 0n, slippage);
  if (free < margin + fee) {
    fail(
      `--margin ${args.margin}: the free balance of ${accountLabel(ctx)} is ${f.usd(free)}, ` +
        `the order needs ${f.usd(margin)} margin + ${f.usd(fee)} fee; deposit with perp:deposit`,
    );
  }

  const sent = await send(`open ${market.symbol}`, () =>
    engine.increasePosition(market.marketId, sizeDelta, margin, acceptablePrice),
  );
  const trade = eventArgs<TradeEvent.OutputObject>(sent.receipt, engine.interface, await engine.getAddress(), "Trade");
  if (!trade) fail("open: the transaction emitted no Trade event");
  const p = await view("position view", () => lens.position(id));
  const result: OpenResult = {
    market: market.symbol,
    positionId: id,
    sizeDelta,
    size: p.size,
    fillPrice: trade.fillPrice,
    acceptablePrice,
    fee: trade.fee,
    margin: p.margin,
    entryPrice: p.entryPrice,
    markPrice: p.markPrice,
    leverage: p.leverage,
    liquidationPrice: p.liquidationPrice,
    liquidationDistance: distance(p.liquidationPrice, p.markPrice),
    hash: sent.hash,
    gasUsed: sent.gasUsed,
  };
  const base = baseSymbol(market.symbol);
  out(
    `${existing.size === 0n ? "Opened" : "Increased"} a ${side > 0n ? "long" : "short"} on ${
      market.symbol
    } for ${accountLabel(ctx)}`,
    ...f.panel([
      [
        "filled",
        `${f.size(abs(sizeDelta))} ${base} at ${f.price(result.fillPrice)} (acceptable ${f.price(acceptablePrice)})`,
      ],
      ["fee", f.usd(result.fee)],
      ["position", `${f.size(abs(p.size))} ${base} ${p.size > 0n ? "long" : "short"}, entry ${f.price(p.entryPrice)}`],
      ["margin", `${f.usd(p.margin)}, leverage ${f.leverage(p.leverage)}`],
      ["mark price", f.price(p.markPrice)],
      ["LIQUIDATION PRICE", f.liquidationPrice(p.liquidationPrice, p.size, p.markPrice)],
      ["position id", positionIdHex(id)],
      ["tx", `${sent.hash} (gas ${f.amount(sent.gasUsed, 0, 0)})`],
    ]),
  );
  return result;
}

export interface CloseArgs extends ConnectionArgs {
  market: string;
  slippage: string;
}

/** What a whole close settled, read from its Trade event, the free balance around it and its receipt. */
export interface CloseSettlement {
  fee: bigint;
  realizedPnl: bigint;
  fundingPaid: bigint;
  /** what came back to the free balance: margin - funding + PnL - fee, floored at 0 */
  returned: bigint;
  freeBalance: bigint;
  hash: string;
  gasUsed: bigint;
}

export interface CloseResult extends CloseSettlement {
  market: string;
  positionId: bigint;
  /** the closing order's signed size (opposite to the position) */
  sizeDelta: bigint;
  fillPrice: bigint;
  acceptablePrice: bigint;
}

/** Closes the whole position by a market order at the quoted fill, `slippage` percent of tolerance. */
export async function close(
  args: CloseArgs,
  hre: HardhatRuntimeEnvironment,
): Promise<CloseResult | InverseCloseResult> {
  const slippage = percentArg("slippage", args.slippage);
  const { ctx, market, coin } = marketVenueArg(await connect(hre, args), args.market);
  if (coin !== undefined) return closeInverse(ctx, market, coin, slippage);
  const { id, position: p, sizeDelta, acceptablePrice, fillPrice, settled } = await closeWhole(ctx, market, slippage);
  const result: CloseResult = {
    market: market.symbol,
    positionId: id,
    sizeDelta,
    fillPrice,
    acceptablePrice,
    ...settled,
  };
  out(
    `Closed the ${p.size > 0n ? "long" : "short"} on ${market.symbol} for ${accountLabel(ctx)}`,
    ...f.panel([
      ["filled", `${f.size(abs(sizeDelta))} ${baseSymbol(market.symbol)} at ${f.price(result.fillPrice)}`],
      ["realised PnL", f.signedUsd(result.realizedPnl)],
      ["fee", f.usd(result.fee)],
      ["funding paid", f.signedUsd(result.fundingPaid)],
      ["returned", `${f.usd(result.returned)}; free balance ${f.usd(result.freeBalance)}`],
      ["tx", `${result.hash} (gas ${f.amount(result.gasUsed, 0, 0)})`],
    ]),
  );
  return result;
}

/**
 * Closes the account's whole position on `market` by a market order within `slippage` of the quoted fill
 * (engine terms, either kind of market): the position as it was, the fill and what the close settled.
 */
export async function closeWhole(ctx: TaskContext, market: MarketHandles, slippage: bigint) {
  const { engine, admin, lens, vault } = ctx.exchange;
  const id = await admin.positionId(ctx.address, market.marketId);
  const position = await admin.position(id);
  if (position.size === 0n) fail(`--market ${market.symbol}: ${accountLabel(ctx)} has no open position there`);
  const [m, cfg] = await Promise.all([lens.market(market.marketId), admin.marketConfig(market.marketId)]);
  const sizeDelta = -position.size;
  const fill = Pricing.fillPrice(m.indexPrice, m.skew, sizeDelta, cfg.skewScale);
  const acceptablePrice = acceptable(fill, sizeDelta > 0n, slippage);
  const freeBefore = await vault.freeBalance(ctx.address);
  const sent = await send(`close ${market.symbol}`, () => engine.closePosition(market.marketId, acceptablePrice));
  const trade = eventArgs<TradeEvent.OutputObject>(sent.receipt, engine.interface, await engine.getAddress(), "Trade");
  if (!trade) fail("close: the transaction emitted no Trade event");
  const freeBalance = await vault.freeBalance(ctx.address);
  const settled: CloseSettlement = {
    fee: trade.fee,
    realizedPnl: trade.realizedPnl,
    fundingPaid: trade.fundingPaid,
    returned: freeBalance - freeBefore,
    freeBalance,
    hash: sent.hash,
    gasUsed: sent.gasUsed,
  };
  return { id, position, sizeDelta, acceptablePrice, fillPrice: trade.fillPrice, settled };
}

export interface MarginArgs extends ConnectionArgs {
  market: string;
  add?: string;
  remove?: string;
}

export interface MarginResult {
  market: string;
  positionId: bigint;
  /** signed: positive added, negative removed */
  amount: bigint;
  margin: bigint;
  leverage: bigint;
  liquidationPrice: bigint;
  freeBalance: bigint;
  hash: string;
}

/** Moves margin between the free balance and a position: exactly one of --add N or --remove N. */
export async function changeMargin(args: MarginArgs, hre: HardhatRuntimeEnvironment): Promise<MarginResult> {
  if ((args.add === undefined) === (args.remove === undefined)) {
    fail(
      args.add === undefined
        ? "--add or --remove is required: exactly one, in USD (in the coin on a coin-margined market), e.g. --add 50"
        : `--add ${args.add} --remove ${args.remove}: pass exactly one of them`,
    );
  }
  const adding = args.add !== undefined;
  const { ctx, market, coin } = marketVenueArg(await connect(hre, args), args.market);
  const asset = coin ?? "USD";
  const amount = decimalArg(adding ? "add" : "remove", adding ? args.add : args.remove, { unit: asset });
  const { engine, admin, lens, vault } = ctx.exchange;
  const id = await admin.positionId(ctx.address, market.marketId);
  const before = await admin.position(id);
  if (before.size === 0n) fail(`--market ${market.symbol}: ${accountLabel(ctx)} has no open position there`);
  if (adding) {
    const free = await vault.freeBalance(ctx.address);
    if (free < amount) fail(`--add ${args.add}: the free balance of ${accountLabel(ctx)} is ${money(asset, free)}`);
  } else if (amount >= before.margin) {
    fail(
      `--remove ${args.remove}: the ${market.symbol} position's margin is ${money(asset, before.margin)}; ` +
        `remove less than that (perp:close returns all of it)`,
    );
  }
  const sent = await send(`${adding ? "add" : "remove"} margin`, () =>
    adding ? engine.addMargin(market.marketId, amount) : engine.removeMargin(market.marketId, amount),
  );
  const p = await view("position view", () => lens.position(id));
  const freeBalance = await vault.freeBalance(ctx.address);
  out(
    `${adding ? "Added" : "Removed"} ${money(asset, amount)} ${adding ? "to" : "from"} the ${
      market.symbol
    } position of ${accountLabel(ctx)}`,
    ...f.panel([
      ["margin", `${money(asset, p.margin)}, leverage ${f.leverage(p.leverage)}`],
      [
        "liquidation price",
        coin === undefined
          ? f.liquidationPrice(p.liquidationPrice, p.size, p.markPrice)
          : usdLiquidationText(p.liquidationPrice, traderSide(p.size).isLong, reciprocal(p.markPrice)),
      ],
      ["free balance", money(asset, freeBalance)],
    ]),
  );
  return {
    market: market.symbol,
    positionId: id,
    amount: adding ? amount : -amount,
    margin: p.margin,
    leverage: p.leverage,
    liquidationPrice: p.liquidationPrice,
    freeBalance,
    hash: sent.hash,
  };
}

/* ------------------------------------------------------------------ HELPERS */

/** The 10^-6 step of a size as the tasks print it (f.size: 6 decimals). */
const SIZE_STEP = 10n ** 12n;

type MarketView = Awaited<ReturnType<Exchange["lens"]["market"]>>;
type MarketConfig = Awaited<ReturnType<Exchange["admin"]["marketConfig"]>>;

/** The highest leverage any of the market's tiers allows (the first tier's, for a small position). */
export async function maxLeverageOf(ctx: TaskContext, market: MarketHandles): Promise<bigint> {
  const tiers = await ctx.exchange.admin.tiers(market.marketId);
  return tiers.reduce((max, t) => (t.maxLeverage > max ? t.maxLeverage : max), 0n);
}

/**
 * The fill of `sizeDelta` now; refuses (naming `label`, the arguments that set the size) a size that
 * would push the skew past the skew scale, where the price formula has no answer.
 */
export function quoteFill(symbol: string, m: MarketView, cfg: MarketConfig, sizeDelta: bigint, label: string): bigint {
  const after = m.skew + sizeDelta;
  if (abs(after) >= cfg.skewScale) {
    const room = sizeDelta > 0n ? cfg.skewScale - 1n - m.skew : cfg.skewScale - 1n + m.skew;
    const shown = room - (room % SIZE_STEP); // rounded down: the size shown must itself be quotable
    fail(
      `${label}: ${sizeDelta > 0n ? "buying" : "selling"} ${f.size(abs(sizeDelta))} ${baseSymbol(symbol)} would take ` +
        `the ${symbol} skew to ${f.size(after)}, beyond its skew scale ${f.size(cfg.skewScale)}; ` +
        `at most ${f.size(shown > 0n ? shown : 0n)} this way now`,
    );
  }
  return Pricing.fillPrice(m.indexPrice, m.skew, sizeDelta, cfg.skewScale);
}

/** Refuses an increase that would lift its side's open interest above the market's cap. */
export function checkOpenInterest(
  symbol: string,
  m: MarketView,
  cfg: MarketConfig,
  sizeDelta: bigint,
  label: string,
): void {
  const current = sizeDelta > 0n ? m.longOpenInterest : m.shortOpenInterest;
  if (current + abs(sizeDelta) > cfg.maxOpenInterest) {
    fail(
      `${label}: ${f.size(abs(sizeDelta))} ${baseSymbol(symbol)} would lift ${symbol}'s ${
        sizeDelta > 0n ? "long" : "short"
      } open interest to ${f.size(current + abs(sizeDelta))}, above its cap ${f.size(cfg.maxOpenInterest)}`,
    );
  }
}

/** The fill moved `slippage` (WAD fraction) against the trader: up for a buy, down for a sell. */
export function acceptable(fill: bigint, isBuy: boolean, slippage: bigint): bigint {
  return isBuy ? (fill * (WAD + slippage) + WAD - 1n) / WAD : (fill * (WAD - slippage)) / WAD;
}

/** (price - reference) / reference as a signed WAD fraction (a price of 0 is -100%); 0 when the reference is 0. */
export function distance(priceWad: bigint, reference: bigint): bigint {
  return reference === 0n ? 0n : ((priceWad - reference) * WAD) / reference;
}

/** "ALT-USD" -> "ALT" */
export function baseSymbol(symbol: string): string {
  return symbol.split("-")[0];
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}
