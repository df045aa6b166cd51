/**
 * The block loop over several venues (keeper/service.ts), with fake keepers on a fake head: every venue
 * ticks on a new head; a venue whose tick fails backs off on its own while the others keep progressing;
 * /health's per-venue progress says which is stuck; a ChainGoneError from any venue ends the loop.
 */
import { expect } from "chai";
import { CircuitBreaker } from "../../keeper/chain/circuit";
import { ChainGoneError, emptyTickReport } from "../../keeper/keeper";
import type { Keeper, TickReport } from "../../keeper/keeper";
import { createMemoryLogger, LOG_LEVELS } from "../../keeper/log";
import { KeeperMetrics } from "../../keeper/metrics";
import { keeperHealth, venueProgress } from "../../keeper/ops-server";
import { KeeperService } from "../../keeper/service";
import { waitFor } from "./e2e";

const POLL_MS = 10;

/** A keeper whose tick reports the head, or throws what `fail` returns. */
class FakeKeeper {
  ticks = 0;
  stopRequested = false;
  fail: () => Error | undefined = () => undefined;

  constructor(private readonly head: { number: number }) {}

  async tick(): Promise<TickReport> {
    this.ticks += 1;
    const error = this.fail();
    if (error !== undefined) throw error;
    return emptyTickReport(this.head.number);
  }

  requestStop(): void {
    this.stopRequested = true;
  }
}

function setup(names: string[]) {
  const head = { number: 10 };
  const metrics = new KeeperMetrics();
  const logs = createMemoryLogger("info");
  const keepers = new Map(names.map((name) => [name, new FakeKeeper(head)]));
  const ticked: string[] = [];
  const service = new KeeperService({
    venues: names.map((name) => ({
      name,
      keeper: keepers.get(name)! as unknown as Keeper,
      metrics: metrics.venue(name),
      log: logs.log.child({ venue: name }),
    })),
    chain: { getBlock: async () => ({ number: head.number, hash: `0x${head.number.toString(16)}` }) },
    circuit: new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1_000 }),
    log: logs.log,
    metrics,
    pollMs: POLL_MS,
    idleTickMs: 60_000,
    backoff: { baseMs: 200, maxMs: 200 },
    onTick: (_report, venue) => ticked.push(venue),
  });
  const health = () => keeperHealth(metrics.venues().map(venueProgress), { maxBlockLag: 2, maxStaleSeconds: 30 });
  return { head, keepers, service, ticked, logs, health };
}

describe("KeeperService over several venues", () => {
  it("ticks every venue on each new head, and none while the head stays", async () => {
    const { head, keepers, service, ticked } = setup(["USD", "BTC", "ALT"]);
    const running = service.run();
    await waitFor("the first block on every venue", 5_000, async () => service.processedBlock);
    expect(service.processedBlock).to.equal(10);
    expect([...ticked].sort()).to.deep.equal(["ALT", "BTC", "USD"]);
    await new Promise((resolve) => setTimeout(resolve, 5 * POLL_MS));
    expect(ticked).to.have.length(3);
    head.number = 11;
    await waitFor("block 11 on every venue", 5_000, async () => (service.processedBlock === 11 ? true : undefined));
    expect([...keepers.values()].map((k) => k.ticks)).to.deep.equal([2, 2, 2]);
    await service.stop();
    await running;
    expect([...keepers.values()].every((k) => k.stopRequested)).to.equal(true);
  });

  it("backs a failing venue off on its own: the others keep up, /health names it, and it catches up once it ticks", async () => {
    const { head, keepers, service, logs, health } = setup(["USD", "BTC"]);
    let broken = true;
    keepers.get("BTC")!.fail = () => (broken ? new Error("BTC's engine read failed") : undefined);
    const running = service.run();
    await waitFor("USD's first block", 5_000, async () => service.processedBlockOf("USD"));
    expect(service.processedBlock, "not every venue has a block").to.equal(undefined);
    for (let block = 11; block <= 14; block++) {
      head.number = block;
      await waitFor(`USD at ${block}`, 5_000, async () =>
        service.processedBlockOf("USD") === block ? true : undefined,
      );
    }
    // One error line for the run of failures (the rest at debug), from BTC only.
    const errors = logs.entries().filter((e) => e.msg === "tick failed");
    expect(errors.map((e) => e.venue)).to.deep.equal(["BTC"]);
    expect(errors[0].level).to.equal(LOG_LEVELS.error);
    expect(health().body.reason).to.equal("BTC: no block processed yet");

    broken = false;
    await waitFor("BTC ticking again", 5_000, async () => (service.processedBlockOf("BTC") === 14 ? true : undefined));
    expect(service.processedBlock).to.equal(14);
    expect(health().healthy).to.equal(true);
    await service.stop();
    await running;
  });

  it("ends the loop on a ChainGoneError from any venue", async () => {
    const { keepers, service } = setup(["USD", "ALT"]);
    keepers.get("ALT")!.fail = () => new ChainGoneError("chain reset: no contract at the engine");
    let stopped: unknown;
    await service.run().catch((error: unknown) => (stopped = error));
    expect(stopped).to.be.instanceOf(ChainGoneError);
  });
});
