/**
 * Assembles a running keeper from its configuration, as the CLI does (keeper/main.ts) and as the
 * end-to-end tests do in-process: the metrics / health server first (so /health answers, 503 with the
 * reason, while the RPC is unreachable at start), the JSON-RPC provider, the checks against the chain
 * (chain id, signer key and its funds, contract code), the TxSender with its nonce manager and RPC
 * circuit, one Keeper engine per venue (--venues: the USD-margined exchange and each coin-margined one
 * in the deployment), and the block loop that ticks them all.
 *
 * What the venues share: the provider, the signer and its one TxSender (one nonce manager for one key:
 * two senders would hand out the same nonces), the RPC circuit, the funds check, the metrics / health
 * server (each venue's series and progress labelled with its name) and the block loop. What each has of
 * its own: its contracts, its indexer (its reorg and chain-reset handling, on its engine), its book and
 * its jobs.
 *
 * The provider batches: calls issued in the same few milliseconds (a tick's market reads, the lens
 * chunks) go out as one JSON-RPC batch of at most RPC_BATCH_MAX_COUNT requests, and nothing is cached,
 * so every read is of the chain now. Each request times out after RPC_TIMEOUT_MS, so a node that stops
 * answering looks like one that is down.
 */
import { setMaxListeners } from "node:events";
import { FetchRequest, JsonRpcProvider, Network, Wallet, formatEther } from "ethers";
import { z } from "zod";
import { coinVenue, connectExchange } from "../lib/contracts";
import type { Deployment as ExchangeDeployment } from "../lib/contracts";
import { CircuitBreaker } from "./chain/circuit";
import { isRpcTransportError } from "./chain/errors";
import { backoffDelay } from "./chain/retry";
import { TxSender } from "./chain/sender";
import { ConfigError, HARDHAT_CHAIN_ID, LOCAL_KEEPER_KEYS, USD_VENUE, assertDeploymentChain } from "./config";
import type { KeeperConfig } from "./config";
import { Keeper } from "./keeper";
import type { TickReport } from "./keeper";
import type { Logger } from "./log";
import { KeeperMetrics } from "./metrics";
import { LIQUIDATE_MANY_BASE_GAS, LIQUIDATION_GAS_PER_POSITION, TX_GAS_CAP } from "./jobs/liquidations";
import { PortInUseError, startOpsServer } from "./ops-server";
import type { OpsServer } from "./ops-server";
import { KeeperService } from "./service";
import type { ServedVenue } from "./service";
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
/** How often the signer's balance is checked against the cost of one batch (every tick while it cannot pay). */
const FUNDS_CHECK_MS = 10_000;
const FUNDS_RECHECK_MS = 1_000;
/** The fee a batch is priced at: the node's maxFeePerGas quote times this margin, in percent. */
const FUNDS_FEE_MARGIN_PERCENT = 150n;
/** Transactions one keeper may follow at once (each listens to the hard-stop signal). */
const MAX_TRANSACTIONS_IN_FLIGHT = 1_000;
/** /health condition names. */
const CONDITION = { rpc: "rpc", funds: "funds", chain: "chain" } as const;

export interface KeeperAppOptions {
  /** Aborts waiting for the RPC at start. */
  signal?: AbortSignal;
  /** Labels on every metric, to tell keepers apart. */
  metricLabels?: Record<string, string>;
  idleTickMs?: number;
  onTick?: (report: TickReport, venue: string) => void;
  /** How long a reset chain may have no code at the engine before the keeper stops (the Keeper's default). */
  resetGraceMs?: number;
}

export interface KeeperApp {
  /** The first venue's keeper (USD's, unless --venues leaves it out). */
  keeper: Keeper;
  /** Every venue served, in --venues order (USD first, then the coins in the record's order). */
  venues: readonly ServedVenue[];
  /** The keeper of venue `name`; throws for one not served. */
  keeperOf(name: string): Keeper;
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
const coinExchangesSchema = z.object({
  coinMargined: z.array(exchangeSchema.extend({ asset: z.string().min(1) }).passthrough()).optional(),
});

/** The deployment as lib/contracts reads it; a ConfigError names what the keeper needs and is missing. */
export function exchangeDeployment(config: KeeperConfig): ExchangeDeployment {
  const parsed = exchangeSchema.and(coinExchangesSchema).safeParse(config.deployment);
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

/** Each venue to serve (config.venues) with its exchange as a deployment of its own. */
export function venueDeployments(config: KeeperConfig): { name: string; deployment: ExchangeDeployment }[] {
  const deployment = exchangeDeployment(config);
  return config.venues.map((name) => ({
    name,
    deployment: name === USD_VENUE ? deployment : coinVenue(deployment, name),
  }));
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

/** eth_chainId, retried with backoff while the RPC is unreachable (a /health condition meanwhile). */
async function chainIdOf(
  provider: JsonRpcProvider,
  url: string,
  log: Logger,
  metrics: KeeperMetrics,
  signal?: AbortSignal,
): Promise<bigint> {
  for (let attempt = 0; ; attempt++) {
    try {
      const chainId = BigInt((await provider.send("eth_chainId", [])) as string);
      metrics.setCondition(CONDITION.rpc, undefined);
      return chainId;
    } catch (error) {
      if (!isRpcTransportError(error) || signal?.aborted) throw error;
      const delayMs = backoffDelay(Math.min(attempt, 10), STARTUP_BACKOFF);
      metrics.setCondition(
        CONDITION.rpc,
        `RPC ${url} unreachable at start (${(error as Error).message.split("\n")[0]}); retrying`,
      );
      // The first failure at warn, the retries at debug: one line per outage, not one per attempt.
      log[attempt === 0 ? "warn" : "debug"](
        { rpcUrl: url, err: error, retryInMs: delayMs },
        "RPC unreachable at start; retrying",
      );
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delayMs);
        signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
      });
      if (signal?.aborted) throw new Error("stopped before the RPC answered");
    }
  }
}

