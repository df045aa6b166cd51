import { expect } from "chai";
import { toWad } from "../../sim/decimal";
import { Random } from "../../sim/random";

const draws = (random: Random, n: number) => Array.from({ length: n }, () => random.nextUint32());

describe("seeded random", () => {
  it("matches the xoshiro128** reference output for state [1, 2, 3, 4]", () => {
    const reference = [
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804,
    ];
    expect(draws(Random.fromState([1, 2, 3, 4]), 10)).to.deep.equal(reference);
  });

  it("seeds the state with splitmix64 (seed 0 gives 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4)", () => {
    const expected = Random.fromState([0x7b1dcdaf, 0xe220a839, 0xa1b965f4, 0x6e789e6a]);
    expect(draws(Random.fromSeed(0), 8)).to.deep.equal(draws(expected, 8));
  });

  it("gives the same draws for the same seed, and different draws for another", () => {
    expect(draws(Random.fromSeed(7), 100)).to.deep.equal(draws(Random.fromSeed(7n), 100));
    expect(draws(Random.fromSeed(7), 100)).not.to.deep.equal(draws(Random.fromSeed(8), 100));
  });

  it("refuses seeds that are not integers in [0, 2^64)", () => {
    for (const seed of [-1, 1.5, Number.NaN, 2n ** 64n])
      expect(() => Random.fromSeed(seed), String(seed)).to.throw(RangeError);
  });

  it("forks streams by label, independent of the parent's draws so far", () => {
    const fresh = Random.fromSeed(7);
    const used = Random.fromSeed(7);
    draws(used, 50);
    expect(draws(used.fork("retail-0"), 20)).to.deep.equal(draws(fresh.fork("retail-0"), 20));
    expect(draws(fresh.fork("retail-0"), 20)).not.to.deep.equal(draws(fresh.fork("retail-1"), 20));
    expect(draws(Random.fromSeed(8).fork("retail-0"), 20)).not.to.deep.equal(draws(fresh.fork("retail-0"), 20));
  });

  it("draws integers across the whole inclusive range and nowhere else", () => {
    const random = Random.fromSeed(1);
    const seen = new Set<number>();
    for (let i = 0; i < 2_000; i++) seen.add(random.int(-3, 3));
    expect([...seen].sort((a, b) => a - b)).to.deep.equal([-3, -2, -1, 0, 1, 2, 3]);
    expect(random.int(5, 5)).to.equal(5);
    const wide = random.int(0, 2 ** 40);
    expect(wide >= 0 && wide <= 2 ** 40).to.equal(true);
  });

  it("draws floats in [min, max)", () => {
    const random = Random.fromSeed(2);
    for (let i = 0; i < 1_000; i++) {
      const x = random.uniform(-1, 2);
      expect(x >= -1 && x < 2).to.equal(true);
    }
  });

  it("draws bigints below a bound larger than 64 bits", () => {
    const random = Random.fromSeed(3);
    const bound = 10n ** 30n + 7n;
    for (let i = 0; i < 200; i++) {
      const x = random.bigintBelow(bound);
      expect(x >= 0n && x < bound).to.equal(true);
    }
  });

  it("draws margins in whole cents between $100 and $1,000", () => {
    const random = Random.fromSeed(4);
    const cent = toWad("0.01");
    for (let i = 0; i < 500; i++) {
      const margin = random.uniformWad(toWad(100), toWad(1000), cent);
      expect(margin >= toWad(100) && margin <= toWad(1000)).to.equal(true);
      expect(margin % cent).to.equal(0n);
    }
    expect(Random.fromSeed(4).uniformWad(toWad(250), toWad(250), cent)).to.equal(toWad(250));
  });

  it("reaches both ends of a WAD range", () => {
    const random = Random.fromSeed(5);
    const values = new Set(Array.from({ length: 200 }, () => random.uniformWad(toWad(2), toWad(4), toWad(1))));
    expect([...values].sort()).to.deep.equal([toWad(2), toWad(3), toWad(4)]);
  });

  it("shuffles into a permutation, deterministically, without touching the input", () => {
    const items = Array.from({ length: 40 }, (_, i) => i);
    const shuffled = Random.fromSeed(6).shuffle(items);
    expect(items).to.deep.equal(Array.from({ length: 40 }, (_, i) => i));
    expect([...shuffled].sort((a, b) => a - b)).to.deep.equal(items);
    expect(shuffled).not.to.deep.equal(items);
    expect(Random.fromSeed(6).shuffle(items)).to.deep.equal(shuffled);
  });

  it("picks each element of a list", () => {
    const random = Random.fromSeed(9);
    const picked = new Set(Array.from({ length: 300 }, () => random.pick(["a", "b", "c"])));
    expect([...picked].sort()).to.deep.equal(["a", "b", "c"]);
    expect(() => random.pick([])).to.throw(RangeError);
  });
});
