/**
 * TxSender: sends one transaction and follows it until it is settled, and says how it ended.
 *
 * It estimates gas (a revert there costs nothing and is reported at once), prices it with the fee
 * quote of the moment (one quote serves every send that starts within `feeQuoteMs`, so a round of
 * batches sent at once costs one quote, not one each), takes a nonce from its NonceManager (the
 * batches of a round get consecutive nonces), signs locally and broadcasts the raw transaction, retrying transport faults with
 * backoff (re-broadcasting the same signed bytes is idempotent). Then it polls for the receipt;
 * if none arrives within `gasBumpBlocks` blocks it replaces the transaction (same nonce, fees up
 * at least 12.5%). Every RPC call goes through the circuit breaker, so nothing is sent while the
 * RPC is down; while watching, an outage only pauses the polling.
 *
 * It never throws for what the chain does: the outcome is a value. A revert whose custom error is
 * in `lostRaceErrors` (another keeper got there first) is `lostRace`, which callers log at info.
 * The signer must sign locally (an ethers Wallet): a JSON-RPC signer cannot re-sign replacements.
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import { keccak256 } from "ethers";
import type { BlockTag, FeeData, Interface, TransactionReceipt, TransactionRequest } from "ethers";
import type { Logger } from "../log";
import { CircuitOpenError } from "./circuit";
import type { CircuitBreaker } from "./circuit";
import { isAlreadyKnown, isNonceError, isRpcTransportError, revertInfo } from "./errors";
import { bumpFees, feesFrom, feesOf } from "./fees";
import type { Fees } from "./fees";
import { NonceManager } from "./nonce";
import type { NonceSource } from "./nonce";
import { DEFAULT_RETRY, withRetry } from "./retry";
import type { RetryOptions } from "./retry";

/** The provider calls the sender makes; an ethers Provider has them all. */
export interface SenderChain {
  getBlockNumber(): Promise<number>;
  getFeeData(): Promise<FeeData>;
  estimateGas(tx: TransactionRequest): Promise<bigint>;
  call(tx: TransactionRequest): Promise<string>;
  getTransactionReceipt(hash: string): Promise<TransactionReceipt | null>;
  getTransactionCount(address: string, blockTag?: BlockTag): Promise<number>;
  broadcastTransaction(signedTx: string): Promise<unknown>;
}

/** A signer that signs locally: an ethers Wallet. */
export interface SenderSigner extends NonceSource {
  getAddress(): Promise<string>;
  signTransaction(tx: TransactionRequest): Promise<string>;
}

export interface TxRequest {
  to: string;
  data: string;
  value?: bigint;
  /** Estimated (with headroom) when not given. */
  gasLimit?: bigint;
  /** Names the transaction in logs, e.g. "liquidateMany(12)". */
  label?: string;
}

export type SendOutcome =
  | { kind: "mined"; hash: string; receipt: TransactionReceipt; bumps: number }
  /** `receipt` is absent when the revert was caught by the gas estimate, before sending. */
  | { kind: "reverted"; reason: string; errorName?: string; receipt?: TransactionReceipt }
  | { kind: "lostRace"; errorName: string; reason: string; receipt?: TransactionReceipt }
  /** --dry-run: the transaction as it would have been sent (without a nonce). */
  | { kind: "dryRun"; tx: TransactionRequest }
  /**
   * Not sent, as far as the sender can tell: a broadcast that failed with `rpcError` or
   * `circuitOpen` may still have reached the node, so once a nonce was taken the next send reads
   * the count from the chain again.
   */
  | { kind: "notSent"; reason: "circuitOpen" | "rpcError" | "rejected" | "aborted"; error: unknown }
  /** Another transaction took the nonce (one signed with this key elsewhere). */
  | { kind: "dropped"; nonce: number; hashes: string[] }
  /** Broadcast, but not mined when the sender stopped watching. */
  | { kind: "unconfirmed"; nonce: number; hashes: string[]; reason: "maxWaitBlocks" | "aborted" };

export interface TxSenderOptions {
  chain: SenderChain;
  signer: SenderSigner;
  chainId: bigint;
  circuit: CircuitBreaker;
  log: Logger;
  /** Blocks to wait for a receipt before replacing the transaction with higher fees. */
  gasBumpBlocks: number;
  /** Estimate, and report what would be sent, but never sign or broadcast. */
  dryRun: boolean;
  /** Custom error names that mean another keeper won the race. */
  lostRaceErrors: Iterable<string>;
  /** The contracts' custom errors, to decode revert data. */
  errors?: Interface;
  pollMs: number;
  /** Replacements before the sender only re-broadcasts the last one (bounds the fee). */
  maxBumps?: number;
  /** Blocks after which the sender stops watching and reports `unconfirmed`. */
  maxWaitBlocks?: number;
  retry?: RetryOptions;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called for every transport fault seen, e.g. to count it in a metric. */
  onRpcError?: (error: unknown) => void;
  /** Aborting (on shutdown) stops retries and watching. */
  signal?: AbortSignal;
  /** How long one fee quote prices new transactions (replacements always quote afresh). */
  feeQuoteMs?: number;
  /** The clock the fee quote's age is told by, in ms. */
  now?: () => number;
}

