/**
 * The keeper's picture of open positions, rebuilt from the engine's PositionUpdated events alone
 * (every change emits the position's full state; size 0 means closed).
 */
export interface TrackedPosition {
  id: bigint;
  owner: string;
  marketId: bigint;
  /** signed base units (WAD): > 0 long, < 0 short */
  size: bigint;
  entryPrice: bigint;
  margin: bigint;
  fundingSnapshot: bigint;
  /** block of the last change */
  block: number;
}

export class PositionBook {
  private readonly positions = new Map<bigint, TrackedPosition>();

  /** Applies one PositionUpdated; events must arrive in chain order. */
  apply(p: TrackedPosition): void {
    if (p.size === 0n) this.positions.delete(p.id);
    else this.positions.set(p.id, p);
  }

  get size(): number {
    return this.positions.size;
  }

  get(id: bigint): TrackedPosition | undefined {
    return this.positions.get(id);
  }

  open(): TrackedPosition[] {
    return [...this.positions.values()];
  }

  ids(): bigint[] {
    return [...this.positions.keys()];
  }
}
