/**
 * TxSender against a real EVM (Hardhat's EDR over JSON-RPC HTTP): the node, not a fake, decides
 * whether a replacement outbids, whether a nonce is fresh and what a revert carries.
 */
import { expect } from "chai";
import { Interface, Wallet, id } from "ethers";
import type { JsonRpcProvider } from "ethers";
import { CircuitBreaker } from "../../keeper/chain/circuit";
import { TxSender } from "../../keeper/chain/sender";
import type { SendOutcome, TxSenderOptions } from "../../keeper/chain/sender";
import { createSilentLogger } from "../../keeper/log";
import { FUNDED_KEYS, startEvm } from "./evm";
import type { Evm } from "./evm";

const GAS_BUMP_BLOCKS = 2;
const RECIPIENT = "0x000000000000000000000000000000000000dEaD";
const ERRORS = new Interface(["error Taken()"]);

/**
 * Creation code of a contract whose every call reverts with Taken():
 * runtime  PUSH4 selector, PUSH1 0xe0, SHL, PUSH1 0, MSTORE, PUSH1 4, PUSH1 0, REVERT
 * init     PUSH1 size, DUP1, PUSH1 11, PUSH1 0, CODECOPY, PUSH1 0, RETURN, then the runtime
 */
function alwaysTakenCreationCode(): string {
  const runtime = `63${id("Taken()").slice(2, 10)}60e01b60005260046000fd`;
  const size = (runtime.length / 2).toString(16).padStart(2, "0");
  return `0x60${size}80600b6000396000f3${runtime}`;
}

function kind<K extends SendOutcome["kind"]>(outcome: SendOutcome, expected: K): Extract<SendOutcome, { kind: K }> {
  expect(outcome.kind, outcome.kind === "notSent" ? String(outcome.error) : outcome.kind).to.equal(expected);
  return outcome as Extract<SendOutcome, { kind: K }>;
}

describe("TxSender on a real EVM", function () {
  this.timeout(30_000);
  let evm: Evm;
  let provider: JsonRpcProvider;
  let wallet: Wallet;

  const sender = (overrides: Partial<TxSenderOptions> = {}) =>
    new TxSender({
      chain: provider,
      signer: wallet,
      chainId: 31337n,
      circuit: new CircuitBreaker({ failureThreshold: 3, cooldownMs: 0 }),
      log: createSilentLogger(),
      gasBumpBlocks: GAS_BUMP_BLOCKS,
      dryRun: false,
      lostRaceErrors: ["Taken"],
      errors: ERRORS,
      pollMs: 1,
      retry: { retries: 2, baseMs: 1, maxMs: 5 },
      ...overrides,
    });

  beforeEach(async () => {
    evm = await startEvm();
    provider = evm.provider();
    wallet = new Wallet(FUNDED_KEYS[0], provider);
  });

  afterEach(() => evm.close());

  it("sends consecutive transactions with locally counted nonces", async () => {
    const txSender = sender();
    for (let i = 0; i < 3; i++) {
      const mined = kind(await txSender.send({ to: RECIPIENT, data: "0x" }), "mined");
      expect(mined.receipt.status).to.equal(1);
    }
    expect(await provider.getTransactionCount(wallet.address, "latest")).to.equal(3);
  });

  it("reports the node's revert as a lost race, decoded from its custom error", async () => {
    const deployment = await (await wallet.sendTransaction({ data: alwaysTakenCreationCode() })).wait();
    const contract = deployment?.contractAddress ?? "";
    const outcome = kind(await sender().send({ to: contract, data: "0x" }), "lostRace");
    expect(outcome.errorName).to.equal("Taken");
  });

  it("gets a stuck transaction mined by replacing it, which the node accepts", async () => {
    await evm.rpc("evm_setAutomine", [false]);
    const baseFee = 10n ** 9n;
    let polls = 0;
    const txSender = sender({
      // Each poll mines a block; for the first blocks the base fee is out of our transaction's reach.
      sleep: async () => {
        polls += 1;
        if (polls <= GAS_BUMP_BLOCKS)
          await evm.rpc("hardhat_setNextBlockBaseFeePerGas", [`0x${(100n * baseFee).toString(16)}`]);
        await evm.rpc("evm_mine");
      },
    });
    const outcome = kind(await txSender.send({ to: RECIPIENT, data: "0x" }), "mined");
    expect(outcome.bumps).to.be.greaterThan(0);
    const mined = await provider.getTransaction(outcome.hash);
    expect(mined?.nonce).to.equal(0);
    expect((mined?.maxFeePerGas ?? 0n) > 100n * baseFee, "the replacement follows the network's new fee").to.equal(
      true,
    );
    expect(await provider.getTransactionCount(wallet.address, "latest")).to.equal(1);
  });

  it("rides out an RPC outage while watching, then finds the receipt", async () => {
    await evm.rpc("evm_setAutomine", [false]);
    let polls = 0;
    const txSender = sender({
      circuit: new CircuitBreaker({ failureThreshold: 2, cooldownMs: 0 }),
      sleep: async () => {
        polls += 1;
        if (polls === 1) evm.setDown(true);
        if (polls === 5) {
          await evm.rpc("evm_mine");
          evm.setDown(false);
        }
      },
    });
    const outcome = kind(await txSender.send({ to: RECIPIENT, data: "0x" }), "mined");
    expect(outcome.receipt.blockNumber).to.equal(1);
    expect(polls).to.be.greaterThanOrEqual(5);
  });

  it("recovers its nonce after another process sent with the same key", async () => {
    const txSender = sender();
    kind(await txSender.send({ to: RECIPIENT, data: "0x" }), "mined");
    const elsewhere = new Wallet(FUNDED_KEYS[0], evm.provider());
    await (await elsewhere.sendTransaction({ to: RECIPIENT, nonce: 1 })).wait();
    const outcome = kind(await txSender.send({ to: RECIPIENT, data: "0x" }), "mined");
    expect((await provider.getTransaction(outcome.hash))?.nonce).to.equal(2);
  });
});
