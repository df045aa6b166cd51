/**
 * Moving the world around a position: perp:price (push the oracle feeds), perp:spot-swap (move the
 * spot pool), perp:advance-time (local chains only), and the permissionless keeper actions
 * perp:settle-funding and perp:liquidate, run by hand.
 */
import { existsSync } from "node:fs";
import { HardhatPluginError } from "hardhat/plugins";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import * as f from "../lib/format";
import { toFeedAnswer, USD6_TO_WAD, WAD } from "../lib/units";
import type { FundingSettledEvent, LiquidationEvent } from "../typechain-types/contracts/core/PerpEngine";
import type { SwapEvent } from "../typechain-types/contracts/spot/SpotPool";
import {
  accountLabel,
  chainTime,
  connect,
  decimalArg,
  defaultDeploymentFile,
  fail,
  eventArgs,
  signerArg,
  LOCAL_CHAIN_ID,
  marketArg,
  marketVenueArg,
  money,
  out,
  percentArg,
  positionIdArg,
  positionIdHex,
  send,
  view,
  type ConnectionArgs,
  type TaskContext,
} from "./common";
import { baseSymbol } from "./trading";
import { usdLiquidationText } from "./inverse";
import { reciprocal, traderSide } from "../lib/coin-margined";

/** 10^(18 - 8): one unit of an 8-decimal feed answer in WAD. */
const FEED_UNIT = 10n ** 10n;
const SECONDS_PER_HOUR = 3600n;

/* ------------------------------------------------------------------ ORACLE AND SPOT */

export interface PriceArgs extends ConnectionArgs {
  market: string;
  price: string;
}

export interface PriceResult {
  market: string;
  /** the pushed price, WAD */
  price: bigint;
  feeds: number;
  indexPrice: bigint;
  markPrice: bigint;
  lastPrice: bigint;
  hashes: string[];
}

/** Pushes `price` to every pushed feed of the market (oracle role), then shows index, mark and last. */
export async function pushPrice(args: PriceArgs, hre: HardhatRuntimeEnvironment): Promise<PriceResult> {
  const price = decimalArg("price", args.price, { unit: "USD", example: "2.15" });
  if (price % FEED_UNIT !== 0n) fail(`--price ${args.price}: the feeds have 8 decimals`);
  const ctx = await connect(hre, args);
  const market = marketArg(ctx, args.market);
  if (market.pushedFeeds.length === 0) fail(`--market ${market.symbol}: the market has no pushed feeds`);
  const role = await market.pushedFeeds[0].ORACLE_ROLE();
  for (const feed of market.pushedFeeds) {
    if (!(await feed.hasRole(role, ctx.address))) {
      fail(
        `${accountLabel(ctx)} lacks ORACLE_ROLE on the ${
          market.symbol
        } feed ${await feed.getAddress()}; the deployer (account 0) has it`,
      );
    }
  }
  const hashes: string[] = [];
  for (const [i, feed] of market.pushedFeeds.entries()) {
    const sent = await send(`push ${market.symbol} feed ${i + 1}`, () => feed.setPrice(toFeedAnswer(price)));
    hashes.push(sent.hash);
  }
  const m = await view("market view", () => ctx.exchange.lens.market(market.marketId));
  out(
    `Pushed ${f.price(price)} to ${market.pushedFeeds.length} ${market.symbol} feeds`,
    ...f.panel([
      ["index price", `${f.price(m.indexPrice)} (median of the fresh feeds and the spot TWAP)`],
      ["mark price", f.price(m.markPrice)],
      ["last price", f.price(m.lastPrice)],
    ]),
  );
  return {
    market: market.symbol,
    price,
    feeds: market.pushedFeeds.length,
    indexPrice: m.indexPrice,
    markPrice: m.markPrice,
    lastPrice: m.lastPrice,
    hashes,
  };
}

export interface SpotSwapArgs extends ConnectionArgs {
  market: string;
  buy: boolean;
  sell: boolean;
  usd: string;
  slippage: string;
  mint: boolean;
}

