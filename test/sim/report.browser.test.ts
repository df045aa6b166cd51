import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { renderComparison, renderReport } from "../../sim/report";
import { syntheticRun } from "./synthetic";
import { useBrowser, type OpenedPage } from "../helpers/browser";

const SCREENSHOT = path.join(__dirname, "..", "..", "reports", "test-screenshot.png");

/**
 * For each chart canvas: its id, how many pixels are painted, and whether the colour of its first
 * dataset appears (so the data was drawn, not only the axes). Runs in the page.
 */
const INSPECT_CANVASES = `(() => {
  const specs = JSON.parse(document.getElementById("report-data").textContent).charts;
  return specs.map((spec) => {
    const canvas = document.getElementById(spec.id);
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    const first = spec.datasets.find((d) => d.points.length > 0);
    const rgb = first ? [1, 3, 5].map((i) => parseInt(first.color.slice(i, i + 2), 16)) : null;
    let painted = 0;
    let dataColour = false;
    for (let i = 0; i < pixels.length; i += 4) {
      if (pixels[i + 3] === 0) continue;
      painted += 1;
      if (rgb && pixels[i + 3] > 200 && rgb.every((c, k) => Math.abs(pixels[i + k] - c) <= 8)) dataColour = true;
    }
    return { id: spec.id, painted, dataColour };
  });
})()`;

interface CanvasInspection {
  id: string;
  painted: number;
  dataColour: boolean;
}

describe("report.html in a real browser", function () {
  this.timeout(120_000);
  const { open } = useBrowser("perpsim-report-");

  async function expectAllChartsDrawn(opened: OpenedPage, charts: number): Promise<void> {
    const { page, errors, requests } = opened;
    expect(await page.locator("canvas[data-chart]").count()).to.equal(charts);
    await page.waitForFunction(`window.__chartsRendered === ${charts}`, undefined, { timeout: 30_000 });
    const canvases = (await page.evaluate(INSPECT_CANVASES)) as CanvasInspection[];
    expect(canvases).to.have.length(charts);
    for (const canvas of canvases) {
      expect(canvas.painted, `${canvas.id} is blank`).to.be.greaterThan(1_000);
      expect(canvas.dataColour, `${canvas.id} shows no data`).to.equal(true);
    }
    expect(errors).to.deep.equal([]);
    expect(
      requests.filter((url) => !url.startsWith("file:")),
      "requests beyond the file itself",
    ).to.deep.equal([]);
  }

  it("draws all five charts of a run's report offline, without console errors, and saves a screenshot", async () => {
    const opened = await open(renderReport(syntheticRun("squeeze-thin")), "report.html");
    // ALT-USD: price with liquidations, funding, open interest, insurance fund; then the agents' PnL
    await expectAllChartsDrawn(opened, 5);
    const kinds = await opened.page
      .locator("canvas[data-chart]")
      .evaluateAll((nodes) => nodes.map((node) => node.getAttribute("data-chart")));
    expect(kinds).to.deep.equal(["price", "funding", "open-interest", "insurance", "pnl"]);

    fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
    await opened.page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(fs.statSync(SCREENSHOT).size).to.be.greaterThan(20_000);
  });

  it("draws both price charts of the thin-vs-deep comparison", async () => {
    const opened = await open(
      renderComparison([syntheticRun("squeeze-thin"), syntheticRun("squeeze-deep")]),
      "index.html",
    );
    await expectAllChartsDrawn(opened, 2);
    expect(await opened.page.locator("table.metrics thead th").allTextContents()).to.deep.equal([
      "",
      "squeeze-thin (ALT-USD)",
      "squeeze-deep (ALT-USD)",
    ]);
  });
});
