/**
 * keeper/main.ts as its own process (what `npm run keeper` runs after compiling): the exit code 2 and
 * message of each configuration it refuses, and a keeper killed with SIGKILL in the middle of a run,
 * restarted, that misses nothing and stops cleanly on SIGTERM.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { Wallet } from "ethers";
import { CONFIG_EXIT_CODE, LOCAL_KEEPER_KEY } from "../../keeper/config";
import { freePort, fundGas, liquidationsSince, openPositions, pushPrice, startChain, waitFor } from "./e2e";
import type { Chain } from "./e2e";

const ROOT = path.join(__dirname, "..", "..");

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * Starts keeper/main.ts with `args` (ts-node, no compile step: the test run has compiled already), or
 * through the package's bin script (keeper/bin/perpsim-keeper), which execs the same.
 */
function runKeeper(args: string[], { viaBin = false }: { viaBin?: boolean } = {}): Run {
  const [command, argv] = viaBin
    ? [path.join(ROOT, "keeper", "bin", "perpsim-keeper"), args]
    : [process.execPath, ["-r", "ts-node/register/transpile-only", "keeper/main.ts", ...args]];
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** The JSON log lines a keeper wrote so far. */
function logLines(run: Run): { level: number; msg: string }[] {
  return run
    .stdout()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as { level: number; msg: string });
}

/** A JSON-RPC endpoint that only knows its chain id. */
async function fakeRpc(chainId: number): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk: Buffer) => (body += chunk.toString()));
    request.on("end", () => {
      const parsed = JSON.parse(body) as { id: number; method: string } | { id: number; method: string }[];
      const answer = ({ id, method }: { id: number; method: string }) =>
        method === "eth_chainId"
          ? { jsonrpc: "2.0", id, result: `0x${chainId.toString(16)}` }
          : { jsonrpc: "2.0", id, error: { code: -32601, message: `${method} not served here` } };
      response.writeHead(200, { "Content-Type": "application/json" });
      response.end(JSON.stringify(Array.isArray(parsed) ? parsed.map(answer) : answer(parsed)));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const tempDirs: string[] = [];

/** A deployment file for chain `chainId` with made-up addresses (the config checks never reach them). */
function deploymentFile(chainId: number, extra: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "perpsim-keeper-cli-"));
  tempDirs.push(dir);
  const file = path.join(dir, "deployment.json");
  const address = (n: number) => Wallet.createRandom().address.slice(0, -1) + n.toString(16);
  const contracts = Object.fromEntries(
    ["collateral", "vault", "oracle", "engine", "engineAdmin", "lens", "pool", "orderBook"].map((name, i) => [
      name,
      address(i).toLowerCase(),
    ]),
  );
  const markets = [
    { symbol: "ALT-USD", marketId: 1, coin: address(9), spotPool: address(10), pushedFeeds: [], twapFeed: address(11) },
  ];
  writeFileSync(file, JSON.stringify({ chainId, deploymentBlock: 0, contracts, markets, ...extra }));
  return file;
}

