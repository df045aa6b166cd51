/**
 * A private anvil node for one process, reached over its IPC socket: the simulator's second chain
 * backend (`--chain anvil`). anvil's EVM costs about the same per transaction whatever the gas (EDR,
 * Hardhat's in-process network, pays for a step tracer on every opcode), and a unix socket round trip
 * is a tenth of an HTTP one.
 *
 * The node is started with the in-process network's settings (chain id 31337, the same mnemonic, no
 * base fee, cancun), so a deployment lands at the same addresses. It is stopped with the process: on
 * exit, and through a watchdog shell that kills it when its stdin (a pipe from this process) closes,
 * so a process killed with SIGKILL leaves no node behind either.
 *
 * `AnvilProvider` is a minimal EIP-1193 provider (`request`, and `send` as Hardhat's providers have
 * it): the requests of one turn written as one JSON-RPC object or one batch, the answers (JSON objects
 * or batch arrays, each ended by a newline; without one, split at their braces) matched back by id. A
 * JSON-RPC error is thrown as an Error carrying its `data` (the revert data lib/revert.ts decodes).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { anvilBinary } from "../lib/anvil-binary";

/** How long anvil may take to open its socket. */
const START_TIMEOUT_MS = 20_000;

/** A JSON-RPC error as anvil returns it: code, message and (for a revert) the revert data. */
export class RpcError extends Error {
  override name = "RpcError";
  constructor(
    message: string,
    readonly code: number,
    readonly data: unknown,
  ) {
    super(message);
  }
}

/** Reads that neither mine nor depend on the next block's timestamp: they do not pass a kept one on first. */
const KEEPS_TIMESTAMP = new Set([
  "eth_call",
  "eth_blockNumber",
  "eth_chainId",
  "eth_accounts",
  "eth_getBlockByNumber",
  "eth_getTransactionReceipt",
  "eth_getTransactionByHash",
  "eth_getLogs",
  "trace_transaction",
]);

/** Methods that change nothing on the chain: the cached headers stay true through them. */
const READS = new Set([
  ...KEEPS_TIMESTAMP,
  "eth_getTransactionByHash",
  "web3_clientVersion",
  "evm_setAutomine",
  "evm_setNextBlockTimestamp",
]);
/** Methods that add blocks (or pool transactions) but leave the ones mined before as they were. */
const ADDS_BLOCKS = new Set(["eth_sendTransaction", "evm_mine", "hardhat_mine", "anvil_mine"]);
/** Headers kept: the keeper reads the head and the block it applied last. */
const HEADERS_KEPT = 64;

/** A block as evm_mine_detailed returns it: eth_getBlockByNumber's fields, its transactions in full. */
type MinedBlock = Record<string, unknown> & { number: string; transactions: ({ hash: string } | string)[] };

/**
 * The headers of blocks mined through the provider (as eth_getBlockByNumber with hashes only returns
 * them), by number, and the head while nothing else has mined or reverted since: the keeper's reads of
 * the head and of the block it applied last are answered here.
 */
class HeaderCache {
  private readonly byNumber = new Map<number, Record<string, unknown>>();
  private head: number | undefined;

  mined(block: MinedBlock): void {
    const header = { ...block, transactions: block.transactions.map((t) => (typeof t === "string" ? t : t.hash)) };
    const n = Number(block.number);
    this.byNumber.set(n, header);
    this.byNumber.delete(n - HEADERS_KEPT);
    this.head = n;
  }

  /** The header eth_getBlockByNumber(tag, false) would return, if kept. */
  known(tag: unknown, full: unknown): Record<string, unknown> | undefined {
    if (full !== false) return undefined;
    const n = tag === "latest" ? this.head : typeof tag === "string" && tag.startsWith("0x") ? Number(tag) : undefined;
    return n === undefined ? undefined : this.byNumber.get(n);
  }

  /** A request that may mine (the head moves) or rewind the chain (every kept header may be gone). */
  chainChanged(method: string): void {
    this.head = undefined;
    if (!ADDS_BLOCKS.has(method)) this.byNumber.clear();
  }
}

