/**
 * The keeper as the CLI runs it (keeper/app.ts: batching provider, TxSender, block loop), over HTTP
 * against a node process, anvil or `hardhat node`: `count` positions crossing at once, counted in
 * blocks from the price move to the last liquidation. The goal is every liquidation in the next block.
 *
 * Blocks. The race runs on interval mining, a block every `blockIntervalMs` with whatever arrived
 * (anvil's and hardhat's evm_setIntervalMining; anvil takes seconds, hardhat milliseconds), so "the
 * next block" is one interval away as on a chain: from the moment the price move's block is mined,
 * the keeper has one interval to see it and get every liquidateMany into the node's pool. The move is
 * both feeds' pushes, sent together with consecutive nonces and checked to share a block.
 *
 * Setup. Four transactions per position (faucet, approve, deposit, open, each from the position's own
 * impersonated account), mined by hand: automine off, SETUP_PER_BLOCK sent at once in one JSON-RPC
 * batch with explicit nonces, evm_mine, and the block checked to hold every one of them. Nothing waits
 * on a receipt that may never come: with automine, anvil can leave ready transactions unmined in its
 * pool (foundry-rs/foundry#10122), which is how the earlier set-up (sequential sends, then
 * waitForTransaction on the last) hung at "opening 1000 positions". The deployment before it still
 * runs on automine (lib/deploy waits for each receipt): on anvil a transaction left in the pool is
 * mined with evm_mine (see unstuck). Every wait here is bounded and fails with a line naming what it
 * waited for.
 */
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import {
  FetchRequest,
  JsonRpcProvider,
  Network,
  NonceManager,
  Wallet,
  getAddress,
  id as keccakId,
  toQuantity,
} from "ethers";
import { createKeeperApp } from "../keeper/app";
import type { KeeperApp } from "../keeper/app";
import { parseKeeperConfig } from "../keeper/config";
import { createLogger } from "../keeper/log";
import { anvilBinary } from "../lib/anvil-binary";
import { bounded } from "../lib/bounded";
import { DEV_KEYS } from "../lib/dev-accounts";
import type { Exchange, MarketHandles } from "../lib/contracts";
import { deploySystem } from "../lib/deploy";
import { writeDeployment } from "../lib/deployment";
import { PositionLib } from "../lib/math";
import { toFeedAnswer, usd6, wad, WAD } from "../lib/units";
import { SETUP_GAS, type RawCall } from "./chain";
import { openCall } from "./gas";

/** The nodes the HTTP race runs on. */
export type HttpNode = "anvil" | "hardhat node";

export interface HttpRaceResult {
  node: HttpNode;
  positions: number;
  liquidated: number;
  /** from the price move's block to the block of the last liquidation */
  blocks: number;
  /** liquidations mined in the block right after the price move's */
  inNextBlock: number;
  /** from the price move's block being seen to the last liquidation seen (mostly the node mining that block) */
  seconds: number;
  /** from the price move's block being seen to the keeper's last liquidateMany broadcast */
  sentSeconds: number;
  /** the keeper's liquidateMany transactions */
  transactions: number;
  blockIntervalMs: number;
  /** the phase's parts, wall clock: start and deploy, positions opened, keeper synced, the race */
  phaseSeconds: { deploy: number; setup: number; sync: number; race: number; total: number };
}

