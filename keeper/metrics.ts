/**
 * The keeper's Prometheus metrics, in a registry of its own (never prom-client's global one), so
 * several keepers can run in one process, as they do in the simulator and in race tests.
 *
 * One keeper process serves several venues (the USD-margined exchange and each coin-margined one, see
 * keeper/venues.ts): every metric of a venue's work carries a `venue` label ("USD", "BTC", "ALT"), and
 * `venue(name)` hands a venue's Keeper its own series (VenueMetrics). The RPC's errors are the process's.
 *
 * It also remembers what the health endpoint judges: per venue, the last block processed against the
 * chain head and when it last made progress (read from an injected clock, so tests move time); for the
 * process, the conditions that keep it from doing its job whatever its progress (`setCondition`: the RPC
 * unreachable at start, a signer that cannot pay for a batch, a chain change being resolved), each with
 * its reason.
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

/** The label that tells venues apart ("USD", "BTC", "ALT": keeper/config.ts's venue names). */
export const VENUE_LABEL = "venue";

type VenueLabel = typeof VENUE_LABEL;

/** A counter, gauge or histogram series of one venue (prom-client's labelled child). */
export interface CounterSeries {
  inc(value?: number): void;
}
export interface GaugeSeries {
  set(value: number): void;
}
export interface HistogramSeries {
  observe(value: number): void;
}

/**
 * One venue's series and progress. The Keeper and its jobs count into it; the block loop records the
 * venue's progress in it; /health judges it.
 */
export class VenueMetrics {
  readonly positionsTracked: GaugeSeries;
  readonly ordersTracked: GaugeSeries;
  readonly liquidationsSent: CounterSeries;
  readonly liquidationsSucceeded: CounterSeries;
  readonly liquidationsLostRace: CounterSeries;
  readonly ordersExecuted: CounterSeries;
  readonly fundingSettled: CounterSeries;
  readonly adl: CounterSeries;
  readonly reorgs: CounterSeries;
  readonly chainResets: CounterSeries;
  readonly crossingToLiquidationSeconds: HistogramSeries;
  readonly healthScanSeconds: HistogramSeries;
  readonly #blockLag: GaugeSeries;
  readonly #lastBlock: GaugeSeries;
  readonly #clock: Clock;
  readonly #startedAtMs: number;
  #progress: BlockProgress | undefined;
  #progressAtMs: number | undefined;

  constructor(
    readonly name: string,
    families: KeeperMetrics,
    clock: Clock,
  ) {
    const labels = { [VENUE_LABEL]: name };
    const counter = (family: Counter<VenueLabel>) => (family.inc(labels, 0), family.labels(labels));
    const gauge = (family: Gauge<VenueLabel>) => (family.set(labels, 0), family.labels(labels));
    const histogram = (family: Histogram<VenueLabel>) => (family.zero(labels), family.labels(labels));
    this.positionsTracked = gauge(families.positionsTracked);
    this.ordersTracked = gauge(families.ordersTracked);
    this.liquidationsSent = counter(families.liquidationsSent);
    this.liquidationsSucceeded = counter(families.liquidationsSucceeded);
    this.liquidationsLostRace = counter(families.liquidationsLostRace);
    this.ordersExecuted = counter(families.ordersExecuted);
    this.fundingSettled = counter(families.fundingSettled);
    this.adl = counter(families.adl);
    this.reorgs = counter(families.reorgs);
    this.chainResets = counter(families.chainResets);
    this.crossingToLiquidationSeconds = histogram(families.crossingToLiquidationSeconds);
    this.healthScanSeconds = histogram(families.healthScanSeconds);
    this.#blockLag = gauge(families.blockLag);
    this.#lastBlock = gauge(families.lastBlock);
    this.#clock = clock;
    this.#startedAtMs = clock();
  }

  /** Records that the venue's keeper finished `lastBlock` while the chain head was `headBlock`. */
  observeBlock(lastBlock: number, headBlock: number): void {
    const blockLag = Math.max(0, headBlock - lastBlock);
    this.#progress = { lastBlock, headBlock, blockLag };
    this.#lastBlock.set(lastBlock);
    this.#blockLag.set(blockLag);
  }

