/**
 * Liquidation job: sends the keeper's crossed positions to `liquidateMany` in batches, all batches at
 * once (the nonce manager numbers them consecutively), and confirms with the lens's health predicate
 * (one static call per chunk, the same predicate `liquidate` checks) the ones the keeper asks about:
 * those the chain refused before (see Keeper). The keeper runs
 * it in rounds: each liquidation moves the skew and so the mark, and positions that become
 * liquidatable because of it are the next round's candidates, which is how a cascade shows up.
 *
 * `liquidateMany` skips a position that is no longer liquidatable instead of reverting, so a batch
 * that lost a race to another keeper is still mined: the ids it did not liquidate are the race lost,
 * counted and logged at info.
 */
import { FastAbi } from "../../lib/abi";
import type { TransactionReceipt } from "ethers";
import type { PerpEngine, PerpLens } from "../../typechain-types";
import { positionIdHex } from "../book";
import type { JobContext } from "./context";
import { describeOutcome, isRpcOutage } from "./context";

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
  /** positions per liquidateMany */
  batchSize: number;
  /** positions per lens.liquidatable() call */
  scanChunk: number;
  /** rounds per tick: the depth of a cascade followed within one tick */
  maxRounds: number;
  dryRun: boolean;
}

/**
 * Gas for liquidateMany without an estimate, fixed per batch size: liquidateMany skips rather than
 * reverts, and an estimate of a 50-position batch is a binary search over as many
 * executions, seconds of latency on a busy node. A batch holds one market's positions: the first
 * liquidation in a market pays for loading it (config, tiers, state, the oracle's sources, funding
 * sync), about 230-260k gas measured on the fuzz's markets with one position; each further one about
 * 30k (the bench measures it). The budget is well above both, and only gas used is paid. A batch that
 * still reverts on its budget is sent again at once with the node's estimate (LiquidationJob).
 */
export const LIQUIDATE_MANY_BASE_GAS = 400_000n;
export const LIQUIDATION_GAS_PER_POSITION = 100_000n;
/** Budgets above this share of the block gas limit are left to the node's estimate instead. */
const MAX_BUDGET_SHARE_PERCENT = 90n;
/** EIP-7825 (osaka): no transaction may ask for more gas than 2^24. */
export const TX_GAS_CAP = 16_777_216n;
/** The largest batch whose budget fits under the per-transaction cap. */
export const MAX_BATCH_SIZE = Number((TX_GAS_CAP - LIQUIDATE_MANY_BASE_GAS) / LIQUIDATION_GAS_PER_POSITION);

/** The gas limit for liquidating `count` positions of one market, or undefined to estimate it. */
export function liquidateManyGas(count: number, blockGasLimit: bigint | undefined): bigint | undefined {
  const budget = LIQUIDATE_MANY_BASE_GAS + LIQUIDATION_GAS_PER_POSITION * BigInt(count);
  if (blockGasLimit === undefined || budget * 100n > blockGasLimit * MAX_BUDGET_SHARE_PERCENT) return undefined;
  if (budget > TX_GAS_CAP) return undefined;
  return budget;
}

const WORD_HEX_DIGITS = 64;
const UINT256_MAX = (1n << 256n) - 1n;
/** The head of a call with one dynamic argument: its offset, one word after the selector. */
const ONE_DYNAMIC_ARG_OFFSET = "20".padStart(WORD_HEX_DIGITS, "0");

/**
 * `liquidateMany(ids)` calldata, written directly: a round of 1,000 ids through ethers' ABI coder takes
 * over 100 ms on a busy machine, all of it between seeing the price move and sending the batches. The
 * ABI of one uint256[] argument is the selector, the offset of the array (one word), its length, and
 * each id as a word; test/keeper/liquidations.test.ts holds it equal to the coder's.
 */
export function encodeLiquidateMany(selector: string, ids: readonly bigint[]): string {
  const words = ids.map((id) => {
    if (id < 0n || id > UINT256_MAX) throw new RangeError(`liquidateMany: id ${id} is not a uint256`);
    return id.toString(16).padStart(WORD_HEX_DIGITS, "0");
  });
  const length = ids.length.toString(16).padStart(WORD_HEX_DIGITS, "0");
  return selector + ONE_DYNAMIC_ARG_OFFSET + length + words.join("");
}

export const DEFAULT_LIQUIDATION_OPTIONS: LiquidationJobOptions = {
  batchSize: 50,
  scanChunk: 400,
  maxRounds: 10,
  dryRun: false,
};

export interface LiquidationResult {
  records: LiquidationRecord[];
  /** Positions sent that this keeper's transactions did not liquidate (another keeper did first). */
  lostRace: bigint[];
  /** A batch could not be sent because the RPC is down: the tick should end and be retried. */
  rpcOutage: boolean;
}

export class LiquidationJob {
  /**
   * Set when a batch reverted as a whole (liquidateMany only skips positions, so something unexpected
   * refused it): the next batches are estimated, so a revert that persists is caught before sending
   * and costs no gas. Cleared by the next batch mined.
   */
  private estimateNext = false;
  private readonly liquidateManySelector: string;

