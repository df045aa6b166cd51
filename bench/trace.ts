/**
 * Where a transaction's gas goes, from EDR's debug_traceTransaction (the default struct-log tracer,
 * memory and storage off, stack on): a tree of call frames, each with its inclusive gas (what the
 * caller paid for the call, cold account access included) and, for its own code, the gas of storage
 * reads (cold and warm, by variable), storage writes (by variable), events and the rest (computation,
 * memory, calldata handling).
 *
 * Frames are named from the exchange's addresses and the called function from the selector (the first
 * word the callee loads from calldata). Storage slots are named from the contracts' layouts (see
 * `StorageNames`); a slot not found there is "other".
 */
import type { EthereumProvider } from "hardhat/types";

const CALL_OPS = new Set(["CALL", "CALLCODE", "STATICCALL", "DELEGATECALL"]);
const ARITHMETIC = new Set(
  "ADD MUL SUB DIV SDIV MOD SMOD ADDMOD MULMOD EXP SIGNEXTEND LT GT SLT SGT EQ ISZERO AND OR XOR NOT BYTE SHL SHR SAR".split(
    " ",
  ),
);

/** What a step that is not storage, an event or a call spends its gas on. */
function opCategory(op: string): string {
  if (op.startsWith("PUSH") || op.startsWith("DUP") || op.startsWith("SWAP") || op === "POP") return "stack";
  if (op === "JUMP" || op === "JUMPI" || op === "JUMPDEST" || op === "STOP" || op === "RETURN" || op === "REVERT")
    return "control flow";
  if (ARITHMETIC.has(op)) return "arithmetic and logic";
  if (op === "MLOAD" || op === "MSTORE" || op === "MSTORE8" || op === "MCOPY" || op === "MSIZE") return "memory";
  if (op.endsWith("COPY")) return "copies (calldata, returndata, code)";
  if (op === "CALLDATALOAD" || op === "CALLDATASIZE") return "calldata";
  if (op === "KECCAK256" || op === "SHA3") return "hashing";
  return "environment";
}
const TX_BASE_GAS = 21_000;
const CALLDATA_ZERO_BYTE_GAS = 4;
const CALLDATA_BYTE_GAS = 16;

interface StructLog {
  depth: number;
  gas: number;
  gasCost: number;
  op: string;
  stack?: string[];
}

export interface StorageUse {
  label: string;
  /** distinct slots read or written under this label */
  slots: number;
  coldReads: number;
  warmReads: number;
  readGas: number;
  writes: number;
  writeGas: number;
}

export interface Frame {
  /** storage context: the callee, or the caller for a delegatecall */
  address: string;
  contract: string;
  fn: string;
  /** gas the caller paid for this call, everything below included; for the root: all execution gas */
  gas: number;
  /** gas spent by this frame's own code */
  self: { storageRead: number; storageWrite: number; events: number; eventCount: number; other: number };
  /** `self.other` by kind of opcode */
  compute: Record<string, number>;
  storage: StorageUse[];
  children: Frame[];
}

export interface TxBreakdown {
  gasUsed: number;
  /** 21,000 plus calldata */
  intrinsic: number;
  /** refunded at the end of the transaction (cleared storage) */
  refund: number;
  root: Frame;
}

export interface Names {
  contractOf(address: string): string;
  functionOf(contract: string, selector: string): string;
  slotOf(contract: string, slot: string): string;
}

interface OpenFrame {
  frame: Frame;
  slotsByLabel: Map<string, Set<string>>;
  depth: number;
  startGas: number;
  childGas: number;
  storage: Map<string, StorageUse>;
  awaitingSelector: boolean;
}

const top = (log: StructLog, n = 0): string => {
  const stack = log.stack ?? [];
  return stack[stack.length - 1 - n] ?? "0";
};
const word = (hex: string): string => "0x" + hex.replace(/^0x/, "").padStart(64, "0");
const addressOf = (hex: string): string => "0x" + word(hex).slice(-40);

function newFrame(address: string, names: Names): Frame {
  return {
    address,
    contract: names.contractOf(address),
    fn: "",
    gas: 0,
    self: { storageRead: 0, storageWrite: 0, events: 0, eventCount: 0, other: 0 },
    compute: {},
    storage: [],
    children: [],
  };
}

function close(open: OpenFrame, gas: number): Frame {
  const f = open.frame;
  f.gas = gas;
  f.storage = [...open.storage.values()].sort((a, b) => b.readGas + b.writeGas - (a.readGas + a.writeGas));
  f.self.other = gas - open.childGas - f.self.storageRead - f.self.storageWrite - f.self.events;
  return f;
}