/** Gas one liquidateMany batch of `batchSize` may use (its budget, as the liquidation job sets it). */
export function batchGas(batchSize: number): bigint {
  const budget = LIQUIDATE_MANY_BASE_GAS + LIQUIDATION_GAS_PER_POSITION * BigInt(batchSize);
  return budget < TX_GAS_CAP ? budget : TX_GAS_CAP;
}

/** Why a signer with `balance` wei cannot pay for one batch at `feePerGas`, or undefined if it can. */
export function fundsProblem(
  address: string,
  balance: bigint,
  batchSize: number,
  feePerGas: bigint,
): string | undefined {
  const cost = (batchGas(batchSize) * feePerGas * FUNDS_FEE_MARGIN_PERCENT) / 100n;
  if (balance >= cost) return undefined;
  return (
    `signer ${address} has ${formatEther(balance)} ETH, less than one liquidateMany(${batchSize}) batch ` +
    `(${formatEther(cost)} ETH at ${feePerGas} wei/gas): fund it or use another --private-key`
  );
}

/** The node's fee per gas for a new transaction: maxFeePerGas where quoted, else gasPrice. */
async function feePerGas(provider: JsonRpcProvider): Promise<bigint> {
  const fees = await provider.getFeeData();
  return fees.maxFeePerGas ?? fees.gasPrice ?? 0n;
}

/**
 * The key the keeper signs with: --private-key; on chain 31337 without it, the first local key that
 * can pay for a batch (Hardhat's #19, then #9, which anvil funds too). Refuses (ConfigError, exit 2)
 * when none can, naming --private-key.
 */
async function chooseSigner(config: KeeperConfig, chainId: bigint, provider: JsonRpcProvider, log: Logger) {
  if (config.privateKey !== undefined) return new Wallet(config.privateKey, provider);
  if (chainId !== BigInt(HARDHAT_CHAIN_ID)) throw new ConfigError(`--private-key is required on chain id ${chainId}`);
  const fee = await feePerGas(provider);
  const tried: string[] = [];
  for (const local of LOCAL_KEEPER_KEYS) {
    const wallet = new Wallet(local.key, provider);
    const balance = await provider.getBalance(wallet.address);
    if (config.dryRun || fundsProblem(wallet.address, balance, config.batchSize, fee) === undefined) {
      log.info({ address: wallet.address, key: local.name, chainId }, "no --private-key: signing with a local key");
      return wallet;
    }
    tried.push(`${local.name} ${wallet.address} has ${formatEther(balance)} ETH`);
  }
  throw new ConfigError(
    `--private-key is required: no local key can pay for a liquidateMany(${config.batchSize}) batch on chain ` +
      `${chainId} (${tried.join("; ")}); pass a funded key with --private-key or PERP_PRIVATE_KEY`,
  );
}

/** A ConfigError unless the venue's engine has code on the chain (a node restarted since the deployment). */
async function assertEngineCode(
  provider: JsonRpcProvider,
  config: KeeperConfig,
  venue: { name: string; deployment: ExchangeDeployment },
  chainId: bigint,
): Promise<void> {
  const engine = venue.deployment.contracts.engine;
  if ((await provider.getCode(engine)) !== "0x") return;
  const at = venue.name === USD_VENUE ? "contracts.engine" : `the ${venue.name} exchange's contracts.engine`;
  throw new ConfigError(
    `--deployment: ${JSON.stringify(config.deploymentPath)}: no contract at ${at} ` +
      `${engine} on chain ${chainId} (was the node restarted since the deployment? deploy again)`,
  );
}

/** The metrics server, or a one-line ConfigError when its port is taken. */
async function startOps(config: KeeperConfig, metrics: KeeperMetrics): Promise<OpsServer | undefined> {
  if (config.metricsPort === 0) return undefined;
  try {
    return await startOpsServer({
      metrics,
      maxBlockLag: config.maxBlockLag,
      maxStaleSeconds: config.maxStaleSeconds,
      port: config.metricsPort,
    });
  } catch (error) {
    if (!(error instanceof PortInUseError)) throw error;
    throw new ConfigError(
      `--metrics-port: ${error.port} is already in use on ${error.host} (another keeper?); ` +
        `choose another port (PERP_METRICS_PORT), or 0 to turn the metrics server off`,
    );
  }
}

