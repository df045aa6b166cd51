/**
 * The raw JSON-RPC layer under the stateful fuzz: calls and transactions straight through the in-process
 * Hardhat provider (an ethers round trip costs more than the engine call itself), block timestamps pinned
 * by a deterministic clock, and reverts decoded against every ABI of the project.
 *
 * Determinism. Every block the fuzz mines gets its timestamp from `Clock` (the previous one plus one
 * second, or plus a time-advance command's jump), never from the wall clock, so a command list replays to
 * the same chain, wei for wei. The keeper's own transactions go through `pinnedEthersSigner`, which
 * applies the same clock.
 *
 * Views read at "latest": Hardhat runs them at the latest block's timestamp, so a view and the state it
 * reads belong to the same instant. A view at "pending" runs at the timestamp pinned for the next block,
 * which is how the fuzz previews what a transaction will see.
 */
import { network } from "hardhat";
import { ErrorFragment, getAddress, Interface, type InterfaceAbi, type Log, type LogDescription } from "ethers";
import { HardhatEthersProvider } from "@nomicfoundation/hardhat-ethers/internal/hardhat-ethers-provider";
import { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  CoinToken__factory,
  CollateralToken__factory,
  LiquidityPool__factory,
  Oracle__factory,
  OrderBook__factory,
  PerpEngineAdmin__factory,
  PerpEngine__factory,
  PerpLens__factory,
  PushPriceFeed__factory,
  ReciprocalOracle__factory,
  SpotPool__factory,
  SpotTwapFeed__factory,
  Vault__factory,
} from "../../typechain-types";

/** Gas for every fuzz transaction: far above any single call's need, under the per-transaction cap. */
const TX_GAS = 15_000_000n;

type Eip1193 = typeof network.provider;

/** Block timestamps, one second apart unless a command jumps. */
export class Clock {
  constructor(private last: bigint) {}

  /** The timestamp of the latest block. */
  get now(): bigint {
    return this.last;
  }

  /** The timestamp the next block will carry, pinned in the node. */
  async pinNext(provider: Eip1193 = network.provider): Promise<bigint> {
    await provider.request({ method: "evm_setNextBlockTimestamp", params: [toQuantity(this.last + 1n)] });
    return this.last + 1n;
  }

  /** Records that a block was mined at the pinned timestamp. */
  mined(): void {
    this.last += 1n;
  }

  /** Mines one empty block `seconds` after the latest. */
  async advance(seconds: bigint): Promise<void> {
    const target = this.last + seconds;
    await network.provider.request({ method: "evm_setNextBlockTimestamp", params: [toQuantity(target)] });
    await network.provider.request({ method: "evm_mine", params: [] });
    this.last = target;
  }
}

/* ------------------------------------------------------------------ REVERTS */

const PROJECT_ABIS: Record<string, InterfaceAbi> = {
  PerpEngine: PerpEngine__factory.abi,
  PerpEngineAdmin: PerpEngineAdmin__factory.abi,
  OrderBook: OrderBook__factory.abi,
  PerpLens: PerpLens__factory.abi,
  Vault: Vault__factory.abi,
  LiquidityPool: LiquidityPool__factory.abi,
  Oracle: Oracle__factory.abi,
  ReciprocalOracle: ReciprocalOracle__factory.abi,
  PushPriceFeed: PushPriceFeed__factory.abi,
  SpotTwapFeed: SpotTwapFeed__factory.abi,
  SpotPool: SpotPool__factory.abi,
  CollateralToken: CollateralToken__factory.abi,
  CoinToken: CoinToken__factory.abi,
};

/** selector -> the declared errors with that selector, e.g. ["PerpEngine.SlippageExceeded", "SpotPool.SlippageExceeded"]. */
const DECLARED = new Map<string, { fragment: ErrorFragment; declaredIn: string[] }>();
for (const [contract, abi] of Object.entries(PROJECT_ABIS)) {
  new Interface(abi).forEachError((fragment) => {
    const entry = DECLARED.get(fragment.selector) ?? { fragment, declaredIn: [] };
    entry.declaredIn.push(contract);
    DECLARED.set(fragment.selector, entry);
  });
}
const PANIC_SELECTOR = "0x4e487b71";
const ERROR_STRING_SELECTOR = "0x08c379a0";

