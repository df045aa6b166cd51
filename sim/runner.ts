/**
 * Runs a scenario on real contract code: deploys the exchange the scenario describes, then steps time
 * through block timestamps. Each step, in order: the market maker's spot pushes, the pushed feeds
 * follow the spot pool (through the TWAP window when the scenario sets one), the premium is sampled,
 * retail traders enter and manage their positions (TP/SL, adding margin), the arbitrageur leans against
 * the premium, and the keeper engine (the same class the keeper CLI runs) settles funding and
 * liquidates after its latency. A timeline row is recorded after every step.
 *
 * On the in-process Hardhat network the chain is reset and the clock set to a fixed epoch first, so a
 * seed gives the same chain, and the same summary.json, on every run.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { Signer } from "ethers";
import { id as keccakId, getAddress } from "ethers";
import { clearSnapshots } from "@nomicfoundation/hardhat-network-helpers";
import { deploySystem, type SystemSpec } from "../lib/deploy";
import type { Exchange, MarketHandles } from "../lib/contracts";
import { ALT_USD, type MarketSpec } from "../lib/markets";
import { USD6_TO_WAD, WAD } from "../lib/units";
import { Keeper } from "../keeper/keeper";
import { Random } from "./random";
import { BlockClock } from "./clock";
import { formatWad } from "./decimal";
import { mechanismSpec } from "./mechanisms";
import type { Scenario, RetailGroup } from "./scenario";
import type {
  AgentPnlSeries,
  LiquidationEvent,
  MarketStep,
  MarketSummary,
  SimulationResult,
  TimelineRow,
} from "./types";
import {
  assignCascadeRounds,
  cascadeDepth,
  maxLiquidationsPerBlock,
  medianCrossingToLiquidationSec,
  peakMove,
  squeezeEconomics,
  type PositionAtRisk,
} from "./metrics";

/** 2100-01-01T00:00:00Z, a multiple of every funding interval in hours: boundaries fall on round hours. */
export const SIM_EPOCH_SEC = 4_102_444_800;
const BPS = 10_000n;
const SPOT_FEE = (WAD * 3n) / 1000n;
/** Retail slippage bound on market orders. */
const RETAIL_SLIPPAGE = WAD / 20n;
/** A trader who adds margin does so when the mark is this close to the liquidation price. */
const ADD_MARGIN_DISTANCE = (WAD * 3n) / 100n;
/** Sim transactions carry a gas limit so ethers does not estimate (run) each one twice first. */
const TX = { gasLimit: 5_000_000n };
/** Points on each agents' PnL line: enough for the chart, few enough to keep steps cheap. */
const PNL_POINTS = 96;
/** The arbitrageur's leverage. */
const ARB_LEVERAGE = 3n;

export interface RunOptions {
  seed?: number;
  onStep?: (step: number, total: number) => void;
}

interface RetailAgent {
  name: string;
  group: RetailGroup;
  signer: Signer;
  address: string;
  market: MarketHandles;
  entrySec: number;
  leverage: bigint;
  margin: bigint;
  deposit: bigint;
  addsMargin: boolean;
  addedMargin: boolean;
  positionId: bigint;
  opened: boolean;
  closed: boolean;
}

interface MarketTrack {
  handles: MarketHandles;
  symbol: string;
  prevFundingIndex: bigint;
  prevOiLong: bigint;
  prevOiShort: bigint;
  fundingPaidLongs: bigint;
  fundingPaidShorts: bigint;
  liquidationsInStep: number;
}

