import { expect } from "chai";
import { Wallet } from "ethers";
import { AbiCoder } from "ethers";
import { FastAbi } from "../../lib/abi";
import { encodeReads } from "../../sim/chain";
import {
  Oracle__factory,
  OrderBook__factory,
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

  it("writes SimReads' arguments as ethers' coder does, call data of any length", () => {
    const reads = [
      { to: address, data: "0x0b7afd5a" + "00".repeat(31) + "07" },
      { to: Wallet.createRandom().address, data: "0x635bea2a" },
      { to: address, data: "0x" + "ab".repeat(70) },
    ];
    const ethers = AbiCoder.defaultAbiCoder().encode(
      ["address[]", "bytes[]"],
      [reads.map((r) => r.to), reads.map((r) => r.data)],
    );
    expect("0x" + encodeReads(reads)).to.equal(ethers);
  });

  it("reads the keeper's events as ethers' parseLog does: indexed and data words, signed, addresses, bytes32, enums", () => {
    const book = OrderBook__factory.createInterface();
    const logs: [FastAbi, string, unknown[]][] = [
      [FastAbi.of(engine), "Trade", [5n, address, 2n, -(10n ** 21n), 3n, 4n, -5n, -6n, -(10n ** 21n), 7n, 8n, -9n]],
      [FastAbi.of(engine), "Liquidation", [5n, address, 2n, address, 10n ** 20n, 3n, -4n, 5n, 6n, 0n, 0n, 0n, -7n]],
      [FastAbi.of(engine), "MarketCreated", [1n, "0x" + "41".repeat(3) + "00".repeat(29)]],
      [FastAbi.of(book), "OrderCreated", [9n, address, 2n, 3n, -4n, 5n, 6n, 7n, 8n, 1_700_000_000n]],
    ];
    for (const [abi, name, values] of logs) {
      const fragment = abi.iface.getEvent(name)!;
      const log = abi.iface.encodeEventLog(fragment, values);
      const parsed = abi.parseLog(log)!;
      const ethers = abi.iface.parseLog(log)!;
      expect(parsed.name).to.equal(ethers.name);
      expect(parsed.args.toObject(true), name).to.deep.equal(ethers.args.toObject(true));
      expect([...parsed.args], name).to.deep.equal([...ethers.args]);
    }
    expect(FastAbi.of(engine).parseLog({ topics: ["0x" + "12".repeat(32)], data: "0x" })).to.equal(null);
  });
});