const DEFAULT_MAX_BUMPS = 10;
const DEFAULT_MAX_WAIT_BLOCKS = 100;
/**
 * A round's batches start within milliseconds of each other; a second is far shorter than a base fee
 * can move much (12.5% a block at most), and the quote's maxFeePerGas leaves room for that anyway.
 */
const DEFAULT_FEE_QUOTE_MS = 1_000;
/** Added to an estimate, as state may change between the estimate and inclusion. */
const GAS_HEADROOM_PERCENT = 20n;
const LEGACY_TX_TYPE = 0;
const EIP1559_TX_TYPE = 2;
/** Fresh nonces to try when the node refuses one, before giving up on this send. */
const NONCE_RESYNC_ATTEMPTS = 2;

/** A transaction ready to sign: everything but the nonce. */
type Prepared = TransactionRequest & { to: string; data: string; value: bigint; gasLimit: bigint } & Fees;

interface Broadcast {
  nonce: number;
  hash: string;
  raw: string;
}

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> => sleepFor(ms, undefined, { signal });

export class TxSender {
  readonly #options: TxSenderOptions;
  readonly #nonces: NonceManager;
  readonly #lostRaceErrors: ReadonlySet<string>;
  readonly #sleep: NonNullable<TxSenderOptions["sleep"]>;
  #address: Promise<string> | undefined;
  /** The last send's turn to take a nonce, sign and broadcast (#dispatch). */
  #turn: Promise<void> = Promise.resolve();
  /** The fee quote new transactions are priced with, and when it was asked for. */
  #feeQuote: { atMs: number; fees: Promise<Fees> } | undefined;

  constructor(options: TxSenderOptions) {
    this.#options = options;
    this.#lostRaceErrors = new Set(options.lostRaceErrors);
    this.#sleep = options.sleep ?? defaultSleep;
    this.#nonces = new NonceManager({ getNonce: (blockTag) => this.#rpc(() => options.signer.getNonce(blockTag)) });
  }

  async send(request: TxRequest): Promise<SendOutcome> {
    const log = this.#options.log.child({ tx: request.label ?? request.to });
    let prepared: Prepared;
    try {
      prepared = await this.#prepare(request);
    } catch (error) {
      return this.#failure(error);
    }
    if (this.#options.dryRun) return { kind: "dryRun", tx: prepared };

    const sent = await this.#broadcastNew(prepared, log);
    if ("kind" in sent) return sent;
    log.debug({ nonce: sent.nonce, hash: sent.hash }, "transaction sent");
    return this.#watch(prepared, sent, log);
  }

  /* PREPARING AND BROADCASTING */

  async #prepare(request: TxRequest): Promise<Prepared> {
    const { chain } = this.#options;
    const from = await this.#from();
    const call = { from, to: request.to, data: request.data, value: request.value ?? 0n };
    const gasLimit = request.gasLimit ?? withHeadroom(await this.#rpc(() => chain.estimateGas(call)));
    const fees = await this.#fees();
    // An explicit type: left to infer, ethers signs a gas-price transaction as EIP-2930 (type 1).
    const type = "gasPrice" in fees ? LEGACY_TX_TYPE : EIP1559_TX_TYPE;
    return { ...call, gasLimit, chainId: this.#options.chainId, type, ...fees };
  }

  /** The current fee quote: the one asked for within feeQuoteMs (in flight or answered), else a new one. */
  #fees(): Promise<Fees> {
    const nowMs = (this.#options.now ?? Date.now)();
    const quoteMs = this.#options.feeQuoteMs ?? DEFAULT_FEE_QUOTE_MS;
    const quote = this.#feeQuote;
    if (quote !== undefined && nowMs - quote.atMs < quoteMs) return quote.fees;
    const fees = this.#rpc(() => this.#options.chain.getFeeData()).then(feesFrom);
    const fresh = { atMs: nowMs, fees };
    this.#feeQuote = fresh;
    // A failed quote is not kept: the next send asks again.
    fees.catch(() => {
      if (this.#feeQuote === fresh) this.#feeQuote = undefined;
    });
    return fees;
  }

  /** Takes a nonce and broadcasts; on a nonce error, resyncs and tries a fresh nonce. */
  async #broadcastNew(tx: Prepared, log: Logger): Promise<Broadcast | SendOutcome> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#dispatch(tx);
      } catch (error) {
        if (isNonceError(error) && attempt < NONCE_RESYNC_ATTEMPTS) {
          log.info({ err: error }, "nonce refused; resyncing from the chain");
          continue;
        }
        return this.#failure(error);
      }
    }
  }

