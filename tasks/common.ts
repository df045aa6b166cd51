/**
 * What every perp:* task shares: argument parsing into exact bigints, the connection to a deployed
 * exchange (deployment file, network, signer by index), sending a transaction with a readable revert,
 * and the output channel.
 *
 * hardhat.config.ts loads the task files before `hardhat compile` has generated typechain-types, so
 * this module and the task definition files import nothing generated at load time: anything that
 * reaches typechain-types (lib/contracts, lib/revert, lib/deploy) is imported inside the async code.
 *
 * Bad input is reported with `fail`, a HardhatPluginError: the CLI prints its message without a stack
 * trace. Messages name the argument, the value given and what is allowed.
 */
import path from "node:path";
import { existsSync } from "node:fs";
import { HardhatPluginError } from "hardhat/plugins";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionReceipt, ContractTransactionResponse, Interface } from "ethers";
import type { Deployment, Exchange, MarketHandles } from "../lib/contracts";
import { usd6, wad, WAD } from "../lib/units";

export const PLUGIN_NAME = "perpsim";
/** Chain id of Hardhat's local networks: the faucet and time travel work only there. */
export const LOCAL_CHAIN_ID = 31337n;

/* ------------------------------------------------------------------ ERRORS AND OUTPUT */

/** Stops the task with a clean one-line error (no stack trace). */
export function fail(message: string): never {
  throw new HardhatPluginError(PLUGIN_NAME, message);
}

type Writer = (line: string) => void;
let writer: Writer = (line) => console.log(line);

/** Prints lines of human output. */
export function out(...lines: string[]): void {
  for (const line of lines) writer(line);
}

/** Redirects the tasks' output (tests capture it); returns a function that restores the previous writer. */
export function setOutput(next: Writer): () => void {
  const previous = writer;
  writer = next;
  return () => {
    writer = previous;
  };
}

/* ------------------------------------------------------------------ ARGUMENTS */

/** The options every perp:* task takes besides --network. */
export interface ConnectionArgs {
  /** index of the local signer, a decimal string; "0" by default */
  account: string;
  /** path of the deployment record; deployments/<network>.json by default */
  deployment?: string;
}

const DECIMAL = /^\d+(\.\d+)?$/;

/**
 * A non-negative decimal argument as an exact bigint with `decimals` fraction digits (18 = WAD,
 * 6 = collateral units), parsed by lib/units without floats.
 */
export function decimalArg(
  name: string,
  value: string | undefined,
  opts: { decimals?: 18 | 6; allowZero?: boolean; unit?: string; example?: string; max?: bigint } = {},
): bigint {
  const decimals = opts.decimals ?? 18;
  const unit = opts.unit ? ` ${opts.unit}` : "";
  const what = `a ${opts.allowZero ? "non-negative" : "positive"} decimal number${
    unit ? ` of${unit}` : ""
  }, e.g. --${name} ${opts.example ?? "100"}`;
  if (value === undefined || value === "") fail(`--${name} is required: ${what}`);
  const text = String(value).trim();
  if (text.startsWith("-")) fail(`--${name} ${text}: must not be negative (${what})`);
  if (!DECIMAL.test(text)) fail(`--${name} ${text}: not a decimal number (${what})`);
  const fraction = text.split(".")[1] ?? "";
  if (fraction.length > decimals) fail(`--${name} ${text}: at most ${decimals} decimal places`);
  const parsed = decimals === 18 ? wad(text) : usd6(text);
  if (parsed === 0n && !opts.allowZero) fail(`--${name} ${text}: must be greater than 0 (${what})`);
  if (opts.max !== undefined && parsed > opts.max) {
    fail(`--${name} ${text}: at most ${formatScaled(opts.max, decimals === 18 ? WAD : 10n ** 6n)}${unit}`);
  }
  return parsed;
}

