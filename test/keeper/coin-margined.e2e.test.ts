/**
 * The keeper end to end on the coin-margined exchanges (#19, SPEC 9.2), as `npm run keeper` assembles it
 * (createKeeperApp) against a real EVM over HTTP: one process serves the USD-margined exchange and each
 * coin's exchange, signing with one key. A 10x BTCUSD-INV short margined in BTC is liquidated once BTC's
 * USD index passes its liquidation price, and the reward is paid in BTC; a stop-loss on BTCUSD-INV is
 * executed; funding is settled on the inverse market; a USD-margined BTC-USD short crossed by the same
 * move is liquidated by the same key in the same tick, so the venues' transactions share one nonce count.
 */
import { expect } from "chai";
import { Wallet, formatEther, toBeHex } from "ethers";
import { createKeeperApp } from "../../keeper/app";
import type { KeeperApp } from "../../keeper/app";
import { OrderType } from "../../keeper/book";
import type { TickReport } from "../../keeper/keeper";
import { createMemoryLogger, LOG_LEVELS } from "../../keeper/log";
import type { MemoryLogger } from "../../keeper/log";
import {
  engineAcceptablePrice,
  engineSize,
  reciprocal,
  traderSide,
  usdLiquidationPrice,
} from "../../lib/coin-margined";
import type { Exchange } from "../../lib/contracts";
import { BTCUSD_INV } from "../../lib/markets";
import { WAD, wad } from "../../lib/units";
import { CoinToken__factory } from "../../typechain-types";
import { freePort, fundGas, keeperConfig, keeperWallet, openPositions, pushPrice, startChain, waitFor } from "./e2e";
import type { Chain } from "./e2e";

const FACE = wad(BTCUSD_INV.faceUsd);
/** The lowest acceptable price the order book takes (0 is refused): a sell at any fill. */
const ANY_SELL = 1n;

interface RunningKeeper {
  app: KeeperApp;
  logs: MemoryLogger;
  ticks: { venue: string; report: TickReport }[];
  running: Promise<void>;
}

async function startKeeper(chain: Chain, seed: number, flags: Record<string, string> = {}): Promise<RunningKeeper> {
  const wallet = await keeperWallet(chain, seed);
  const config = keeperConfig({
    "rpc-url": chain.evm.url,
    deployment: chain.deploymentFile,
    "private-key": wallet.privateKey,
    "poll-ms": "50",
    "metrics-port": String(await freePort()),
    ...flags,
  });
  const logs = createMemoryLogger("info");
  const ticks: RunningKeeper["ticks"] = [];
  const app = await createKeeperApp(config, logs.log, { onTick: (report, venue) => ticks.push({ venue, report }) });
  const running = app.run();
  await waitFor("the keeper's first block on every venue", 30_000, async () => app.service.processedBlock);
  return { app, logs, ticks, running };
}

/** A trader with gas and `btc` BTC deposited in the BTC exchange's vault. */
async function btcTrader(chain: Chain, btcEx: Exchange, seed: number, btc: bigint): Promise<Wallet> {
  const trader = new Wallet(toBeHex(BigInt(0x7ade_0000 + seed), 32), chain.provider);
  await fundGas(chain, trader.address);
  const coin = CoinToken__factory.connect(await btcEx.collateral.getAddress(), trader);
  await (await coin.faucet(trader.address, btc)).wait();
  await (await coin.approve(btcEx.vault, btc)).wait();
  await (await btcEx.vault.connect(trader).deposit(btc)).wait();
  return trader;
}

