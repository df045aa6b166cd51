/**
 * Gas of every user-facing operation, from receipts on the in-process network, in steady state: each
 * operation runs twice (by the same account when it repeats on one account, by a second account when
 * it creates something new) and the second run is the figure. "Steady state" is therefore: the market,
 * the vault ledgers, the oracle and the contracts' own slots have been written before, as on a live
 * exchange; a new position's own slots are still new (that cost is the operation's).
 *
 * Liquidations are measured where a keeper meets them: positions liquidatable with positive equity
 * (about 70% of their maintenance margin), so the reward and insurance paths run and no bad debt.
 * Positions are opened against a balancing short so that they all enter at one price.
 *
 * The coin-margined market BTCUSD-INV (SPEC 9.2) is measured the same way beside ALT-USD: open, close and
 * liquidate, in the trader's terms (a trader's long is the engine's short on 1/P; its oracle is a
 * ReciprocalOracle over the USD oracle, one call more per price read).
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { ContractTransactionReceipt, ContractTransactionResponse, Signer } from "ethers";
import { deploySystem, DEFAULT_SYSTEM } from "../lib/deploy";
import type { Exchange, MarketHandles } from "../lib/contracts";
import { BTC_USD } from "../lib/markets";
import { PositionLib } from "../lib/math";
import { toFeedAnswer, usd6, wad, WAD } from "../lib/units";
import { impersonatedAccounts, sendMany, advanceTime, latestTimestamp, type RawCall } from "./chain";

const MAX_PRICE = (1n << 256n) - 1n;
/** Insurance small enough that one bankrupt position leaves bad debt uncovered (ADL needs it). */
const INSURANCE_USD = "1000";
const TRADER_DEPOSIT_USD = 200_000n;
const TX = { gasLimit: 15_000_000n };
const EXECUTION_FEE = wad(1);
/** Liquidations are measured at equity / maintenance margin within this band (percent). */
const LIQUIDATION_EQUITY_BAND = { low: 55n, high: 85n };
const SMALL = { marginUsd: 100n, leverage: 10n };
const LARGE = { marginUsd: 10_000n, leverage: 10n };
const BANKRUPT = { marginUsd: 5_000n, leverage: 10n };
const ADL_SIZE = wad(1_000);

export interface GasRun {
  id: string;
  label: string;
  gasUsed: number;
  hash: string;
  /** positions in the transaction (batches), else 1 */
  positions: number;
  note?: string;
}

export interface GasPhase {
  ex: Exchange;
  runs: GasRun[];
  /** accounts whose slots the trace should name */
  accounts: string[];
  notes: string[];
}

export interface GasOptions {
  batchSizes: number[];
}

