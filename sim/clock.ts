/**
 * A deterministic block clock for the in-process network. Hardhat stamps a new block with the wall
 * clock plus an offset, so two runs of one scenario would see slightly different timestamps (and so
 * different funding and EMA values). While installed, every transaction or mined block is stamped
 * from this clock instead: the step's start, then one second per block.
 */
type Send = (method: string, params?: unknown[]) => Promise<unknown>;

const MINING_METHODS = new Set(["eth_sendTransaction", "eth_sendRawTransaction", "evm_mine"]);

export class BlockClock {
  private next: number;
  private readonly original: Send;

  constructor(
    private readonly provider: { send: Send },
    start: number,
  ) {
    this.next = start;
    this.original = provider.send.bind(provider);
  }

  install(): void {
    this.provider.send = async (method, params) => {
      if (MINING_METHODS.has(method)) {
        await this.original("evm_setNextBlockTimestamp", [this.next]);
        this.next += 1;
      } else if (method === "hardhat_mine") {
        await this.original("evm_setNextBlockTimestamp", [this.next]);
        const [blocks = "0x1", interval = "0x1"] = (params ?? []) as string[];
        this.next += Number(BigInt(blocks)) * Number(BigInt(interval));
      }
      return this.original(method, params);
    };
  }

  uninstall(): void {
    this.provider.send = this.original;
  }

  /** Moves the clock forward to `timestamp` (never back). */
  advanceTo(timestamp: number): void {
    if (timestamp > this.next) this.next = timestamp;
  }
}
