/**
 * The keeper engine: one `tick()` per new block brings the position book up to the chain head, settles
 * funding at boundaries and liquidates what is liquidatable. The CLI (keeper/main.ts) runs it against
 * a JSON-RPC node; the simulator runs the same class in-process.
 */
import type { Signer } from "ethers";
import type { Exchange } from "../lib/contracts";
import { PositionBook } from "./book";
import { EventIndexer } from "./indexer";
import { FundingJob, type FundingSettlement } from "./jobs/funding";
import {
  DEFAULT_LIQUIDATION_OPTIONS,
  LiquidationJob,
  type LiquidationJobOptions,
  type LiquidationRecord,
} from "./jobs/liquidations";

export interface KeeperOptions extends LiquidationJobOptions {
  fromBlock: number;
}

export interface TickReport {
  block: number;
  positionsTracked: number;
  liquidations: LiquidationRecord[];
  funding: FundingSettlement[];
}

export class Keeper {
  readonly book = new PositionBook();
  private readonly indexer: EventIndexer;
  private readonly liquidations: LiquidationJob;
  private readonly funding: FundingJob;
  private readonly marketIds: bigint[];

  constructor(
    exchange: Exchange,
    private readonly signer: Signer,
    options: Partial<KeeperOptions> & { fromBlock: number },
  ) {
    const opts = { ...DEFAULT_LIQUIDATION_OPTIONS, ...options };
    const engine = exchange.engine.connect(signer);
    this.indexer = new EventIndexer(exchange.engine, opts.fromBlock);
    this.liquidations = new LiquidationJob(engine, exchange.lens, opts);
    this.funding = new FundingJob(engine, exchange.lens, opts.dryRun);
    this.marketIds = [...exchange.markets.values()].map((m) => m.marketId);
  }

  /** Brings the book up to the head without acting (a keeper that only watches). */
  async syncOnly(): Promise<void> {
    await this.indexer.syncTo(await this.signer.provider!.getBlockNumber(), this.book);
  }

  async tick(): Promise<TickReport> {
    const provider = this.signer.provider!;
    const head = await provider.getBlock("latest");
    if (!head) throw new Error("no latest block");
    await this.indexer.syncTo(head.number, this.book);
    const funding = await this.funding.run(this.marketIds, head.timestamp);
    const liquidations = await this.liquidations.run(this.book);
    const last = await provider.getBlockNumber();
    await this.indexer.syncTo(last, this.book);
    return { block: last, positionsTracked: this.book.size, liquidations, funding };
  }
}
