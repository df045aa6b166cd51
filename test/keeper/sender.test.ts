import { expect } from "chai";
import { AbiCoder, FeeData, Interface, Transaction } from "ethers";
import type { TransactionRequest } from "ethers";
import { CircuitBreaker } from "../../keeper/chain/circuit";
import { TxSender } from "../../keeper/chain/sender";
import type { SendOutcome, TxSenderOptions } from "../../keeper/chain/sender";
import { createMemoryLogger } from "../../keeper/log";
import { CHAIN_ID, ESTIMATE, FakeChain, GWEI, TARGET, transportError } from "./fake-chain";

const ENGINE_ERRORS = new Interface([
  "error PositionHealthy(uint256 id)",
  "error PositionNotFound(uint256 id)",
  "error MarketPaused(uint256 marketId)",
]);
const LOST_RACE = ["PositionHealthy", "PositionNotFound"];
const CALLDATA = "0x12345678";
const GAS_BUMP_BLOCKS = 3;

const revertWith = (name: string, id: bigint) =>
  AbiCoder.getBuiltinCallException(
    "estimateGas",
    { to: TARGET, data: CALLDATA },
    ENGINE_ERRORS.encodeErrorResult(name, [id]),
  );

/**
 * A sender on a fake chain. Its sleep is the chain's clock: each poll runs `onPoll` (by default
 * nothing), so a test decides what the chain does between two looks.
 */
function setup(overrides: Partial<TxSenderOptions> = {}) {
  const chain = new FakeChain();
  const memory = createMemoryLogger();
  let nowMs = 0;
  const circuit = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1_000, now: () => nowMs });
  const rpcErrors: unknown[] = [];
  const retrySleeps: number[] = [];
  const polls = { count: 0, onPoll: (): void => undefined };
  const sender = new TxSender({
    chain,
    signer: chain.signer,
    chainId: CHAIN_ID,
    circuit,
    log: memory.log,
    gasBumpBlocks: GAS_BUMP_BLOCKS,
    dryRun: false,
    lostRaceErrors: LOST_RACE,
    errors: ENGINE_ERRORS,
    pollMs: 500,
    retry: { retries: 3, baseMs: 100, maxMs: 1_000, jitter: false, sleep: async (ms) => void retrySleeps.push(ms) },
    sleep: async (ms) => {
      nowMs += ms;
      polls.count += 1;
      polls.onPoll();
    },
    onRpcError: (error) => void rpcErrors.push(error),
    now: () => nowMs,
    ...overrides,
  });
  const send = (label = "liquidateMany(1)") => sender.send({ to: TARGET, data: CALLDATA, label });
  return {
    chain,
    sender,
    send,
    memory,
    circuit,
    rpcErrors,
    retrySleeps,
    polls,
    advanceMs: (ms: number) => (nowMs += ms),
  };
}

function expectKind<K extends SendOutcome["kind"]>(outcome: SendOutcome, kind: K): Extract<SendOutcome, { kind: K }> {
  expect(
    outcome.kind,
    JSON.stringify(outcome, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v)),
  ).to.equal(kind);
  return outcome as Extract<SendOutcome, { kind: K }>;
}

