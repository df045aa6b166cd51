/**
 * One market's open positions ordered by liquidation price, so that a mark update finds the
 * liquidatable ones without looking at the healthy ones.
 *
 * A long is liquidatable when mark <= its liquidation price, a short when mark >= its liquidation
 * price (prices are WAD bigints). Longs and shorts sit in two lists sorted by (price, id): the
 * crossed longs are the top of the long list and the crossed shorts the bottom of the short list,
 * so `candidates(mark)` walks in from the two ends and stops at the first healthy position:
 * O(k) for k candidates, whatever the number of healthy ones. Upsert and remove cost
 * O(log n + chunk) (see SortedList).
 *
 * The caller recomputes a position's liquidation price (with the contracts' math) whenever
 * something it depends on changes (a trade, margin, funding at a boundary, its tier) and upserts it.
 */
import { SortedList } from "./sorted-list";

export type Side = "long" | "short";

interface Entry {
  id: bigint;
  side: Side;
  liquidationPrice: bigint;
}

function byPriceThenId(a: Entry, b: Entry): number {
  if (a.liquidationPrice !== b.liquidationPrice) return a.liquidationPrice < b.liquidationPrice ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return 0;
}

export class HealthIndex {
  readonly #entries = new Map<bigint, Entry>();
  readonly #lists: Record<Side, SortedList<Entry>> = {
    long: new SortedList(byPriceThenId),
    short: new SortedList(byPriceThenId),
  };

  get size(): number {
    return this.#entries.size;
  }

  /** Adds a position or moves it to its new side and liquidation price. */
  upsert(id: bigint, side: Side, liquidationPrice: bigint): void {
    const old = this.#entries.get(id);
    if (old !== undefined) {
      if (old.side === side && old.liquidationPrice === liquidationPrice) return;
      this.#lists[old.side].delete(old);
    }
    const entry: Entry = { id, side, liquidationPrice };
    this.#entries.set(id, entry);
    this.#lists[side].insert(entry);
  }

  /** Forgets a position; returns false if it was not tracked. */
  remove(id: bigint): boolean {
    const entry = this.#entries.get(id);
    if (entry === undefined) return false;
    this.#entries.delete(id);
    return this.#lists[entry.side].delete(entry);
  }

  /**
   * The ids of the positions whose liquidation price `mark` has crossed, the deepest first (the
   * largest distance between mark and liquidation price), so that a capped batch takes the
   * positions nearest to bad debt.
   */
  candidates(mark: bigint): bigint[] {
    const longs: Entry[] = [];
    this.#lists.long.walkDown((entry) => entry.liquidationPrice >= mark && longs.push(entry) > 0);
    const shorts: Entry[] = [];
    this.#lists.short.walkUp((entry) => entry.liquidationPrice <= mark && shorts.push(entry) > 0);
    return mergeByDepth(longs, shorts, mark);
  }
}

/**
 * Merges the crossed longs (highest price first) and shorts (lowest first) by how far the mark is
 * past each one's price, deepest first; on equal depth, the long first.
 */
function mergeByDepth(longs: readonly Entry[], shorts: readonly Entry[], mark: bigint): bigint[] {
  const ids: bigint[] = [];
  let i = 0;
  let j = 0;
  while (i < longs.length && j < shorts.length) {
    const longDepth = longs[i].liquidationPrice - mark;
    const shortDepth = mark - shorts[j].liquidationPrice;
    ids.push(longDepth >= shortDepth ? longs[i++].id : shorts[j++].id);
  }
  while (i < longs.length) ids.push(longs[i++].id);
  while (j < shorts.length) ids.push(shorts[j++].id);
  return ids;
}
