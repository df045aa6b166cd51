/**
 * The keeper end to end, as `npm run keeper` assembles it (createKeeperApp: batching JSON-RPC provider,
 * TxSender, block loop, metrics server), against a real EVM over HTTP: liquidation latency in blocks,
 * a 500-position price move, an RPC outage behind a TCP proxy, two keepers racing.
 */
import { expect } from "chai";
import { Interface } from "ethers";
import type { ContractTransactionResponse } from "ethers";
import { createKeeperApp } from "../../keeper/app";
import type { KeeperApp } from "../../keeper/app";
import { createMemoryLogger, LOG_LEVELS } from "../../keeper/log";
import type { MemoryLogger } from "../../keeper/log";
import { toFeedAnswer, wad } from "../../lib/units";
import { PerpEngine__factory } from "../../typechain-types";
import {
  freePort,
  keeperConfig,
  keeperWallet,
  liquidationsSince,
  openPositions,
  portOf,
  pushPrice,
  startChain,
  TcpProxy,
  waitFor,
} from "./e2e";
import type { Chain } from "./e2e";

const POLL_MS = "50";

interface RunningKeeper {
  app: KeeperApp;
  logs: MemoryLogger;
  running: Promise<void>;
}

/** Starts a keeper on `rpcUrl` with `flags` beside the required ones; it runs until stopped. */
async function startKeeper(chain: Chain, rpcUrl: string, seed: number, flags: Record<string, string | true> = {}) {
  const wallet = await keeperWallet(chain, seed);
  const config = keeperConfig({
    "rpc-url": rpcUrl,
    deployment: chain.deploymentFile,
    "private-key": wallet.privateKey,
    "poll-ms": POLL_MS,
    "metrics-port": "0",
    ...flags,
  });
  const logs = createMemoryLogger("info");
  const app = await createKeeperApp(config, logs.log);
  const running = app.run();
  await waitFor("the keeper's first block", 20_000, async () => app.service.processedBlock);
  return { app, logs, running } satisfies RunningKeeper;
}

function errorsLogged(logs: MemoryLogger): string[] {
  return logs
    .entries()
    .filter((e) => e.level >= LOG_LEVELS.error)
    .map((e) => String(e.msg));
}

