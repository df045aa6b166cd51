/**
 * What every perp:* task shares: argument parsing into exact bigints, the connection to a deployed
 * exchange (deployment file, network, signer by index), sending a transaction with a readable revert,
 * the output channel, and how a task that stops reports it.
 *
 * hardhat.config.ts loads the task files before `hardhat compile` has generated typechain-types, so
 * this module and the task definition files import nothing generated at load time: anything that
 * reaches typechain-types (lib/contracts, lib/revert, lib/deploy) is imported inside the async code.
 *
 * Bad input is refused with `fail` (a HardhatPluginError) before anything is sent, in a message that
 * names the argument, the value given and what is allowed. Run from the command line, a task that
 * stops prints exactly one line to stderr and exits 1 (`cliAction`): Hardhat itself would add its
 * stack trace whenever it believes it runs on CI, which includes any Linux box without a display.
 */
import path from "node:path";
import { existsSync } from "node:fs";
import { HardhatPluginError } from "hardhat/plugins";
import { HardhatError } from "hardhat/internal/core/errors";
import { HardhatContext } from "hardhat/internal/context";
import { ArgumentsParser } from "hardhat/internal/cli/ArgumentsParser";
import { HARDHAT_PARAM_DEFINITIONS } from "hardhat/internal/core/params/hardhat-params";
import { getEnvHardhatArguments } from "hardhat/internal/core/params/env-variables";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionReceipt, ContractTransactionResponse, Interface } from "ethers";
import type { Deployment, Exchange, MarketHandles } from "../lib/contracts";
import * as fmt from "../lib/format";
import { usd6, wad, WAD } from "../lib/units";

export const PLUGIN_NAME = "perpsim";
/** Chain id of Hardhat's local networks: the faucet and time travel work only there. */
export const LOCAL_CHAIN_ID = 31337n;

/* ------------------------------------------------------------------ ERRORS AND OUTPUT */

/** Stops the task with a refusal: a one-line message naming what was wrong and what is allowed. */
export function fail(message: string): never {
  throw new HardhatPluginError(PLUGIN_NAME, message);
}

/** How a task that stopped is reported: one line, and whether it was a refusal of its input. */
export interface TaskFailure {
  /** a single line, no newline */
  line: string;
  /** true for a refusal (`fail`), false for anything unexpected (RPC down, an undecoded revert) */
  refusal: boolean;
}

/** Longest message shown; anything longer is cut (--show-stack-traces shows the whole error). */
const MAX_LINE = 600;

/**
 * The one line a stopped task prints: "perp:open: <why>". A refusal's message is the line; an
 * unexpected error is named by its short message (ethers' `shortMessage`, Hardhat's HHnnn text).
 */
export function describeFailure(taskName: string, err: unknown): TaskFailure {
  const refusal = HardhatPluginError.isHardhatPluginError(err) && err.pluginName === PLUGIN_NAME;
  const why = refusal
    ? (err as HardhatPluginError).message
    : `unexpected failure: ${errorSummary(err)}; --show-stack-traces shows where`;
  const flat = why.replace(/\s*\n\s*/g, " ").trim();
  const line = `${taskName}: ${flat.length > MAX_LINE ? `${flat.slice(0, MAX_LINE - 3)}...` : flat}`;
  return { line, refusal };
}

function errorSummary(err: unknown): string {
  if (HardhatError.isHardhatError(err) || HardhatPluginError.isHardhatPluginError(err)) return err.message;
  if (err instanceof Error) {
    const e = err as Error & { shortMessage?: string; code?: string; data?: string };
    const cause = (err as { cause?: unknown }).cause;
    const base = e.shortMessage ?? e.message;
    const data = typeof e.data === "string" && e.data.length > 2 ? ` (revert data ${e.data.slice(0, 10)}...)` : "";
    const inner = cause instanceof Error && !base.includes(cause.message) ? ` (${cause.message})` : "";
    return `${e.name === "Error" ? "" : `${e.name}: `}${base}${data}${inner}`;
  }
  return String(err);
}

/** The Hardhat CLI's entry script: `npx hardhat` (node_modules/.bin/hardhat), or its bootstrap.js or cli.js. */
const HARDHAT_CLI = /(^|[\\/])hardhat$|[\\/]hardhat[\\/]internal[\\/]cli[\\/](bootstrap|cli)\.js$/;

/** The task the Hardhat CLI was asked to run in this process, parsed as the CLI parses it; else undefined. */
function cliTaskName(): string | undefined {
  // The script node was started with, not require.main: a mocha worker (`hardhat test --parallel`) loads
  // the config too, and a test that plays the CLI sets this path (test/integration/refusals.test.ts).
  if (!HARDHAT_CLI.test(process.argv[1] ?? "")) return undefined;
  try {
    const parser = new ArgumentsParser();
    const env = getEnvHardhatArguments(HARDHAT_PARAM_DEFINITIONS, process.env);
    return parser.parseHardhatArguments(HARDHAT_PARAM_DEFINITIONS, env, process.argv.slice(2)).scopeOrTaskName;
  } catch {
    // The CLI has parsed these arguments already; a parse that throws here means "not ours to report".
    return undefined;
  }
}

