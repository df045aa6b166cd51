/**
 * A sorted list of unique items for 10^5-scale sets that change one item at a time: the items sit
 * in chunks of at most 2 * CHUNK items, each chunk sorted and every item of a chunk before every
 * item of the next. Finding an item is two binary searches (over the chunks' last items, then in
 * one chunk) and inserting or deleting one splices a single short chunk, so both cost
 * O(log n + CHUNK) instead of the O(n) of one flat sorted array. Walking from either end costs
 * O(1) per item.
 */

const CHUNK = 512;

/** Index of the first item in `items` that is not below `item`, by `compare`. */
function lowerBound<T>(items: readonly T[], item: T, compare: (a: T, b: T) => number): number {
  let low = 0;
  let high = items.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compare(items[middle], item) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

export class SortedList<T> {
  readonly #compare: (a: T, b: T) => number;
  readonly #chunks: T[][] = [];
  /** The last (largest) item of each chunk, to find a chunk by binary search. */
  readonly #lasts: T[] = [];
  #size = 0;

  /** `compare` must be a total order in which no two items of the list are equal. */
  constructor(compare: (a: T, b: T) => number) {
    this.#compare = compare;
  }

  get size(): number {
    return this.#size;
  }

  /** Adds `item`; returns false (and changes nothing) if an equal item is already in the list. */
  insert(item: T): boolean {
    if (this.#chunks.length === 0) {
      this.#chunks.push([item]);
      this.#lasts.push(item);
      this.#size = 1;
      return true;
    }
    const c = Math.min(lowerBound(this.#lasts, item, this.#compare), this.#chunks.length - 1);
    const chunk = this.#chunks[c];
    const i = lowerBound(chunk, item, this.#compare);
    if (i < chunk.length && this.#compare(chunk[i], item) === 0) return false;
    chunk.splice(i, 0, item);
    this.#lasts[c] = chunk[chunk.length - 1];
    this.#size += 1;
    if (chunk.length > 2 * CHUNK) {
      const upper = chunk.splice(CHUNK);
      this.#chunks.splice(c + 1, 0, upper);
      this.#lasts.splice(c, 1, chunk[chunk.length - 1], upper[upper.length - 1]);
    }
    return true;
  }

  /** Removes the item equal to `item`; returns false if there is none. */
  delete(item: T): boolean {
    const c = lowerBound(this.#lasts, item, this.#compare);
    if (c === this.#chunks.length) return false;
    const chunk = this.#chunks[c];
    const i = lowerBound(chunk, item, this.#compare);
    if (i === chunk.length || this.#compare(chunk[i], item) !== 0) return false;
    chunk.splice(i, 1);
    this.#size -= 1;
    if (chunk.length === 0) {
      this.#chunks.splice(c, 1);
      this.#lasts.splice(c, 1);
    } else {
      this.#lasts[c] = chunk[chunk.length - 1];
    }
    return true;
  }

  /** Calls `visit` on items from the smallest up, until it returns false. */
  walkUp(visit: (item: T) => boolean): void {
    for (const chunk of this.#chunks) {
      for (const item of chunk) if (!visit(item)) return;
    }
  }

  /** Calls `visit` on items from the largest down, until it returns false. */
  walkDown(visit: (item: T) => boolean): void {
    for (let c = this.#chunks.length - 1; c >= 0; c--) {
      const chunk = this.#chunks[c];
      for (let i = chunk.length - 1; i >= 0; i--) if (!visit(chunk[i])) return;
    }
  }
}
