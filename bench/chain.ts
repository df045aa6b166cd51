/**
 * The bench's access to the in-process network: an RPC profile (calls and milliseconds per method, to
 * say where a run's time goes), many impersonated accounts, and raw transactions sent many per block.
 *
 * Setup traffic (funding 1,000 accounts, opening their positions) goes through `sendMany`: raw
 * eth_sendTransaction with an explicit gas limit (no estimate), automine off, CALLS_PER_BLOCK
 * transactions per mined block. Small blocks keep EDR fast, and few blocks keep the block clock close
 * to the wall clock (each block is at least one second later than the one before).
 */
import type { EthereumProvider } from "hardhat/types";
import { getAddress, id as keccakId } from "ethers";

export const CALLS_PER_BLOCK = 50;
/** Gas limit of a setup transaction: no estimate, and 50 of them fit the 60M block. */
export const SETUP_GAS = 1_000_000n;
/** 100 ETH, for the impersonated accounts' (zero-priced) gas. */
const ACCOUNT_ETH = "0x56BC75E2D63100000";

export interface RawCall {
  from: string;
  to: string;
  data: string;
  gas?: bigint;
}

export interface MethodProfile {
  method: string;
  calls: number;
  ms: number;
}

interface Busy {
  calls: number;
  ms: number;
  active: number;
  since: number;
}

function enter(b: Busy): void {
  if (b.active === 0) b.since = performance.now();
  b.active++;
  b.calls++;
}

function leave(b: Busy): void {
  b.active--;
  if (b.active === 0) b.ms += performance.now() - b.since;
}

/**
 * Counts calls and busy time per RPC method while installed: the wall-clock time during which at least
 * one call of that method was in flight, so concurrent calls are not counted twice. `detail` may split
 * a method by what it calls (eth_call by function name, say); `busyMs` is the time with any call in flight.
 */
export class RpcProfile {
  private readonly byMethod = new Map<string, Busy>();
  private readonly byRawMethod = new Map<string, Busy>();
  private readonly any: Busy = { calls: 0, ms: 0, active: 0, since: 0 };
  private readonly original: EthereumProvider["send"];
  /** calls are counted only while recording */
  recording = true;

  constructor(
    private readonly provider: EthereumProvider,
    private readonly detail?: (method: string, params: unknown[] | undefined) => string | undefined,
  ) {
    this.original = provider.send.bind(provider);
  }

  get busyMs(): number {
    return Math.round(this.any.ms);
  }

  /** Busy time of one JSON-RPC method, whatever `detail` split it into. */
  methodBusyMs(method: string): number {
    return Math.round(this.byRawMethod.get(method)?.ms ?? 0);
  }

  install(): this {
    this.provider.send = async (method: string, params?: unknown[]) => {
      const extra = this.detail?.(method, params);
      const key = extra ? `${method} ${extra}` : method;
      const entry = this.byMethod.get(key) ?? { calls: 0, ms: 0, active: 0, since: 0 };
      this.byMethod.set(key, entry);
      const raw = this.byRawMethod.get(method) ?? { calls: 0, ms: 0, active: 0, since: 0 };
      this.byRawMethod.set(method, raw);
      const counted = this.recording;
      if (counted) for (const b of [entry, raw, this.any]) enter(b);
      try {
        return await this.original(method, params);
      } finally {
        if (counted) for (const b of [entry, raw, this.any]) leave(b);
      }
    };
    return this;
  }

  uninstall(): MethodProfile[] {
    this.provider.send = this.original;
    return [...this.byMethod.entries()]
      .filter(([, v]) => v.calls > 0)
      .map(([method, v]) => ({ method, calls: v.calls, ms: Math.round(v.ms) }))
      .sort((a, b) => b.ms - a.ms);
  }
}

/** `count` fresh addresses derived from `label`, impersonated and holding ETH for gas. */
export async function impersonatedAccounts(
  provider: EthereumProvider,
  label: string,
  count: number,
): Promise<string[]> {
  const accounts: string[] = [];
  for (let i = 0; i < count; i++) {
    const address = getAddress("0x" + keccakId(`perpsim-bench:${label}:${i}`).slice(26));
    await provider.send("hardhat_impersonateAccount", [address]);
    await provider.send("hardhat_setBalance", [address, ACCOUNT_ETH]);
    accounts.push(address);
  }
  return accounts;
}

const hex = (n: bigint | number): string => "0x" + n.toString(16);

/**
 * Sends `calls` in order, `perBlock` to a block, each with an explicit gas limit; returns the hashes once
 * every transaction is mined, or throws naming the first that reverted. Automine is back on afterwards.
 */
export async function sendMany(
  provider: EthereumProvider,
  calls: readonly RawCall[],
  perBlock = CALLS_PER_BLOCK,
): Promise<string[]> {
  const hashes: string[] = [];
  await provider.send("evm_setAutomine", [false]);
  try {
    for (let i = 0; i < calls.length; i += perBlock) {
      const chunk = calls.slice(i, i + perBlock);
      const sent = await Promise.all(
        chunk.map(
          (c) =>
            provider.send("eth_sendTransaction", [
              { from: c.from, to: c.to, data: c.data, gas: hex(c.gas ?? SETUP_GAS) },
            ]) as Promise<string>,
        ),
      );
      hashes.push(...sent);
      await provider.send("evm_mine", []);
    }
  } finally {
    await provider.send("evm_setAutomine", [true]);
  }
  const receipts = (await Promise.all(hashes.map((h) => provider.send("eth_getTransactionReceipt", [h])))) as {
    status: string;
  }[];
  const failed = receipts.findIndex((r) => r.status !== "0x1");
  if (failed >= 0) {
    const n = receipts.filter((r) => r.status !== "0x1").length;
    throw new Error(
      `${n} of ${calls.length} setup transactions reverted; the first is call #${failed} to ${calls[failed].to}`,
    );
  }
  return hashes;
}

/** Mines the given transactions into one block (automine off for the moment); returns the block number. */
export async function inOneBlock(provider: EthereumProvider, send: () => Promise<unknown>): Promise<number> {
  await provider.send("evm_setAutomine", [false]);
  try {
    await send();
    await provider.send("evm_mine", []);
  } finally {
    await provider.send("evm_setAutomine", [true]);
  }
  return Number(BigInt((await provider.send("eth_blockNumber", [])) as string));
}

/** Moves the block clock forward by `seconds` (the next block is stamped that much later). */
export async function advanceTime(provider: EthereumProvider, seconds: number): Promise<void> {
  await provider.send("evm_increaseTime", [seconds]);
  await provider.send("hardhat_mine", ["0x1"]);
}

export async function latestTimestamp(provider: EthereumProvider): Promise<number> {
  const block = (await provider.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
  return Number(BigInt(block.timestamp));
}