describe("TxSender", () => {
  describe("sending", () => {
    it("reads the nonce once, then sends consecutive nonces and returns each receipt", async () => {
      const { chain, send } = setup();
      const first = expectKind(await send(), "mined");
      const second = expectKind(await send(), "mined");
      expect(chain.accepted.map(({ tx }) => tx.nonce)).to.deep.equal([0, 1]);
      expect(chain.calls.getNonce).to.equal(1);
      expect(first.hash).to.equal(chain.accepted[0].tx.hash);
      expect(second.receipt.status).to.equal(1);
      expect(first.bumps).to.equal(0);
    });

    it("prices the transactions of one round with one fee quote, with consecutive nonces, and quotes again once it is feeQuoteMs old", async () => {
      const { chain, send, advanceMs } = setup({ feeQuoteMs: 1_000 });
      const round = await Promise.all([send(), send(), send()]);
      for (const outcome of round) expectKind(outcome, "mined");
      expect(chain.calls.getFeeData).to.equal(1);
      expect(chain.accepted.map(({ tx }) => tx.nonce).sort()).to.deep.equal([0, 1, 2]);
      expect(chain.accepted.every(({ tx }) => tx.maxFeePerGas === 2n * GWEI)).to.equal(true);

      chain.feeData = new FeeData(null, 3n * GWEI, GWEI);
      advanceMs(1_000);
      await send();
      expect(chain.calls.getFeeData).to.equal(2);
      expect(chain.accepted[3].tx.maxFeePerGas).to.equal(3n * GWEI);
    });

    it("broadcasts concurrent sends in nonce order however long each takes to sign (one key, several venues)", async () => {
      const chain = new FakeChain();
      // The first nonce signs slowest: taken in order, the broadcasts would otherwise arrive 2, 1, 0.
      const signer = {
        ...chain.signer,
        signTransaction: async (tx: TransactionRequest) => {
          await new Promise((resolve) => setTimeout(resolve, 30 - 10 * Number(tx.nonce)));
          return chain.signer.signTransaction(tx);
        },
      };
      const arrived: number[] = [];
      const broadcast = chain.broadcastTransaction.bind(chain);
      chain.broadcastTransaction = async (raw: string) => {
        arrived.push(Transaction.from(raw).nonce);
        return broadcast(raw);
      };
      const { sender } = setup({ chain, signer });
      const round = await Promise.all(
        ["USD", "BTC", "ALT"].map((venue) => sender.send({ to: TARGET, data: CALLDATA, label: venue })),
      );
      for (const outcome of round) expectKind(outcome, "mined");
      expect(arrived).to.deep.equal([0, 1, 2]);
      expect(chain.calls.getNonce).to.equal(1);
    });

    it("signs an EIP-1559 transaction with the estimate plus 20% headroom, for the given chain", async () => {
      const { chain, send } = setup();
      await send();
      const [{ tx }] = chain.accepted;
      expect(tx.type).to.equal(2);
      expect(tx.chainId).to.equal(CHAIN_ID);
      expect(tx.to).to.equal(TARGET);
      expect(tx.data).to.equal(CALLDATA);
      expect(tx.gasLimit).to.equal((ESTIMATE * 120n) / 100n);
      expect(tx.maxFeePerGas).to.equal(2n * GWEI);
      expect(tx.maxPriorityFeePerGas).to.equal(GWEI);
      expect(tx.from).to.equal(chain.wallet.address);
    });

    it("uses a legacy gas price where the chain quotes no EIP-1559 fees", async () => {
      const { chain, send } = setup();
      chain.feeData = new FeeData(3n * GWEI, null, null);
      expectKind(await send(), "mined");
      expect(chain.accepted[0].tx.type).to.equal(0);
      expect(chain.accepted[0].tx.gasPrice).to.equal(3n * GWEI);
    });

    it("does not estimate when the request carries a gas limit", async () => {
      const { chain, sender } = setup();
      expectKind(await sender.send({ to: TARGET, data: CALLDATA, gasLimit: 250_000n }), "mined");
      expect(chain.calls.estimateGas).to.equal(0);
      expect(chain.accepted[0].tx.gasLimit).to.equal(250_000n);
    });
  });

  describe("replacing a transaction that is not mined", () => {
    it(`replaces it after ${GAS_BUMP_BLOCKS} blocks with the same nonce and fees 12.5% higher`, async () => {
      const { chain, send, polls } = setup();
      chain.automine = false;
      polls.onPoll = () => (chain.accepted.length < 2 ? chain.mineEmpty() : chain.mine());
      const outcome = expectKind(await send(), "mined");
      const [original, replacement] = chain.accepted;
      expect(chain.accepted).to.have.length(2);
      expect(replacement.tx.nonce).to.equal(original.tx.nonce);
      expect(replacement.block - original.block).to.equal(GAS_BUMP_BLOCKS);
      expect(replacement.tx.maxFeePerGas).to.equal((2n * GWEI * 9n) / 8n);
      expect(replacement.tx.maxPriorityFeePerGas).to.equal((GWEI * 9n) / 8n);
      expect(outcome.hash).to.equal(replacement.tx.hash);
      expect(outcome.bumps).to.equal(1);
    });

    it("still finds the original when it is mined after a replacement was refused", async () => {
      const { chain, send, polls, memory } = setup();
      chain.automine = false;
      polls.onPoll = () => {
        // Armed after the original went out: the node refuses the replacement.
        if (polls.count === 1) chain.faults.broadcastTransaction = [new Error("replacement transaction underpriced")];
        if (chain.calls.broadcastTransaction < 2) chain.mineEmpty();
        else chain.mine();
      };
      const outcome = expectKind(await send(), "mined");
      expect(chain.accepted).to.have.length(1);
      expect(outcome.hash).to.equal(chain.accepted[0].tx.hash);
      expect(outcome.bumps).to.equal(1);
      expect(memory.entries().some((entry) => entry.msg === "re-broadcast refused")).to.equal(true);
    });

    it("bumps at most maxBumps times, then re-broadcasts the last replacement", async () => {
      const { chain, send, polls } = setup({ maxBumps: 2, maxWaitBlocks: 1_000 });
      chain.automine = false;
      polls.onPoll = () => (chain.block < 100 + 6 * GAS_BUMP_BLOCKS ? chain.mineEmpty() : chain.mine());
      const outcome = expectKind(await send(), "mined");
      expect(outcome.bumps).to.equal(2);
      const fees = chain.accepted.map(({ tx }) => tx.maxFeePerGas);
      expect(fees).to.deep.equal([2n * GWEI, 2_250_000_000n, 2_531_250_000n]);
      expect(chain.calls.broadcastTransaction, "re-broadcasts after the last bump").to.be.greaterThan(3);
    });

    it("reports `dropped` when another transaction takes the nonce, and resyncs", async () => {
      const { chain, send, polls } = setup();
      chain.automine = false;
      polls.onPoll = () => (chain.block === 101 ? chain.takeNonce(0) : chain.mineEmpty());
      const dropped = expectKind(await send(), "dropped");
      expect(dropped.nonce).to.equal(0);
      expect(dropped.hashes).to.deep.equal([chain.accepted[0].tx.hash]);
      chain.automine = true;
      expectKind(await send(), "mined");
      expect(chain.accepted[chain.accepted.length - 1].tx.nonce, "the next send reads the chain again").to.equal(1);
      expect(chain.calls.getNonce).to.equal(2);
    });

    it("reports `unconfirmed` after maxWaitBlocks blocks", async () => {
      const { chain, send, polls } = setup({ maxWaitBlocks: 9 });
      chain.automine = false;
      polls.onPoll = () => chain.mineEmpty();
      const outcome = expectKind(await send(), "unconfirmed");
      expect(outcome.reason).to.equal("maxWaitBlocks");
      expect(chain.block - 100).to.be.within(9, 9 + GAS_BUMP_BLOCKS);
    });

    it("stops watching when aborted (shutdown) and says the transaction is unconfirmed", async () => {
      const controller = new AbortController();
      const { chain, send, polls } = setup({ signal: controller.signal });
      chain.automine = false;
      polls.onPoll = () => (polls.count === 2 ? controller.abort() : chain.mineEmpty());
      const outcome = expectKind(await send(), "unconfirmed");
      expect(outcome.reason).to.equal("aborted");
      expect(outcome.hashes).to.deep.equal([chain.accepted[0].tx.hash]);
    });
  });

  describe("reverts", () => {
    it("reports a lost race found by the gas estimate, and sends nothing", async () => {
      const { chain, send } = setup();
      chain.revert = revertWith("PositionNotFound", 7n);
      const outcome = expectKind(await send(), "lostRace");
      expect(outcome).to.deep.include({ errorName: "PositionNotFound", reason: "PositionNotFound(7)" });
      expect(outcome.receipt).to.equal(undefined);
      expect(chain.calls.broadcastTransaction).to.equal(0);
    });

    it("reports any other custom error as reverted, with its name and arguments", async () => {
      const { chain, send } = setup();
      chain.revert = revertWith("MarketPaused", 2n);
      const outcome = expectKind(await send(), "reverted");
      expect(outcome).to.deep.include({ errorName: "MarketPaused", reason: "MarketPaused(2)" });
    });

    it("replays a transaction mined with status 0 at its block to learn why it reverted", async () => {
      const { chain, send } = setup();
      const original = chain.broadcastTransaction.bind(chain);
      chain.broadcastTransaction = async (raw: string) => {
        chain.revertOnMine.add(Transaction.from(raw).hash ?? "");
        // Between our estimate and our transaction, another keeper liquidated the position.
        chain.revert = revertWith("PositionHealthy", 3n);
        return original(raw);
      };
      const outcome = expectKind(await send(), "lostRace");
      expect(outcome.errorName).to.equal("PositionHealthy");
      expect(outcome.receipt?.status).to.equal(0);
      expect(chain.callBlockTags).to.deep.equal([outcome.receipt?.blockNumber]);
    });

    it("says so when the replay of a failed transaction gives no reason", async () => {
      const { chain, send } = setup();
      const original = chain.broadcastTransaction.bind(chain);
      chain.broadcastTransaction = async (raw: string) => {
        chain.revertOnMine.add(Transaction.from(raw).hash ?? "");
        return original(raw);
      };
      const outcome = expectKind(await send(), "reverted");
      expect(outcome.reason).to.contain("gave no reason");
      expect(outcome.receipt?.status).to.equal(0);
    });
  });

  describe("dry run", () => {
    it("estimates and returns the transaction it would send, but never signs or broadcasts", async () => {
      const { chain, send } = setup({ dryRun: true });
      const outcome = expectKind(await send(), "dryRun");
      expect(outcome.tx).to.deep.include({
        to: TARGET,
        data: CALLDATA,
        gasLimit: (ESTIMATE * 120n) / 100n,
        maxFeePerGas: 2n * GWEI,
      });
      expect(chain.calls.broadcastTransaction).to.equal(0);
      expect(chain.calls.getNonce).to.equal(0);
    });

    it("still reports a revert found by the estimate", async () => {
      const { chain, send } = setup({ dryRun: true });
      chain.revert = revertWith("PositionHealthy", 1n);
      expectKind(await send(), "lostRace");
    });
  });

  describe("RPC faults", () => {
    it("retries a broadcast that failed in transport with the same signed bytes", async () => {
      const { chain, send, rpcErrors, retrySleeps } = setup();
      chain.faults.broadcastTransaction = [transportError(), transportError()];
      const outcome = expectKind(await send(), "mined");
      expect(chain.calls.broadcastTransaction).to.equal(3);
      expect(chain.accepted).to.have.length(1);
      expect(outcome.hash).to.equal(chain.accepted[0].tx.hash);
      expect(rpcErrors).to.have.length(2);
      expect(retrySleeps).to.deep.equal([100, 200]);
    });

    it("does not send twice when a broadcast landed but its answer was lost", async () => {
      const { chain, send } = setup();
      chain.lostAnswers = 1; // accepted and mined at once, then the connection drops
      const outcome = expectKind(await send(), "mined");
      expect(chain.accepted).to.have.length(1);
      expect(chain.calls.broadcastTransaction, "the retry met 'nonce too low' and took it as sent").to.equal(2);
      expect(outcome.hash).to.equal(chain.accepted[0].tx.hash);
    });

    it("takes 'already known' on a retry as sent", async () => {
      const { chain, send, polls } = setup();
      chain.automine = false;
      chain.lostAnswers = 1;
      polls.onPoll = () => chain.mine();
      expectKind(await send(), "mined");
      expect(chain.accepted).to.have.length(1);
    });

    it("resyncs the nonce and sends again when the node says the nonce is too low", async () => {
      const { chain, send, memory } = setup();
      expectKind(await send(), "mined");
      chain.takeNonce(1); // another process used nonce 1; our local count still says 1
      const outcome = expectKind(await send(), "mined");
      expect(chain.accepted.map(({ tx }) => tx.nonce)).to.deep.equal([0, 2]);
      expect(outcome.hash).to.equal(chain.accepted[1].tx.hash);
      expect(chain.calls.getNonce).to.equal(2);
      expect(memory.entries().some((entry) => entry.msg === "nonce refused; resyncing from the chain")).to.equal(true);
    });

    it("gives the nonce back when the node rejects a transaction for another reason", async () => {
      const { chain, send } = setup();
      chain.faults.broadcastTransaction = [new Error("insufficient funds for gas * price + value")];
      const rejected = expectKind(await send(), "notSent");
      expect(rejected.reason).to.equal("rejected");
      expectKind(await send(), "mined");
      expect(
        chain.accepted.map(({ tx }) => tx.nonce),
        "nonce 0 is reused, leaving no gap",
      ).to.deep.equal([0]);
    });

    it("reports rpcError when the retries run out, and sends nothing", async () => {
      const { chain, send } = setup({ circuit: new CircuitBreaker({ failureThreshold: 100, cooldownMs: 1 }) });
      chain.faults.estimateGas = Array.from({ length: 4 }, transportError);
      const outcome = expectKind(await send(), "notSent");
      expect(outcome.reason).to.equal("rpcError");
      expect(chain.calls.estimateGas).to.equal(4);
      expect(chain.calls.broadcastTransaction).to.equal(0);
    });

    it("sends nothing while the circuit is open, and sends again once a probe succeeds", async () => {
      const { chain, send, circuit, advanceMs } = setup();
      chain.faults.estimateGas = Array.from({ length: 3 }, transportError);
      expectKind(await send(), "notSent");
      expect(circuit.state).to.equal("open");
      const calls = { ...chain.calls };
      const paused = expectKind(await send(), "notSent");
      expect(paused.reason).to.equal("circuitOpen");
      expect(chain.calls, "no RPC call while open").to.deep.equal(calls);
      advanceMs(1_000);
      expectKind(await send(), "mined");
      expect(circuit.state).to.equal("closed");
    });

    it("keeps watching through an outage and finds the receipt when the RPC is back", async () => {
      const { chain, send, polls, circuit } = setup();
      chain.automine = false;
      const outage = () => Array.from({ length: 5 }, transportError);
      polls.onPoll = () => {
        if (polls.count === 1) {
          chain.faults.getTransactionReceipt = outage();
          chain.faults.getBlockNumber = outage();
        }
        if (polls.count === 4) chain.mine();
      };
      const outcome = expectKind(await send(), "mined");
      expect(outcome.bumps).to.equal(0);
      expect(circuit.state).to.equal("closed");
      expect(polls.count).to.be.greaterThan(4);
    });
  });
});
