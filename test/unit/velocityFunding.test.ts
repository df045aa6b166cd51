import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt } from "ethers";
import { wad, WAD } from "../../lib/units";
import { VelocityFundingModel__factory, type IFundingModel } from "../../typechain-types";
import {
  ALT_START_PRICE,
  FUNDING_INTERVAL,
  deployRiskSystem,
  eventsOf,
  floorDiv,
  open,
  premium,
  setIndex,
  specLiquidationPrice,
  tiersOf,
  type RiskSystem,
} from "./riskFixture";

// ALT-USD (lib/markets.ts): S = 5,000,000 ALT, cap 0.75% per 8 h interval.
const S = wad(5_000_000);
const CAP = wad("0.0075");
const DAY = 86_400n;
/** 3 per day: at full skew the daily rate would move 300% a day; at 0.2% skew, 0.6% a day. */
const VELOCITY = wad(3);
const INDEX = ALT_START_PRICE;

/** Synthetix v3 on 8 h intervals: F = clamp(F_last + v * s * T^2 / day^2, -cap, cap). */
function velocityRate(last: bigint, skewFraction: bigint, velocity: bigint, interval: bigint): bigint {
  const drift = floorDiv(skewFraction * velocity * interval * interval, WAD * DAY * DAY);
  const next = last + drift;
  return next > CAP ? CAP : next < -CAP ? -CAP : next;
}

const inputs = (over: Partial<Parameters<IFundingModel["fundingRate"]>[0]>) => ({
  avgPremium: 0n,
  interestRate: wad("0.0001"),
  clampRate: wad("0.0005"),
  cap: CAP,
  lastRate: 0n,
  interval: FUNDING_INTERVAL,
  maxVelocity: VELOCITY,
  ...over,
});

async function velocityFixture() {
  return deployRiskSystem({ market: { fundingModel: "velocity", maxFundingVelocity: "3" } });
}

function settledRate(s: RiskSystem, receipt: ContractTransactionReceipt): bigint {
  const [event] = eventsOf(receipt, s.ex, "FundingSettled");
  return event!.args.rate as bigint;
}

async function settleAt(s: RiskSystem, timestamp: bigint): Promise<ContractTransactionReceipt> {
  await time.setNextBlockTimestamp(timestamp);
  return (await (await s.ex.engine.settleFunding(s.marketId)).wait())!;
}

describe("VelocityFundingModel", () => {
  describe("the rate (IFundingModel)", () => {
    it("names itself for the keeper and the reports", async () => {
      const [deployer] = await ethers.getSigners();
      const model = await new VelocityFundingModel__factory(deployer).deploy();
      expect(await model.name()).to.equal("velocity");
    });

    it("drifts by v * skew * (T / day)^2 per interval from the last rate, ignoring I and its clamp", async () => {
      const [deployer] = await ethers.getSigners();
      const model = await new VelocityFundingModel__factory(deployer).deploy();
      // 0.3% long skew, v = 3/day, T = 8 h = 1/3 day: drift = 3 * 0.003 / 9 = 0.001
      expect(await model.fundingRate(inputs({ avgPremium: wad("0.003"), lastRate: wad("0.0002") }))).to.equal(
        wad("0.0012"),
      );
      // the same skew short: 0.0002 - 0.001
      expect(await model.fundingRate(inputs({ avgPremium: -wad("0.003"), lastRate: wad("0.0002") }))).to.equal(
        -wad("0.0008"),
      );
      // no skew: the rate keeps its level (a premium model would fall back to I)
      expect(await model.fundingRate(inputs({ lastRate: wad("0.0004") }))).to.equal(wad("0.0004"));
      // a skew beyond the scale counts as full skew: 0.01 * 1 / 9 = 0.00111...
      expect(await model.fundingRate(inputs({ avgPremium: wad(5), maxVelocity: wad("0.01") }))).to.equal(
        wad("0.01") / 9n,
      );
    });

    it("stops at the cap on both sides", async () => {
      const [deployer] = await ethers.getSigners();
      const model = await new VelocityFundingModel__factory(deployer).deploy();
      expect(await model.fundingRate(inputs({ avgPremium: wad("0.5"), lastRate: CAP - 1n }))).to.equal(CAP);
      expect(await model.fundingRate(inputs({ avgPremium: -wad("0.5"), lastRate: 1n - CAP }))).to.equal(-CAP);
    });
  });

  describe("through the engine", () => {
    it("raises the rate every interval a long skew holds, and keeps it when the skew closes", async () => {
      const s = await loadFixture(velocityFixture);
      const b1 = (await s.ex.admin.marketState(s.marketId)).lastFundingTime + FUNDING_INTERVAL;
      await time.setNextBlockTimestamp(b1);
      const skew = wad(10_000); // p = K / S = 0.2%
      await open(s, s.traders[0]!, skew, wad(4_000));
      const p = premium(INDEX, skew, S);
      expect(p).to.equal(wad("0.002"));

      // interval 1: 0 + 3 * 0.002 / 9 = 0.000666...; interval 2 adds the same again
      const f1 = velocityRate(0n, p, VELOCITY, FUNDING_INTERVAL);
      expect(settledRate(s, await settleAt(s, b1 + FUNDING_INTERVAL))).to.equal(f1);
      const f2 = velocityRate(f1, p, VELOCITY, FUNDING_INTERVAL);
      expect(f2).to.equal(2n * f1);
      expect(settledRate(s, await settleAt(s, b1 + 2n * FUNDING_INTERVAL))).to.equal(f2);

      // the skew closes exactly at the boundary: the next interval's average premium is 0, F holds
      await time.setNextBlockTimestamp(b1 + 3n * FUNDING_INTERVAL);
      await s.ex.engine.connect(s.traders[0]!).closePosition(s.marketId, 0n);
      expect((await s.ex.admin.marketState(s.marketId)).lastFundingRate).to.equal(
        velocityRate(f2, p, VELOCITY, FUNDING_INTERVAL),
      );
      const f3 = velocityRate(f2, p, VELOCITY, FUNDING_INTERVAL);
      expect(settledRate(s, await settleAt(s, b1 + 4n * FUNDING_INTERVAL))).to.equal(f3);
    });
  });
});

describe("full liquidation (partialLiquidationBuffer = 0)", () => {
  async function fullFixture() {
    return deployRiskSystem({ market: { partialLiquidationBuffer: "0" } });
  }

  it("closes a second-tier position whole, where the default market would cut it to a healthy remainder", async () => {
    const s = await loadFixture(fullFixture);
    const tiers = await tiersOf(s);
    // 50,000 ALT long at about $2: $100,000 in the second tier, 10x (the partial-liquidation case of
    // liquidation.test.ts, which keeps a remainder)
    const { id } = await open(s, s.traders[0]!, wad(50_000), wad(10_000));
    const p = await s.ex.admin.position(id);
    const shown = (await s.ex.lens.position(id)).liquidationPrice;
    expect(shown).to.equal(specLiquidationPrice(tiers, p.size, p.entryPrice, p.margin));
    await setIndex(s, shown);
    const receipt = (await (await s.ex.engine.connect(s.keeper).liquidate(id)).wait())!;
    const [liq] = eventsOf(receipt, s.ex, "Liquidation");
    expect(liq!.args.closedSize).to.equal(p.size);
    expect((await s.ex.admin.position(id)).size).to.equal(0n);
  });
});
