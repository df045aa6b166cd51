/* eslint-disable @typescript-eslint/no-explicit-any -- the tests set fields of raw scenario JSON */
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { WAD } from "../../sim/decimal";
import { loadScenario, parseScenario, ScenarioError, withMaintenanceAmounts } from "../../sim/scenario";

const FIXTURES = path.join(__dirname, "fixtures");
const SCENARIOS = path.join(__dirname, "..", "..", "scenarios");
const BUILT_IN = [
  "squeeze-thin",
  "squeeze-deep",
  "funding-drain",
  "leverage-ladder",
  "protections",
  "cascade",
  "coin-margined-crash",
  "squeeze-thin-coin",
];

const usd = (amount: bigint) => amount * WAD;

/** Each malformed fixture and the one error it must give (after "<file>: "). */
const MALFORMED: Record<string, string> = {
  "invalid-json": "is not valid JSON",
  "missing-seed": "seed: is required",
  "unknown-field": "agents.retail[0].colour: is not a known field",
  "tier-mmr-not-ascending": "markets[0].tiers[1].mmr: must be > tiers[0].mmr (0.01) (got 0.005)",
  "tier-cap-not-ascending": "markets[0].tiers[1].notionalCap: must be > tiers[0].notionalCap (50000) (got 40000)",
  "tier-leverage-rising": "markets[0].tiers[1].maxLeverage: must be <= tiers[0].maxLeverage (50) (got 60)",
  "tier-mmr-above-initial-margin": "markets[0].tiers[0].mmr: must be < 1 / maxLeverage (0.01) (got 0.01)",
  "no-tiers": "markets[0].tiers: must list at least one tier",
  "leverage-below-one": "agents.retail[0].leverage.min: must be >= 1 (got 0)",
  "leverage-range-inverted": "agents.retail[0].leverage.max: must be >= min (20) (got 5)",
  "leverage-above-tier":
    "agents.retail[0].leverage.max: 60x on 1000 USD falls in markets[0].tiers[1], which allows at most 25x (at marginUsd.max)",
  "entry-window-past-duration": "agents.retail[0].entryWindowHours.to: must be <= durationHours (36) (got 48)",
  "entry-window-inverted": "agents.retail[0].entryWindowHours.to: must be >= from (10) (got 2)",
  "push-past-duration": "agents.marketMaker.pushes[2].atHours: must be < durationHours (36) (got 36)",
  "pushes-out-of-order": "agents.marketMaker.pushes[1].atHours: must be >= pushes[0].atHours (12) (got 11)",
  "budget-exceeded":
    "agents.marketMaker.budgetUsd: must cover the buys (150000) and the perp margin with its opening fee (25078.75): 175078.75 (got 150000)",
  "perp-position-too-large":
    "agents.marketMaker.perpPosition.leverage: a 300000 USD position exceeds the last markets[0].tiers notionalCap (250000)",
  "unknown-market": "agents.retail[0].market: names no market in markets (ALT-USD) (got BTC-USD)",
  "duplicate-market": "markets[1].symbol: duplicates markets[0].symbol (ALT-USD)",
  "step-does-not-divide": "stepMinutes: must divide durationHours (36 h) into whole steps (got 7 min)",
  "step-not-whole-seconds": "stepMinutes: must be a whole number of seconds (got 0.06 s)",
  "bad-decimal": 'markets[0].tiers[0].mmr: "1%" is not a decimal number',
  "too-many-decimals": "markets[0].initialPrice: 0.0000000000000000001 has more than 18 decimal places",
  "bad-side": 'agents.retail[0].side: must be "long" or "short" (got "sell")',
  "wrong-type": "keeper.enabled: must be a boolean (got string)",
  "count-not-integer": "agents.retail[0].count: must be an integer",
  "maker-above-taker": "markets[0].fees.maker: must be <= taker (0.0006) (got 0.001)",
  "fee-finer-than-rate-unit":
    "markets[0].fees.taker: must be a multiple of 0.0000001, the engine's rate unit (got 0.0000000005)",
  "short-take-profit-whole": "agents.retail[0].takeProfitPct: must be < 1 for a short (got 1)",
  "oi-cap-above-max": "markets[0].protections.oiCap: must be <= maxOpenInterest (10000000) (got 20000000)",
  "zero-funding-interval": "markets[0].fundingIntervalHours: must be > 0 (got 0)",
  "bad-name": "name: must be lower-case words joined by '-' (it names the report folder)",
};

