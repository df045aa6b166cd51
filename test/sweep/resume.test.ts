import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { formatWad, WAD } from "../../sim/decimal";
import type { RunJob, RunOutcome } from "../../sim/sweep/job";
import { METRICS } from "../../sim/sweep/metrics";
import { planSweep, runSweep, type Executor } from "../../sim/sweep/sweep";
import type { JsonValue } from "../../sim/sweep/paths";

const SCENARIO = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "tiny.json"), "utf8")) as JsonValue;
const VARY = ["markets.0.spotLiquidityUsd=200000,2000000"];

/**
 * Stands in for the workers: answers each job with metrics derived from its seed, finishing them in
 * reverse order, and remembers what it was asked to run.
 */
class FakeExecutor implements Executor {
  readonly description = "a fake executor";
  ran: string[] = [];

  async execute(jobs: readonly RunJob[], onOutcome: (outcome: RunOutcome) => void): Promise<void> {
    for (const job of [...jobs].reverse()) {
      this.ran.push(job.key);
      const metrics = Object.fromEntries(METRICS.map((name, i) => [name, formatWad(BigInt(job.seed * 10 + i) * WAD)]));
      onOutcome({ key: job.key, metrics });
    }
  }

  async close(): Promise<void> {}
}

describe("sweep directory: resume, order and ownership", () => {
  let dir = "";
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "perpsim-sweep-resume-"));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("writes runs in plan order whatever order they finish in", async () => {
    const result = await runSweep(planSweep("tiny.json", SCENARIO, VARY, "2"), dir, new FakeExecutor());
    const lines = fs.readFileSync(result.files.runs, "utf8").trim().split("\n").slice(1);
    expect(lines.map((l) => l.split(",").slice(0, 3).join(","))).to.deep.equal([
      "0,200000,1",
      "0,200000,2",
      "1,2000000,1",
      "1,2000000,2",
    ]);
    expect(result.summary.configurations).to.have.length(2);
  });

  it("runs only the seeds a rerun adds, and nothing when the arguments are the same", async () => {
    await runSweep(planSweep("tiny.json", SCENARIO, VARY, "2"), dir, new FakeExecutor());
    const more = new FakeExecutor();
    const extended = await runSweep(planSweep("tiny.json", SCENARIO, VARY, "3"), dir, more);
    expect([extended.ran, extended.skipped]).to.deep.equal([2, 4]);
    expect(more.ran).to.deep.equal(['["2000000",3]', '["200000",3]']);
    const same = new FakeExecutor();
    const again = await runSweep(planSweep("tiny.json", SCENARIO, VARY, "3"), dir, same);
    expect([again.ran, same.ran.length]).to.deep.equal([0, 0]);
  });

  it("refuses to resume runs of the scenario as it was before an edit", async () => {
    await runSweep(planSweep("tiny.json", SCENARIO, VARY, "1"), dir, new FakeExecutor());
    const edited = { ...(SCENARIO as Record<string, JsonValue>), insuranceFundUsd: 1 };
    const executor = new FakeExecutor();
    let message = "";
    await runSweep(planSweep("tiny.json", edited, VARY, "1"), dir, executor).catch((e: Error) => (message = e.message));
    expect(message).to.contain("holds runs of tiny.json (sweep-tiny) as it was then");
    expect(executor.ran).to.deep.equal([]);
  });

  it("refuses a directory whose runs.csv has other columns", async () => {
    await runSweep(planSweep("tiny.json", SCENARIO, VARY, "1"), dir, new FakeExecutor());
    let message = "";
    await runSweep(
      planSweep("tiny.json", SCENARIO, ["markets.0.skewScale=1000000"], "1"),
      dir,
      new FakeExecutor(),
    ).catch((e: Error) => (message = e.message));
    expect(message).to.contain("belongs to another sweep");
  });
});
