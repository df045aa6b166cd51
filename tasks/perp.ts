/**
 * The perp:* tasks: trading a deployed exchange from the command line, e.g.
 *   npx hardhat perp:open --network localhost --market ALT-USD --side short --margin 100 --leverage 10
 * Every task takes --account N (a local signer, default 0) and --deployment FILE (default
 * deployments/<network>.json), prints a human summary and returns a structured result (bigints) to a
 * caller of hre.run. Arguments are strings parsed exactly in the action, required ones included (Hardhat
 * would refuse a missing one with its own stack trace on a headless machine); from the command line a
 * task that stops prints one line to stderr and exits 1 (cliAction). The actions load lazily because
 * this file is read before typechain-types exists (see tasks/common.ts).
 */
import { task, types } from "hardhat/config";
import type { ConfigurableTaskDefinition } from "hardhat/types";
import { cliAction } from "./common";

const DEFAULT_SLIPPAGE_PCT = "0.5";

/** A perp:* task with the connection options every one of them takes. */
export function perpTask(name: string, description: string): ConfigurableTaskDefinition {
  return task(`perp:${name}`, description)
    .addOptionalParam("account", "index of the local signer to act as", "0", types.string)
    .addOptionalParam("deployment", "deployment file (default: deployments/<network>.json)", undefined, types.string);
}

/** A parameter the action requires and checks itself (its message names it; Hardhat's would not be one line). */
export function required(description: string): string {
  return `${description} (required)`;
}

const MARKET = required("market symbol, e.g. ALT-USD, BTC-USD or BTCUSD-INV");
const SLIPPAGE = "price tolerance beyond the quoted fill, percent";

const ASSET = "USD (default) or the coin of a coin-margined exchange: BTC, ALT";

perpTask("faucet", "Mints collateral (USD, or a coin with --asset) to the account's wallet; local chain only")
  .addOptionalParam("amount", "amount to mint (default 10000 USD, 1 BTC, 5000 ALT)", undefined, types.string)
  .addOptionalParam("asset", ASSET, "USD", types.string)
  .setAction(cliAction("perp:faucet", async (args, hre) => (await import("./trading")).faucet(args, hre)));

perpTask("deposit", "Deposits collateral from the wallet into the asset's vault as free balance")
  .addOptionalParam("amount", required("amount to deposit, in the asset"), undefined, types.string)
  .addOptionalParam("asset", ASSET, "USD", types.string)
  .setAction(cliAction("perp:deposit", async (args, hre) => (await import("./trading")).deposit(args, hre)));

perpTask("withdraw", "Withdraws free balance from the asset's vault to the wallet")
  .addOptionalParam("amount", required("amount to withdraw, in the asset, or all"), undefined, types.string)
  .addOptionalParam("asset", ASSET, "USD", types.string)
  .setAction(cliAction("perp:withdraw", async (args, hre) => (await import("./trading")).withdraw(args, hre)));

perpTask("open", "Opens or increases a position by a market order and shows its liquidation price")
  .addOptionalParam("market", MARKET, undefined, types.string)
  .addOptionalParam("side", required("long or short"), undefined, types.string)
  .addOptionalParam("margin", "margin in USD (in the coin on a coin-margined market)", undefined, types.string)
  .addOptionalParam(
    "leverage",
    "leverage; size = margin * leverage / mark (with --contracts: the margin follows)",
    undefined,
    types.string,
  )
  .addOptionalParam(
    "contracts",
    "coin-margined markets: whole contracts of the market's USD face; pass two of --contracts, --margin, --leverage",
    undefined,
    types.string,
  )
  .addOptionalParam("slippage", SLIPPAGE, DEFAULT_SLIPPAGE_PCT, types.string)
  .setAction(cliAction("perp:open", async (args, hre) => (await import("./trading")).open(args, hre)));

perpTask("close", "Closes the whole position on a market by a market order")
  .addOptionalParam("market", MARKET, undefined, types.string)
  .addOptionalParam("slippage", SLIPPAGE, DEFAULT_SLIPPAGE_PCT, types.string)
  .setAction(cliAction("perp:close", async (args, hre) => (await import("./trading")).close(args, hre)));

perpTask("margin", "Adds margin to, or removes margin from, a position")
  .addOptionalParam("market", MARKET, undefined, types.string)
  .addOptionalParam("add", "USD to add from the free balance", undefined, types.string)
  .addOptionalParam("remove", "USD to remove to the free balance", undefined, types.string)
  .setAction(cliAction("perp:margin", async (args, hre) => (await import("./trading")).changeMargin(args, hre)));

perpTask("position", "The trader's panel: position, prices, PnL, equity, liquidation price, funding")
  .addOptionalParam("market", MARKET, undefined, types.string)
  .setAction(cliAction("perp:position", async (args, hre) => (await import("./views")).position(args, hre)));

perpTask("markets", "Every market: index, mark, last, spot, skew, open interest, funding").setAction(
  cliAction("perp:markets", async (args, hre) => (await import("./views")).markets(args, hre)),
);

perpTask("insurance", "Insurance fund, pool assets and reserve, uncovered bad debt per market")
  .addOptionalParam("asset", "USD (default), or a coin's exchange: BTC, ALT", "USD", types.string)
  .setAction(cliAction("perp:insurance", async (args, hre) => (await import("./views")).insurance(args, hre)));

perpTask("price", "Pushes a price to every pushed feed of a market (oracle role)")
  .addOptionalParam("market", MARKET, undefined, types.string)
  .addOptionalParam("price", required("price in USD"), undefined, types.string)
  .setAction(cliAction("perp:price", async (args, hre) => (await import("./operations")).pushPrice(args, hre)));

perpTask("spot-swap", "Moves a market's spot pool: --buy spends N USD, --sell sells coin worth N USD")
  .addOptionalParam("market", MARKET, undefined, types.string)
  .addFlag("buy", "buy coin with collateral from the wallet")
  .addFlag("sell", "sell coin from the wallet")
  .addOptionalParam("usd", required("USD value of the swap"), undefined, types.string)
  .addOptionalParam("slippage", "tolerance on the quoted output, percent", DEFAULT_SLIPPAGE_PCT, types.string)
  .addFlag("mint", "with --sell: mint the coin the wallet lacks (minter role: the deployer, local use)")
  .setAction(cliAction("perp:spot-swap", async (args, hre) => (await import("./operations")).spotSwap(args, hre)));

perpTask("advance-time", "Moves a local chain's clock forward and mines a block; reports stale feeds")
  .addOptionalParam("hours", required("hours to advance, e.g. 8 or 0.5"), undefined, types.string)
  .setAction(
    cliAction("perp:advance-time", async (args, hre) => (await import("./operations")).advanceTime(args, hre)),
  );

perpTask("settle-funding", "Settles every funding boundary passed on a market (permissionless)")
  .addOptionalParam("market", MARKET, undefined, types.string)
  .setAction(
    cliAction("perp:settle-funding", async (args, hre) => (await import("./operations")).settleFunding(args, hre)),
  );

perpTask("liquidate", "Liquidates a position by id if it is liquidatable at the current mark (permissionless)")
  .addOptionalParam(
    "id",
    required("position id (0x-hex or decimal, as perp:open and perp:position print it)"),
    undefined,
    types.string,
  )
  .addOptionalParam(
    "market",
    "the position's market, when the same id is open on more than one exchange (USD and a coin's)",
    undefined,
    types.string,
  )
  .setAction(cliAction("perp:liquidate", async (args, hre) => (await import("./operations")).liquidate(args, hre)));
