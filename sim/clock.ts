/**
 * A deterministic block clock for the in-process network. Hardhat stamps a new block with the wall
 * clock plus an offset, so two runs of one scenario would see slightly different timestamps (and so
 * different funding and EMA values). While installed, every transaction or mined block is stamped
 * from this clock instead: the step's start, then one second per block.
 *
 * Mining calls go through one queue, each with its own timestamp set just before it, so callers may
 * send several transactions without waiting for each: they are mined in the order they were sent.
 *
 * `mineBlock` packs several transactions into one block (automine off, the transactions sent one after
 * another so the node's pool holds them in that order, one evm_mine): the block takes one second of
 * the clock whatever it holds.
 *
 * `owe` stands empty blocks between what was mined last and the next transaction (a keeper's latency):
 * their seconds pass at once, but they are mined only when something is mined after them before
 * `dropOwed`. A latency after which nothing is sent costs no block: the chain is the same but for the
 * numbers of the blocks after it.
 */
type Send = (method: string, params?: unknown[]) => Promise<unknown>;

/** Where a clock stands: the next block's timestamp and the blocks mined through it. */
export interface ClockState {
  next: number;
  mined: number;
}

const MINING_METHODS = new Set(["eth_sendTransaction", "eth_sendRawTransaction", "evm_mine"]);

export class BlockClock {
  private next: number;
  private readonly original: Send;
  private queue: Promise<unknown> = Promise.resolve();
  /** Blocks mined through this clock since it was installed. */
  private mined = 0;
  /** Empty blocks owed (`owe`): their seconds are counted in `next`, the blocks not mined yet. */
  private owed = 0;

  constructor(
    private readonly provider: { send: Send },
    start: number,
  ) {
    this.next = start;
    this.original = provider.send.bind(provider);
  }

  install(): void {
    this.provider.send = (method, params) => {
      if (!MINING_METHODS.has(method) && method !== "hardhat_mine") return this.original(method, params);
      const mined = this.queue.then(() => this.mine(method, params));
      // The caller gets the call's own outcome (a revert included); the queue only waits for it to end.
      this.queue = mined.then(
        () => undefined,
        () => undefined,
      );
      return mined;
    };
  }

  uninstall(): void {
    this.provider.send = this.original;
  }

  /**
   * Sends `txs` (eth_sendTransaction parameter objects) into one block, in this order, and mines it at
   * the clock's next second; returns their hashes. The node must order its pool first come, first served
   * (anvil --order fifo; Hardhat's pool does for equal fees).
   */
  mineBlock(txs: readonly object[]): Promise<string[]> {
    const mined = this.queue.then(() => this.pack(txs));
    this.queue = mined.then(
      () => undefined,
      () => undefined,
    );
    return mined;
  }

  /** Where the clock stands, to resume from after the chain is reverted to this point. */
  state(): ClockState {
    return { next: this.next, mined: this.mined };
  }

  /** Stands the clock where `state` was taken (the chain reverted to that point). */
  resume(state: ClockState): void {
    this.next = state.next;
    this.mined = state.mined;
  }

  /** Moves the clock forward to `timestamp` (never back). */
  advanceTo(timestamp: number): void {
    if (timestamp > this.next) this.next = timestamp;
  }

  /**
   * `blocks` empty blocks, one second each, before the next block that holds anything: the clock stands
   * after them at once (peek), the node mines them just before that block, or never if `dropOwed` comes first.
   */
  owe(blocks: number): void {
    this.owed += blocks;
    this.next += blocks;
  }

  /** Forgets the owed blocks not mined: nothing was mined after them. Their seconds stay passed. */
  dropOwed(): void {
    this.owed = 0;
  }

  /** Blocks mined through this clock since it was installed (each send, evm_mine, hardhat_mine's count). */
  get blocksMined(): number {
    return this.mined;
  }

  /** The timestamp the next block will carry, seconds. */
  peek(): number {
    return this.next;
  }

  /** Mines the owed empty blocks, at the seconds they stand for. */
  private async mineOwed(): Promise<void> {
    const blocks = this.owed;
    if (blocks === 0) return;
    this.owed = 0;
    await this.original("evm_setNextBlockTimestamp", [this.next - blocks]);
    await this.original("hardhat_mine", ["0x" + blocks.toString(16), "0x1"]);
    this.mined += blocks;
  }

  private async pack(txs: readonly object[]): Promise<string[]> {
    await this.mineOwed();
    const ordered = (this.provider as { ordersConcurrentSends?: boolean }).ordersConcurrentSends === true;
    await this.original("evm_setAutomine", [false]);
    try {
      return ordered ? await this.packAtOnce(txs) : await this.packInTurn(txs);
    } finally {
      await this.original("evm_setAutomine", [true]);
    }
  }

  /**
   * The block's sends and its evm_mine requested in one turn: the provider writes them as one batch,
   * which the node runs in its order (sends first, then the mine).
   */
  private async packAtOnce(txs: readonly object[]): Promise<string[]> {
    const sent = Promise.all(txs.map((tx) => this.original("eth_sendTransaction", [tx]) as Promise<string>));
    const stamped = this.original("evm_setNextBlockTimestamp", [this.next]);
    const mined = this.original("evm_mine", []);
    this.next += 1;
    this.mined += 1;
    const [hashes] = await Promise.all([sent, stamped, mined]);
    return hashes;
  }

  /** The block's sends one after another (the pool keeps the order they arrive in), then its evm_mine. */
  private async packInTurn(txs: readonly object[]): Promise<string[]> {
    const hashes: string[] = [];
    try {
      for (const tx of txs) hashes.push((await this.original("eth_sendTransaction", [tx])) as string);
    } finally {
      await this.original("evm_setNextBlockTimestamp", [this.next]);
      this.next += 1;
      await this.original("evm_mine", []);
      this.mined += 1;
    }
    return hashes;
  }

  private async mine(method: string, params: unknown[] | undefined): Promise<unknown> {
    await this.mineOwed();
    await this.original("evm_setNextBlockTimestamp", [this.next]);
    let blocks = 1;
    if (method === "hardhat_mine") {
      const [count = "0x1", interval = "0x1"] = (params ?? []) as string[];
      blocks = Number(BigInt(count));
      this.next += blocks * Number(BigInt(interval));
    } else {
      this.next += 1;
    }
    try {
      return await this.original(method, params);
    } finally {
      // A reverted transaction is mined too (automine); a call refused before execution is not, but
      // the simulator sends none of those (fixed gas, funded accounts).
      this.mined += blocks;
    }
  }
}
