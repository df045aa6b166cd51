/**
 * The LP's tasks: perp:pool (the pool valued at mark, part by part, and the share price),
 * perp:lp-deposit and perp:lp-redeem. Registered here with the connection options every perp:* task
 * takes; the actions load lazily from tasks/lp.ts because this file is read before typechain-types
 * exists (see tasks/common.ts). From the command line a task that stops prints one line (cliAction).
 */
import { types } from "hardhat/config";
import { cliAction } from "./common";
import { perpTask, required } from "./perp";

const ASSET = "the pool: USD (default), or a coin's (BTC, ALT), the counterparty of its coin-margined markets";

perpTask("pool", "The LP pool valued at mark: ledger, traders' unrealised PnL, funding owed, share price")
  .addOptionalParam("asset", ASSET, "USD", types.string)
  .setAction(cliAction("perp:pool", async (args, hre) => (await import("./lp")).pool(args, hre)));

perpTask("lp-deposit", "Deposits collateral from the wallet into the LP pool for shares, at the pool's value at mark")
  .addOptionalParam("amount", required("amount to deposit, in the pool's asset"), undefined, types.string)
  .addOptionalParam("asset", ASSET, "USD", types.string)
  .setAction(cliAction("perp:lp-deposit", async (args, hre) => (await import("./lp")).lpDeposit(args, hre)));

perpTask("lp-redeem", "Redeems LP shares for collateral at the pool's value at mark (never the reserve)")
  .addOptionalParam("shares", required("shares to redeem (decimal, 12 decimals), or all"), undefined, types.string)
  .addOptionalParam("asset", ASSET, "USD", types.string)
  .setAction(cliAction("perp:lp-redeem", async (args, hre) => (await import("./lp")).lpRedeem(args, hre)));
