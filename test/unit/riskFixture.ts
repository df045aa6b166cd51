/**
 * Shared set-up for the funding, liquidation and ADL unit tests: a one-market exchange whose mark is the
 * index (IndexMarkModel) and whose index is one 18-decimal pushed feed, so a test sets the mark to the
 * unit of price; funded traders; the SPEC formulas written out in bigint (the expected side of every
 * assertion); and the conservation check that closes every money-moving test.
 */
import { ethers, network } from "hardhat";
import { time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionReceipt, Log, Signer } from "ethers";
import { deploySystem } from "../../lib/deploy";
import { ALT_USD, type MarketSpec } from "../../lib/markets";
import type { Exchange } from "../../lib/contracts";
import { usd6, wad, WAD } from "../../lib/units";
import { expectConservation } from "../helpers/conservation";
import { PushPriceFeed__factory, type PushPriceFeed } from "../../typechain-types";

/** ALT-USD with mark = index: a test moves the mark by pushing the index. */
export const INDEX_ALT: MarketSpec = { ...ALT_USD, markModel: "index" };
export const ALT_ID = 1n;
export const ALT_START_PRICE = wad(ALT_USD.initialPrice);
export const FUNDING_INTERVAL = BigInt(ALT_USD.fundingIntervalSeconds);
/** The exact feed never goes stale within a test, however many funding intervals it skips. */
const EXACT_FEED_HEARTBEAT = 365 * 24 * 3600;
const EXACT_FEED_DECIMALS = 18;
const GAS_ETH = "0x3635C9ADC5DEA00000"; // 1,000 ETH for generated wallets

export interface RiskSystem {
  ex: Exchange;
  marketId: bigint;
  /** the market's only index source, 18 decimals: its answer is the index in WAD */
  feed: PushPriceFeed;
  deployer: HardhatEthersSigner;
  keeper: HardhatEthersSigner;
  traders: HardhatEthersSigner[];
  /** every account that may hold a free balance, for the conservation check */
  accounts: string[];
}

export interface RiskSystemOptions {
  market?: Partial<MarketSpec>;
  lpDepositUsd?: string;
  insuranceFundUsd?: string;
  /** free balance each trader deposits */
  traderUsd?: bigint;
}

/**
 * Deploys the exchange with one index-marked ALT market, points its oracle at one exact feed, funds the
 * traders, and starts the clock on a funding boundary (settled, so the premium accumulator is empty).
 */
export async function deployRiskSystem(opts: RiskSystemOptions = {}): Promise<RiskSystem> {
  const [deployer, keeper, ...traders] = await ethers.getSigners();
  const ex = await deploySystem(deployer, {
    markets: [{ ...INDEX_ALT, ...opts.market }],
    lpDepositUsd: opts.lpDepositUsd ?? "5000000",
    insuranceFundUsd: opts.insuranceFundUsd ?? "100000",
  });
  const feed = await new PushPriceFeed__factory(deployer).deploy(EXACT_FEED_DECIMALS, "ALT exact", deployer.address);
  await feed.setPrice(ALT_START_PRICE);
  await ex.oracle.setSources(ALT_ID, [await feed.getAddress()], [EXACT_FEED_HEARTBEAT]);
  const deposit = opts.traderUsd ?? 1_000_000n;
  for (const t of traders.slice(0, 10)) await fund(ex, t, deposit);
  const boundary = (await ex.lens.market(ALT_ID)).nextFundingTime;
  await time.setNextBlockTimestamp(boundary);
  await ex.engine.settleFunding(ALT_ID);
  const funded = traders.slice(0, 10);
  const accounts = [deployer, keeper, ...funded].map((a) => a.address);
  return { ex, marketId: ALT_ID, feed, deployer, keeper, traders: funded, accounts };
}

export async function fund(ex: Exchange, who: Signer, usd: bigint): Promise<void> {
  const amount = usd6(usd);
  await ex.collateral.faucet(await who.getAddress(), amount);
  await ex.collateral.connect(who).approve(ex.vault, amount);
  await ex.vault.connect(who).deposit(amount);
}

/** `n` fresh wallets with gas and `usd` of free balance each (for batch and O(1) measurements). */
export async function fundedWallets(s: RiskSystem, n: number, usd: bigint) {
  const wallets = [];
  for (let i = 0; i < n; i++) {
    const w = new ethers.Wallet(ethers.id(`perpsim risk wallet ${i}`), ethers.provider);
    await network.provider.send("hardhat_setBalance", [w.address, GAS_ETH]);
    await fund(s.ex, w, usd);
    s.accounts.push(w.address);
    wallets.push(w);
  }
  return wallets;
}

export async function setIndex(s: RiskSystem, price: bigint): Promise<void> {
  await s.feed.setPrice(price);
}

/** Opens (or increases) `size` (signed, base units) with `margin` (WAD USD) at any fill price. */
export async function open(s: RiskSystem, who: Signer, size: bigint, margin: bigint) {
  const acceptable = size > 0n ? ethers.MaxUint256 : 0n;
  const receipt = await (await s.ex.engine.connect(who).increasePosition(s.marketId, size, margin, acceptable)).wait();
  return { id: await s.ex.admin.positionId(await who.getAddress(), s.marketId), receipt: receipt! };
}

