/**
 * Assembles a running keeper from its configuration, as the CLI does (keeper/main.ts) and as the
 * end-to-end tests do in-process: the JSON-RPC provider, the checks against the chain (chain id,
 * signer key, contract code), the TxSender with its nonce manager and RPC circuit, the Keeper engine,
 * the block loop and the metrics / health server.
 *
 * The provider batches: calls issued in the same few milliseconds (a tick's market reads, the lens
 * chunks) go out as one JSON-RPC batch of at most RPC_BATCH_MAX_COUNT requests, and nothing is cached,
 * so every read is of the chain now. Each request times out after RPC_TIMEOUT_MS, so a node that stops
 * answering looks like one that is down.
 */
import { FetchRequest, JsonRpcProvider, Network, Wallet } from "ethers";
import { z } from "zod";
import { connectExchange } from "../lib/contracts";
import type { Deployment as ExchangeDeployment } from "../lib/contracts";
import { CircuitBreaker } from "./chain/circuit";
import { isRpcTransportError } from "./chain/errors";
import { backoffDelay } from "./chain/retry";
import { TxSender } from "./chain/sender";
import { ConfigError, assertDeploymentChain, resolveSignerKey } from "./config";
import type { KeeperConfig } from "./config";
import { Keeper } from "./keeper";
import type { TickReport } from "./keeper";
import type { Logger } from "./log";
import { KeeperMetrics } from "./metrics";
import { startOpsServer } from "./ops-server";
import type { OpsServer } from "./ops-server";
import { KeeperService } from "./service";
import { LOST_RACE_ERRORS, exchangeErrors } from "./transactor";

/** How long the provider collects concurrent calls into one batch. */
export const RPC_BATCH_STALL_MS = 2;
/** Requests per JSON-RPC batch (public endpoints commonly cap batches near 100). */
export const RPC_BATCH_MAX_COUNT = 50;
/** A request not answered by then fails as a transport fault. */
export const RPC_TIMEOUT_MS = 10_000;
/** Consecutive transport failures that open the RPC circuit, and how long it stays open before a probe. */
export const CIRCUIT_FAILURE_THRESHOLD = 3;
export const CIRCUIT_COOLDOWN_MS = 2_000;
/** Backoff between attempts to reach the RPC at start. */
const STARTUP_BACKOFF = { baseMs: 250, maxMs: 5_000 };

export interface KeeperAppOptions {
  /** Aborts waiting for the RPC at start. */
  signal?: AbortSignal;
  /** Labels on every metric, to tell keepers apart. */
  metricLabels?: Record<string, string>;
  idleTickMs?: number;
  onTick?: (report: TickReport) => void;
}

export interface KeeperApp {
  keeper: Keeper;
  service: KeeperService;
  metrics: KeeperMetrics;
  address: string;
  chainId: bigint;
  /** The metrics / health server's base URL, when it runs. */
  opsUrl?: string;
  /** Runs the block loop until stop(). */
  run(): Promise<void>;
  /** Stops after the transactions in flight; then closes the server and the provider. */
  stop(): Promise<void>;
  /** Stops following transactions at once (a second signal, or a shutdown that takes too long). */
  abort(): void;
}

const contractsSchema = z.object({
  collateral: z.string(),
  vault: z.string(),
  oracle: z.string(),
  engine: z.string(),
  lens: z.string(),
  pool: z.string(),
  orderBook: z.string(),
});
const marketSchema = z.object({
  symbol: z.string().min(1),
  marketId: z.number().int().positive(),
  coin: z.string(),
  spotPool: z.string(),
  pushedFeeds: z.array(z.string()),
  twapFeed: z.string(),
});
const exchangeSchema = z.object({ contracts: contractsSchema.passthrough(), markets: z.array(marketSchema).min(1) });

/** The deployment as lib/contracts reads it; a ConfigError names what the keeper needs and is missing. */
export function exchangeDeployment(config: KeeperConfig): ExchangeDeployment {
  const parsed = exchangeSchema.safeParse(config.deployment);
  if (parsed.success) {
    return { ...(config.deployment as unknown as ExchangeDeployment), markets: parsed.data.markets };
  }
  throw new ConfigError(
    parsed.error.issues
      .map((issue) => {
        const at = issue.path.join(".");
        const missing = issue.code === "invalid_type" && issue.received === "undefined";
        return `--deployment: ${JSON.stringify(config.deploymentPath)}: ${at} ${missing ? "is required" : issue.message}`;
      })
      .join("\n"),
  );
}

/** A provider for `url` that batches, never caches, times out and assumes the deployment's chain. */
export function createProvider(url: string, chainId: number): JsonRpcProvider {
  const protocol = new URL(url).protocol;
  if (protocol !== "http:" && protocol !== "https:") {
    throw new ConfigError(
      `--rpc-url: ${JSON.stringify(url)}: the keeper speaks JSON-RPC over http(s); use the node's http endpoint`,
    );
  }
  const request = new FetchRequest(url);
  request.timeout = RPC_TIMEOUT_MS;
  const network = Network.from(chainId);
  return new JsonRpcProvider(request, network, {
    staticNetwork: network,
    batchStallTime: RPC_BATCH_STALL_MS,
    batchMaxCount: RPC_BATCH_MAX_COUNT,
    cacheTimeout: -1,
  });
}

