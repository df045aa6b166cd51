import { expect } from "chai";
import { distribution, mean, percentile, StatsError } from "../../sim/sweep/stats";
import { parseCsv, toCsv, CsvError } from "../../sim/sweep/csv";
import { parseVaries } from "../../sim/sweep/paths";
import { expandGrid, planRuns } from "../../sim/sweep/grid";
import { METRICS, type RunMetrics } from "../../sim/sweep/metrics";
import { orderRows, readRunsCsv, runsCsv, summarize, type RunRow } from "../../sim/sweep/summary";
import { WAD } from "../../sim/decimal";

const w = (n: number | bigint) => BigInt(n) * WAD;

describe("sweep statistics", () => {
  it("interpolates percentiles between closest ranks (NumPy's default)", () => {
    // Sorted 10, 20, 30, 40: h = 3 * p / 100. p50: h = 1.5 -> 20 + 0.5 * 10 = 25.
    // p95: h = 2.85 -> 30 + 0.85 * 10 = 38.5. p5: h = 0.15 -> 10 + 0.15 * 10 = 11.5.
    const sample = [w(40), w(10), w(30), w(20)];
    expect(percentile(sample, 50)).to.equal(w(25));
    expect(percentile(sample, 95)).to.equal(w(385) / 10n);
    expect(percentile(sample, 5)).to.equal(w(115) / 10n);
    expect(percentile(sample, 0)).to.equal(w(10));
    expect(percentile(sample, 100)).to.equal(w(40));
  });

  it("gives VaR95 of two seeds as 95% of the way from the smaller to the larger", () => {
    // h = 1 * 95 / 100 = 0.95: 1000 + 0.95 * (3000 - 1000) = 2900.
    expect(percentile([w(3000), w(1000)], 95)).to.equal(w(2900));
  });

  it("returns the one value of a single seed for every percentile", () => {
    expect(distribution([w(7)])).to.deep.equal({ mean: w(7), p5: w(7), p50: w(7), p95: w(7) });
  });

  it("means exactly on WADs: 3 and 4 liquidations average 3.5", () => {
    expect(mean([w(3), w(4)])).to.equal(w(35) / 10n);
  });

  it("refuses an empty sample and a percentile outside 0..100", () => {
    expect(() => percentile([], 50)).to.throw(StatsError);
    expect(() => mean([])).to.throw(StatsError);
    expect(() => percentile([1n], 101)).to.throw(StatsError);
  });
});

describe("sweep csv and runs.csv", () => {
  it("quotes cells with commas, quotes and line breaks, and reads them back", () => {
    const rows = [
      ["a", 'say "hi"', "1,2"],
      ["line\nbreak", "", "x"],
    ];
    const text = toCsv(["h1", "h2", "h3"], rows);
    expect(text).to.equal('h1,h2,h3\na,"say ""hi""","1,2"\n"line\nbreak",,x\n');
    expect(parseCsv(text, "t.csv")).to.deep.equal([["h1", "h2", "h3"], ...rows]);
  });

  it("names the file and the line of a row of the wrong width", () => {
    expect(() => parseCsv("a,b\n1\n", "runs.csv")).to.throw(CsvError, "runs.csv: line 2 has 1 cells; the header has 2");
  });

  const axes = parseVaries(["markets.0.spotLiquidityUsd=200000,2000000"]);
  const configs = expandGrid(axes);
  const plan = planRuns(configs, [1, 2]);
  const metrics = (base: number): RunMetrics =>
    Object.fromEntries(METRICS.map((name, i) => [name, w(base + i) / 4n])) as RunMetrics;
  const rowOf = (i: number): RunRow => ({
    key: plan[i]!.key,
    config: plan[i]!.config,
    labels: configs[plan[i]!.config]!.labels,
    seed: plan[i]!.seed,
    metrics: metrics(i * 100),
  });

  it("writes rows in plan order whatever order they finished in, and reads them back exactly", () => {
    const byKey = new Map([3, 0, 2].map((i) => [plan[i]!.key, rowOf(i)]));
    const rows = orderRows(plan, byKey);
    expect(rows.map((r) => r.key)).to.deep.equal([0, 2, 3].map((i) => plan[i]!.key));
    const text = runsCsv(axes, rows);
    expect(text.split("\n")[0]).to.equal(`config,markets.0.spotLiquidityUsd,seed,${METRICS.join(",")}`);
    expect(readRunsCsv(text, axes, "runs.csv")).to.deep.equal(rows);
  });

  it("keeps rows of an earlier sweep that this plan does not ask for, after the plan's", () => {
    const other = { ...rowOf(0), key: JSON.stringify(["200000", 9]), seed: 9 };
    const rows = orderRows(
      plan,
      new Map([
        [other.key, other],
        [plan[1]!.key, rowOf(1)],
      ]),
    );
    expect(rows.map((r) => r.seed)).to.deep.equal([2, 9]);
  });

  it("refuses a runs.csv of a sweep over other paths", () => {
    const text = runsCsv(axes, [rowOf(0)]);
    expect(() => readRunsCsv(text, parseVaries(["markets.0.skewScale=1"]), "d/runs.csv")).to.throw(
      "d/runs.csv belongs to another sweep",
    );
  });

  it("summarizes each configuration over its seeds, with VaR95 of bad debt and LaR95 of liquidated notional", () => {
    const rows = [0, 1, 2].map(rowOf);
    const summary = summarize({ scenario: "s", source: "s.json", axes, seeds: [1, 2] }, configs, rows);
    expect(summary.runs).to.equal(3);
    expect(summary.configurations.map((c) => c.seeds)).to.deep.equal([[1, 2], [1]]);
    const first = summary.configurations[0]!;
    const bad = [rows[0]!.metrics.badDebt, rows[1]!.metrics.badDebt];
    expect(first.var95).to.equal(percentile(bad, 95));
    expect(first.lar95).to.equal(
      percentile([rows[0]!.metrics.liquidatedNotional, rows[1]!.metrics.liquidatedNotional], 95),
    );
    expect(first.metrics.poolPnl.mean).to.equal(mean([rows[0]!.metrics.poolPnl, rows[1]!.metrics.poolPnl]));
    expect(first.values).to.deep.equal({ "markets.0.spotLiquidityUsd": "200000" });
  });
});