/** An evm_mine without options, or a hardhat_mine / anvil_mine of one block: one empty block. */
function minesOneBlock(method: string, params: unknown[] | undefined): boolean {
  if (method === "evm_mine") return params === undefined || params.length === 0;
  if (method !== "hardhat_mine" && method !== "anvil_mine") return false;
  const count = params?.[0];
  return count === undefined || BigInt(count as string) === 1n;
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

/** An EIP-1193 provider over a unix socket. */
export class AnvilProvider {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffer = "";
  /** Off while the block clock packs a block (BlockClock.mineBlock): a send then only enters the pool. */
  private automine = true;
  /** A timestamp set for the next block and not yet passed to the node (see request). */
  private nextTimestamp: number | undefined;
  private closed: Error | undefined;
  /** Headers of the blocks mined here, to answer reads of them without a round trip. */
  private readonly headers = new HeaderCache();
  /** Requests not yet written: written together at the end of this turn (flush). */
  private outgoing: string[] = [];
  /** Concurrent sends reach the node in the order they were made (one batch): BlockClock may send a block's at once. */
  readonly ordersConcurrentSends = true;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding("utf8");
    // The socket keeps the process alive only while a request waits for its answer.
    socket.unref();
    socket.on("data", (chunk: string) => this.receive(chunk));
    const fail = (error: Error) => {
      this.closed = error;
      for (const p of this.pending.values()) p.reject(error);
      this.pending.clear();
    };
    socket.on("error", fail);
    socket.on("close", () => fail(new Error("the anvil node's socket closed")));
  }

  static connect(socketPath: string): Promise<AnvilProvider> {
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      socket.once("connect", () => {
        socket.removeListener("error", reject);
        resolve(new AnvilProvider(socket));
      });
      socket.once("error", reject);
    });
  }

  /**
   * One request. `eth_sendTransaction` behaves as on Hardhat's automining network: the node mines
   * nothing by itself (`--no-mining`), so the call sends, mines one block (at the timestamp set before,
   * if any) and returns the hash once it is mined, or throws the revert (its data included) when the
   * transaction reverted: the block holds exactly the one transaction sent. `evm_setAutomine false`
   * (kept here: the node never mines by itself) makes a send only enter the pool, first come, first
   * served (--order fifo), until an `evm_mine` mines everything in it.
   */
  request(args: { method: string; params?: readonly unknown[] | object }): Promise<unknown> {
    const { method, params } = args;
    if (method === "eth_getBlockByNumber") {
      const known = this.headers.known((params as unknown[])[0], (params as unknown[])[1]);
      if (known !== undefined) return Promise.resolve(known);
    } else if (!READS.has(method)) this.headers.chainChanged(method);
    if (method === "eth_sendTransaction" && this.automine) return this.sendMined(params as unknown[]);
    if (method === "evm_setAutomine") {
      this.automine = (params as unknown[])[0] === true;
      return Promise.resolve(true);
    }
    if (method === "evm_setNextBlockTimestamp") {
      // Kept here and given to the block's own evm_mine: one round trip less per transaction.
      this.nextTimestamp = Number((params as unknown[])[0]);
      return Promise.resolve(true);
    }
    if (this.nextTimestamp !== undefined && minesOneBlock(method, params as unknown[] | undefined)) {
      // One block at the kept timestamp: anvil's evm_mine takes it, one round trip; its header comes
      // back with it (evm_mine_detailed) and answers reads of the head until the chain changes again.
      const timestamp = this.nextTimestamp;
      this.nextTimestamp = undefined;
      return this.raw("evm_mine_detailed", [{ timestamp }]).then((blocks) => {
        this.headers.mined((blocks as MinedBlock[])[0]!);
        return "0x0";
      });
    }
    if (this.nextTimestamp === undefined || KEEPS_TIMESTAMP.has(method)) return this.raw(method, params);
    const timestamp = this.nextTimestamp;
    this.nextTimestamp = undefined;
    return this.raw("evm_setNextBlockTimestamp", [timestamp]).then(() => this.raw(method, params));
  }

  send(method: string, params: unknown[] = []): Promise<unknown> {
    return this.request({ method, params });
  }

  close(): void {
    this.socket.destroy();
  }

  private async sendMined(params: unknown[]): Promise<string> {
    const hash = (await this.raw("eth_sendTransaction", params)) as string;
    const timestamp = this.nextTimestamp;
    this.nextTimestamp = undefined;
    await this.raw("evm_mine", timestamp === undefined ? [] : [{ timestamp }]);
    const receipt = (await this.raw("eth_getTransactionReceipt", [hash])) as { status: string } | null;
    if (receipt === null) throw new Error(`anvil did not mine transaction ${hash} in the block mined for it`);
    if (receipt.status === "0x1") return hash;
    // Reverted: its revert data. The block holds this transaction alone and a revert leaves the state
    // as it was (but the sender's nonce, which a call ignores), so the call replays it exactly when it
    // runs on the head state with the block's own number and timestamp. (The node keeps no history
    // to trace: --prune-history.)
    const block = (await this.raw("eth_getBlockByNumber", ["latest", false])) as { number: string; timestamp: string };
    const [tx] = params as [Record<string, unknown>];
    try {
      await this.raw("eth_call", [tx, "latest", null, { number: block.number, time: block.timestamp }]);
    } catch (error) {
      if (error instanceof RpcError) throw error;
      throw new Error(`anvil: replaying reverted transaction ${hash}`, { cause: error });
    }
    throw new RpcError(`transaction ${hash} reverted, and its replay as a call did not`, 3, "0x");
  }

  private raw(method: string, params: readonly unknown[] | object | undefined): Promise<unknown> {
    if (this.closed) return Promise.reject(this.closed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.pending.size === 0) this.socket.ref();
      this.pending.set(id, { method, resolve, reject });
      if (this.outgoing.length === 0) queueMicrotask(() => this.flush());
      this.outgoing.push(JSON.stringify({ jsonrpc: "2.0", id, method, params: params ?? [] }));
    });
  }

  /**
   * Writes the requests made since the last write: one alone, several as one JSON-RPC batch (one
   * write, one answer), which anvil runs in the batch's order (a packed block's sends keep theirs).
   */
  private flush(): void {
    const out = this.outgoing;
    this.outgoing = [];
    this.socket.write(out.length === 1 ? out[0]! : "[" + out.join(",") + "]");
  }

  /** Splits the stream into top-level JSON objects (braces outside strings) and settles each one's request. */
  private receive(chunk: string): void {
    // anvil ends each answer with a newline (compact JSON holds none): whole lines are parsed as they
    // are, without the scan below, which stays for anything else.
    if (this.buffer === "" && chunk.endsWith("\n")) {
      const answers = parseLines(chunk);
      if (answers !== undefined) return answers.forEach((r) => this.settle(r));
    }
    this.buffer += chunk;
    let depth = 0;
    let inString = false;
    let start = 0;
    for (let i = 0; i < this.buffer.length; i++) {
      const c = this.buffer[i];
      if (inString) {
        if (c === "\\") i++;
        else if (c === '"') inString = false;
      } else if (c === '"') inString = true;
      else if (c === "{") {
        // A batch's answers sit in an array, between commas: an object starts at its brace.
        if (depth++ === 0) start = i;
      } else if (c === "}" && --depth === 0) {
        this.settle(JSON.parse(this.buffer.slice(start, i + 1)) as RpcResponse);
        start = i + 1;
      }
    }
    this.buffer = depth === 0 ? "" : this.buffer.slice(start);
  }

  private settle(response: RpcResponse): void {
    const p = this.pending.get(response.id);
    if (p === undefined) return;
    this.pending.delete(response.id);
    if (this.pending.size === 0) this.socket.unref();
    const e = response.error;
    // A revert keeps the node's message (lib/revert.ts reads the data); anything else names its method.
    if (e) p.reject(new RpcError(e.code === 3 ? e.message : `anvil ${p.method}: ${e.message}`, e.code, e.data));
    else p.resolve(response.result);
  }
}

