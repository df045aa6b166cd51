import { expect } from "chai";
import fc from "fast-check";
import { SortedList } from "../../keeper/sorted-list";

const byValue = (a: number, b: number) => a - b;

function contents(list: SortedList<number>, direction: "up" | "down" = "up"): number[] {
  const items: number[] = [];
  const visit = (item: number) => items.push(item) > 0;
  if (direction === "up") list.walkUp(visit);
  else list.walkDown(visit);
  return items;
}

describe("SortedList", () => {
  it("keeps items sorted whatever the order they arrive in, and refuses duplicates", () => {
    const list = new SortedList(byValue);
    for (const item of [5, 1, 9, 3, 7]) expect(list.insert(item)).to.equal(true);
    expect(list.insert(3)).to.equal(false);
    expect(list.size).to.equal(5);
    expect(contents(list)).to.deep.equal([1, 3, 5, 7, 9]);
    expect(contents(list, "down")).to.deep.equal([9, 7, 5, 3, 1]);
  });

  it("deletes only items it holds", () => {
    const list = new SortedList(byValue);
    for (const item of [1, 2, 3]) list.insert(item);
    expect(list.delete(2)).to.equal(true);
    expect(list.delete(2)).to.equal(false);
    expect(list.delete(10)).to.equal(false);
    expect(contents(list)).to.deep.equal([1, 3]);
    expect(list.size).to.equal(2);
  });

  it("stops a walk when the visitor returns false", () => {
    const list = new SortedList(byValue);
    for (let i = 0; i < 3_000; i++) list.insert(i);
    const seen: number[] = [];
    list.walkDown((item) => item >= 2_995 && seen.push(item) > 0);
    expect(seen).to.deep.equal([2_999, 2_998, 2_997, 2_996, 2_995]);
  });

  it("stays sorted across chunk splits and emptied chunks (5,000 items in, most out)", () => {
    const list = new SortedList(byValue);
    const items = Array.from({ length: 5_000 }, (_, i) => (i * 7_919) % 5_000);
    for (const item of items) list.insert(item);
    expect(contents(list)).to.deep.equal([...items].sort(byValue));
    for (const item of items.slice(0, 4_900)) expect(list.delete(item)).to.equal(true);
    expect(contents(list)).to.deep.equal(items.slice(4_900).sort(byValue));
    expect(list.size).to.equal(100);
  });

  it("matches a sorted array under any sequence of inserts and deletes (property)", () => {
    const operation = fc.record({ insert: fc.boolean(), item: fc.integer({ min: 0, max: 3_000 }) });
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 4_000 }), (operations) => {
        const list = new SortedList(byValue);
        const model = new Set<number>();
        for (const { insert, item } of operations) {
          if (insert) expect(list.insert(item)).to.equal(!model.has(item));
          else expect(list.delete(item)).to.equal(model.has(item));
          if (insert) model.add(item);
          else model.delete(item);
        }
        expect(list.size).to.equal(model.size);
        expect(contents(list)).to.deep.equal([...model].sort(byValue));
      }),
      { numRuns: 60 },
    );
  });
});