const ROOT = path.resolve(__dirname, "..");
/** Account #0 of the "test ... junk" mnemonic: both nodes fund and unlock it. */
const DEV_KEY = DEV_KEYS[0];
/** Room for 1,000 liquidations in one block: ~50k gas each plus each batch's budget still to fit. */
const HTTP_BLOCK_GAS_LIMIT = 200_000_000n;
/** The keeper's head poll (PERP_POLL_MS) in the race. */
const KEEPER_POLL_MS = 100;
const NODE_START_MS = 60_000;
/** Setup transactions per mined block (100 x SETUP_GAS fits the block; `hardhat node` slows with more pending). */
const SETUP_PER_BLOCK = 100;
/** Any single request (a batch of SETUP_PER_BLOCK sends, an evm_mine) not answered by then fails the setup. */
const SETUP_REQUEST_TIMEOUT_MS = 60_000;
/** The deployment (automine, one transaction after another) must be done by then. */
const DEPLOY_TIMEOUT_MS = 180_000;
/** How often a deployment under automine looks for a transaction the node left in its pool. */
const NUDGE_MS = 1_000;
/** The keeper must have indexed every position by then. */
const SYNC_TIMEOUT_MS = 60_000;
/** Intervals to wait for the price move's block before giving up. */
const MOVE_WAIT_BLOCKS = 10;
/** How long after the price move the race may run before it reports what it has. */
const RACE_TIMEOUT_MS = 120_000;
const EVENT_POLL_MS = 20;
/** The keeper's debug line for each broadcast (TxSender). */
const SENT_LINE = '"msg":"transaction sent"';
/** 100 ETH: gas money for the impersonated accounts and the keeper. */
const ACCOUNT_ETH = "0x56BC75E2D63100000";
const MARGIN_USD = 20n;
const LEVERAGE = 10n;
const DEPOSIT_USD = 50n;
/** The price move: the index falls to this share of itself, which every 10x long is under. */
const CRASH_PCT = 80n;

/**
 * One race on a fresh `node` process: deploy, open `count` 10x longs, start the keeper, wait until it
 * tracks them all, then crash the index and watch the Liquidation events.
 */