function storageUse(open: OpenFrame, label: string, slot: string): StorageUse {
  let use = open.storage.get(label);
  if (!use) {
    use = { label, slots: 0, coldReads: 0, warmReads: 0, readGas: 0, writes: 0, writeGas: 0 };
    open.storage.set(label, use);
  }
  const seen = open.slotsByLabel.get(label) ?? new Set<string>();
  seen.add(slot);
  open.slotsByLabel.set(label, seen);
  use.slots = seen.size;
  return use;
}

/** The breakdown of a mined transaction. */
export async function traceGas(provider: EthereumProvider, hash: string, names: Names): Promise<TxBreakdown> {
  const tx = (await provider.send("eth_getTransactionByHash", [hash])) as { to: string; input: string };
  const receipt = (await provider.send("eth_getTransactionReceipt", [hash])) as { gasUsed: string };
  const trace = (await provider.send("debug_traceTransaction", [
    hash,
    { disableMemory: true, disableStorage: true, disableStack: false },
  ])) as { structLogs: StructLog[] };
  const logs = trace.structLogs;

  const data = tx.input.replace(/^0x/, "");
  let intrinsic = TX_BASE_GAS;
  for (let i = 0; i < data.length; i += 2)
    intrinsic += data.slice(i, i + 2) === "00" ? CALLDATA_ZERO_BYTE_GAS : CALLDATA_BYTE_GAS;

  const root = newFrame(tx.to.toLowerCase(), names);
  root.fn = names.functionOf(root.contract, tx.input.slice(0, 10));
  const stack: OpenFrame[] = [
    {
      frame: root,
      slotsByLabel: new Map(),
      depth: 1,
      startGas: logs[0].gas,
      childGas: 0,
      storage: new Map(),
      awaitingSelector: false,
    },
  ];

  for (let i = 0; i < logs.length; i++) {
    const log = logs[i];
    const next = logs[i + 1];
    let open = stack[stack.length - 1];
    // A frame returned: the step after it runs in the caller at the caller's depth.
    while (log.depth < open.depth) {
      const done = stack.pop()!;
      const parent = stack[stack.length - 1];
      const gas = done.startGas - log.gas;
      parent.frame.children.push(close(done, gas));
      parent.childGas += gas;
      open = parent;
    }
    if (open.awaitingSelector && log.op === "CALLDATALOAD" && BigInt("0x" + top(log)) === 0n && next) {
      open.frame.fn = names.functionOf(open.frame.contract, word(top(next)).slice(0, 10));
      open.awaitingSelector = false;
    }
    if (log.op === "SLOAD") {
      const slot = word(top(log));
      const use = storageUse(open, names.slotOf(open.frame.contract, slot), slot);
      if (log.gasCost >= 2_100) use.coldReads++;
      else use.warmReads++;
      use.readGas += log.gasCost;
      open.frame.self.storageRead += log.gasCost;
    } else if (log.op === "SSTORE") {
      const slot = word(top(log));
      const use = storageUse(open, names.slotOf(open.frame.contract, slot), slot);
      use.writes++;
      use.writeGas += log.gasCost;
      open.frame.self.storageWrite += log.gasCost;
    } else if (log.op.startsWith("LOG")) {
      open.frame.self.events += log.gasCost;
      open.frame.self.eventCount++;
    } else if (!CALL_OPS.has(log.op)) {
      const kind = opCategory(log.op);
      open.frame.compute[kind] = (open.frame.compute[kind] ?? 0) + log.gasCost;
    } else if (next) {
      const target = addressOf(top(log, 1));
      if (next.depth === log.depth + 1) {
        const context = log.op === "DELEGATECALL" || log.op === "CALLCODE" ? open.frame.address : target;
        const frame = newFrame(context, names);
        if (context !== target) frame.contract = `${open.frame.contract} via ${names.contractOf(target)}`;
        stack.push({
          frame,
          slotsByLabel: new Map(),
          depth: next.depth,
          startGas: log.gas,
          childGas: 0,
          storage: new Map(),
          awaitingSelector: true,
        });
      } else {
        // a precompile or an account without code: no frame of its own
        const leaf = newFrame(target, names);
        leaf.fn = "(no code)";
        leaf.gas = log.gas - next.gas;
        open.frame.children.push(leaf);
        open.childGas += leaf.gas;
      }
    }
  }
  const last = logs[logs.length - 1];
  const execution = logs[0].gas - (last.gas - last.gasCost);
  while (stack.length > 1) {
    const done = stack.pop()!;
    const parent = stack[stack.length - 1];
    const gas = done.startGas - (last.gas - last.gasCost);
    parent.frame.children.push(close(done, gas));
    parent.childGas += gas;
  }
  close(stack[0], execution);
  const gasUsed = Number(BigInt(receipt.gasUsed));
  return { gasUsed, intrinsic, refund: intrinsic + execution - gasUsed, root };
}

/** The frames below `frame` (itself excluded), depth first. */
export function descendants(frame: Frame): Frame[] {
  return frame.children.flatMap((c) => [c, ...descendants(c)]);
}
