/**
 * A real browser for the report tests: Debian's chromium driven by playwright-core, one per suite, and
 * pages opened from files with their console errors and network requests recorded.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
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
