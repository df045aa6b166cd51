import { expect } from "chai";
import {
  getAt,
  parsePath,
  parseValue,
  parseVaries,
  parseVary,
  setAt,
  VaryError,
  type JsonValue,
} from "../../sim/sweep/paths";
import { expandGrid, parseSeeds, planRuns, PlanError, runKey, scenarioOf } from "../../sim/sweep/grid";

const BASE: JsonValue = {
  name: "x",
  markets: [{ symbol: "ALT-USD", protections: { oiCap: 0, twapWindowSeconds: 0 } }],
};

describe("sweep paths: --vary PATH=V1,V2", () => {
  it("splits a dotted path into keys and array indexes", () => {
    expect(parsePath("markets.0.protections.oiCap")).to.deep.equal(["markets", 0, "protections", "oiCap"]);
  });

  it("reads numbers, booleans and names, and keeps a decimal a double cannot hold as a string", () => {
    expect(
      ["1800", "0.25", "-3", "true", "false", "median", "0.1000000000000000001", "007"].map(parseValue),
    ).to.deep.equal([1800, 0.25, -3, true, false, "median", "0.1000000000000000001", "007"]);
  });

  it("parses an axis and refuses an empty or repeated value, a missing '=', a bad segment", () => {
    expect(parseVary("markets.0.protections.oiCap=0,500000").values).to.deep.equal([0, 500000]);
    expect(() => parseVary("markets.0.oiCap")).to.throw(VaryError, "expected PATH=V1,V2");
    expect(() => parseVary("markets.0.oiCap=1,,2")).to.throw(VaryError, "a value is empty");
    expect(() => parseVary("markets.0.oiCap=1,1")).to.throw(VaryError, "value 1 is listed twice");
    expect(() => parseVary("markets.-1.oiCap=1")).to.throw(VaryError, 'segment "-1"');
    expect(() => parseVaries(["a=1", "a=2"])).to.throw(VaryError, "varied twice");
  });

  it("writes a value at a path without touching the input, and reads it back", () => {
    const segments = parsePath("markets.0.protections.oiCap");
    const out = setAt(BASE, segments, 500000, "markets.0.protections.oiCap");
    expect(getAt(out, segments)).to.equal(500000);
    expect(getAt(BASE, segments)).to.equal(0);
  });

  it("adds a missing object on the way (an optional block) but never a missing array", () => {
    const path = "markets.0.mechanisms.fundingModel";
    const added = setAt(BASE, parsePath(path), "velocity", path);
    expect(getAt(added, parsePath("markets.0.mechanisms"))).to.deep.equal({ fundingModel: "velocity" });
    expect(() => setAt(BASE, parsePath("agents.0.count"), 3, "agents.0.count")).to.throw(
      VaryError,
      'the scenario has no field "agents" to index into',
    );
    expect(() => setAt(BASE, parsePath("markets.3.oiCap"), 1, "markets.3.oiCap")).to.throw(
      VaryError,
      "index 3 is out of range; markets has 1 element(s)",
    );
    expect(() => setAt(BASE, parsePath("name.0"), 1, "name.0")).to.throw(VaryError, "name is a string, not an array");
  });
});

describe("sweep grid: configurations x seeds", () => {
  it("reads --seeds N as 1..N and A..B inclusive, and refuses anything else", () => {
    expect(parseSeeds("3")).to.deep.equal([1, 2, 3]);
    expect(parseSeeds("5..7")).to.deep.equal([5, 6, 7]);
    expect(parseSeeds("4..4")).to.deep.equal([4]);
    for (const bad of ["0", "7..5", "1-3", "a", "", "1..", "1e3"])
      expect(() => parseSeeds(bad), bad).to.throw(PlanError);
    expect(() => parseSeeds("1..20000")).to.throw(PlanError, "at most 10000 seeds");
  });

  it("expands two axes into every combination, the last axis turning fastest", () => {
    const configs = expandGrid(parseVaries(["a=1,2", "b=x,y,z"]));
    expect(configs.map((c) => c.labels)).to.deep.equal([
      ["1", "x"],
      ["1", "y"],
      ["1", "z"],
      ["2", "x"],
      ["2", "y"],
      ["2", "z"],
    ]);
    expect(configs.map((c) => c.index)).to.deep.equal([0, 1, 2, 3, 4, 5]);
  });

  it("plans one configuration when nothing varies", () => {
    expect(expandGrid([])).to.deep.equal([{ index: 0, labels: [], writes: [] }]);
  });

  it("plans configurations x seeds, seeds ascending within a configuration, with distinct keys", () => {
    const runs = planRuns(expandGrid(parseVaries(["a=1,2"])), [3, 4]);
    expect(runs.map((r) => [r.config, r.seed])).to.deep.equal([
      [0, 3],
      [0, 4],
      [1, 3],
      [1, 4],
    ]);
    expect(new Set(runs.map((r) => r.key)).size).to.equal(4);
    expect(runs[0]!.key).to.equal(runKey(["1"], 3));
  });

  it("applies a configuration's writes to the base scenario", () => {
    const [config] = expandGrid(
      parseVaries(["markets.0.protections.twapWindowSeconds=1800", "markets.0.protections.oiCap=5"]),
    );
    const json = scenarioOf(BASE, config!);
    expect(getAt(json, parsePath("markets.0.protections"))).to.deep.equal({ oiCap: 5, twapWindowSeconds: 1800 });
  });
});