/**
 * Called once the tasks are registered (tasks/index.ts), while Hardhat loads its config: a command
 * line of a task wrapped in cliAction that Hardhat's own parser will refuse (an unknown --option, an option without its
 * value) is refused here in one line with exit code 1, before Hardhat would print its stack trace.
 */
export function refuseUnparsableCommandLine(): void {
  const taskName = cliTaskName();
  if (taskName === undefined || !cliTasks.has(taskName)) return;
  const dsl = HardhatContext.getHardhatContext().tasksDSL;
  const definition = dsl.getTaskDefinition(undefined, taskName);
  if (!definition) return;
  const parser = new ArgumentsParser();
  try {
    const env = getEnvHardhatArguments(HARDHAT_PARAM_DEFINITIONS, process.env);
    const parsed = parser.parseHardhatArguments(HARDHAT_PARAM_DEFINITIONS, env, process.argv.slice(2));
    if (parsed.hardhatArguments.showStackTraces || parsed.hardhatArguments.help) return;
    const { unparsedCLAs } = parser.parseScopeAndTaskNames(
      parsed.allUnparsedCLAs,
      dsl.getTaskDefinitions(),
      dsl.getScopesDefinitions(),
    );
    parser.parseTaskArguments(definition, unparsedCLAs);
  } catch (err) {
    if (!HardhatError.isHardhatError(err)) throw err;
    const why = err.message.replace(/\.$/, "");
    process.stderr.write(`${taskName}: ${why}; npx hardhat help ${taskName} lists its options\n`);
    process.exit(1);
  }
}

/** The tasks whose actions cliAction wraps: refuseUnparsableCommandLine reports their command lines too. */
const cliTasks = new Set<string>();

/**
 * Wraps a task's action. Run by the CLI as the task it was asked for, a failure prints one line to
 * stderr (describeFailure) and sets exit code 1, CI or not; with --show-stack-traces it is rethrown for
 * Hardhat to print with its trace. Run by hre.run (tests, other tasks), errors propagate unchanged.
 */
export function cliAction<A, R>(
  taskName: string,
  action: (args: A, hre: HardhatRuntimeEnvironment) => Promise<R>,
): (args: A, hre: HardhatRuntimeEnvironment) => Promise<R | undefined> {
  cliTasks.add(taskName);
  return async (args, hre) => {
    if (hre.hardhatArguments.showStackTraces || cliTaskName() !== taskName) return action(args, hre);
    try {
      return await action(args, hre);
    } catch (err) {
      process.stderr.write(`${describeFailure(taskName, err).line}\n`);
      process.exitCode = 1;
      return undefined;
    }
  };
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
  account?: string;
  /** path of the deployment record; deployments/<network>.json by default */
  deployment?: string;
}

const DECIMAL = /^\d+(\.\d+)?$/;
/**
 * The largest amount, price or count any task takes, in whole units: far beyond any real use, and far
 * inside what the contracts' 128-bit fields and their products hold.
 */
export const MAX_UNITS = 10n ** 12n;
/** The highest leverage a task takes before it reads the market's own tiers (which allow less). */
export const MAX_LEVERAGE = 1_000n * WAD;

/**
 * A non-negative decimal argument as an exact bigint with `decimals` fraction digits (18 = WAD,
 * 6 = collateral units), parsed by lib/units without floats; at most `max` (default MAX_UNITS whole units).
 */
export function decimalArg(
  name: string,
  value: string | undefined,
  opts: { decimals?: 18 | 6; allowZero?: boolean; unit?: string; example?: string; max?: bigint } = {},
): bigint {
  const decimals = opts.decimals ?? 18;
  const scale = 10n ** BigInt(decimals);
  const unit = opts.unit ? ` ${opts.unit}` : "";
  const what = `a ${opts.allowZero ? "non-negative" : "positive"} decimal number${
    unit ? ` of${unit}` : ""
  }, e.g. --${name} ${opts.example ?? "100"}`;
  if (value === undefined || String(value).trim() === "") fail(`--${name} is required: ${what}`);
  const text = String(value).trim();
  if (text.startsWith("-")) fail(`--${name} ${text}: must not be negative (${what})`);
  if (!DECIMAL.test(text)) fail(`--${name} ${text}: not a decimal number (${what})`);
  const fraction = text.split(".")[1] ?? "";
  if (fraction.length > decimals) fail(`--${name} ${text}: at most ${decimals} decimal places`);
  const max = opts.max ?? MAX_UNITS * scale;
  // Compare the whole part first: lib/units need not see a 90-digit number to refuse it.
  const whole = text.split(".")[0].replace(/^0+(?=\d)/, "");
  if (whole.length > String(max / scale).length + 1)
    fail(`--${name} ${text}: at most ${formatScaled(max, scale)}${unit}`);
  const parsed = decimals === 18 ? wad(text) : usd6(text);
  if (parsed === 0n && !opts.allowZero) fail(`--${name} ${text}: must be greater than 0 (${what})`);
  if (parsed > max) fail(`--${name} ${text}: at most ${formatScaled(max, scale)}${unit}`);
  return parsed;
}

