/**
 * The keeper's block loop, as the CLI runs it: poll the head through the RPC circuit, tick the keeper
 * on every new head, told by its hash (a reorg to a branch of the same height, or a rollback to a lower
 * one, is a new head too), and after `idleTickMs` without one (for a chain that mines only on demand),
 * and keep the block lag and the time of the last progress (a complete tick through the head, or a poll
 * with nothing new) that /health judges: during an outage the lag stays as last seen, the age grows.
 *
 * Faults. A failed head poll counts toward the circuit; after `failureThreshold` in a row the circuit
 * opens and the loop (and the TxSender, which shares the circuit) stops calling the RPC until a probe
 * after the cool-down succeeds. Between failures the loop waits with exponential backoff and full
 * jitter. Nothing is lost meanwhile: the indexer resumes from its cursor, liquidations and orders are
 * judged on the chain's state (not on the events missed), and funding catches up missed intervals.
 * A tick cut short by the RPC is not counted as done, so the same block is ticked again.
 *
 * Stopping: `stop()` lets the tick in flight finish (transactions sent are followed to their
 * receipts; no new ones start) and then ends `run()`. A ChainGoneError (the chain was reset and the
 * engine has no code any more) ends `run()` with that error: nothing is left to keep.
 */
import { setTimeout as sleepFor } from "node:timers/promises";
import { CircuitOpenError } from "./chain/circuit";
import type { CircuitBreaker } from "./chain/circuit";
import { isRpcTransportError } from "./chain/errors";
import { backoffDelay } from "./chain/retry";
import { ChainGoneError, ChainResetPendingError } from "./keeper";
import type { Keeper, TickReport } from "./keeper";
import type { Logger } from "./log";
import type { KeeperMetrics } from "./metrics";

export interface KeeperServiceOptions {
  keeper: Keeper;
  /** Where the head comes from. */
  chain: { getBlock(tag: "latest"): Promise<{ number: number; hash: string | null } | null> };
  circuit: CircuitBreaker;
  log: Logger;
  metrics: KeeperMetrics;
  pollMs: number;
  /** Tick after this long even if no block came (the clock moves marks and reaches funding boundaries). */
  idleTickMs?: number;
  /** Backoff after failures: the wait is uniform in [0, min(maxMs, baseMs * 2^n)], at least pollMs. */
  backoff?: { baseMs: number; maxMs: number };
  /** Called after every tick (tests watch the keeper through it). */
  onTick?: (report: TickReport) => void;
  /** Runs before each poll's tick decision (the signer's funds check); its errors count as the poll's. */
  beforeTick?: () => Promise<void>;
  /** Told of the error that ends the loop (a ChainGoneError). */
  onFatal?: (error: Error) => void;
}

export const DEFAULT_IDLE_TICK_MS = 5_000;
const DEFAULT_BACKOFF = { baseMs: 250, maxMs: 5_000 };

export class KeeperService {
  private stopping = false;
  private readonly wake = new AbortController();
  private running: Promise<void> | undefined;
  private lastBlock: number | undefined;
  private lastHash: string | undefined;

  constructor(private readonly options: KeeperServiceOptions) {}

  /** The last block the keeper finished, if any. */
  get processedBlock(): number | undefined {
    return this.lastBlock;
  }

  /** Runs the loop until stop(); resolves once the tick in flight has finished. */
  run(): Promise<void> {
    this.running ??= this.loop();
    return this.running;
  }

