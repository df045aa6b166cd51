/**
 * Seeded pseudo-random numbers for the agents' plans.
 *
 * xoshiro128** (four 32-bit words of state, so all arithmetic stays in exact 32-bit integer ops),
 * its state filled by splitmix64 from the scenario seed. The same seed gives the same draws on every
 * machine; nothing reads a clock or Math.random. Money is drawn as bigint (`uniformWad`), never as a
 * float scaled up. `fork(label)` gives each agent its own stream, so adding one agent does not
 * change the draws of the others.
 */

const MASK64 = (1n << 64n) - 1n;
const TWO_POW_32 = 0x1_0000_0000;
const TWO_POW_53 = 2 ** 53;
const TWO_POW_26 = 2 ** 26;
const FNV_OFFSET_64 = 0xcbf29ce484222325n;
const FNV_PRIME_64 = 0x100000001b3n;

type State = [number, number, number, number];

/** splitmix64: one step of the seeding generator; returns the output and the next state. */
function splitmix64(state: bigint): [output: bigint, next: bigint] {
  const next = (state + 0x9e3779b97f4a7c15n) & MASK64;
  let z = next;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return [z ^ (z >> 31n), next];
}

/** FNV-1a over the UTF-8 bytes of a label: a stable 64-bit name for a forked stream. */
function fnv1a64(label: string): bigint {
  let hash = FNV_OFFSET_64;
  for (const byte of new TextEncoder().encode(label)) hash = ((hash ^ BigInt(byte)) * FNV_PRIME_64) & MASK64;
  return hash;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

function toSeed(seed: number | bigint): bigint {
  const value = typeof seed === "number" ? (Number.isSafeInteger(seed) ? BigInt(seed) : -1n) : seed;
  if (value < 0n || value > MASK64) throw new RangeError(`seed must be an integer in [0, 2^64), got ${seed}`);
  return value;
}

export class Random {
  private constructor(
    private readonly seed: bigint,
    private readonly state: State,
  ) {}

  /** A generator whose state is splitmix64(seed), as xoshiro's authors recommend. */
  static fromSeed(seed: number | bigint): Random {
    const value = toSeed(seed);
    const [first, afterFirst] = splitmix64(value);
    const [second] = splitmix64(afterFirst);
    const words: State = [
      Number(first & 0xffffffffn),
      Number(first >> 32n),
      Number(second & 0xffffffffn),
      Number(second >> 32n),
    ];
    return new Random(value, words);
  }

  /** A generator from raw xoshiro128** state (not all zero), for reference vectors; its forks derive from seed 0. */
  static fromState(words: readonly [number, number, number, number]): Random {
    if (words.every((word) => word === 0)) throw new RangeError("xoshiro128** state must not be all zero");
    return new Random(0n, words.map((word) => word >>> 0) as State);
  }

  /** An independent stream named by label; depends only on this generator's seed, not on its draws. */
  fork(label: string): Random {
    const [derived] = splitmix64(this.seed ^ fnv1a64(label));
    return Random.fromSeed(derived);
  }

  /** The next 32 random bits, as an unsigned integer. */
  nextUint32(): number {
    const s = this.state;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] = (s[2] ^ s[0]) >>> 0;
    s[3] = (s[3] ^ s[1]) >>> 0;
    s[1] = (s[1] ^ s[2]) >>> 0;
    s[0] = (s[0] ^ s[3]) >>> 0;
    s[2] = (s[2] ^ t) >>> 0;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A float in [0, 1) with 53 random bits. For shapes and noise, not for money. */
  float(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * TWO_POW_26 + low) / TWO_POW_53;
  }

  /** A float in [min, max). */
  uniform(min: number, max: number): number {
    if (!(min <= max)) throw new RangeError(`uniform: min (${min}) must be <= max (${max})`);
    return min + (max - min) * this.float();
  }

  /** An integer in [min, max], both inclusive, without modulo bias. */
  int(min: number, max: number): number {
    if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) {
      throw new RangeError(`int: need safe integers with min <= max, got ${min} and ${max}`);
    }
    const span = max - min + 1;
    if (span > TWO_POW_32) return min + Number(this.bigintBelow(BigInt(span)));
    const limit = TWO_POW_32 - (TWO_POW_32 % span);
    let draw = this.nextUint32();
    while (draw >= limit) draw = this.nextUint32();
    return min + (draw % span);
  }

  /** A bigint in [0, bound), by rejection on the fewest whole bits that cover the bound. */
  bigintBelow(bound: bigint): bigint {
    if (bound <= 0n) throw new RangeError(`bigintBelow: bound must be > 0, got ${bound}`);
    const bits = BigInt((bound - 1n).toString(2).length);
    const mask = (1n << bits) - 1n;
    for (;;) {
      let draw = 0n;
      for (let filled = 0n; filled < bits; filled += 32n) draw = (draw << 32n) | BigInt(this.nextUint32());
      draw &= mask;
      if (draw < bound) return draw;
    }
  }

  /**
   * A WAD (or any bigint) drawn uniformly from {min, min + step, ...} up to max, e.g. a margin in
   * whole cents: uniformWad(toWad(100), toWad(1000), toWad("0.01")).
   */
  uniformWad(min: bigint, max: bigint, step = 1n): bigint {
    if (step <= 0n) throw new RangeError(`uniformWad: step must be > 0, got ${step}`);
    if (min > max) throw new RangeError(`uniformWad: min (${min}) must be <= max (${max})`);
    return min + this.bigintBelow((max - min) / step + 1n) * step;
  }

  /** One element, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick: no items");
    return items[this.int(0, items.length - 1)]!;
  }

  /** A shuffled copy (Fisher-Yates); the input is left as it was. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }
}