/** eth_chainId, retried with backoff while the RPC is unreachable. */
async function chainIdOf(provider: JsonRpcProvider, url: string, log: Logger, signal?: AbortSignal): Promise<bigint> {
  for (let attempt = 0; ; attempt++) {
    try {
      return BigInt((await provider.send("eth_chainId", [])) as string);
    } catch (error) {
      if (!isRpcTransportError(error) || signal?.aborted) throw error;
      const delayMs = backoffDelay(Math.min(attempt, 10), STARTUP_BACKOFF);
      log.warn({ rpcUrl: url, err: error, retryInMs: delayMs }, "RPC unreachable at start; retrying");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      });
      if (signal?.aborted) throw new Error("stopped before the RPC answered");
    }
  }
}

export async function createKeeperApp(
  config: KeeperConfig,
  log: Logger,
  options: KeeperAppOptions = {},
): Promise<KeeperApp> {
  const deployment = exchangeDeployment(config);
  const provider = createProvider(config.rpcUrl, deployment.chainId);
  let ops: OpsServer | undefined;
  try {
    const chainId = await chainIdOf(provider, config.rpcUrl, log, options.signal);
    assertDeploymentChain(config, chainId);
    const wallet = new Wallet(resolveSignerKey(config, chainId), provider);
    if (config.privateKey === undefined) {
      log.info({ address: wallet.address, chainId }, "no --private-key: signing with the local Hardhat keeper account");
    }
    if ((await provider.getCode(deployment.contracts.engine)) === "0x") {
      throw new ConfigError(
        `--deployment: ${JSON.stringify(config.deploymentPath)}: no contract at contracts.engine ` +
          `${deployment.contracts.engine} on chain ${chainId} (was the node restarted since the deployment? deploy again)`,
      );
    }
    const balance = await provider.getBalance(wallet.address);
    if (balance === 0n && !config.dryRun)
      log.warn({ address: wallet.address }, "the keeper's account has no ETH for gas");

    const metrics = new KeeperMetrics(options.metricLabels);
    const hardStop = new AbortController();
    const circuit = new CircuitBreaker({
      failureThreshold: CIRCUIT_FAILURE_THRESHOLD,
      cooldownMs: CIRCUIT_COOLDOWN_MS,
      onStateChange: (from, to) =>
        log[to === "open" ? "warn" : "info"](
          { from, to },
          to === "open" ? "RPC circuit open: sending paused" : `RPC circuit ${to}`,
        ),
    });
    const sender = new TxSender({
      chain: provider,
      signer: wallet,
      chainId,
      circuit,
      log: log.child({ component: "sender" }),
      gasBumpBlocks: config.gasBumpBlocks,
      dryRun: config.dryRun,
      lostRaceErrors: LOST_RACE_ERRORS,
      errors: exchangeErrors(),
      pollMs: config.pollMs,
      onRpcError: () => metrics.rpcErrors.inc(),
      signal: hardStop.signal,
    });
    const exchange = connectExchange(deployment, provider);
    const keeper = new Keeper(exchange, wallet, {
      fromBlock: deployment.deploymentBlock,
      batchSize: config.batchSize,
      dryRun: config.dryRun,
      log,
      metrics,
      transactor: sender,
      clock: (head) => BigInt(Math.max(head.timestamp, Math.floor(Date.now() / 1000))),
    });
    const service = new KeeperService({
      keeper,
      chain: provider,
      circuit,
      log,
      metrics,
      pollMs: config.pollMs,
      idleTickMs: options.idleTickMs,
      onTick: options.onTick,
    });
    if (config.metricsPort !== 0) {
      ops = await startOpsServer({
        metrics,
        maxBlockLag: config.maxBlockLag,
        maxStaleSeconds: config.maxStaleSeconds,
        port: config.metricsPort,
      });
    }
    log.info(
      {
        address: wallet.address,
        chainId,
        rpcUrl: config.rpcUrl,
        deployment: config.deploymentPath,
        fromBlock: deployment.deploymentBlock,
        markets: deployment.markets.map((m) => m.symbol),
        dryRun: config.dryRun,
        batchSize: config.batchSize,
        pollMs: config.pollMs,
        ops: ops?.url,
      },
      "keeper starting",
    );
    let closed: Promise<void> | undefined;
    return {
      keeper,
      service,
      metrics,
      address: wallet.address,
      chainId,
      opsUrl: ops?.url,
      run: () => service.run(),
      stop: () =>
        (closed ??= (async () => {
          await service.stop();
          await ops?.close();
          provider.destroy();
        })()),
      abort: () => hardStop.abort(),
    };
  } catch (error) {
    await ops?.close();
    provider.destroy();
    throw error;
  }
}
