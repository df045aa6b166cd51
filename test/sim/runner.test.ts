import { expect } from "chai";
import hre from "hardhat";
import { loadScenario, type Scenario } from "../../sim/scenario";
import { runScenario, SIM_EPOCH_SEC, startSec } from "../../sim/runner";
import { summaryJson } from "../../sim/output";
import { RequiredActionRefused } from "../../sim/agents/intents";
import { WAD } from "../../sim/decimal";

const HOUR = 3600;

/** The scenario cut to the squeeze itself: 20 shorts, entries before the pushes, 16 hours, 20-minute steps. */
function shortened(file: string): Scenario {
  const s = loadScenario(file);
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

  it("liquidates every retail short on the thin market and none on the deep one, with the same budget", async () => {
    const thin = await runScenario(hre, shortened("scenarios/squeeze-thin.json"));
    const deep = await runScenario(hre, shortened("scenarios/squeeze-deep.json"));
    const t = thin.summary.markets[0]!;
    const d = deep.summary.markets[0]!;
    expect(t.marketMakerCost).to.equal(d.marketMakerCost);
    expect(t.traders).to.equal(20);
    expect(t.tradersLiquidated).to.equal(t.traders);
    expect(d.tradersLiquidated).to.equal(0);
    expect(t.peakMove.spot.up).to.be.greaterThan(d.peakMove.spot.up * 10n);
    // every liquidation on the thin market shows up in the timeline's per-step counts
    const counted = thin.timeline.reduce((n, row) => n + row.markets[0]!.liquidations, 0);
    expect(counted).to.equal(t.liquidations);
  });

  it("opens the market maker's perp long without a refusal, and it shows in the long open interest", async () => {
    const scenario = shortened("scenarios/squeeze-thin.json");
    const plan = scenario.agents.marketMaker!;
    const perp = plan.perpPosition!;
    const result = await runScenario(hre, scenario);
    const { marketMaker } = result.summary.actions;
    // the perp position and every push, each done
    expect(marketMaker).to.deep.equal({ attempted: 1 + plan.pushes.length, done: 1 + plan.pushes.length, refused: {} });
    const row = (sec: number) => result.timeline.find((r) => r.t === sec)!.markets[0]!;
    const before = row(perp.atSec - scenario.stepSec);
    const after = row(perp.atSec);
    // 25,000 USD at 5x near 0.5 USD: about 250,000 base units joined the long side in that step
    const size = (perp.marginUsd * perp.leverage) / before.mark;
    expect(after.oiLong - before.oiLong).to.be.greaterThan((size * 95n) / 100n);
    const m = result.summary.markets[0]!;
    expect(m.marketMakerPnlPerp + m.marketMakerPnlSpot).to.equal(m.marketMakerPnl);
    // the squeeze is harvested on the perp leg: the long gained as the mark rose
    expect(m.marketMakerPnlPerp).to.be.greaterThan(m.marketMakerPnlSpot);
  });

  it("stops with the refusal named when the market maker's perp position cannot open", async () => {
    const s = shortened("scenarios/squeeze-thin.json");
    // an open-interest cap of 100,000 base units: the 250,000-unit long is refused
    const capped: Scenario = {
      ...s,
      durationSec: 12 * HOUR,
      markets: s.markets.map((m) => ({ ...m, protections: { ...m.protections, oiCap: 100_000n * WAD } })),
      agents: { ...s.agents, retail: s.agents.retail.map((g) => ({ ...g, count: 2 })) },
    };
    const error = await runScenario(hre, capped).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.instanceOf(RequiredActionRefused);
    expect((error as Error).message).to.match(
      /^the market maker's 5x perp long on 25,000 USD of margin was refused at 11 h: OpenInterestCapExceeded/,
    );
  });

  it("starts a run on a node at the first time after its head where the epoch falls in each funding interval", () => {
    const s = shortened("scenarios/squeeze-thin.json"); // 8-hour funding
    const eight = 8 * HOUR;
    const head = 1_700_000_123;
    const start = startSec(s, false, head);
    expect(start % eight).to.equal(SIM_EPOCH_SEC % eight);
    expect(start).to.be.greaterThan(head);
    expect(start - head).to.be.at.most(eight);
    // a 6-hour and an 8-hour market: the period is 24 hours
    const mixed = {
      ...s,
      markets: [s.markets[0]!, { ...s.markets[0]!, symbol: "BTC-USD", fundingIntervalSec: 6 * HOUR }],
    };
    expect(startSec(mixed, false, head) % (24 * HOUR)).to.equal(SIM_EPOCH_SEC % (24 * HOUR));
    expect(startSec(s, true, head)).to.equal(SIM_EPOCH_SEC);
  });

  it("gives a byte-identical summary.json for the same seed", async () => {
    const s = shortened("scenarios/squeeze-thin.json");
    const a = summaryJson((await runScenario(hre, s)).summary);
    const b = summaryJson((await runScenario(hre, s)).summary);
    expect(a).to.equal(b);
    expect(JSON.parse(a)).to.have.property("actions");
  });

  it("runs the same system again from its deployment snapshot (in-process), with the same summary.json as from a reset chain", async () => {
    const s = { ...shortened("scenarios/squeeze-thin.json"), durationSec: 4 * HOUR };
    const provider = hre.network.provider;
    const calls: string[] = [];
    const send = provider.send.bind(provider);
    provider.send = (method, params) => {
      if (method === "hardhat_reset" || method === "evm_revert") calls.push(method);
      return send(method, params);
    };
    try {
      await provider.send("hardhat_reset", []);
      calls.length = 0;
      // A snapshot kept from an earlier run (of this system or not) leads nowhere after that reset.
      const fresh = summaryJson((await runScenario(hre, s, { chain: "edr" })).summary);
      expect(calls.at(-1)).to.equal("hardhat_reset");
      calls.length = 0;
      const reverted = summaryJson((await runScenario(hre, s, { chain: "edr" })).summary);
      expect(calls).to.deep.equal(["evm_revert"]);
      expect(reverted).to.equal(fresh);
      // Someone else resets the chain and takes snapshots of their own: the kept snapshot's id may now
      // name theirs, which leads to another head block, so the runner resets and deploys again.
      await provider.send("hardhat_reset", []);
      await provider.send("hardhat_mine", ["0x5"]);
      await provider.send("evm_snapshot", []);
      await provider.send("hardhat_mine", ["0x5"]);
      calls.length = 0;
      const again = summaryJson((await runScenario(hre, s, { chain: "edr" })).summary);
      expect(calls.at(-1)).to.equal("hardhat_reset");
      expect(again).to.equal(fresh);
    } finally {
      provider.send = send;
    }
  });

  // Minutes long: SIM_LONG=1 npx hardhat test test/sim/runner.test.ts
  (process.env.SIM_LONG === "1" ? it : it.skip)(
    "runs squeeze-thin for ten years at 8-hour steps, counting the refusals instead of crashing on them",
    async () => {
      const s = loadScenario("scenarios/squeeze-thin.json");
      const result = await runScenario(hre, { ...s, durationSec: 87_600 * HOUR, stepSec: 8 * HOUR });
      expect(result.timeline).to.have.length(87_600 / 8 + 1);
      for (const count of Object.values(result.summary.actions)) {
        const refused = Object.values(count.refused).reduce((n, k) => n + k, 0);
        expect(count.attempted).to.equal(count.done + refused);
      }
      expect(result.summary.actions.marketMaker.refused).to.deep.equal({});
    },
  );
});