/** Newline-ended lines of JSON-RPC answers (one, or one batch's array, a line), or undefined when one is not. */
function parseLines(text: string): RpcResponse[] | undefined {
  const answers: RpcResponse[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const parsed = parseWhole(line);
    if (parsed === undefined) return undefined;
    answers.push(...parsed);
  }
  return answers;
}

/** `text` as one JSON-RPC answer or one batch's, or undefined when it is not exactly that. */
function parseWhole(text: string): RpcResponse[] | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (Array.isArray(value)) return value as RpcResponse[];
    return typeof value === "object" && value !== null && "id" in value ? [value as RpcResponse] : undefined;
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

interface RpcResponse {
  id: number;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** A running anvil node and a provider connected to it. */
export interface AnvilNode {
  provider: AnvilProvider;
  /** The node's IPC socket (in a temporary directory of its own). */
  socketPath: string;
  /** CPU seconds the node has used (user + system), where /proc tells; undefined elsewhere. */
  cpuSeconds(): number | undefined;
  /** Stops the node (idempotent). */
  stop(): void;
}

/** Nodes this process started and has not stopped: stopped on exit. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // The watchdog would see its stdin close when the process is gone anyway; closing it here stops the
  // node at once. (Killing the shell instead would skip its trap and leave anvil running.)
  process.on("exit", () => {
    for (const child of running) child.stdin?.destroy();
  });
}

/**
 * Starts an anvil node with the in-process network's settings and connects to it. The node's socket
 * lives in a fresh temporary directory, removed with the node.
 */
export async function startAnvil(): Promise<AnvilNode> {
  installExitHook();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perpsim-anvil-"));
  const socketPath = path.join(dir, "anvil.ipc");
  const args = [
    "--ipc",
    socketPath,
    "--port",
    "0",
    "--chain-id",
    "31337",
    "--base-fee",
    "0",
    "--gas-price",
    "0",
    "--hardfork",
    "cancun",
    "--accounts",
    "20",
    "--balance",
    "10000",
    "--no-mining",
    // A packed block (BlockClock.mineBlock) holds its transactions in the order they were sent.
    "--order",
    "fifo",
    // No state kept for past blocks (nothing here reads one): 40% less of the node's CPU per run.
    "--prune-history",
    "--silent",
  ];
  // The watchdog: sh runs anvil in the background and kills it when its stdin reaches end of file,
  // which happens when this process dies, however it dies.
  const child = spawn(
    "sh",
    ["-c", `"$0" "$@" & a=$!; echo $a; trap 'kill $a; wait $a' EXIT; read _; exit 0`, anvilBinary(), ...args],
    {
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  running.add(child);
  // Neither the node nor its pipes keep this process alive: it ends when its work does, and the exit
  // hook (or the end of the pipe) stops the node.
  child.unref();
  (child.stdin as unknown as net.Socket).unref();
  (child.stderr as unknown as net.Socket).unref();
  (child.stdout as unknown as net.Socket).unref();
  let pid: number | undefined;
  child.stdout!.on("data", (d: Buffer) => (pid ??= Number(d.toString().trim().split("\n")[0])));
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  let exited: string | undefined;
  child.on("exit", (code) => {
    exited = `anvil exited with code ${code}${stderr ? `: ${stderr.trim().split("\n")[0]}` : ""}`;
    running.delete(child);
  });
  const stop = () => {
    running.delete(child);
    // Closing stdin ends the watchdog's read, whose exit trap kills anvil.
    child.stdin!.end();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const provider = await connectWhenReady(socketPath, () => exited);
    return {
      provider,
      socketPath,
      cpuSeconds: () => (pid === undefined ? undefined : processCpuSeconds(pid)),
      stop: () => {
        provider.close();
        stop();
      },
    };
  } catch (error) {
    stop();
    throw error;
  }
}

/** A process's user + system CPU seconds from /proc (Linux); undefined where it cannot be read. */
function processCpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  // Fields after the command's closing parenthesis; utime and stime are the 12th and 13th there.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** Linux's USER_HZ: /proc counts CPU time in 1/100 s. */
const CLOCK_TICKS = 100;

async function connectWhenReady(socketPath: string, exited: () => string | undefined): Promise<AnvilProvider> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    const gone = exited();
    if (gone !== undefined) throw new Error(gone);
    if (fs.existsSync(socketPath)) {
      try {
        const provider = await AnvilProvider.connect(socketPath);
        await provider.send("eth_chainId");
        return provider;
      } catch (error) {
        // The socket file exists a moment before anvil accepts on it: try again until the deadline.
        if (Date.now() > deadline) throw error;
      }
    }
    if (Date.now() > deadline) throw new Error(`anvil did not open ${socketPath} within ${START_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
