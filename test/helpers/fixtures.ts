/**
 * Shared test fixture: a full exchange from lib/deploy.ts, a few funded traders, and small helpers to
 * trade by leverage, move the index and read a trade's event. Use with loadFixture:
 *
 *   const f = await loadFixture(exchangeFixture);
 *   const { id } = await openByLeverage(f.ex, f.traders[0], f.alt.marketId, { side: "short", margin: wad(100), leverage: 10n });
 *   await expectConservation(f.ex, [id], f.accounts);
 *
 * Time: the exchange is deployed one minute after a funding boundary, so every test starts with almost
 * a whole funding interval (8 h) before the next boundary, and no funding is charged unless a test
 * moves time that far. The pushed feeds' heartbeat is one hour: a test that moves time further must
 * push prices again (`pushIndex`).
 */
import { ethers } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionReceipt } from "ethers";
import { PushPriceFeed__factory } from "../../typechain-types";
import type { PushPriceFeed } from "../../typechain-types";
import { deploySystem, marketConfig, tiersOf } from "../../lib/deploy";
import type { Exchange, MarketHandles } from "../../lib/contracts";
import { ALT_USD, type MarketSpec } from "../../lib/markets";
import { toFeedAnswer, usd6, wad, WAD } from "../../lib/units";

/** USD each trader has deposited in the vault at the start. */
export const TRADER_DEPOSIT_USD = 1_000_000n;
/** The deployed markets' funding interval, seconds. */
export const FUNDING_INTERVAL = BigInt(ALT_USD.fundingIntervalSeconds);
/** The deployed markets' pushed-feed heartbeat, seconds. */
export const FEED_HEARTBEAT = BigInt(ALT_USD.pushedFeedHeartbeatSeconds);
/** The deployed markets' basis-EMA half-life, seconds. */
export const EMA_HALF_LIFE = BigInt(ALT_USD.emaHalfLifeSeconds);

export interface ExchangeFixture {
  ex: Exchange;
  deployer: HardhatEthersSigner;
  /** three accounts with TRADER_DEPOSIT_USD of free balance each */
  traders: HardhatEthersSigner[];
  /** an account with no deposit, to call liquidations and collect rewards */
  keeper: HardhatEthersSigner;
  alt: MarketHandles;
  btc: MarketHandles;
  /** every account that can hold a free balance here: pass to expectConservation */
  accounts: string[];
}

export async function exchangeFixture(): Promise<ExchangeFixture> {
  const [deployer, t1, t2, t3, keeper] = await ethers.getSigners();
  const now = BigInt(await time.latest());
  await time.increaseTo((now / FUNDING_INTERVAL + 1n) * FUNDING_INTERVAL + 60n);
  const ex = await deploySystem(deployer);
  const traders = [t1, t2, t3];
  for (const trader of traders) await fund(ex, trader, TRADER_DEPOSIT_USD);
  return {
    ex,
    deployer,
    traders,
    keeper,
    alt: ex.markets.get("ALT-USD")!,
    btc: ex.markets.get("BTC-USD")!,
    accounts: [deployer, ...traders, keeper].map((s) => s.address),
  };
}

/** Mints `usd` collateral to `account` by the faucet and deposits all of it into the vault. */
export async function fund(ex: Exchange, account: HardhatEthersSigner, usd: bigint): Promise<void> {
  await (await ex.collateral.faucet(account.address, usd6(usd))).wait();
  await (await ex.collateral.connect(account).approve(ex.vault, usd6(usd))).wait();
  await (await ex.vault.connect(account).deposit(usd6(usd))).wait();
}

export type Side = "long" | "short";

export interface OpenOrder {
  side: Side;
  /** WAD USD */
  margin: bigint;
  /** whole multiple, e.g. 10n */
  leverage: bigint;
}

export interface Opened {
  id: bigint;
  /** signed size opened, base units (WAD) */
  size: bigint;
  receipt: ContractTransactionReceipt;
  trade: TradeEvent;
}

/**
 * Opens (or increases) a position of notional margin * leverage at the current index:
 * size = margin * leverage / index, rounded down, with no price limit. The fill differs from the index
 * by the price impact, so the leverage at mark is close to, not exactly, `leverage`: do not use it at a
 * tier's exact maximum.
 */
export async function openByLeverage(
  ex: Exchange,
  trader: HardhatEthersSigner,
  marketId: bigint,
  order: OpenOrder,
): Promise<Opened> {
  const { indexPrice } = await ex.lens.market(marketId);
  const absSize = (order.margin * order.leverage * WAD) / indexPrice;
  const size = order.side === "long" ? absSize : -absSize;
  return openSize(ex, trader, marketId, size, order.margin);
}

