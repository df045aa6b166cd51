/**
 * The keeper's nonces, kept locally so that sending a batch costs no nonce round trip: the first
 * `next()` reads the account's 'pending' transaction count, every later one increments it.
 *
 * The local count is only a belief. When the node refuses a nonce, when a broadcast fails (the
 * nonce it took may be unused, leaving a gap) or when the RPC was down (a transaction may or may
 * not have landed), the sender calls `invalidate()`, and the next `next()` reads the chain again.
 */
import type { BlockTag } from "ethers";

/** What the manager needs of a signer; an ethers v6 Wallet or Signer has it. */
export interface NonceSource {
  getNonce(blockTag?: BlockTag): Promise<number>;
}

export class NonceManager {
  readonly #source: NonceSource;
  #next: number | undefined;
  #sync: Promise<void> | undefined;
  /** Bumped by invalidate(), so a read started before it cannot overwrite what comes after. */
  #generation = 0;

  constructor(source: NonceSource) {
    this.#source = source;
  }

  /** The next unused nonce; reads the chain only on the first call and after invalidate(). */
  async next(): Promise<number> {
    for (;;) {
      const local = this.#next;
      if (local !== undefined) {
        this.#next = local + 1;
        return local;
      }
      this.#sync ??= this.#read(this.#generation);
      await this.#sync;
    }
  }

  /** Forgets the local count; the next call to next() reads 'pending' from the chain. */
  invalidate(): void {
    this.#generation += 1;
    this.#next = undefined;
    this.#sync = undefined;
  }

  async #read(generation: number): Promise<void> {
    try {
      const pending = await this.#source.getNonce("pending");
      if (generation === this.#generation) this.#next = pending;
    } finally {
      if (generation === this.#generation) this.#sync = undefined;
    }
  }
}
