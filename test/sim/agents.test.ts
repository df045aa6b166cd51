/**
 * The agents' pure decisions, without a chain: a market view built with lib/math's projection of a
 * hand-made market state, positions as the keeper's book holds them.
 */
import path from "node:path";
import { expect } from "chai";
import { WAD } from "../../sim/decimal";
import { loadScenario, type Scenario } from "../../sim/scenario";
import type { MarketState, Tier } from "../../lib/math";
import type { TrackedPosition } from "../../keeper/book";
import {
  ActionLedger,
  ANY_BUY_PRICE,
  ANY_SELL_PRICE,
  DONE,
  RequiredActionRefused,
  type Action,
} from "../../sim/agents/intents";
import { afterOutcome, openSize, retailDecision, type RetailTrader, RETAIL_SLIPPAGE } from "../../sim/agents/retail";
import { marketMakerActions, marketMakerDeposit, MARKET_MAKER_SLIPPAGE } from "../../sim/agents/market-maker";
import { arbitrageActions, ARB_LEVERAGE } from "../../sim/agents/arbitrageur";
import { clampMove, feedAnswers } from "../../sim/agents/oracle";
import { afterOrder, skewOf, viewPosition, type MarketView } from "../../sim/agents/view";
import { Pricing } from "../../lib/math";

const SCENARIOS = path.join(__dirname, "..", "..", "scenarios");
const wad = (x: number | bigint) => BigInt(x) * WAD;
const HOUR = 3600;
const TIERS: Tier[] = [{ notionalCap: wad(1_000_000), mmr: WAD / 100n, maxLeverage: wad(50), maintenanceAmount: 0n }];

/** A market at `price` with `longOi` and `shortOi` (base units) and nothing else going on. */
function view(price: bigint, longOi = 0n, shortOi = 0n, skewScale = wad(40_000_000)): MarketView {
  const state: MarketState = {
    longOpenInterest: longOi,
    shortOpenInterest: shortOi,
    longEntryNotional: 0n,
    longEntryRemainder: 0n,
    shortEntryNotional: 0n,
    shortEntryRemainder: 0n,
    fundingSnapshotSum: 0n,
    fundingSnapshotRemainder: 0n,
    fundingIndex: 0n,
    lastFundingRate: 0n,
    lastFundingTime: 0n,
    premiumCum: 0n,
    lastPremium: 0n,
    lastSampleTime: 0n,
    premiumStart: 0n,
    emaBasis: 0n,
    uncoveredBadDebt: 0n,
    paused: false,
  };
  const last = price + (price * (longOi - shortOi)) / skewScale;
  return {
    symbol: "ALT-USD",
    marketId: 1n,
    nowSec: 0n,
    projected: { state, index: price, last, mark: price },
    tiers: TIERS,
    skewScale,
    takerFee: (WAD * 6n) / 10_000n,
  };
}

function position(size: bigint, entryPrice: bigint, margin: bigint): TrackedPosition {
  return { id: 7n, owner: "0x01", marketId: 1n, size, entryPrice, margin, fundingSnapshot: 0n, block: 1 };
}

function trader(scenario: Scenario, group: number, overrides: Partial<RetailTrader> = {}): RetailTrader {
  return {
    name: "retail-0-0",
    group: scenario.agents.retail[group]!,
    entrySec: 2 * HOUR,
    leverage: wad(10),
    margin: wad(500),
    addsMargin: false,
    phase: "waiting",
    addedMargin: false,
    opened: false,
    ...overrides,
  };
}

