/**
 * Several keepers can split the positions: `--shard i/n` makes a keeper liquidate the positions whose
 * id is i modulo n (an id's low 160 bits are its owner's address, a hash, so shards are even). So that a dead keeper's shard is still
 * covered, each keeper also takes a position of another shard that has stayed liquidatable for
 * `takeoverBlocks` blocks since it first saw it so: its owner had that long to act. Pure functions;
 * the keeper keeps the map of when it first saw each one.
 */
export interface Shard {
  /** 0-based, below count */
  index: number;
  count: number;
}

export const SINGLE_SHARD: Shard = { index: 0, count: 1 };

export function ownsPosition(id: bigint, shard: Shard): boolean {
  return shard.count <= 1 || Number(id % BigInt(shard.count)) === shard.index;
}

export interface TakeoverSplit {
  /** This keeper's shard. */
  own: bigint[];
  /** Other shards', liquidatable for takeoverBlocks blocks or more. */
  takeover: bigint[];
  /** Other shards', not yet due. */
  waiting: bigint[];
}

/**
 * Splits liquidatable `ids` (seen at `block`) by who should send them. `since` holds the block each
 * foreign id was first seen liquidatable; ids seen now for the first time are added to it.
 */
export function takeoverSplit(
  ids: readonly bigint[],
  shard: Shard,
  since: Map<bigint, number>,
  block: number,
  takeoverBlocks: number,
): TakeoverSplit {
  const split: TakeoverSplit = { own: [], takeover: [], waiting: [] };
  for (const id of ids) {
    if (ownsPosition(id, shard)) {
      split.own.push(id);
      continue;
    }
    const first = since.get(id) ?? block;
    since.set(id, first);
    (block - first >= takeoverBlocks ? split.takeover : split.waiting).push(id);
  }
  return split;
}