export interface SpotSwapResult {
  market: string;
  side: "buy" | "sell";
  /** collateral units spent (buy) or coin units sold (sell) */
  amountIn: bigint;
  /** coin units received (buy) or collateral units received (sell) */
  amountOut: bigint;
  /** coin minted to the caller first (--mint) */
  minted: bigint;
  spotBefore: bigint;
  spotAfter: bigint;
  indexPrice: bigint;
  hash: string;
}

/**
 * Moves the spot pool: --buy spends N USD of wallet collateral on coin; --sell sells coin worth N USD
 * at the current spot price. Selling needs coin in the wallet; --mint lets a minter (the deployer)
 * mint the shortfall first, for local experiments.
 */
export async function spotSwap(args: SpotSwapArgs, hre: HardhatRuntimeEnvironment): Promise<SpotSwapResult> {
  if (args.buy === args.sell) {
    fail(args.buy ? "--buy --sell: pass exactly one of them" : "--buy or --sell is required: exactly one of them");
  }
  if (args.buy && args.mint) fail("--mint applies to --sell only; get collateral for --buy with perp:faucet");
  const usd6 = decimalArg("usd", args.usd, { decimals: 6, unit: "USD" });
  const slippage = percentArg("slippage", args.slippage);
  const ctx = await connect(hre, args);
  const market = marketArg(ctx, args.market);
  const { spotPool, coin, twapFeed } = market;
  const { collateral } = ctx.exchange;
  const base = baseSymbol(market.symbol);
  const poolAddress = await spotPool.getAddress();
  const [spotBefore, reserveCoin, reserveUsd6] = await Promise.all([
    spotPool.spotPrice(),
    spotPool.reserveCoin(),
    spotPool.reserveUsd(),
  ]);
  const amountIn = args.buy ? usd6 : (usd6 * USD6_TO_WAD * WAD) / spotBefore;
  if (amountIn === 0n) fail(`--usd ${args.usd}: rounds to zero ${base}`);
  const limit = maxSwapIn(args.buy, reserveCoin, reserveUsd6);
  if (amountIn > limit) {
    const limitUsd6 = args.buy ? limit : (limit * spotBefore) / WAD / USD6_TO_WAD;
    fail(
      `--usd ${args.usd}: one swap may move the ${market.symbol} spot price at most ${MAX_SPOT_MOVE}-fold ` +
        `(the pool holds ${f.size(reserveCoin)} ${base} and ${f.usd6(reserveUsd6)}); ` +
        `${args.buy ? "buy" : "sell"} at most ${f.usd6(limitUsd6)} at once`,
    );
  }
  const quoted = await spotPool.quote(args.buy, amountIn);
  const minOut = (quoted * (WAD - slippage)) / WAD;
  if (minOut === 0n) fail(`--usd ${args.usd}: the swap would return nothing after the pool's fee and --slippage`);

  let minted = 0n;
  if (args.buy) {
    const wallet6 = await collateral.balanceOf(ctx.address);
    if (wallet6 < usd6)
      fail(`--usd ${args.usd}: the wallet of ${accountLabel(ctx)} holds ${f.usd6(wallet6)}; get more with perp:faucet`);
    if ((await collateral.allowance(ctx.address, poolAddress)) < amountIn) {
      await send("approve", () => collateral.approve(poolAddress, amountIn));
    }
  } else {
    const held = await coin.balanceOf(ctx.address);
    if (held < amountIn) {
      const shortfall = amountIn - held;
      if (!args.mint) {
        fail(
          `--usd ${args.usd}: selling needs ${f.size(amountIn)} ${base}, ${accountLabel(ctx)} holds ${f.size(held)}; ` +
            `buy some first (--buy), or as the deployer add --mint`,
        );
      }
      if (!(await coin.hasRole(await coin.MINTER_ROLE(), ctx.address))) {
        fail(`--mint: ${accountLabel(ctx)} lacks MINTER_ROLE on ${base}; only the deployer (account 0) may mint`);
      }
      await send(`mint ${base}`, () => coin.mint(ctx.address, shortfall));
      minted = shortfall;
    }
    if ((await coin.allowance(ctx.address, poolAddress)) < amountIn) {
      await send("approve", () => coin.approve(poolAddress, amountIn));
    }
  }
  const sent = await send(`spot ${args.buy ? "buy" : "sell"} on ${market.symbol}`, () =>
    spotPool.swap(args.buy, amountIn, minOut, ctx.address),
  );
  const swap = eventArgs<SwapEvent.OutputObject>(sent.receipt, spotPool.interface, poolAddress, "Swap");
  if (!swap) fail("spot-swap: the transaction emitted no Swap event");
  const amountOut = swap.amountOut;
  const spotAfter = await spotPool.spotPrice();
  const [m, window] = await Promise.all([
    view("market view", () => ctx.exchange.lens.market(market.marketId)),
    twapFeed.window(),
  ]);
  out(
    args.buy
      ? `Bought ${f.size(amountOut)} ${base} for ${f.usd6(amountIn)} on the ${market.symbol} spot pool`
      : `Sold ${f.size(amountIn)} ${base} for ${f.usd6(amountOut)} on the ${market.symbol} spot pool` +
          (minted > 0n ? ` (minted ${f.size(minted)} ${base} first)` : ""),
    ...f.panel([
      ["spot price", `${f.price(spotBefore)} -> ${f.price(spotAfter)} (${f.change(spotAfter, spotBefore)})`],
      ["index price", `${f.price(m.indexPrice)} (the spot source is a ${window}s TWAP)`],
    ]),
  );
  return {
    market: market.symbol,
    side: args.buy ? "buy" : "sell",
    amountIn,
    amountOut,
    minted,
    spotBefore,
    spotAfter,
    indexPrice: m.indexPrice,
    hash: sent.hash,
  };
}