describe("simulator agents: pure decisions", () => {
  const thin = loadScenario(path.join(SCENARIOS, "squeeze-thin.json"));
  const SHORTS = 0; // squeeze-thin's first group: shorts with a 20% take profit, some adding margin
  const LONGS = 1; // its second: longs with a 10% stop loss

  describe("retail", () => {
    it("waits for its entry time, then opens margin x leverage sized for its own fill, within 5% of the index", () => {
      const t = trader(thin, SHORTS);
      const market = view(WAD / 2n);
      expect(retailDecision(t, HOUR, market, undefined)).to.equal(undefined);
      const open = retailDecision(t, 2 * HOUR, market, undefined)!;
      // 500 USD * 10 / 0.5 = 10,000 units would fill at 0.5 * (1 - 10,000 / 80M) = 0.4999375, 0.0000625
      // below the mark: the trader sells 5,000 / (0.5 + 10 * 0.0000625) units instead
      const loss = WAD / 2n - ((WAD / 2n) * (80_000_000n - 10_000n)) / 80_000_000n;
      expect(open.intent).to.deep.equal({
        kind: "increase",
        symbol: "ALT-USD",
        sizeDelta: -((wad(5_000) * WAD) / (WAD / 2n + 10n * loss)),
        margin: wad(500),
        acceptablePrice: (market.projected.index * (WAD - RETAIL_SLIPPAGE)) / WAD,
      });
    });

    it("sizes a 50x short for its fill, so that its leverage at the mark stays within 50x", () => {
      const t = trader(thin, SHORTS, { leverage: wad(50), margin: wad(500) });
      // shorts already crowd a thin market: a sell fills below the mark
      const market = view(WAD / 2n, 0n, wad(2_000_000), wad(4_000_000));
      const naive = (wad(500) * wad(50)) / (WAD / 2n); // 50,000 base units
      const size = openSize(t, market);
      expect(size < naive).to.equal(true);
      const fill = Pricing.fillPrice(market.projected.index, skewOf(market), -size, market.skewScale);
      const mark = market.projected.mark;
      // equity at the mark: margin + size * (fill - mark) for a short; leverage = size * mark / equity
      const equity = wad(500) + (size * (fill - mark)) / WAD;
      expect((size * mark) / equity <= wad(50)).to.equal(true);
      // a long on the same market fills below the mark: no loss to allow for, margin * leverage / mark
      const long = trader(thin, LONGS, { leverage: wad(50), margin: wad(500) });
      expect(openSize(long, market)).to.equal(naive);
    });

    it("lets the next opening order in a step see the one before it in the skew", () => {
      const market = view(WAD / 2n);
      expect(skewOf(afterOrder(market, -wad(10_000)))).to.equal(-wad(10_000));
      expect(skewOf(afterOrder(afterOrder(market, -wad(10_000)), wad(4_000)))).to.equal(-wad(6_000));
    });

    it("gives up after a refused entry, and holds after a filled one", () => {
      const refused = trader(thin, SHORTS);
      afterOutcome(refused, "open", { kind: "refused", error: "OpenInterestCapExceeded", message: "" });
      expect([refused.phase, refused.opened]).to.deep.equal(["done", false]);
      const filled = trader(thin, SHORTS);
      afterOutcome(filled, "open", DONE);
      expect([filled.phase, filled.opened]).to.deep.equal(["open", true]);
    });

    it("takes profit on a short once the mark is 20% below its entry, buying at any price", () => {
      const t = trader(thin, SHORTS, { phase: "open", opened: true });
      const p = position(-wad(10_000), WAD / 2n, wad(500));
      const at19 = view(((WAD / 2n) * 81n) / 100n);
      expect(retailDecision(t, 3 * HOUR, at19, viewPosition(p, at19))).to.equal(undefined);
      const at20 = view(((WAD / 2n) * 80n) / 100n);
      const close = retailDecision(t, 3 * HOUR, at20, viewPosition(p, at20))!;
      expect(close.intent).to.deep.equal({ kind: "close", symbol: "ALT-USD", acceptablePrice: ANY_BUY_PRICE });
    });

    it("stops a long's loss once the mark is 10% below its entry, selling at any price", () => {
      const t = trader(thin, LONGS, { phase: "open", opened: true });
      const p = position(wad(1_000), WAD / 2n, wad(100));
      const down = view(((WAD / 2n) * 90n) / 100n);
      expect(retailDecision(t, 3 * HOUR, down, viewPosition(p, down))!.intent).to.deep.equal({
        kind: "close",
        symbol: "ALT-USD",
        acceptablePrice: ANY_SELL_PRICE,
      });
    });

    it("adds half its margin once when the mark comes within 3% of its liquidation price", () => {
      const t = trader(thin, SHORTS, { phase: "open", opened: true, addsMargin: true });
      // a 10x short from 0.5 with 1% maintenance: liquidated near 0.5 * (1 + 0.1) / 1.01 = 0.5445
      const p = position(-wad(10_000), WAD / 2n, wad(500));
      const far = view(WAD / 2n);
      expect(retailDecision(t, 3 * HOUR, far, viewPosition(p, far))).to.equal(undefined);
      const near = view((WAD * 535n) / 1000n);
      const top = retailDecision(t, 3 * HOUR, near, viewPosition(p, near))!;
      expect(top.intent).to.deep.equal({ kind: "addMargin", symbol: "ALT-USD", amount: wad(250) });
      afterOutcome(t, "addMargin", { kind: "refused", error: "MarginTooLow", message: "" });
      expect(retailDecision(t, 3 * HOUR, near, viewPosition(p, near))).to.equal(undefined);
    });
  });

  describe("market maker", () => {
    const plan = thin.agents.marketMaker!;

    it("deposits its perp margin plus the taker fee on the largest fill it accepts, from its budget", () => {
      // 25,000 * 5 = 125,000 notional; fee 0.06% of 125,000 * 1.05 = 78.75
      expect(marketMakerDeposit(plan, (WAD * 6n) / 10_000n)).to.equal(wad(25_000) + (WAD * 7875n) / 100n);
      expect(MARKET_MAKER_SLIPPAGE).to.equal(WAD / 20n);
    });

    it("opens its perp position at its hour and marks every action as required", () => {
      const actions = marketMakerActions(plan, 11 * HOUR, 600, view(WAD / 2n), { usd6: 0n, coins: 0n, spot: WAD / 2n });
      expect(actions).to.have.length(1);
      expect(actions[0]!.optional).to.equal(false);
      // 25,000 * 5 / 0.5 = 250,000 base units long
      expect(actions[0]!.intent).to.include({ kind: "increase", sizeDelta: wad(250_000), margin: wad(25_000) });
    });

    it("buys with what is left in its wallet and sells the push's USD worth of coins at spot", () => {
      const atBuy = marketMakerActions(plan, 12 * HOUR, 600, view(WAD / 2n), {
        usd6: 5_000n * 10n ** 6n,
        coins: 0n,
        spot: WAD / 2n,
      });
      expect(atBuy.map((a) => a.intent)).to.deep.equal([
        { kind: "spotBuy", symbol: "ALT-USD", usd6: 5_000n * 10n ** 6n },
      ]);
      const atSell = marketMakerActions(plan, 18 * HOUR, 600, view(WAD / 2n), {
        usd6: 0n,
        coins: wad(1_000_000),
        spot: WAD / 2n,
      });
      // 10,000 USD at 0.5 = 20,000 coins
      expect(atSell.map((a) => a.intent)).to.deep.equal([{ kind: "spotSell", symbol: "ALT-USD", coins: wad(20_000) }]);
    });
  });

  describe("arbitrageur", () => {
    const plan = thin.agents.arbitrageur!;

    it("does nothing while the premium is within its threshold", () => {
      // skew 1,000 on a scale of 40M: a 0.25 bps premium
      expect(arbitrageActions(plan, view(WAD / 2n, wad(1_000)), 0n)).to.deep.equal([]);
    });

    it("opens a short from flat against a long skew, capped at its largest notional, at 3x", () => {
      // skew +1M on 40M: 250 bps premium; the cap is 50,000 USD / 0.5 = 100,000 base units
      const [open] = arbitrageActions(plan, view(WAD / 2n, wad(1_000_000)), 0n);
      expect(open!.intent).to.deep.equal({
        kind: "increase",
        symbol: "ALT-USD",
        sizeDelta: -wad(100_000),
        margin: (wad(100_000) * (WAD / 2n)) / WAD / ARB_LEVERAGE,
        acceptablePrice: ANY_SELL_PRICE,
      });
    });

    it("closes a long before turning short when the skew flips", () => {
      const actions = arbitrageActions(plan, view(WAD / 2n, wad(1_000_000), 0n), wad(10_000));
      expect(actions.map((a) => a.intent.kind)).to.deep.equal(["close", "increase"]);
      expect(actions[0]!.intent).to.deep.include({ acceptablePrice: ANY_SELL_PRICE });
    });

    it("reduces a position larger than the skew calls for", () => {
      // skew: short retail 1M, its own long 200,000 -> target 800,000 capped to 100,000: reduce by 100,000
      const actions = arbitrageActions(plan, view(WAD / 2n, wad(200_000), wad(1_000_000)), wad(200_000));
      expect(actions.map((a) => a.intent)).to.deep.equal([
        { kind: "decrease", symbol: "ALT-USD", size: wad(100_000), acceptablePrice: ANY_SELL_PRICE },
      ]);
    });
  });

  describe("oracle", () => {
    it("follows the reference with each feed's noise, in 8 decimals", () => {
      // 0.5 USD * (1 + 5 bps) = 0.50025 -> 50,025,000; * (1 - 5 bps) = 0.49975 -> 49,975,000
      expect(feedAnswers(WAD / 2n, [50_000_000n, 50_000_000n], [5, -5], 0n)).to.deep.equal([50_025_000n, 49_975_000n]);
    });

    it("clamps each update to the largest move the protection allows", () => {
      // 1% of 50,000,000 is 500,000
      expect(clampMove(60_000_000n, 50_000_000n, WAD / 100n)).to.equal(50_500_000n);
      expect(clampMove(40_000_000n, 50_000_000n, WAD / 100n)).to.equal(49_500_000n);
      expect(clampMove(60_000_000n, 50_000_000n, 0n)).to.equal(60_000_000n);
    });
  });

  describe("action ledger", () => {
    const action = (optional: boolean): Action => ({
      actor: optional ? "retail" : "marketMaker",
      agent: optional ? "retail-0-0" : "market maker",
      label: "5x perp long on 25,000 USD of margin",
      optional,
      intent: { kind: "settleFunding", symbol: "ALT-USD" },
    });

    it("counts attempts, successes and refusals by error name per agent kind", () => {
      const ledger = new ActionLedger();
      ledger.record(action(true), DONE, 0);
      ledger.record(action(true), { kind: "refused", error: "SlippageExceeded", message: "" }, 0);
      ledger.record(action(true), { kind: "refused", error: "SlippageExceeded", message: "" }, 0);
      ledger.recordKeeper(3, 1);
      const counts = ledger.snapshot();
      expect(counts.retail).to.deep.equal({ attempted: 3, done: 1, refused: { SlippageExceeded: 2 } });
      expect(counts.keeper).to.deep.equal({ attempted: 4, done: 3, refused: { LostRace: 1 } });
      expect(counts.marketMaker).to.deep.equal({ attempted: 0, done: 0, refused: {} });
    });

    it("stops the run on a refused action the scenario does not mark optional, naming it and the error", () => {
      const ledger = new ActionLedger();
      const refusal = {
        kind: "refused" as const,
        error: "InsufficientBalance",
        message: "the free balance is $25,000",
      };
      expect(() => ledger.record(action(false), refusal, 11 * HOUR))
        .to.throw(RequiredActionRefused)
        .with.property("message")
        .that.matches(
          /^the market maker's 5x perp long on 25,000 USD of margin was refused at 11 h: InsufficientBalance/,
        );
    });
  });
});
