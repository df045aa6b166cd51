/**
 * Retry with exponential backoff and full jitter (AWS's "Exponential Backoff and Jitter"): the wait
 * before retry n (from 0) is uniform in [0, min(maxMs, baseMs * 2^n)], which spreads the retries
 * of several keepers instead of having them hit a recovering RPC in step.
 *
 * Only transport faults are retried by default; a revert is an answer, not a fault. The clock
 * (`sleep`) and the dice (`random`) are injectable, so tests run instantly and deterministically.
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import { isRpcTransportError } from "./errors";

export interface RetryOptions {
  /** Attempts after the first one. */
  retries: number;
  baseMs: number;
  maxMs: number;
  /** Full jitter when true (the default); the plain exponential cap when false. */
  jitter?: boolean;
  /** Whether an error deserves another attempt; isRpcTransportError unless given. */
  isRetryable?: (error: unknown) => boolean;
  /** Called before each wait; `attempt` is the attempt that failed, from 0. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Uniform in [0, 1). */
  random?: () => number;
  /** Stops retrying (the wait rejects) once aborted, e.g. on shutdown. */
  signal?: AbortSignal;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 5, baseMs: 200, maxMs: 5_000 };

const defaultSleep = (ms: number, signal?: AbortSignal): Promise<void> => sleepFor(ms, undefined, { signal });

/** The wait before retry `attempt` (from 0), in whole milliseconds. */
export function backoffDelay(
  attempt: number,
  { baseMs, maxMs, jitter = true, random = Math.random }: Pick<RetryOptions, "baseMs" | "maxMs" | "jitter" | "random">,
): number {
  const cap = Math.min(maxMs, baseMs * 2 ** attempt);
  return jitter ? Math.floor(random() * (cap + 1)) : cap;
}

/**
 * Runs `fn` until it succeeds, fails with an error that is not retryable, or has failed
 * `retries + 1` times; then throws the last error.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = DEFAULT_RETRY,
): Promise<T> {
  const { retries, isRetryable = isRpcTransportError, onRetry, sleep = defaultSleep, signal } = options;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= retries || !isRetryable(error) || signal?.aborted) throw error;
      const delayMs = backoffDelay(attempt, options);
      onRetry?.(error, attempt, delayMs);
      await sleep(delayMs, signal);
    }
  }
}
