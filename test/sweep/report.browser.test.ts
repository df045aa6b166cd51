import { expect } from "chai";
import { WAD } from "../../sim/decimal";
import { expandGrid, planRuns } from "../../sim/sweep/grid";
import { METRICS, SUMMARY_METRICS, type RunMetrics } from "../../sim/sweep/metrics";
import { parseVaries, type Axis } from "../../sim/sweep/paths";
import { renderSweep } from "../../sim/sweep/report";
import { summarize, type RunRow } from "../../sim/sweep/summary";
import { useBrowser } from "../helpers/browser";

/** The heatmap's two ends (sim/sweep/report.ts): lowest value blue, highest red. */
const LOW_RGB = [37, 99, 235];
const HIGH_RGB = [220, 38, 38];

/** Per canvas: painted pixels, and whether the lowest and the highest colour appear. Runs in the page. */
const INSPECT = `(() => [...document.querySelectorAll("canvas")].map((canvas) => {
  const px = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const near = (i, rgb) => px[i + 3] > 150 && rgb.every((c, k) => Math.abs(px[i + k] - c) <= 10);
  let painted = 0, low = false, high = false;
  for (let i = 0; i < px.length; i += 4) {
    if (px[i + 3] === 0) continue;
    painted += 1;
    if (near(i, ${JSON.stringify(LOW_RGB)})) low = true;
    if (near(i, ${JSON.stringify(HIGH_RGB)})) high = true;
  }
  return { id: canvas.id, painted, low, high };
}))()`;

interface Inspection {
  id: string;
  painted: number;
  low: boolean;
  high: boolean;
}

/** A finished sweep over `axes` with 3 seeds, every metric growing with the configuration and the seed. */
function syntheticSweep(axes: Axis[]) {
  const configs = expandGrid(axes);
  const rows: RunRow[] = planRuns(configs, [1, 2, 3]).map((run) => ({
    key: run.key,
    config: run.config,
    labels: configs[run.config]!.labels,
    seed: run.seed,
    metrics: Object.fromEntries(
      METRICS.map((name, i) => [name, BigInt((run.config + 1) * 1000 + run.seed * 10 + i) * WAD]),
    ) as RunMetrics,
  }));
  return summarize(
    { scenario: "squeeze-thin", source: "scenarios/squeeze-thin.json", axes, seeds: [1, 2, 3] },
    configs,
    rows,
  );
}

describe("sweep.html in a real browser", function () {
  this.timeout(120_000);
  const { open } = useBrowser("perpsim-sweep-");

  it("draws a heatmap per metric for two varied paths, lowest cell blue and highest red, offline", async () => {
    const axes = parseVaries([
      "markets.0.protections.twapWindowSeconds=0,600,1800",
      "markets.0.spotLiquidityUsd=200000,2000000",
    ]);
    const { page, errors, requests } = await open(renderSweep(syntheticSweep(axes), axes), "heatmaps.html");
    // the six summary metrics, then VaR95 and LaR95
    const charts = SUMMARY_METRICS.length + 2;
    await page.waitForFunction(`window.__chartsRendered === ${charts}`, undefined, { timeout: 30_000 });
    const canvases = (await page.evaluate(INSPECT)) as Inspection[];
    expect(canvases.map((c) => c.id)).to.deep.equal([
      ...SUMMARY_METRICS.map((m) => `heatmap-${m}`),
      "heatmap-var95",
      "heatmap-lar95",
    ]);
    for (const canvas of canvases) {
      expect(canvas.painted, `${canvas.id} is blank`).to.be.greaterThan(10_000);
      expect(canvas.low && canvas.high, `${canvas.id} lacks its lowest or highest cell`).to.equal(true);
    }
    expect(await page.locator("#configurations tbody tr").count()).to.equal(6);
    expect(errors).to.deep.equal([]);
    expect(requests.filter((url) => !url.startsWith("file:"))).to.deep.equal([]);
  });

  it("draws lines (p95, mean, p5) per metric for one varied path", async () => {
    const axes = parseVaries(["markets.0.protections.oiCap=0,500000,1000000"]);
    const { page, errors } = await open(renderSweep(syntheticSweep(axes), axes), "lines.html");
    await page.waitForFunction(`window.__chartsRendered === ${SUMMARY_METRICS.length}`, undefined, { timeout: 30_000 });
    const canvases = (await page.evaluate(INSPECT)) as Inspection[];
    for (const canvas of canvases) {
      expect(canvas.painted, `${canvas.id} is blank`).to.be.greaterThan(1_000);
      // the mean line is drawn in the heatmap's low blue, the p95 line in its high red
      expect(canvas.low && canvas.high, `${canvas.id} lacks the mean or the p95 line`).to.equal(true);
    }
    expect(errors).to.deep.equal([]);
  });
});