/** A percentage argument ("0.5" = 0.5%) as a WAD fraction, below 100%. */
export function percentArg(name: string, value: string): bigint {
  const pct = decimalArg(name, value, { allowZero: true, unit: "percent", example: "0.5" });
  if (pct >= 100n * WAD) fail(`--${name} ${value}: must be below 100 (percent)`);
  return pct / 100n;
}

/** "long" | "short" -> +1n | -1n. */
export function sideArg(value: string | undefined): 1n | -1n {
  const side = String(value ?? "")
    .trim()
    .toLowerCase();
  if (side === "long") return 1n;
  if (side === "short") return -1n;
  fail(`--side ${value ?? ""}: expected long or short`);
}

/** A non-negative integer argument (an index, a count). */
export function integerArg(name: string, value: string | undefined): number {
  const text = String(value ?? "").trim();
  if (!/^\d+$/.test(text)) fail(`--${name} ${text}: expected a whole number (0, 1, 2, ...)`);
  return Number(text);
}

/** A position id in decimal or 0x-hex, as the tasks print it. */
export function positionIdArg(value: string | undefined): bigint {
  const text = String(value ?? "").trim();
  if (!/^(0x[0-9a-fA-F]{1,64}|\d+)$/.test(text)) fail(`--id ${text}: expected a position id in decimal or 0x-hex`);
  const id = BigInt(text);
  if (id === 0n || id >= 1n << 256n) fail(`--id ${text}: not a position id`);
  return id;
}

/** A position id as the tasks print it: 0x-hex, 64 digits. */
export function positionIdHex(id: bigint): string {
  return "0x" + id.toString(16).padStart(64, "0");
}

function formatScaled(value: bigint, scale: bigint): string {
  const frac = (value % scale)
    .toString()
    .padStart(scale.toString().length - 1, "0")
    .replace(/0+$/, "");
  return frac ? `${value / scale}.${frac}` : `${value / scale}`;
}

/* ------------------------------------------------------------------ CONNECTION */

export interface TaskContext {
  hre: HardhatRuntimeEnvironment;
  network: string;
  chainId: bigint;
  deploymentFile: string;
  exchange: Exchange;
  signer: HardhatEthersSigner;
  accountIndex: number;
  address: string;
}

/** deployments/<network>.json under the project root. */
export function defaultDeploymentFile(hre: HardhatRuntimeEnvironment): string {
  return path.join(hre.config.paths.root, "deployments", `${hre.network.name}.json`);
}

/**
 * Loads the deployment, checks it belongs to this network's chain and that its contracts exist there,
 * and connects them to the chosen local signer.
 */
export async function connect(hre: HardhatRuntimeEnvironment, args: ConnectionArgs): Promise<TaskContext> {
  const network = hre.network.name;
  const file = args.deployment ? path.resolve(args.deployment) : defaultDeploymentFile(hre);
  const shown = path.relative(process.cwd(), file) || file;
  if (!existsSync(file)) {
    fail(
      args.deployment
        ? `--deployment ${args.deployment}: no such file`
        : `no deployment for network "${network}" (${shown} does not exist). ` +
            `Start a node (npm run node), deploy (npm run deploy -- --network localhost) and pass --network localhost`,
    );
  }
  const { connectExchange, readDeployment } = await import("../lib/contracts");
  let deployment: Deployment;
  try {
    deployment = readDeployment(file);
  } catch (err) {
    fail((err as Error).message);
  }
  const { chainId } = await hre.ethers.provider.getNetwork();
  if (BigInt(deployment.chainId) !== chainId) {
    fail(`${shown} is for chain ${deployment.chainId}, but network "${network}" is chain ${chainId}`);
  }
  if ((await hre.ethers.provider.getCode(deployment.contracts.engine)) === "0x") {
    fail(
      `${shown}: no contract at the engine address ${deployment.contracts.engine} on network "${network}"; ` +
        `was the node restarted? Deploy again: npm run deploy -- --network ${network}`,
    );
  }
  const signers = await hre.ethers.getSigners();
  const accountIndex = integerArg("account", args.account ?? "0");
  if (accountIndex >= signers.length) {
    fail(
      `--account ${accountIndex}: network "${network}" has ${signers.length} local accounts (0-${signers.length - 1})`,
    );
  }
  const signer = signers[accountIndex];
  return {
    hre,
    network,
    chainId,
    deploymentFile: file,
    exchange: connectExchange(deployment, signer),
    signer,
    accountIndex,
    address: await signer.getAddress(),
  };
}

