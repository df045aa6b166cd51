/**
 * Calldata, return data and event logs of the simulator's and the keeper's hot paths, without ethers'
 * per-call work. ethers v6 computes a function's selector (a keccak of its signature, in JavaScript) on
 * every encode, and decodes through coder objects built again on each call; for a run's thousands of
 * reads and sends that was about a third of the simulator's own CPU time, and decoding the keeper's
 * logs another tenth of a squeeze-thin run's wall time (CPU profiles on anvil). Here each function's
 * selector and types, and each event by its topic, are looked up once; values made of static words
 * (integers, booleans, addresses, tuples of them; fixed bytes in events) are written and read 32 bytes
 * at a time.
 * Anything else goes through ethers as before.
 */
import { Result, getAddress, type EventFragment, type FunctionFragment, type Interface, type ParamType } from "ethers";

const WORD_HEX = 64;
const TWO_256 = 1n << 256n;

/** One function's selector and types, looked up once. */
interface Fn {
  fragment: FunctionFragment;
  selector: string;
  /** Whether every input / output is made of static words, so the fast paths apply. */
  staticInputs: boolean;
  staticOutputs: boolean;
}

/** One event, found by its topic; `fast` when every parameter is one static word (no tuples). */
interface Ev {
  fragment: EventFragment;
  fast: boolean;
  /** The words of its data (its parameters not indexed). */
  dataWords: number;
  names: string[];
}

/** A log as the node returns it: what decoding needs. */
export interface RawLog {
  topics: readonly string[];
  data: string;
}

export class FastAbi {
  private readonly fns = new Map<string, Fn>();
  private events: Map<string, Ev> | undefined;

  constructor(readonly iface: Interface) {}

  /** The FastAbi of `iface`, made once per interface. */
  static of(iface: Interface): FastAbi {
    let abi = byInterface.get(iface);
    if (abi === undefined) {
      abi = new FastAbi(iface);
      byInterface.set(iface, abi);
    }
    return abi;
  }

  /** The calldata of `fn(args)`: the same bytes as `iface.encodeFunctionData(fn, args)`. */
  encode(fn: string, args: readonly unknown[]): string {
    const f = this.fn(fn);
    if (!f.staticInputs) return this.iface.encodeFunctionData(f.fragment, args);
    let data = f.selector;
    f.fragment.inputs.forEach((input, i) => (data += encodeStatic(input, args[i])));
    return data;
  }

  /**
   * `fn`'s return values, by position; a tuple as an object by component name. For static outputs the
   * values `iface.decodeFunctionResult` gives (bigints, booleans, checksummed addresses).
   */
  decode(fn: string, data: string): unknown[] {
    const f = this.fn(fn);
    if (!f.staticOutputs || data.length < 2 + WORD_HEX * wordCount(f.fragment.outputs)) {
      return [...this.iface.decodeFunctionResult(f.fragment, data)];
    }
    const cursor = { at: 2 };
    return f.fragment.outputs.map((output) => decodeStatic(output, data, cursor));
  }

  /**
   * The event a log is and its arguments, as `iface.parseLog(log)` gives them (a Result by position and
   * by name: bigints, booleans, checksummed addresses, fixed bytes as hex); null when the interface
   * declares no event with the log's first topic.
   */
  parseLog(log: RawLog): { name: string; args: Result } | null {
    const ev = this.event(log.topics[0]);
    if (ev === undefined) return null;
    const { fragment } = ev;
    if (
      !ev.fast ||
      log.data.length < 2 + WORD_HEX * ev.dataWords ||
      log.topics.length < fragment.inputs.length - ev.dataWords + 1
    ) {
      return { name: fragment.name, args: this.iface.decodeEventLog(fragment, log.data, log.topics) };
    }
    let topic = 1;
    const data = { at: 2 };
    const values = fragment.inputs.map((p) =>
      p.indexed ? decodeStatic(p, log.topics[topic++]!, { at: 2 }) : decodeStatic(p, log.data, data),
    );
    return { name: fragment.name, args: Result.fromItems(values, ev.names) };
  }

