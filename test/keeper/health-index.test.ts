import { expect } from "chai";
import fc from "fast-check";
import { HealthIndex } from "../../keeper/health-index";
import type { Side } from "../../keeper/health-index";

const WAD = 10n ** 18n;
const usd = (dollars: number) => BigInt(dollars) * WAD;

describe("HealthIndex", () => {
  it("finds a long once the mark falls to its liquidation price, not before", () => {
    const index = new HealthIndex();
    index.upsert(1n, "long", usd(90));
    expect(index.candidates(usd(90) + 1n)).to.deep.equal([]);
    expect(index.candidates(usd(90))).to.deep.equal([1n]);
    expect(index.candidates(usd(80))).to.deep.equal([1n]);
  });

  it("finds a short once the mark rises to its liquidation price, not before", () => {
    // A 10x short from 100 with 0.5% maintenance: (100 + 10) / 1.005 = 109.45...
    const liquidationPrice = (usd(110) * 1_000n) / 1_005n;
    const index = new HealthIndex();
    index.upsert(2n, "short", liquidationPrice);
    expect(index.candidates(liquidationPrice - 1n)).to.deep.equal([]);
    expect(index.candidates(liquidationPrice)).to.deep.equal([2n]);
    expect(index.candidates(usd(120))).to.deep.equal([2n]);
  });

  it("returns the deepest crossings first, longs and shorts merged", () => {
    const index = new HealthIndex();
    index.upsert(1n, "long", usd(101)); // 1 past at mark 100
    index.upsert(2n, "long", usd(110)); // 10 past
    index.upsert(3n, "short", usd(95)); // 5 past
    index.upsert(4n, "short", usd(99)); // 1 past
    index.upsert(5n, "long", usd(99)); // healthy
    index.upsert(6n, "short", usd(101)); // healthy
    expect(index.candidates(usd(100))).to.deep.equal([2n, 3n, 1n, 4n]);
  });

  it("moves a position when its liquidation price or side changes", () => {
    const index = new HealthIndex();
    index.upsert(1n, "long", usd(90));
    index.upsert(1n, "long", usd(80)); // margin added
    expect(index.candidates(usd(85))).to.deep.equal([]);
    index.upsert(1n, "short", usd(120)); // flipped
    expect(index.size).to.equal(1);
    expect(index.candidates(usd(70))).to.deep.equal([]);
    expect(index.candidates(usd(120))).to.deep.equal([1n]);
  });

  it("forgets removed positions", () => {
    const index = new HealthIndex();
    index.upsert(1n, "long", usd(90));
    index.upsert(2n, "long", usd(90));
    expect(index.remove(1n)).to.equal(true);
    expect(index.remove(1n)).to.equal(false);
    expect(index.size).to.equal(1);
    expect(index.candidates(usd(50))).to.deep.equal([2n]);
  });

  it("keeps positions with equal liquidation prices apart by id", () => {
    const index = new HealthIndex();
    for (const id of [3n, 1n, 2n]) index.upsert(id, "short", usd(100));
    index.remove(1n);
    expect(index.candidates(usd(100))).to.deep.equal([2n, 3n]);
  });

  it("never names a long whose liquidation price is 0 (it cannot be liquidated)", () => {
    const index = new HealthIndex();
    index.upsert(1n, "long", 0n);
    expect(index.candidates(1n)).to.deep.equal([]);
  });

  it("returns exactly the positions a full scan would find (property)", () => {
    const position = fc.record({
      id: fc.bigInt({ min: 0n, max: 200n }),
      side: fc.constantFrom<Side>("long", "short"),
      price: fc.bigInt({ min: usd(50), max: usd(150) }),
      remove: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(position, { maxLength: 600 }),
        fc.bigInt({ min: usd(40), max: usd(160) }),
        (operations, mark) => {
          const index = new HealthIndex();
          const model = new Map<bigint, { side: Side; price: bigint }>();
          for (const { id, side, price, remove } of operations) {
            if (remove) {
              index.remove(id);
              model.delete(id);
            } else {
              index.upsert(id, side, price);
              model.set(id, { side, price });
            }
          }
          const crossed = [...model].filter(([, p]) => (p.side === "long" ? mark <= p.price : mark >= p.price));
          const depth = ([, p]: [bigint, { side: Side; price: bigint }]) =>
            p.side === "long" ? p.price - mark : mark - p.price;
          const candidates = index.candidates(mark);
          expect(index.size).to.equal(model.size);
          expect([...candidates].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).to.deep.equal(
            crossed.map(([id]) => id).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
          );
          const depths = candidates.map((id) => depth([id, model.get(id) ?? { side: "long", price: 0n }]));
          for (let i = 1; i < depths.length; i++) expect(depths[i - 1] >= depths[i], "deepest first").to.equal(true);
        },
      ),
      { numRuns: 200 },
    );
  });
});
