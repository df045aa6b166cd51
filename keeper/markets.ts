/**
 * One read of each market per block: its config, tiers and stored state from the engine and its index
 * from the oracle, all at the same block and issued together (a batching provider sends them as one
 * JSON-RPC batch), then projected to the keeper's clock with lib/math's projectMarket, the same
 * MarketLib.asOfNow the engine runs at the start of every transaction. The projection is
 * what a liquidation, an order execution or a funding settlement sent now would see.
 */
import type { ContractRunner } from "ethers";
import {
  fundingModelOf,
  marketConfigFromChain,
  marketStateFromChain,
  projectMarket,
  tiersFromChain,
} from "../lib/math";
import type { FundingModel, MarketConfig, MarketProjection, MarketState, Tier } from "../lib/math";
import type { Oracle, PerpEngineAdmin } from "../typechain-types";
import { IFundingModel__factory } from "../typechain-types";

export interface MarketSnapshot {
  marketId: bigint;
  config: MarketConfig;
  tiers: Tier[];
  /** The state as stored, before this block's sync. */
  stored: MarketState;
  /**
   * The index a transaction uses: the oracle's while a source is fresh, else its last one
   * (`lastIndexPrice`, 0 if there never was one), with the last second a source was fresh.
   */
  index: bigint;
  fresh: boolean;
  freshUntil: bigint;
  /** The state synced to `nowSec`, with the index, last and mark prices a transaction would see. */
  projected: MarketProjection;
  /** The keeper's clock, seconds. */
  nowSec: bigint;
  /** The block the reads were made at. */
  block: number;
}

/**
 * Whether the engine takes liquidations on the market now: its index is fresh, or the oracle went stale
 * no longer than the grace period ago (PerpEngine._load). Past that every liquidation reverts with
 * NoFreshPrice, whatever the lens's health predicate says, so the keeper sends none.
 */
export function canLiquidate(m: MarketSnapshot): boolean {
  if (m.fresh) return true;
  return m.index !== 0n && m.nowSec - m.freshUntil <= m.config.oracleGracePeriod;
}

/** Where the keeper's per-block market reads come from: a MarketReader, or a host that already read them. */
export interface MarketSource {
  /** Every market in `marketIds`, read at `block` and projected to `nowSec`. */
  read(marketIds: Iterable<bigint>, block: number, nowSec: bigint): Promise<Map<bigint, MarketSnapshot>>;
  /** The vault's pool assets at `block` (the ADL job's other input); the keeper reads the vault unless given. */
  poolAssets?(block: number): Promise<bigint>;
}

export class MarketReader implements MarketSource {
  /** Strategy contracts never change what they compute: their names are read once per address. */
  private readonly fundingModels = new Map<string, Promise<FundingModel>>();

  constructor(
    private readonly admin: PerpEngineAdmin,
    private readonly oracle: Oracle,
    private readonly runner: ContractRunner,
  ) {}

  /** Every market in `marketIds`, read at `block` and projected to `nowSec`. */
  async read(marketIds: Iterable<bigint>, block: number, nowSec: bigint): Promise<Map<bigint, MarketSnapshot>> {
    const snapshots = await Promise.all([...marketIds].map((id) => this.readOne(id, block, nowSec)));
    return new Map(snapshots.map((s) => [s.marketId, s]));
  }

  private async readOne(marketId: bigint, block: number, nowSec: bigint): Promise<MarketSnapshot> {
    const at = { blockTag: block };
    const [rawConfig, rawTiers, rawState, [oracleIndex, fresh]] = await Promise.all([
      this.admin.marketConfig(marketId, at),
      this.admin.tiers(marketId, at),
      this.admin.marketState(marketId, at),
      this.oracle.indexPrice(marketId, at),
    ]);
    const config = marketConfigFromChain(rawConfig, await this.fundingModel(rawConfig.fundingModel));
    const stored = marketStateFromChain(rawState);
    const isFresh = fresh !== 0n;
    // Stale: one more read, only then.
    const [index, freshUntil] = isFresh ? [oracleIndex, nowSec] : await this.oracle.lastIndexPrice(marketId, at);
    return {
      marketId,
      config,
      tiers: tiersFromChain(rawTiers),
      stored,
      index,
      fresh: isFresh,
      freshUntil,
      projected: projectMarket(config, stored, index, nowSec),
      nowSec,
      block,
    };
  }

  private fundingModel(address: string): Promise<FundingModel> {
    let name = this.fundingModels.get(address);
    if (name === undefined) {
      name = IFundingModel__factory.connect(address, this.runner).name().then(fundingModelOf);
      name.catch(() => this.fundingModels.delete(address));
      this.fundingModels.set(address, name);
    }
    return name;
  }
}
