import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { toWad } from "../../sim/decimal";
import {
  canonicalJson,
  prepareOutDir,
  summaryJson,
  timelineCsv,
  TIMELINE_COIN_COLUMNS,
  TIMELINE_MARKET_COLUMNS,
  writeRunFiles,
} from "../../sim/output";
import type { TimelineRow } from "../../sim/types";
import { syntheticRun } from "./synthetic";

describe("run output files", () => {
  describe("summary.json", () => {
    it("is byte-identical for two runs of one seed", () => {
      expect(summaryJson(syntheticRun("squeeze-thin").summary)).to.equal(
        summaryJson(syntheticRun("squeeze-thin").summary),
      );
    });

    it("sorts keys, so the order fields were set in does not matter", () => {
      expect(canonicalJson({ b: 1, a: { d: 2, c: 3 } })).to.equal(canonicalJson({ a: { c: 3, d: 2 }, b: 1 }));
      expect(canonicalJson({ b: 1, a: [2, 1] })).to.equal('{\n  "a": [\n    2,\n    1\n  ],\n  "b": 1\n}\n');
    });

    it("writes each WAD as its exact decimal string", () => {
      const text = canonicalJson({ budget: toWad(150_000), move: toWad("0.3812"), dust: 1n, loss: -toWad("12.5") });
      expect(JSON.parse(text)).to.deep.equal({
        budget: "150000",
        move: "0.3812",
        dust: "0.000000000000000001",
        loss: "-12.5",
      });
    });

    it("leaves undefined fields out and keeps null", () => {
      expect(JSON.parse(canonicalJson({ gone: undefined, median: null }))).to.deep.equal({ median: null });
    });

    it("refuses values JSON cannot hold exactly", () => {
      expect(() => canonicalJson({ rate: Number.NaN })).to.throw(TypeError, /\$\.rate: NaN/);
      expect(() => canonicalJson({ at: [1, Infinity] })).to.throw(TypeError, /\$\.at\[1\]/);
      expect(() => canonicalJson({ f: () => 1 })).to.throw(TypeError, /a function/);
    });

    it("holds the per-market fields issue 6 asks for", () => {
      const [market] = JSON.parse(summaryJson(syntheticRun("squeeze-thin").summary)).markets as Record<
        string,
        unknown
      >[];
      for (const field of [
        "liquidations",
        "liquidatedNotional",
        "tradersLoss",
        "marketMakerCost",
        "marketMakerPnl",
        "insuranceFundDelta",
        "poolPnl",
        "fundingPaidLongs",
        "fundingPaidShorts",
        "badDebt",
        "adlCount",
        "peakMove",
        "cascadeDepth",
        "maxLiquidationsPerBlock",
        "medianCrossingToLiquidationSec",
        "squeeze",
      ]) {
        expect(market, field).to.have.property(field);
      }
    });
  });

  describe("timeline.csv", () => {
    const row = (step: number, symbol = "ALT-USD"): TimelineRow => ({
      t: step * 300,
      step,
      block: 1 + step * 3,
      markets: [
        {
          symbol,
          spot: toWad("0.5"),
          index: toWad("0.5001"),
          mark: toWad("0.49995"),
          last: toWad("0.4999"),
          fundingRate: -toWad("0.0001"),
          oiLong: toWad(1000),
          oiShort: toWad(250_000),
          insuranceFund: toWad(50_000),
          poolValue: toWad(2_000_000),
          liquidations: step,
        },
      ],
    });

    it("has a header and one line per step, with human decimals", () => {
      const lines = timelineCsv([row(0), row(1)]).split("\n");
      expect(lines[0]).to.equal(
        ["t", "step", "block", ...TIMELINE_MARKET_COLUMNS.map((column) => `ALT-USD.${column}`)].join(","),
      );
      expect(lines[2]).to.equal("300,1,4,0.5,0.5001,0.49995,0.4999,-0.0001,1000,250000,50000,2000000,1");
      expect(lines).to.have.length(4); // header, two rows, and the empty string after the final newline
    });

    it("puts each coin-margined market's columns after the USD markets': USD prices, USD face, coin money", () => {
      const withCoin = (step: number, symbol = "ALTUSD-INV"): TimelineRow => ({
        ...row(step),
        coinMarkets: [
          {
            symbol,
            index: toWad("0.5001"),
            mark: toWad("0.4998"),
            last: toWad("0.4997"),
            fundingRate: toWad("0.0001"),
            oiLong: toWad(4_000),
            oiShort: toWad(0),
            insuranceFund: toWad(50_000),
            poolValue: toWad(2_000_000),
            liquidations: 2 * step,
          },
        ],
      });
      const lines = timelineCsv([withCoin(0), withCoin(1)]).split("\n");
      expect(lines[0]).to.equal(
        [
          "t",
          "step",
          "block",
          ...TIMELINE_MARKET_COLUMNS.map((column) => `ALT-USD.${column}`),
          ...TIMELINE_COIN_COLUMNS.map((column) => `ALTUSD-INV.${column}`),
        ].join(","),
      );
      expect(lines[2]).to.equal(
        "300,1,4,0.5,0.5001,0.49995,0.4999,-0.0001,1000,250000,50000,2000000,1," +
          "0.5001,0.4998,0.4997,0.0001,4000,0,50000,2000000,2",
      );
      expect(() => timelineCsv([withCoin(0), withCoin(1, "BTCUSD-INV")])).to.throw(
        /timeline step 1: markets BTCUSD-INV, expected ALTUSD-INV/,
      );
    });

    it("has a line per step of a whole run", () => {
      const run = syntheticRun("squeeze-thin");
      const steps = run.scenario.durationSec / run.scenario.stepSec;
      expect(timelineCsv(run.timeline).trimEnd().split("\n")).to.have.length(1 + steps + 1); // header, step 0, steps 1..n
    });

    it("refuses rows whose markets differ from the first row's", () => {
      expect(() => timelineCsv([row(0), row(1, "BTC-USD")])).to.throw(
        /timeline step 1: markets BTC-USD, expected ALT-USD/,
      );
    });
  });

  describe("prepareOutDir (checked before a run starts)", () => {
    let root: string;
    beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), "perpsim-outdir-"))));
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("makes a missing nested folder and leaves nothing else in it", () => {
      const dir = path.join(root, "a", "b");
      expect(prepareOutDir(dir)).to.equal(undefined);
      expect(fs.readdirSync(dir)).to.deep.equal([]);
    });

    it("refuses a file in one line, as --out README.md", () => {
      const file = path.join(root, "README.md");
      fs.writeFileSync(file, "# keep me\n");
      expect(prepareOutDir(file)).to.equal(
        `--out ${file}: is a file, not a directory (give a directory; the run writes summary.json, timeline.csv and report.html into it)`,
      );
      expect(fs.readFileSync(file, "utf8")).to.equal("# keep me\n");
    });

    it("refuses a folder under a file", () => {
      const file = path.join(root, "README.md");
      fs.writeFileSync(file, "");
      expect(prepareOutDir(path.join(file, "x"))).to.equal(
        `--out ${path.join(file, "x")}: ${file} is a file, not a directory`,
      );
    });

    it("refuses a folder it cannot create, without hanging, as --out /proc/x", function () {
      if (!fs.existsSync("/proc/self")) this.skip();
      expect(prepareOutDir("/proc/perpsim-x")).to.match(/^--out \/proc\/perpsim-x: cannot write there \(E[A-Z]+\)$/);
    });
  });

  describe("writeRunFiles", () => {
    it("writes summary.json, timeline.csv and report.html into a new folder", () => {
      const run = syntheticRun("squeeze-thin");
      const dir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "perpsim-out-")), "squeeze-thin");
      try {
        const files = writeRunFiles(dir, {
          summary: run.summary,
          timeline: run.timeline,
          reportHtml: "<!doctype html>",
        });
        expect(fs.readFileSync(files.summary, "utf8")).to.equal(summaryJson(run.summary));
        expect(fs.readFileSync(files.timeline, "utf8")).to.equal(timelineCsv(run.timeline));
        expect(fs.readFileSync(files.report, "utf8")).to.equal("<!doctype html>");
      } finally {
        fs.rmSync(path.dirname(dir), { recursive: true, force: true });
      }
    });
  });
});