/** The market named by --market, or an error listing the deployment's markets. */
export function marketArg(ctx: TaskContext, value: string | undefined): MarketHandles {
  const symbol = String(value ?? "")
    .trim()
    .toUpperCase();
  const market = ctx.exchange.markets.get(symbol);
  if (!market) {
    fail(`--market ${value ?? ""}: unknown market; markets: ${[...ctx.exchange.markets.keys()].join(", ")}`);
  }
  return market;
}

/** Refuses to run unless the chain is a local Hardhat chain. */
export function requireLocalChain(ctx: TaskContext, what: string): void {
  if (ctx.chainId !== LOCAL_CHAIN_ID) {
    fail(
      `${what} works only on a local chain (id ${LOCAL_CHAIN_ID}); network "${ctx.network}" is chain ${ctx.chainId}`,
    );
  }
}

/** "account 0 (0xf39F...)" */
export function accountLabel(ctx: TaskContext): string {
  return `account ${ctx.accountIndex} (${ctx.address})`;
}

/* ------------------------------------------------------------------ TRANSACTIONS */

export interface Sent {
  receipt: ContractTransactionReceipt;
  hash: string;
  gasUsed: bigint;
}

/**
 * Sends a transaction and waits for its receipt; a revert becomes a one-line error that starts with
 * `what` and says why in human units. `extra` adds ABIs for errors of contracts lib/revert does not know.
 */
export async function send(
  what: string,
  tx: () => Promise<ContractTransactionResponse>,
  ...extra: Interface[]
): Promise<Sent> {
  let receipt: ContractTransactionReceipt | null;
  try {
    receipt = await (await tx()).wait();
  } catch (err) {
    return rethrowRevert(what, err, extra);
  }
  if (!receipt) fail(`${what}: the transaction was dropped`);
  return { receipt, hash: receipt.hash, gasUsed: receipt.gasUsed };
}

/** Runs a view call; a revert becomes a one-line error like `send`'s. */
export async function view<T>(what: string, call: () => Promise<T>, ...extra: Interface[]): Promise<T> {
  try {
    return await call();
  } catch (err) {
    return rethrowRevert(what, err, extra);
  }
}

async function rethrowRevert(what: string, err: unknown, extra: Interface[]): Promise<never> {
  if (HardhatPluginError.isHardhatPluginError(err)) throw err;
  const { decodeRevert } = await import("../lib/revert");
  const decoded = decodeRevert(err, ...extra);
  if (decoded) fail(`${what} reverted: ${decoded.message} [${decoded.name}]`);
  throw err;
}

/**
 * The arguments of the first `event` that the contract at `address` emitted in `receipt`, typed by the
 * caller with TypeChain's `<Name>Event.OutputObject`; undefined when there is none.
 */
export function eventArgs<T>(
  receipt: ContractTransactionReceipt,
  iface: Interface,
  address: string,
  event: string,
): T | undefined {
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== address.toLowerCase()) continue;
    const parsed = iface.parseLog(log);
    if (parsed?.name === event) return parsed.args.toObject() as T;
  }
  return undefined;
}

/** Seconds of the latest block: the chain's clock (it moves with perp:advance-time, not with the wall). */
export async function chainTime(ctx: TaskContext): Promise<bigint> {
  const block = await ctx.hre.ethers.provider.getBlock("latest");
  if (!block) fail("the node returned no latest block");
  return BigInt(block.timestamp);
}