export async function measureGas(hre: HardhatRuntimeEnvironment, options: GasOptions): Promise<GasPhase> {
  const provider = hre.network.provider;
  await provider.send("hardhat_reset", []);
  const signers = await hre.ethers.getSigners();
  const [deployer, keeper, balancer] = signers;
  const traders = signers.slice(3, 14);
  await alignAfterFundingBoundary(hre);
  const ex = await deploySystem(deployer, { ...DEFAULT_SYSTEM, insuranceFundUsd: INSURANCE_USD });
  const alt = ex.markets.get("ALT-USD")!;
  const index0 = (await ex.lens.market(alt.marketId)).indexPrice;
  const runs: GasRun[] = [];
  const notes: string[] = [];
  const record = async (id: string, label: string, sent: Promise<ContractTransactionResponse>, positions = 1) => {
    const receipt = await mined(sent);
    runs.push({ id, label, gasUsed: Number(receipt.gasUsed), hash: receipt.hash, positions });
    return receipt;
  };
  const twice = async (
    id: string,
    label: string,
    first: () => Promise<ContractTransactionResponse>,
    second = first,
  ) => {
    await mined(first());
    return record(id, label, second());
  };

  for (const t of [...traders, balancer]) {
    await mined(ex.collateral.faucet(t.address, usd6(1_000_000n), TX));
    await mined(ex.collateral.connect(t).approve(ex.vault, MAX_PRICE, TX));
    await mined(ex.vault.connect(t).deposit(usd6(TRADER_DEPOSIT_USD), TX));
  }
  const [t0, t1, t2, t3, t4, t5, t6, t7, t8, t9, t10] = traders;

  // Vault and LP pool.
  await twice("gas.deposit", "deposit", () => ex.vault.connect(t0).deposit(usd6(1_000n), TX));
  await twice("gas.withdraw", "withdraw", () => ex.vault.connect(t0).withdraw(usd6(100n), t0.address, TX));
  await mined(ex.collateral.connect(t1).approve(ex.pool, MAX_PRICE, TX));
  await twice("gas.lp.deposit", "LP deposit", () => ex.pool.connect(t1).deposit(usd6(10_000n), t1.address, TX));
  const shares = (await ex.pool.balanceOf(t1.address)) / 4n;
  await twice("gas.lp.redeem", "LP redeem", () => ex.pool.connect(t1).redeem(shares, t1.address, t1.address, TX));

  // Market orders on ALT-USD: $1,000 margin at 10x.
  const engine = (s: Signer) => ex.engine.connect(s);
  const size10x = (marginUsd: bigint, leverage: bigint) => (wad(marginUsd) * leverage * WAD) / index0;
  const open = (s: Signer, size: bigint, marginUsd: bigint) =>
    engine(s).increasePosition(alt.marketId, size, wad(marginUsd), size > 0n ? MAX_PRICE : 0n, TX);
  const size = size10x(1_000n, 10n);
  await twice(
    "gas.open.long",
    "open 10x long (market order)",
    () => open(t2, size, 1_000n),
    () => open(t3, size, 1_000n),
  );
  await twice(
    "gas.open.short",
    "open 10x short (market order)",
    () => open(t4, -size, 1_000n),
    () => open(t5, -size, 1_000n),
  );
  await twice(
    "gas.increase",
    "increase",
    () => open(t2, size / 10n, 100n),
    () => open(t3, size / 10n, 100n),
  );
  const addMargin = (s: Signer) => engine(s).addMargin(alt.marketId, wad(50), TX);
  await twice(
    "gas.addMargin",
    "add margin",
    () => addMargin(t2),
    () => addMargin(t3),
  );
  const decrease = (s: Signer) => engine(s).decreasePosition(alt.marketId, size / 4n, 0n, TX);
  await twice(
    "gas.decrease",
    "decrease (market order)",
    () => decrease(t2),
    () => decrease(t3),
  );
  const close = (s: Signer, long: boolean) => engine(s).closePosition(alt.marketId, long ? 0n : MAX_PRICE, TX);
  await twice(
    "gas.close.long",
    "close 10x long",
    () => close(t2, true),
    () => close(t3, true),
  );
  await twice(
    "gas.close.short",
    "close 10x short",
    () => close(t4, false),
    () => close(t5, false),
  );

  // Orders: limit opens below the market, filled after the index falls 3%.
  const book = (s: Signer) => ex.orderBook.connect(s);
  const orderSize = size10x(100n, 10n);
  const limit = (index0 * 98n) / 100n;
  const createLimit = (s: Signer) =>
    book(s).createLimitOpen(alt.marketId, orderSize, wad(100), limit, EXECUTION_FEE, 0, false, TX);
  const orderId = async (receipt: ContractTransactionReceipt) => {
    for (const log of receipt.logs) {
      const parsed = ex.orderBook.interface.parseLog(log);
      if (parsed?.name === "OrderCreated") return parsed.args.id as bigint;
    }
    throw new Error("no OrderCreated event");
  };
  const o1 = await orderId(await mined(createLimit(t6)));
  const o2 = await orderId(await record("gas.order.create", "create limit order", createLimit(t7)));
  await mined(book(t6).cancelOrder(o1, TX));
  const o3 = await orderId(await mined(createLimit(t6)));
  await record("gas.order.cancel", "cancel limit order", book(t6).cancelOrder(o3, TX));
  const o4 = await orderId(await mined(createLimit(t8)));
  await pushIndex(alt, (index0 * 97n) / 100n);
  await mined(book(keeper).executeOrder(o2, TX));
  await record("gas.order.execute", "execute limit order (opens the position)", book(keeper).executeOrder(o4, TX));

  // Take-profit on the two filled positions, then stop-loss on two new ones.
  const trigger = async (s: Signer, type: number, pct: bigint) => {
    const p = await ex.admin.position(PositionLib.id(await s.getAddress(), alt.marketId));
    const receipt = await mined(
      book(s).createTriggerOrder(alt.marketId, type, p.size, (p.entryPrice * pct) / 100n, 1n, EXECUTION_FEE, 0, TX),
    );
    return orderId(receipt);
  };
  const TAKE_PROFIT = 2;
  const STOP_LOSS = 3;
  const tp1 = await trigger(t7, TAKE_PROFIT, 102n);
  const tp2 = await trigger(t8, TAKE_PROFIT, 102n);
  await pushIndex(alt, index0);
  await mined(book(keeper).executeOrder(tp1, TX));
  await record("gas.order.takeProfit", "take-profit execution", book(keeper).executeOrder(tp2, TX));
  await mined(open(t9, orderSize, 100n));
  await mined(open(t10, orderSize, 100n));
  const sl1 = await trigger(t9, STOP_LOSS, 98n);
  const sl2 = await trigger(t10, STOP_LOSS, 98n);
  await pushIndex(alt, (index0 * 96n) / 100n);
  await mined(book(keeper).executeOrder(sl1, TX));
  await record("gas.order.stopLoss", "stop-loss execution", book(keeper).executeOrder(sl2, TX));
  await pushIndex(alt, index0);

  // Liquidations: positions opened one by one against the balancing short, so all enter at one price.
  const smallCount = 2 + 1 + options.batchSizes.reduce((a, b) => a + b, 0);
  const fleet = await impersonatedAccounts(provider, "gas", smallCount + 3);
  await fundFleet(hre, ex, deployer.address, fleet, 20_000n);
  const balancerId = PositionLib.id(balancer.address, alt.marketId);
  const openBalanced = async (account: string, spec: { marginUsd: bigint; leverage: bigint }) => {
    const s = size10x(spec.marginUsd, spec.leverage);
    await sendMany(provider, [openCall(ex, alt, account, s, wad(spec.marginUsd))], 1);
    await mined(open(balancer, -s, spec.marginUsd * 2n));
    return PositionLib.id(account, alt.marketId);
  };
  const bankrupt = await openBalanced(fleet[0], BANKRUPT);
  const large = [await openBalanced(fleet[1], LARGE), await openBalanced(fleet[2], LARGE)];
  const small: bigint[] = [];
  for (const account of fleet.slice(3)) small.push(await openBalanced(account, SMALL));

  const liquidate = (id: bigint) => engine(keeper).liquidate(id, TX);
  const liquidateMany = (ids: bigint[]) => engine(keeper).liquidateMany(ids, TX);
  await moveIndexUntil(ex, alt, large[0], index0);
  await mined(liquidate(large[0]));
  const partial = await record("gas.liquidate.partial", "liquidate (partial)", liquidate(large[1]));
  notes.push(...checkLiquidations(ex, partial, "partial", 1, "liquidate (partial)"));

  await moveIndexUntil(ex, alt, small[0], index0);
  await mined(liquidate(small[0]));
  const full = await record("gas.liquidate.full", "liquidate (full)", liquidate(small[1]));
  notes.push(...checkLiquidations(ex, full, "full", 1, "liquidate (full)"));
  await mined(liquidateMany([small[2]]));
  let next = 3;
  for (const n of options.batchSizes) {
    const ids = small.slice(next, next + n);
    next += n;
    const receipt = await record(
      `gas.liquidateMany.${n}`,
      `liquidateMany, batch of ${n}, per position`,
      liquidateMany(ids),
      n,
    );
    notes.push(...checkLiquidations(ex, receipt, "full", n, `liquidateMany(${n})`));
  }

  notes.push(...(await measureInverse(ex, { keeper, balancer, traders: [t2, t3, t4, t5] }, record)));

  // ADL: a bankrupt position leaves bad debt beyond the insurance fund; the balancing short is the winner.
  await pushIndex(alt, (index0 * 60n) / 100n);
  await mined(liquidate(bankrupt));
  const uncovered = (await ex.admin.marketState(alt.marketId)).uncoveredBadDebt;
  if (uncovered === 0n)
    throw new Error("bench setup: the bankrupt position left no uncovered bad debt, so ADL is not open");
  const adl = () => engine(keeper).autoDeleverage(balancerId, ADL_SIZE, TX);
  await twice("gas.autoDeleverage", "autoDeleverage (partial, 1,000 ALT)", adl);

  return { ex, runs, accounts: [...signers.map((s) => s.address), ...fleet], notes };
}