/** A revert that decoded as one of the project's declared custom errors. */
export interface DeclaredRevert {
  name: string;
  args: readonly unknown[];
  /** the contracts whose ABI declares an error with this selector */
  declaredIn: string[];
}

/** A revert that is not a declared custom error: a panic, a reason string, a bare revert, out of gas. */
export class UndeclaredRevert extends Error {
  constructor(
    readonly what: string,
    readonly data: string | undefined,
    cause: unknown,
  ) {
    super(
      `${what} (revert data ${data ?? "none"}): ${cause instanceof Error ? cause.message.split("\n")[0] : String(cause)}`,
    );
    this.name = "UndeclaredRevert";
  }
}

function revertDataOf(err: unknown): string | undefined {
  if (err === null || typeof err !== "object") return undefined;
  const data = (err as { data?: unknown }).data;
  if (typeof data === "string" && data.startsWith("0x")) return data;
  if (data !== null && typeof data === "object" && typeof (data as { data?: unknown }).data === "string") {
    return (data as { data: string }).data;
  }
  return undefined;
}

/** Decodes a node error into a declared custom error, or throws UndeclaredRevert. */
export function decodeDeclared(err: unknown): DeclaredRevert {
  const data = revertDataOf(err);
  if (data === undefined || data === "0x") throw new UndeclaredRevert("bare revert or out of gas", data, err);
  const selector = data.slice(0, 10);
  if (selector === PANIC_SELECTOR) {
    throw new UndeclaredRevert(`Panic(0x${BigInt("0x" + data.slice(10)).toString(16)})`, data, err);
  }
  if (selector === ERROR_STRING_SELECTOR) throw new UndeclaredRevert("Error(string)", data, err);
  const declared = DECLARED.get(selector);
  if (!declared) throw new UndeclaredRevert(`unknown selector ${selector}`, data, err);
  const iface = new Interface([declared.fragment]);
  const parsed = iface.parseError(data);
  if (!parsed) throw new UndeclaredRevert(`undecodable ${declared.fragment.name}`, data, err);
  return { name: parsed.name, args: [...parsed.args], declaredIn: declared.declaredIn };
}

/* ------------------------------------------------------------------ CALLS AND TRANSACTIONS */

/** A contract the fuzz talks to: an address and the interface that encodes its calls. */
export interface Target {
  address: string;
  iface: Interface;
}

export interface Receipt {
  blockNumber: number;
  gasUsed: bigint;
  logs: Log[];
}

export type TxResult = { ok: true; hash: string } | { ok: false; revert: DeclaredRevert };

/** A raw view call at `block` ("latest" by default); throws the node error on revert. */
export async function rawCall(to: string, data: string, from?: string, block = "latest"): Promise<string> {
  return (await network.provider.request({
    method: "eth_call",
    params: [{ to, data, ...(from ? { from } : {}) }, block],
  })) as string;
}

/** Calls a view and decodes its single or multiple results. */
export async function view<T = unknown>(
  t: Target,
  fn: string,
  args: readonly unknown[] = [],
  block = "latest",
): Promise<T> {
  const ret = await rawCall(t.address, t.iface.encodeFunctionData(fn, args), undefined, block);
  const decoded = t.iface.decodeFunctionResult(fn, ret);
  return (decoded.length === 1 ? decoded[0] : decoded) as T;
}

/**
 * Runs a state-changing function as a call from `from` at the latest block: whether the transaction would
 * succeed now. Returns undefined on success, the declared revert otherwise.
 */
export async function dryRun(
  from: string,
  t: Target,
  fn: string,
  args: readonly unknown[],
): Promise<DeclaredRevert | undefined> {
  try {
    await rawCall(t.address, t.iface.encodeFunctionData(fn, args), from);
    return undefined;
  } catch (err) {
    return decodeDeclared(err);
  }
}