/** A percentage argument ("0.5" = 0.5%) as a WAD fraction, below 100%. */
export function percentArg(name: string, value: string | undefined): bigint {
  const pct = decimalArg(name, value, { allowZero: true, unit: "percent", example: "0.5", max: 100n * WAD });
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
  if (value === undefined) fail("--side is required: long or short");
  fail(`--side ${value}: expected long or short`);
}

/** A whole-number argument (an index, an id) up to `max`. */
export function wholeArg(name: string, value: string | undefined, max: bigint): bigint {
  const text = String(value ?? "").trim();
  if (value === undefined) fail(`--${name} is required: a whole number (0, 1, 2, ...)`);
  if (!/^\d+$/.test(text)) fail(`--${name} ${text}: expected a whole number (0, 1, 2, ...)`);
  if (text.replace(/^0+(?=\d)/, "").length > String(max).length || BigInt(text) > max) {
    fail(`--${name} ${text}: at most ${max}`);
  }
  return BigInt(text);
}

/** A small non-negative integer argument (an account index), as a number. */
export function integerArg(name: string, value: string | undefined): number {
  return Number(wholeArg(name, value, BigInt(Number.MAX_SAFE_INTEGER)));
}

/** A position id in decimal or 0x-hex, as the tasks print it. */
export function positionIdArg(value: string | undefined): bigint {
  if (value === undefined) fail("--id is required: a position id as perp:open or perp:position prints it (0x...)");
  const text = String(value).trim();
  if (!/^(0x[0-9a-fA-F]{1,64}|\d{1,78})$/.test(text)) {
    fail(`--id ${text}: expected a position id in decimal or 0x-hex (at most 64 hex digits)`);
  }
  const id = BigInt(text);
  if (id === 0n || id >= 1n << 256n) fail(`--id ${text}: not a position id (1 to 2^256 - 1)`);
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
  const whole = (value / scale).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  return frac ? `${whole}.${frac}` : whole;
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
 * Loads the deployment and checks it before anything is sent: --account's form, the file's schema,
 * that it belongs to this network's chain, that every address holds the contract it names (wired to
 * the others), and that the account exists; then connects the contracts to that signer.
 */
export async function connect(hre: HardhatRuntimeEnvironment, args: ConnectionArgs): Promise<TaskContext> {
  const accountIndex = integerArg("account", args.account ?? "0");
  const network = hre.network.name;
  // Loaded before the first request: a compile of typechain-types that outlasts the node's keep-alive
  // (5 s on a busy machine) would otherwise leave the next request a closed socket.
  const [{ connectExchange }, { checkDeployment }] = await Promise.all([
    import("../lib/contracts"),
    import("../lib/deployment"),
  ]);
  const deployment = await loadDeployment(hre, args);
  const label = args.deployment !== undefined ? `--deployment ${args.deployment}` : deployment.shown;
  const { chainId } = await hre.ethers.provider.getNetwork();
  if (BigInt(deployment.record.chainId) !== chainId) {
    fail(`${label} is for chain ${deployment.record.chainId}, but network "${network}" is chain ${chainId}`);
  }
  const signer = await signerArg(hre, args.account);
  const exchange = connectExchange(deployment.record, signer);
  const problem = await checkDeployment(exchange, hre.ethers.provider, label);
  if (problem) fail(`${problem}${problem.includes("Deploy again") ? `: npm run deploy -- --network ${network}` : ""}`);
  return {
    hre,
    network,
    chainId,
    deploymentFile: deployment.file,
    exchange,
    signer,
    accountIndex,
    address: await signer.getAddress(),
  };
}

/** The local signer --account names (default 0), or an error giving the network's range. */
export async function signerArg(
  hre: HardhatRuntimeEnvironment,
  value: string | undefined,
): Promise<HardhatEthersSigner> {
  const index = integerArg("account", value ?? "0");
  const signers = await hre.ethers.getSigners();
  if (index >= signers.length) {
    fail(
      `--account ${index}: network "${hre.network.name}" has ${signers.length} local accounts (0-${signers.length - 1})`,
    );
  }
  return signers[index];
}

