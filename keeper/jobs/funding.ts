/**
 * Funding job: settles each market whose next funding boundary (stored lastFundingTime + interval) the
 * keeper's clock has reached. settleFunding is a no-op before the boundary and catches up every
 * missed interval in O(1), so a keeper that was down loses nothing: the first tick after it comes
 * back settles them all.
 */
import { FastAbi } from "../../lib/abi";
import type { PerpEngine } from "../../typechain-types";
import type { MarketSnapshot } from "../markets";
import type { JobContext } from "./context";
import { describeOutcome, isRpcOutage } from "./context";

export interface FundingSettlement {
  marketId: bigint;
  rate: bigint;
  intervals: bigint;
  /** the last boundary settled, seconds */
  boundary: bigint;
  block: number;
}

export interface FundingResult {
  settled: FundingSettlement[];
  rpcOutage: boolean;
}

/** The markets whose funding boundary has passed at the snapshot's clock. */
export function dueForFunding(markets: Iterable<MarketSnapshot>): bigint[] {
  const due: bigint[] = [];
  for (const m of markets) {
    if (m.stored.lastFundingTime + m.config.fundingInterval <= m.nowSec) due.push(m.marketId);
  }
  return due;
}

export class FundingJob {
  constructor(
    private readonly engine: PerpEngine,
    private readonly ctx: JobContext,
  ) {}

  async run(markets: ReadonlyMap<bigint, MarketSnapshot>): Promise<FundingResult> {
    const { transactor, log, metrics } = this.ctx;
    const settled: FundingSettlement[] = [];
    for (const marketId of dueForFunding(markets.values())) {
      if (this.ctx.stopping()) break;
      const m = markets.get(marketId)!;
      const boundary = m.stored.lastFundingTime + m.config.fundingInterval;
      const outcome = await transactor.send({
        to: this.engine.target.toString(),
        data: this.engine.interface.encodeFunctionData("settleFunding", [marketId]),
        label: `settleFunding(${marketId})`,
      });
      if (outcome.kind === "dryRun") {
        log.info({ marketId, boundary }, "dry run: would settle funding");
        continue;
      }
      if (outcome.kind !== "mined") {
        log.warn({ marketId, boundary, ...describeOutcome(outcome) }, "funding settlement failed");
        if (isRpcOutage(outcome)) return { settled, rpcOutage: true };
        continue;
      }
      const receipt = outcome.receipt;
      let found = false;
      for (const entry of receipt.logs) {
        const parsed = FastAbi.of(this.engine.interface).parseLog(entry);
        if (parsed?.name !== "FundingSettled") continue;
        found = true;
        const a = parsed.args;
        settled.push({
          marketId: a.marketId,
          rate: a.rate,
          intervals: a.intervals,
          boundary: a.boundary,
          block: receipt.blockNumber,
        });
        metrics?.fundingSettled.inc();
        log.info(
          {
            marketId: a.marketId,
            rate: a.rate,
            intervals: a.intervals,
            boundary: a.boundary,
            block: receipt.blockNumber,
          },
          "funding settled",
        );
      }
      // Someone else's transaction in between settled it first: a race lost, nothing to do.
      if (!found)
        log.info({ marketId, boundary, block: receipt.blockNumber }, "funding already settled by another caller");
    }
    return { settled, rpcOutage: false };
  }
}
