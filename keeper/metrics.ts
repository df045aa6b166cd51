/**
 * The keeper's Prometheus metrics, in a registry of its own (never prom-client's global one), so
 * several keepers can run in one process, as they do in the simulator and in race tests.
 *
 * It also remembers what the health endpoint judges: the last block the keeper processed against the
 * chain head, when it last made progress (read from an injected clock, so tests move time), and the
 * conditions that keep it from doing its job whatever its progress (`setCondition`: the RPC unreachable
 * at start, a signer that cannot pay for a batch, a chain change being resolved), each with its reason.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The keeper's progress against the chain, as of its last observation. */
export interface BlockProgress {
  /** The last block the keeper finished processing. */
  lastBlock: number;
  /** The chain head when it did. */
  headBlock: number;
  /** headBlock - lastBlock, never negative. */
  blockLag: number;
}

/** Milliseconds since the Unix epoch, as Date.now. */
export type Clock = () => number;

const MS_PER_SECOND = 1_000;
const CROSSING_BUCKETS_SECONDS = [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 300];
const SCAN_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1];

export class KeeperMetrics {
  readonly registry: Registry;
  readonly positionsTracked: Gauge;
  readonly ordersTracked: Gauge;
  readonly liquidationsSent: Counter;
  readonly liquidationsSucceeded: Counter;
  readonly liquidationsLostRace: Counter;
  readonly ordersExecuted: Counter;
  readonly fundingSettled: Counter;
  readonly adl: Counter;
  readonly rpcErrors: Counter;
  readonly reorgs: Counter;
  readonly chainResets: Counter;
  readonly blockLag: Gauge;
  readonly lastBlock: Gauge;
  /** Computed at each scrape from the clock, so it keeps growing while the keeper is stuck or blind. */
  readonly lastProgressAge: Gauge;
  /** From the block whose mark made a position liquidatable to the block that liquidated it. */
  readonly crossingToLiquidationSeconds: Histogram;
  /** One off-chain health pass over the tracked positions after a mark update. */
  readonly healthScanSeconds: Histogram;
  readonly #clock: Clock;
  readonly #startedAtMs: number;
  #progress: BlockProgress | undefined;
  #progressAtMs: number | undefined;
  readonly #conditions = new Map<string, string>();

  /** `defaultLabels` tells keepers apart when several share one scrape, e.g. { keeper: "a" }. */
  constructor(defaultLabels: Record<string, string> = {}, clock: Clock = Date.now) {
    this.#clock = clock;
    this.#startedAtMs = clock();
    const registry = new Registry();
    registry.setDefaultLabels(defaultLabels);
    const registers = [registry];
    const gauge = (name: string, help: string) => new Gauge({ name, help, registers });
    const counter = (name: string, help: string) => new Counter({ name, help, registers });
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, buckets, registers });

    this.registry = registry;
    this.positionsTracked = gauge("perpsim_positions_tracked", "Open positions the keeper tracks");
    this.ordersTracked = gauge("perpsim_orders_tracked", "Live orders the keeper tracks");
    this.liquidationsSent = counter("perpsim_liquidations_sent_total", "Positions sent for liquidation");
    this.liquidationsSucceeded = counter("perpsim_liquidations_succeeded_total", "Positions this keeper liquidated");
    this.liquidationsLostRace = counter(
      "perpsim_liquidations_lost_race_total",
      "Liquidations another keeper made first",
    );
    this.ordersExecuted = counter("perpsim_orders_executed_total", "Limit, take-profit and stop-loss orders executed");
    this.fundingSettled = counter("perpsim_funding_settled_total", "Funding settlements sent and mined");
    this.adl = counter("perpsim_adl_total", "Positions auto-deleveraged");
    this.rpcErrors = counter("perpsim_rpc_errors_total", "RPC transport errors");
    this.reorgs = counter("perpsim_reorgs_total", "Reorgs the keeper rolled its book back for");
    this.chainResets = counter(
      "perpsim_chain_resets_total",
      "Chain resets (deployment block replaced) the keeper rebuilt its state after",
    );
    this.blockLag = gauge("perpsim_block_lag", "Chain head minus the last block the keeper processed");
    this.lastBlock = gauge("perpsim_last_block", "The last block the keeper processed");
    const ageSeconds = () => this.#secondsSince(this.#progressAtMs ?? this.#startedAtMs);
    this.lastProgressAge = new Gauge({
      name: "perpsim_last_progress_age_seconds",
      help: "Seconds since the keeper last caught up with the chain head (since it started, before the first time)",
      registers,
      collect() {
        this.set(ageSeconds());
      },
    });
    this.crossingToLiquidationSeconds = histogram(
      "perpsim_crossing_to_liquidation_seconds",
      "Time from the block whose mark crossed a liquidation price to the block that liquidated it",
      CROSSING_BUCKETS_SECONDS,
    );
    this.healthScanSeconds = histogram(
      "perpsim_health_scan_seconds",
      "Duration of one off-chain health scan after a mark update",
      SCAN_BUCKETS_SECONDS,
    );
  }

  /** Records that the keeper finished `lastBlock` while the chain head was `headBlock`. */
  observeBlock(lastBlock: number, headBlock: number): void {
    const blockLag = Math.max(0, headBlock - lastBlock);
    this.#progress = { lastBlock, headBlock, blockLag };
    this.lastBlock.set(lastBlock);
    this.blockLag.set(blockLag);
  }

  /**
   * Records that the keeper is caught up: it has handled every block up to the head it just polled (a
   * tick through that head completed, or the poll found no new block). The block loop stops calling it
   * while it cannot reach its RPC or its ticks keep failing.
   */
  observeProgress(): void {
    this.#progressAtMs = this.#clock();
  }

  /** Sets (a reason) or clears (undefined) a condition that makes the keeper unhealthy, by name. */
  setCondition(name: string, reason: string | undefined): void {
    if (reason === undefined) this.#conditions.delete(name);
    else this.#conditions.set(name, reason);
  }

  /** The reasons of the conditions set now, oldest first. */
  conditions(): string[] {
    return [...this.#conditions.values()];
  }

  /** The last observation, or undefined before the first block. */
  progress(): BlockProgress | undefined {
    return this.#progress;
  }

  /** Seconds since the last observeProgress, or undefined before the first. */
  lastProgressAgeSeconds(): number | undefined {
    return this.#progressAtMs === undefined ? undefined : this.#secondsSince(this.#progressAtMs);
  }

  #secondsSince(atMs: number): number {
    return (this.#clock() - atMs) / MS_PER_SECOND;
  }

  /** The Prometheus text exposition of every metric. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}