/** Sample value of a metric line (with its labels) in a Prometheus exposition. */
function metricValue(exposition: string, series: string): number {
  const line = exposition.split("\n").find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no series ${series}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

function errorsLogged(logs: MemoryLogger): string[] {
  return logs
    .entries()
    .filter((e) => e.level >= LOG_LEVELS.error)
    .map((e) => String(e.msg));
}

/** A WAD amount as a decimal with `digits` places. */
function fixed(value: bigint, digits: number): string {
  return Number(formatEther(value)).toFixed(digits);
}

describe("keeper end to end on the coin-margined exchanges (CLI assembly, real EVM over HTTP)", function () {
  this.timeout(240_000);
  let chain: Chain;
  const keepers: RunningKeeper[] = [];

  beforeEach(async () => {
    chain = await startChain();
  });

  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.app.stop();
    await chain.close();
  });

  it("settles BTCUSD-INV funding, executes its stop-loss and liquidates a 10x short in BTC, beside a USD-margined liquidation from the same key", async () => {
    const btcEx = chain.ex.coinMargined.get("BTC")!;
    const inverse = btcEx.markets.get("BTCUSD-INV")!;
    const usdIndex = (await chain.ex.lens.market(chain.btc.marketId)).indexPrice;
    expect(usdIndex).to.equal(wad(30_000));

    // A: a 10x short, 0.1 BTC of margin for 300 contracts of 100 USD at 30,000 (1 BTC of notional).
    const shortTrader = await btcTrader(chain, btcEx, 1, wad(1));
    await (
      await btcEx.engine
        .connect(shortTrader)
        .increasePosition(inverse.marketId, engineSize(300n, FACE, false), wad("0.1"), engineAcceptablePrice(0n, false))
    ).wait();
    const shortId = await btcEx.admin.positionId(shortTrader.address, inverse.marketId);
    // B: a 2x short of 100 contracts (0.33 BTC) with a stop-loss at 32,000 USD for all of it. The trader's
    // short is the engine's long, whose stop-loss is a sell that triggers when the engine's mark (1/P)
    // falls to 1/32,000: when P rises to 32,000.
    const stopTrader = await btcTrader(chain, btcEx, 2, wad(1));
    const stopFace = 100n * FACE;
    await (
      await btcEx.engine
        .connect(stopTrader)
        .increasePosition(
          inverse.marketId,
          engineSize(100n, FACE, false),
          wad("0.17"),
          engineAcceptablePrice(0n, false),
        )
    ).wait();
    const stopId = await btcEx.admin.positionId(stopTrader.address, inverse.marketId);
    const executionFee = await btcEx.orderBook.minExecutionFee();
    await (
      await btcEx.orderBook
        .connect(stopTrader)
        .createTriggerOrder(
          inverse.marketId,
          OrderType.StopLoss,
          stopFace,
          reciprocal(wad(32_000)),
          ANY_SELL,
          executionFee,
          0n,
        )
    ).wait();
    // C: a USD-margined 10x BTC-USD short, liquidated about 9.6% above entry (the coin-margined one at 10.7%).
    const [usdShort] = await openPositions(chain, [{ market: chain.btc, side: -1n, marginUsd: 1_000n, leverage: 10n }]);

    const view = await btcEx.lens.position(shortId);
    expect(traderSide(view.size)).to.deep.equal({ isLong: false, face: wad(30_000) });
    expect(view.leverage).to.be.closeTo(wad(10), wad("0.05"));
    const usdLiq = usdLiquidationPrice(view.liquidationPrice, false)!;
    const usdEntry = reciprocal(view.entryPrice);
    expect((usdLiq * 10_000n) / usdEntry).to.be.within(11_000n, 11_100n);
    const usdShortLiq = (await chain.ex.lens.position(usdShort.id)).liquidationPrice;
    expect(usdShortLiq).to.be.lessThan(usdLiq);

    const keeper = await startKeeper(chain, 11);
    keepers.push(keeper);
    const { app } = keeper;
    expect(app.venues.map((v) => v.name)).to.deep.equal(["USD", "BTC", "ALT"]);
    expect(app.keeperOf("BTC").book.size).to.equal(2);
    expect(app.keeperOf("BTC").orderList.size).to.equal(1);
    expect(app.keeperOf("USD").book.size).to.equal(1);

    // Funding: past BTCUSD-INV's 8-hour boundary, the keeper settles it (and every other market's).
    const lastFunding = (await btcEx.admin.marketState(inverse.marketId)).lastFundingTime;
    const interval = (await btcEx.admin.marketConfig(inverse.marketId)).fundingInterval;
    const head = await chain.provider.getBlock("latest");
    await chain.evm.rpc("evm_increaseTime", [Number(lastFunding + interval) - head!.timestamp + 1]);
    await chain.evm.rpc("evm_mine", []);
    const warpedAt = head!.number + 1;
    const [settled] = await waitFor("BTCUSD-INV's funding settled", 30_000, async () => {
      const events = await btcEx.engine.queryFilter(btcEx.engine.filters.FundingSettled(inverse.marketId), warpedAt);
      return events.length > 0 ? events : undefined;
    });
    expect((await settled.getTransaction()).from).to.equal(app.address);
    expect(settled.args.boundary).to.equal(lastFunding + interval);
    expect(settled.args.intervals).to.equal(1n);
    const fundingTick = await waitFor("the BTC venue's tick that settled it", 10_000, async () =>
      keeper.ticks.find((t) => t.venue === "BTC" && t.report.funding.length > 0),
    );
    expect(fundingTick.report.funding.map((f) => f.marketId)).to.deep.equal([inverse.marketId]);

    // The move: BTC's USD index (both pushed feeds) 0.2% past the 10x short's liquidation price (its
    // equity is still positive there, so the reward is paid in full).
    const push = (usdLiq * 1_002n) / 1_000n;
    const freeBefore = await btcEx.vault.freeBalance(app.address);
    const crossedAt = await pushPrice(chain, chain.btc, push);
    expect((await btcEx.lens.position(shortId)).liquidatable).to.equal(true);

    const [liquidation] = await waitFor("the BTCUSD-INV liquidation", 30_000, async () => {
      const events = await btcEx.engine.queryFilter(btcEx.engine.filters.Liquidation(shortId), crossedAt);
      return events.length > 0 ? events : undefined;
    });
    const [usdLiquidation] = await waitFor("the BTC-USD liquidation", 30_000, async () => {
      const events = await chain.ex.engine.queryFilter(chain.ex.engine.filters.Liquidation(usdShort.id), crossedAt);
      return events.length > 0 ? events : undefined;
    });
    const [executed] = await waitFor("the stop-loss executed", 30_000, async () => {
      const events = await btcEx.orderBook.queryFilter(btcEx.orderBook.filters.OrderExecuted(), crossedAt);
      return events.length > 0 ? events : undefined;
    });

    expect(liquidation.args.keeper).to.equal(app.address);
    expect(usdLiquidation.args.keeper).to.equal(app.address);
    expect((await btcEx.admin.position(shortId)).size, "the short is gone").to.equal(0n);
    expect((await chain.ex.admin.position(usdShort.id)).size).to.equal(0n);
    expect(executed.args.keeper).to.equal(app.address);
    expect(executed.args.orderType).to.equal(BigInt(OrderType.StopLoss));
    expect(executed.args.sizeDelta).to.equal(-stopFace);
    expect((await btcEx.admin.position(stopId)).size, "the stop-loss closed the position").to.equal(0n);
    // The liquidation reward and the execution fee are paid in BTC, into the keeper's free balance.
    const freeAfter = await waitFor("the keeper's BTC", 10_000, async () => {
      const free = await btcEx.vault.freeBalance(app.address);
      return free >= freeBefore + liquidation.args.reward + executionFee ? free : undefined;
    });
    expect(liquidation.args.reward).to.be.greaterThan(0n);
    expect(freeAfter - freeBefore).to.equal(liquidation.args.reward + executionFee);

    const liquidatedIn = liquidation.blockNumber - crossedAt;
    const usdLiquidatedIn = usdLiquidation.blockNumber - crossedAt;
    expect(liquidatedIn, "blocks from the crossing to the BTCUSD-INV liquidation").to.be.at.most(3);
    expect(usdLiquidatedIn, "blocks from the crossing to the BTC-USD liquidation").to.be.at.most(3);
    // Both venues sent with one key, in the same tick: one nonce count, no refusal, no error.
    expect(errorsLogged(keeper.logs)).to.deep.equal([]);
    const nonceTrouble = keeper.logs.entries().filter((e) => /nonce/i.test(String(e.msg)));
    expect(nonceTrouble).to.deep.equal([]);

    await waitFor("the books to empty", 10_000, async () =>
      app.keeperOf("BTC").book.size === 0 && app.keeperOf("USD").book.size === 0 ? true : undefined,
    );
    const exposition = await (await fetch(`${app.opsUrl}/metrics`)).text();
    expect(metricValue(exposition, 'perpsim_liquidations_succeeded_total{venue="BTC"}')).to.equal(1);
    expect(metricValue(exposition, 'perpsim_liquidations_succeeded_total{venue="USD"}')).to.equal(1);
    expect(metricValue(exposition, 'perpsim_orders_executed_total{venue="BTC"}')).to.equal(1);
    expect(metricValue(exposition, 'perpsim_funding_settled_total{venue="BTC"}')).to.be.at.least(1);
    expect(metricValue(exposition, 'perpsim_positions_tracked{venue="BTC"}')).to.equal(0);
    const health = await fetch(`${app.opsUrl}/health`);
    const body = (await health.json()) as { venues: Record<string, { status: string }> };
    expect(health.status).to.equal(200);
    expect(Object.keys(body.venues)).to.deep.equal(["USD", "BTC", "ALT"]);

    const tickLine = keeper.logs
      .entries()
      .find((e) => e.msg === "tick" && e.venue === "BTC" && Number(e.liquidations) > 0);
    console.log(
      `      BTCUSD-INV 10x short (300 contracts, 0.1 BTC) entry ${fixed(usdEntry, 0)} USD, liquidation price ` +
        `${fixed(usdLiq, 0)} (+${fixed(((usdLiq - usdEntry) * WAD * 100n) / usdEntry, 2)}%); pushed to ` +
        `${fixed(push, 0)}: liquidated ${liquidatedIn} block(s) after the crossing, reward ` +
        `${fixed(liquidation.args.reward, 8)} BTC; stop-loss at 32,000 executed (fee ${fixed(executionFee, 8)} BTC); ` +
        `funding settled at rate ${settled.args.rate}; the BTC-USD short liquidated ${usdLiquidatedIn} block(s) after`,
    );
    console.log(`      keeper: ${JSON.stringify(tickLine)}`);
  });

  it("serves only the venues --venues names", async () => {
    const keeper = await startKeeper(chain, 12, { venues: "btc" });
    keepers.push(keeper);
    expect(keeper.app.venues.map((v) => v.name)).to.deep.equal(["BTC"]);
    expect(() => keeper.app.keeperOf("USD")).to.throw("venue USD not served; serving BTC");
    const exposition = await (await fetch(`${keeper.app.opsUrl}/metrics`)).text();
    expect(exposition).to.contain('perpsim_positions_tracked{venue="BTC"} 0');
    expect(exposition).to.not.contain('venue="USD"');
  });
});