/** The on-chain exchange a scenario describes. */
export function systemSpecOf(s: Scenario): SystemSpec {
  const markets: MarketSpec[] = s.markets.map((m) => {
    const base = m.symbol.split("-")[0]!;
    return {
      ...ALT_USD,
      symbol: m.symbol,
      coinName: base,
      coinSymbol: base,
      initialPrice: formatWad(m.initialPrice),
      spotLiquidityUsd: formatWad(m.spotLiquidityUsd),
      skewScale: formatWad(m.skewScale),
      maxOpenInterest: formatWad(m.protections.oiCap > 0n ? m.protections.oiCap : m.maxOpenInterest),
      tiers: m.tiers.map((t) => ({
        notionalCap: formatWad(t.notionalCap),
        mmr: formatWad(t.mmr),
        maxLeverage: formatWad(t.maxLeverage),
      })),
      takerFee: formatWad(m.fees.taker),
      makerFee: formatWad(m.fees.maker),
      fundingIntervalSeconds: m.fundingIntervalSec,
      markBand: formatWad(m.protections.priceBand),
      twapWindowSeconds: m.protections.twapWindowSec,
      maxPriceDeviation: formatWad(m.protections.maxPriceDeviationPerUpdate),
      pushedFeeds: m.feeds.pushed,
      pushedFeedHeartbeatSeconds: Math.max(3600, s.stepSec * 4),
      oracleGracePeriodSeconds: Math.max(3600, s.stepSec * 4),
      ...mechanismSpec(m),
    };
  });
  return { markets, lpDepositUsd: formatWad(s.lp.depositUsd), insuranceFundUsd: formatWad(s.insuranceFundUsd) };
}

export async function runScenario(
  hre: HardhatRuntimeEnvironment,
  scenario: Scenario,
  options: RunOptions = {},
): Promise<SimulationResult> {
  const seed = options.seed ?? scenario.seed;
  const provider = hre.ethers.provider;
  const inProcess = hre.network.name === "hardhat";
  if (inProcess) {
    // A reset voids every snapshot taken before it, including loadFixture's cache.
    await provider.send("hardhat_reset", []);
    await clearSnapshots();
  }
  const latest = Number((await provider.getBlock("latest"))!.timestamp);
  const clock = new BlockClock(hre.network.provider, inProcess ? SIM_EPOCH_SEC : latest + 1);
  clock.install();
  try {
    return await run(hre, scenario, seed, clock, options);
  } finally {
    clock.uninstall();
  }
}