  /**
   * Takes the next nonce, signs and broadcasts, one send at a time (the next send's turn starts once the
   * node has answered this broadcast): concurrent sends (a round's batches, or the venues of one keeper
   * sharing this sender) reach the node in nonce order, so a node that refuses a nonce ahead of the
   * account's count (Hardhat's automine: "Nonce too high ... can't be queued") never sees n + 1 before n,
   * which two broadcasts in flight at once on two HTTP connections could otherwise do. It costs one RPC
   * round trip per transaction of a round, in series; the watching that follows is concurrent.
   */
  #dispatch(tx: Prepared): Promise<Broadcast> {
    const turn = this.#turn.then(async () => {
      try {
        const signed = await this.#sign(tx, await this.#nonces.next());
        await this.#broadcast(signed.raw);
        return signed;
      } catch (error) {
        // Whatever failed, the nonce taken may be unused now: the next turn reads the count again.
        this.#nonces.invalidate();
        throw error;
      }
    });
    this.#turn = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  async #sign(tx: Prepared, nonce: number): Promise<Broadcast> {
    const raw = await this.#options.signer.signTransaction({ ...tx, nonce });
    // A transaction's hash is that of its signed bytes: no need to parse them back (which recovers the sender).
    return { nonce, hash: keccak256(raw), raw };
  }

  /**
   * Broadcasts signed bytes, retrying transport faults. A retry that finds the transaction known,
   * or its nonce used, means an earlier attempt got through: that is success.
   */
  async #broadcast(raw: string): Promise<void> {
    await this.#rpc(async (attempt) => {
      try {
        await this.#options.chain.broadcastTransaction(raw);
      } catch (error) {
        if (isAlreadyKnown(error) || (attempt > 0 && isNonceError(error))) return;
        throw error;
      }
    });
  }

  /* WATCHING */

  async #watch(tx: Prepared, first: Broadcast, log: Logger): Promise<SendOutcome> {
    const { chain, gasBumpBlocks, pollMs, signal } = this.#options;
    const maxBumps = this.#options.maxBumps ?? DEFAULT_MAX_BUMPS;
    const maxWaitBlocks = this.#options.maxWaitBlocks ?? DEFAULT_MAX_WAIT_BLOCKS;
    const { nonce } = first;
    const hashes = [first.hash];
    let latest = first;
    let fees = feesOf(tx);
    let bumps = 0;
    let firstBlock: number | undefined;
    let broadcastBlock: number | undefined;

    for (;;) {
      try {
        const receipt = await this.#receiptOf(hashes);
        if (receipt !== null) return await this.#settled(tx, receipt, bumps);
        const head = await this.#read(() => chain.getBlockNumber());
        firstBlock ??= head;
        broadcastBlock ??= head;
        if (head - broadcastBlock >= gasBumpBlocks) {
          const outcome = await this.#checkNonceTaken(tx, nonce, hashes, bumps);
          if (outcome !== undefined) return outcome;
          if (head - firstBlock >= maxWaitBlocks) {
            this.#nonces.invalidate();
            log.warn({ nonce, hashes, blocks: head - firstBlock }, "transaction not mined; stopped watching");
            return { kind: "unconfirmed", nonce, hashes, reason: "maxWaitBlocks" };
          }
          if (bumps < maxBumps) {
            fees = bumpFees(fees, feesFrom(await this.#read(() => chain.getFeeData())));
            latest = await this.#sign({ ...tx, ...fees }, nonce);
            hashes.push(latest.hash);
            bumps += 1;
            log.info(
              { nonce, hash: latest.hash, bumps, ...fees },
              "transaction not mined; replacing it with higher fees",
            );
          }
          broadcastBlock = head;
          await this.#rebroadcast(latest.raw, log);
        }
      } catch (error) {
        // An outage only pauses the watch: the transaction is out there whether or not we can see it.
        if (!isRpcTransportError(error) && !(error instanceof CircuitOpenError)) throw error;
      }
      if (signal?.aborted) return { kind: "unconfirmed", nonce, hashes, reason: "aborted" };
      try {
        await this.#sleep(pollMs, signal);
      } catch (error) {
        if (signal?.aborted) return { kind: "unconfirmed", nonce, hashes, reason: "aborted" };
        throw error;
      }
    }
  }

  /** The receipt of whichever of our transactions for this nonce was mined, newest first. */
  async #receiptOf(hashes: readonly string[]): Promise<TransactionReceipt | null> {
    for (const hash of [...hashes].reverse()) {
      const receipt = await this.#read(() => this.#options.chain.getTransactionReceipt(hash));
      if (receipt !== null) return receipt;
    }
    return null;
  }

  /** `dropped` when a transaction that is not ours took the nonce; undefined while it is free. */
  async #checkNonceTaken(
    tx: Prepared,
    nonce: number,
    hashes: string[],
    bumps: number,
  ): Promise<SendOutcome | undefined> {
    const confirmed = await this.#read(async () =>
      this.#options.chain.getTransactionCount(await this.#from(), "latest"),
    );
    if (confirmed <= nonce) return undefined;
    // Ours may have been mined between the receipt poll and the count.
    const receipt = await this.#receiptOf(hashes);
    if (receipt !== null) return this.#settled(tx, receipt, bumps);
    this.#nonces.invalidate();
    this.#options.log.warn({ nonce, hashes }, "nonce taken by another transaction; ours was dropped");
    return { kind: "dropped", nonce, hashes };
  }

  /** Re-sends signed bytes; refusals are fine (a replacement may not be needed any more). */
  async #rebroadcast(raw: string, log: Logger): Promise<void> {
    try {
      await this.#read(() => this.#options.chain.broadcastTransaction(raw));
    } catch (error) {
      if (isRpcTransportError(error) || error instanceof CircuitOpenError) throw error;
      if (!isAlreadyKnown(error)) log.debug({ err: error }, "re-broadcast refused");
    }
  }

  /** A mined transaction: success, or the revert replayed at its block to learn why. */
  async #settled(tx: Prepared, receipt: TransactionReceipt, bumps: number): Promise<SendOutcome> {
    if (receipt.status === 1) return { kind: "mined", hash: receipt.hash, receipt, bumps };
    const { from, to, data, value, gasLimit } = tx;
    try {
      await this.#read(() =>
        this.#options.chain.call({ from, to, data, value, gasLimit, blockTag: receipt.blockNumber }),
      );
    } catch (error) {
      const revert = revertInfo(error, this.#options.errors);
      if (revert !== undefined) return this.#revertOutcome(revert.reason, revert.errorName, receipt);
    }
    return { kind: "reverted", reason: "reverted on chain; replaying the call gave no reason", receipt };
  }

  /* CLASSIFYING */

  #failure(error: unknown): SendOutcome {
    const revert = revertInfo(error, this.#options.errors);
    if (revert !== undefined) return this.#revertOutcome(revert.reason, revert.errorName);
    if (error instanceof CircuitOpenError) return { kind: "notSent", reason: "circuitOpen", error };
    if (this.#options.signal?.aborted) return { kind: "notSent", reason: "aborted", error };
    if (isRpcTransportError(error)) return { kind: "notSent", reason: "rpcError", error };
    return { kind: "notSent", reason: "rejected", error };
  }

  #revertOutcome(reason: string, errorName: string | undefined, receipt?: TransactionReceipt): SendOutcome {
    const withReceipt = receipt === undefined ? {} : { receipt };
    if (errorName !== undefined && this.#lostRaceErrors.has(errorName)) {
      return { kind: "lostRace", errorName, reason, ...withReceipt };
    }
    return { kind: "reverted", reason, ...(errorName === undefined ? {} : { errorName }), ...withReceipt };
  }

  /* RPC */

  #from(): Promise<string> {
    this.#address ??= this.#options.signer.getAddress();
    return this.#address;
  }

  /** One call through the circuit, counting transport faults. */
  async #read<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await this.#options.circuit.run(fn);
    } catch (error) {
      if (isRpcTransportError(error)) this.#options.onRpcError?.(error);
      throw error;
    }
  }

  /** A call through the circuit, retried with backoff on transport faults. */
  #rpc<T>(fn: (attempt: number) => Promise<T>): Promise<T> {
    const retry = this.#options.retry ?? DEFAULT_RETRY;
    return withRetry((attempt) => this.#read(() => fn(attempt)), {
      sleep: this.#sleep,
      ...retry,
      signal: this.#options.signal,
    });
  }
}

function withHeadroom(gas: bigint): bigint {
  return (gas * (100n + GAS_HEADROOM_PERCENT)) / 100n;
}
