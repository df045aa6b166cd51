import { expect } from "chai";
import { makeError } from "ethers";
import { backoffDelay, withRetry } from "../../keeper/chain/retry";
import type { RetryOptions } from "../../keeper/chain/retry";

const refused = () => Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });

/** Options whose sleeps are recorded instead of waited, with a fixed draw of the dice. */
function instant(overrides: Partial<RetryOptions> = {}) {
  const sleeps: number[] = [];
  const options: RetryOptions = {
    retries: 5,
    baseMs: 100,
    maxMs: 1_000,
    random: () => 0.5,
    sleep: async (ms) => void sleeps.push(ms),
    ...overrides,
  };
  return { options, sleeps };
}

/** A function that fails with each of `failures` in turn, then returns "ok". */
function flaky(failures: unknown[]) {
  let calls = 0;
  const fn = async (attempt: number) => {
    expect(attempt).to.equal(calls);
    calls += 1;
    if (calls <= failures.length) throw failures[calls - 1];
    return "ok";
  };
  return { fn, calls: () => calls };
}

describe("withRetry", () => {
  it("returns at once when the first attempt succeeds", async () => {
    const { options, sleeps } = instant();
    const { fn, calls } = flaky([]);
    expect(await withRetry(fn, options)).to.equal("ok");
    expect(calls()).to.equal(1);
    expect(sleeps).to.deep.equal([]);
  });

  it("retries transport faults with exponentially growing, capped waits", async () => {
    const { options, sleeps } = instant({ jitter: false });
    const { fn, calls } = flaky([refused(), refused(), refused(), refused(), refused()]);
    expect(await withRetry(fn, options)).to.equal("ok");
    expect(calls()).to.equal(6);
    // 100 * 2^n capped at 1000
    expect(sleeps).to.deep.equal([100, 200, 400, 800, 1_000]);
  });

  it("draws each wait uniformly up to the cap (full jitter)", async () => {
    const draws = [0, 0.999999, 0.5];
    const { options, sleeps } = instant({ random: () => draws.shift() ?? 0 });
    await withRetry(flaky([refused(), refused(), refused()]).fn, options);
    // caps 100, 200, 400: floor(0 * 101), floor(0.999999 * 201), floor(0.5 * 401)
    expect(sleeps).to.deep.equal([0, 200, 200]);
  });

  it("gives up after `retries` retries and throws the last error", async () => {
    const { options } = instant({ retries: 2 });
    const errors = [refused(), refused(), refused(), refused()];
    const { fn, calls } = flaky(errors);
    let thrown: unknown;
    await withRetry(fn, options).catch((error: unknown) => (thrown = error));
    expect(thrown).to.equal(errors[2]);
    expect(calls()).to.equal(3);
  });

  it("never retries a contract revert", async () => {
    const { options, sleeps } = instant();
    const revert = makeError("execution reverted", "CALL_EXCEPTION", {
      action: "call",
      data: "0x",
      reason: null,
      transaction: { to: null, data: "0x" },
      invocation: null,
      revert: null,
    });
    const { fn, calls } = flaky([revert]);
    let thrown: unknown;
    await withRetry(fn, options).catch((error: unknown) => (thrown = error));
    expect(thrown).to.equal(revert);
    expect(calls()).to.equal(1);
    expect(sleeps).to.deep.equal([]);
  });

  it("asks isRetryable when given, and tells onRetry about each retry", async () => {
    const seen: [string, number, number][] = [];
    const { options } = instant({
      jitter: false,
      isRetryable: (error) => (error as Error).message === "busy",
      onRetry: (error, attempt, delayMs) => void seen.push([(error as Error).message, attempt, delayMs]),
    });
    expect(await withRetry(flaky([new Error("busy"), new Error("busy")]).fn, options)).to.equal("ok");
    expect(seen).to.deep.equal([
      ["busy", 0, 100],
      ["busy", 1, 200],
    ]);
  });

  it("stops retrying once its signal is aborted", async () => {
    const controller = new AbortController();
    const { options } = instant({ signal: controller.signal, sleep: async () => controller.abort() });
    const { fn, calls } = flaky([refused(), refused(), refused()]);
    let thrown: unknown;
    await withRetry(fn, options).catch((error: unknown) => (thrown = error));
    expect(calls()).to.equal(2);
    expect((thrown as { code?: string }).code).to.equal("ECONNREFUSED");
  });

  it("waits for real with the default sleep, and an abort cuts the wait short", async () => {
    const controller = new AbortController();
    const started = Date.now();
    const pending = withRetry(flaky([refused(), refused()]).fn, {
      retries: 3,
      baseMs: 60_000,
      maxMs: 60_000,
      jitter: false,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 20);
    let thrown: unknown;
    await pending.catch((error: unknown) => (thrown = error));
    expect((thrown as Error).name).to.equal("AbortError");
    expect(Date.now() - started).to.be.lessThan(30_000);
  });
});

describe("backoffDelay", () => {
  it("is the capped exponential without jitter and never exceeds it with jitter", () => {
    const options = { baseMs: 250, maxMs: 4_000 };
    expect([0, 1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, { ...options, jitter: false }))).to.deep.equal([
      250, 500, 1_000, 2_000, 4_000, 4_000, 4_000,
    ]);
    for (let n = 0; n < 8; n++) {
      const top = backoffDelay(n, { ...options, random: () => 0.9999999 });
      expect(top).to.equal(Math.min(4_000, 250 * 2 ** n));
      expect(backoffDelay(n, { ...options, random: () => 0 })).to.equal(0);
    }
  });
});