async function run(
  hre: HardhatRuntimeEnvironment,
  scenario: Scenario,
  seed: number,
  clock: BlockClock,
  options: RunOptions,
): Promise<SimulationResult> {
  const provider = hre.ethers.provider;
  const [deployer] = await hre.ethers.getSigners();
  const ex = await deploySystem(deployer!, systemSpecOf(scenario));
  const start = Number((await provider.getBlock("latest"))!.timestamp);
  const rng = Random.fromSeed(seed);

  const newAgent = async (label: string): Promise<{ signer: Signer; address: string }> => {
    const address = getAddress("0x" + keccakId(`perpsim:${seed}:${label}`).slice(26));
    await provider.send("hardhat_setBalance", [address, "0x56BC75E2D63100000"]);
    return { signer: await hre.ethers.getImpersonatedSigner(address), address };
  };
  const fund = async (signer: Signer, address: string, usd: bigint): Promise<void> => {
    const amount6 = usd / USD6_TO_WAD;
    for (let left = amount6; left > 0n; left -= 1_000_000n * 10n ** 6n) {
      const chunk = left < 1_000_000n * 10n ** 6n ? left : 1_000_000n * 10n ** 6n;
      await ex.collateral.faucet(address, chunk, TX);
    }
    await ex.collateral.connect(signer).approve(ex.vault, amount6, TX);
    await ex.vault.connect(signer).deposit(amount6, TX);
  };
  const market = (symbol: string): MarketHandles => ex.markets.get(symbol)!;

  // Agents.
  const retail: RetailAgent[] = [];
  for (const [g, group] of scenario.agents.retail.entries()) {
    const r = rng.fork(`retail:${g}`);
    for (let i = 0; i < group.count; i++) {
      const name = `retail-${g}-${i}`;
      const { signer, address } = await newAgent(name);
      const margin = r.uniformWad(group.marginUsd.min, group.marginUsd.max, WAD);
      const leverage = r.uniformWad(group.leverage.min, group.leverage.max, WAD / 10n);
      const from = group.entryWindowSec.from;
      const to = group.entryWindowSec.to;
      const entrySec = Math.ceil(r.int(from, to) / scenario.stepSec) * scenario.stepSec;
      const deposit = margin * 2n;
      await fund(signer, address, deposit);
      const m = market(group.market);
      retail.push({
        name,
        group,
        signer,
        address,
        market: m,
        entrySec,
        leverage,
        margin,
        deposit,
        addsMargin: group.addMarginBelowPct !== undefined && r.float() < Number(formatWad(group.addMarginBelowPct)),
        addedMargin: false,
        positionId: await ex.admin.positionId(address, m.marketId),
        opened: false,
        closed: false,
      });
    }
  }
  const mmPlan = scenario.agents.marketMaker;
  const mm = mmPlan ? await newAgent("market-maker") : undefined;
  if (mmPlan && mm) {
    const perpMargin = mmPlan.perpPosition?.marginUsd ?? 0n;
    await fund(mm.signer, mm.address, perpMargin > 0n ? perpMargin : WAD);
    const budget6 = mmPlan.budgetUsd / USD6_TO_WAD;
    await ex.collateral.faucet(mm.address, budget6 > 1_000_000n * 10n ** 6n ? 1_000_000n * 10n ** 6n : budget6, TX);
    const spot = market(mmPlan.market).spotPool;
    await ex.collateral.connect(mm.signer).approve(spot, 2n ** 255n, TX);
    await market(mmPlan.market)
      .coin.connect(mm.signer)
      .approve(spot, 2n ** 255n, TX);
  }
  const mmStartValue = mmPlan ? mmPlan.budgetUsd + (mmPlan.perpPosition?.marginUsd ?? WAD) : 0n;
  const arbPlan = scenario.agents.arbitrageur?.enabled ? scenario.agents.arbitrageur : undefined;
  const arb = arbPlan ? await newAgent("arbitrageur") : undefined;
  if (arbPlan && arb) await fund(arb.signer, arb.address, (arbPlan.maxNotionalUsd / ARB_LEVERAGE) * 2n);
  const keeperAgent = await newAgent("keeper");
  const keeper = new Keeper(ex, keeperAgent.signer, { fromBlock: ex.deployment.deploymentBlock });

  const tracks: MarketTrack[] = scenario.markets.map((m) => ({
    handles: market(m.symbol),
    symbol: m.symbol,
    prevFundingIndex: 0n,
    prevOiLong: 0n,
    prevOiShort: 0n,
    fundingPaidLongs: 0n,
    fundingPaidShorts: 0n,
    liquidationsInStep: 0,
  }));
  const initialInsurance = await ex.vault.insuranceFund();
  const initialPool = await poolValue(ex, tracks);
  const timeline: TimelineRow[] = [await recordRow(ex, tracks, 0, 0, provider)];
  const liquidations: LiquidationEvent[] = [];
  const crossedAt = new Map<bigint, number>();
  const pnlSeries = new Map<string, AgentPnlSeries>();
  let mmCost = 0n;
  let squeezeSnapshot:
    { symbol: string; reserveUsd: bigint; reference: bigint; positions: PositionAtRisk[] }[] | undefined;
  const firstPushSec = mmPlan?.pushes.length ? Math.min(...mmPlan.pushes.map((p) => p.atSec)) : scenario.durationSec;

  const total = Math.floor(scenario.durationSec / scenario.stepSec);
  const pnlEvery = Math.max(1, Math.ceil(total / PNL_POINTS));
  for (let step = 1; step <= total; step++) {
    const t = step * scenario.stepSec;
    clock.advanceTo(start + t);
    const due = (atSec: number) => atSec > t - scenario.stepSec && atSec <= t;
    for (const tr of tracks) tr.liquidationsInStep = 0;

    if (!squeezeSnapshot && t >= firstPushSec)
      squeezeSnapshot = await snapshotRisk(
        ex,
        tracks,
        retail.map((a) => a.positionId),
      );

    // The market maker.
    if (mmPlan && mm) {
      const m = market(mmPlan.market);
      for (const push of mmPlan.pushes.filter((p) => due(p.atSec))) {
        if (push.side === "buy") {
          const spend6 = push.usd / USD6_TO_WAD;
          const have = await ex.collateral.balanceOf(mm.address);
          const amount = spend6 < have ? spend6 : have;
          if (amount > 0n) {
            await m.spotPool.connect(mm.signer).swap(true, amount, 0n, mm.address, TX);
            mmCost += amount * USD6_TO_WAD;
          }
        } else {
          const spot = await m.spotPool.spotPrice();
          const want = (push.usd * WAD) / spot;
          const have = await m.coin.balanceOf(mm.address);
          const amount = want < have ? want : have;
          if (amount > 0n) await m.spotPool.connect(mm.signer).swap(false, amount, 0n, mm.address, TX);
        }
      }
      const perp = mmPlan.perpPosition;
      if (perp && due(perp.atSec)) {
        await openPosition(ex, mm.signer, m, perp.side, perp.marginUsd, perp.leverage);
      }
    }

    // Feeds follow the spot pool; the premium is sampled.
    for (const [i, m] of scenario.markets.entries()) {
      const h = market(m.symbol);
      if (m.feeds.followSpot) {
        const reference = await h.spotPool.twap(m.protections.twapWindowSec);
        for (const [f, feed] of h.pushedFeeds.entries()) {
          const noise = BigInt(rng.fork(`noise:${i}:${f}:${step}`).int(-m.feeds.noiseBps, m.feeds.noiseBps));
          const target = (reference * (BPS + noise)) / BPS / 10n ** 10n;
          await feed.setPrice(
            clampMove(target, (await feed.latestRoundData())[1], m.protections.maxPriceDeviationPerUpdate),
            TX,
          );
        }
      }
      await ex.engine.settleFunding(h.marketId, TX);
    }

    // One read of every open position: retail decisions and liquidation-price crossings.
    await keeper.syncOnly();
    const trackedIds = keeper.book.ids();
    const views = new Map((trackedIds.length ? await ex.lens.positions(trackedIds) : []).map((v) => [v.id, v]));
    for (const v of views.values()) {
      if (v.liquidatable && !crossedAt.has(v.id)) crossedAt.set(v.id, t);
      if (!v.liquidatable) crossedAt.delete(v.id);
    }

    // Retail traders.
    for (const a of retail) {
      if (!a.opened && t >= a.entrySec) {
        a.opened = await openPosition(ex, a.signer, a.market, a.group.side, a.margin, a.leverage);
        if (!a.opened) a.closed = true;
        continue;
      }
      const v = views.get(a.positionId);
      if (!a.opened || a.closed || !v) continue;
      if (v.size === 0n) {
        a.closed = true;
        continue;
      }
      const isLong = v.size > 0n;
      const move = ((v.markPrice - v.entryPrice) * WAD) / v.entryPrice;
      const gain = isLong ? move : -move;
      const tp = a.group.takeProfitPct;
      const sl = a.group.stopLossPct;
      if ((tp !== undefined && gain >= tp) || (sl !== undefined && -gain >= sl)) {
        try {
          await ex.engine.connect(a.signer).closePosition(a.market.marketId, isLong ? 0n : 2n ** 255n, TX);
          a.closed = true;
        } catch {
          /* a close that would not fill inside the bound waits for the next step */
        }
        continue;
      }
      if (a.addsMargin && !a.addedMargin && v.liquidationPrice > 0n) {
        const distance =
          ((v.liquidationPrice > v.markPrice ? v.liquidationPrice - v.markPrice : v.markPrice - v.liquidationPrice) *
            WAD) /
          v.markPrice;
        if (distance < ADD_MARGIN_DISTANCE) {
          await ex.engine.connect(a.signer).addMargin(a.market.marketId, a.margin / 2n, TX);
          a.addedMargin = true;
        }
      }
    }

    // The arbitrageur leans against the premium.
    if (arbPlan && arb)
      await arbitrage(
        ex,
        arb.signer,
        arb.address,
        market(arbPlan.market),
        arbPlan.maxNotionalUsd,
        BigInt(arbPlan.thresholdBps),
      );

    // The keeper, after its latency.
    if (scenario.keeper.enabled) {
      if (scenario.keeper.latencyBlocks > 0) {
        await provider.send("hardhat_mine", ["0x" + scenario.keeper.latencyBlocks.toString(16), "0x1"]);
      }
      const report = await keeper.tick();
      const now = Number((await provider.getBlock("latest"))!.timestamp) - start;
      for (const l of report.liquidations) {
        const tr = tracks.find((x) => x.handles.marketId === l.marketId)!;
        tr.liquidationsInStep++;
        const size = l.closedSize < 0n ? -l.closedSize : l.closedSize;
        liquidations.push({
          t: now,
          block: l.block,
          market: tr.symbol,
          positionId: l.id,
          side: l.closedSize > 0n ? "long" : "short",
          size,
          price: l.markPrice,
          notional: (size * l.markPrice) / WAD,
          keeper: keeperAgent.address,
          round: l.round,
          crossedAt: crossedAt.has(l.id) ? crossedAt.get(l.id)! : null,
        });
        crossedAt.delete(l.id);
      }
    } else {
      await keeper.syncOnly();
    }

    timeline.push(await recordRow(ex, tracks, step, t, provider));
    if (step % pnlEvery === 0 || step === total) {
      await recordPnl(ex, pnlSeries, t, retail, mm?.address, mmPlan ? market(mmPlan.market) : undefined, mmStartValue);
    }
    options.onStep?.(step, total);
  }

  const summaryMarkets: MarketSummary[] = [];
  for (const tr of tracks) {
    const rows = timeline.map((r) => r.markets.find((m) => m.symbol === tr.symbol)!);
    const events = liquidations.filter((l) => l.market === tr.symbol);
    const group = retail.filter((a) => a.market.symbol === tr.symbol && a.opened);
    const liquidatedIds = new Set(events.map((e) => e.positionId));
    const snap =
      squeezeSnapshot?.find((s) => s.symbol === tr.symbol) ??
      (
        await snapshotRisk(
          ex,
          [tr],
          group.map((a) => a.positionId),
        )
      )[0]!;
    const badDebt = (await ex.engine.queryFilter(ex.engine.filters.BadDebt(tr.handles.marketId))).reduce(
      (s, e) => s + e.args.amount,
      0n,
    );
    const adlCount = (
      await ex.engine.queryFilter(ex.engine.filters.AutoDeleveraged(undefined, undefined, tr.handles.marketId))
    ).length;
    summaryMarkets.push({
      symbol: tr.symbol,
      traders: group.length,
      tradersLiquidated: group.filter((a) => liquidatedIds.has(a.positionId)).length,
      liquidations: events.length,
      liquidatedNotional: events.reduce((s, e) => s + e.notional, 0n),
      tradersLoss: await tradersLoss(ex, group),
      marketMakerCost: mmPlan?.market === tr.symbol ? mmCost : 0n,
      marketMakerPnl:
        mmPlan?.market === tr.symbol && mm ? (await agentValue(ex, mm.address, tr.handles)) - mmStartValue : 0n,
      insuranceFundDelta: (await ex.vault.insuranceFund()) - initialInsurance,
      poolPnl: (await poolValue(ex, tracks)) - initialPool,
      fundingPaidLongs: tr.fundingPaidLongs,
      fundingPaidShorts: tr.fundingPaidShorts,
      badDebt,
      adlCount,
      peakMove: {
        spot: peakMove(
          rows.map((r) => r.spot),
          rows[0]!.spot,
        ),
        index: peakMove(
          rows.map((r) => r.index),
          rows[0]!.index,
        ),
        mark: peakMove(
          rows.map((r) => r.mark),
          rows[0]!.mark,
        ),
        last: peakMove(
          rows.map((r) => r.last),
          rows[0]!.last,
        ),
      },
      cascadeDepth: cascadeDepth(events),
      maxLiquidationsPerBlock: maxLiquidationsPerBlock(events),
      medianCrossingToLiquidationSec: medianCrossingToLiquidationSec(events),
      squeeze: squeezeEconomics(snap.reserveUsd, SPOT_FEE, snap.reference, snap.positions),
    });
  }
  return {
    scenario,
    summary: {
      scenario: scenario.name,
      seed,
      durationSec: scenario.durationSec,
      stepSec: scenario.stepSec,
      blocks: (await provider.getBlockNumber()) - ex.deployment.deploymentBlock,
      markets: summaryMarkets,
    },
    timeline,
    liquidations: assignCascadeRoundsIfMissing(liquidations),
    pnl: [...pnlSeries.values()],
  };
}

