import { expect } from "chai";
import { Wallet } from "ethers";
import { FastAbi } from "../../sim/abi";
import {
  Oracle__factory,
  PerpEngineAdmin__factory,
  PerpEngine__factory,
  SpotPool__factory,
  Vault__factory,
} from "../../typechain-types";

describe("sim: calldata and results without ethers' per-call work", () => {
  const engine = PerpEngine__factory.createInterface();
  const admin = PerpEngineAdmin__factory.createInterface();
  const address = Wallet.createRandom().address;

  it("encodes the same bytes as ethers, negative integers, booleans and addresses included", () => {
    const cases: [FastAbi, string, unknown[]][] = [
      [new FastAbi(engine), "increasePosition", [7n, -123_456_789n * 10n ** 18n, 5n * 10n ** 20n, 2n ** 255n]],
      [new FastAbi(engine), "closePosition", [1n, 0n]],
      [new FastAbi(engine), "settleFunding", [3n]],
      [new FastAbi(SpotPool__factory.createInterface()), "swap", [true, 10n ** 12n, 0n, address]],
      [new FastAbi(Vault__factory.createInterface()), "freeBalance", [address]],
    ];
    for (const [abi, fn, args] of cases)
      expect(abi.encode(fn, args), fn).to.equal(abi.iface.encodeFunctionData(fn, args));
  });

  it("decodes a struct of mixed signed and unsigned fields, and pairs, as ethers does", () => {
    const state = {
      longOpenInterest: 10n ** 24n,
      shortOpenInterest: 3n,
      longEntryNotional: 5n,
      shortEntryNotional: 6n,
      fundingIndex: -(10n ** 20n),
      lastFundingRate: -7n,
      lastFundingTime: 1_700_000_000n,
      premiumCum: -(2n ** 90n),
      lastPremium: 9n,
      lastSampleTime: 10n,
      premiumStart: 11n,
      emaBasis: -12n,
      lastIndex: 13n,
      lastIndexTime: 14n,
      uncoveredBadDebt: 15n,
      paused: true,
      longEntryRemainder: 16n,
      fundingSnapshotSum: -(2n ** 120n),
      fundingSnapshotRemainder: 18n,
      shortEntryRemainder: 19n,
    };
    const data = admin.encodeFunctionResult("marketState", [state]);
    const [decoded] = new FastAbi(admin).decode("marketState", data) as [Record<string, unknown>];
    const ethers = admin.decodeFunctionResult("marketState", data)[0] as Record<string, unknown>;
    for (const key of Object.keys(state)) expect(decoded[key], key).to.equal(ethers[key]);
    const oracle = Oracle__factory.createInterface();
    const pair = oracle.encodeFunctionResult("indexPrice", [123n, 1n]);
    expect(new FastAbi(oracle).decode("indexPrice", pair)).to.deep.equal([123n, 1n]);
  });
});
