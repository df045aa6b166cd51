/**
 * The simulator's shell around the chain: it turns an agent's intent into one transaction from the
 * agent's address and says how it ended (done, or the custom error that refused it), and it reads a
 * market once (its stored state and its index) to project it with lib/math, the engine's own math.
 *
 * Transactions go out as raw `eth_sendTransaction` calls from impersonated accounts with a fixed gas
 * limit: no estimate, no signer round trips, nothing ethers would ask the node besides the send itself.
 * With automine the call returns once its block is mined, and a revert comes back as the error.
 *
 * Reads are raw `eth_call`s decoded with the contracts' ABIs (an ethers contract call costs two to three
 * times the call itself in JavaScript). A market's stored state and index are read at most once per
 * block and shared: the runner's views and the keeper's snapshots (`marketSource`) of one block come
 * from the same two calls. The vault's insurance fund and pool assets are read with them, in the same
 * batch: the runner's rows and the keeper's ADL check take them from there. Configuration and tiers are read once, at connect: the simulator sends no
 * transaction that changes them.
 */
import type { EthereumProvider } from "hardhat/types";
import { toQuantity, type BaseContract, type Interface } from "ethers";
import { FastAbi, addressWord, uintWord as word } from "../lib/abi";
import type { Exchange, MarketHandles } from "../lib/contracts";
import { decodeRevert } from "../lib/revert";
import { MarketReader, type MarketSnapshot, type MarketSource } from "../keeper/markets";
import { marketStateFromChain, projectMarket, type MarketConfig, type MarketState, type Tier } from "../lib/math";
import type { Intent, Outcome } from "./agents/intents";
import { DONE } from "./agents/intents";
import {
  Oracle__factory,
  PerpEngineAdmin__factory,
  PerpEngine__factory,
  PushPriceFeed__factory,
  SimReads__factory,
  SpotPool__factory,
  Vault__factory,
} from "../typechain-types";
import type { MarketView } from "./agents/view";

/** Gas limit of every simulated transaction (no estimate: ethers would run each one twice). */
export const SIM_TX_GAS = 5_000_000n;
const SIM_TX_GAS_HEX = "0x" + SIM_TX_GAS.toString(16);
/**
 * Gas limit of a transaction in a packed block. A block takes transactions while their limits fit
 * in its 30M gas (anvil's and Hardhat's default), so a smaller limit packs more: the simulator's
 * largest (an open on a cold position) uses about 330k.
 */
export const PACKED_TX_GAS = 1_500_000n;
const PACKED_TX_GAS_HEX = "0x" + PACKED_TX_GAS.toString(16);
/** Transactions per packed block: as many as their gas limits fit in the block's 30M. */
export const TXS_PER_BLOCK = Number(30_000_000n / PACKED_TX_GAS);

/** SimReads' creation code, run by eth_call to make many reads in one (contracts/sim/SimReads.sol). */
const SIM_READS_CODE = SimReads__factory.bytecode;

/**
 * SimReads' constructor arguments, `abi.encode(address[] targets, bytes[] calls)`, as hex without 0x,
 * written word by word (ethers' coder checksums every address with a keccak: most of a batch's cost).
 */
export function encodeReads(reads: readonly { to: string; data: string }[]): string {
  const n = reads.length;
  const targets = word(n) + reads.map((r) => addressWord(r.to)).join("");
  const bodies = reads.map((r) => {
    const bytes = (r.data.length - 2) / 2;
    return word(bytes) + r.data.slice(2).padEnd(Math.ceil(bytes / 32) * 64, "0");
  });
  let offset = n * 32;
  const offsets = bodies.map((b) => {
    const at = offset;
    offset += b.length / 2;
    return word(at);
  });
  return word(64) + word(64 + targets.length / 2) + targets + word(n) + offsets.join("") + bodies.join("");
}

/** The `bytes[]` SimReads returns, `count` of them, read word by word. */
function decodeResults(raw: string, count: number): string[] {
  const word = (byte: number) => Number(BigInt("0x" + raw.slice(2 + byte * 2, 2 + byte * 2 + 64)));
  const array = word(0);
  if (word(array) !== count) throw new Error(`SimReads returned ${word(array)} results for ${count} reads`);
  const results: string[] = [];
  for (let i = 0; i < count; i++) {
    const at = array + 32 + word(array + 32 + i * 32);
    const length = word(at);
    results.push("0x" + raw.slice(2 + (at + 32) * 2, 2 + (at + 32 + length) * 2));
  }
  return results;
}

/** Packs transactions into blocks: BlockClock.mineBlock. */
export interface BlockPacker {
  mineBlock(txs: readonly object[]): Promise<string[]>;
}

