import { expect } from "chai";
import { register as globalRegistry } from "prom-client";
import { KeeperMetrics } from "../../keeper/metrics";
import { PortInUseError, healthReport, keeperHealth, startOpsServer, venueProgress } from "../../keeper/ops-server";
import type { OpsServer } from "../../keeper/ops-server";

const METRIC_NAMES = [
  "perpsim_positions_tracked",
  "perpsim_orders_tracked",
  "perpsim_liquidations_sent_total",
  "perpsim_liquidations_succeeded_total",
  "perpsim_liquidations_lost_race_total",
  "perpsim_orders_executed_total",
  "perpsim_funding_settled_total",
  "perpsim_adl_total",
  "perpsim_rpc_errors_total",
  "perpsim_block_lag",
  "perpsim_last_block",
  "perpsim_last_progress_age_seconds",
  "perpsim_crossing_to_liquidation_seconds",
  "perpsim_health_scan_seconds",
];

/** A clock the test moves by hand. */
class FakeClock {
  constructor(private ms: number) {}
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** The value of an unlabelled sample in a Prometheus text exposition. */
function sample(exposition: string, name: string): number | undefined {
  const line = exposition.split("\n").find((text) => text.startsWith(`${name} `) || text.startsWith(`${name}{`));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("keeper metrics", () => {
  it("exposes every documented metric, in its own registry and not the global one", async () => {
    const metrics = new KeeperMetrics();
    const text = await metrics.exposition();
    for (const name of METRIC_NAMES) {
      expect(text, name).to.contain(`# TYPE ${name} `);
      expect(await globalRegistry.getSingleMetric(name), `${name} in the global registry`).to.equal(undefined);
    }
  });

  it("lets two keepers in one process count separately", async () => {
    const a = new KeeperMetrics({ keeper: "a" });
    const b = new KeeperMetrics({ keeper: "b" });
    a.venue("USD").liquidationsSent.inc(3);
    a.venue("USD").liquidationsSucceeded.inc(2);
    a.venue("USD").liquidationsLostRace.inc();
    b.venue("USD").liquidationsSent.inc();
    expect(sample(await a.exposition(), "perpsim_liquidations_sent_total")).to.equal(3);
    expect(sample(await b.exposition(), "perpsim_liquidations_sent_total")).to.equal(1);
    expect(await a.exposition()).to.contain('perpsim_liquidations_succeeded_total{venue="USD",keeper="a"} 2');
  });

  it("labels each venue's series with its name, every one from zero, and counts RPC errors once for the process", async () => {
    const metrics = new KeeperMetrics();
    const [usd, btc] = [metrics.venue("USD"), metrics.venue("BTC")];
    expect(metrics.venue("BTC")).to.equal(btc);
    expect(metrics.venues().map((v) => v.name)).to.deep.equal(["USD", "BTC"]);
    usd.liquidationsSucceeded.inc(2);
    btc.liquidationsSucceeded.inc();
    btc.fundingSettled.inc();
    btc.observeBlock(7, 9);
    metrics.rpcErrors.inc();
    const text = await metrics.exposition();
    expect(text).to.contain('perpsim_liquidations_succeeded_total{venue="USD"} 2');
    expect(text).to.contain('perpsim_liquidations_succeeded_total{venue="BTC"} 1');
    expect(text).to.contain('perpsim_funding_settled_total{venue="USD"} 0');
    expect(text).to.contain('perpsim_funding_settled_total{venue="BTC"} 1');
    expect(text).to.contain('perpsim_block_lag{venue="BTC"} 2');
    expect(text).to.contain('perpsim_crossing_to_liquidation_seconds_count{venue="BTC"} 0');
    expect(text).to.contain("perpsim_rpc_errors_total 1");
    expect(usd.progress()).to.equal(undefined);
    expect(btc.progress()).to.deep.equal({ lastBlock: 7, headBlock: 9, blockLag: 2 });
  });

  it("records block progress as last block and lag, never a negative lag", async () => {
    const metrics = new KeeperMetrics();
    expect(metrics.venue("USD").progress()).to.equal(undefined);
    metrics.venue("USD").observeBlock(95, 100);
    expect(metrics.venue("USD").progress()).to.deep.equal({ lastBlock: 95, headBlock: 100, blockLag: 5 });
    const text = await metrics.exposition();
    expect(sample(text, "perpsim_last_block")).to.equal(95);
    expect(sample(text, "perpsim_block_lag")).to.equal(5);
    metrics.venue("USD").observeBlock(101, 100);
    expect(metrics.venue("USD").progress()?.blockLag).to.equal(0);
  });

  it("reports the age of the last progress from its clock, counting from its start before the first", async () => {
    const clock = new FakeClock(1_700_000_000_000);
    const metrics = new KeeperMetrics({}, clock.now);
    metrics.venue("USD");
    clock.advance(4_000);
    expect(metrics.venue("USD").lastProgressAgeSeconds()).to.equal(undefined);
    expect(sample(await metrics.exposition(), "perpsim_last_progress_age_seconds")).to.equal(4);
    metrics.venue("USD").observeProgress();
    clock.advance(2_500);
    expect(metrics.venue("USD").lastProgressAgeSeconds()).to.equal(2.5);
    expect(sample(await metrics.exposition(), "perpsim_last_progress_age_seconds")).to.equal(2.5);
    metrics.venue("USD").observeProgress();
    expect(sample(await metrics.exposition(), "perpsim_last_progress_age_seconds")).to.equal(0);
  });

  it("observes durations in the two histograms", async () => {
    const metrics = new KeeperMetrics();
    metrics.venue("USD").crossingToLiquidationSeconds.observe(1.5);
    metrics.venue("USD").healthScanSeconds.observe(0.004);
    metrics.venue("USD").healthScanSeconds.observe(0.03);
    const text = await metrics.exposition();
    expect(sample(text, "perpsim_crossing_to_liquidation_seconds_count")).to.equal(1);
    expect(sample(text, "perpsim_health_scan_seconds_count")).to.equal(2);
    expect(text).to.contain('perpsim_health_scan_seconds_bucket{le="0.005",venue="USD"} 1');
  });
});

describe("keeper health report", () => {
  const limits = { maxBlockLag: 10, maxStaleSeconds: 30 };
  const progress = { lastBlock: 95, headBlock: 100, blockLag: 5 };

  it("is unhealthy before the first block is processed", () => {
    expect(healthReport(undefined, undefined, limits)).to.deep.equal({
      healthy: false,
      body: { status: "unhealthy", reason: "no block processed yet", maxBlockLag: 10, maxStaleSeconds: 30 },
    });
    // A first tick cut short by the RPC reports a head, but the keeper has not caught up with it once.
    const cutShort = healthReport({ lastBlock: 100, headBlock: 100, blockLag: 0 }, undefined, limits);
    expect(cutShort.healthy).to.equal(false);
    expect(cutShort.body.reason).to.equal("no block processed yet");
  });

  it("is healthy with recent progress, reporting its age, the limits and the last block", () => {
    expect(healthReport(progress, 1.25, limits)).to.deep.equal({
      healthy: true,
      body: {
        status: "ok",
        maxBlockLag: 10,
        maxStaleSeconds: 30,
        lastProgressAgeSeconds: 1.25,
        lastBlock: 95,
        headBlock: 100,
        blockLag: 5,
      },
    });
  });

  it("is healthy up to and including the maximum lag, unhealthy beyond it", () => {
    expect(healthReport({ lastBlock: 90, headBlock: 100, blockLag: 10 }, 0, limits).healthy).to.equal(true);
    const late = healthReport({ lastBlock: 89, headBlock: 100, blockLag: 11 }, 0, limits);
    expect(late.healthy).to.equal(false);
    expect(late.body).to.deep.equal({
      status: "unhealthy",
      reason: "block lag 11 exceeds 10",
      maxBlockLag: 10,
      maxStaleSeconds: 30,
      lastProgressAgeSeconds: 0,
      lastBlock: 89,
      headBlock: 100,
      blockLag: 11,
    });
  });

  it("is healthy up to and including the stale bound, unhealthy beyond it however small the lag it last saw", () => {
    expect(healthReport(progress, 30, limits).healthy).to.equal(true);
    const stale = healthReport(progress, 30.5, limits);
    expect(stale.healthy).to.equal(false);
    expect(stale.body).to.deep.equal({
      status: "unhealthy",
      reason: "stale: no progress for 30.5 s, more than 30 s",
      maxBlockLag: 10,
      maxStaleSeconds: 30,
      lastProgressAgeSeconds: 30.5,
      lastBlock: 95,
      headBlock: 100,
      blockLag: 5,
    });
  });

  it("is unhealthy while a condition holds, whatever the progress, with every reason, and healthy once each clears", () => {
    const metrics = new KeeperMetrics();
    const judge = () => keeperHealth(metrics.venues().map(venueProgress), limits, metrics.conditions());
    metrics.venue("USD").observeBlock(100, 100);
    metrics.venue("USD").observeProgress();
    metrics.setCondition("funds", "signer 0xabc has 0.0 ETH");
    metrics.setCondition("chain", "chain reset: block 0 is now 0x12");
    expect(judge()).to.deep.include({ healthy: false });
    expect(judge().body.reason).to.equal("signer 0xabc has 0.0 ETH; chain reset: block 0 is now 0x12");
    metrics.setCondition("funds", undefined);
    expect(judge().body.reason).to.equal("chain reset: block 0 is now 0x12");
    metrics.setCondition("chain", undefined);
    expect(judge()).to.deep.include({ healthy: true });
  });

  it("judges every venue: healthy only when each is, the unhealthy ones named, the slowest one's progress on top", () => {
    const clock = new FakeClock(0);
    const metrics = new KeeperMetrics({}, clock.now);
    const [usd, btc, alt] = ["USD", "BTC", "ALT"].map((name) => metrics.venue(name));
    const judge = () => keeperHealth(metrics.venues().map(venueProgress), limits, metrics.conditions());
    expect(judge().body.reason).to.equal(
      "USD: no block processed yet; BTC: no block processed yet; ALT: no block processed yet",
    );
    for (const venue of [usd, btc, alt]) venue.observeBlock(100, 100);
    for (const venue of [usd, alt]) venue.observeProgress();
    expect(judge().body.reason).to.equal("BTC: no block processed yet");
    btc.observeProgress();
    expect(judge()).to.deep.include({ healthy: true });
    clock.advance(31_000); // BTC's ticks keep failing; the others keep up
    for (const venue of [usd, alt]) venue.observeBlock(140, 140);
    for (const venue of [usd, alt]) venue.observeProgress();
    btc.observeBlock(100, 140);
    expect(judge()).to.deep.equal({
      healthy: false,
      body: {
        status: "unhealthy",
        reason: "BTC: stale: no progress for 31 s, more than 30 s",
        maxBlockLag: 10,
        maxStaleSeconds: 30,
        lastProgressAgeSeconds: 31,
        lastBlock: 100,
        headBlock: 140,
        blockLag: 40,
        venues: {
          USD: { status: "ok", lastProgressAgeSeconds: 0, lastBlock: 140, headBlock: 140, blockLag: 0 },
          BTC: {
            status: "unhealthy",
            reason: "stale: no progress for 31 s, more than 30 s",
            lastProgressAgeSeconds: 31,
            lastBlock: 100,
            headBlock: 140,
            blockLag: 40,
          },
          ALT: { status: "ok", lastProgressAgeSeconds: 0, lastBlock: 140, headBlock: 140, blockLag: 0 },
        },
      },
    });
    expect(keeperHealth([], limits).body.reason).to.equal("no block processed yet");
  });

  it("names staleness first when the lag it last saw is also too large", () => {
    const both = healthReport({ lastBlock: 80, headBlock: 100, blockLag: 20 }, 45, limits);
    expect(both.body.reason).to.equal("stale: no progress for 45 s, more than 30 s");
  });

  it("is healthy again once the keeper makes progress after a stale spell", () => {
    const clock = new FakeClock(0);
    const metrics = new KeeperMetrics({}, clock.now);
    const judge = () =>
      healthReport(metrics.venue("USD").progress(), metrics.venue("USD").lastProgressAgeSeconds(), limits);
    metrics.venue("USD").observeBlock(100, 100);
    metrics.venue("USD").observeProgress();
    expect(judge().healthy).to.equal(true);
    clock.advance(31_000); // an outage: nothing observed
    expect(judge().body).to.deep.include({ status: "unhealthy", lastProgressAgeSeconds: 31, blockLag: 0 });
    metrics.venue("USD").observeBlock(100, 140); // the RPC answers again: 40 blocks behind until the catch-up tick
    expect(judge().body.reason).to.equal("stale: no progress for 31 s, more than 30 s");
    metrics.venue("USD").observeBlock(140, 140);
    metrics.venue("USD").observeProgress();
    expect(judge()).to.deep.include({ healthy: true });
    expect(judge().body).to.deep.include({ lastProgressAgeSeconds: 0, lastBlock: 140 });
  });
});

describe("keeper ops server", () => {
  const LIMITS = { maxBlockLag: 10, maxStaleSeconds: 30 };
  let clock: FakeClock;
  let metrics: KeeperMetrics;
  let server: OpsServer;

  beforeEach(async () => {
    clock = new FakeClock(1_700_000_000_000);
    metrics = new KeeperMetrics({}, clock.now);
    server = await startOpsServer({ metrics, ...LIMITS, port: 0 });
  });

  afterEach(() => server.close());

  const health = async () => {
    const response = await fetch(`${server.url}/health`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("binds 127.0.0.1 on the free port it was given 0 for", () => {
    expect(server.port).to.be.greaterThan(0);
    expect(server.url).to.equal(`http://127.0.0.1:${server.port}`);
  });

  it("serves the registry on GET /metrics", async () => {
    metrics.venue("USD").liquidationsSucceeded.inc(4);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.contain("text/plain");
    expect(sample(await response.text(), "perpsim_liquidations_succeeded_total")).to.equal(4);
  });

  it("answers /health with 503 before the first block, 200 within the lag, 503 beyond it", async () => {
    expect(await health()).to.deep.include({ status: 503 });
    metrics.venue("USD").observeBlock(100, 104);
    metrics.venue("USD").observeProgress();
    expect(await health()).to.deep.equal({
      status: 200,
      body: {
        status: "ok",
        maxBlockLag: 10,
        maxStaleSeconds: 30,
        lastProgressAgeSeconds: 0,
        lastBlock: 100,
        headBlock: 104,
        blockLag: 4,
        venues: { USD: { status: "ok", lastProgressAgeSeconds: 0, lastBlock: 100, headBlock: 104, blockLag: 4 } },
      },
    });
    metrics.venue("USD").observeBlock(100, 111);
    const lagging = await health();
    expect(lagging.status).to.equal(503);
    expect(lagging.body).to.deep.include({ status: "unhealthy", blockLag: 11 });
  });

  it("answers /health with 503 once the keeper has made no progress for longer than the bound, 200 after it catches up", async () => {
    metrics.venue("USD").observeBlock(100, 100);
    metrics.venue("USD").observeProgress();
    clock.advance(30_000);
    expect((await health()).status).to.equal(200);
    clock.advance(1);
    expect(await health()).to.deep.equal({
      status: 503,
      body: {
        status: "unhealthy",
        reason: "USD: stale: no progress for 30.001 s, more than 30 s",
        maxBlockLag: 10,
        maxStaleSeconds: 30,
        lastProgressAgeSeconds: 30.001,
        lastBlock: 100,
        headBlock: 100,
        blockLag: 0,
        venues: {
          USD: {
            status: "unhealthy",
            reason: "stale: no progress for 30.001 s, more than 30 s",
            lastProgressAgeSeconds: 30.001,
            lastBlock: 100,
            headBlock: 100,
            blockLag: 0,
          },
        },
      },
    });
    const exposition = await (await fetch(`${server.url}/metrics`)).text();
    expect(sample(exposition, "perpsim_last_progress_age_seconds")).to.equal(30.001);
    metrics.venue("USD").observeBlock(103, 103);
    metrics.venue("USD").observeProgress();
    expect(await health()).to.deep.include({ status: 200 });
  });

  it("answers 404 for other paths and 405 for other methods", async () => {
    expect((await fetch(`${server.url}/`)).status).to.equal(404);
    const post = await fetch(`${server.url}/metrics`, { method: "POST" });
    expect(post.status).to.equal(405);
    expect(post.headers.get("allow")).to.equal("GET");
  });

  it("stops listening on close, even with a keep-alive connection open", async () => {
    await fetch(`${server.url}/health`, { headers: { connection: "keep-alive" } });
    const { url } = server;
    await server.close();
    let refused = false;
    try {
      await fetch(`${url}/health`);
    } catch {
      refused = true;
    }
    expect(refused).to.equal(true);
    server = await startOpsServer({ metrics, ...LIMITS, port: 0 }); // for afterEach
  });

  it("refuses to start on a port that is taken", async () => {
    let failure: unknown;
    try {
      await startOpsServer({ metrics, ...LIMITS, port: server.port });
    } catch (error) {
      failure = error;
    }
    expect(failure).to.be.instanceOf(PortInUseError);
    expect((failure as Error).message).to.equal(`127.0.0.1:${server.port} is already in use`);
  });
});
