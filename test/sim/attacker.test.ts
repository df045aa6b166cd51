/**
 * The replays' pieces without a chain (SPEC 9.4): the attacker's pure decisions on a hand-made market
 * view, and the scenario schema's new fields (venues, the PnL cap, the attacker, sources/calibrated).
 */
import fs from "node:fs";
import { expect } from "chai";
import { WAD } from "../../sim/decimal";
import { loadScenario, parseScenario, ScenarioError } from "../../sim/scenario";
import type { MarketState, Tier } from "../../lib/math";
import type { TrackedPosition } from "../../keeper/book";
import { ANY_BUY_PRICE, ANY_SELL_PRICE } from "../../sim/agents/intents";
import {
  attackerActions,
  removableMargin,
  REMOVE_MARGIN_SAFETY,
  SPOT_WALLET,
  type AttackerInput,
} from "../../sim/agents/attacker";
import type { MarketView } from "../../sim/agents/view";
import { systemSpecOf } from "../../sim/runner";

const wad = (x: number | bigint) => BigInt(x) * WAD;
const MINUTE = 60;
const MANGO = "scenarios/replay-mango-2022.json";
const TIERS: Tier[] = [{ notionalCap: wad(100_000_000), mmr: WAD / 10n, maxLeverage: wad(5), maintenanceAmount: 0n }];

function view(price: bigint, longOi = 0n, shortOi = 0n): MarketView {
  const zero = 0n;
  const state: MarketState = {
    longOpenInterest: longOi,
    shortOpenInterest: shortOi,
    longEntryNotional: zero,
    longEntryRemainder: zero,
    shortEntryNotional: zero,
    shortEntryRemainder: zero,
    fundingSnapshotSum: zero,
    fundingSnapshotRemainder: zero,
    fundingIndex: zero,
    lastFundingRate: zero,
    lastFundingTime: zero,
    premiumCum: zero,
    lastPremium: zero,
    lastSampleTime: zero,
    premiumStart: zero,
    emaBasis: zero,
    uncoveredBadDebt: zero,
    paused: false,
  };
  return {
    symbol: "MNGO-USD",
    marketId: 1n,
    nowSec: 0n,
    projected: { state, index: price, last: price, mark: price },
    tiers: TIERS,
    skewScale: wad(5_000_000_000),
    takerFee: WAD / 2_000n,
  };
}

function position(size: bigint, entryPrice: bigint, margin: bigint): TrackedPosition {
  return { id: 9n, owner: "0x02", marketId: 1n, size, entryPrice, margin, fundingSnapshot: 0n, block: 1 };
}

const PRICE = (WAD * 38n) / 1_000n; // $0.038
const plan = () => loadScenario(MANGO).agents.attacker!;

function input(overrides: Partial<AttackerInput>): AttackerInput {
  return {
    plan: plan(),
    tSec: 6 * MINUTE,
    stepSec: MINUTE,
    market: view(PRICE),
    maxOpenInterest: wad(1_000_000_000),
    positions: new Map(),
    coins: 0n,
    ...overrides,
  };
}

describe("sim: the attacker's decisions (SPEC 9.4)", () => {
  it("opens both sides of 483M MNGO in one step, each at any price, each from its own account", () => {
    const actions = attackerActions(input({}));
    expect(actions.map((a) => a.account)).to.deep.equal(["long", "short"]);
    const [long, short] = actions.map((a) => a.action);
    expect(long!.intent).to.deep.include({ kind: "increase", sizeDelta: wad(483_000_000), margin: wad(4_980_000) });
    expect(short!.intent).to.deep.include({ kind: "increase", sizeDelta: -wad(483_000_000), margin: wad(4_980_000) });
    expect(long!.intent.kind === "increase" && long!.intent.acceptablePrice).to.equal(ANY_BUY_PRICE);
    expect(short!.intent.kind === "increase" && short!.intent.acceptablePrice).to.equal(ANY_SELL_PRICE);
    expect(actions.every((a) => a.action.actor === "attacker" && a.action.optional)).to.equal(true);
  });

  it("cuts an open to the room an open-interest cap leaves, the margin in proportion", () => {
    // 20M cap, 5M already long: 15M of the 483M fit, so the margin is 4,980,000 x 15/483.
    const actions = attackerActions(input({ market: view(PRICE, wad(5_000_000)), maxOpenInterest: wad(20_000_000) }));
    const long = actions[0]!.action.intent;
    expect(long).to.deep.include({ sizeDelta: wad(15_000_000), margin: (wad(4_980_000) * 15n) / 483n });
    // The short side was empty: 20M of it.
    expect(actions[1]!.action.intent).to.deep.include({ sizeDelta: -wad(20_000_000) });
  });

  it("takes margin out down to the target leverage at mark, keeping the safety", () => {
    // Short 483M at $0.038 on 4,980,000: notional 18,354,000; at 4.9x it keeps 18,354,000 x 1.001 / 4.9.
    const p = position(-wad(483_000_000), PRICE, wad(4_980_000));
    const positions = new Map([["short", p]]);
    const notional = wad(18_354_000);
    const keep = (notional * (WAD + REMOVE_MARGIN_SAFETY) + wad(49) / 10n - 1n) / (wad(49) / 10n);
    const amount = removableMargin({ market: view(PRICE), positions }, "short", wad(49) / 10n);
    expect(amount).to.equal(wad(4_980_000) - keep);
    const actions = attackerActions(input({ tSec: 7 * MINUTE, positions }));
    expect(actions).to.have.length(1);
    expect(actions[0]!.action.intent).to.deep.equal({ kind: "removeMargin", symbol: "MNGO-USD", amount });
  });

  it("takes nothing out of a position already at the target leverage, and does not act without one", () => {
    const atTarget = position(-wad(483_000_000), PRICE, wad(3_000_000));
    const positions = new Map([["short", atTarget]]);
    expect(removableMargin({ market: view(PRICE), positions }, "short", wad(5))).to.equal(undefined);
    expect(attackerActions(input({ tSec: 7 * MINUTE }))).to.deep.equal([]);
    expect(attackerActions(input({ tSec: 20 * MINUTE }))).to.deep.equal([]);
  });

  it("splits a spot buy evenly over the venues, from the spot wallet", () => {
    const actions = attackerActions(input({ tSec: 13 * MINUTE }));
    expect(actions.map((a) => a.account)).to.deep.equal([SPOT_WALLET, SPOT_WALLET, SPOT_WALLET]);
    expect(actions.map((a) => a.action.intent)).to.deep.equal(
      [0, 1, 2].map((venue) => ({ kind: "spotBuy", symbol: "MNGO-USD", usd6: 211_111_000_000n, venue })),
    );
  });

  it("sells the share of the coins it holds, split over the venues", () => {
    const actions = attackerActions(input({ tSec: 25 * MINUTE, coins: wad(300) }));
    expect(actions.map((a) => a.action.intent)).to.deep.equal(
      [0, 1, 2].map((venue) => ({ kind: "spotSell", symbol: "MNGO-USD", coins: wad(100), venue })),
    );
  });

  it("closes the winning long at any price when it is due", () => {
    const p = position(wad(483_000_000), PRICE, wad(4_980_000));
    const actions = attackerActions(input({ tSec: 20 * MINUTE, positions: new Map([["long", p]]) }));
    expect(actions.map((a) => [a.account, a.action.intent])).to.deep.equal([
      ["long", { kind: "close", symbol: "MNGO-USD", acceptablePrice: ANY_SELL_PRICE }],
    ]);
  });
});