/** One transaction of a packed block: who sends it, and what. */
export interface Send {
  from: string;
  call: Call;
}

/** A market's parts that never change during a run, read once. */
interface StaticMarket {
  handles: MarketHandles;
  config: MarketConfig;
  tiers: Tier[];
}

/** A market's stored state and index as read at one block: everything a projection to a later second needs. */
interface MarketReading {
  stored: MarketState;
  index: bigint;
  fresh: boolean;
  /** The last second a source was fresh, when none is now (lastIndexPrice); undefined while fresh. */
  freshUntil: bigint | undefined;
}

/** The vault's insurance fund and LP pool assets as read at one block. */
export interface VaultReading {
  insurance: bigint;
  poolAssets: bigint;
}

/** One eth_call waiting to go out with the others of its block (SimChain.read). */
interface PendingRead {
  to: string;
  data: string;
  resolve: (raw: string) => void;
  reject: (error: unknown) => void;
}

/** A call's target and calldata. */
export interface Call {
  to: string;
  data: string;
}

export class SimChain {
  private readonly markets = new Map<string, StaticMarket>();
  private readonly venues = new Map<string, string[]>();
  private readonly engine: FastAbi;
  private readonly spot: FastAbi;
  private readonly feed: FastAbi;
  private readonly admin: FastAbi;
  private readonly oracle: FastAbi;
  private readonly vaultAbi: FastAbi;
  /** Each contract interface `value` has read through, with its selectors looked up once. */
  private readonly abis = new WeakMap<Interface, FastAbi>();
  /** Reads issued in this turn of the event loop, by block tag: they go out together (read). */
  private pendingReads = new Map<string, PendingRead[]>();
  /** The block `readings` were read at, each market's reading there (by market id) and the vault's. */
  private readingsBlock = -1;
  private readings = new Map<bigint, Promise<MarketReading>>();
  private vaultReading: Promise<VaultReading> | undefined;

  private constructor(
    private readonly provider: EthereumProvider,
    readonly ex: Exchange,
  ) {
    this.engine = new FastAbi(PerpEngine__factory.createInterface());
    this.spot = new FastAbi(SpotPool__factory.createInterface());
    this.feed = new FastAbi(PushPriceFeed__factory.createInterface());
    this.admin = new FastAbi(PerpEngineAdmin__factory.createInterface());
    this.oracle = new FastAbi(Oracle__factory.createInterface());
    this.vaultAbi = new FastAbi(Vault__factory.createInterface());
  }

  /** Reads every market's configuration and tiers once. */
  static async connect(provider: EthereumProvider, ex: Exchange): Promise<SimChain> {
    const chain = new SimChain(provider, ex);
    const runner = ex.admin.runner!;
    const reader = new MarketReader(ex.admin, ex.oracle, runner);
    const block = Number(await provider.send("eth_blockNumber", []));
    const handles = [...ex.markets.values()];
    const snapshots = await reader.read(
      handles.map((h) => h.marketId),
      block,
      0n,
    );
    for (const h of handles) {
      const s = snapshots.get(h.marketId)!;
      chain.markets.set(h.symbol, { handles: h, config: s.config, tiers: s.tiers });
    }
    return chain;
  }

  /** The same exchange with nothing read since connect: for a new run after the chain was reverted. */
  reconnect(): SimChain {
    const chain = new SimChain(this.provider, this.ex);
    for (const [symbol, m] of this.markets) chain.markets.set(symbol, m);
    return chain;
  }

  handles(symbol: string): MarketHandles {
    return this.static(symbol).handles;
  }

  config(symbol: string): MarketConfig {
    return this.static(symbol).config;
  }

  /** Sends `call` from `from` and returns how it ended; anything but a revert (a dead node) throws. */
  async send(from: string, call: Call): Promise<Outcome> {
    try {
      await this.provider.send("eth_sendTransaction", [{ from, to: call.to, data: call.data, gas: SIM_TX_GAS_HEX }]);
      return DONE;
    } catch (error) {
      const revert = decodeRevert(error);
      if (revert === undefined) throw error;
      return { kind: "refused", error: revert.name, message: revert.message };
    }
  }

  /** Sends `sends` in blocks of their own (sendBlock below), one transaction alone in its block too. */
  sendBlock(packer: BlockPacker, sends: readonly Send[]): Promise<Outcome[]> {
    return sendBlock(this.provider, packer, sends);
  }