export async function close(s: RiskSystem, who: Signer) {
  const size = (await s.ex.admin.position(await s.ex.admin.positionId(await who.getAddress(), s.marketId))).size;
  const acceptable = size > 0n ? 0n : ethers.MaxUint256;
  return (await (await s.ex.engine.connect(who).closePosition(s.marketId, acceptable)).wait())!;
}

/** The events of one contract in a receipt, by name. */
export function eventsOf(receipt: ContractTransactionReceipt, ex: Exchange, name: string) {
  const out = [];
  for (const log of receipt.logs as Log[]) {
    if (log.address.toLowerCase() !== ex.deployment.contracts.engine.toLowerCase()) continue;
    const parsed = ex.engine.interface.parseLog(log);
    if (parsed && parsed.name === name) out.push(parsed);
  }
  return out;
}

/**
 * SPEC invariant 1 to the unit (the vault's ledgers == the collateral it holds; the margin ledger ==
 * the open positions' margins; the free ledger == the accounts' balances). `ids`: every position the
 * test may have opened (closed ones hold no margin).
 */
export async function expectConserved(s: RiskSystem, ids: bigint[], extraAccounts: string[] = []): Promise<void> {
  await expectConservation(s.ex, ids, [...s.accounts, ...extraAccounts]);
}

/* ------------------------------------------------------------------ SPEC formulas, written out */

export const abs = (x: bigint) => (x < 0n ? -x : x);
/** floor(a / b) for b > 0 */
export const floorDiv = (a: bigint, b: bigint) => (a >= 0n ? a / b : -((-a + b - 1n) / b));
export const ceilDiv = (a: bigint, b: bigint) => -floorDiv(-a, b);
export const clamp = (x: bigint, lo: bigint, hi: bigint) => (x < lo ? lo : x > hi ? hi : x);
export const mulDown = (a: bigint, b: bigint) => (a * b) / WAD;
export const mulUp = (a: bigint, b: bigint) => ceilDiv(a * b, WAD);

/** P_last = index * (1 + K/S), rounded down. */
export function lastPrice(index: bigint, skew: bigint, skewScale: bigint): bigint {
  return (index * (skewScale + skew)) / skewScale;
}

/** (P_last - index) / index, WAD, toward zero. */
export function premium(index: bigint, skew: bigint, skewScale: bigint): bigint {
  return ((lastPrice(index, skew, skewScale) - index) * WAD) / index;
}

/** F = clamp(p + clamp(I - p, -c, +c), -cap, +cap) */
export function fundingRate(avgPremium: bigint, interest: bigint, clampRate: bigint, cap: bigint): bigint {
  return clamp(avgPremium + clamp(interest - avgPremium, -clampRate, clampRate), -cap, cap);
}

/** Funding a signed size owes for an index move (USD per unit), rounded up: the protocol's favour. */
export function fundingOwed(size: bigint, indexDelta: bigint): bigint {
  return ceilDiv(size * indexDelta, WAD);
}

/** PnL of a signed size from entry to price, rounded down. */
export function pnl(size: bigint, entry: bigint, price: bigint): bigint {
  return floorDiv(size * (price - entry), WAD);
}

export interface TierValues {
  notionalCap: bigint;
  maintenanceAmount: bigint;
  mmr: bigint;
}

export function tierIndex(tiers: TierValues[], absSize: bigint, price: bigint): number {
  for (let i = 0; i < tiers.length - 1; i++) if (absSize * price <= tiers[i].notionalCap * WAD) return i;
  return tiers.length - 1;
}

/** Equity(mark) < MM(notional at mark), compared exactly (both sides times WAD^3). */
export function isLiquidatable(tiers: TierValues[], size: bigint, entry: bigint, netMargin: bigint, mark: bigint) {
  const a = abs(size);
  const t = tiers[tierIndex(tiers, a, mark)];
  const equity = netMargin * WAD * WAD + size * (mark - entry) * WAD;
  const maintenance = a * mark * t.mmr - t.maintenanceAmount * WAD * WAD;
  return equity < maintenance;
}

/**
 * SPEC liquidation price in exact rationals, as the first price (integer WAD) at which the position
 * is liquidatable: long root (entry*size - M - amt) / (size*(1 - mmr)), short
 * (entry*size + M + amt) / (size*(1 + mmr)), with the tier that holds the notional at the root.
 */
export function specLiquidationPrice(tiers: TierValues[], size: bigint, entry: bigint, netMargin: bigint): bigint {
  const a = abs(size);
  for (let i = 0; i < tiers.length; i++) {
    const { mmr, maintenanceAmount: amt } = tiers[i];
    let p: bigint;
    if (size > 0n) {
      // p * a * (1 - mmr) < entry * a - M - amt, all scaled to WAD^3
      const num = entry * a * WAD - (netMargin + amt) * WAD * WAD;
      const den = a * (WAD - mmr);
      if (num <= 0n) continue;
      p = ceilDiv(num, den) - 1n; // the highest price strictly below the root
    } else {
      const num = entry * a * WAD + (netMargin + amt) * WAD * WAD;
      const den = a * (WAD + mmr);
      p = num / den + 1n; // the lowest price strictly above the root
    }
    if (tierIndex(tiers, a, p) === i) return p;
  }
  return 0n;
}

export async function tiersOf(s: RiskSystem): Promise<TierValues[]> {
  return (await s.ex.admin.tiers(s.marketId)).map((t) => ({
    notionalCap: t.notionalCap,
    maintenanceAmount: t.maintenanceAmount,
    mmr: t.mmr,
  }));
}
