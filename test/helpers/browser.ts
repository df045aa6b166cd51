/**
 * A real browser for the report tests: Debian's chromium driven by playwright-core, one per suite, and
 * pages opened from files with their console errors and network requests recorded.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { expect } from "chai";
import { chromium, type Browser, type Page } from "playwright-core";

/** Debian's chromium; CI installs it, a developer may not have it. */
export const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface OpenedPage {
  page: Page;
  /** console errors and uncaught page errors */
  errors: string[];
  /** every URL the page requested, the file itself included */
  requests: string[];
}

export interface SuiteBrowser {
  /** Writes `html` to `file` in the suite's temporary folder and opens it. */
  open(html: string, file: string): Promise<OpenedPage>;
}

/**
 * Starts chromium before the suite's tests and closes it after. Without chromium the suite is skipped,
 * except under CI, where it fails: CI must install it.
 */
export function useBrowser(prefix: string): SuiteBrowser {
  let browser: Browser | undefined;
  let dir = "";

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      if (process.env.CI !== undefined)
        throw new Error(`${CHROMIUM} is missing; CI must install Debian's chromium (apt-get install -y chromium)`);
      console.warn(
        `      skipped: ${CHROMIUM} is missing (apt-get install -y chromium); under CI this test fails instead`,
      );
      this.skip();
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });

  after(async () => {
    await browser?.close();
    if (dir !== "") fs.rmSync(dir, { recursive: true, force: true });
  });

  return {
    async open(html, file) {
      const target = path.join(dir, file);
      fs.writeFileSync(target, html);
      const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on("console", (message) => {
        if (message.type() === "error") errors.push(message.text());
      });
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("request", (request) => requests.push(request.url()));
      await page.goto(pathToFileURL(target).href, { waitUntil: "load" });
      return { page, errors, requests };
    },
  };
}

/**
 * For each chart canvas of a report (sim/report.ts): its id, how many pixels are painted, and whether the
 * colour of its first dataset appears (so the data was drawn, not only the axes). Runs in the page.
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

/**
 * A report page drew its `charts` charts, each with its data, without console errors and without a
 * request beyond the file itself.
 */
export async function expectAllChartsDrawn(opened: OpenedPage, charts: number): Promise<void> {
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