  /** The same, resolving once the blocks are mined, their outcomes to come (mineSends below). */
  mineSends(packer: BlockPacker, sends: readonly Send[]): Promise<{ outcomes: Promise<Outcome[]> }> {
    return mineSends(this.provider, packer, sends);
  }

  /** The transaction an intent of `from` is. */
  callOf(intent: Intent, from: string): Call {
    const engine = this.ex.deployment.contracts.engine;
    const m = this.static(intent.symbol).handles;
    const id = m.marketId;
    switch (intent.kind) {
      case "increase":
        return {
          to: engine,
          data: this.engine.encode("increasePosition", [id, intent.sizeDelta, intent.margin, intent.acceptablePrice]),
        };
      case "decrease":
        return {
          to: engine,
          data: this.engine.encode("decreasePosition", [id, intent.size, intent.acceptablePrice]),
        };
      case "close":
        return { to: engine, data: this.engine.encode("closePosition", [id, intent.acceptablePrice]) };
      case "addMargin":
        return { to: engine, data: this.engine.encode("addMargin", [id, intent.amount]) };
      case "removeMargin":
        return { to: engine, data: this.engine.encode("removeMargin", [id, intent.amount]) };
      case "settleFunding":
        return { to: engine, data: this.engine.encode("settleFunding", [id]) };
      case "spotBuy":
        return { to: this.venue(intent.symbol, intent.venue), data: this.spotSwap(true, intent.usd6, from) };
      case "spotSell":
        return { to: this.venue(intent.symbol, intent.venue), data: this.spotSwap(false, intent.coins, from) };
      case "pushPrice":
        return {
          to: m.pushedFeeds[intent.feed]!.target as string,
          data: this.feed.encode("setPrice", [intent.answer]),
        };
    }
  }

  /**
   * The market as read at `block` (the head: the caller knows its number) and projected to `nowSec`.
   * The reads are shared with every other reader of the same block.
   */
  async readMarket(symbol: string, nowSec: bigint, block: number): Promise<MarketView> {
    const { handles, config, tiers } = this.static(symbol);
    const reading = await this.reading(handles.marketId, block, "latest");
    return {
      symbol,
      marketId: handles.marketId,
      nowSec,
      projected: projectMarket(config, reading.stored, reading.index, nowSec),
      tiers,
      skewScale: config.skewScale,
      takerFee: config.takerFee,
    };
  }

  /** The extra spot venues of a market (SPEC 9.4), venue 1 onwards; venue 0 is its spot pool. */
  setVenues(symbol: string, pools: readonly string[]): void {
    this.venues.set(symbol, [this.static(symbol).handles.spotPool.target as string, ...pools]);
  }

  /** The address of a market's spot venue `venue` (0, the default: the market's own pool). */
  venue(symbol: string, venue = 0): string {
    const pools = this.venues.get(symbol) ?? [this.static(symbol).handles.spotPool.target as string];
    const pool = pools[venue];
    if (pool === undefined) throw new Error(`market ${symbol} has ${pools.length} spot venue(s); no venue ${venue}`);
    return pool;
  }

  /**
   * The vault at `block` (the head: the caller knows its number), read with the markets' reading of
   * that block and shared with every other reader of it.
   */
  vaultAt(block: number): Promise<VaultReading> {
    return this.vault(block, "latest");
  }

  /** The keeper's market reads (keeper/markets.ts MarketSource), served from the same per-block readings. */
  marketSource(): MarketSource {
    const byId = new Map([...this.markets.values()].map((m) => [m.handles.marketId, m]));
    const snapshot = async (marketId: bigint, block: number, nowSec: bigint): Promise<MarketSnapshot> => {
      const m = byId.get(marketId);
      if (m === undefined)
        throw new Error(`the keeper asked for market ${marketId}, which the simulator did not deploy`);
      const r = await this.reading(marketId, block, block);
      return {
        marketId,
        config: m.config,
        tiers: m.tiers,
        stored: r.stored,
        index: r.index,
        fresh: r.fresh,
        freshUntil: r.freshUntil ?? nowSec,
        projected: projectMarket(m.config, r.stored, r.index, nowSec),
        nowSec,
        block,
      };
    };
    return {
      read: async (marketIds, block, nowSec) => {
        const snapshots = await Promise.all([...marketIds].map((id) => snapshot(id, block, nowSec)));
        return new Map(snapshots.map((s) => [s.marketId, s]));
      },
      poolAssets: async (block) => (await this.vault(block, block)).poolAssets,
    };
  }