/** What measureInverse records a transaction with: its figure id, label and the transaction. */
type Recorder = (
  id: string,
  label: string,
  sent: Promise<ContractTransactionResponse>,
) => Promise<ContractTransactionReceipt>;

/**
 * Open, close and liquidate on BTCUSD-INV, the BTC exchange's coin-margined market, as on ALT-USD: $1,000
 * of BTC margin at 10x (a face of $10,000, 100 contracts), each operation twice and the second measured;
 * the liquidations at 55-85% of maintenance margin, opened against a balancing account. Sides are the
 * trader's: a long is the engine's short on 1/P. Returns notes on liquidations that differ from the plan.
 */
async function measureInverse(
  usdEx: Exchange,
  who: { keeper: Signer; balancer: Signer; traders: Signer[] },
  record: Recorder,
): Promise<string[]> {
  const ex = usdEx.coinMargined.get("BTC");
  const inv = ex?.markets.get("BTCUSD-INV");
  if (!ex || !inv) throw new Error("bench setup: the deployment has no BTCUSD-INV");
  const usdIndex = wad(BTC_USD.initialPrice);
  await pushIndex(inv, usdIndex); // BTCUSD-INV reads BTC-USD's feeds
  const oneUsd = (WAD * WAD) / usdIndex; // $1 of BTC, WAD
  const accounts = [...who.traders, who.balancer];
  for (const s of accounts) {
    const a = await s.getAddress();
    await mined(inv.coin.faucet(a, 1_000n * WAD, TX));
    await mined(inv.coin.connect(s).approve(ex.vault, MAX_PRICE, TX));
    await mined(ex.vault.connect(s).deposit(TRADER_DEPOSIT_USD * oneUsd, TX));
  }
  const index = (await ex.lens.market(inv.marketId)).indexPrice; // 1/P
  const margin = (usd: bigint) => usd * oneUsd;
  // The engine's size of a trader's position of `usd` margin at `leverage`: the face, side flipped.
  const engineSize = (usd: bigint, leverage: bigint, long: boolean) => {
    const face = (margin(usd) * leverage * WAD) / index;
    return long ? -face : face;
  };
  const engine = (s: Signer) => ex.engine.connect(s);
  const open = (s: Signer, size: bigint, usd: bigint) =>
    engine(s).increasePosition(inv.marketId, size, margin(usd), size > 0n ? MAX_PRICE : 0n, TX);
  const close = (s: Signer, size: bigint) => engine(s).closePosition(inv.marketId, size > 0n ? 0n : MAX_PRICE, TX);
  const [t0, t1, t2, t3] = who.traders;
  const twice = async (
    id: string,
    label: string,
    first: () => Promise<ContractTransactionResponse>,
    second: typeof first,
  ) => {
    await mined(first());
    await record(id, label, second());
  };
  const long = engineSize(1_000n, 10n, true);
  const short = engineSize(1_000n, 10n, false);
  await twice(
    "gas.inverse.open.long",
    "BTCUSD-INV: open 10x long (coin-margined)",
    () => open(t0, long, 1_000n),
    () => open(t1, long, 1_000n),
  );
  await twice(
    "gas.inverse.open.short",
    "BTCUSD-INV: open 10x short (coin-margined)",
    () => open(t2, short, 1_000n),
    () => open(t3, short, 1_000n),
  );
  await twice(
    "gas.inverse.close.long",
    "BTCUSD-INV: close 10x long",
    () => close(t0, long),
    () => close(t1, long),
  );
  await twice(
    "gas.inverse.close.short",
    "BTCUSD-INV: close 10x short",
    () => close(t2, short),
    () => close(t3, short),
  );

  // Two trader longs (engine shorts) against the balancer, liquidated as BTC falls.
  const size = engineSize(SMALL.marginUsd, SMALL.leverage, true);
  const ids: bigint[] = [];
  for (const s of [t0, t1]) {
    await mined(open(s, size, SMALL.marginUsd));
    await mined(open(who.balancer, -size, SMALL.marginUsd * 2n));
    ids.push(PositionLib.id(await s.getAddress(), inv.marketId));
  }
  await moveIndexUntil(ex, inv, ids[0], usdIndex);
  await mined(engine(who.keeper).liquidate(ids[0], TX));
  const full = await record(
    "gas.inverse.liquidate.full",
    "BTCUSD-INV: liquidate (full)",
    engine(who.keeper).liquidate(ids[1], TX),
  );
  await pushIndex(inv, usdIndex);
  return checkLiquidations(ex, full, "full", 1, "BTCUSD-INV liquidate (full)");
}

