/**
 * Helpers for the keeper's end-to-end tests: a full exchange deployed on a real EVM served over
 * JSON-RPC HTTP (test/keeper/evm.ts), hundreds of positions opened in a few blocks, price pushes,
 * the liquidations read back from the chain, a TCP proxy the test can take down, and the keeper's
 * configuration as the CLI would parse it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { MaxUint256, Wallet, getAddress, toBeHex } from "ethers";
import type { JsonRpcProvider } from "ethers";
import { parseKeeperConfig } from "../../keeper/config";
import type { KeeperConfig } from "../../keeper/config";
import { bounded } from "../../lib/bounded";
import type { Exchange, MarketHandles } from "../../lib/contracts";
import { deploySystem } from "../../lib/deploy";
import { writeDeployment } from "../../lib/deployment";
import { PositionLib } from "../../lib/math";
import { WAD, toFeedAnswer, usd6, wad } from "../../lib/units";
import { FUNDED_KEYS, startEvm } from "./evm";
import type { Evm } from "./evm";

export interface Chain {
  evm: Evm;
  /** A provider straight to the node (never through a proxy). */
  provider: JsonRpcProvider;
  deployer: Wallet;
  ex: Exchange;
  alt: MarketHandles;
  btc: MarketHandles;
  /** The deployment record, written where a keeper's --deployment can read it. */
  deploymentFile: string;
  close(): Promise<void>;
}

const TEN_THOUSAND_ETH = toBeHex(10n ** 22n);

/** How long each step of a chain's set-up may take before it fails naming the step. */
const SETUP_STEP_MS = 90_000;

/**
 * A fresh node (the in-process EVM unless given) with the full exchange deployed by FUNDED_KEYS[0].
 * `nudgePool` (for anvil): a transaction its automine leaves in the pool is mined by hand (lib/bounded).
 */