/** The largest factor by which one perp:spot-swap may move the spot price (either way). */
export const MAX_SPOT_MOVE = 100n;

/**
 * The most one swap may put in so that the spot price moves at most MAX_SPOT_MOVE-fold: in a
 * constant-product pool the price moves by (r / (r + in))^2 for the reserve r the input joins, so the
 * input is at most r * (sqrt(MAX_SPOT_MOVE) - 1) = 9 r. Units are the input's (collateral for a buy).
 */
export function maxSwapIn(buy: boolean, reserveCoin: bigint, reserveUsd6: bigint): bigint {
  return (buy ? reserveUsd6 : reserveCoin) * (SQRT_MAX_SPOT_MOVE - 1n);
}
const SQRT_MAX_SPOT_MOVE = 10n;

/* ------------------------------------------------------------------ TIME */

export type AdvanceTimeArgs = ConnectionArgs & {
  hours: string;
};

/** The longest single move of the clock: ten years. */
export const MAX_ADVANCE_HOURS = 87_600n;
/**
 * The latest chain time a move may reach: the largest timestamp of the exchange's 40-bit time fields
 * (the engine's funding clock, the spot pools' observations), in the year 36812.
 */
export const MAX_CHAIN_TIME = (1n << 40n) - 1n;

export interface StaleFeed {
  market: string;
  feed: string;
  ageSeconds: bigint;
  heartbeatSeconds: bigint;
}

export interface AdvanceTimeResult {
  seconds: bigint;
  chainTime: bigint;
  /** pushed feeds older than their heartbeat after the jump (when a deployment is known) */
  staleFeeds: StaleFeed[];
}

/**
 * Moves the local chain's clock forward and mines a block; refuses on any other chain, and refuses a
 * move past MAX_ADVANCE_HOURS or MAX_CHAIN_TIME. A --deployment given is checked before the clock moves;
 * the network's default one, if present, only feeds the stale-feed report.
 */
