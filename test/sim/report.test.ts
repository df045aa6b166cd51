import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { formatWad, toWad } from "../../sim/decimal";
import {
  explainOutcome,
  explainRefusals,
  formatPct,
  formatUsd,
  renderComparison,
  renderReport,
} from "../../sim/report";
import type { SimulationResult } from "../../sim/types";
import { syntheticRun } from "./synthetic";

const CHART_JS = fs.readFileSync(path.join(path.dirname(require.resolve("chart.js")), "chart.umd.js"), "utf8");

function chartKinds(html: string): string[] {
  return [...html.matchAll(/<canvas id="([^"]+)" data-chart="([^"]+)"/g)].map((match) => match[2]!);
}

describe("report pages", () => {
  const thin = syntheticRun("squeeze-thin");
  const deep = syntheticRun("squeeze-deep");

  describe("numbers in prose", () => {
    it("writes USD with thousands separators, cents only below $100", () => {
      expect(formatUsd(toWad(150_000))).to.equal("$150,000");
      expect(formatUsd(toWad("12.5"))).to.equal("$12.50");
      expect(formatUsd(-toWad("1234.6"))).to.equal("-$1,235");
      expect(formatUsd(toWad(1234), true)).to.equal("+$1,234");
      expect(formatUsd(0n, true)).to.equal("$0");
    });

    it("writes fractions as signed percentages", () => {
      expect(formatPct(toWad("0.3812"))).to.equal("+38.1%");
      expect(formatPct(toWad("-0.05"))).to.equal("-5.0%");
      expect(formatPct(0n)).to.equal("0.0%");
    });
  });

  describe("explainOutcome", () => {
    it("tells the thin squeeze with its numbers", () => {
      const text = explainOutcome(thin);
      const m = thin.summary.markets[0]!;
      const plan = thin.scenario.agents.marketMaker!;
      const buys = plan.pushes.filter((p) => p.side === "buy");
      const spent = buys.reduce((sum, p) => sum + p.usd, 0n);
      expect(text).to.contain(
        `A ${formatUsd(plan.budgetUsd)} market-maker budget, ${formatUsd(spent)} of it in ${buys.length} spot buys, moved ALT-USD spot`,
      );
      expect(text).to.contain(`${formatPct(m.peakMove.spot.up)} at its peak on a spot pool of $200,000 per side`);
      expect(text).to.contain(
        `${m.tradersLiquidated} of ${m.traders} retail positions were liquidated (${formatUsd(
          m.liquidatedNotional,
        )} of notional)`,
      );
      expect(text).to.contain(`the longest cascade ran ${m.cascadeDepth} rounds`);
      expect(text).to.contain(
        `the market maker's PnL was ${formatUsd(m.marketMakerPnl, true)} on ${formatUsd(spent)} of spot buys`,
      );
      expect(text).to.contain("longs received $12.50 and shorts paid $12.50");
    });

    it("tells the deep squeeze as one nobody was liquidated in", () => {
      const text = explainOutcome(deep);
      expect(text).to.contain("on a spot pool of $50,000,000 per side");
      expect(text).to.contain("None of the 40 retail positions was liquidated.");
      expect(text).not.to.contain("cascade");
    });

    it("says when no market maker pushed the price", () => {
      const quiet: SimulationResult = {
        ...thin,
        scenario: { ...thin.scenario, agents: { ...thin.scenario.agents, marketMaker: undefined } },
      };
      expect(explainOutcome(quiet)).to.match(
        /^No market maker pushed ALT-USD: on a spot pool of \$200,000 per side, spot moved at most \+/,
      );
      expect(explainOutcome(quiet)).not.to.contain("market maker's PnL");
    });
  });

  describe("renderReport", () => {
    const html = renderReport(thin);

    it("inlines Chart.js from node_modules and loads nothing from elsewhere", () => {
      expect(html).to.contain(CHART_JS.slice(0, 200));
      expect(html).not.to.match(/<script[^>]+src=/);
      expect(html).not.to.match(/<link\b/);
      expect(html.replace(CHART_JS, "")).not.to.match(/https?:\/\//);
    });

    it("has a canvas per chart, each with its own id and a data-chart kind", () => {
      expect(chartKinds(html)).to.deep.equal(["price", "funding", "open-interest", "insurance", "pnl"]);
      const ids = [...html.matchAll(/<canvas id="([^"]+)"/g)].map((match) => match[1]);
      expect(new Set(ids).size).to.equal(ids.length);
    });

    it("draws a set of four charts per market", () => {
      const market = thin.scenario.markets[0]!;
      const twoMarkets: SimulationResult = {
        ...thin,
        scenario: { ...thin.scenario, markets: [market, { ...market, symbol: "BTC-USD" }] },
        summary: {
          ...thin.summary,
          markets: [thin.summary.markets[0]!, { ...thin.summary.markets[0]!, symbol: "BTC-USD" }],
        },
        timeline: thin.timeline.map((row) => ({
          ...row,
          markets: [row.markets[0]!, { ...row.markets[0]!, symbol: "BTC-USD" }],
        })),
      };
      expect(chartKinds(renderReport(twoMarkets))).to.deep.equal([
        ...["price", "funding", "open-interest", "insurance"],
        ...["price", "funding", "open-interest", "insurance"],
        "pnl",
      ]);
    });

    it("tabulates every agent kind's actions, with the refusals by error name", () => {
      // the synthetic run: retail attempted 42, 40 done, 2 refused SlippageExceeded
      expect(html).to.match(/<tr><th>retail traders<\/th><td>42<\/td><td>40<\/td><td>2 SlippageExceeded<\/td><\/tr>/);
      expect(html).to.match(/<tr><th>market maker<\/th><td>\d+<\/td><td>\d+<\/td><td>none<\/td><\/tr>/);
    });

    it("names the refusals in the prose, or says every action went through", () => {
      expect(explainRefusals(thin.summary.actions)).to.equal(
        "The engine refused the retail traders 2 of 42 (2 SlippageExceeded).",
      );
      const clean = Object.fromEntries(
        Object.entries(thin.summary.actions).map(([kind, c]) => [kind, { ...c, done: c.attempted, refused: {} }]),
      ) as typeof thin.summary.actions;
      expect(explainRefusals(clean)).to.equal("Every action the agents attempted went through.");
      expect(explainOutcome(thin)).to.match(/The engine refused the retail traders 2 of 42/);
    });

    it("puts the explanation on the page", () => {
      expect(html).to.contain(`<p class="outcome">${explainOutcome(thin)}</p>`); // its text has nothing to escape
    });

    it("escapes scenario text", () => {
      const hostile: SimulationResult = {
        ...thin,
        scenario: { ...thin.scenario, description: '</p><script>alert("x")</script>' },
      };
      const page = renderReport(hostile);
      expect(page).to.contain("&lt;/p&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
      expect(page).not.to.contain('<script>alert("x")');
    });
  });

  describe("renderComparison", () => {
    it("puts the runs side by side: one column and one price chart each", () => {
      const html = renderComparison([thin, deep]);
      expect(chartKinds(html)).to.deep.equal(["price", "price"]);
      expect(html).to.contain("<th>squeeze-thin (ALT-USD)</th><th>squeeze-deep (ALT-USD)</th>");
      expect(html).to.contain("<tr><th>Spot pool per side</th><td>$200,000</td><td>$50,000,000</td></tr>");
      expect(html).to.contain(CHART_JS.slice(0, 200));
    });

    it("draws the price charts on one y scale, so the deep market's flat line looks flat", () => {
      const html = renderComparison([thin, deep]);
      const json = /<script type="application\/json" id="report-data">(.*?)<\/script>/s.exec(html)![1]!;
      const charts = (JSON.parse(json) as { charts: { yRange: [number, number] }[] }).charts;
      const peak = Number(
        formatWad(thin.timeline.reduce((max, row) => (row.markets[0]!.spot > max ? row.markets[0]!.spot : max), 0n)),
      );
      expect(charts[0]!.yRange).to.deep.equal(charts[1]!.yRange);
      expect(charts[0]!.yRange[1]).to.be.at.least(peak);
    });

    it("needs two runs at least", () => {
      expect(() => renderComparison([thin])).to.throw(/at least two runs/);
    });
  });
});
