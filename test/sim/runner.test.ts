import { expect } from "chai";
import hre from "hardhat";
import { loadScenario, type Scenario } from "../../sim/scenario";
import { runScenario } from "../../sim/runner";
import { summaryJson } from "../../sim/output";

/** The scenario cut to the squeeze itself: 20 shorts, entries before the pushes, 16 hours, 20-minute steps. */
function shortened(file: string): Scenario {
  const s = loadScenario(file);
  const HOUR = 3600;
  return {
    ...s,
    durationSec: 16 * HOUR,
    stepSec: 20 * 60,
    agents: {
      ...s.agents,
      retail: s.agents.retail.filter((g) => g.side === "short").map((g) => ({ ...g, count: 20 })),
      marketMaker: s.agents.marketMaker && {
        ...s.agents.marketMaker,
        pushes: s.agents.marketMaker.pushes.filter((p) => p.atSec <= 14 * HOUR),
      },
    },
  };
}

describe("simulator: the seed's squeeze on real contracts", function () {
  this.timeout(600_000);

  it("liquidates most retail shorts on the thin market and none on the deep one, with the same budget", async () => {
    const thin = await runScenario(hre, shortened("scenarios/squeeze-thin.json"));
    const deep = await runScenario(hre, shortened("scenarios/squeeze-deep.json"));
    const t = thin.summary.markets[0]!;
    const d = deep.summary.markets[0]!;
    expect(t.marketMakerCost).to.equal(d.marketMakerCost);
    expect(t.traders).to.equal(20);
    expect(t.tradersLiquidated).to.be.greaterThan(t.traders / 2);
    expect(d.tradersLiquidated).to.equal(0);
    expect(t.peakMove.spot.up).to.be.greaterThan(d.peakMove.spot.up * 10n);
    // every liquidation on the thin market shows up in the timeline's per-step counts
    const counted = thin.timeline.reduce((n, row) => n + row.markets[0]!.liquidations, 0);
    expect(counted).to.equal(t.liquidations);
  });

  it("gives a byte-identical summary.json for the same seed", async () => {
    const s = shortened("scenarios/squeeze-thin.json");
    const a = summaryJson((await runScenario(hre, s)).summary);
    const b = summaryJson((await runScenario(hre, s)).summary);
    expect(a).to.equal(b);
  });
});
