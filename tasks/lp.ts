/**
 * The LP's actions behind tasks/pool.ts. The pool is valued at mark (SPEC 9.1):
 *   value = ledger - traders' net unrealised PnL + net funding the traders owe, unpaid
 * and shares are priced at it, so what perp:pool prints is what a deposit or redemption in the next
 * block gets (to the price move of that block). Amounts: WAD USD unless the name ends in 6.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import * as f from "../lib/format";
import {
  accountLabel,
  assetArg,
  connect,
  money,
  signedMoney,
  type AssetVenue,
  decimalArg,
  fail,
  out,
  send,
  view,
  type ConnectionArgs,
  type TaskContext,
} from "./common";

/** Shares have the collateral's 6 decimals plus the pool's virtual offset of 6 (a coin pool: 18 + 6). */
const SHARE_DECIMALS = 12;
const POOL_OFFSET_DECIMALS = 6;

/** The pool's asset: its symbol, its token's decimals and its shares' (see AssetVenue). */
interface PoolUnits {
  asset: string;
  decimals: 6 | 18;
  shareDecimals: number;
}

function unitsOf(a: AssetVenue): PoolUnits {
  return { asset: a.asset, decimals: a.decimals, shareDecimals: a.decimals + POOL_OFFSET_DECIMALS };
}

/** An amount in the asset token's units as printed: "1,000.00 USD" or "100.00000000 BTC". */
function tokens(u: PoolUnits, units: bigint): string {
  return u.decimals === 6 ? f.usd6(units) : f.coin(units, u.asset);
}

/** A share amount as printed, to 6 decimals. */
function shareAmount(u: PoolUnits, shares: bigint): string {
  return f.amount(shares, 6, u.shareDecimals);
}

export interface PoolResult {
  ledger: bigint;
  traderPnl: bigint;
  fundingOwed: bigint;
  value: bigint;
  reserved: bigint;
  totalAssets6: bigint;
  totalSupply: bigint;
  /** asset units (6 decimals) of one whole share */
  sharePrice6: bigint;
  /** asset units all LPs together may redeem now: the ledger less the reserve */
  maxRedeemable6: bigint;
  staleMarketId: bigint;
  /** the account's shares and their value */
  shares: bigint;
  sharesValue6: bigint;
}

async function readPool(ctx: TaskContext): Promise<PoolResult> {
  const { lens, pool } = ctx.exchange;
  const v = await view("pool view", () => lens.pool(pool));
  const shares = await pool.balanceOf(ctx.address);
  return {
    ledger: v.ledger,
    traderPnl: v.traderPnl,
    fundingOwed: v.fundingOwed,
    value: v.value,
    reserved: v.reserved,
    totalAssets6: v.totalAssets,
    totalSupply: v.totalSupply,
    sharePrice6: v.sharePrice,
    maxRedeemable6: v.maxRedeemable,
    staleMarketId: v.staleMarketId,
    shares,
    sharesValue6: await pool.convertToAssets(shares),
  };
}

function printPool(r: PoolResult, ctx: TaskContext, u: PoolUnits): void {
  out(
    u.asset === "USD" ? "LP pool, valued at mark" : `${u.asset} LP pool (coin-margined markets), valued at mark`,
    ...f.panel([
      ["ledger (realised)", money(u.asset, r.ledger)],
      ["- traders' unrealised PnL", signedMoney(u.asset, r.traderPnl)],
      ["+ funding traders owe", signedMoney(u.asset, r.fundingOwed)],
      ["= pool value", signedMoney(u.asset, r.value)],
      ["totalAssets (ERC-4626)", tokens(u, r.totalAssets6)],
      ["shares outstanding", shareAmount(u, r.totalSupply)],
      ["share price", tokens(u, r.sharePrice6)],
      ["reserved for open interest", money(u.asset, r.reserved)],
      ["redeemable now (all LPs)", tokens(u, r.maxRedeemable6)],
      [`shares of ${accountLabel(ctx)}`, `${shareAmount(u, r.shares)} = ${tokens(u, r.sharesValue6)}`],
    ]),
  );
  if (r.staleMarketId !== 0n) {
    out(`market ${r.staleMarketId} has no fresh index: deposits and redemptions are refused until it has`);
  }
}

export interface PoolArgs extends ConnectionArgs {
  /** USD (default), or a coin (BTC, ALT): its coin-margined exchange's pool */
  asset?: string;
}