  constructor(
    private readonly engine: PerpEngine,
    private readonly lens: PerpLens,
    private readonly options: LiquidationJobOptions,
    private readonly ctx: JobContext,
  ) {
    this.liquidateManySelector = engine.interface.getFunction("liquidateMany")!.selector;
  }

  /** The ids in `ids` that the lens says are liquidatable now, in the order given. */
  async confirm(ids: readonly bigint[]): Promise<bigint[]> {
    const chunks: bigint[][] = [];
    for (let i = 0; i < ids.length; i += this.options.scanChunk) chunks.push(ids.slice(i, i + this.options.scanChunk));
    const flags = (await Promise.all(chunks.map((c) => this.lens.liquidatable(c)))).flat();
    return ids.filter((_, i) => flags[i]);
  }

  /**
   * Sends each market's ids to liquidateMany in batches that never mix markets (a batch loads its
   * market once); in dry-run only logs what it would send. `blockGasLimit` (the head's) bounds the gas
   * budget of a batch.
   */
  async liquidate(
    byMarket: Iterable<readonly bigint[]>,
    round: number,
    blockGasLimit?: bigint,
  ): Promise<LiquidationResult> {
    const batches: bigint[][] = [];
    const size = Math.min(this.options.batchSize, MAX_BATCH_SIZE);
    for (const ids of byMarket) for (let i = 0; i < ids.length; i += size) batches.push(ids.slice(i, i + size));
    const results = await Promise.all(batches.map((batch) => this.sendBatch(batch, round, blockGasLimit)));
    return {
      records: results.flatMap((r) => r.records),
      lostRace: results.flatMap((r) => r.lostRace),
      rpcOutage: results.some((r) => r.rpcOutage),
    };
  }

  private async sendBatch(ids: bigint[], round: number, blockGasLimit: bigint | undefined): Promise<LiquidationResult> {
    const { transactor, log, metrics } = this.ctx;
    const none: LiquidationResult = { records: [], lostRace: [], rpcOutage: false };
    if (this.ctx.stopping()) return none;
    const label = `liquidateMany(${ids.length})`;
    const request = {
      to: this.engine.target.toString(),
      data: encodeLiquidateMany(this.liquidateManySelector, ids),
      gasLimit: this.estimateNext ? undefined : liquidateManyGas(ids.length, blockGasLimit),
      label,
    };
    let outcome = await transactor.send(request);
    if (outcome.kind === "reverted" && request.gasLimit !== undefined) {
      // liquidateMany skips instead of reverting, so a revert on a budget is most likely the budget
      // running out: the node's estimate decides (and refuses at no cost if something else is wrong).
      log.warn(
        { round, ids: ids.length, ...describeOutcome(outcome) },
        `${label} reverted on its gas budget; estimating`,
      );
      outcome = await transactor.send({ ...request, gasLimit: undefined });
    }
    if (outcome.kind === "dryRun") {
      log.info({ round, ids: ids.map(positionIdHex), gasLimit: outcome.tx.gasLimit }, "dry run: would liquidate");
      return none;
    }
    if (outcome.kind === "notSent") {
      log.warn({ round, ids: ids.length, ...describeOutcome(outcome) }, "liquidation batch not sent");
      return { ...none, rpcOutage: isRpcOutage(outcome) };
    }
    metrics?.liquidationsSent.inc(ids.length);
    if (outcome.kind === "reverted") this.estimateNext = true;
    if (outcome.kind === "mined") this.estimateNext = false;
    if (outcome.kind !== "mined") {
      const level = outcome.kind === "lostRace" ? "info" : "warn";
      log[level]({ round, ids: ids.length, ...describeOutcome(outcome) }, `${label} did not liquidate`);
      if (outcome.kind === "lostRace") metrics?.liquidationsLostRace.inc(ids.length);
      return outcome.kind === "lostRace" ? { ...none, lostRace: ids } : none;
    }
    const records = this.records(outcome.receipt, round);
    const liquidated = new Set(records.map((r) => r.id));
    const lostRace = ids.filter((id) => !liquidated.has(id));
    metrics?.liquidationsSucceeded.inc(records.length);
    if (lostRace.length > 0) {
      metrics?.liquidationsLostRace.inc(lostRace.length);
      log.info(
        { round, lost: lostRace.map(positionIdHex), block: outcome.receipt.blockNumber },
        "lost the race for some positions: already liquidated or healthy again",
      );
    }
    for (const r of records) {
      log.info(
        {
          id: positionIdHex(r.id),
          account: r.account,
          marketId: r.marketId,
          closedSize: r.closedSize,
          markPrice: r.markPrice,
          equity: r.equity,
          reward: r.reward,
          badDebt: r.badDebt,
          block: r.block,
          round,
        },
        "liquidated",
      );
    }
    return { records, lostRace, rpcOutage: false };
  }

  private records(receipt: TransactionReceipt, round: number): LiquidationRecord[] {
    const records: LiquidationRecord[] = [];
    for (const log of receipt.logs) {
      const parsed = FastAbi.of(this.engine.interface).parseLog(log);
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