async function mined(sent: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
  const receipt = await (await sent).wait();
  if (!receipt || receipt.status !== 1) throw new Error("bench transaction failed");
  return receipt;
}

/** Moves the clock to a minute after a funding boundary, so no boundary falls inside the measurements. */
export async function alignAfterFundingBoundary(hre: HardhatRuntimeEnvironment, interval = 8 * 3600): Promise<void> {
  const provider = hre.network.provider;
  const now = await latestTimestamp(provider);
  const target = (Math.floor(now / interval) + 1) * interval + 60;
  await advanceTime(provider, target - now);
}

/** Sets every pushed feed of the market to `price` (WAD): with two pushed feeds of three sources, the index. */
export async function pushIndex(market: MarketHandles, price: bigint): Promise<void> {
  for (const feed of market.pushedFeeds) await mined(feed.setPrice(toFeedAnswer(price), TX));
}

/** Faucet, approve and deposit `usd` for each account, many per block. */
export async function fundFleet(
  hre: HardhatRuntimeEnvironment,
  ex: Exchange,
  minter: string,
  accounts: readonly string[],
  usd: bigint,
): Promise<void> {
  const vault = await ex.vault.getAddress();
  const token = await ex.collateral.getAddress();
  const amount = usd6(usd);
  const t = ex.collateral.interface;
  const calls: RawCall[] = accounts.flatMap((a) => [
    { from: minter, to: token, data: t.encodeFunctionData("faucet", [a, amount]) },
    { from: a, to: token, data: t.encodeFunctionData("approve", [vault, amount]) },
  ]);
  await sendMany(hre.network.provider, calls);
  const deposits = accounts.map((a) => ({
    from: a,
    to: vault,
    data: ex.vault.interface.encodeFunctionData("deposit", [amount]),
  }));
  await sendMany(hre.network.provider, deposits);
}

