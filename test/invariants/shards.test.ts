import { expect } from "chai";
import { planShards, readShard } from "../../scripts/fuzz-shards";

describe("the fuzz split over processes (scripts/fuzz-shards.ts)", () => {
  it("splits the sequences as evenly as whole sequences allow, with consecutive seeds", () => {
    const shards = planShards(5001, 2, 100, "/tmp/l");
    expect(shards.map((s) => [s.runs, s.seed])).to.deep.equal([
      [2501, 100],
      [2500, 101],
    ]);
    expect(planShards(1, 4, 7, "/tmp/l").map((s) => s.runs)).to.deep.equal([1]);
  });

  it("reads a shard's counts from its summary line, and the replay line of a failure", () => {
    const log =
      "      200 sequences (4156 commands, 4121 transactions) in 254.8 s; 121 liquidations (66 by keeper passes), 124 bad debts, 26 ADL; " +
      "per exchange: USD 2000 commands 70 liquidations, BTC 1000 commands 21 liquidations, ALT 990 commands 30 liquidations\n" +
      "replay: FUZZ_SEED=5 FUZZ_PATH=3:1 npx hardhat test test/invariants/stateful.test.ts\n";
    const { counts, exchanges, replay } = readShard(log);
    expect(counts).to.deep.equal({
      sequences: 200,
      commands: 4156,
      transactions: 4121,
      seconds: 254.8,
      liquidations: 121,
      keeper: 66,
      badDebts: 124,
      adl: 26,
    });
    expect(exchanges).to.deep.equal({
      USD: { commands: 2000, liquidations: 70 },
      BTC: { commands: 1000, liquidations: 21 },
      ALT: { commands: 990, liquidations: 30 },
    });
    expect(replay).to.equal("FUZZ_SEED=5 FUZZ_PATH=3:1 npx hardhat test test/invariants/stateful.test.ts");
    expect(readShard("no summary")).to.deep.equal({ counts: undefined, exchanges: undefined, replay: undefined });
  });
});
