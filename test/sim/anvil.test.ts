import { expect } from "chai";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { AnvilProvider, RpcError, startAnvil } from "../../sim/anvil";
import { loadScenario, type Scenario } from "../../sim/scenario";
import { runScenario } from "../../sim/runner";
import { summaryJson } from "../../sim/output";
import { parseChain, simNetwork, CHAINS } from "../../sim/network";
import { BlockClock } from "../../sim/clock";
import { sendBlock } from "../../sim/chain";
import { CollateralToken__factory } from "../../typechain-types";

const HOUR = 3600;
/** A result whose braces and escaped quote sit inside a string: the framing must not count them. */
const TRICKY = 'with } and { and \\" inside \\';

/** squeeze-thin's first hours: shorts open, the market maker's first pushes, a funding boundary. */
function firstHours(hours: number): Scenario {
  const s = loadScenario("scenarios/squeeze-thin.json");
  return { ...s, durationSec: hours * HOUR, stepSec: 20 * 60 };
}

/** Whether a process is still alive (zombies count as gone). */
function alive(pid: number): boolean {
  try {
    return !/^\S+ \([^)]*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw error;
  }
}

describe("simulator: the anvil backend", function () {
  this.timeout(300_000);

  it("matches each answer to its request when the socket splits and joins JSON objects", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "perpsim-ipc-test-"));
    const socketPath = path.join(dir, "fake.ipc");
    // A node that answers two requests at once, in reverse order, cut in the middle of a string holding braces.
    const server = net.createServer((socket) => {
      let seen = "";
      socket.on("data", (d) => {
        seen += d.toString();
        const requests = seen.match(/\{[^{}]*\}/g) ?? [];
        if (requests.length < 2) return;
        const [a, b] = requests.map((r) => JSON.parse(r) as { id: number });
        const answer =
          JSON.stringify({ jsonrpc: "2.0", id: b!.id, result: TRICKY }) +
          JSON.stringify({
            jsonrpc: "2.0",
            id: a!.id,
            error: { code: 3, message: "execution reverted", data: "0x1234" },
          });
        const cut = answer.indexOf("and {") + 3;
        socket.write(answer.slice(0, cut));
        setTimeout(() => socket.write(answer.slice(cut)), 20);
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    try {
      const provider = await AnvilProvider.connect(socketPath);
      const first = provider.send("eth_call", []).then(
        () => undefined,
        (error: unknown) => error,
      );
      const second = provider.send("eth_chainId", []);
      expect(await second).to.equal(TRICKY);
      const error = await first;
      expect(error).to.be.instanceOf(RpcError);
      expect((error as RpcError).data).to.equal("0x1234");
      provider.close();
    } finally {
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("stops its node when asked, leaving no anvil process", async () => {
    const node = await startAnvil();
    expect(await node.provider.send("eth_chainId", [])).to.equal("0x7a69");
    // The node's pid is known once the watchdog reported it: its CPU time is readable.
    await new Promise((r) => setTimeout(r, 100));
    expect(node.cpuSeconds()).to.be.a("number");
    const pids = fs
      .readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p) && fs.readFileSync(`/proc/${p}/cmdline`, "utf8").includes(node.socketPath));
    expect(pids.length).to.be.greaterThan(0);
    node.stop();
    await new Promise((r) => setTimeout(r, 500));
    expect(pids.filter((p) => alive(Number(p)))).to.deep.equal([]);
  });

  it("gives the same summary.json on anvil as on the in-process network, for the same seed", async () => {
    const s = firstHours(6);
    const edr = summaryJson((await runScenario(hre, s, { chain: "edr" })).summary);
    const anvil = summaryJson((await runScenario(hre, s, { chain: "anvil" })).summary);
    expect(anvil).to.equal(edr);
    // and again on anvil, from its deployment snapshot
    expect(summaryJson((await runScenario(hre, s, { chain: "anvil" })).summary)).to.equal(edr);
  });

  for (const chain of CHAINS) {
    it(`packs transactions into one block in the order sent, each with its outcome (${chain})`, async () => {
      const net = await simNetwork(hre, chain);
      const provider = net.provider;
      const token = await new CollateralToken__factory(await net.deployer()).deploy();
      const to = await token.getAddress();
      const accounts = (await provider.send("eth_accounts", [])) as string[];
      const iface = token.interface;
      const faucet = (amount: bigint) => ({ to, data: iface.encodeFunctionData("faucet", [accounts[9]!, amount]) });
      const head = (await provider.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
      const clock = new BlockClock(provider, Number(BigInt(head.timestamp)) + 10);
      clock.install();
      try {
        const outcomes = await sendBlock(provider, clock, [
          { from: accounts[1]!, call: faucet(1n) },
          { from: accounts[2]!, call: faucet(10n ** 30n) },
          { from: accounts[3]!, call: faucet(2n) },
          { from: accounts[1]!, call: faucet(3n) },
        ]);
        expect(outcomes.map((o) => (o.kind === "done" ? "done" : o.error))).to.deep.equal([
          "done",
          "FaucetAmountTooLarge",
          "done",
          "done",
        ]);
        const block = (await provider.send("eth_getBlockByNumber", ["latest", true])) as {
          timestamp: string;
          transactions: { from: string }[];
        };
        expect(block.transactions.map((tx) => tx.from.toLowerCase())).to.deep.equal(
          [1, 2, 3, 1].map((i) => accounts[i]!.toLowerCase()),
        );
        expect(Number(BigInt(block.timestamp))).to.equal(clock.peek() - 1);
        expect(clock.blocksMined).to.equal(1);
        expect(await token.balanceOf(accounts[9]!)).to.equal(6n);
      } finally {
        clock.uninstall();
      }
    });

    it(`mines owed empty blocks only before a transaction that follows them (${chain})`, async () => {
      const net = await simNetwork(hre, chain);
      const provider = net.provider;
      const token = await new CollateralToken__factory(await net.deployer()).deploy();
      const to = await token.getAddress();
      const accounts = (await provider.send("eth_accounts", [])) as string[];
      const faucet = { to, data: token.interface.encodeFunctionData("faucet", [accounts[9]!, 1n]) };
      const head = async () =>
        (await provider.send("eth_getBlockByNumber", ["latest", false])) as { number: string; timestamp: string };
      const start = Number(BigInt((await head()).timestamp)) + 10;
      const clock = new BlockClock(provider, start);
      clock.install();
      try {
        const before = Number(BigInt((await head()).number));
        // Owed and dropped: no block, but the seconds passed.
        clock.owe(2);
        clock.dropOwed();
        expect(clock.peek()).to.equal(start + 2);
        expect(Number(BigInt((await head()).number))).to.equal(before);
        // Owed, then a transaction: the two empty blocks first, at the seconds they stand for.
        clock.owe(2);
        expect(await sendBlock(provider, clock, [{ from: accounts[1]!, call: faucet }])).to.deep.equal([
          { kind: "done" },
        ]);
        clock.dropOwed();
        const last = await head();
        expect(Number(BigInt(last.number))).to.equal(before + 3);
        expect(Number(BigInt(last.timestamp))).to.equal(start + 4);
        const owed = (await provider.send("eth_getBlockByNumber", ["0x" + (before + 1).toString(16), false])) as {
          timestamp: string;
          transactions: string[];
        };
        expect([Number(BigInt(owed.timestamp)), owed.transactions.length]).to.deep.equal([start + 2, 0]);
        expect(clock.blocksMined).to.equal(3);
      } finally {
        clock.uninstall();
      }
    });
  }

  it("refuses an unknown backend in one line naming the allowed ones", () => {
    expect(() => parseChain("geth")).to.throw('--chain: expected one of anvil, edr (got "geth")');
  });
});
