/**
 * Read-only panels: perp:position (the trader's panel), perp:markets, perp:insurance. Every number
 * comes from the lens, which projects the market to the current block with the engine's own library
 * code, so the liquidation price shown is the one at which `liquidate` succeeds.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import * as f from "../lib/format";
import { USD6_TO_WAD } from "../lib/units";
import {
  accountLabel,
  assetArg,
  chainTime,
  connect,
  marketVenueArg,
  money,
  out,
  positionIdHex,
  view,
  type ConnectionArgs,
} from "./common";
import { baseSymbol, distance } from "./trading";
import { inversePosition, type InversePanel } from "./inverse";
import { reciprocal } from "../lib/coin-margined";
import type { Exchange, MarketHandles } from "../lib/contracts";

export interface PositionArgs extends ConnectionArgs {
  market: string;
}

export interface PositionPanel {
  market: string;
  account: string;
  positionId: bigint;
  open: boolean;
  /** signed base units; 0 when no position is open (then the position fields below are 0) */
  size: bigint;
  entryPrice: bigint;
  margin: bigint;
  leverage: bigint;
  notional: bigint;
  indexPrice: bigint;
  markPrice: bigint;
  lastPrice: bigint;
  unrealizedPnl: bigint;
  /** owed by the position (negative: owed to it) */
  pendingFunding: bigint;
  equity: bigint;
  maintenanceMargin: bigint;
  liquidationPrice: bigint;
  /** (liquidation price - mark) / mark, signed WAD fraction */
  liquidationDistance: bigint;
  liquidatable: boolean;
  lastFundingRate: bigint;
  predictedFundingRate: bigint;
  fundingIntervalSeconds: bigint;
  nextFundingTime: bigint;
  secondsToFunding: bigint;
}

export async function position(
  args: PositionArgs,
  hre: HardhatRuntimeEnvironment,
): Promise<PositionPanel | InversePanel> {
  const { ctx, market, coin } = marketVenueArg(await connect(hre, args), args.market);
  if (coin !== undefined) return inversePosition(ctx, market, coin);
  const { admin, lens } = ctx.exchange;
  const id = await admin.positionId(ctx.address, market.marketId);
  const [p, m, cfg, now] = await Promise.all([
    view("position view", () => lens.position(id)),
    view("market view", () => lens.market(market.marketId)),
    admin.marketConfig(market.marketId),
    chainTime(ctx),
  ]);
  const panel: PositionPanel = {
    market: market.symbol,
    account: ctx.address,
    positionId: id,
    open: p.size !== 0n,
    size: p.size,
    entryPrice: p.entryPrice,
    margin: p.margin,
    leverage: p.size !== 0n ? p.leverage : 0n,
    notional: p.notional,
    indexPrice: m.indexPrice,
    markPrice: m.markPrice,
    lastPrice: m.lastPrice,
    unrealizedPnl: p.unrealizedPnl,
    pendingFunding: p.pendingFunding,
    equity: p.equity,
    maintenanceMargin: p.maintenanceMargin,
    liquidationPrice: p.liquidationPrice,
    liquidationDistance: distance(p.liquidationPrice, m.markPrice),
    liquidatable: p.liquidatable,
    lastFundingRate: m.lastFundingRate,
    predictedFundingRate: m.predictedFundingRate,
    fundingIntervalSeconds: cfg.fundingInterval,
    nextFundingTime: m.nextFundingTime,
    secondsToFunding: m.nextFundingTime > now ? m.nextFundingTime - now : 0n,
  };
  const interval = f.duration(cfg.fundingInterval);
  const marketLines: [string, string][] = [
    ["index price", f.price(m.indexPrice) + (m.indexFresh ? "" : " (no fresh source: last good index)")],
    ["mark price", f.price(m.markPrice)],
    ["last price", f.price(m.lastPrice)],
  ];
  const fundingLines: [string, string][] = [
    [
      "funding rate",
      `last ${f.pct(m.lastFundingRate, 4, true)}, predicted ${f.pct(
        m.predictedFundingRate,
        4,
        true,
      )} per ${interval} (positive: longs pay shorts)`,
    ],
    ["next funding", `in ${f.duration(panel.secondsToFunding)}`],
  ];
  if (!panel.open) {
    out(`${accountLabel(ctx)} has no open ${market.symbol} position`, ...f.panel([...marketLines, ...fundingLines]));
    return panel;
  }
  const base = baseSymbol(market.symbol);
  out(
    `${market.symbol} ${p.size > 0n ? "long" : "short"} of ${accountLabel(ctx)}, position ${positionIdHex(id)}`,
    ...f.panel([
      ["side", p.size > 0n ? "long" : "short"],
      ["size", `${f.size(p.size < 0n ? -p.size : p.size)} ${base} (notional ${f.usd(p.notional)} at mark)`],
      ["entry price", f.price(p.entryPrice)],
      ["margin", f.usd(p.margin)],
      ["leverage", `${f.leverage(p.leverage)} (notional / equity)`],
      ...marketLines,
      ["unrealised PnL", `${f.signedUsd(p.unrealizedPnl)} (at mark)`],
      ["pending funding", `${f.usd(p.pendingFunding)} (owed by the position; negative: owed to it)`],
      ["equity", f.usd(p.equity)],
      ["maintenance margin", f.usd(p.maintenanceMargin)],
      [
        "LIQUIDATION PRICE",
        f.liquidationPrice(p.liquidationPrice, p.size, m.markPrice) + (p.liquidatable ? "  LIQUIDATABLE NOW" : ""),
      ],
      ...fundingLines,
    ]),
  );
  return panel;
}

