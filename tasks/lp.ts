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
  connect,
  decimalArg,
  fail,
  out,
  send,
  view,
  type ConnectionArgs,
  type TaskContext,
} from "./common";

/** Shares have the collateral's 6 decimals plus the pool's virtual offset of 6. */
const SHARE_DECIMALS = 12;

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

function printPool(r: PoolResult, ctx: TaskContext): void {
  out(
    "LP pool, valued at mark",
    ...f.panel([
      ["ledger (realised)", f.usd(r.ledger)],
      ["- traders' unrealised PnL", f.signedUsd(r.traderPnl)],
      ["+ funding traders owe", f.signedUsd(r.fundingOwed)],
      ["= pool value", f.signedUsd(r.value)],
      ["totalAssets (ERC-4626)", f.usd6(r.totalAssets6)],
      ["shares outstanding", f.amount(r.totalSupply, 6, SHARE_DECIMALS)],
      ["share price", f.usd6(r.sharePrice6)],
      ["reserved for open interest", f.usd(r.reserved)],
      ["redeemable now (all LPs)", f.usd6(r.maxRedeemable6)],
      [`shares of ${accountLabel(ctx)}`, `${f.amount(r.shares, 6, SHARE_DECIMALS)} = ${f.usd6(r.sharesValue6)}`],
    ]),
  );
  if (r.staleMarketId !== 0n) {
    out(`market ${r.staleMarketId} has no fresh index: deposits and redemptions are refused until it has`);
  }
}

export async function pool(args: ConnectionArgs, hre: HardhatRuntimeEnvironment): Promise<PoolResult> {
  const ctx = await connect(hre, args);
  const r = await readPool(ctx);
  printPool(r, ctx);
  return r;
}

export interface AmountArgs extends ConnectionArgs {
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
  const assets6 = decimalArg("amount", args.amount, { decimals: 6, unit: "USD" });
  if (assets6 === 0n) fail(`--amount ${args.amount}: must be above 0`);
  const ctx = await connect(hre, args);
  const { collateral, pool: lp } = ctx.exchange;
  const wallet6 = await collateral.balanceOf(ctx.address);
  if (wallet6 < assets6) {
    fail(
      `--amount ${args.amount}: the wallet of ${accountLabel(ctx)} holds ${f.usd6(wallet6)}; get more with perp:faucet`,
    );
  }
  const poolAddress = await lp.getAddress();
  if ((await collateral.allowance(ctx.address, poolAddress)) < assets6) {
    await send("approve", () => collateral.approve(poolAddress, assets6));
  }
  const before = await lp.balanceOf(ctx.address);
  const sent = await send("lp-deposit", () => lp.deposit(assets6, ctx.address), lp.interface);
  const shares = (await lp.balanceOf(ctx.address)) - before;
  out(`Deposited ${f.usd6(assets6)} into the LP pool for ${f.amount(shares, 6, SHARE_DECIMALS)} shares`);
  const r = await readPool(ctx);
  printPool(r, ctx);
  return { account: ctx.address, assets6, shares, hash: sent.hash, pool: r };
}

export interface SharesArgs extends ConnectionArgs {
  shares?: string;
}

/** Shares as a decimal of 12 places, parsed exactly (as WAD, then checked to fit 12 decimals). */
function sharesArg(value: string | undefined): bigint {
  const scaled = decimalArg("shares", value, { unit: "shares", example: "1000" });
  const step = 10n ** BigInt(18 - SHARE_DECIMALS);
  if (scaled % step !== 0n) fail(`--shares ${value}: at most ${SHARE_DECIMALS} decimal places`);
  return scaled / step;
}

export async function lpRedeem(args: SharesArgs, hre: HardhatRuntimeEnvironment): Promise<LpResult> {
  const ctx = await connect(hre, args);
  const { collateral, pool: lp } = ctx.exchange;
  const held = await lp.balanceOf(ctx.address);
  const shares = args.shares === "all" ? held : sharesArg(args.shares);
  if (shares === 0n) fail(`--shares ${args.shares}: must be above 0 (${accountLabel(ctx)} holds ${held})`);
  if (shares > held) {
    fail(`--shares ${args.shares}: ${accountLabel(ctx)} holds ${f.amount(held, 6, SHARE_DECIMALS)} shares`);
  }
  const max = await lp.maxRedeem(ctx.address);
  if (shares > max) {
    fail(
      `--shares ${args.shares}: at most ${f.amount(max, 6, SHARE_DECIMALS)} shares can be redeemed now; ` +
        "the rest of the pool is reserved for open interest",
    );
  }
  const wallet0 = await collateral.balanceOf(ctx.address);
  const sent = await send("lp-redeem", () => lp.redeem(shares, ctx.address, ctx.address), lp.interface);
  const assets6 = (await collateral.balanceOf(ctx.address)) - wallet0;
  out(`Redeemed ${f.amount(shares, 6, SHARE_DECIMALS)} shares for ${f.usd6(assets6)}`);
  const r = await readPool(ctx);
  printPool(r, ctx);
  return { account: ctx.address, assets6, shares, hash: sent.hash, pool: r };
}