export async function advanceTime(args: AdvanceTimeArgs, hre: HardhatRuntimeEnvironment): Promise<AdvanceTimeResult> {
  const hours = decimalArg("hours", args.hours, { unit: "hours", example: "8", max: MAX_ADVANCE_HOURS * WAD });
  const seconds = (hours * SECONDS_PER_HOUR) / WAD;
  if (seconds === 0n) fail(`--hours ${args.hours}: less than one second`);
  let ctx: TaskContext | undefined;
  let skipped: string | undefined;
  if (args.deployment !== undefined) {
    ctx = await connect(hre, args);
  } else if (existsSync(defaultDeploymentFile(hre))) {
    // A stale default deployment (the node restarted) does not stop the clock; it only skips the report.
    try {
      ctx = await connect(hre, args);
    } catch (err) {
      if (!HardhatPluginError.isHardhatPluginError(err)) throw err;
      skipped = err.message;
    }
  }
  // --account is checked by connect; without a deployment it still has to name a local signer.
  if (!ctx) await signerArg(hre, args.account);
  const chainId = ctx?.chainId ?? (await hre.ethers.provider.getNetwork()).chainId;
  if (chainId !== LOCAL_CHAIN_ID) {
    fail(
      `perp:advance-time works only on a local chain (id ${LOCAL_CHAIN_ID}); network "${hre.network.name}" is chain ${chainId}`,
    );
  }
  const before = await latestTime(hre);
  if (before + seconds > MAX_CHAIN_TIME) {
    fail(
      `--hours ${args.hours}: the chain's clock would pass ${isoTime(MAX_CHAIN_TIME)}, the latest time the ` +
        `exchange's 40-bit timestamps hold; it is ${isoTime(before)}`,
    );
  }
  // The block's timestamp set outright: evm_increaseTime adds to the node's wall clock, so a second of
  // wall time between the blocks would move the clock one second further than asked.
  await hre.network.provider.send("evm_setNextBlockTimestamp", [Number(before + seconds)]);
  await hre.network.provider.send("evm_mine", []);
  const now = await latestTime(hre);
  out(`Advanced the chain clock by ${f.duration(seconds)}; chain time ${isoTime(now)}`);

  const staleFeeds: StaleFeed[] = [];
  if (!ctx) {
    if (skipped) out(`  (no market report: ${skipped})`);
    return { seconds, chainTime: now, staleFeeds };
  }
  for (const market of ctx.exchange.markets.values()) {
    const sources = await ctx.exchange.oracle.sources(market.marketId);
    for (const feed of market.pushedFeeds) {
      const address = await feed.getAddress();
      const source = sources.find((s) => s.feed.toLowerCase() === address.toLowerCase());
      if (!source) continue;
      const [, , , updatedAt] = await feed.latestRoundData();
      if (now - updatedAt > source.heartbeat) {
        staleFeeds.push({
          market: market.symbol,
          feed: address,
          ageSeconds: now - updatedAt,
          heartbeatSeconds: source.heartbeat,
        });
      }
    }
    const stale = staleFeeds.filter((s) => s.market === market.symbol);
    const m = await view("market view", () => ctx.exchange.lens.market(market.marketId));
    const [state, cfg] = await Promise.all([
      ctx.exchange.admin.marketState(market.marketId),
      ctx.exchange.admin.marketConfig(market.marketId),
    ]);
    const notes: [string, string][] = [
      [market.symbol, `index ${f.price(m.indexPrice)}${m.indexFresh ? "" : " (no fresh source)"}`],
    ];
    if (stale.length > 0) {
      notes.push([
        "",
        `${stale.length} pushed feed(s) stale (heartbeat ${f.duration(
          stale[0].heartbeatSeconds,
        )}): the index uses the fresh sources only; ` + `push with perp:price --market ${market.symbol}`,
      ]);
    }
    if (state.lastFundingTime + cfg.fundingInterval <= now) {
      notes.push([
        "",
        `a funding boundary has passed: perp:settle-funding --market ${market.symbol} (or any trade) settles it`,
      ]);
    }
    out(...f.panel(notes));
  }
  return { seconds, chainTime: now, staleFeeds };
}

async function latestTime(hre: HardhatRuntimeEnvironment): Promise<bigint> {
  const block = await hre.ethers.provider.getBlock("latest");
  if (!block) fail("the node returned no latest block");
  return BigInt(block.timestamp);
}