  /** A view function's first return value, read with one raw eth_call at the head. */
  async value<T = bigint>(contract: BaseContract, fn: string, args: readonly unknown[] = []): Promise<T> {
    let abi = this.abis.get(contract.interface);
    if (abi === undefined) {
      abi = new FastAbi(contract.interface);
      this.abis.set(contract.interface, abi);
    }
    const result = await this.call(contract.target as string, abi, fn, args, "latest");
    return result[0] as T;
  }

  /**
   * Market `marketId` at `block` (read at `tag`, which names that block), read once per block; the
   * vault's reading of the block goes out with the first market's (one batch).
   */
  private reading(marketId: bigint, block: number, tag: "latest" | number): Promise<MarketReading> {
    this.readAt(block);
    let reading = this.readings.get(marketId);
    if (reading === undefined) {
      reading = this.readOnce(marketId, tag);
      // A failed read is not kept: the next reader tries again.
      reading.catch(() => this.readings.get(marketId) === reading && this.readings.delete(marketId));
      this.readings.set(marketId, reading);
      void this.vault(block, tag);
    }
    return reading;
  }

  /** The vault at `block` (read at `tag`, which names that block), read once per block. */
  private vault(block: number, tag: "latest" | number): Promise<VaultReading> {
    this.readAt(block);
    let reading = this.vaultReading;
    if (reading === undefined) {
      const vault = this.ex.deployment.contracts.vault;
      const value = async (fn: string) => (await this.call(vault, this.vaultAbi, fn, [], tag))[0] as bigint;
      reading = Promise.all([value("insuranceFund"), value("poolAssets")]).then(([insurance, poolAssets]) => ({
        insurance,
        poolAssets,
      }));
      // A failed read is not kept (and a reading nobody awaits yet does not go unhandled meanwhile).
      reading.catch(() => this.vaultReading === reading && (this.vaultReading = undefined));
      this.vaultReading = reading;
    }
    return reading;
  }

  /** Readings from now on are of `block`: those of another block are forgotten. */
  private readAt(block: number): void {
    if (block === this.readingsBlock) return;
    this.readingsBlock = block;
    this.readings = new Map();
    this.vaultReading = undefined;
  }

  private async readOnce(marketId: bigint, tag: "latest" | number): Promise<MarketReading> {
    const { engine, oracle } = this.ex.deployment.contracts;
    const [state, [index, fresh]] = await Promise.all([
      this.call(engine, this.admin, "marketState", [marketId], tag),
      this.call(oracle, this.oracle, "indexPrice", [marketId], tag),
    ]);
    const stored = marketStateFromChain(state[0] as MarketState);
    if ((fresh as bigint) !== 0n) return { stored, index: index as bigint, fresh: true, freshUntil: undefined };
    // Stale: one more read, only then.
    const [last, freshUntil] = await this.call(oracle, this.oracle, "lastIndexPrice", [marketId], tag);
    return { stored, index: last as bigint, fresh: false, freshUntil: freshUntil as bigint };
  }

  private async call(
    to: string,
    abi: FastAbi,
    fn: string,
    args: readonly unknown[],
    tag: "latest" | number,
  ): Promise<unknown[]> {
    const block = tag === "latest" ? tag : toQuantity(tag);
    return abi.decode(fn, await this.read(to, abi.encode(fn, args), block));
  }

  /**
   * One eth_call's result. The reads issued in one turn of the event loop (a Promise.all of them, say)
   * at one block go out as one eth_call of SimReads' creation code, which makes them all on chain.
   */
  private read(to: string, data: string, block: string): Promise<string> {
    return new Promise((resolve, reject) => {
      if (this.pendingReads.size === 0) setImmediate(() => this.flushReads());
      const list = this.pendingReads.get(block) ?? [];
      list.push({ to, data, resolve, reject });
      this.pendingReads.set(block, list);
    });
  }

  private flushReads(): void {
    const batches = this.pendingReads;
    this.pendingReads = new Map();
    for (const [block, reads] of batches) void this.readTogether(block, reads);
  }

  /** `reads` at `block`; when reading them together fails (one reverted), each alone for its own answer. */
  private async readTogether(block: string, reads: readonly PendingRead[]): Promise<void> {
    const together = reads.length > 1 ? await this.readAll(block, reads) : undefined;
    if (together !== undefined) {
      reads.forEach((r, i) => r.resolve(together[i]!));
      return;
    }
    for (const r of reads) {
      (this.provider.send("eth_call", [{ to: r.to, data: r.data }, block]) as Promise<string>).then(
        r.resolve,
        r.reject,
      );
    }
  }

