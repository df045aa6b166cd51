/* eslint-disable @typescript-eslint/no-explicit-any -- the tests set fields of raw scenario JSON */
/**
 * Coin-margined markets in the simulator (#19, SPEC 9.2): the schema's checks, the trader's translation
 * to the engine's terms, and the two scenarios' claims, each on a run of the scenario as committed.
 */
import fs from "node:fs";
import { expect } from "chai";
import hre from "hardhat";
import { loadScenario, parseScenario, ScenarioError, type RetailGroup } from "../../sim/scenario";
import { runScenario } from "../../sim/runner";
import { summaryJson, timelineCsv, TIMELINE_COIN_COLUMNS } from "../../sim/output";
import { renderReport } from "../../sim/report";
import { expectAllChartsDrawn, useBrowser } from "../helpers/browser";
import { engineGroup, coinRetailDecision, coinRetailTrader } from "../../sim/agents/coin-retail";
import type { MarketView } from "../../sim/agents/view";
import type { SimulationResult } from "../../sim/types";
import { WAD } from "../../lib/units";

const CRASH = "scenarios/coin-margined-crash.json";
const SQUEEZE = "scenarios/squeeze-thin-coin.json";

const abs = (x: bigint) => (x < 0n ? -x : x);

/** The charts a report draws, from its data script. */
function reportCharts(html: string): {
  kind: string;
  market: string;
  yTitle: string;
  y2Title: string | null;
  datasets: { label: string; points: [number, number][] }[];
}[] {
  const data = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!;
  return JSON.parse(data).charts;
}

function crashJson(): any {
  return JSON.parse(fs.readFileSync(CRASH, "utf8"));
}

function errorOf(json: unknown): string {
  try {
    parseScenario(json, "x.json");
  } catch (error) {
    expect(error).to.be.instanceOf(ScenarioError);
    return (error as ScenarioError).message;
  }
  throw new Error("parsed without an error");
}

