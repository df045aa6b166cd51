/**
 * The keeper's block loop, as the CLI runs it: poll the head through the RPC circuit and tick each venue's
 * keeper (the USD-margined exchange and each coin-margined one: one Keeper per venue, one loop for all)
 * on every new head, told by its hash (a reorg to a branch of the same height, or a rollback to a lower
 * one, is a new head too), and after `idleTickMs` without one (for a chain that mines only on demand),
 * and keep, per venue, the block lag and the time of the last progress (a complete tick through the
 * head, or a poll with nothing new) that /health judges: during an outage the lag stays as last seen,
 * the age grows.
 *
 * The venues tick together (their transactions share one TxSender, whose nonce manager numbers them in
 * the order they are sent; the next poll comes once every venue's tick has finished), and each on its
 * own: a venue whose tick failed waits out its own backoff while the others carry on.
 *
 * Faults. A failed head poll counts toward the circuit; after `failureThreshold` in a row the circuit
 * opens and the loop (and the TxSender, which shares the circuit) stops calling the RPC until a probe
 * after the cool-down succeeds. Between failures the loop waits with exponential backoff and full
 * jitter. Nothing is lost meanwhile: the indexer resumes from its cursor, liquidations and orders are
 * judged on the chain's state (not on the events missed), and funding catches up missed intervals.
 * A tick cut short by the RPC is not counted as done, so the same block is ticked again on that venue.
 *
 * Stopping: `stop()` lets the tick in flight finish (transactions sent are followed to their
 * receipts; no new ones start) and then ends `run()`. A ChainGoneError (the chain was reset and a venue's
 * engine has no code any more) ends `run()` with that error: the deployment is gone.
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import { CircuitOpenError } from "./chain/circuit";
import type { CircuitBreaker } from "./chain/circuit";
import { isRpcTransportError } from "./chain/errors";
import { backoffDelay } from "./chain/retry";
import { ChainGoneError, ChainResetPendingError } from "./keeper";
import type { Keeper, TickReport } from "./keeper";
import type { Logger } from "./log";
import type { KeeperMetrics, VenueMetrics } from "./metrics";

/** One venue the loop ticks: its keeper, its series, its logger (a child naming the venue). */
export interface ServedVenue {
  name: string;
  keeper: Keeper;
  metrics: VenueMetrics;
  log: Logger;
}

export interface KeeperServiceOptions {
  venues: readonly ServedVenue[];
  /** Where the head comes from. */
  chain: { getBlock(tag: "latest"): Promise<{ number: number; hash: string | null } | null> };
  circuit: CircuitBreaker;
  log: Logger;
  /** The process's metrics: RPC errors are counted there. */
  metrics: KeeperMetrics;
  pollMs: number;
  /** Tick after this long even if no block came (the clock moves marks and reaches funding boundaries). */
  idleTickMs?: number;
  /** Backoff after failures: the wait is uniform in [0, min(maxMs, baseMs * 2^n)], at least pollMs. */
  backoff?: { baseMs: number; maxMs: number };
  /** Called after every tick of every venue (tests watch the keeper through it). */
  onTick?: (report: TickReport, venue: string) => void;
  /** Runs before each poll's tick decision (the signer's funds check); its errors count as the poll's. */
  beforeTick?: () => Promise<void>;
  /** Told of the error that ends the loop (a ChainGoneError). */
  onFatal?: (error: Error) => void;
}

export const DEFAULT_IDLE_TICK_MS = 5_000;
const DEFAULT_BACKOFF = { baseMs: 250, maxMs: 5_000 };

/** Where one venue stands in the loop. */
interface VenueState {
  venue: ServedVenue;
  lastBlock: number | undefined;
  lastHash: string | undefined;
  lastTickAt: number;
  /** Failed ticks in a row (reset by a complete tick); each backs off. */
  tickFailures: number;
  /** Not ticked again before this (ms), after a failed or incomplete tick. */
  retryAtMs: number;
  synced: boolean;
}

/** The polled head. */
interface Head {
  number: number;
  hash: string | null;
}

/** Whether an error is the RPC's (counted toward the loop's failures) rather than a venue's tick's. */
function isTransport(error: unknown): boolean {
  return error instanceof CircuitOpenError || isRpcTransportError(error);
}

export class KeeperService {
  private stopping = false;
  private readonly wake = new AbortController();
  private running: Promise<void> | undefined;
  private readonly states: VenueState[];

  constructor(private readonly options: KeeperServiceOptions) {
    if (options.venues.length === 0) throw new Error("the keeper service needs at least one venue");
    this.states = options.venues.map((venue) => ({
      venue,
      lastBlock: undefined,
      lastHash: undefined,
      lastTickAt: 0,
      tickFailures: 0,
      retryAtMs: 0,
      synced: false,
    }));
  }

  /** The last block every venue has finished, if each has finished one. */
  get processedBlock(): number | undefined {
    let lowest: number | undefined;
    for (const { lastBlock } of this.states) {
      if (lastBlock === undefined) return undefined;
      lowest = lowest === undefined ? lastBlock : Math.min(lowest, lastBlock);
    }
    return lowest;
  }

  /** The last block venue `name` has finished, if any. */
  processedBlockOf(name: string): number | undefined {
    return this.states.find((s) => s.venue.name === name)?.lastBlock;
  }