export interface MarketRow {
  symbol: string;
  marketId: bigint;
  /** a coin-margined market's coin: its prices are USD, its skew and open interest USD of face */
  coin?: string;
  indexPrice: bigint;
  indexFresh: boolean;
  markPrice: bigint;
  lastPrice: bigint;
  spotPrice: bigint;
  skew: bigint;
  longOpenInterest: bigint;
  shortOpenInterest: bigint;
  lastFundingRate: bigint;
  predictedFundingRate: bigint;
  nextFundingTime: bigint;
  secondsToFunding: bigint;
  paused: boolean;
}

/**
 * One market's row. A coin-margined market's is in the trader's terms: USD prices (the reciprocal of the
 * engine's), skew and open interest in USD of face with the sides flipped, funding negated (positive:
 * longs pay shorts); its spot is the underlying's spot pool.
 */
async function marketRow(exchange: Exchange, market: MarketHandles, now: bigint, coin?: string): Promise<MarketRow> {
  const [m, spotPrice] = await Promise.all([
    view("market view", () => exchange.lens.market(market.marketId)),
    market.spotPool.spotPrice(),
  ]);
  const inverse = coin !== undefined;
  const price = (engine: bigint) => (inverse ? reciprocal(engine) : engine);
  return {
    symbol: market.symbol,
    marketId: market.marketId,
    coin,
    indexPrice: price(m.indexPrice),
    indexFresh: m.indexFresh,
    markPrice: price(m.markPrice),
    lastPrice: price(m.lastPrice),
    spotPrice,
    skew: inverse ? -m.skew : m.skew,
    longOpenInterest: inverse ? m.shortOpenInterest : m.longOpenInterest,
    shortOpenInterest: inverse ? m.longOpenInterest : m.shortOpenInterest,
    lastFundingRate: inverse ? -m.lastFundingRate : m.lastFundingRate,
    predictedFundingRate: inverse ? -m.predictedFundingRate : m.predictedFundingRate,
    nextFundingTime: m.nextFundingTime,
    secondsToFunding: m.nextFundingTime > now ? m.nextFundingTime - now : 0n,
    paused: m.paused,
  };
}

export async function markets(args: ConnectionArgs, hre: HardhatRuntimeEnvironment): Promise<MarketRow[]> {
  const ctx = await connect(hre, args);
  const now = await chainTime(ctx);
  const rows: MarketRow[] = [];
  for (const market of ctx.exchange.markets.values()) rows.push(await marketRow(ctx.exchange, market, now));
  for (const [coin, exchange] of ctx.exchange.coinMargined) {
    for (const market of exchange.markets.values()) rows.push(await marketRow(exchange, market, now, coin));
  }
  const field = (label: string, cell: (r: MarketRow) => string) => [label, ...rows.map(cell)];
  out(
    ...f.table([
      ["", ...rows.map((r) => r.symbol + (r.coin ? " (USD face)" : "") + (r.paused ? " (paused)" : ""))],
      field("index", (r) => f.price(r.indexPrice) + (r.indexFresh ? "" : " (stale)")),
      field("mark", (r) => f.price(r.markPrice)),
      field("last", (r) => f.price(r.lastPrice)),
      field("spot", (r) => f.price(r.spotPrice)),
      field("skew", (r) => f.size(r.skew, 4)),
      field("OI long", (r) => f.size(r.longOpenInterest, 4)),
      field("OI short", (r) => f.size(r.shortOpenInterest, 4)),
      field("funding last", (r) => f.pct(r.lastFundingRate, 4, true)),
      field("funding predicted", (r) => f.pct(r.predictedFundingRate, 4, true)),
      field("next funding in", (r) => f.duration(r.secondsToFunding)),
    ]),
  );
  return rows;
}

export interface InsuranceReport {
  insuranceFund: bigint;
  poolAssets: bigint;
  reservedAssets: bigint;
  /** what LP redemptions may take now, collateral units (6 decimals for USD, 18 for a coin) */
  poolAvailable6: bigint;
  uncoveredBadDebt: { symbol: string; amount: bigint }[];
}

export interface InsuranceArgs extends ConnectionArgs {
  /** USD (default), or a coin (BTC, ALT): its coin-margined exchange's fund and pool */
  asset?: string;
}

export async function insurance(args: InsuranceArgs, hre: HardhatRuntimeEnvironment): Promise<InsuranceReport> {
  const { ctx, asset } = assetArg(await connect(hre, args), args.asset);
  const { vault, admin, pool, lens } = ctx.exchange;
  const [insuranceFund, poolAssets, reservedAssets, poolAvailable6] = await Promise.all([
    vault.insuranceFund(),
    vault.poolAssets(),
    admin.reservedAssets(),
    pool.availableAssets(),
  ]);
  const uncoveredBadDebt = [];
  for (const market of ctx.exchange.markets.values()) {
    const m = await view("market view", () => lens.market(market.marketId));
    uncoveredBadDebt.push({ symbol: market.symbol, amount: m.uncoveredBadDebt });
  }
  out(
    ...f.panel(
      [
        ["insurance fund", money(asset, insuranceFund)],
        ["pool assets", money(asset, poolAssets)],
        ["reserved for open interest", money(asset, reservedAssets)],
        ["available to LP redemptions", money(asset, asset === "USD" ? poolAvailable6 * USD6_TO_WAD : poolAvailable6)],
        ...uncoveredBadDebt.map((d): [string, string] => [
          `uncovered bad debt ${d.symbol}`,
          money(asset, d.amount) + (d.amount > 0n ? " (absorbed by the pool; ADL is open)" : ""),
        ]),
      ],
      "",
    ),
  );
  return { insuranceFund, poolAssets, reservedAssets, poolAvailable6, uncoveredBadDebt };
}