function errorOf(file: string): ScenarioError {
  try {
    loadScenario(file);
  } catch (error) {
    expect(error).to.be.instanceOf(ScenarioError);
    return error as ScenarioError;
  }
  throw new Error(`${file} loaded without an error`);
}

describe("scenario files", () => {
  describe("built-in scenarios", () => {
    for (const name of BUILT_IN) {
      it(`loads scenarios/${name}.json with the name it is filed under`, () => {
        const scenario = loadScenario(path.join(SCENARIOS, `${name}.json`));
        expect(scenario.name).to.equal(name);
        expect(scenario.durationSec % scenario.stepSec).to.equal(0);
      });
    }

    it("gives squeeze-thin and squeeze-deep the same shorts and market-maker plan on a 250x deeper pool", () => {
      const thin = loadScenario(path.join(SCENARIOS, "squeeze-thin.json"));
      const deep = loadScenario(path.join(SCENARIOS, "squeeze-deep.json"));
      expect(deep.agents).to.deep.equal(thin.agents);
      expect(deep.seed).to.equal(thin.seed);
      expect(deep.markets[0]!.spotLiquidityUsd).to.equal(250n * thin.markets[0]!.spotLiquidityUsd);
      expect(deep.markets[0]!.skewScale > thin.markets[0]!.skewScale).to.equal(true);
    });

    it("turns on TWAP, price band, per-update deviation and OI cap in protections, and nothing else changes", () => {
      const thin = loadScenario(path.join(SCENARIOS, "squeeze-thin.json"));
      const guarded = loadScenario(path.join(SCENARIOS, "protections.json"));
      const { protections, ...market } = guarded.markets[0]!;
      expect(protections.twapWindowSec).to.be.greaterThan(0);
      expect(
        protections.priceBand > 0n && protections.maxPriceDeviationPerUpdate > 0n && protections.oiCap > 0n,
      ).to.equal(true);
      const { protections: _thinProtections, ...thinMarket } = thin.markets[0]!;
      expect(market).to.deep.equal(thinMarket);
      expect(guarded.agents).to.deep.equal(thin.agents);
    });

    it("puts shorts from 2x to 50x in leverage-ladder", () => {
      const ladder = loadScenario(path.join(SCENARIOS, "leverage-ladder.json"));
      const levels = ladder.agents.retail.map((group) => group.leverage.max / WAD);
      expect(levels[0]).to.equal(2n);
      expect(levels[levels.length - 1]).to.equal(50n);
      expect(ladder.agents.retail.every((group) => group.side === "short")).to.equal(true);
    });
  });

  describe("parsing", () => {
    const valid = () =>
      JSON.parse(fs.readFileSync(path.join(FIXTURES, "valid.json"), "utf8")) as Record<string, unknown>;

    it("accepts the valid fixture that every malformed one is derived from", () => {
      expect(() => loadScenario(path.join(FIXTURES, "valid.json"))).not.to.throw();
    });

    it("reads human numbers into WAD exactly and times into whole seconds", () => {
      const scenario = parseScenario(valid(), "valid.json");
      const market = scenario.markets[0]!;
      expect(market.initialPrice).to.equal(WAD / 2n); // 0.5
      expect(market.fees.taker).to.equal(600_000_000_000_000n); // 0.0006
      expect(market.spotLiquidityUsd).to.equal(usd(200_000n));
      expect(market.fundingIntervalSec).to.equal(8 * 3600);
      expect(scenario.durationSec).to.equal(36 * 3600);
      expect(scenario.stepSec).to.equal(5 * 60);
      expect(scenario.agents.retail[0]!.entryWindowSec).to.deep.equal({ from: 0, to: 10 * 3600 });
      expect(scenario.agents.marketMaker!.pushes.map((push) => push.atSec)).to.deep.equal([
        12 * 3600,
        13 * 3600,
        18 * 3600,
      ]);
    });

    /** A field of valid.json set out of bounds, and the one line it must give. */
    const OUT_OF_BOUNDS: [string, (json: Record<string, any>) => void, string][] = [
      [
        "a spot pool of 1e30 USD (it would take 1e24 faucet calls)",
        (json) => (json.markets[0].spotLiquidityUsd = 1e30),
        "markets[0].spotLiquidityUsd: must be <= 1000000000 (got 1000000000000000000000000000000)",
      ],
      [
        "an LP deposit above a billion",
        (json) => (json.lp.depositUsd = "1000000000.01"),
        "lp.depositUsd: must be <= 1000000000 (got 1000000000.01)",
      ],
      [
        "a price below the feeds' 8 decimals",
        (json) => (json.markets[0].initialPrice = "0.000000001"),
        "markets[0].initialPrice: must be >= 0.00000001 (got 0.000000001)",
      ],
      [
        "a run longer than ten years",
        (json) => (json.durationHours = 87_601),
        "durationHours: must be <= 87600 (got 87601)",
      ],
      [
        "a TWAP window beyond a week",
        (json) => (json.markets[0].protections.twapWindowSeconds = 4_294_967_296),
        "markets[0].protections.twapWindowSeconds: must be <= 604800",
      ],
      [
        "a skew scale past 1e15 base units",
        (json) => (json.markets[0].skewScale = "1e16"),
        "markets[0].skewScale: must be <= 1000000000000000 (got 10000000000000000)",
      ],
    ];
    for (const [what, mutate, line] of OUT_OF_BOUNDS) {
      it(`refuses ${what} in one line naming the field`, () => {
        const json = valid();
        mutate(json);
        expect(() => parseScenario(json, "inline.json"))
          .to.throw(ScenarioError)
          .with.property("message", `inline.json: ${line}`);
      });
    }

    it("takes decimal strings as exactly as numbers", () => {
      const json = valid();
      (json.markets as Record<string, unknown>[])[0]!.initialPrice = "0.123456789012345678";
      expect(parseScenario(json, "inline").markets[0]!.initialPrice).to.equal(123_456_789_012_345_678n);
    });

    it("names the source it was given in every error line", () => {
      const json = valid();
      delete json.seed;
      delete json.name;
      expect(() => parseScenario(json, "inline.json")).to.throw(
        ScenarioError,
        /^inline\.json: name: is required\ninline\.json: seed: is required$/,
      );
    });

    it("reports a missing file by name", () => {
      const error = errorOf(path.join(FIXTURES, "does-not-exist.json"));
      expect(error.message).to.match(/does-not-exist\.json: cannot be read \(ENOENT\)$/);
    });
  });

  describe("malformed fixtures", () => {
    it("has one fixture per error, and an expectation for each fixture", () => {
      const files = fs
        .readdirSync(FIXTURES)
        .filter((file) => file !== "valid.json")
        .map((file) => path.basename(file, ".json"));
      expect(files.sort()).to.deep.equal(Object.keys(MALFORMED).sort());
    });

    for (const [fixture, expected] of Object.entries(MALFORMED)) {
      it(`rejects ${fixture}.json with "${expected}"`, () => {
        const file = path.join(FIXTURES, `${fixture}.json`);
        const error = errorOf(file);
        expect(error.issues).to.have.length(1);
        expect(error.message.startsWith(`${file}: ${expected}`)).to.equal(true, error.message);
      });
    }
  });

  describe("maintenance amounts", () => {
    it("makes maintenance margin continuous at each tier cap", () => {
      const tiers = withMaintenanceAmounts([
        { notionalCap: usd(50_000n), mmr: WAD / 100n, maxLeverage: 50n * WAD },
        { notionalCap: usd(250_000n), mmr: WAD / 50n, maxLeverage: 25n * WAD },
        { notionalCap: usd(1_000_000n), mmr: WAD / 20n, maxLeverage: 10n * WAD },
      ]);
      // amt1 = 50,000 * (0.02 - 0.01) = 500; amt2 = 500 + 250,000 * (0.05 - 0.02) = 8,000
      expect(tiers.map((tier) => tier.maintenanceAmount)).to.deep.equal([0n, usd(500n), usd(8_000n)]);
      for (let i = 1; i < tiers.length; i++) {
        const cap = tiers[i - 1]!.notionalCap;
        const below = (cap * tiers[i - 1]!.mmr) / WAD - tiers[i - 1]!.maintenanceAmount;
        const above = (cap * tiers[i]!.mmr) / WAD - tiers[i]!.maintenanceAmount;
        expect(above).to.equal(below);
      }
    });
  });
});
