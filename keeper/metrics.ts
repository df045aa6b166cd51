/**
 * The keeper's Prometheus metrics, in a registry of its own (never prom-client's global one), so
 * several keepers can run in one process, as they do in the simulator and in race tests.
 *
 * It also remembers the last block the keeper processed against the chain head, which is what
 * the health endpoint judges.
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
  readonly blockLag: Gauge;
  readonly lastBlock: Gauge;
  /** From the block whose mark made a position liquidatable to the block that liquidated it. */
  readonly crossingToLiquidationSeconds: Histogram;
  /** One off-chain health pass over the tracked positions after a mark update. */
  readonly healthScanSeconds: Histogram;
  #progress: BlockProgress | undefined;

  /** `defaultLabels` tells keepers apart when several share one scrape, e.g. { keeper: "a" }. */
  constructor(defaultLabels: Record<string, string> = {}) {
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
    this.blockLag = gauge("perpsim_block_lag", "Chain head minus the last block the keeper processed");
    this.lastBlock = gauge("perpsim_last_block", "The last block the keeper processed");
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

  /** The last observation, or undefined before the first block. */
  progress(): BlockProgress | undefined {
    return this.#progress;
  }

  /** The Prometheus text exposition of every metric. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}