/** Sends one transaction at the clock's next timestamp; a revert comes back decoded (the block is mined). */
export async function send(
  clock: Clock,
  from: string,
  t: Target,
  fn: string,
  args: readonly unknown[],
): Promise<TxResult> {
  const data = t.iface.encodeFunctionData(fn, args);
  await clock.pinNext();
  let hash: string;
  try {
    hash = (await network.provider.request({
      method: "eth_sendTransaction",
      params: [{ from, to: t.address, data, gas: toQuantity(TX_GAS) }],
    })) as string;
  } catch (err) {
    const revert = decodeDeclared(err); // throws on anything undeclared
    clock.mined(); // automine includes the failed transaction in a block
    return { ok: false, revert };
  }
  clock.mined();
  return { ok: true, hash };
}

/** The receipt's logs emitted by `t`, parsed, in order. */
export function parseLogs(receipt: Receipt, t: Target): LogDescription[] {
  const out: LogDescription[] = [];
  for (const log of receipt.logs) {
    if (log.address.toLowerCase() !== t.address.toLowerCase()) continue;
    const parsed = t.iface.parseLog({ topics: [...log.topics], data: log.data });
    if (parsed) out.push(parsed);
  }
  return out;
}

/* ------------------------------------------------------------------ FAST READS */

/**
 * Reads whose results are static words, decoded by hand: ethers' ABI decoder costs more than the call
 * (a 16-field struct takes ~3 ms to decode, the call itself ~0.5 ms), and the fuzz reads some thirty
 * values after every command.
 */
export class WordReader {
  private readonly selectors = new Map<string, string>();

  constructor(private readonly t: Target) {}

  private selector(fn: string): string {
    let s = this.selectors.get(fn);
    if (!s) {
      const f = this.t.iface.getFunction(fn);
      if (!f) throw new Error(`no function ${fn}`);
      s = f.selector;
      this.selectors.set(fn, s);
    }
    return s;
  }

  get address(): string {
    return this.t.address;
  }

  /** Call data of `fn(args)` for static arguments: integers, addresses, booleans. */
  calldata(fn: string, args: readonly (bigint | string | boolean)[] = []): string {
    return this.selector(fn) + args.map(encodeWord).join("");
  }

  /** The result words of `fn(args)`, each an unsigned 256-bit integer. */
  async words(fn: string, args: readonly (bigint | string | boolean)[] = [], block = "latest"): Promise<bigint[]> {
    return decodeWords(await rawCall(this.t.address, this.calldata(fn, args), undefined, block));
  }

  /** `fn(uint256[] ids)`: the result words of a function taking one array of integers. */
  async wordsOfArray(fn: string, items: readonly bigint[], block = "latest"): Promise<bigint[]> {
    const data =
      this.selector(fn) + encodeWord(32n) + encodeWord(BigInt(items.length)) + items.map(encodeWord).join("");
    return decodeWords(await rawCall(this.t.address, data, undefined, block));
  }
}

/* ------------------------------------------------------------------ BATCHED READS */

/**
 * A batch reader installed with hardhat_setCode: one eth_call runs many static calls and returns their
 * results back to back. Each call costs the node ~0.5 ms of overhead on top of its execution; the fuzz
 * reads some thirty values after every command.
 *
 * Calldata: records of [target: 20 bytes][length: 2 bytes][call data]. For each record it copies the call
 * data to memory, STATICCALLs the target, reverts with the target's revert data if it failed, and appends
 * the return data to the output; at the end it returns the output. Hand-assembled:
 *
 *   00 PUSH1 0 (i)  02 PUSH1 0 (o)                           stack: o, i
 *   04 JUMPDEST loop: if !(i < calldatasize) goto end
 *   0c len = calldataload(i + 20) >> 240
 *   14 calldatacopy(o, i + 22, len)
 *   1b success = staticcall(gas, calldataload(i) >> 96, o, len, 0, 0)
 *   28 if success goto ok; else revert with the return data
 *   35 JUMPDEST ok: returndatacopy(o, 0, returndatasize)
 *   3b i += 22 + len; o += returndatasize; goto loop
 *   47 JUMPDEST end: return(0, o)
 */