function assignCascadeRoundsIfMissing(events: LiquidationEvent[]): LiquidationEvent[] {
  return events.every((e) => e.round > 0) ? events : assignCascadeRounds(events, 1);
}

function clampMove(target: bigint, previous: bigint, maxDeviation: bigint): bigint {
  if (maxDeviation === 0n || previous <= 0n) return target;
  const limit = (previous * maxDeviation) / WAD;
  if (target > previous + limit) return previous + limit;
  if (target < previous - limit) return previous - limit;
  return target;
}

/** Opens a market-order position of `margin` at `leverage` on the mark; false when the engine refuses it. */
async function openPosition(
  ex: Exchange,
  signer: Signer,
  m: MarketHandles,
  side: "long" | "short",
  margin: bigint,
  leverage: bigint,
): Promise<boolean> {
  const view = await ex.lens.market(m.marketId);
  const size = (margin * leverage) / view.markPrice;
  const bound =
    side === "long"
      ? (view.indexPrice * (WAD + RETAIL_SLIPPAGE)) / WAD
      : (view.indexPrice * (WAD - RETAIL_SLIPPAGE)) / WAD;
  try {
    await ex.engine.connect(signer).increasePosition(m.marketId, side === "long" ? size : -size, margin, bound, TX);
    return true;
  } catch {
    return false;
  }
}

