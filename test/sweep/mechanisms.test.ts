import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { ethers } from "hardhat";
import { deploySystem } from "../../lib/deploy";
import { WAD } from "../../lib/units";
import { mechanismSpec } from "../../sim/mechanisms";
import { systemSpecOf } from "../../sim/runner";
import { parseScenario, ScenarioError } from "../../sim/scenario";
import { IFundingModel__factory } from "../../typechain-types";
import { markModelOf } from "../../lib/math";

const FILE = path.join(__dirname, "fixtures", "tiny.json");
const base = JSON.parse(fs.readFileSync(FILE, "utf8")) as { markets: Record<string, unknown>[] };

function withMechanisms(mechanisms: unknown) {
  return { ...base, markets: [{ ...base.markets[0], mechanisms }] };
}

describe("scenario mechanisms (SPEC 9.3)", () => {
  it("default to the exchange's own methods when the block is left out", () => {
    const market = parseScenario(base, "tiny.json").markets[0]!;
    expect(market.mechanisms).to.deep.equal({
      markMethod: "median",
      fundingModel: "premium",
      liquidation: "partial",
      maxFundingVelocity: 0n,
    });
    expect(mechanismSpec(market)).to.deep.equal({
      markModel: "median",
      fundingModel: "premium",
      maxFundingVelocity: "0",
    });
  });

  it("name the field, the value and what is allowed when wrong", () => {
    const problem = (mechanisms: unknown) => {
      try {
        parseScenario(withMechanisms(mechanisms), "x.json");
      } catch (error) {
        if (error instanceof ScenarioError) return error.message;
        throw error;
      }
      return "accepted";
    };
    expect(problem({ markMethod: "last" })).to.equal(
      'x.json: markets[0].mechanisms.markMethod: must be "median" or "index" (got "last")',
    );
    expect(problem({ fundingModel: "velocity" })).to.equal(
      'x.json: markets[0].mechanisms.maxFundingVelocity: is required when fundingModel is "velocity"',
    );
    expect(problem({ fundingModel: "velocity", maxFundingVelocity: 19 })).to.equal(
      "x.json: markets[0].mechanisms.maxFundingVelocity: must be <= 18 (got 19)",
    );
    expect(problem({ liquidation: "half" })).to.equal(
      'x.json: markets[0].mechanisms.liquidation: must be "partial" or "full" (got "half")',
    );
    expect(problem({ pnlCap: 0.5 })).to.equal("x.json: markets[0].mechanisms.pnlCap: is not a known field");
  });

  it("reach the deployed market: index mark, velocity funding at 3/day, full liquidation", async () => {
    const scenario = parseScenario(
      withMechanisms({ markMethod: "index", fundingModel: "velocity", maxFundingVelocity: 3, liquidation: "full" }),
      "tiny.json",
    );
    const [deployer] = await ethers.getSigners();
    const ex = await deploySystem(deployer!, systemSpecOf(scenario));
    const config = await ex.admin.marketConfig(1n);
    expect(markModelOf(config.markModel)).to.equal("index");
    expect(await IFundingModel__factory.connect(config.fundingModel, deployer).name()).to.equal("velocity");
    expect(config.maxFundingVelocity).to.equal(3n * WAD);
    expect(config.partialLiquidationBuffer).to.equal(0n);
  });
});
