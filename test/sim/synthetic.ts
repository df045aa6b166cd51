/**
 * A synthetic run of a built-in scenario, made without a chain, for the output and report tests.
 *
 * The spot pool is pushed by the market maker's buys as x*y=k would move it; the index follows
 * spot, the mark follows the index as an EMA, and 40 shorts with 5-20x liquidation distances are
 * liquidated when the mark reaches them. Coarse on purpose: it exercises every field the writers
 * and the report read, with plausible shapes, deterministically from the scenario's seed.
 */
import path from "node:path";
import { toWad, WAD } from "../../sim/decimal";
import {
  assignCascadeRounds,
  cascadeDepth,
  maxLiquidationsPerBlock,
  medianCrossingToLiquidationSec,
  peakMove,
  squeezeEconomics,
} from "../../sim/metrics";
import { Random } from "../../sim/random";
import { loadScenario } from "../../sim/scenario";
import type { AgentPnlSeries, LiquidationEvent, MarketStep, SimulationResult, TimelineRow } from "../../sim/types";

const BPS = 10_000n;
const BLOCKS_PER_STEP = 3;
const SPOT_FEE = toWad("0.003");
const LIQUIDATION_FEE_BPS = 100n;
const KEEPER = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

interface Short {
  id: bigint;
  size: bigint;
  margin: bigint;
  liquidationBps: bigint;
  liquidated: boolean;
}

export const SCENARIOS_DIR = path.join(__dirname, "..", "..", "scenarios");

