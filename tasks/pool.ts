/**
 * The LP's tasks: perp:pool (the pool valued at mark, part by part, and the share price),
 * perp:lp-deposit and perp:lp-redeem. Registered here; the actions load lazily from tasks/lp.ts because
 * this file is read before typechain-types exists (see tasks/common.ts).
 */
import { task, types } from "hardhat/config";
import type { ConfigurableTaskDefinition } from "hardhat/types";

function lpTask(name: string, description: string): ConfigurableTaskDefinition {
  return task(`perp:${name}`, description)
    .addOptionalParam("account", "index of the local signer to act as", "0", types.string)
    .addOptionalParam("deployment", "deployment file (default: deployments/<network>.json)", undefined, types.string);
}

lpTask("pool", "The LP pool valued at mark: ledger, traders' unrealised PnL, funding owed, share price").setAction(
  async (args, hre) => (await import("./lp")).pool(args, hre),
);

lpTask("lp-deposit", "Deposits collateral from the wallet into the LP pool for shares, at the pool's value at mark")
  .addParam("amount", "USD to deposit", undefined, types.string)
  .setAction(async (args, hre) => (await import("./lp")).lpDeposit(args, hre));

lpTask("lp-redeem", "Redeems LP shares for collateral at the pool's value at mark (never the reserve)")
  .addParam("shares", "shares to redeem (decimal, 12 decimals), or all", undefined, types.string)
  .setAction(async (args, hre) => (await import("./lp")).lpRedeem(args, hre));