export async function pool(args: PoolArgs, hre: HardhatRuntimeEnvironment): Promise<PoolResult> {
  const a = assetArg(await connect(hre, args), args.asset);
  const r = await readPool(a.ctx);
  printPool(r, a.ctx, unitsOf(a));
  return r;
}

export interface AmountArgs extends PoolArgs {
  amount?: string;
}

export interface LpResult {
  account: string;
  /** collateral units paid in (deposit) or out (redeem) */
  assets6: bigint;
  shares: bigint;
  hash: string;
  pool: PoolResult;
}

export async function lpDeposit(args: AmountArgs, hre: HardhatRuntimeEnvironment): Promise<LpResult> {
  const a = assetArg(await connect(hre, args), args.asset);
  const { ctx } = a;
  const u = unitsOf(a);
  const assets6 = decimalArg("amount", args.amount, { decimals: a.decimals, unit: a.asset });
  if (assets6 === 0n) fail(`--amount ${args.amount}: must be above 0`);
  const { collateral, pool: lp } = ctx.exchange;
  const wallet6 = await collateral.balanceOf(ctx.address);
  if (wallet6 < assets6) {
    fail(
      `--amount ${args.amount}: the wallet of ${accountLabel(ctx)} holds ${tokens(u, wallet6)}; get more with perp:faucet` +
        (a.asset === "USD" ? "" : ` --asset ${a.asset}`),
    );
  }
  const poolAddress = await lp.getAddress();
  if ((await collateral.allowance(ctx.address, poolAddress)) < assets6) {
    await send("approve", () => collateral.approve(poolAddress, assets6));
  }
  const before = await lp.balanceOf(ctx.address);
  const sent = await send("lp-deposit", () => lp.deposit(assets6, ctx.address), lp.interface);
  const shares = (await lp.balanceOf(ctx.address)) - before;
  out(`Deposited ${tokens(u, assets6)} into the ${a.asset} LP pool for ${shareAmount(u, shares)} shares`);
  const r = await readPool(ctx);
  printPool(r, ctx, u);
  return { account: ctx.address, assets6, shares, hash: sent.hash, pool: r };
}

export interface SharesArgs extends PoolArgs {
  shares?: string;
}

/**
 * Shares as a decimal, parsed exactly as WAD: a USD pool's (12 decimals) checked to fit them, a coin
 * pool's (24 decimals) scaled up.
 */
function sharesArg(value: string | undefined, u: PoolUnits): bigint {
  const scaled = decimalArg("shares", value, { unit: "shares", example: "1000" });
  if (u.shareDecimals >= 18) return scaled * 10n ** BigInt(u.shareDecimals - 18);
  const step = 10n ** BigInt(18 - u.shareDecimals);
  if (scaled % step !== 0n) fail(`--shares ${value}: at most ${SHARE_DECIMALS} decimal places`);
  return scaled / step;
}

export async function lpRedeem(args: SharesArgs, hre: HardhatRuntimeEnvironment): Promise<LpResult> {
  const a = assetArg(await connect(hre, args), args.asset);
  const { ctx } = a;
  const u = unitsOf(a);
  const { collateral, pool: lp } = ctx.exchange;
  const held = await lp.balanceOf(ctx.address);
  const shares = args.shares === "all" ? held : sharesArg(args.shares, u);
  if (shares === 0n) fail(`--shares ${args.shares}: must be above 0 (${accountLabel(ctx)} holds ${held})`);
  if (shares > held) {
    fail(`--shares ${args.shares}: ${accountLabel(ctx)} holds ${shareAmount(u, held)} shares`);
  }
  const max = await lp.maxRedeem(ctx.address);
  if (shares > max) {
    fail(
      `--shares ${args.shares}: at most ${shareAmount(u, max)} shares can be redeemed now; ` +
        "the rest of the pool is reserved for open interest",
    );
  }
  const wallet0 = await collateral.balanceOf(ctx.address);
  const sent = await send("lp-redeem", () => lp.redeem(shares, ctx.address, ctx.address), lp.interface);
  const assets6 = (await collateral.balanceOf(ctx.address)) - wallet0;
  out(`Redeemed ${shareAmount(u, shares)} shares for ${tokens(u, assets6)}`);
  const r = await readPool(ctx);
  printPool(r, ctx, u);
  return { account: ctx.address, assets6, shares, hash: sent.hash, pool: r };
}