/** A raw market order opening `size` with `margin` (WAD) at any fill. */
export function openCall(ex: Exchange, market: MarketHandles, account: string, size: bigint, margin: bigint): RawCall {
  return {
    from: account,
    to: ex.deployment.contracts.engine,
    data: ex.engine.interface.encodeFunctionData("increasePosition", [
      market.marketId,
      size,
      margin,
      size > 0n ? MAX_PRICE : 0n,
    ]),
  };
}

/**
 * Bisects the pushed index between 0 and `high` until the long `id` is liquidatable with equity at
 * LIQUIDATION_EQUITY_BAND percent of its maintenance margin.
 */
async function moveIndexUntil(ex: Exchange, market: MarketHandles, id: bigint, high: bigint): Promise<void> {
  let lo = 0n;
  let hi = high;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2n;
    await pushIndex(market, mid);
    const v = await ex.lens.position(id);
    const pct = v.maintenanceMargin === 0n ? 0n : (v.equity * 100n) / BigInt(v.maintenanceMargin);
    if (v.liquidatable && pct >= LIQUIDATION_EQUITY_BAND.low && pct <= LIQUIDATION_EQUITY_BAND.high) return;
    if (!v.liquidatable || pct > LIQUIDATION_EQUITY_BAND.high) hi = mid;
    else lo = mid;
  }
  throw new Error(`bench setup: no index puts position ${id} inside the liquidation band`);
}

/** Notes for every way a measured liquidation differs from the intended one (count, kind, bad debt). */
function checkLiquidations(
  ex: Exchange,
  receipt: ContractTransactionReceipt,
  kind: "full" | "partial",
  expected: number,
  label: string,
): string[] {
  const notes: string[] = [];
  let count = 0;
  let partial = 0;
  let badDebt = 0;
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== ex.deployment.contracts.engine.toLowerCase()) continue;
    const parsed = ex.engine.interface.parseLog(log);
    if (parsed?.name === "BadDebt") badDebt++;
    if (parsed?.name !== "Liquidation") continue;
    count++;
    if (parsed.args.size !== 0n) partial++; // the position's size after it
  }
  if (count !== expected) notes.push(`${label}: ${count} liquidations, expected ${expected}`);
  if (kind === "full" && partial > 0) notes.push(`${label}: ${partial} of ${count} were partial`);
  if (kind === "partial" && partial !== count) notes.push(`${label}: ${count - partial} of ${count} were full`);
  if (badDebt > 0) notes.push(`${label}: ${badDebt} with bad debt`);
  return notes;
}