describe("keeper CLI (keeper/main.ts as a process)", function () {
  this.timeout(180_000);

  after(() => {
    for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it("exits with code 2 naming the file when the deployment file does not exist", async () => {
    const missing = path.join(os.tmpdir(), "perpsim-no-such-deployment.json");
    const run = runKeeper(["--rpc-url", "http://127.0.0.1:9", "--deployment", missing]);
    expect(await run.exited).to.equal(CONFIG_EXIT_CODE);
    expect(run.stderr()).to.include(`--deployment: ${JSON.stringify(missing)} does not exist`);
  });

  it("exits with code 2 naming the field when the deployment file lacks the markets", async () => {
    const file = deploymentFile(31337, { markets: undefined });
    const run = runKeeper(["--rpc-url", "http://127.0.0.1:9", "--deployment", file]);
    expect(await run.exited).to.equal(CONFIG_EXIT_CODE);
    expect(run.stderr()).to.include(`--deployment: ${JSON.stringify(file)}: markets is required`);
  });

  it("exits with code 2 when the RPC serves another chain than the deployment's", async () => {
    const rpc = await fakeRpc(1);
    try {
      const file = deploymentFile(31337);
      const run = runKeeper(["--rpc-url", rpc.url, "--deployment", file]);
      expect(await run.exited).to.equal(CONFIG_EXIT_CODE);
      expect(run.stderr()).to.include(`is for chain id 31337, but ${rpc.url} serves chain id 1`);
    } finally {
      await rpc.close();
    }
  });

  it("exits with code 2 when no key is given off the local chain", async () => {
    const rpc = await fakeRpc(1);
    try {
      const run = runKeeper(["--rpc-url", rpc.url, "--deployment", deploymentFile(1)]);
      expect(await run.exited).to.equal(CONFIG_EXIT_CODE);
      expect(run.stderr()).to.include("--private-key is required on chain id 1");
    } finally {
      await rpc.close();
    }
  });

  describe("against a node", () => {
    let chain: Chain;
    const runs: Run[] = [];

    beforeEach(async () => {
      chain = await startChain();
    });

    afterEach(async () => {
      for (const run of runs.splice(0)) {
        if (run.child.exitCode === null) run.child.kill("SIGKILL");
        await run.exited;
      }
      await chain.close();
    });

    it("killed with SIGKILL mid-run and restarted through the bin, misses nothing: every position liquidated exactly once; a third on its metrics port exits 2 in one line; SIGTERM to the bin's process exits 0", async () => {
      // The default key on chain 31337 (no --private-key), funded for gas.
      const keeperAddress = new Wallet(LOCAL_KEEPER_KEY).address;
      await fundGas(chain, keeperAddress);
      const altShorts = await openPositions(
        chain,
        Array.from({ length: 60 }, () => ({ market: chain.alt, side: -1n as const, marginUsd: 100n, leverage: 10n })),
      );
      const btcLongs = await openPositions(
        chain,
        Array.from({ length: 20 }, () => ({ market: chain.btc, side: 1n as const, marginUsd: 100n, leverage: 10n })),
      );
      const all = [...altShorts, ...btcLongs];
      const start = chain.ex.deployment.deploymentBlock;
      const args = (port: number) => [
        "--rpc-url",
        chain.evm.url,
        "--deployment",
        chain.deploymentFile,
        "--batch-size",
        "5",
        "--poll-ms",
        "100",
        "--metrics-port",
        String(port),
      ];

      const first = runKeeper(args(await freePort()));
      runs.push(first);
      await waitFor("the first keeper to sync", 60_000, async () =>
        logLines(first).some((l) => l.msg === "state rebuilt from events; following new blocks") ? true : undefined,
      );
      const altViews = await chain.ex.lens.positions(altShorts.map((p) => p.id));
      const altHighest = altViews.reduce((max, v) => (v.liquidationPrice > max ? v.liquidationPrice : max), 0n);
      const altCrossedAt = await pushPrice(chain, chain.alt, (altHighest * 110n) / 100n);
      await waitFor("the first liquidation", 30_000, async () =>
        (await liquidationsSince(chain, altCrossedAt)).length > 0 ? true : undefined,
      );
      first.child.kill("SIGKILL");
      expect(await first.exited).to.equal(null);
      const atKill = (await liquidationsSince(chain, start)).length;

      // While no keeper runs: the BTC longs become liquidatable too.
      const btcViews = await chain.ex.lens.positions(btcLongs.map((p) => p.id));
      const btcLowest = btcViews.reduce((min, v) => (v.liquidationPrice < min ? v.liquidationPrice : min), 2n ** 255n);
      await pushPrice(chain, chain.btc, (btcLowest * 90n) / 100n);
      const restartBlock = await chain.provider.getBlockNumber();
      const beforeRestart = (await liquidationsSince(chain, start)).length;

      const port = await freePort();
      const second = runKeeper(args(port), { viaBin: true });
      runs.push(second);
      const found = await waitFor("every position liquidated", 60_000, async () => {
        const liquidations = await liquidationsSince(chain, start);
        return liquidations.length >= all.length ? liquidations : undefined;
      });
      expect(found).to.have.length(all.length);
      expect(found.map((l) => l.id).sort()).to.deep.equal(all.map((p) => p.id).sort());
      expect(found.every((l) => l.keeper === keeperAddress)).to.equal(true);
      const bySecond = found.filter((l) => l.block > restartBlock).length;
      expect(bySecond, "the restarted keeper finished the run").to.be.at.least(btcLongs.length);

      // Its /metrics counts what it liquidated, and its book is empty.
      await waitFor("the second keeper's metrics", 10_000, async () => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const counted = text.includes(`\nperpsim_liquidations_succeeded_total{venue="USD"} ${bySecond}\n`);
        return counted && text.includes('\nperpsim_positions_tracked{venue="USD"} 0\n') ? true : undefined;
      });

      // A third keeper on the same metrics port: one line naming the flag, exit 2, no stack trace.
      const third = runKeeper(args(port));
      runs.push(third);
      expect(await third.exited).to.equal(CONFIG_EXIT_CODE);
      expect(third.stderr()).to.include(`--metrics-port: ${port} is already in use on 127.0.0.1`);
      expect(third.stderr()).to.not.match(/^\s+at /m);

      // The bin execs node: the process spawned is the keeper, and SIGTERM reaches it.
      second.child.kill("SIGTERM");
      expect(await second.exited).to.equal(0);
      expect(logLines(second).map((l) => l.msg)).to.include("keeper stopped");
      console.log(
        `      ${atKill} liquidated when the first keeper was killed, ${beforeRestart} before the restart, ` +
          `${bySecond} by the restarted keeper`,
      );
    });
  });
});