/** Sample value of a metric in a Prometheus exposition. */
function metricValue(exposition: string, name: string): number {
  const line = exposition.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  if (line === undefined) throw new Error(`no metric ${name}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

interface Health {
  status: number;
  body: { status: string; reason?: string; lastProgressAgeSeconds?: number };
}

/** GET /health of a keeper's ops server. */
async function healthOf(app: KeeperApp): Promise<Health> {
  const response = await fetch(`${app.opsUrl}/health`);
  return { status: response.status, body: (await response.json()) as Health["body"] };
}

const engineInterface: Interface = PerpEngine__factory.createInterface();

/** The position ids in every liquidateMany `from` sent in blocks [fromBlock, toBlock]. */
async function idsSentForLiquidation(chain: Chain, from: string, fromBlock: number, toBlock: number) {
  const ids: bigint[] = [];
  for (let n = fromBlock; n <= toBlock; n++) {
    const block = await chain.provider.getBlock(n, true);
    for (const tx of block!.prefetchedTransactions) {
      if (tx.from !== from) continue;
      const call = engineInterface.parseTransaction({ data: tx.data });
      if (call?.name === "liquidateMany") ids.push(...(call.args[0] as bigint[]));
    }
  }
  return ids;
}

describe("keeper end to end (CLI assembly, real EVM over HTTP)", function () {
  this.timeout(180_000);
  let chain: Chain;
  const keepers: RunningKeeper[] = [];

  beforeEach(async () => {
    chain = await startChain();
  });

  afterEach(async () => {
    for (const k of keepers.splice(0)) await k.app.stop();
    await chain.close();
  });

  it("liquidates a 10x short in the block after the mark crosses its liquidation price, never touches a healthy 3x short, and counts it in /metrics", async () => {
    const [risky, healthy] = await openPositions(chain, [
      { market: chain.alt, side: -1n, marginUsd: 100n, leverage: 10n },
      { market: chain.alt, side: -1n, marginUsd: 100n, leverage: 3n },
    ]);
    const [riskyView, healthyView] = await chain.ex.lens.positions([risky.id, healthy.id]);
    // A 10x short is liquidated about 9.5% above entry, a 3x short about 33% above: a push to 1.1 x the
    // 10x short's liquidation price crosses the first and stays far from the second.
    const push = (riskyView.liquidationPrice * 11n) / 10n;
    expect(push).to.be.lessThan(healthyView.liquidationPrice);

    const port = await freePort();
    const keeper = await startKeeper(chain, chain.evm.url, 1, { "metrics-port": String(port) });
    keepers.push(keeper);
    const crossedAt = await pushPrice(chain, chain.alt, push);
    const { markPrice } = await chain.ex.lens.market(chain.alt.marketId);
    expect(markPrice).to.be.greaterThanOrEqual(riskyView.liquidationPrice);

    const [liquidation] = await waitFor("the liquidation", 20_000, async () => {
      const found = await liquidationsSince(chain, crossedAt);
      return found.length > 0 ? found : undefined;
    });
    expect(liquidation.id).to.equal(risky.id);
    expect(liquidation.keeper).to.equal(keeper.app.address);
    expect(liquidation.block - crossedAt, "blocks from the crossing to the liquidation").to.equal(1);

    // Give it more blocks to misbehave in: the healthy short is still open and was never sent.
    await pushPrice(chain, chain.alt, push + wad("0.001"));
    await waitFor("two more blocks processed", 10_000, async () =>
      (keeper.app.service.processedBlock ?? 0) >= crossedAt + 3 ? true : undefined,
    );
    expect((await chain.ex.admin.position(healthy.id)).size).to.equal(healthyView.size);
    const sent = await idsSentForLiquidation(
      chain,
      keeper.app.address,
      crossedAt,
      await chain.provider.getBlockNumber(),
    );
    expect(sent).to.deep.equal([risky.id]);

    const exposition = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const usd = (name: string) => metricValue(exposition, `${name}{venue="USD"}`);
    expect(usd("perpsim_liquidations_succeeded_total")).to.equal(1);
    expect(usd("perpsim_liquidations_sent_total")).to.equal(1);
    expect(usd("perpsim_crossing_to_liquidation_seconds_count")).to.equal(1);
    expect(usd("perpsim_positions_tracked")).to.equal(1);
    // The coin-margined venues, served beside it, had nothing to do.
    expect(metricValue(exposition, 'perpsim_liquidations_sent_total{venue="BTC"}')).to.equal(0);
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).to.equal(200);
    expect(errorsLogged(keeper.logs)).to.deep.equal([]);
  });

  it("liquidates all of 500 shorts that one price move makes liquidatable, each once, in about 500 / batch-size blocks", async () => {
    const COUNT = 500;
    const BATCH = 50;
    const setupStart = Date.now();
    // 10x shorts on $50 to $149 of margin: entries (and so liquidation prices) spread as the skew grows.
    const opened = await openPositions(
      chain,
      Array.from({ length: COUNT }, (_, i) => ({
        market: chain.alt,
        side: -1n as const,
        marginUsd: 50n + BigInt(i % 100),
        leverage: 10n,
      })),
    );
    const setupMs = Date.now() - setupStart;
    const views = await chain.ex.lens.positions(opened.map((p) => p.id));
    const highest = views.reduce((max, v) => (v.liquidationPrice > max ? v.liquidationPrice : max), 0n);
    const keeper = await startKeeper(chain, chain.evm.url, 2, { "batch-size": String(BATCH) });
    keepers.push(keeper);
    expect(keeper.app.keeper.book.size).to.equal(COUNT);

    // The 500 shorts hold the last price (and so the mark) about 5% under the index: push the index
    // 15% past the highest liquidation price, and check that the mark of that block crosses them all.
    const started = Date.now();
    const crossedAt = await pushPrice(chain, chain.alt, (highest * 115n) / 100n);
    const atCrossing = await chain.ex.lens.liquidatable(
      opened.map((p) => p.id),
      { blockTag: crossedAt },
    );
    expect(atCrossing.every(Boolean), "every position liquidatable at the pushed price").to.equal(true);
    const found = await waitFor("500 liquidations", 60_000, async () => {
      const all = await liquidationsSince(chain, crossedAt);
      return all.length >= COUNT ? all : undefined;
    });
    const seconds = (Date.now() - started) / 1000;

    expect(new Set(found.map((l) => l.id))).to.deep.equal(new Set(opened.map((p) => p.id)));
    expect(found).to.have.length(COUNT);
    const firstBlock = Math.min(...found.map((l) => l.block));
    const lastBlock = Math.max(...found.map((l) => l.block));
    expect(firstBlock - crossedAt, "the first batch lands in the block after the crossing").to.equal(1);
    // One block per batch on an automining node, and no more.
    expect(lastBlock - crossedAt).to.be.at.most(COUNT / BATCH);
    await waitFor("the keeper's book to empty", 10_000, async () =>
      keeper.app.keeper.book.size === 0 ? true : undefined,
    );
    const succeeded = (await keeper.app.metrics.liquidationsSucceeded.get()).values;
    expect(succeeded.find((v) => v.labels.venue === "USD")?.value).to.equal(COUNT);
    expect(errorsLogged(keeper.logs)).to.deep.equal([]);
    console.log(
      `      500 positions opened in ${(setupMs / 1000).toFixed(1)} s; liquidated in blocks ${firstBlock - crossedAt}..` +
        `${lastBlock - crossedAt} after the crossing (${lastBlock - firstBlock + 1} blocks), ${seconds.toFixed(2)} s`,
    );
  });

  it("rides out 20 s without its RPC, reporting itself stale on /health meanwhile, and then liquidates everything it missed, including positions opened meanwhile", async () => {
    const MAX_STALE_SECONDS = 2;
    const proxy = new TcpProxy(portOf(chain.evm.url));
    await proxy.start();
    try {
      const shorts = (count: number) =>
        Array.from({ length: count }, () => ({
          market: chain.alt,
          side: -1n as const,
          marginUsd: 100n,
          leverage: 10n,
        }));
      const before = await openPositions(chain, shorts(10));
      const keeper = await startKeeper(chain, proxy.url, 3, {
        "metrics-port": String(await freePort()),
        "max-stale-seconds": String(MAX_STALE_SECONDS),
      });
      keepers.push(keeper);
      expect(keeper.app.keeper.book.size).to.equal(10);
      expect((await healthOf(keeper.app)).status, "/health before the outage").to.equal(200);

      await proxy.stop();
      const downAt = Date.now();
      // While the keeper is cut off: ten more shorts, then a move that makes all twenty liquidatable.
      const during = await openPositions(chain, shorts(10));
      const all = [...before, ...during];
      const views = await chain.ex.lens.positions(all.map((p) => p.id));
      const highest = views.reduce((max, v) => (v.liquidationPrice > max ? v.liquidationPrice : max), 0n);
      const crossedAt = await pushPrice(chain, chain.alt, (highest * 110n) / 100n);
      expect((await chain.ex.lens.liquidatable(all.map((p) => p.id))).every(Boolean)).to.equal(true);
      await waitFor("the keeper to notice the outage", 10_000, async () =>
        (await keeper.app.metrics.rpcErrors.get()).values[0].value > 0 ? true : undefined,
      );
      // Blind, it still knows the lag it last saw (none); /health goes by how long ago that was.
      const stale = await waitFor("/health to report the keeper stale", 10_000, async () => {
        const health = await healthOf(keeper.app);
        return health.status === 503 ? health : undefined;
      });
      // Every venue is blind alike.
      expect(stale.body.reason).to.match(
        /^USD: stale: no progress for [\d.]+ s, more than 2 s; BTC: stale: .*; ALT: stale: /,
      );
      expect(stale.body.lastProgressAgeSeconds).to.be.greaterThan(MAX_STALE_SECONDS);
      const exposition = await (await fetch(`${keeper.app.opsUrl}/metrics`)).text();
      expect(metricValue(exposition, "perpsim_last_progress_age_seconds")).to.be.greaterThan(MAX_STALE_SECONDS);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 20_000 - (Date.now() - downAt))));
      expect(await liquidationsSince(chain, crossedAt), "nothing liquidated while the RPC was away").to.deep.equal([]);

      await proxy.start();
      const back = Date.now();
      const found = await waitFor("twenty liquidations", 20_000, async () => {
        const liquidations = await liquidationsSince(chain, crossedAt);
        return liquidations.length >= all.length ? liquidations : undefined;
      });
      expect(found.map((l) => l.id).sort()).to.deep.equal(all.map((p) => p.id).sort());
      expect(found.every((l) => l.keeper === keeper.app.address)).to.equal(true);
      await waitFor("/health to report the keeper healthy again", 10_000, async () =>
        (await healthOf(keeper.app)).status === 200 ? true : undefined,
      );
      const messages = keeper.logs.entries().map((e) => e.msg);
      expect(messages).to.include("RPC circuit open: sending paused");
      expect(messages).to.include("RPC answering again; catching up");
      expect(errorsLogged(keeper.logs)).to.deep.equal([]);
      console.log(`      caught up ${((Date.now() - back) / 1000).toFixed(2)} s after the RPC came back`);
    } finally {
      // Stop the keeper while its RPC is up: a stop waits for the transactions in flight.
      for (const k of keepers.splice(0)) await k.app.stop();
      await proxy.stop();
    }
  });

  it("races a second keeper for the same positions: each is liquidated exactly once, losses are logged at info, both keep running", async () => {
    const COUNT = 40;
    const opened = await openPositions(
      chain,
      Array.from({ length: COUNT }, () => ({ market: chain.alt, side: -1n as const, marginUsd: 100n, leverage: 10n })),
    );
    const views = await chain.ex.lens.positions(opened.map((p) => p.id));
    const highest = views.reduce((max, v) => (v.liquidationPrice > max ? v.liquidationPrice : max), 0n);
    const a = await startKeeper(chain, chain.evm.url, 4, { "batch-size": "10" });
    keepers.push(a);
    const b = await startKeeper(chain, chain.evm.url, 5, { "batch-size": "10" });
    keepers.push(b);

    // One block a second: both keepers see the crossing in the same block and send into the next one.
    await chain.evm.rpc("evm_setAutomine", [false]);
    await chain.evm.rpc("evm_setIntervalMining", [1_000]);
    const price = toFeedAnswer((highest * 110n) / 100n);
    const pushes: ContractTransactionResponse[] = [];
    for (const feed of chain.alt.pushedFeeds) pushes.push(await feed.setPrice(price));
    const crossedAt = await waitFor("the price push to be mined", 10_000, async () => {
      const receipt = await chain.provider.getTransactionReceipt(pushes[pushes.length - 1].hash);
      return receipt?.blockNumber;
    });
    const found = await waitFor("forty liquidations", 30_000, async () => {
      const liquidations = await liquidationsSince(chain, crossedAt);
      return liquidations.length >= COUNT ? liquidations : undefined;
    });
    const lastBlock = Math.max(...found.map((l) => l.block));
    // Both keep following the chain afterwards.
    await waitFor("both keepers past the race", 15_000, async () =>
      (a.app.service.processedBlock ?? 0) > lastBlock + 1 && (b.app.service.processedBlock ?? 0) > lastBlock + 1
        ? true
        : undefined,
    );

    expect(found).to.have.length(COUNT);
    expect(new Set(found.map((l) => l.id)).size).to.equal(COUNT);
    const byA = found.filter((l) => l.keeper === a.app.address).length;
    const byB = found.filter((l) => l.keeper === b.app.address).length;
    expect(byA + byB).to.equal(COUNT);
    const value = async (app: KeeperApp, metric: "liquidationsSucceeded" | "liquidationsLostRace") =>
      (await app.metrics[metric].get()).values.find((v) => v.labels.venue === "USD")?.value ?? 0;
    expect(await value(a.app, "liquidationsSucceeded")).to.equal(byA);
    expect(await value(b.app, "liquidationsSucceeded")).to.equal(byB);
    const lost = (await value(a.app, "liquidationsLostRace")) + (await value(b.app, "liquidationsLostRace"));
    expect(lost, "positions one keeper sent after the other had liquidated them").to.be.greaterThan(0);
    const lostLines = [...a.logs.entries(), ...b.logs.entries()].filter((e) =>
      String(e.msg).startsWith("lost the race"),
    );
    expect(lostLines.length).to.be.greaterThan(0);
    expect(lostLines.every((e) => e.level === LOG_LEVELS.info)).to.equal(true);
    expect([...errorsLogged(a.logs), ...errorsLogged(b.logs)]).to.deep.equal([]);
    console.log(`      keeper A liquidated ${byA}, keeper B ${byB}; ${lost} sends lost the race`);
  });
});