/** A synthetic result for scenarios/<name>.json (one market, with a market maker). */
export function syntheticRun(name: string): SimulationResult {
  const scenario = loadScenario(path.join(SCENARIOS_DIR, `${name}.json`));
  const market = scenario.markets[0]!;
  const mm = scenario.agents.marketMaker!;
  const random = Random.fromSeed(scenario.seed);
  const p0 = market.initialPrice;
  const y0 = market.spotLiquidityUsd;
  const priceAt = (bps: bigint) => p0 + (p0 * bps) / BPS;

  const shorts: Short[] = Array.from({ length: 40 }, (_, i) => {
    const leverage = BigInt(random.int(5, 20));
    const margin = random.uniformWad(toWad(100), toWad(1000), toWad("0.01"));
    return {
      id: BigInt(i + 1),
      margin,
      size: (margin * leverage * WAD) / p0,
      liquidationBps: BPS / leverage - 100n, // distance 1 / leverage less a 1% maintenance margin
      liquidated: false,
    };
  });

  let usdSide = y0; // spot pool's USD reserve: the price is (y / y0)^2 times the start
  let markBps = 0n;
  let insurance = scenario.insuranceFundUsd;
  let pool = scenario.lp.depositUsd;
  const timeline: TimelineRow[] = [];
  const events: LiquidationEvent[] = [];
  const retail: AgentPnlSeries = { agent: "retail shorts (40)", kind: "retail", points: [] };
  const maker: AgentPnlSeries = { agent: "market maker", kind: "marketMaker", points: [] };
  const lp: AgentPnlSeries = { agent: "LP pool", kind: "lp", points: [] };
  let retailPnl = 0n;

  const steps = scenario.durationSec / scenario.stepSec;
  for (let step = 0; step <= steps; step++) {
    const t = step * scenario.stepSec;
    for (const push of mm.pushes.filter((p) => p.atSec > t - scenario.stepSec && p.atSec <= t && step > 0)) {
      usdSide += push.side === "buy" ? push.usd : -push.usd;
    }
    const spotBps = (usdSide * usdSide * BPS) / (y0 * y0) - BPS;
    const indexBps = spotBps + BigInt(random.int(-5, 5));
    markBps += (indexBps - markBps) / 2n;
    const lastBps = markBps - 15n;

    let liquidations = 0;
    for (const short of shorts.filter((s) => !s.liquidated && markBps >= s.liquidationBps)) {
      short.liquidated = true;
      liquidations += 1;
      const price = priceAt(markBps);
      const notional = (short.size * price) / WAD;
      events.push({
        t,
        block: 1 + step * BLOCKS_PER_STEP + Math.floor(liquidations / 4),
        market: market.symbol,
        positionId: short.id,
        side: "short",
        size: short.size,
        price,
        notional,
        keeper: KEEPER,
        round: 1,
        crossedAt: t - scenario.stepSec / 2,
      });
      insurance += (notional * LIQUIDATION_FEE_BPS) / BPS;
      pool += short.margin - (notional * LIQUIDATION_FEE_BPS) / BPS;
      retailPnl -= short.margin;
    }

    const alive = shorts.filter((s) => !s.liquidated);
    const row: MarketStep = {
      symbol: market.symbol,
      spot: priceAt(spotBps),
      index: priceAt(indexBps),
      mark: priceAt(markBps),
      last: priceAt(lastBps),
      fundingRate: ((lastBps - indexBps) * WAD) / BPS / 8n,
      oiLong:
        t >= (mm.perpPosition?.atSec ?? Infinity) ? (mm.perpPosition!.marginUsd * mm.perpPosition!.leverage) / p0 : 0n,
      oiShort: alive.reduce((sum, s) => sum + s.size, 0n),
      insuranceFund: insurance,
      poolValue: pool,
      liquidations,
    };
    timeline.push({ t, step, block: 1 + step * BLOCKS_PER_STEP, markets: [row] });
    retail.points.push({ t, pnl: retailPnl });
    lp.points.push({ t, pnl: pool - scenario.lp.depositUsd });
    maker.points.push({ t, pnl: (row.oiLong * (row.mark - p0)) / WAD + (usdSide - y0) / 10n });
  }

  const rounded = assignCascadeRounds(events, scenario.keeper.latencyBlocks + 1);
  const series = (pick: (s: MarketStep) => bigint) => timeline.map((row) => pick(row.markets[0]!));
  const liquidatedNotional = rounded.reduce((sum, e) => sum + e.notional, 0n);
  const final = timeline[timeline.length - 1]!.markets[0]!;
  return {
    scenario,
    timeline,
    liquidations: rounded,
    pnl: [retail, maker, lp],
    summary: {
      scenario: scenario.name,
      seed: scenario.seed,
      durationSec: scenario.durationSec,
      stepSec: scenario.stepSec,
      blocks: 1 + steps * BLOCKS_PER_STEP,
      actions: {
        retail: { attempted: shorts.length + 2, done: shorts.length, refused: { SlippageExceeded: 2 } },
        marketMaker: { attempted: mm.pushes.length, done: mm.pushes.length, refused: {} },
        arbitrageur: { attempted: 0, done: 0, refused: {} },
        attacker: { attempted: 0, done: 0, refused: {} },
        oracle: { attempted: steps * 3, done: steps * 3, refused: {} },
        keeper: { attempted: rounded.length, done: rounded.length, refused: {} },
      },
      markets: [
        {
          symbol: market.symbol,
          traders: shorts.length,
          tradersLiquidated: rounded.length,
          liquidations: rounded.length,
          liquidatedNotional,
          tradersLoss: -retailPnl,
          marketMakerCost: mm.pushes.filter((p) => p.side === "buy").reduce((sum, p) => sum + p.usd, 0n),
          marketMakerPnl: maker.points[maker.points.length - 1]!.pnl,
          marketMakerPnlPerp: maker.points[maker.points.length - 1]!.pnl,
          marketMakerPnlSpot: 0n,
          insuranceFundDelta: final.insuranceFund - scenario.insuranceFundUsd,
          poolPnl: final.poolValue - scenario.lp.depositUsd,
          fundingPaidLongs: -toWad("12.5"),
          fundingPaidShorts: toWad("12.5"),
          badDebt: 0n,
          adlCount: 0,
          peakMove: {
            spot: peakMove(
              series((s) => s.spot),
              p0,
            ),
            index: peakMove(
              series((s) => s.index),
              p0,
            ),
            mark: peakMove(
              series((s) => s.mark),
              p0,
            ),
            last: peakMove(
              series((s) => s.last),
              p0,
            ),
          },
          cascadeDepth: cascadeDepth(rounded),
          maxLiquidationsPerBlock: maxLiquidationsPerBlock(rounded),
          medianCrossingToLiquidationSec: medianCrossingToLiquidationSec(rounded),
          squeeze: squeezeEconomics(
            y0,
            SPOT_FEE,
            p0,
            shorts.map((s) => ({
              side: "short" as const,
              notional: (s.size * p0) / WAD,
              liquidationPrice: priceAt(s.liquidationBps),
            })),
          ),
        },
      ],
    },
  };
}