export async function startChain(
  start: () => Promise<Evm> = startEvm,
  { nudgePool = false }: { nudgePool?: boolean } = {},
): Promise<Chain> {
  const evm = await bounded({ what: "the node's start", timeoutMs: SETUP_STEP_MS }, start);
  const step = <T>(what: string, work: () => Promise<T>) =>
    bounded({ what, timeoutMs: SETUP_STEP_MS, nudge: nudgePool ? evm.rpc : undefined }, work);
  const provider = evm.provider();
  const deployer = new Wallet(FUNDED_KEYS[0], provider);
  await step("funding the deployer", () => evm.rpc("hardhat_setBalance", [deployer.address, TEN_THOUSAND_ETH]));
  const ex = await step("the deployment", () => deploySystem(deployer));
  const dir = mkdtempSync(path.join(os.tmpdir(), "perpsim-keeper-"));
  const deploymentFile = path.join(dir, "deployment.json");
  writeDeployment(deploymentFile, ex.deployment);
  return {
    evm,
    provider,
    deployer,
    ex,
    alt: ex.markets.get("ALT-USD")!,
    btc: ex.markets.get("BTC-USD")!,
    deploymentFile,
    close: async () => {
      await evm.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Gives `address` ETH for gas. */
export async function fundGas(chain: Chain, address: string): Promise<void> {
  await chain.evm.rpc("hardhat_setBalance", [address, TEN_THOUSAND_ETH]);
}

/** A new funded key for a keeper. */
export async function keeperWallet(chain: Chain, seed: number): Promise<Wallet> {
  const wallet = new Wallet(toBeHex(BigInt(0xc0ffee00 + seed), 32));
  await fundGas(chain, wallet.address);
  return wallet;
}

export interface PositionSpec {
  market: MarketHandles;
  /** 1n long, -1n short */
  side: 1n | -1n;
  marginUsd: bigint;
  leverage: bigint;
}

export interface OpenedPosition extends PositionSpec {
  id: bigint;
  account: string;
}

const TX_GAS = 1_000_000n;
let accountCounter = 0;

/** A transaction for eth_sendTransaction from an impersonated account. */
export interface ImpersonatedTx {
  from: string;
  to: string;
  data: string;
  gas: string;
}

/**
 * The transactions that open one position per spec, each from a new account (funded for gas and
 * impersonated here): faucet, approve, deposit and a market order. Sizes come from the index price now.
 */
export async function openingTransactions(
  chain: Chain,
  specs: readonly PositionSpec[],
): Promise<{ opened: OpenedPosition[]; txs: ImpersonatedTx[] }> {
  const { evm, ex } = chain;
  const indexes = new Map<bigint, bigint>();
  for (const spec of specs) {
    if (!indexes.has(spec.market.marketId)) {
      indexes.set(spec.market.marketId, (await ex.lens.market(spec.market.marketId)).indexPrice);
    }
  }
  const opened: OpenedPosition[] = specs.map((spec) => {
    const account = getAddress(toBeHex(BigInt(0x7e57_0000_0000) + BigInt(++accountCounter), 20));
    return { ...spec, account, id: PositionLib.id(account, spec.market.marketId) };
  });
  await Promise.all(opened.map((p) => fundGas(chain, p.account)));
  await Promise.all(opened.map((p) => evm.rpc("hardhat_impersonateAccount", [p.account])));
  const collateral = await ex.collateral.getAddress();
  const vault = await ex.vault.getAddress();
  const engine = await ex.engine.getAddress();
  const txs: ImpersonatedTx[] = [];
  for (const p of opened) {
    const margin = wad(p.marginUsd);
    const deposit6 = usd6(p.marginUsd * 2n);
    const size = (p.side * margin * p.leverage * WAD) / indexes.get(p.market.marketId)!;
    const acceptable = size > 0n ? MaxUint256 : 0n;
    const calls: [string, string][] = [
      [collateral, ex.collateral.interface.encodeFunctionData("faucet", [p.account, deposit6])],
      [collateral, ex.collateral.interface.encodeFunctionData("approve", [vault, deposit6])],
      [vault, ex.vault.interface.encodeFunctionData("deposit", [deposit6])],
      [
        engine,
        ex.engine.interface.encodeFunctionData("increasePosition", [p.market.marketId, size, margin, acceptable]),
      ],
    ];
    for (const [to, data] of calls) txs.push({ from: p.account, to, data, gas: toBeHex(TX_GAS) });
  }
  return { opened, txs };
}

/** Throws unless every position in `opened` is open on the chain now. */
export async function expectOpen(chain: Chain, opened: readonly OpenedPosition[]): Promise<void> {
  const views = await chain.ex.lens.positions(opened.map((p) => p.id));
  const missing = views.filter((v) => v.size === 0n).length;
  if (missing > 0) throw new Error(`${missing} of ${opened.length} positions did not open`);
}

/**
 * Opens one position per spec (openingTransactions), sent straight to the node (no HTTP, no signing;
 * about 20 ms an account). Throws unless every position is open afterwards. `oneBlock`: every
 * transaction in one mined block (automine paused meanwhile), as a reorg test needs.
 */
export async function openPositions(
  chain: Chain,
  specs: readonly PositionSpec[],
  { oneBlock = false }: { oneBlock?: boolean } = {},
): Promise<OpenedPosition[]> {
  const { opened, txs } = await openingTransactions(chain, specs);
  if (oneBlock) await chain.evm.rpc("evm_setAutomine", [false]);
  const hashes: string[] = [];
  for (const tx of txs) hashes.push((await chain.evm.rpc("eth_sendTransaction", [tx])) as string);
  if (oneBlock) {
    await chain.evm.rpc("evm_mine", []);
    await chain.evm.rpc("evm_setAutomine", [true]);
  }
  // anvil answers eth_sendTransaction before it mines the block (in the order sent): wait for the last.
  const last = hashes[hashes.length - 1];
  await waitFor("the opening transactions mined", 10_000, async () =>
    last === undefined || (await chain.provider.getTransactionReceipt(last)) !== null ? true : undefined,
  );
  await expectOpen(chain, opened);
  return opened;
}

/** Pushes `price` (WAD) to both pushed feeds (the index, as the median of three sources); returns the block of the second push. */
export async function pushPrice(chain: Chain, market: MarketHandles, price: bigint): Promise<number> {
  let block = 0;
  for (const feed of market.pushedFeeds) {
    const receipt = await (await feed.connect(chain.deployer).setPrice(toFeedAnswer(price))).wait();
    block = receipt!.blockNumber;
  }
  return block;
}

export interface ChainLiquidation {
  id: bigint;
  keeper: string;
  block: number;
}

/** Every Liquidation event from `fromBlock` on. */
export async function liquidationsSince(chain: Chain, fromBlock: number): Promise<ChainLiquidation[]> {
  const events = await chain.ex.engine.queryFilter(chain.ex.engine.filters.Liquidation(), fromBlock);
  return events.map((e) => ({ id: e.args.id, keeper: e.args.keeper, block: e.blockNumber }));
}

/** Polls `check` every 50 ms until it returns a value, or fails after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The keeper's configuration from CLI flags, as `npm run keeper -- ...` would parse it. */
export function keeperConfig(flags: Record<string, string | true>): KeeperConfig {
  const argv = Object.entries(flags).flatMap(([flag, value]) =>
    value === true ? [`--${flag}`] : [`--${flag}`, value],
  );
  return parseKeeperConfig(argv, {});
}

/**
 * A TCP proxy in front of the node: `stop()` closes the listening socket and every connection (the
 * RPC is gone: connections are refused), `start()` listens on the same port again.
 */
export class TcpProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = net.createServer((client) => {
      const upstream = net.connect(this.targetPort, "127.0.0.1");
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on("close", () => this.sockets.delete(socket));
        socket.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(this.port, "127.0.0.1", resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
}

/** The node's port, from its URL. */
export function portOf(url: string): number {
  return Number(new URL(url).port);
}
