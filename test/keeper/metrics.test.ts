import { expect } from "chai";
import { register as globalRegistry } from "prom-client";
import { KeeperMetrics } from "../../keeper/metrics";
import { healthReport, startOpsServer } from "../../keeper/ops-server";
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
  "perpsim_crossing_to_liquidation_seconds",
  "perpsim_health_scan_seconds",
];

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
    a.liquidationsSent.inc(3);
    a.liquidationsSucceeded.inc(2);
    a.liquidationsLostRace.inc();
    b.liquidationsSent.inc();
    expect(sample(await a.exposition(), "perpsim_liquidations_sent_total")).to.equal(3);
    expect(sample(await b.exposition(), "perpsim_liquidations_sent_total")).to.equal(1);
    expect(await a.exposition()).to.contain('perpsim_liquidations_succeeded_total{keeper="a"} 2');
  });

  it("records block progress as last block and lag, never a negative lag", async () => {
    const metrics = new KeeperMetrics();
    expect(metrics.progress()).to.equal(undefined);
    metrics.observeBlock(95, 100);
    expect(metrics.progress()).to.deep.equal({ lastBlock: 95, headBlock: 100, blockLag: 5 });
    const text = await metrics.exposition();
    expect(sample(text, "perpsim_last_block")).to.equal(95);
    expect(sample(text, "perpsim_block_lag")).to.equal(5);
    metrics.observeBlock(101, 100);
    expect(metrics.progress()?.blockLag).to.equal(0);
  });

  it("observes durations in the two histograms", async () => {
    const metrics = new KeeperMetrics();
    metrics.crossingToLiquidationSeconds.observe(1.5);
    metrics.healthScanSeconds.observe(0.004);
    metrics.healthScanSeconds.observe(0.03);
    const text = await metrics.exposition();
    expect(sample(text, "perpsim_crossing_to_liquidation_seconds_count")).to.equal(1);
    expect(sample(text, "perpsim_health_scan_seconds_count")).to.equal(2);
    expect(text).to.contain('perpsim_health_scan_seconds_bucket{le="0.005"} 1');
  });
});

describe("keeper health report", () => {
  it("is unhealthy before the first block is seen", () => {
    expect(healthReport(undefined, 10)).to.deep.equal({
      healthy: false,
      body: { status: "unhealthy", reason: "no block processed yet", maxBlockLag: 10 },
    });
  });

  it("is healthy up to and including the maximum lag, unhealthy beyond it", () => {
    expect(healthReport({ lastBlock: 90, headBlock: 100, blockLag: 10 }, 10).healthy).to.equal(true);
    const late = healthReport({ lastBlock: 89, headBlock: 100, blockLag: 11 }, 10);
    expect(late.healthy).to.equal(false);
    expect(late.body).to.deep.equal({
      status: "unhealthy",
      reason: "block lag 11 exceeds 10",
      maxBlockLag: 10,
      lastBlock: 89,
      headBlock: 100,
      blockLag: 11,
    });
  });
});

describe("keeper ops server", () => {
  let metrics: KeeperMetrics;
  let server: OpsServer;

  beforeEach(async () => {
    metrics = new KeeperMetrics();
    server = await startOpsServer({ metrics, maxBlockLag: 10, port: 0 });
  });

  afterEach(() => server.close());

  it("binds 127.0.0.1 on the free port it was given 0 for", () => {
    expect(server.port).to.be.greaterThan(0);
    expect(server.url).to.equal(`http://127.0.0.1:${server.port}`);
  });

  it("serves the registry on GET /metrics", async () => {
    metrics.liquidationsSucceeded.inc(4);
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).to.equal(200);
    expect(response.headers.get("content-type")).to.contain("text/plain");
    expect(sample(await response.text(), "perpsim_liquidations_succeeded_total")).to.equal(4);
  });

  it("answers /health with 503 before the first block, 200 within the lag, 503 beyond it", async () => {
    const health = async () => {
      const response = await fetch(`${server.url}/health`);
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    expect(await health()).to.deep.include({ status: 503 });
    metrics.observeBlock(100, 104);
    expect(await health()).to.deep.equal({
      status: 200,
      body: { status: "ok", maxBlockLag: 10, lastBlock: 100, headBlock: 104, blockLag: 4 },
    });
    metrics.observeBlock(100, 111);
    const lagging = await health();
    expect(lagging.status).to.equal(503);
    expect(lagging.body).to.deep.include({ status: "unhealthy", blockLag: 11 });
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
    server = await startOpsServer({ metrics, maxBlockLag: 10, port: 0 }); // for afterEach
  });

  it("refuses to start on a port that is taken", async () => {
    let failure: unknown;
    try {
      await startOpsServer({ metrics, maxBlockLag: 10, port: server.port });
    } catch (error) {
      failure = error;
    }
    expect((failure as { code?: string }).code).to.equal("EADDRINUSE");
  });
});
