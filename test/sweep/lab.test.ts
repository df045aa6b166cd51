import { expect } from "chai";
import { WAD } from "../../sim/decimal";
import { LAB_LEVERAGES, labMarkdown, labPlan, labTable } from "../../sim/lab";
import { getAt, parsePath } from "../../sim/sweep/paths";
import { METRICS, type RunMetrics } from "../../sim/sweep/metrics";
import type { RunRow } from "../../sim/sweep/summary";

const w = (n: number) => BigInt(n) * WAD;

describe("survival lab plan and table", () => {
  const plan = labPlan("2");

  it("plans 5 leverages x thin/deep x with/against the crowd x seeds, every scenario valid", () => {
    expect(plan.configs).to.have.length(LAB_LEVERAGES.length * 2 * 2);
    expect(plan.runs).to.have.length(20 * 2);
    expect(plan.configs[0]!.labels).to.deep.equal(["2", "thin", "with"]);
    expect(plan.configs[19]!.labels).to.deep.equal(["30", "deep", "against"]);
  });

  it("sets the leverage of the crowd (group 0, shorts) or of the side against it (group 1), and the depth", () => {
    const withCrowd = plan.scenarios[plan.configs.findIndex((c) => c.labels.join() === "20,deep,with")]!;
    expect(getAt(withCrowd, parsePath("agents.retail.0.leverage"))).to.deep.equal({ min: 20, max: 20 });
    expect(getAt(withCrowd, parsePath("agents.retail.1.leverage"))).to.deep.equal({ min: 3, max: 3 });
    expect(getAt(withCrowd, parsePath("markets.0.spotLiquidityUsd"))).to.equal(50_000_000);
    const against = plan.scenarios[plan.configs.findIndex((c) => c.labels.join() === "20,thin,against")]!;
    expect(getAt(against, parsePath("agents.retail.0.leverage"))).to.deep.equal({ min: 3, max: 3 });
    expect(getAt(against, parsePath("agents.retail.1.leverage"))).to.deep.equal({ min: 20, max: 20 });
    expect(plan.base.agents.retail.map((g) => [g.side, g.count])).to.deep.equal([
      ["short", 16],
      ["long", 4],
    ]);
  });

  it("measures only the side the configuration sets: shorts with the crowd, longs against it", () => {
    const zero = Object.fromEntries(METRICS.map((m) => [m, 0n])) as RunMetrics;
    const row = (labels: string[], seed: number, over: Partial<RunMetrics>): RunRow => ({
      key: JSON.stringify([...labels, seed]),
      config: 0,
      labels,
      seed,
      metrics: { ...zero, ...over },
    });
    const rows = [
      // with the crowd: 16 shorts; 8 then 12 liquidated; they lose $1,600 then $3,200; pay $160 of funding
      row(["30", "thin", "with"], 1, { liquidatedShorts: w(8), retailPnlShorts: -w(1600), fundingPaidShorts: w(160) }),
      row(["30", "thin", "with"], 2, { liquidatedShorts: w(12), retailPnlShorts: -w(3200), fundingPaidShorts: w(160) }),
      // against it: 4 longs, none liquidated, they gain $400 and receive $40 of funding
      row(["30", "thin", "against"], 1, { liquidatedShorts: w(16), retailPnlLongs: w(400), fundingPaidLongs: -w(40) }),
    ];
    const [withCrowd, against] = labTable(plan, rows);
    // mean of 8/16 and 12/16 = 62.5%; median of $100 and $200 per trader = $150; $10 of funding each
    expect(withCrowd).to.deep.include({ leverage: 30, market: "thin", side: "with", seeds: 2 });
    expect(withCrowd!.liquidatedShare).to.equal((WAD * 625n) / 1000n);
    expect(withCrowd!.medianLossPerTrader).to.equal(w(150));
    expect(withCrowd!.fundingPaidPerTrader).to.equal(w(10));
    // the crowd's 16 liquidated shorts do not count against the 4 longs
    expect(against!.liquidatedShare).to.equal(0n);
    expect(against!.medianLossPerTrader).to.equal(-w(100));
    expect(against!.fundingPaidPerTrader).to.equal(-w(10));
    expect(labMarkdown([withCrowd!, against!], [1, 2])).to.contain(
      "| 30x | thin | with the crowd | 63% | $150.00 | $10.00 |",
    );
  });
});
