/**
 * How the keeper's jobs send transactions: one `send` that never throws for what the chain does and
 * says how it ended (SendOutcome). The CLI passes its TxSender (local nonces, fee bumps, retries, the
 * RPC circuit); `SignerTransactor` is the plain version over any ethers Signer, for the simulator's
 * impersonated accounts and in-process tests, where the node mines every transaction at once.
 *
 * Also here: the custom errors the jobs treat as a lost race, and one Interface holding every custom
 * error of the engine and the order book, to decode reverts.
 */
import { ErrorFragment, Interface } from "ethers";
import type { Signer, TransactionReceipt } from "ethers";
import { OrderBook__factory, PerpEngine__factory } from "../typechain-types";
import { revertInfo } from "./chain/errors";
import type { SendOutcome, TxRequest } from "./chain/sender";

export type { SendOutcome, TxRequest } from "./chain/sender";

export interface Transactor {
  send(request: TxRequest): Promise<SendOutcome>;
}

/**
 * Reverts that mean another keeper acted first: the position was liquidated or closed, the order
 * executed or cancelled, ADL already brought the market back. liquidateMany never reverts for these
 * (it skips), so its losses are counted from its receipt instead.
 */
export const LOST_RACE_ERRORS = ["PositionHealthy", "PositionNotFound", "OrderNotLive", "AdlNotActive"] as const;

/** Every custom error of the engine (with the admin module's) and the order book, one of each signature. */
export function exchangeErrors(): Interface {
  const seen = new Set<string>();
  const fragments: ErrorFragment[] = [];
  for (const iface of [PerpEngine__factory.createInterface(), OrderBook__factory.createInterface()]) {
    iface.forEachError((fragment) => {
      if (seen.has(fragment.selector)) return;
      seen.add(fragment.selector);
      fragments.push(fragment);
    });
  }
  return new Interface(fragments);
}

export interface SignerTransactorOptions {
  dryRun?: boolean;
  lostRaceErrors?: Iterable<string>;
  errors?: Interface;
}

/**
 * Sends through `signer` one transaction at a time (a signer that fills its own nonces would give two
 * concurrent sends the same one), waiting for each receipt.
 */
export class SignerTransactor implements Transactor {
  private readonly lostRace: ReadonlySet<string>;
  private readonly errors: Interface;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly signer: Signer,
    private readonly options: SignerTransactorOptions = {},
  ) {
    this.lostRace = new Set(options.lostRaceErrors ?? LOST_RACE_ERRORS);
    this.errors = options.errors ?? exchangeErrors();
  }

  send(request: TxRequest): Promise<SendOutcome> {
    const next = this.queue.then(() => this.sendNow(request));
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async sendNow(request: TxRequest): Promise<SendOutcome> {
    const tx = { to: request.to, data: request.data, value: request.value ?? 0n, gasLimit: request.gasLimit };
    try {
      if (this.options.dryRun) {
        const gasLimit = tx.gasLimit ?? (await this.signer.estimateGas(tx));
        return { kind: "dryRun", tx: { ...tx, gasLimit } };
      }
      const sent = await this.signer.sendTransaction(tx);
      const receipt = await sent.wait();
      if (receipt === null) return { kind: "unconfirmed", nonce: sent.nonce, hashes: [sent.hash], reason: "aborted" };
      return { kind: "mined", hash: receipt.hash, receipt, bumps: 0 };
    } catch (error) {
      const revert = revertInfo(error, this.errors);
      if (revert === undefined) return { kind: "notSent", reason: "rejected", error };
      const receipt = (error as { receipt?: TransactionReceipt | null }).receipt ?? undefined;
      const withReceipt = receipt === undefined ? {} : { receipt };
      if (revert.errorName !== undefined && this.lostRace.has(revert.errorName)) {
        return { kind: "lostRace", errorName: revert.errorName, reason: revert.reason, ...withReceipt };
      }
      return {
        kind: "reverted",
        reason: revert.reason,
        ...(revert.errorName === undefined ? {} : { errorName: revert.errorName }),
        ...withReceipt,
      };
    }
  }
}