  /** Runs the loop until stop(); resolves once the ticks in flight have finished. */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Asks the loop to end after the ticks in flight; resolves when it has. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const { venue } of this.states) venue.keeper.requestStop();
    this.wake.abort();
    // A loop that ended on a fatal error has already rejected run() with it.
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    const { chain, circuit, log, metrics, pollMs } = this.options;
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    // RPC failures in a row (reset by any answer): each backs off, and a run of them is logged once at
    // warn, then at debug.
    let failures = 0;
    while (!this.stopping) {
      let delayMs = pollMs;
      try {
        const latest = await circuit.run(() => chain.getBlock("latest"));
        if (latest === null) throw new Error("the node returned no latest block");
        if (failures > 0) log.info({ head: latest.number, failures }, "RPC answering again; catching up");
        failures = 0;
        await this.options.beforeTick?.();
        const due = this.states.filter((state) => this.isDue(state, latest));
        const ticks = await Promise.allSettled(due.map((state) => this.tickVenue(state, latest)));
        const errors = ticks.flatMap((t) => (t.status === "rejected" ? [t.reason as unknown] : []));
        const fatal = errors.find((e) => e instanceof ChainGoneError);
        if (fatal !== undefined) throw fatal;
        if (errors.length > 0) throw errors[0];
      } catch (error) {
        if (error instanceof ChainGoneError) {
          log.fatal({ lastBlock: this.processedBlock }, error.message);
          this.options.onFatal?.(error);
          throw error;
        }
        // The RPC's faults, or the funds check's: a venue's own tick failures are its own (tickVenue).
        failures += 1;
        if (error instanceof CircuitOpenError) {
          delayMs = Math.max(pollMs, error.retryAtMs - Date.now());
          log.debug({ retryAt: new Date(error.retryAtMs).toISOString() }, "RPC circuit open; waiting");
        } else {
          const transport = isRpcTransportError(error);
          if (transport) metrics.rpcErrors.inc();
          delayMs = Math.max(pollMs, backoffDelay(failures - 1, backoff));
          const level = failures > 1 ? "debug" : transport ? "warn" : "error";
          log[level]({ err: error, failures, retryInMs: delayMs }, transport ? "RPC unreachable" : "poll failed");
        }
      }
      if (this.stopping) break;
      await sleepFor(delayMs, undefined, { signal: this.wake.signal }).catch(() => undefined);
    }
    log.info({ lastBlock: this.processedBlock }, "keeper stopped");
  }

  /**
   * Whether the venue ticks at `latest`: a new head, or idleTickMs without a tick, once its backoff is
   * over. Records its lag meanwhile, and its progress when there is nothing new.
   */
  private isDue(state: VenueState, latest: Head): boolean {
    const { metrics } = state.venue;
    if (state.lastBlock !== undefined) metrics.observeBlock(state.lastBlock, latest.number);
    if (Date.now() < state.retryAtMs) return false;
    const idleTickMs = this.options.idleTickMs ?? DEFAULT_IDLE_TICK_MS;
    if (state.lastBlock === undefined || latest.hash !== state.lastHash) return true;
    if (Date.now() - state.lastTickAt >= idleTickMs) return true;
    // Nothing new since the last complete tick: still caught up.
    metrics.observeProgress();
    return false;
  }

  /**
   * One tick of the venue. A failure of the venue's own (its tick threw, not the RPC) backs the venue off
   * and is logged once at its level; the RPC's faults and a ChainGoneError are thrown to the loop.
   */
  private async tickVenue(state: VenueState, latest: Head): Promise<void> {
    const { keeper, metrics, log } = state.venue;
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    const { pollMs } = this.options;
    try {
      const started = Date.now();
      const report = await keeper.tick();
      state.lastTickAt = Date.now();
      // Done up to the head polled before the tick: a block mined meanwhile (someone's price push, or
      // the keeper's own transactions) is ticked again, so nothing that happened in it waits.
      if (report.complete) {
        if (state.tickFailures > 0)
          log.info({ head: latest.number, tickFailures: state.tickFailures }, "ticking again");
        state.tickFailures = 0;
        state.lastBlock = latest.number;
        state.lastHash = latest.hash ?? undefined;
        metrics.observeProgress();
      } else {
        state.retryAtMs = Date.now() + Math.max(pollMs, backoffDelay(0, backoff));
      }
      metrics.observeBlock(state.lastBlock ?? latest.number, Math.max(latest.number, report.block));
      if (!state.synced) {
        state.synced = true;
        log.info(
          {
            block: report.block,
            positions: report.positionsTracked,
            orders: report.ordersTracked,
            ms: state.lastTickAt - started,
          },
          "state rebuilt from events; following new blocks",
        );
      }
      this.logTick(log, report, state.lastTickAt - started);
      this.options.onTick?.(report, state.venue.name);
    } catch (error) {
      if (error instanceof ChainGoneError || isTransport(error)) throw error;
      state.tickFailures += 1;
      const delayMs = Math.max(pollMs, backoffDelay(state.tickFailures - 1, backoff));
      state.retryAtMs = Date.now() + delayMs;
      const level = state.tickFailures === 1 ? "error" : "debug";
      if (error instanceof ChainResetPendingError) log[level]({ retryInMs: delayMs }, error.message);
      else log[level]({ err: error, tickFailures: state.tickFailures, retryInMs: delayMs }, "tick failed");
    }
  }

  private logTick(log: Logger, report: TickReport, ms: number): void {
    const busy =
      report.liquidations.length +
      report.funding.length +
      report.orders.length +
      report.adl.length +
      report.lostRace.length;
    const summary = {
      block: report.block,
      liquidations: report.liquidations.length,
      lostRace: report.lostRace.length,
      funding: report.funding.length,
      orders: report.orders.length,
      adl: report.adl.length,
      positions: report.positionsTracked,
      ms,
    };
    if (busy > 0 || !report.complete) log.info({ ...summary, complete: report.complete }, "tick");
    else log.debug(summary, "tick");
  }
}