/** The last second a JavaScript date can show (the year 275760); a chain moved past it by hand has only a count. */
const MAX_DATE_SECONDS = 8_640_000_000_000n;

/** A chain time as ISO 8601, or as seconds since 1970 beyond what a date shows. */
function isoTime(seconds: bigint): string {
  if (seconds > MAX_DATE_SECONDS) return `${f.amount(seconds, 0, 0)} s after 1970`;
  return new Date(Number(seconds) * 1000).toISOString();
}

/* ------------------------------------------------------------------ KEEPER ACTIONS BY HAND */

export interface SettleFundingArgs extends ConnectionArgs {
  market: string;
}

export interface SettleFundingResult {
  market: string;
  /** boundaries settled; 0 when none had passed (the call is then a no-op for funding) */
  intervals: bigint;
  rate: bigint;
  fundingIndex: bigint;
  nextFundingTime: bigint;
  hash: string;
}

export async function settleFunding(
  args: SettleFundingArgs,
  hre: HardhatRuntimeEnvironment,
): Promise<SettleFundingResult> {
  const { ctx, market, coin } = marketVenueArg(await connect(hre, args), args.market);
  const { engine, lens } = ctx.exchange;
  const sent = await send(`settle funding on ${market.symbol}`, () => engine.settleFunding(market.marketId));
  const settled = eventArgs<FundingSettledEvent.OutputObject>(
    sent.receipt,
    engine.interface,
    await engine.getAddress(),
    "FundingSettled",
  );
  const [m, now] = await Promise.all([view("market view", () => lens.market(market.marketId)), chainTime(ctx)]);
  const next = `in ${f.duration(m.nextFundingTime > now ? m.nextFundingTime - now : 0n)}`;
  if (!settled) {
    out(`No funding boundary has passed on ${market.symbol}; the next one is ${next}`);
    return {
      market: market.symbol,
      intervals: 0n,
      rate: m.lastFundingRate,
      fundingIndex: m.fundingIndex,
      nextFundingTime: m.nextFundingTime,
      hash: sent.hash,
    };
  }
  const { rate, fundingIndex, intervals } = settled;
  out(
    `Settled ${intervals} funding interval(s) on ${market.symbol}`,
    ...f.panel([
      coin === undefined
        ? ["rate", `${f.pct(rate, 4, true)} ${rate >= 0n ? "(longs pay shorts)" : "(shorts pay longs)"}`]
        : ["rate", `${f.pct(-rate, 4, true)} ${rate <= 0n ? "(longs pay shorts)" : "(shorts pay longs)"}`],
      [
        "funding index",
        coin === undefined
          ? `${f.amount(fundingIndex, 6)} USD per ${baseSymbol(market.symbol)}`
          : `${f.amount(fundingIndex, 12)} ${coin} per USD of face (the engine's, on 1/P)`,
      ],
      ["next boundary", next],
    ]),
  );
  return { market: market.symbol, intervals, rate, fundingIndex, nextFundingTime: m.nextFundingTime, hash: sent.hash };
}

export interface LiquidateArgs extends ConnectionArgs {
  id: string;
  /** the position's market, needed only when the id is open on more than one exchange */
  market?: string;
}

type PositionView = Awaited<ReturnType<TaskContext["exchange"]["lens"]["position"]>>;

/**
 * The exchange holding open position `id`: --market's, or the one exchange (USD or a coin's) where it is
 * open; the same owner and market number give the same id on every exchange, so two are refused by name.
 */
