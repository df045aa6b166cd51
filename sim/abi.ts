/**
 * Calldata and return data of the simulator's hot calls, without ethers' per-call work. ethers v6
 * computes a function's selector (a keccak of its signature, in JavaScript) on every encode, and
 * decodes through coder objects into a Result; for a run's thousands of reads and sends that was about
 * a third of the simulator's own CPU time (a CPU profile of squeeze-thin on anvil). Here each function's
 * selector and types are looked up once; arguments and results made of static words (integers,
 * booleans, addresses, tuples of them) are written and read 32 bytes at a time. Anything else goes
 * through ethers as before.
 */
import { getAddress, type FunctionFragment, type Interface, type ParamType } from "ethers";

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

export class FastAbi {
  private readonly fns = new Map<string, Fn>();

  constructor(readonly iface: Interface) {}

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
  const n = BigInt("0x" + word);
  return p.baseType.startsWith("int") && n >= TWO_256 >> 1n ? n - TWO_256 : n;
}