/** The deployment file named by --deployment (or the network's default), read and schema-checked. */
async function loadDeployment(
  hre: HardhatRuntimeEnvironment,
  args: ConnectionArgs,
): Promise<{ file: string; shown: string; record: Deployment }> {
  const given = args.deployment !== undefined;
  if (given && String(args.deployment).trim() === "")
    fail("--deployment is empty: expected the path of a deployment file");
  const file = given ? path.resolve(String(args.deployment)) : defaultDeploymentFile(hre);
  const shown = path.relative(process.cwd(), file) || file;
  if (!existsSync(file)) {
    fail(
      given
        ? `--deployment ${args.deployment}: no such file`
        : `no deployment for network "${hre.network.name}" (${shown} does not exist). ` +
            `Start a node (npm run node), deploy (npm run deploy -- --network localhost) and pass --network localhost`,
    );
  }
  const { readDeploymentFile, DeploymentError } = await import("../lib/deployment");
  try {
    return { file, shown, record: readDeploymentFile(file, given ? `--deployment ${args.deployment}` : shown) };
  } catch (err) {
    if (err instanceof DeploymentError) fail(err.message);
    throw err;
  }
}

/** Every market of the deployment: the USD exchange's, then each coin exchange's (BTCUSD-INV...). */
export function allSymbols(ctx: TaskContext): string[] {
  const coinMarkets = [...ctx.exchange.coinMargined.values()].flatMap((ex) => [...ex.markets.keys()]);
  return [...ctx.exchange.markets.keys(), ...coinMarkets];
}

/** A market and the exchange that lists it. */
export interface MarketVenue {
  /** the task's context with `exchange` the market's own: the USD exchange, or the coin's */
  ctx: TaskContext;
  market: MarketHandles;
  /** the coin a coin-margined market is margined in (BTC); undefined for a USD-margined market */
  coin?: string;
}

/**
 * The market named by --market on whichever exchange lists it: a USD market, or a coin-margined one
 * (BTCUSD-INV) on its coin's exchange. An unknown symbol is refused listing every market.
 */
export function marketVenueArg(ctx: TaskContext, value: string | undefined): MarketVenue {
  const symbols = allSymbols(ctx).join(", ");
  if (value === undefined || String(value).trim() === "") fail(`--market is required: one of ${symbols}`);
  const symbol = String(value).trim().toUpperCase();
  const market = ctx.exchange.markets.get(symbol);
  if (market) return { ctx, market };
  for (const [coin, exchange] of ctx.exchange.coinMargined) {
    const inverse = exchange.markets.get(symbol);
    if (inverse) return { ctx: { ...ctx, exchange }, market: inverse, coin };
  }
  fail(`--market ${value}: unknown market; markets: ${symbols}`);
}

/**
 * A USD-margined market named by --market. A coin-margined one is refused naming its underlying (its
 * prices and spot pool are the underlying's), an unknown one listing every market.
 */
export function marketArg(ctx: TaskContext, value: string | undefined): MarketHandles {
  const { market, coin } = marketVenueArg(ctx, value);
  if (coin !== undefined) {
    const underlying = market.inverse?.underlying ?? "its USD market";
    fail(
      `--market ${market.symbol}: a coin-margined market, whose index is ${underlying}'s inverted; ` +
        `pass --market ${underlying} (USD markets: ${[...ctx.exchange.markets.keys()].join(", ")})`,
    );
  }
  return market;
}

/** The asset a wallet or vault task moves: USD (the default), or a coin with a coin-margined exchange. */
export interface AssetVenue {
  /** the task's context with `exchange` the asset's: the USD exchange, or the coin's */
  ctx: TaskContext;
  /** "USD", "BTC", "ALT" */
  asset: string;
  /** the collateral token's decimals: 6 for USD, 18 for a coin */
  decimals: 6 | 18;
}

/** The asset named by --asset (default USD), or an error naming the assets of the deployment. */
export function assetArg(ctx: TaskContext, value: string | undefined): AssetVenue {
  const asset = String(value ?? "USD")
    .trim()
    .toUpperCase();
  if (asset === "USD") return { ctx, asset, decimals: 6 };
  const exchange = ctx.exchange.coinMargined.get(asset);
  if (!exchange)
    fail(`--asset ${value}: unknown asset; assets: ${["USD", ...ctx.exchange.coinMargined.keys()].join(", ")}`);
  return { ctx: { ...ctx, exchange }, asset, decimals: 18 };
}

/** An amount of `asset` WAD as printed: "12.50 USD", "0.10000000 BTC". */
export function money(asset: string, value: bigint): string {
  return asset === "USD" ? fmt.usd(value) : fmt.coin(value, asset);
}

/** A signed amount of `asset`, its sign always shown. */
export function signedMoney(asset: string, value: bigint): string {
  return asset === "USD" ? fmt.signedUsd(value) : fmt.signedCoin(value, asset);
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