/** Opens (or increases) by a signed `size` with `margin` (WAD), accepting any fill. */
export async function openSize(
  ex: Exchange,
  trader: HardhatEthersSigner,
  marketId: bigint,
  size: bigint,
  margin: bigint,
): Promise<Opened> {
  const tx = await ex.engine.connect(trader).increasePosition(marketId, size, margin, anyPrice(size));
  const receipt = (await tx.wait())!;
  const id = await ex.admin.positionId(trader.address, marketId);
  return { id, size, receipt, trade: tradeEvent(ex, receipt) };
}

/** Closes the trader's whole position at any fill; returns the receipt and its Trade event. */
export async function closeAll(
  ex: Exchange,
  trader: HardhatEthersSigner,
  marketId: bigint,
): Promise<{ receipt: ContractTransactionReceipt; trade: TradeEvent }> {
  const id = await ex.admin.positionId(trader.address, marketId);
  const { size } = await ex.admin.position(id);
  const tx = await ex.engine.connect(trader).closePosition(marketId, anyPrice(-size));
  const receipt = (await tx.wait())!;
  return { receipt, trade: tradeEvent(ex, receipt) };
}

/** The acceptable price that accepts any fill of an order of signed `delta`: a buy any price, a sell 0. */
export function anyPrice(delta: bigint): bigint {
  return delta > 0n ? ethers.MaxUint256 : 0n;
}

export interface TradeEvent {
  sizeDelta: bigint;
  fillPrice: bigint;
  fee: bigint;
  realizedPnl: bigint;
  fundingPaid: bigint;
}

/** The single Trade event of a receipt. */
export function tradeEvent(ex: Exchange, receipt: ContractTransactionReceipt): TradeEvent {
  const trades = receipt.logs
    .map((log) => ex.engine.interface.parseLog(log))
    .filter((parsed) => parsed?.name === "Trade");
  if (trades.length !== 1) throw new Error(`expected one Trade event, found ${trades.length}`);
  const a = trades[0]!.args;
  return {
    sizeDelta: a.sizeDelta,
    fillPrice: a.fillPrice,
    fee: a.fee,
    realizedPnl: a.realizedPnl,
    fundingPaid: a.fundingPaid,
  };
}

/**
 * Pushes `price` (WAD) to every pushed feed of a deployed market. With two pushed feeds and the spot
 * TWAP as the third source, the median is then exactly `price` (to the feeds' 8 decimals) whatever the
 * spot pool says.
 */
export async function pushIndex(market: MarketHandles, price: bigint): Promise<void> {
  for (const feed of market.pushedFeeds) await (await feed.setPrice(toFeedAnswer(price))).wait();
}

export interface ControlledMarket {
  marketId: bigint;
  /** the market's only index source: an 18-decimal pushed feed, so the index is exact to the wei */
  feed: PushPriceFeed;
  spec: MarketSpec;
}

/** Heartbeat of a controlled market's feed: long enough to cross funding boundaries. */
export const CONTROLLED_HEARTBEAT = 30 * 24 * 3600;

/**
 * Creates a market whose index is one 18-decimal pushed feed (set it with `feed.setPrice(wad)`), on
 * ALT-USD's parameters unless overridden. With `markModel: "index"` the mark is the index exactly, so a
 * test controls the mark to the wei; with "median" it is the SPEC median of P1, P2 and last.
 */
export async function createControlledMarket(
  ex: Exchange,
  deployer: HardhatEthersSigner,
  overrides: Partial<MarketSpec> & Pick<MarketSpec, "symbol" | "initialPrice" | "markModel">,
): Promise<ControlledMarket> {
  const spec: MarketSpec = { ...ALT_USD, ...overrides };
  const marketId = (await ex.admin.marketCount()) + 1n;
  const feed = await new PushPriceFeed__factory(deployer).deploy(18, `${spec.symbol} exact feed`, deployer.address);
  await (await feed.setPrice(wad(spec.initialPrice))).wait();
  await (await ex.oracle.setSources(marketId, [await feed.getAddress()], [CONTROLLED_HEARTBEAT])).wait();
  const cfg = await marketConfig(spec, ex.deployment.contracts.fundingModel);
  await (await ex.admin.connect(deployer).createMarket(cfg, tiersOf(spec))).wait();
  return { marketId, feed, spec };
}
