import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { renderComparison, renderReport } from "../../sim/report";
import { syntheticRun } from "./synthetic";
import { expectAllChartsDrawn, useBrowser } from "../helpers/browser";

const SCREENSHOT = path.join(__dirname, "..", "..", "reports", "test-screenshot.png");

describe("report.html in a real browser", function () {
  this.timeout(120_000);
  const { open } = useBrowser("perpsim-report-");

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
