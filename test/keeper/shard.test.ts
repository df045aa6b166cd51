import { expect } from "chai";
import { fundsProblem, batchGas } from "../../keeper/app";
import { ownsPosition, takeoverSplit } from "../../keeper/shard";

describe("keeper shards", () => {
  const shard = { index: 1, count: 3 };

  it("owns the ids that are its index modulo the count, and every id when unsharded", () => {
    expect([3n, 4n, 5n, 7n].map((id) => ownsPosition(id, shard))).to.deep.equal([false, true, false, true]);
    expect(ownsPosition(5n, { index: 0, count: 1 })).to.equal(true);
  });

  it("takes another shard's position only once it has stayed liquidatable for takeoverBlocks blocks", () => {
    const since = new Map<bigint, number>();
    // 4 is this shard's; 3 and 5 are others', first seen at block 100.
    expect(takeoverSplit([3n, 4n, 5n], shard, since, 100, 2)).to.deep.equal({
      own: [4n],
      takeover: [],
      waiting: [3n, 5n],
    });
    expect(takeoverSplit([3n, 5n], shard, since, 101, 2)).to.deep.equal({ own: [], takeover: [], waiting: [3n, 5n] });
    // Block 102: two blocks after it was first seen; 6 is new and waits its own two blocks.
    expect(takeoverSplit([3n, 5n, 6n], shard, since, 102, 2)).to.deep.equal({
      own: [],
      takeover: [3n, 5n],
      waiting: [6n],
    });
    expect(since.get(6n)).to.equal(102);
  });
});

describe("keeper signer funds", () => {
  const address = "0x00000000000000000000000000000000000000aa";

  it("says a signer cannot pay when its balance is below one batch's gas budget at 1.5 x the quoted fee", () => {
    const fee = 2_000_000_000n; // 2 gwei
    // One batch of 50: 400,000 + 50 x 100,000 = 5,400,000 gas; at 3 gwei (1.5 x 2) that is 0.0162 ETH.
    expect(batchGas(50)).to.equal(5_400_000n);
    const cost = (5_400_000n * fee * 3n) / 2n;
    expect(fundsProblem(address, cost, 50, fee)).to.equal(undefined);
    expect(fundsProblem(address, cost - 1n, 50, fee)).to.equal(
      `signer ${address} has 0.016199999999999999 ETH, less than one liquidateMany(50) batch ` +
        "(0.0162 ETH at 2000000000 wei/gas): fund it or use another --private-key",
    );
  });
});
