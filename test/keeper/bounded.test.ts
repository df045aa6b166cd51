import { expect } from "chai";
import { bounded } from "../../lib/bounded";

describe("bounded waits on automined receipts (lib/bounded)", () => {
  it("fails with one line naming what it waited for once the time is up", async () => {
    const never = new Promise<never>(() => undefined);
    const error = await bounded({ what: "the deployment", timeoutMs: 30 }, () => never).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).to.equal("the deployment did not finish within 30 ms");
  });

  it("mines a pool that still holds a pending transaction at the second look, and then the work ends", async () => {
    const calls: string[] = [];
    let mined!: () => void;
    const receipt = new Promise<string>((resolve) => (mined = () => resolve("receipt")));
    const nudge = async (method: string) => {
      calls.push(method);
      if (method === "evm_mine") mined();
      return method === "txpool_status" ? { pending: "0x1", queued: "0x0" } : "0x0";
    };
    const result = await bounded({ what: "a receipt", timeoutMs: 2_000, nudge, nudgeMs: 10 }, () => receipt);
    expect(result).to.equal("receipt");
    expect(calls.slice(0, 3)).to.deep.equal(["txpool_status", "txpool_status", "evm_mine"]);
  });

  it("leaves an empty pool alone", async () => {
    const calls: string[] = [];
    const nudge = async (method: string) => {
      calls.push(method);
      return { pending: "0x0", queued: "0x0" };
    };
    const work = new Promise((resolve) => setTimeout(() => resolve("done"), 60));
    expect(await bounded({ what: "a receipt", timeoutMs: 2_000, nudge, nudgeMs: 10 }, () => work)).to.equal("done");
    expect(calls.length).to.be.greaterThan(1);
    expect(calls).to.not.include("evm_mine");
  });
});