async function arbitrage(
  ex: Exchange,
  signer: Signer,
  address: string,
  m: MarketHandles,
  maxNotional: bigint,
  thresholdBps: bigint,
): Promise<void> {
  const view = await ex.lens.market(m.marketId);
  const premiumBps = ((view.lastPrice - view.indexPrice) * BPS) / view.indexPrice;
  if (premiumBps <= thresholdBps && premiumBps >= -thresholdBps) return;
  const id = await ex.admin.positionId(address, m.marketId);
  const own = (await ex.admin.position(id)).size;
  const cap = (maxNotional * WAD) / view.indexPrice;
  let target = -(view.skew - own);
  if (target > cap) target = cap;
  if (target < -cap) target = -cap;
  const engine = ex.engine.connect(signer);
  try {
    if (own !== 0n && (target === 0n || own > 0n !== target > 0n)) {
      await engine.closePosition(m.marketId, own > 0n ? 0n : 2n ** 255n, TX);
      if (target === 0n) return;
      const margin = ((target < 0n ? -target : target) * view.indexPrice) / WAD / ARB_LEVERAGE;
      await engine.increasePosition(m.marketId, target, margin, target > 0n ? 2n ** 255n : 0n, TX);
      return;
    }
    const delta = target - own;
    if (delta === 0n) return;
    if (delta > 0n === own >= 0n && target !== 0n && target > 0n === delta > 0n) {
      const margin = ((delta < 0n ? -delta : delta) * view.indexPrice) / WAD / ARB_LEVERAGE;
      await engine.increasePosition(m.marketId, delta, margin, delta > 0n ? 2n ** 255n : 0n, TX);
    } else {
      await engine.decreasePosition(m.marketId, delta < 0n ? -delta : delta, delta > 0n ? 2n ** 255n : 0n, TX);
    }
  } catch {
    /* the arbitrageur skips a step the engine refuses (caps, margin) */
  }
}