  private event(topic: string | undefined): Ev | undefined {
    if (this.events === undefined) {
      const events = new Map<string, Ev>();
      this.iface.forEachEvent((fragment) => {
        if (fragment.anonymous) return;
        events.set(fragment.topicHash, {
          fragment,
          fast: fragment.inputs.every(
            (p) => FIXED_BYTES.test(p.baseType) || (p.baseType !== "tuple" && isStaticWords(p)),
          ),
          dataWords: fragment.inputs.filter((p) => !p.indexed).length,
          names: fragment.inputs.map((p) => p.name),
        });
      });
      this.events = events;
    }
    return topic === undefined ? undefined : this.events.get(topic.toLowerCase());
  }

  private fn(name: string): Fn {
    let f = this.fns.get(name);
    if (f === undefined) {
      const fragment = this.iface.getFunction(name);
      if (fragment === null) throw new Error(`no function ${name} in the ABI`);
      f = {
        fragment,
        selector: fragment.selector,
        staticInputs: fragment.inputs.every(isStaticWords),
        staticOutputs: fragment.outputs.every(isStaticWords),
      };
      this.fns.set(name, f);
    }
    return f;
  }
}

/** Integers, booleans, addresses and tuples of them: one word each, in place. */
function isStaticWords(p: ParamType): boolean {
  if (p.baseType === "tuple") return p.components!.every(isStaticWords);
  return p.baseType === "bool" || p.baseType === "address" || /^u?int\d*$/.test(p.baseType);
}

/** bytes1 to bytes32: left-aligned in their word. */
const FIXED_BYTES = /^bytes([1-9]|[12][0-9]|3[0-2])$/;

/** Each interface's FastAbi (FastAbi.of). */
const byInterface = new WeakMap<Interface, FastAbi>();

function wordCount(params: readonly ParamType[]): number {
  return params.reduce((n, p) => n + (p.baseType === "tuple" ? wordCount(p.components!) : 1), 0);
}

/** A non-negative integer as one ABI word, hex without 0x. */
export function uintWord(n: bigint | number): string {
  return n.toString(16).padStart(WORD_HEX, "0");
}

/** An address as one ABI word, hex without 0x. */
export function addressWord(address: string): string {
  return address.slice(2).toLowerCase().padStart(WORD_HEX, "0");
}

function encodeStatic(p: ParamType, value: unknown): string {
  if (p.baseType === "tuple") {
    const components = p.components!;
    const values = Array.isArray(value) ? value : components.map((c) => (value as Record<string, unknown>)[c.name]);
    return components.map((c, i) => encodeStatic(c, values[i])).join("");
  }
  if (p.baseType === "bool") return uintWord(value ? 1 : 0);
  if (p.baseType === "address") return addressWord(value as string);
  const n = BigInt(value as bigint | number);
  return uintWord(n < 0n ? n + TWO_256 : n);
}

function decodeStatic(p: ParamType, data: string, cursor: { at: number }): unknown {
  if (p.baseType === "tuple") {
    const out: Record<string, unknown> = {};
    for (const c of p.components!) out[c.name] = decodeStatic(c, data, cursor);
    return out;
  }
  const word = data.slice(cursor.at, cursor.at + WORD_HEX);
  cursor.at += WORD_HEX;
  if (p.baseType === "bool") return BigInt("0x" + word) !== 0n;
  if (p.baseType === "address") return getAddress("0x" + word.slice(24));
  const bytes = FIXED_BYTES.exec(p.baseType);
  if (bytes !== null) return "0x" + word.slice(0, Number(bytes[1]) * 2);
  const n = BigInt("0x" + word);
  return p.baseType.startsWith("int") && n >= TWO_256 >> 1n ? n - TWO_256 : n;
}