describe("simulator: coin-margined markets", function () {
  this.timeout(600_000);

  describe("schema", () => {
    it("parses the coin market apart from the USD ones, which stay as they were", () => {
      const s = loadScenario(CRASH);
      expect(s.markets.map((m) => m.symbol)).to.deep.equal(["ALT-USD"]);
      expect(s.coinMarkets.map((m) => [m.symbol, m.underlying, m.faceUsd])).to.deep.equal([
        ["ALTUSD-INV", "ALT-USD", 10n * WAD],
      ]);
      expect(s.markets[0]).to.not.have.property("margin");
      expect(loadScenario("scenarios/squeeze-thin.json").coinMarkets).to.deep.equal([]);
    });

    const bad: [string, (j: any) => void, string][] = [
      [
        "an unknown margin",
        (j) => (j.markets[1].margin = "btc"),
        'markets[1].margin: must be "usd" or "coin" (got "btc")',
      ],
      [
        "an underlying that is no USD market",
        (j) => (j.markets[1].underlying = "BTC-USD"),
        "markets[1].underlying: must name a USD-margined market in markets (ALT-USD) (got BTC-USD)",
      ],
      ["a face of nothing", (j) => (j.markets[1].faceUsd = 0), "markets[1].faceUsd: must be >= 0.01 (got 0)"],
      ["a missing LP deposit", (j) => delete j.markets[1].lpDepositCoin, "markets[1].lpDepositCoin: is required"],
      [
        "a USD market's field on a coin market",
        (j) => (j.markets[1].initialPrice = 1),
        "markets[1].initialPrice: is not a known field",
      ],
      ["a linear symbol", (j) => (j.markets[1].symbol = "ALT-USD2"), 'markets[1].symbol: must look like "ALTUSD-INV"'],
      [
        "an OI cap above the maximum",
        (j) => (j.markets[1].protections.oiCap = 20_000_000),
        "markets[1].protections.oiCap: must be <= maxOpenInterest (10000000) (got 20000000)",
      ],
      [
        "a second twin of one underlying",
        (j) => j.markets.push({ ...j.markets[1], symbol: "ALTBUSD-INV" }),
        "markets[2].underlying: duplicates markets[1].underlying (ALT-USD)",
      ],
      [
        "a leverage beyond the coin tiers",
        (j) => (j.markets[1].tiers = [{ notionalCap: 1000, mmr: 0.01, maxLeverage: 50 }]),
        "agents.retail[1].leverage.max: a 3000 coin (3000 USD at the underlying's initialPrice) position exceeds the last markets[1].tiers notionalCap (1000) (at marginUsd.max)",
      ],
      [
        "draws of a group that differs",
        (j) => (j.agents.retail[1].count = 21),
        "agents.retail[1].sameDrawsAs: names agents.retail[0], which differs from this group in count: its draws are not this group's traders",
      ],
      [
        "draws of a later group",
        (j) => (j.agents.retail[1].sameDrawsAs = 1),
        "agents.retail[1].sameDrawsAs: must name an earlier group (< 1) (got 1)",
      ],
    ];
    for (const [what, change, message] of bad) {
      it(`refuses ${what} in one line naming the field`, () => {
        const json = crashJson();
        change(json);
        expect(errorOf(json)).to.equal(`x.json: ${message}`);
      });
    }
  });

  describe("the trader in the engine's terms", () => {
    const group = loadScenario(SQUEEZE).agents.retail[2]! as RetailGroup;

    it("flips the side and turns a short's 20% take profit (a USD fall) into the engine's rise of 25%", () => {
      const e = engineGroup(group);
      expect(group.side).to.equal("short");
      expect(e.side).to.equal("long");
      expect(e.takeProfitPct).to.equal(WAD / 4n); // 1/(1 - 0.2) - 1
      const long = engineGroup({ ...group, side: "long", takeProfitPct: WAD / 4n, stopLossPct: WAD / 5n });
      expect([long.side, long.takeProfitPct, long.stopLossPct]).to.deep.equal(["short", WAD / 5n, WAD / 4n]);
    });

    it("opens whole contracts on the engine's other side, its margin in coins at the index", () => {
      const trader = coinRetailTrader(
        {
          name: "t",
          group,
          entrySec: 0,
          leverage: 5n * WAD,
          margin: 100n * WAD,
          addsMargin: false,
          phase: "waiting",
          addedMargin: false,
          opened: false,
        },
        10n * WAD,
      );
      trader.margin = 200n * WAD; // 100 USD at 0.5 USD a coin
      const engineIndex = 2n * WAD; // 1 / 0.5
      const view = {
        symbol: "ALTUSD-INV",
        marketId: 1n,
        nowSec: 0n,
        projected: {
          index: engineIndex,
          mark: engineIndex,
          last: engineIndex,
          state: { longOpenInterest: 0n, shortOpenInterest: 0n },
        },
        tiers: [],
        skewScale: 10n ** 30n,
        takerFee: 0n,
      } as unknown as MarketView;
      const decision = coinRetailDecision(trader, 0, view, undefined)!;
      expect(decision.intent.kind).to.equal("increase");
      const size = (decision.intent as { sizeDelta: bigint }).sizeDelta;
      // 200 coins at 5x at 0.5 USD: 500 USD of face, sized a hair under it for the fill (retail.ts openSize),
      // so 49 whole contracts of 10 USD; the trader's short is the engine's long.
      expect(size).to.equal(490n * WAD);
      expect(decision.label).to.equal("coin-margined short open of 49 contracts");
    });
  });

  describe("coin-margined-crash", () => {
    let result: SimulationResult;
    before(async () => {
      result = await runScenario(hre, loadScenario(CRASH));
    });

    it("liquidates at least as many coin-margined longs, and they lose more USD than the same longs USD-margined", () => {
      const usd = result.summary.markets[0]!;
      const coin = result.summary.coinMargined![0]!;
      expect([usd.traders, coin.traders]).to.deep.equal([20, 20]);
      expect(coin.tradersLiquidated).to.be.greaterThanOrEqual(usd.tradersLiquidated);
      expect(coin.tradersUsdValueLost).to.be.greaterThan(usd.tradersLoss);
      // The coin's fall is the difference: in the coin, they lost less than in USD.
      expect(coin.tradersLossUsdAtEnd).to.be.lessThan(coin.tradersUsdValueLost);
      expect(coin.priceEndUsd).to.be.lessThan(coin.priceStartUsd * 2n);
      // Every action counted: the coin traders' orders are retail actions, the coin keeper's liquidations the keeper's.
      expect(result.summary.actions.retail.attempted).to.equal(40);
      expect(result.summary.actions.keeper.done).to.be.greaterThanOrEqual(usd.liquidations + coin.liquidations);
    });

    it("puts ALTUSD-INV in every timeline row: its USD price falls ~55% with ALT-USD's, its liquidations are the summary's", () => {
      const scenario = loadScenario(CRASH);
      const coin = result.summary.coinMargined![0]!;
      const rows = result.timeline.map((row) => ({ usd: row.markets[0]!, inv: row.coinMarkets![0]! }));
      expect(rows.every(({ inv }) => inv.symbol === "ALTUSD-INV")).to.equal(true);
      // 1/(1/P): the underlying's index to within the two roundings.
      for (const { usd, inv } of rows) expect(abs(inv.index - usd.index)).to.be.lessThan(10n ** 9n);
      const indexes = rows.map(({ inv }) => inv.index);
      const peak = indexes.reduce((a, b) => (a > b ? a : b));
      const fall = Number(((peak - indexes[indexes.length - 1]!) * 10_000n) / peak) / 10_000;
      expect(fall).to.be.within(0.5, 0.6);
      expect(rows.reduce((n, { inv }) => n + inv.liquidations, 0)).to.equal(coin.liquidations);
      // Open interest in USD face: whole contracts of $10, the longs' only (the traders are all long).
      expect(rows.every(({ inv }) => inv.oiLong % coin.faceUsd === 0n && inv.oiShort === 0n)).to.equal(true);
      expect(rows.some(({ inv }) => inv.oiLong > 0n)).to.equal(true);
      // Money in the coin: the fund and the pool start at the scenario's, the fund ends at the summary's change.
      const [first, last] = [rows[0]!.inv, rows[rows.length - 1]!.inv];
      expect(first.insuranceFund).to.equal(scenario.coinMarkets[0]!.insuranceFundCoin);
      expect(first.poolValue).to.equal(scenario.coinMarkets[0]!.lpDepositCoin);
      expect(last.insuranceFund - first.insuranceFund).to.equal(coin.insuranceFundDeltaCoin);
      const header = timelineCsv(result.timeline).split("\n")[0]!.split(",");
      expect(header.slice(-TIMELINE_COIN_COLUMNS.length)).to.deep.equal(
        TIMELINE_COIN_COLUMNS.map((column) => `ALTUSD-INV.${column}`),
      );
    });

    it("draws ALTUSD-INV's price with its liquidations, funding, open interest and fund in the report", () => {
      const coin = result.summary.coinMargined![0]!;
      const html = renderReport(result);
      const charts = reportCharts(html).filter((chart) => chart.market === "ALTUSD-INV");
      expect(charts.map((chart) => [chart.kind, chart.yTitle, chart.y2Title])).to.deep.equal([
        ["price", "USD per ALT", null],
        ["funding", "% per interval", null],
        ["open-interest", "USD face", null],
        ["insurance", "insurance fund, ALT", "LP pool, ALT"],
      ]);
      const markers = charts[0]!.datasets.filter((d) => d.label.endsWith("liquidated"));
      expect(markers.reduce((n, d) => n + d.points.length, 0)).to.equal(coin.liquidations);
      expect(html).to.include('data-chart="price" data-market="ALTUSD-INV"');
    });

    describe("its report in a real browser", () => {
      const { open } = useBrowser("perpsim-coin-report-");
      it("draws every chart, the coin market's four included", async () => {
        // ALT-USD's four, the agents' PnL, ALTUSD-INV's four
        await expectAllChartsDrawn(await open(renderReport(result), "report.html"), 9);
      });
    });

    it("gives the same summary.json on the in-process network as on anvil, for the same seed", async () => {
      const edr = await runScenario(hre, loadScenario(CRASH), { chain: "edr" });
      expect(summaryJson(edr.summary)).to.equal(summaryJson(result.summary));
    });
  });

  describe("squeeze-thin-coin", () => {
    it("liquidates fewer coin-margined shorts than USD-margined ones at the first push, and they lose less USD", async () => {
      const result = await runScenario(hre, loadScenario(SQUEEZE));
      const usd = result.summary.markets[0]!;
      const coin = result.summary.coinMargined![0]!;
      const firstPush = 12 * 3600;
      const at = (events: readonly { t: number; side: string }[]) =>
        events.filter((e) => e.side === "short" && e.t - firstPush < 600).length;
      expect(at(result.coinLiquidations!)).to.be.lessThan(
        at(result.liquidations.filter((l) => l.market === "ALT-USD")),
      );
      // ALT-USD's traders include squeeze-thin's 8 longs: the shorts' own PnL is their PnL line's last point.
      const usdShorts = result.pnl.find((line) => line.agent === "retail shorts (ALT-USD)")!;
      const usdShortsLoss = -usdShorts.points[usdShorts.points.length - 1]!.pnl;
      expect(usd.tradersLiquidated).to.be.greaterThanOrEqual(40);
      expect(coin.tradersLiquidated).to.equal(40);
      expect(coin.tradersUsdValueLost).to.be.lessThan(usdShortsLoss);
      // In the coin they lost more than that: the ALT they hold rose.
      expect(coin.tradersLossUsdAtEnd).to.be.greaterThan(coin.tradersUsdValueLost);
      expect(coin.priceEndUsd).to.be.greaterThan(coin.priceStartUsd);
    });
  });
});