async function recordRow(
  ex: Exchange,
  tracks: MarketTrack[],
  step: number,
  t: number,
  provider: HardhatRuntimeEnvironment["ethers"]["provider"],
): Promise<TimelineRow> {
  const [insurance, poolAssets, views, spots, block] = await Promise.all([
    ex.vault.insuranceFund(),
    ex.vault.poolAssets(),
    Promise.all(tracks.map((tr) => ex.lens.market(tr.handles.marketId))),
    Promise.all(tracks.map((tr) => tr.handles.spotPool.spotPrice())),
    provider.getBlockNumber(),
  ]);
  const pool = views.reduce((value, v) => value - v.traderPnl, poolAssets);
  const markets: MarketStep[] = tracks.map((tr, i) => {
    const v = views[i]!;
    if (step > 0 && v.fundingIndex !== tr.prevFundingIndex) {
      const delta = v.fundingIndex - tr.prevFundingIndex;
      tr.fundingPaidLongs += (tr.prevOiLong * delta) / WAD;
      tr.fundingPaidShorts -= (tr.prevOiShort * delta) / WAD;
    }
    tr.prevFundingIndex = v.fundingIndex;
    tr.prevOiLong = v.longOpenInterest;
    tr.prevOiShort = v.shortOpenInterest;
    return {
      symbol: tr.symbol,
      spot: spots[i]!,
      index: v.indexPrice,
      mark: v.markPrice,
      last: v.lastPrice,
      fundingRate: v.predictedFundingRate,
      oiLong: v.longOpenInterest,
      oiShort: v.shortOpenInterest,
      insuranceFund: insurance,
      poolValue: pool,
      liquidations: tr.liquidationsInStep,
    };
  });
  return { t, step, block, markets };
}

