/**
 * The indexer without a chain: a provider that serves block headers of a hash chain and logs, to show
 * the bounded log ranges (halved while the node refuses) and the undo of a reorged block's events.
 */
import { expect } from "chai";
import { toBeHex } from "ethers";
import type { Log, Provider } from "ethers";
import { OrderList, PositionBook } from "../../keeper/book";
import type { KeeperState } from "../../keeper/book";
import { ChainResetError, DEFAULT_LOG_PAGE, EventIndexer } from "../../keeper/indexer";
import type { RangeRefusal } from "../../keeper/indexer";
import { PerpEngine__factory } from "../../typechain-types";

const ENGINE = "0x00000000000000000000000000000000000000e1";
const engine = PerpEngine__factory.connect(ENGINE);
const ALICE = "0x00000000000000000000000000000000000000a1";

/** Blocks 0..head whose hashes name their branch, and PositionUpdated logs placed in them. */
class FakeChain {
  head = 0;
  /** From this block on, blocks belong to branch `branch`. */
  forkAt = Infinity;
  branch = "a";
  logs: Log[] = [];
  ranges: [number, number][] = [];
  maxRange = Infinity;

  hashOf(n: number): string {
    return toBeHex(BigInt(n) * 1000n + (n >= this.forkAt ? BigInt(this.branch.charCodeAt(0)) : 0n), 32);
  }

  positionLog(block: number, id: bigint, size: bigint): void {
    const fragment = engine.interface.getEvent("PositionUpdated");
    const encoded = engine.interface.encodeEventLog(fragment, [id, ALICE, 1n, size, 10n ** 18n, 10n ** 20n, 0n]);
    this.logs.push({
      address: ENGINE,
      blockNumber: block,
      blockHash: this.hashOf(block),
      topics: encoded.topics,
      data: encoded.data,
      removed: false,
    } as unknown as Log);
  }

  provider(): Provider {
    return {
      getBlock: async (tag: number | "latest") => {
        const n = tag === "latest" ? this.head : tag;
        if (n > this.head) return null;
        return { number: n, hash: this.hashOf(n), parentHash: n === 0 ? toBeHex(0n, 32) : this.hashOf(n - 1) };
      },
      getLogs: async ({ fromBlock, toBlock }: { fromBlock: number; toBlock: number }) => {
        if (toBlock - fromBlock + 1 > this.maxRange) {
          throw Object.assign(new Error("query exceeds max block range"), { code: "UNKNOWN_ERROR" });
        }
        this.ranges.push([fromBlock, toBlock]);
        return this.logs
          .filter(
            (l) => l.blockNumber >= fromBlock && l.blockNumber <= toBlock && l.blockHash === this.hashOf(l.blockNumber),
          )
          .map((l) => l);
      },
    } as unknown as Provider;
  }
}

function newState(): KeeperState {
  return { positions: new PositionBook(), orders: new OrderList(), markets: new Set([1n]) };
}

describe("keeper event indexer", () => {
  it("reads in pages of 2,000 blocks, halves a page the node refuses until it is accepted, and skips no block", async () => {
    const chain = new FakeChain();
    chain.head = 5_000;
    chain.maxRange = 300;
    chain.positionLog(4_321, 7n, 10n ** 18n);
    const refusals: RangeRefusal[] = [];
    const indexer = new EventIndexer({ engine }, chain.provider(), 0, { onRangeRefused: (r) => refusals.push(r) });
    const state = newState();
    await indexer.syncTo(chain.head, state);

    expect(DEFAULT_LOG_PAGE).to.equal(2_000);
    // 2,000 -> 1,000 -> 500 -> 250: three refusals, then pages of 250 blocks.
    expect(refusals.map((r) => r.nextPageSize)).to.deep.equal([1_000, 500, 250]);
    expect(chain.ranges[0]).to.deep.equal([0, 249]);
    chain.ranges.forEach(([from], i) => expect(from).to.equal(i === 0 ? 0 : chain.ranges[i - 1][1] + 1));
    expect(chain.ranges.at(-1)![1]).to.equal(5_000);
    expect(state.positions.get(7n)?.size).to.equal(10n ** 18n);
  });

  it("undoes the events of blocks a reorg replaced, back to the fork point, and applies the new branch", async () => {
    const chain = new FakeChain();
    const state = newState();
    const indexer = new EventIndexer({ engine }, chain.provider(), 0);
    chain.head = 10;
    chain.positionLog(5, 1n, 10n ** 18n); // survives
    chain.positionLog(9, 1n, 2n * 10n ** 18n); // the old branch grows position 1 ...
    chain.positionLog(10, 2n, 10n ** 18n); // ... and opens position 2
    await indexer.syncTo(chain.head, state);
    expect(state.positions.get(1n)?.size).to.equal(2n * 10n ** 18n);
    expect(state.positions.get(2n)).to.not.equal(undefined);

    // Blocks 9 and 10 replaced by branch b, which closes position 1 in block 10.
    chain.forkAt = 9;
    chain.branch = "b";
    chain.positionLog(10, 1n, 0n);
    state.positions.takeChanged();
    const report = await indexer.syncTo(chain.head, state);

    // The indexer remembers the blocks it applied events in and each sync's last block (5, 9, 10): block 5
    // is the newest it remembers that both branches share, so it undoes from there (blocks 6-8 had nothing).
    expect(report.reorg).to.deep.equal({ forkBlock: 5, depth: 5, eventsUndone: 2 });
    expect(state.positions.get(2n), "only on the old branch").to.equal(undefined);
    expect(state.positions.get(1n), "closed on the new branch").to.equal(undefined);
    expect(new Set(state.positions.takeChanged())).to.deep.equal(new Set([1n, 2n]));
  });

  it("throws ChainResetError when the deployment block itself has another hash", async () => {
    const chain = new FakeChain();
    chain.head = 20;
    const indexer = new EventIndexer({ engine }, chain.provider(), 3);
    await indexer.syncTo(chain.head, newState());
    chain.forkAt = 0;
    chain.branch = "z";
    let error: unknown;
    try {
      await indexer.syncTo(chain.head, newState());
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(ChainResetError);
    expect((error as Error).message).to.match(/^chain reset: block 3 \(the deployment block\) is now 0x/);
  });
});