export async function createKeeperApp(
  config: KeeperConfig,
  log: Logger,
  options: KeeperAppOptions = {},
): Promise<KeeperApp> {
  const venues = venueDeployments(config);
  const { chainId: deploymentChainId, deploymentBlock } = venues[0].deployment;
  const provider = createProvider(config.rpcUrl, deploymentChainId);
  const metrics = new KeeperMetrics(options.metricLabels);
  // Each venue's series exist (at zero) before /health first answers.
  for (const venue of venues) metrics.venue(venue.name);
  let ops: OpsServer | undefined;
  try {
    ops = await startOps(config, metrics);
    const chainId = await chainIdOf(provider, config.rpcUrl, log, metrics, options.signal);
    assertDeploymentChain(config, chainId);
    const wallet = await chooseSigner(config, chainId, provider, log);
    for (const venue of venues) await assertEngineCode(provider, config, venue, chainId);
    // Checked every FUNDS_CHECK_MS, and every FUNDS_RECHECK_MS while the signer cannot pay.
    let fundsShort: string | undefined;
    let fundsCheckedAt = -Infinity;
    const checkFunds = async () => {
      if (config.dryRun) return;
      if (Date.now() - fundsCheckedAt < (fundsShort === undefined ? FUNDS_CHECK_MS : FUNDS_RECHECK_MS)) return;
      fundsCheckedAt = Date.now();
      const [balance, fee] = await Promise.all([provider.getBalance(wallet.address), feePerGas(provider)]);
      const problem = fundsProblem(wallet.address, balance, config.batchSize, fee);
      if (problem !== undefined && fundsShort === undefined) log.error({ address: wallet.address, balance }, problem);
      if (problem === undefined && fundsShort !== undefined) {
        log.info({ address: wallet.address, balance }, "signer funded: it can pay for a batch again");
      }
      fundsShort = problem;
      metrics.setCondition(CONDITION.funds, problem);
    };
    await checkFunds();

    const hardStop = new AbortController();
    // Every transaction in flight waits on this signal: a round of batches adds as many listeners.
    setMaxListeners(MAX_TRANSACTIONS_IN_FLIGHT, hardStop.signal);
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
    const served: ServedVenue[] = venues.map(({ name, deployment }) => {
      const venueLog = log.child({ venue: name });
      const keeper = new Keeper(connectExchange(deployment, provider), wallet, {
        fromBlock: deployment.deploymentBlock,
        batchSize: config.batchSize,
        dryRun: config.dryRun,
        log: venueLog,
        metrics: metrics.venue(name),
        // One sender for every venue: one nonce manager for the one key.
        transactor: sender,
        clock: (head) => BigInt(Math.max(head.timestamp, Math.floor(Date.now() / 1000))),
        logPageSize: config.logRange,
        shard: config.shard,
        takeoverBlocks: config.takeoverBlocks,
        onChainChange: (reason) =>
          metrics.setCondition(`${CONDITION.chain}:${name}`, reason === undefined ? undefined : `${name}: ${reason}`),
        ...(options.resetGraceMs === undefined ? {} : { resetGraceMs: options.resetGraceMs }),
      });
      return { name, keeper, metrics: metrics.venue(name), log: venueLog };
    });
    const service = new KeeperService({
      venues: served,
      chain: provider,
      circuit,
      log,
      metrics,
      pollMs: config.pollMs,
      idleTickMs: options.idleTickMs,
      onTick: options.onTick,
      beforeTick: checkFunds,
      onFatal: (error) => {
        // The venues' pending chain changes end in this one reason.
        for (const { name } of venues) metrics.setCondition(`${CONDITION.chain}:${name}`, undefined);
        metrics.setCondition(CONDITION.chain, error.message);
      },
    });
    log.info(
      {
        address: wallet.address,
        chainId,
        rpcUrl: config.rpcUrl,
        deployment: config.deploymentPath,
        fromBlock: deploymentBlock,
        venues: Object.fromEntries(venues.map((v) => [v.name, v.deployment.markets.map((m) => m.symbol)])),
        dryRun: config.dryRun,
        batchSize: config.batchSize,
        pollMs: config.pollMs,
        shard: `${config.shard.index}/${config.shard.count}`,
        ops: ops?.url,
      },
      "keeper starting",
    );
    let closed: Promise<void> | undefined;
    return {
      keeper: served[0].keeper,
      venues: served,
      keeperOf: (name) => {
        const venue = served.find((v) => v.name === name.toUpperCase());
        if (venue === undefined) throw new Error(`venue ${name} not served; serving ${config.venues.join(", ")}`);
        return venue.keeper;
      },
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
