/**
 * A circuit breaker around the RPC. Closed: calls go through. After `failureThreshold`
 * consecutive transport failures it opens: calls fail at once with CircuitOpenError, so the keeper
 * stops sending into an outage. After `cooldownMs` it is half-open: one probe call goes through;
 * success closes the circuit, failure opens it for another cool-down.
 *
 * Only transport failures count. A revert or any other answer proves the RPC is up, so it counts
 * as a success for the circuit even though the call failed. The clock is injectable.
 */
import { isRpcTransportError } from "./errors";

export type CircuitState = "closed" | "open" | "half-open";

export interface CircuitOptions {
  failureThreshold: number;
  cooldownMs: number;
  now?: () => number;
  /** Whether an error is an RPC failure; isRpcTransportError unless given. */
  isFailure?: (error: unknown) => boolean;
  onStateChange?: (from: CircuitState, to: CircuitState) => void;
}

/** Thrown instead of calling while the circuit is open (or its single probe is in flight). */
export class CircuitOpenError extends Error {
  override name = "CircuitOpenError";

  constructor(readonly retryAtMs: number) {
    super(`RPC circuit open; next probe at ${new Date(retryAtMs).toISOString()}`);
  }
}

export class CircuitBreaker {
  readonly #failureThreshold: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  readonly #isFailure: (error: unknown) => boolean;
  readonly #onStateChange: CircuitOptions["onStateChange"];
  #consecutiveFailures = 0;
  #openedAtMs: number | undefined;
  #probing = false;
  #reported: CircuitState = "closed";

  constructor(options: CircuitOptions) {
    if (!Number.isInteger(options.failureThreshold) || options.failureThreshold < 1) {
      throw new RangeError(`failureThreshold must be an integer >= 1, got ${options.failureThreshold}`);
    }
    this.#failureThreshold = options.failureThreshold;
    this.#cooldownMs = options.cooldownMs;
    this.#now = options.now ?? Date.now;
    this.#isFailure = options.isFailure ?? isRpcTransportError;
    this.#onStateChange = options.onStateChange;
  }

  get state(): CircuitState {
    if (this.#openedAtMs === undefined) return "closed";
    return this.#now() >= this.#openedAtMs + this.#cooldownMs ? "half-open" : "open";
  }

  /** Runs `fn` if the circuit lets it through, and records how the RPC behaved. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    const state = this.state;
    this.#report(state);
    if (state === "open" || (state === "half-open" && this.#probing)) {
      throw new CircuitOpenError((this.#openedAtMs ?? this.#now()) + this.#cooldownMs);
    }
    const probe = state === "half-open";
    this.#probing ||= probe;
    try {
      const result = await fn();
      this.#recordAnswer();
      return result;
    } catch (error) {
      if (this.#isFailure(error)) this.#recordFailure(probe);
      else this.#recordAnswer();
      throw error;
    } finally {
      if (probe) this.#probing = false;
    }
  }

  #recordAnswer(): void {
    this.#consecutiveFailures = 0;
    this.#openedAtMs = undefined;
    this.#report("closed");
  }

  #recordFailure(probe: boolean): void {
    this.#consecutiveFailures += 1;
    if (probe || this.#consecutiveFailures >= this.#failureThreshold) {
      this.#openedAtMs = this.#now();
      this.#report("open");
    }
  }

  #report(state: CircuitState): void {
    if (state === this.#reported) return;
    const from = this.#reported;
    this.#reported = state;
    this.#onStateChange?.(from, state);
  }
}