/** Pool assets less what the pool owes traders on open positions (their unrealised PnL at mark). */
async function poolValue(ex: Exchange, tracks: MarketTrack[]): Promise<bigint> {
  let value = await ex.vault.poolAssets();
  for (const tr of tracks) value -= (await ex.lens.market(tr.handles.marketId)).traderPnl;
  return value;
}

async function snapshotRisk(ex: Exchange, tracks: MarketTrack[], ids: bigint[]) {
  const views = ids.length ? await ex.lens.positions(ids) : [];
  const out = [];
  for (const tr of tracks) {
    const reserveUsd = (await tr.handles.spotPool.reserveUsd()) * USD6_TO_WAD;
    const reference = (await ex.lens.market(tr.handles.marketId)).markPrice;
    const positions: PositionAtRisk[] = views
      .filter((v) => v.size !== 0n && v.marketId === tr.handles.marketId)
      .map((v) => ({
        side: v.size > 0n ? "long" : "short",
        notional: v.notional,
        liquidationPrice: v.liquidationPrice,
      }));
    out.push({ symbol: tr.symbol, reserveUsd, reference, positions });
  }
  return out;
}

/** Free balance, wallet collateral, coins at spot and the position's equity, in USD. */
async function agentValue(ex: Exchange, address: string, m: MarketHandles): Promise<bigint> {
  const free = await ex.vault.freeBalance(address);
  const wallet = (await ex.collateral.balanceOf(address)) * USD6_TO_WAD;
  const coins = ((await m.coin.balanceOf(address)) * (await m.spotPool.spotPrice())) / WAD;
  const view = await ex.lens.position(await ex.admin.positionId(address, m.marketId));
  return free + wallet + coins + (view.size !== 0n && view.equity > 0n ? view.equity : 0n);
}

async function tradersLoss(ex: Exchange, agents: RetailAgent[]): Promise<bigint> {
  let loss = 0n;
  for (const a of agents) loss += a.deposit - (await agentValue(ex, a.address, a.market));
  return loss;
}

async function recordPnl(
  ex: Exchange,
  series: Map<string, AgentPnlSeries>,
  t: number,
  retail: RetailAgent[],
  mmAddress: string | undefined,
  mmMarket: MarketHandles | undefined,
  mmStart: bigint,
): Promise<void> {
  const push = (agent: string, kind: AgentPnlSeries["kind"], pnl: bigint) => {
    const s = series.get(agent) ?? { agent, kind, points: [] };
    s.points.push({ t, pnl });
    series.set(agent, s);
  };
  const opened = retail.filter((x) => x.opened);
  const [views, free] = await Promise.all([
    opened.length ? ex.lens.positions(opened.map((a) => a.positionId)) : Promise.resolve([]),
    Promise.all(opened.map((a) => ex.vault.freeBalance(a.address))),
  ]);
  const bySide = new Map<string, bigint>();
  opened.forEach((a, i) => {
    const v = views[i]!;
    const value = free[i]! + (v.size !== 0n && v.equity > 0n ? v.equity : 0n);
    const key = `retail ${a.group.side}s (${a.market.symbol})`;
    bySide.set(key, (bySide.get(key) ?? 0n) + value - a.deposit);
  });
  for (const [k, v] of bySide) push(k, "retail", v);
  if (mmAddress && mmMarket) push("market maker", "marketMaker", (await agentValue(ex, mmAddress, mmMarket)) - mmStart);
}