async function positionVenue(
  ctx: TaskContext,
  id: bigint,
  args: LiquidateArgs,
): Promise<{ ctx: TaskContext; p: PositionView; coin?: string }> {
  if (args.market !== undefined) {
    const venue = marketVenueArg(ctx, args.market);
    const p = await view("position view", () => venue.ctx.exchange.lens.position(id));
    if (p.size === 0n || p.marketId !== venue.market.marketId)
      fail(`--id ${args.id}: no open ${venue.market.symbol} position with this id`);
    return { ctx: venue.ctx, p, coin: venue.coin };
  }
  const venues: { ctx: TaskContext; coin?: string }[] = [
    { ctx },
    ...[...ctx.exchange.coinMargined].map(([coin, exchange]) => ({ ctx: { ...ctx, exchange }, coin })),
  ];
  const open = [];
  for (const v of venues) {
    const p = await view("position view", () => v.ctx.exchange.lens.position(id));
    if (p.size !== 0n) open.push({ ...v, p });
  }
  if (open.length === 0) fail(`--id ${args.id}: no open position with this id`);
  if (open.length > 1) {
    fail(
      `--id ${args.id}: open on ${open.length} exchanges (${open.map((o) => o.coin ?? "USD").join(", ")}); ` +
        `name its market with --market`,
    );
  }
  return open[0];
}

export interface LiquidateResult {
  positionId: bigint;
  market: string;
  owner: string;
  /** signed size closed */
  closedSize: bigint;
  full: boolean;
  markPrice: bigint;
  equity: bigint;
  reward: bigint;
  badDebt: bigint;
  hash: string;
  gasUsed: bigint;
}

/** Liquidates a position that is liquidatable at the current mark; the caller's account earns the reward. */
export async function liquidate(args: LiquidateArgs, hre: HardhatRuntimeEnvironment): Promise<LiquidateResult> {
  const id = positionIdArg(args.id);
  const found = await positionVenue(await connect(hre, args), id, args);
  const { ctx, p, coin } = found;
  const { engine } = ctx.exchange;
  const market = [...ctx.exchange.markets.values()].find((m) => m.marketId === p.marketId);
  const symbol = market?.symbol ?? `market ${p.marketId}`;
  const asset = coin ?? "USD";
  // Prices as the trader sees them: USD, the reciprocal of a coin engine's.
  const shown = (engine: bigint) => f.price(coin === undefined ? engine : reciprocal(engine));
  if (!p.liquidatable) {
    fail(
      `--id ${args.id}: the ${symbol} position is healthy at mark ${shown(p.markPrice)} ` +
        `(equity ${money(asset, p.equity)}, maintenance ${money(asset, p.maintenanceMargin)}, liquidation price ${
          coin === undefined
            ? f.price(p.liquidationPrice)
            : usdLiquidationText(p.liquidationPrice, traderSide(p.size).isLong, reciprocal(p.markPrice))
        })`,
    );
  }
  const sent = await send(`liquidate ${positionIdHex(id)}`, () => engine.liquidate(id));
  const e = eventArgs<LiquidationEvent.OutputObject>(
    sent.receipt,
    engine.interface,
    await engine.getAddress(),
    "Liquidation",
  );
  if (!e) fail("liquidate: the transaction emitted no Liquidation event");
  const full = e.closedSize === p.size;
  const base = baseSymbol(symbol);
  out(
    `Liquidated the ${symbol} ${(coin === undefined ? p.size > 0n : traderSide(p.size).isLong) ? "long" : "short"} of ${
      p.owner
    } (${full ? "whole position" : "partially"})`,
    ...f.panel([
      [
        "closed",
        `${f.size(e.closedSize < 0n ? -e.closedSize : e.closedSize)} ${coin === undefined ? base : "USD of face"} at mark ${shown(
          e.markPrice,
        )}`,
      ],
      ["equity", money(asset, e.equity)],
      ["reward", `${money(asset, e.reward)} to ${accountLabel(ctx)}`],
      ["bad debt", money(asset, e.badDebt)],
      ["tx", `${sent.hash} (gas ${f.amount(sent.gasUsed, 0, 0)})`],
    ]),
  );
  return {
    positionId: id,
    market: symbol,
    owner: p.owner,
    closedSize: e.closedSize,
    full,
    markPrice: e.markPrice,
    equity: e.equity,
    reward: e.reward,
    badDebt: e.badDebt,
    hash: sent.hash,
    gasUsed: sent.gasUsed,
  };
}