  /** `reads` made by one SimReads creation; undefined when it reverted (a read reverted, or the node refused it). */
  private async readAll(block: string, reads: readonly PendingRead[]): Promise<string[] | undefined> {
    const args = encodeReads(reads);
    try {
      const raw = (await this.provider.send("eth_call", [{ data: SIM_READS_CODE + args }, block])) as string;
      return decodeResults(raw, reads.length);
    } catch (error) {
      // Each read alone then, each caller getting its own answer or its own error.
      if (error instanceof Error) return undefined;
      throw error;
    }
  }

  /** A swap of `amountIn` paying its output to `to`; no minimum (the pusher takes what the pool gives). */
  private spotSwap(buyCoin: boolean, amountIn: bigint, to: string): string {
    return this.spot.encode("swap", [buyCoin, amountIn, 0n, to]);
  }

  private static(symbol: string): StaticMarket {
    const m = this.markets.get(symbol);
    if (m === undefined) throw new Error(`the scenario names market ${symbol}, which was not deployed`);
    return m;
  }
}

/**
 * Sends `sends` in blocks of their own, in this order (TXS_PER_BLOCK to a block), and returns how each
 * ended: done, or refused with the custom error its revert data decodes to. A reverted transaction's
 * revert data comes from the trace the node recorded when it mined the block (anvil's
 * trace_transaction: no replay, and the node keeps no history to replay on) or from Hardhat's replay of
 * the block up to it (debug_traceTransaction): either way it ran on the state the transactions before
 * it in the block left.
 */
export async function sendBlock(
  provider: EthereumProvider,
  packer: BlockPacker,
  sends: readonly Send[],
): Promise<Outcome[]> {
  return (await mineSends(provider, packer, sends)).outcomes;
}

/**
 * sendBlock in two parts: resolves once the blocks are mined (the chain holds the transactions'
 * effects), with their outcomes still to come (their receipts being read), so the caller may read the
 * chain meanwhile.
 */
export async function mineSends(
  provider: EthereumProvider,
  packer: BlockPacker,
  sends: readonly Send[],
): Promise<{ outcomes: Promise<Outcome[]> }> {
  const outcomes: Promise<Outcome>[] = [];
  for (let i = 0; i < sends.length; i += TXS_PER_BLOCK) {
    const chunk = sends.slice(i, i + TXS_PER_BLOCK);
    const hashes = await packer.mineBlock(
      chunk.map(({ from, call }) => ({ from, to: call.to, data: call.data, gas: PACKED_TX_GAS_HEX })),
    );
    outcomes.push(...hashes.map((hash) => outcomeOf(provider, hash)));
  }
  return { outcomes: awaitedLater(Promise.all(outcomes)) };
}

/**
 * `p`, which its caller awaits later (after other work of the step): until then its failure is not
 * reported as unhandled. It is not swallowed: the await rethrows it.
 */
export function awaitedLater<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** How a mined transaction ended. */
async function outcomeOf(provider: EthereumProvider, hash: string): Promise<Outcome> {
  const receipt = (await provider.send("eth_getTransactionReceipt", [hash])) as { status: string } | null;
  if (receipt === null) throw new Error(`transaction ${hash} was not mined in the block packed for it`);
  if (receipt.status === "0x1") return DONE;
  const data = await revertDataOf(provider, hash);
  const revert = decodeRevert({ data });
  if (revert === undefined)
    throw new Error(`transaction ${hash} reverted without an error the contracts declare (data ${data})`);
  return { kind: "refused", error: revert.name, message: revert.message };
}

/** A mined, reverted transaction's revert data: anvil's recorded trace, else Hardhat's replay. */
async function revertDataOf(provider: EthereumProvider, hash: string): Promise<string> {
  if (await isAnvil(provider)) {
    const traces = (await provider.send("trace_transaction", [hash])) as {
      traceAddress: number[];
      result?: { output?: string } | null;
    }[];
    return traces.find((t) => t.traceAddress.length === 0)?.result?.output ?? "0x";
  }
  const trace = (await provider.send("debug_traceTransaction", [
    hash,
    { disableStack: true, disableMemory: true, disableStorage: true },
  ])) as { returnValue?: string };
  const value = trace.returnValue ?? "";
  return value.startsWith("0x") ? value : "0x" + value;
}

const anvilNodes = new WeakMap<EthereumProvider, Promise<boolean>>();

/** Whether the node is anvil (web3_clientVersion), asked once per provider. */
function isAnvil(provider: EthereumProvider): Promise<boolean> {
  let answer = anvilNodes.get(provider);
  if (answer === undefined) {
    answer = (provider.send("web3_clientVersion", []) as Promise<string>).then((v) =>
      v.toLowerCase().startsWith("anvil"),
    );
    anvilNodes.set(provider, answer);
  }
  return answer;
}
