/**
 * An in-memory chain for TxSender tests: a mempool keyed by nonce with geth's replacement rule
 * (a replacement must raise every fee by 10%), blocks mined on demand or at once (automine), and
 * scripted faults. One account, the test wallet's.
 */
import { AbstractProvider, FeeData, Transaction, TransactionReceipt, Wallet } from "ethers";
import type { BlockTag, TransactionRequest } from "ethers";
import type { SenderChain, SenderSigner } from "../../keeper/chain/sender";

export const CHAIN_ID = 31337n;
export const GWEI = 10n ** 9n;
export const TARGET = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
export const ESTIMATE = 100_000n;

const RECEIPT_PROVIDER = new AbstractProvider(Number(CHAIN_ID));
const REPLACEMENT_PERCENT = 110n;

export const transportError = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });

type Method = keyof SenderChain;

export class FakeChain implements SenderChain {
  readonly wallet = new Wallet(`0x${"11".repeat(32)}`);
  block = 100;
  automine = true;
  feeData = new FeeData(null, 2n * GWEI, GWEI);
  /** Transactions of ours mined so far (the account's 'latest' count, plus `takenNonces`). */
  confirmed = 0;
  readonly pool = new Map<number, Transaction>();
  readonly receipts = new Map<string, TransactionReceipt>();
  /** Every transaction the node accepted, in order, with the block it arrived in. */
  readonly accepted: { tx: Transaction; block: number }[] = [];
  readonly calls: Record<Method | "getNonce", number> = {
    getBlockNumber: 0,
    getFeeData: 0,
    estimateGas: 0,
    call: 0,
    getTransactionReceipt: 0,
    getTransactionCount: 0,
    broadcastTransaction: 0,
    getNonce: 0,
  };
  /** Errors each method throws on its next calls, before doing anything. */
  readonly faults: Partial<Record<Method, unknown[]>> = {};
  /** Broadcasts that reach the pool but whose answer is lost (the client sees ECONNRESET). */
  lostAnswers = 0;
  /** What estimateGas and call throw (a revert), when set. */
  revert: unknown;
  /** Hashes whose transaction reverts when mined. */
  readonly revertOnMine = new Set<string>();
  /** The block tags `call` was given. */
  readonly callBlockTags: (BlockTag | undefined)[] = [];

  readonly signer: SenderSigner = {
    getAddress: async () => this.wallet.address,
    signTransaction: (tx: TransactionRequest) => this.wallet.signTransaction(tx),
    getNonce: async (blockTag?: BlockTag) => {
      this.calls.getNonce += 1;
      return this.getTransactionCount(this.wallet.address, blockTag);
    },
  };

  #fault(method: Method): void {
    this.calls[method] += 1;
    const fault = this.faults[method]?.shift();
    if (fault !== undefined) throw fault;
  }

  async getBlockNumber(): Promise<number> {
    this.#fault("getBlockNumber");
    return this.block;
  }

  async getFeeData(): Promise<FeeData> {
    this.#fault("getFeeData");
    return this.feeData;
  }

  async estimateGas(): Promise<bigint> {
    this.#fault("estimateGas");
    if (this.revert !== undefined) throw this.revert;
    return ESTIMATE;
  }

  async call(tx: TransactionRequest): Promise<string> {
    this.#fault("call");
    this.callBlockTags.push(tx.blockTag);
    if (this.revert !== undefined) throw this.revert;
    return "0x";
  }

  async getTransactionReceipt(hash: string): Promise<TransactionReceipt | null> {
    this.#fault("getTransactionReceipt");
    return this.receipts.get(hash) ?? null;
  }

  async getTransactionCount(_address: string, blockTag?: BlockTag): Promise<number> {
    this.#fault("getTransactionCount");
    if (blockTag !== "pending") return this.confirmed;
    let pending = this.confirmed;
    while (this.pool.has(pending)) pending += 1;
    return pending;
  }

  async broadcastTransaction(raw: string): Promise<unknown> {
    this.#fault("broadcastTransaction");
    const tx = Transaction.from(raw);
    if (tx.nonce < this.confirmed) throw new Error(`nonce too low: next nonce ${this.confirmed}, tx nonce ${tx.nonce}`);
    const pooled = this.pool.get(tx.nonce);
    if (pooled?.hash === tx.hash) throw new Error("already known");
    if (pooled !== undefined && !outbids(tx, pooled)) throw new Error("replacement transaction underpriced");
    this.pool.set(tx.nonce, tx);
    this.accepted.push({ tx, block: this.block });
    if (this.automine) this.mine();
    if (this.lostAnswers > 0) {
      this.lostAnswers -= 1;
      throw transportError();
    }
    return { hash: tx.hash };
  }

  /** Mines a block with every executable pooled transaction. */
  mine(): void {
    this.block += 1;
    for (let tx = this.pool.get(this.confirmed); tx !== undefined; tx = this.pool.get(this.confirmed)) {
      this.pool.delete(tx.nonce);
      this.confirmed += 1;
      const hash = tx.hash ?? "";
      this.receipts.set(hash, receipt(hash, this.block, this.revertOnMine.has(hash) ? 0 : 1, this.wallet.address));
    }
  }

  /** Mines a block that holds none of our transactions. */
  mineEmpty(): void {
    this.block += 1;
  }

  /** Another process, signing with the same key, gets its transaction mined at `nonce`. */
  takeNonce(nonce: number): void {
    this.pool.delete(nonce);
    this.confirmed = nonce + 1;
    this.block += 1;
  }
}

function outbids(next: Transaction, pooled: Transaction): boolean {
  const raised = (a: bigint | null, b: bigint | null) => (a ?? 0n) * 100n >= (b ?? 0n) * REPLACEMENT_PERCENT;
  return next.type === 2
    ? raised(next.maxFeePerGas, pooled.maxFeePerGas) && raised(next.maxPriorityFeePerGas, pooled.maxPriorityFeePerGas)
    : raised(next.gasPrice, pooled.gasPrice);
}

function receipt(hash: string, blockNumber: number, status: number, from: string): TransactionReceipt {
  return new TransactionReceipt(
    {
      to: TARGET,
      from,
      contractAddress: null,
      hash,
      index: 0,
      blockHash: `0x${blockNumber.toString(16).padStart(64, "0")}`,
      blockNumber,
      logsBloom: `0x${"00".repeat(256)}`,
      logs: [],
      gasUsed: 80_000n,
      cumulativeGasUsed: 80_000n,
      type: 2,
      status,
      root: null,
    },
    RECEIPT_PROVIDER,
  );
}