  /**
   * Records that the venue's keeper is caught up: it has handled every block up to the head just polled
   * (a tick through that head completed, or the poll found no new block). The block loop stops calling
   * it while it cannot reach its RPC or the venue's ticks keep failing.
   */
  observeProgress(): void {
    this.#progressAtMs = this.#clock();
  }

  /** The last observation, or undefined before the first block. */
  progress(): BlockProgress | undefined {
    return this.#progress;
  }

  /** Seconds since the last observeProgress, or undefined before the first. */
  lastProgressAgeSeconds(): number | undefined {
    return this.#progressAtMs === undefined ? undefined : this.#secondsSince(this.#progressAtMs);
  }

  /** Seconds since the last progress, or since the venue's metrics were made before the first. */
  ageSeconds(): number {
    return this.#secondsSince(this.#progressAtMs ?? this.#startedAtMs);
  }

  #secondsSince(atMs: number): number {
    return (this.#clock() - atMs) / MS_PER_SECOND;
  }
}

export class KeeperMetrics {
  readonly registry: Registry;
  readonly positionsTracked: Gauge<VenueLabel>;
  readonly ordersTracked: Gauge<VenueLabel>;
  readonly liquidationsSent: Counter<VenueLabel>;
  readonly liquidationsSucceeded: Counter<VenueLabel>;
  readonly liquidationsLostRace: Counter<VenueLabel>;
  readonly ordersExecuted: Counter<VenueLabel>;
  readonly fundingSettled: Counter<VenueLabel>;
  readonly adl: Counter<VenueLabel>;
  /** The process's: every venue reads through the same RPC. */
  readonly rpcErrors: Counter;
  readonly reorgs: Counter<VenueLabel>;
  readonly chainResets: Counter<VenueLabel>;
  readonly blockLag: Gauge<VenueLabel>;
  readonly lastBlock: Gauge<VenueLabel>;
  /** Computed at each scrape from the clock, so it keeps growing while a venue is stuck or blind. */
  readonly lastProgressAge: Gauge<VenueLabel>;
  /** From the block whose mark made a position liquidatable to the block that liquidated it. */
  readonly crossingToLiquidationSeconds: Histogram<VenueLabel>;
  /** One off-chain health pass over the tracked positions after a mark update. */
  readonly healthScanSeconds: Histogram<VenueLabel>;
  readonly #clock: Clock;
  readonly #venues = new Map<string, VenueMetrics>();
  readonly #conditions = new Map<string, string>();

  /** `defaultLabels` tells keepers apart when several share one scrape, e.g. { keeper: "a" }. */
  constructor(defaultLabels: Record<string, string> = {}, clock: Clock = Date.now) {
    this.#clock = clock;
    const registry = new Registry();
    registry.setDefaultLabels(defaultLabels);
    const registers = [registry];
    const labelNames = [VENUE_LABEL] as const;
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames, registers });
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames, registers });
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram({ name, help, buckets, labelNames, registers });

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
    this.rpcErrors = new Counter({ name: "perpsim_rpc_errors_total", help: "RPC transport errors", registers });
    this.reorgs = counter("perpsim_reorgs_total", "Reorgs the keeper rolled its book back for");
    this.chainResets = counter(
      "perpsim_chain_resets_total",
      "Chain resets (deployment block replaced) the keeper rebuilt its state after",
    );
    this.blockLag = gauge("perpsim_block_lag", "Chain head minus the last block the keeper processed");
    this.lastBlock = gauge("perpsim_last_block", "The last block the keeper processed");
    const venues = this.#venues;
    this.lastProgressAge = new Gauge({
      name: "perpsim_last_progress_age_seconds",
      help: "Seconds since the keeper last caught up with the chain head (since it started, before the first time)",
      labelNames,
      registers,
      collect() {
        for (const venue of venues.values()) this.set({ [VENUE_LABEL]: venue.name }, venue.ageSeconds());
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

  /** The series of venue `name`, made (at zero) on first use. */
  venue(name: string): VenueMetrics {
    let venue = this.#venues.get(name);
    if (venue === undefined) {
      venue = new VenueMetrics(name, this, this.#clock);
      this.#venues.set(name, venue);
    }
    return venue;
  }

  /** Every venue's series, in the order first asked for. */
  venues(): VenueMetrics[] {
    return [...this.#venues.values()];
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

  /** The Prometheus text exposition of every metric. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}
