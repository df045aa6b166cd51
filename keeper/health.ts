/**
 * Off-chain health: every tracked position's liquidation price, computed with the contracts' own math
 * (lib/math MarginMath.liquidationPrice on the margin net of pending funding), kept per market in a
 * HealthIndex so that a mark finds the crossed positions without looking at the healthy ones.
 *
 * A liquidation price depends on the position (size, entry, margin, funding snapshot), the market's
 * funding index and its tiers, and on nothing else: not on the mark. So a block recomputes only the
 * positions that changed, and all of one market's positions when its funding index (a boundary) or
 * its tiers moved. Everything here is pure computation; the caller brings the reads.
 */
import { MarginMath, PositionLib } from "../lib/math";
import type { Tier } from "../lib/math";
import type { PositionBook, TrackedPosition } from "./book";
import { HealthIndex } from "./health-index";
import type { MarketSnapshot } from "./markets";

/** The first mark at which `p` is liquidatable (see MarginMath.liquidationPrice). */
export function liquidationPriceOf(p: TrackedPosition, fundingIndex: bigint, tiers: readonly Tier[]): bigint {
  const netMargin = p.margin - PositionLib.pendingFunding(p.size, p.fundingSnapshot, fundingIndex);
  return MarginMath.liquidationPrice(tiers, p.size, p.entryPrice, netMargin);
}

/** What a market's liquidation prices were computed with. */
interface PriceBasis {
  fundingIndex: bigint;
  tiers: readonly Tier[];
}

export interface HealthUpdate {
  /** Positions whose liquidation price was (re)computed. */
  recomputed: number;
  /** Markets recomputed whole because their funding index or tiers moved. */
  marketsRecomputed: bigint[];
}

export class HealthTracker {
  private readonly indexes = new Map<bigint, HealthIndex>();
  private readonly bases = new Map<bigint, PriceBasis>();
  /** Which market each indexed position sits in, to remove it wherever it is. */
  private readonly marketOf = new Map<bigint, bigint>();

  /** Positions indexed. */
  get size(): number {
    return this.marketOf.size;
  }

  /**
   * Brings the index up to date with the book: recomputes the `changed` positions and every position
   * of a market whose funding index or tiers differ from the last update's. Positions on a market with
   * no snapshot wait for one.
   */
  update(book: PositionBook, changed: Iterable<bigint>, markets: ReadonlyMap<bigint, MarketSnapshot>): HealthUpdate {
    const marketsRecomputed: bigint[] = [];
    let recomputed = 0;
    for (const [marketId, snapshot] of markets) {
      const basis = this.bases.get(marketId);
      const fundingIndex = snapshot.projected.state.fundingIndex;
      if (basis !== undefined && basis.fundingIndex === fundingIndex && sameTiers(basis.tiers, snapshot.tiers))
        continue;
      this.bases.set(marketId, { fundingIndex, tiers: snapshot.tiers });
      if (basis === undefined && book.idsIn(marketId).length === 0) continue;
      marketsRecomputed.push(marketId);
      for (const id of book.idsIn(marketId)) {
        this.index(book.get(id)!, snapshot);
        recomputed++;
      }
    }
    const whole = new Set(marketsRecomputed);
    for (const id of changed) {
      const p = book.get(id);
      if (p === undefined) {
        this.remove(id);
        continue;
      }
      if (whole.has(p.marketId)) continue;
      const snapshot = markets.get(p.marketId);
      if (snapshot === undefined) continue;
      this.index(p, snapshot);
      recomputed++;
    }
    return { recomputed, marketsRecomputed };
  }

  /** The positions on `marketId` that `mark` has crossed, the deepest first. */
  candidates(marketId: bigint, mark: bigint): bigint[] {
    return this.indexes.get(marketId)?.candidates(mark) ?? [];
  }

  private index(p: TrackedPosition, snapshot: MarketSnapshot): void {
    const previous = this.marketOf.get(p.id);
    if (previous !== undefined && previous !== p.marketId) this.indexes.get(previous)?.remove(p.id);
    let index = this.indexes.get(p.marketId);
    if (index === undefined) this.indexes.set(p.marketId, (index = new HealthIndex()));
    const price = liquidationPriceOf(p, snapshot.projected.state.fundingIndex, snapshot.tiers);
    index.upsert(p.id, p.size > 0n ? "long" : "short", price);
    this.marketOf.set(p.id, p.marketId);
  }

  private remove(id: bigint): void {
    const marketId = this.marketOf.get(id);
    if (marketId === undefined) return;
    this.indexes.get(marketId)?.remove(id);
    this.marketOf.delete(id);
  }
}

function sameTiers(a: readonly Tier[], b: readonly Tier[]): boolean {
  return (
    a.length === b.length &&
    a.every(
      (t, i) =>
        t.notionalCap === b[i].notionalCap &&
        t.maintenanceAmount === b[i].maintenanceAmount &&
        t.mmr === b[i].mmr &&
        t.maxLeverage === b[i].maxLeverage,
    )
  );
}
