/**
 * What every job gets from the keeper: the way out for transactions, the logger and metrics, and
 * the stop flag (a job starts no new transaction once a stop is requested; the ones in flight finish).
 */
import type { Logger } from "../log";
import type { VenueMetrics } from "../metrics";
import type { SendOutcome, Transactor } from "../transactor";

export interface JobContext {
  transactor: Transactor;
  log: Logger;
  metrics?: VenueMetrics;
  /** Compute and log, never send. */
  dryRun: boolean;
  /** The keeper's address: static calls are made from it. */
  from(): string;
  stopping(): boolean;
}

/** True when the RPC could not take the transaction: the tick should end and be retried. */
export function isRpcOutage(outcome: SendOutcome): boolean {
  return outcome.kind === "notSent" && (outcome.reason === "rpcError" || outcome.reason === "circuitOpen");
}

/** A one-line account of an outcome that was not a plain success, for the logs. */
export function describeOutcome(outcome: SendOutcome): Record<string, unknown> {
  switch (outcome.kind) {
    case "mined":
      return { outcome: "mined", hash: outcome.hash, block: outcome.receipt.blockNumber, bumps: outcome.bumps };
    case "reverted":
    case "lostRace":
      return { outcome: outcome.kind, reason: outcome.reason, hash: outcome.receipt?.hash };
    case "notSent":
      return { outcome: "notSent", reason: outcome.reason, err: outcome.error };
    case "dropped":
    case "unconfirmed":
      return { outcome: outcome.kind, nonce: outcome.nonce, hashes: outcome.hashes };
    case "dryRun":
      return { outcome: "dryRun", gasLimit: outcome.tx.gasLimit };
  }
}