const BATCH_READER_CODE =
  "0x600060005b36821015604757816014013560f01c80836016018337600060008284863560601c5afa6035573d600060003e3d6000fd5b3d6000833e820160160191503d016004565b6000f3";
/** Where the batch reader lives: an address no deployment uses. */
export const BATCH_READER = "0x000000000000000000000000000000000000bA7c";

export async function installBatchReader(): Promise<void> {
  await network.provider.request({ method: "hardhat_setCode", params: [BATCH_READER, BATCH_READER_CODE] });
}

/** Static calls collected, then run as one eth_call. */
export class Batch {
  private readonly records: string[] = [];
  private readonly sizes: number[] = [];

  /** Adds `fn(args)` on `reader`'s contract, returning `words` static words; returns its slot. */
  add(reader: WordReader, fn: string, args: readonly (bigint | string | boolean)[], words: number): number {
    const data = reader.calldata(fn, args).slice(2);
    this.records.push(reader.address.slice(2).toLowerCase() + (data.length / 2).toString(16).padStart(4, "0") + data);
    this.sizes.push(words);
    return this.sizes.length - 1;
  }

  async run(block = "latest"): Promise<bigint[][]> {
    const words = decodeWords(await rawCall(BATCH_READER, "0x" + this.records.join(""), undefined, block));
    const out: bigint[][] = [];
    let at = 0;
    for (const n of this.sizes) {
      out.push(words.slice(at, at + n));
      at += n;
    }
    if (at !== words.length) throw new Error(`batch read: expected ${at} words, got ${words.length}`);
    return out;
  }
}

function encodeWord(x: bigint | string | boolean): string {
  if (typeof x === "boolean") return (x ? 1n : 0n).toString(16).padStart(64, "0");
  if (typeof x === "string") return x.toLowerCase().replace(/^0x/, "").padStart(64, "0");
  return BigInt.asUintN(256, x).toString(16).padStart(64, "0");
}

function decodeWords(hex: string): bigint[] {
  const out: bigint[] = [];
  for (let i = 2; i + 64 <= hex.length; i += 64) out.push(BigInt("0x" + hex.slice(i, i + 64)));
  return out;
}

/** A word as a signed integer. */
export function signed(word: bigint): bigint {
  return BigInt.asIntN(256, word);
}

/** A word as a checksummed address. */
export function addressOf(word: bigint): string {
  return getAddress("0x" + word.toString(16).padStart(40, "0"));
}

export function toQuantity(x: bigint): string {
  return "0x" + x.toString(16);
}

/* ------------------------------------------------------------------ THE KEEPER'S SIGNER */

/**
 * An ethers signer for `address` whose transactions are mined at the clock's timestamps, so a keeper pass
 * inside a fuzz sequence is as reproducible as the rest of it.
 */
export async function pinnedEthersSigner(clock: Clock, address: string): Promise<HardhatEthersSigner> {
  const base = network.provider;
  const pinned = new Proxy(base, {
    get(target, prop, receiver) {
      if (prop === "send") {
        return async (method: string, params?: unknown[]) => {
          if (method === "eth_sendTransaction") {
            await clock.pinNext(base);
            try {
              return await base.send(method, params);
            } finally {
              clock.mined();
            }
          }
          return base.send(method, params);
        };
      }
      if (prop === "request") {
        return async (args: { method: string; params?: unknown[] }) => {
          if (args.method === "eth_sendTransaction") {
            await clock.pinNext(base);
            try {
              return await base.request(args);
            } finally {
              clock.mined();
            }
          }
          return base.request(args);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
  return HardhatEthersSigner.create(new HardhatEthersProvider(pinned, "hardhat"), address);
}
