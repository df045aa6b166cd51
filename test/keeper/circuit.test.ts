import { expect } from "chai";
import { CircuitBreaker, CircuitOpenError } from "../../keeper/chain/circuit";
import type { CircuitState } from "../../keeper/chain/circuit";

const refused = () => Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
const COOLDOWN_MS = 5_000;

function setup(failureThreshold = 3) {
  let nowMs = 1_000_000;
  const changes: [CircuitState, CircuitState][] = [];
  const circuit = new CircuitBreaker({
    failureThreshold,
    cooldownMs: COOLDOWN_MS,
    now: () => nowMs,
    onStateChange: (from, to) => void changes.push([from, to]),
  });
  const fail = () => circuit.run(async () => Promise.reject(refused())).catch((error: unknown) => error);
  const succeed = () => circuit.run(async () => "answer");
  return { circuit, changes, fail, succeed, advance: (ms: number) => (nowMs += ms) };
}

describe("circuit breaker", () => {
  it("stays closed below the threshold of consecutive transport failures", async () => {
    const { circuit, fail, succeed } = setup(3);
    await fail();
    await fail();
    expect(circuit.state).to.equal("closed");
    expect(await succeed()).to.equal("answer");
    await fail();
    await fail();
    expect(circuit.state, "a success resets the count").to.equal("closed");
  });

  it("opens after N consecutive failures and then refuses calls without making them", async () => {
    const { circuit, fail, changes } = setup(3);
    for (let i = 0; i < 3; i++) expect(await fail()).to.have.property("code", "ECONNREFUSED");
    expect(circuit.state).to.equal("open");
    expect(changes).to.deep.equal([["closed", "open"]]);
    let called = false;
    const refusal = await circuit.run(async () => (called = true)).catch((error: unknown) => error);
    expect(called).to.equal(false);
    expect(refusal).to.be.instanceOf(CircuitOpenError);
  });

  it("says when the next probe is allowed", async () => {
    const { circuit, fail, advance } = setup(1);
    await fail();
    advance(1_000);
    const refusal = (await circuit.run(async () => 1).catch((error: unknown) => error)) as CircuitOpenError;
    expect(refusal.retryAtMs).to.equal(1_000_000 + COOLDOWN_MS);
  });

  it("lets one probe through after the cool-down and closes when it succeeds", async () => {
    const { circuit, fail, succeed, advance, changes } = setup(2);
    await fail();
    await fail();
    advance(COOLDOWN_MS - 1);
    expect(circuit.state).to.equal("open");
    advance(1);
    expect(circuit.state).to.equal("half-open");
    expect(await succeed()).to.equal("answer");
    expect(circuit.state).to.equal("closed");
    expect(changes).to.deep.equal([
      ["closed", "open"],
      ["open", "half-open"],
      ["half-open", "closed"],
    ]);
  });

  it("reopens for a full cool-down when the probe fails", async () => {
    const { circuit, fail, advance } = setup(3);
    for (let i = 0; i < 3; i++) await fail();
    advance(COOLDOWN_MS);
    await fail();
    expect(circuit.state).to.equal("open");
    advance(COOLDOWN_MS - 1);
    expect(circuit.state).to.equal("open");
    advance(1);
    expect(circuit.state).to.equal("half-open");
  });

  it("allows a single probe at a time while half-open", async () => {
    const { circuit, fail, advance } = setup(1);
    await fail();
    advance(COOLDOWN_MS);
    let release: () => void = () => undefined;
    const probe = circuit.run(() => new Promise<string>((resolve) => (release = () => resolve("probe"))));
    const second = await circuit.run(async () => "second").catch((error: unknown) => error);
    expect(second).to.be.instanceOf(CircuitOpenError);
    release();
    expect(await probe).to.equal("probe");
    expect(await circuit.run(async () => "after")).to.equal("after");
  });

  it("counts a revert as proof that the RPC is up", async () => {
    const { circuit, fail, advance } = setup(2);
    await fail();
    const revert = Object.assign(new Error("execution reverted"), { code: "CALL_EXCEPTION" });
    expect(await circuit.run(async () => Promise.reject(revert)).catch((error: unknown) => error)).to.equal(revert);
    await fail();
    expect(circuit.state, "the revert broke the run of failures").to.equal("closed");
    await fail();
    advance(COOLDOWN_MS);
    await circuit.run(async () => Promise.reject(revert)).catch(() => undefined);
    expect(circuit.state, "a reverted probe closes the circuit").to.equal("closed");
  });

  it("refuses a threshold below 1", () => {
    expect(() => new CircuitBreaker({ failureThreshold: 0, cooldownMs: 1 })).to.throw(RangeError);
  });
});