  /** Asks the loop to end after the tick in flight; resolves when it has. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.options.keeper.requestStop();
    this.wake.abort();
    // A loop that ended on a fatal error has already rejected run() with it.
    await this.running?.catch(() => undefined);
  }

  private async loop(): Promise<void> {
    const { keeper, chain, circuit, log, metrics, pollMs } = this.options;
    const idleTickMs = this.options.idleTickMs ?? DEFAULT_IDLE_TICK_MS;
    const backoff = this.options.backoff ?? DEFAULT_BACKOFF;
    // RPC failures in a row (reset by any answer), and failed ticks in a row (reset by a complete tick):
    // each backs off, and a run of the same failure is logged once at its level, then at debug.
    let failures = 0;
    let tickFailures = 0;
    let lastTickAt = 0;
    let synced = false;
    while (!this.stopping) {
      let delayMs = pollMs;
      try {
        const latest = await circuit.run(() => chain.getBlock("latest"));
        if (latest === null) throw new Error("the node returned no latest block");
        const head = latest.number;
        if (failures > 0) log.info({ head, failures }, "RPC answering again; catching up");
        failures = 0;
        await this.options.beforeTick?.();
        const last = this.lastBlock;
        if (last !== undefined) metrics.observeBlock(last, head);
        if (last === undefined || latest.hash !== this.lastHash || Date.now() - lastTickAt >= idleTickMs) {
          const started = Date.now();
          const report = await keeper.tick();
          lastTickAt = Date.now();
          // Done up to the head polled before the tick: a block mined meanwhile (someone's price push, or
          // the keeper's own transactions) is ticked again, so nothing that happened in it waits.
          if (report.complete) {
            if (tickFailures > 0) log.info({ head, tickFailures }, "ticking again");
            tickFailures = 0;
            this.lastBlock = head;
            this.lastHash = latest.hash ?? undefined;
            metrics.observeProgress();
          } else {
            delayMs = Math.max(pollMs, backoffDelay(0, backoff));
          }
          metrics.observeBlock(this.lastBlock ?? head, Math.max(head, report.block));
          if (!synced) {
            synced = true;
            log.info(
              {
                block: report.block,
                positions: report.positionsTracked,
                orders: report.ordersTracked,
                ms: lastTickAt - started,
              },
              "state rebuilt from events; following new blocks",
            );
          }
          this.logTick(report, lastTickAt - started);
          this.options.onTick?.(report);
        } else {
          // Nothing new since the last complete tick: still caught up.
          metrics.observeProgress();
        }
      } catch (error) {
        if (error instanceof ChainGoneError) {
          log.fatal({ lastBlock: this.lastBlock }, error.message);
          this.options.onFatal?.(error);
          throw error;
        }
        const transport = error instanceof CircuitOpenError || isRpcTransportError(error);
        if (transport) failures += 1;
        else tickFailures += 1;
        if (error instanceof CircuitOpenError) {
          delayMs = Math.max(pollMs, error.retryAtMs - Date.now());
          log.debug({ retryAt: new Date(error.retryAtMs).toISOString() }, "RPC circuit open; waiting");
        } else if (isRpcTransportError(error)) {
          metrics.rpcErrors.inc();
          delayMs = Math.max(pollMs, backoffDelay(failures - 1, backoff));
          log[failures === 1 ? "warn" : "debug"]({ err: error, failures, retryInMs: delayMs }, "RPC unreachable");
        } else if (error instanceof ChainResetPendingError) {
          delayMs = Math.max(pollMs, backoffDelay(tickFailures - 1, backoff));
          log[tickFailures === 1 ? "error" : "debug"]({ retryInMs: delayMs }, error.message);
        } else {
          delayMs = Math.max(pollMs, backoffDelay(tickFailures - 1, backoff));
          log[tickFailures === 1 ? "error" : "debug"]({ err: error, tickFailures, retryInMs: delayMs }, "tick failed");
        }
      }
      if (this.stopping) break;
      await sleepFor(delayMs, undefined, { signal: this.wake.signal }).catch(() => undefined);
    }
    log.info({ lastBlock: this.lastBlock }, "keeper stopped");
  }

  private logTick(report: TickReport, ms: number): void {
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
    if (busy > 0 || !report.complete) this.options.log.info({ ...summary, complete: report.complete }, "tick");
    else this.options.log.debug(summary, "tick");
  }
}
