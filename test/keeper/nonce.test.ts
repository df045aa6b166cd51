import { expect } from "chai";
import type { BlockTag } from "ethers";
import { NonceManager } from "../../keeper/chain/nonce";

/** A nonce source whose chain count the test sets, recording every read. */
function chain(count: number) {
  const reads: (BlockTag | undefined)[] = [];
  const source = {
    count,
    getNonce: async (blockTag?: BlockTag) => {
      reads.push(blockTag);
      return source.count;
    },
  };
  return { source, reads };
}

describe("nonce manager", () => {
  it("reads 'pending' once, then hands out consecutive nonces without the chain", async () => {
    const { source, reads } = chain(7);
    const nonces = new NonceManager(source);
    expect([await nonces.next(), await nonces.next(), await nonces.next()]).to.deep.equal([7, 8, 9]);
    expect(reads).to.deep.equal(["pending"]);
  });

  it("shares one read between concurrent first callers and gives each a distinct nonce", async () => {
    const { source, reads } = chain(3);
    const nonces = new NonceManager(source);
    const handed = await Promise.all(Array.from({ length: 5 }, () => nonces.next()));
    expect([...handed].sort((a, b) => a - b)).to.deep.equal([3, 4, 5, 6, 7]);
    expect(reads).to.have.length(1);
  });

  it("reads the chain again after invalidate()", async () => {
    const { source, reads } = chain(0);
    const nonces = new NonceManager(source);
    await nonces.next();
    await nonces.next();
    source.count = 5; // e.g. another process sent with the same key
    nonces.invalidate();
    expect(await nonces.next()).to.equal(5);
    expect(await nonces.next()).to.equal(6);
    expect(reads).to.deep.equal(["pending", "pending"]);
  });

  it("lets a read started before invalidate() not overwrite the count read after it", async () => {
    let resolveStale: (n: number) => void = () => undefined;
    let calls = 0;
    const nonces = new NonceManager({
      getNonce: () => {
        calls += 1;
        return calls === 1 ? new Promise<number>((resolve) => (resolveStale = resolve)) : Promise.resolve(20);
      },
    });
    const first = nonces.next();
    nonces.invalidate();
    expect(await nonces.next()).to.equal(20);
    resolveStale(3);
    expect(await first, "the waiter of the stale read gets a fresh nonce").to.equal(21);
    expect(await nonces.next()).to.equal(22);
  });

  it("passes a failed read to every waiter and tries again on the next call", async () => {
    let fail = true;
    const nonces = new NonceManager({
      getNonce: async () => {
        if (fail) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        return 11;
      },
    });
    const results = await Promise.allSettled([nonces.next(), nonces.next()]);
    expect(results.map((result) => result.status)).to.deep.equal(["rejected", "rejected"]);
    fail = false;
    expect(await nonces.next()).to.equal(11);
  });
});