describe("sim: the replays' scenario fields", () => {
  const json = () => JSON.parse(fs.readFileSync(MANGO, "utf8"));
  // The raw JSON as a test edits it, field by field, before the schema sees it.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const issues = (mutate: (j: any) => void): string => {
    const j = json();
    mutate(j);
    try {
      parseScenario(j, "x.json");
    } catch (error) {
      if (error instanceof ScenarioError) return error.message;
      throw error;
    }
    return "";
  };

  it("accepts the replays' sources and calibrated facts and keeps them", () => {
    for (const file of [MANGO, "scenarios/replay-jelly-2025.json"]) {
      const s = loadScenario(file);
      expect(s.sources!.length).to.be.greaterThan(3);
      expect(s.calibrated!.some((c) => c.field.includes("spotLiquidityUsd"))).to.equal(true);
    }
  });

  it("reads the PnL cap as a protection, defaulting to the engine's 0.5, in (0, 1]", () => {
    expect(loadScenario(MANGO).markets[0]!.protections.maxPnlFactor).to.equal(WAD / 2n);
    const without = json();
    delete without.markets[0].protections.maxPnlFactor;
    expect(parseScenario(without, "x.json").markets[0]!.protections.maxPnlFactor).to.equal(WAD / 2n);
    expect(issues((j) => (j.markets[0].protections.maxPnlFactor = 0))).to.equal(
      "x.json: markets[0].protections.maxPnlFactor: must be > 0 (got 0)",
    );
    expect(issues((j) => (j.markets[0].protections.maxPnlFactor = 1.5))).to.equal(
      "x.json: markets[0].protections.maxPnlFactor: must be <= 1 (got 1.5)",
    );
  });

  it("deploys the PnL cap and one reporter per venue as the scenario says", () => {
    const j = json();
    j.markets[0].protections.maxPnlFactor = 0.02;
    j.markets[0].venues = { count: 4, liquidityUsd: [500_000, 100_000, 100_000, 100_000] };
    const [market] = systemSpecOf(parseScenario(j, "x.json")).markets;
    expect(market).to.deep.include({ maxPnlFactor: "0.02", pushedFeeds: 4, spotLiquidityUsd: "500000" });
  });

  it("gives each venue the market's depth unless listed, and refuses a list of the wrong length", () => {
    expect(loadScenario(MANGO).markets[0]!.venueLiquidityUsd).to.deep.equal([wad(341_500), wad(341_500), wad(341_500)]);
    expect(issues((j) => (j.markets[0].venues.liquidityUsd = [1000, 2000]))).to.equal(
      "x.json: markets[0].venues.liquidityUsd: must list one depth per venue (venues.count = 3) (got 2)",
    );
    expect(issues((j) => (j.markets[0].feeds.pushed = 2))).to.contain("markets[0].feeds.pushed: must be 0 with venues");
  });

  it("refuses an attacker step on a venue, an account or a time the scenario does not have", () => {
    expect(issues((j) => (j.agents.attacker.steps[3].venues = [0, 3]))).to.equal(
      "x.json: agents.attacker.steps[3].venues[1]: must be < the market's venue count (3) (got 3)",
    );
    expect(issues((j) => (j.agents.attacker.steps[0].account = "third"))).to.equal(
      "x.json: agents.attacker.steps[0].account: names no account in accounts (long, short) (got third)",
    );
    expect(issues((j) => (j.agents.attacker.steps[0].atMinutes = 60))).to.contain(
      "agents.attacker.steps[0].atMinutes: must be < durationHours in minutes (60) (got 60)",
    );
    expect(issues((j) => (j.agents.attacker.spotBudgetUsd = 1000))).to.contain(
      "agents.attacker.spotBudgetUsd: must cover the spot buys (3999998) (got 1000)",
    );
  });
});
