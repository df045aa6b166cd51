/**
 * The simulator's shell around the chain: it turns an agent's intent into one transaction from the
 * agent's address and says how it ended (done, or the custom error that refused it), and it reads a
 * market once (its stored state and its index) to project it with lib/math, the engine's own math.
 *
 * Transactions go out as raw `eth_sendTransaction` calls from impersonated accounts with a fixed gas
 * limit: no estimate, no signer round trips, nothing ethers would ask the node besides the send itself.
 * With automine the call returns once its block is mined, and a revert comes back as the error.
 */
import type { EthereumProvider } from "hardhat/types";
import { Interface } from "ethers";
import type { Exchange, MarketHandles } from "../lib/contracts";
import { decodeRevert } from "../lib/revert";
import { MarketReader } from "../keeper/markets";
import { marketStateFromChain, projectMarket, type MarketConfig, type Tier } from "../lib/math";
import type { Intent, Outcome } from "./agents/intents";
import { DONE } from "./agents/intents";
import { PerpEngine__factory, PushPriceFeed__factory, SpotPool__factory } from "../typechain-types";
import type { MarketView } from "./agents/view";

/** Gas limit of every simulated transaction (no estimate: ethers would run each one twice). */
export const SIM_TX_GAS = 5_000_000n;
const SIM_TX_GAS_HEX = "0x" + SIM_TX_GAS.toString(16);

/** A market's parts that never change during a run, read once. */
interface StaticMarket {
  handles: MarketHandles;
  config: MarketConfig;
  tiers: Tier[];
}

/** A call's target and calldata. */
export interface Call {
  to: string;
  data: string;
}

export class SimChain {
  private readonly markets = new Map<string, StaticMarket>();
  private readonly venues = new Map<string, string[]>();
  private readonly engine: Interface;
  private readonly spot: Interface;
  private readonly feed: Interface;

  private constructor(
    private readonly provider: EthereumProvider,
    readonly ex: Exchange,
  ) {
    this.engine = PerpEngine__factory.createInterface();
    this.spot = SpotPool__factory.createInterface();
    this.feed = PushPriceFeed__factory.createInterface();
  }

  /** Reads every market's configuration and tiers once. */
  static async connect(provider: EthereumProvider, ex: Exchange): Promise<SimChain> {
    const chain = new SimChain(provider, ex);
    const runner = ex.admin.runner!;
    const reader = new MarketReader(ex.admin, ex.oracle, runner);
    const block = Number(await provider.send("eth_blockNumber", []));
    const handles = [...ex.markets.values()];
    const snapshots = await reader.read(
      handles.map((h) => h.marketId),
      block,
      0n,
    );
    for (const h of handles) {
      const s = snapshots.get(h.marketId)!;
      chain.markets.set(h.symbol, { handles: h, config: s.config, tiers: s.tiers });
    }
    return chain;
  }

  handles(symbol: string): MarketHandles {
    return this.static(symbol).handles;
  }

  config(symbol: string): MarketConfig {
    return this.static(symbol).config;
  }

  /** Sends `call` from `from` and returns how it ended; anything but a revert (a dead node) throws. */
  async send(from: string, call: Call): Promise<Outcome> {
    try {
      await this.provider.send("eth_sendTransaction", [{ from, to: call.to, data: call.data, gas: SIM_TX_GAS_HEX }]);
      return DONE;
    } catch (error) {
      const revert = decodeRevert(error);
      if (revert === undefined) throw error;
      return { kind: "refused", error: revert.name, message: revert.message };
    }
  }

  /** The transaction an intent of `from` is. */
  callOf(intent: Intent, from: string): Call {
    const engine = this.ex.deployment.contracts.engine;
    const m = this.static(intent.symbol).handles;
    const id = m.marketId;
    switch (intent.kind) {
      case "increase":
        return {
          to: engine,
          data: this.engine.encodeFunctionData("increasePosition", [
            id,
            intent.sizeDelta,
            intent.margin,
            intent.acceptablePrice,
          ]),
        };
      case "decrease":
        return {
          to: engine,
          data: this.engine.encodeFunctionData("decreasePosition", [id, intent.size, intent.acceptablePrice]),
        };
      case "close":
        return { to: engine, data: this.engine.encodeFunctionData("closePosition", [id, intent.acceptablePrice]) };
      case "addMargin":
        return { to: engine, data: this.engine.encodeFunctionData("addMargin", [id, intent.amount]) };
      case "removeMargin":
        return { to: engine, data: this.engine.encodeFunctionData("removeMargin", [id, intent.amount]) };
      case "settleFunding":
        return { to: engine, data: this.engine.encodeFunctionData("settleFunding", [id]) };
      case "spotBuy":
        return { to: this.venue(intent.symbol, intent.venue), data: this.spotSwap(true, intent.usd6, from) };
      case "spotSell":
        return { to: this.venue(intent.symbol, intent.venue), data: this.spotSwap(false, intent.coins, from) };
      case "pushPrice":
        return {
          to: m.pushedFeeds[intent.feed]!.target as string,
          data: this.feed.encodeFunctionData("setPrice", [intent.answer]),
        };
    }
  }

  /** Reads the market's stored state and index once and projects it to `nowSec`. */
  async readMarket(symbol: string, nowSec: bigint): Promise<MarketView> {
    const { handles, config, tiers } = this.static(symbol);
    const id = handles.marketId;
    const [rawState, [oracleIndex, fresh]] = await Promise.all([
      this.ex.admin.marketState(id),
      this.ex.oracle.indexPrice(id),
    ]);
    const index = fresh !== 0n ? oracleIndex : (await this.ex.oracle.lastIndexPrice(id))[0];
    return {
      symbol,
      marketId: id,
      nowSec,
      projected: projectMarket(config, marketStateFromChain(rawState), index, nowSec),
      tiers,
      skewScale: config.skewScale,
      takerFee: config.takerFee,
    };
  }

  /** The extra spot venues of a market (SPEC 9.4), venue 1 onwards; venue 0 is its spot pool. */
  setVenues(symbol: string, pools: readonly string[]): void {
    this.venues.set(symbol, [this.static(symbol).handles.spotPool.target as string, ...pools]);
  }

  /** The address of a market's spot venue `venue` (0, the default: the market's own pool). */
  venue(symbol: string, venue = 0): string {
    const pools = this.venues.get(symbol) ?? [this.static(symbol).handles.spotPool.target as string];
    const pool = pools[venue];
    if (pool === undefined) throw new Error(`market ${symbol} has ${pools.length} spot venue(s); no venue ${venue}`);
    return pool;
  }

  /** A swap of `amountIn` paying its output to `to`; no minimum (the pusher takes what the pool gives). */
  private spotSwap(buyCoin: boolean, amountIn: bigint, to: string): string {
    return this.spot.encodeFunctionData("swap", [buyCoin, amountIn, 0n, to]);
  }

  private static(symbol: string): StaticMarket {
    const m = this.markets.get(symbol);
    if (m === undefined) throw new Error(`the scenario names market ${symbol}, which was not deployed`);
    return m;
  }
}