export async function httpRace(
  node: HttpNode,
  count: number,
  blockIntervalMs: number,
  log: (line: string) => void = () => undefined,
): Promise<HttpRaceResult> {
  const started = performance.now();
  const since = (t: number) => (performance.now() - t) / 1000;
  const running = await startNode(node);
  const { url, provider } = running;
  const dir = mkdtempSync(path.join(os.tmpdir(), "perpsim-http-race-"));
  let app: KeeperApp | undefined;
  try {
    log(`${node}: up on ${url}; deploying`);
    await provider.send("evm_setBlockGasLimit", [toQuantity(HTTP_BLOCK_GAS_LIMIT)]);
    const deployer = new NonceManager(new Wallet(DEV_KEY, provider));
    const ex = await unstuck(running, "the deployment", DEPLOY_TIMEOUT_MS, () => deploySystem(deployer));
    const file = path.join(dir, "deployment.json");
    writeDeployment(file, ex.deployment);
    const market = ex.markets.get("ALT-USD")!;
    const index0 = (await ex.lens.market(market.marketId)).indexPrice;
    const deploySeconds = since(started);

    const setupStart = performance.now();
    log(`${node}: opening ${count} positions, ${SETUP_PER_BLOCK} transactions a block`);
    const ids = await openPositions(running, ex, market, index0, count);
    const setupSeconds = since(setupStart);
    log(`${node}: ${count} positions open in ${setupSeconds.toFixed(1)} s`);

    // From here on blocks come by the clock, before the keeper starts, as on a chain.
    await provider.send("evm_setIntervalMining", [intervalParam(node, blockIntervalMs)]);
    const syncStart = performance.now();
    const keeperWallet = new Wallet(keccakId(`perpsim-bench:http-keeper:${node}`));
    await provider.send("hardhat_setBalance", [keeperWallet.address, ACCOUNT_ETH]);
    const config = parseKeeperConfig(
      ["--rpc-url", url, "--deployment", file, "--private-key", keeperWallet.privateKey],
      { PERP_POLL_MS: String(KEEPER_POLL_MS), PERP_METRICS_PORT: "0" },
    );
    // The keeper's own log says when each transaction went out ("transaction sent", debug).
    const sentAt: number[] = [];
    const keeperLog = createLogger({
      level: "debug",
      destination: {
        write: (line: string) => {
          if (line.includes(SENT_LINE)) sentAt.push(performance.now());
        },
      },
    });
    app = await createKeeperApp(config, keeperLog);
    const keeper = app;
    // run() ends only through stop() here; a fatal error shows as a keeper that never catches up.
    keeper.run().catch((error: unknown) => log(`${node}: the keeper stopped: ${String(error)}`));
    await until(
      () => keeper.keeper.book.size >= count,
      SYNC_TIMEOUT_MS,
      () => `${node}: the keeper tracks ${keeper.keeper.book.size} of ${count} positions after ${SYNC_TIMEOUT_MS} ms`,
    );
    const syncSeconds = since(syncStart);

    log(`${node}: keeper tracks ${count} positions; crashing the index, ${blockIntervalMs} ms blocks`);
    const raceStart = performance.now();
    const sentBefore = sentAt.length;
    const moveBlock = await crash(running, market, index0, blockIntervalMs);
    const moveSeen = performance.now();
    log(`${node}: price move mined in block ${moveBlock}`);
    const liquidatedAt = await watchLiquidations(ex, provider, moveBlock, new Set(ids));
    const seconds = (performance.now() - moveSeen) / 1000;
    const sent = sentAt.slice(sentBefore);
    const blocks = [...liquidatedAt.values()];
    return {
      node,
      positions: count,
      liquidated: liquidatedAt.size,
      blocks: blocks.length === 0 ? 0 : Math.max(...blocks) - moveBlock,
      inNextBlock: blocks.filter((b) => b === moveBlock + 1).length,
      seconds,
      sentSeconds: sent.length === 0 ? NaN : (Math.max(...sent) - moveSeen) / 1000,
      transactions: sent.length,
      blockIntervalMs,
      phaseSeconds: {
        deploy: deploySeconds,
        setup: setupSeconds,
        sync: syncSeconds,
        race: since(raceStart),
        total: since(started),
      },
    };
  } finally {
    await app?.stop();
    await running.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/* THE NODE */

interface RunningNode {
  node: HttpNode;
  url: string;
  /** The race's own reads and sends; one request at a time. */
  provider: JsonRpcProvider;
  /** Setup traffic: concurrent requests go out as one JSON-RPC batch of up to SETUP_PER_BLOCK. */
  batching: JsonRpcProvider;
  stop(): Promise<void>;
}

function nodeCommand(node: HttpNode, port: number): [string, string[]] {
  if (node === "anvil") {
    return [anvilBinary(), ["--port", String(port), "--silent"]];
  }
  const cli = path.join(ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js");
  return [process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(port)]];
}

async function freeTcpPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function httpProvider(url: string, batchMaxCount: number): JsonRpcProvider {
  const request = new FetchRequest(url);
  request.timeout = SETUP_REQUEST_TIMEOUT_MS;
  const network = Network.from(31337);
  const provider = new JsonRpcProvider(request, network, {
    staticNetwork: network,
    cacheTimeout: -1,
    batchMaxCount,
    batchStallTime: batchMaxCount === 1 ? 0 : 2,
  });
  provider.pollingInterval = 50;
  return provider;
}

/** Starts `node` on a free port; resolves once it answers eth_chainId. */
async function startNode(node: HttpNode): Promise<RunningNode> {
  const port = await freeTcpPort();
  const [command, args] = nodeCommand(node, port);
  const child: ChildProcess = spawn(command, args, { cwd: ROOT, stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  const provider = httpProvider(url, 1);
  const batching = httpProvider(url, SETUP_PER_BLOCK);
  const stop = async () => {
    provider.destroy();
    batching.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
  };
  const deadline = Date.now() + NODE_START_MS;
  for (;;) {
    try {
      await provider.send("eth_chainId", []);
      return { node, url, provider, batching, stop };
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) {
        await stop();
        throw new Error(`${node} did not start on ${url} within ${NODE_START_MS} ms: ${String(error)}`);
      }
      await sleep(200);
    }
  }
}

/** What evm_setIntervalMining takes on `node`: anvil seconds, hardhat milliseconds. */
function intervalParam(node: HttpNode, intervalMs: number): number {
  return node === "anvil" ? Math.max(1, Math.round(intervalMs / 1000)) : intervalMs;
}

/** `work` (which waits on automined receipts) bounded by `timeoutMs`; on anvil a stuck pool is nudged (lib/bounded). */
async function unstuck<T>(running: RunningNode, what: string, timeoutMs: number, work: () => Promise<T>): Promise<T> {
  const { node, provider } = running;
  const nudge = node === "anvil" ? (method: string, params: unknown[]) => provider.send(method, params) : undefined;
  return bounded({ what: `${node}: ${what}`, timeoutMs, nudge, nudgeMs: NUDGE_MS }, work);
}

/* SETUP */

/** `count` fresh addresses, impersonated and holding ETH for gas; one batch per SETUP_PER_BLOCK calls. */
async function impersonate(batching: JsonRpcProvider, label: string, count: number): Promise<string[]> {
  const accounts = Array.from({ length: count }, (_, i) =>
    getAddress("0x" + keccakId(`perpsim-bench:${label}:${i}`).slice(26)),
  );
  await Promise.all(
    accounts.flatMap((a) => [
      batching.send("hardhat_impersonateAccount", [a]),
      batching.send("hardhat_setBalance", [a, ACCOUNT_ETH]),
    ]),
  );
  return accounts;
}

/**
 * Opens `count` 10x longs of MARGIN_USD, each from its own impersonated account (faucet, approve,
 * deposit, open), mined by hand; returns their ids once the lens shows every one open and healthy.
 */
async function openPositions(
  running: RunningNode,
  ex: Exchange,
  market: MarketHandles,
  index0: bigint,
  count: number,
): Promise<bigint[]> {
  const accounts = await impersonate(running.batching, `http-${running.node}`, count);
  const amount = usd6(DEPOSIT_USD);
  const token = await ex.collateral.getAddress();
  const vault = await ex.vault.getAddress();
  const t = ex.collateral.interface;
  const size = (wad(MARGIN_USD) * LEVERAGE * WAD) / index0;
  const calls: RawCall[] = accounts.flatMap((a) => [
    { from: a, to: token, data: t.encodeFunctionData("faucet", [a, amount]) },
    { from: a, to: token, data: t.encodeFunctionData("approve", [vault, amount]) },
    { from: a, to: vault, data: ex.vault.interface.encodeFunctionData("deposit", [amount]) },
    openCall(ex, market, a, size, wad(MARGIN_USD)),
  ]);
  await mineByHand(running, calls);
  const ids = accounts.map((a) => PositionLib.id(a, market.marketId));
  const lens = ex.lens.connect(running.batching);
  const views = (await Promise.all(chunks(ids, SETUP_PER_BLOCK).map((c) => lens.positions(c)))).flat();
  const unopened = views.filter((v) => v.size === 0n).length;
  const unhealthy = views.filter((v) => v.liquidatable).length;
  if (unopened > 0 || unhealthy > 0) {
    throw new Error(
      `${running.node}: http race setup: ${unopened} of ${count} positions did not open and ${unhealthy} opened ` +
        `liquidatable (a faucet, approve, deposit or open reverted)`,
    );
  }
  return ids;
}

/**
 * Sends `calls` in their order, SETUP_PER_BLOCK to a block: automine off, each with an explicit gas
 * limit and nonce (numbered here per sender from its transaction count, so concurrent sends of one
 * account cannot share a nonce), then evm_mine; throws at once, naming them, if the block does not
 * hold every transaction sent for it. Automine stays off.
 */
async function mineByHand(running: RunningNode, calls: readonly RawCall[]): Promise<void> {
  const { node, provider, batching } = running;
  await provider.send("evm_setAutomine", [false]);
  const senders = [...new Set(calls.map((c) => c.from))];
  const counts = (await Promise.all(
    senders.map((s) => batching.send("eth_getTransactionCount", [s, "latest"])),
  )) as string[];
  const nonces = new Map(senders.map((s, i) => [s, Number(BigInt(counts[i]))]));
  for (const [n, chunk] of chunks(calls, SETUP_PER_BLOCK).entries()) {
    const hashes = (await Promise.all(
      chunk.map((c) => {
        const nonce = nonces.get(c.from)!;
        nonces.set(c.from, nonce + 1);
        const tx = {
          from: c.from,
          to: c.to,
          data: c.data,
          gas: toQuantity(c.gas ?? SETUP_GAS),
          nonce: toQuantity(nonce),
        };
        return batching.send("eth_sendTransaction", [tx]);
      }),
    )) as string[];
    await provider.send("evm_mine", []);
    const block = (await provider.send("eth_getBlockByNumber", ["latest", false])) as {
      number: string;
      transactions: string[];
    };
    const mined = new Set(block.transactions.map((h) => h.toLowerCase()));
    const missing = hashes.filter((h) => !mined.has(h.toLowerCase()));
    if (missing.length > 0) {
      const pool = (await provider.send("txpool_status", []).catch((error: unknown) => String(error))) as unknown;
      throw new Error(
        `${node}: http race setup: block ${Number(BigInt(block.number))} (setup block ${n + 1}) holds ` +
          `${chunk.length - missing.length} of the ${chunk.length} transactions sent for it; first missing ` +
          `${missing[0]}; txpool_status ${JSON.stringify(pool)}`,
      );
    }
  }
}

/* THE RACE */

/**
 * Pushes the crashed index to both feeds with consecutive nonces in one JSON-RPC batch, so that one
 * interval block takes both; returns that block. Waits at most MOVE_WAIT_BLOCKS intervals.
 */
async function crash(
  running: RunningNode,
  market: MarketHandles,
  index0: bigint,
  blockIntervalMs: number,
): Promise<number> {
  const { node, provider, batching } = running;
  const admin = new Wallet(DEV_KEY).address;
  const answer = toFeedAnswer((index0 * CRASH_PCT) / 100n);
  const nonce = Number(BigInt((await provider.send("eth_getTransactionCount", [admin, "pending"])) as string));
  const pushes = await Promise.all(
    market.pushedFeeds.map(async (f, i) => ({
      from: admin,
      to: await f.getAddress(),
      data: f.interface.encodeFunctionData("setPrice", [answer]),
      gas: toQuantity(SETUP_GAS),
      nonce: toQuantity(nonce + i),
    })),
  );
  const hashes = (await Promise.all(pushes.map((p) => batching.send("eth_sendTransaction", [p])))) as string[];
  const blocks = new Set<number>();
  await until(
    async () => {
      const receipts = await Promise.all(hashes.map((h) => provider.getTransactionReceipt(h)));
      if (receipts.some((r) => r === null)) return false;
      for (const r of receipts) {
        if (r!.status !== 1) throw new Error(`${node}: the price push ${r!.hash} reverted`);
        blocks.add(r!.blockNumber);
      }
      return true;
    },
    MOVE_WAIT_BLOCKS * blockIntervalMs,
    () => `${node}: the price pushes ${hashes.join(", ")} were not mined within ${MOVE_WAIT_BLOCKS} blocks' time`,
  );
  if (blocks.size !== 1) throw new Error(`${node}: the price pushes landed in blocks ${[...blocks].join(", ")}`);
  return [...blocks][0];
}

/**
 * The block of each of `ids`' Liquidation events after `moveBlock`, read block by block as they are
 * mined, until all are in or RACE_TIMEOUT_MS has passed.
 */
async function watchLiquidations(
  ex: Exchange,
  provider: JsonRpcProvider,
  moveBlock: number,
  ids: ReadonlySet<bigint>,
): Promise<Map<bigint, number>> {
  const engine = ex.engine.connect(provider);
  const liquidatedAt = new Map<bigint, number>();
  const deadline = Date.now() + RACE_TIMEOUT_MS;
  let next = moveBlock + 1;
  while (liquidatedAt.size < ids.size && Date.now() < deadline) {
    const head = await provider.getBlockNumber();
    if (head < next) {
      await sleep(EVENT_POLL_MS);
      continue;
    }
    const events = await engine.queryFilter(engine.filters.Liquidation(), next, head);
    for (const e of events) if (ids.has(e.args.id)) liquidatedAt.set(e.args.id, e.blockNumber);
    next = head + 1;
  }
  return liquidatedAt;
}

/* HELPERS */

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `done` until it holds; after `timeoutMs` throws the line `failure` gives. */
async function until(done: () => boolean | Promise<boolean>, timeoutMs: number, failure: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(failure());
    await sleep(EVENT_POLL_MS);
  }
}
