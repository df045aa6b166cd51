/**
 * Funding job: settles each market whose next funding boundary has passed. settleFunding is a no-op
 * before the boundary and catches up missed intervals, so a keeper that was down loses nothing.
 */
import type { PerpEngine, PerpLens } from "../../typechain-types";

export interface FundingSettlement {
  marketId: bigint;
  rate: bigint;
  intervals: bigint;
  block: number;
}

export class FundingJob {
  constructor(
    private readonly engine: PerpEngine,
    private readonly lens: PerpLens,
    private readonly dryRun = false,
  ) {}

  /** Next boundary per market, read once and again only after it passes. */
  private readonly nextBoundary = new Map<bigint, bigint>();

  async run(marketIds: readonly bigint[], nowSec: number): Promise<FundingSettlement[]> {
    const due = [];
    for (const id of marketIds) {
      let next = this.nextBoundary.get(id);
      if (next === undefined || next <= BigInt(nowSec)) {
        next = (await this.lens.market(id)).nextFundingTime;
        this.nextBoundary.set(id, next);
      }
      if (next <= BigInt(nowSec)) due.push(id);
    }
    if (this.dryRun) return [];
    const settled: FundingSettlement[] = [];
    for (const id of due) {
      const receipt = await (await this.engine.settleFunding(id)).wait();
      for (const log of receipt?.logs ?? []) {
        const parsed = this.engine.interface.parseLog(log);
        if (parsed?.name !== "FundingSettled") continue;
        settled.push({ marketId: id, rate: parsed.args.rate, intervals: parsed.args.intervals, block: receipt!.blockNumber });
      }
      this.nextBoundary.delete(id);
    }
    return settled;
  }
}
