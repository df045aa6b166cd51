/**
 * Liquidation job: finds the positions liquidatable at the current mark and sends them to
 * `liquidateMany` in batches. Each liquidation moves the skew and so the mark; positions that become
 * liquidatable because of it are caught by the next round of the same call, which is how a cascade
 * shows up (round n + 1 was caused by round n).
 */
import type { PerpEngine, PerpLens } from "../../typechain-types";
import type { PositionBook } from "../book";

export interface LiquidationRecord {
  id: bigint;
  account: string;
  marketId: bigint;
  closedSize: bigint;
  markPrice: bigint;
  equity: bigint;
  reward: bigint;
  badDebt: bigint;
  block: number;
  round: number;
}

export interface LiquidationJobOptions {
  batchSize: number;
  /** positions per lens.positions() call */
  scanChunk: number;
  maxRounds: number;
  dryRun: boolean;
}

export const DEFAULT_LIQUIDATION_OPTIONS: LiquidationJobOptions = {
  batchSize: 50,
  scanChunk: 400,
  maxRounds: 10,
  dryRun: false,
};

export class LiquidationJob {
  constructor(
    private readonly engine: PerpEngine,
    private readonly lens: PerpLens,
    private readonly options: LiquidationJobOptions = DEFAULT_LIQUIDATION_OPTIONS,
  ) {}

  /** The ids in `ids` that the lens says are liquidatable now. */
  async scan(ids: readonly bigint[]): Promise<bigint[]> {
    const chunks: bigint[][] = [];
    for (let i = 0; i < ids.length; i += this.options.scanChunk) chunks.push(ids.slice(i, i + this.options.scanChunk));
    const flags = await Promise.all(chunks.map((c) => this.lens.liquidatable(c)));
    return chunks.flat().filter((_, i) => flags.flat()[i]);
  }

  /** Liquidates round after round until nothing is liquidatable; in dry-run only the first scan. */
  async run(book: PositionBook, onRound?: (round: number, ids: bigint[]) => void): Promise<LiquidationRecord[]> {
    const done: LiquidationRecord[] = [];
    const gone = new Set<bigint>();
    for (let round = 1; round <= this.options.maxRounds; round++) {
      const candidates = await this.scan(book.ids().filter((id) => !gone.has(id)));
      if (candidates.length === 0) break;
      onRound?.(round, candidates);
      if (this.options.dryRun) break;
      for (let i = 0; i < candidates.length; i += this.options.batchSize) {
        const batch = candidates.slice(i, i + this.options.batchSize);
        const records = await this.send(batch, round);
        for (const r of records) {
          done.push(r);
          if (r.closedSize === book.get(r.id)?.size) gone.add(r.id);
        }
      }
    }
    return done;
  }

  private async send(ids: bigint[], round: number): Promise<LiquidationRecord[]> {
    const receipt = await (await this.engine.liquidateMany(ids)).wait();
    if (!receipt) return [];
    const records: LiquidationRecord[] = [];
    for (const log of receipt.logs) {
      const parsed = this.engine.interface.parseLog(log);
      if (parsed?.name !== "Liquidation") continue;
      const a = parsed.args;
      records.push({
        id: a.id,
        account: a.account,
        marketId: a.marketId,
        closedSize: a.closedSize,
        markPrice: a.markPrice,
        equity: a.equity,
        reward: a.reward,
        badDebt: a.badDebt,
        block: receipt.blockNumber,
        round,
      });
    }
    return records;
  }
}
