/**
 * The keeper's operations endpoint (node:http only), bound to 127.0.0.1:
 *   GET /metrics  Prometheus text from the keeper's own registry
 *   GET /health   200 {"status":"ok",...} while the keeper keeps up; 503 while a condition keeps it from
 *                 its job (the RPC unreachable at start, a signer that cannot pay for one batch, a chain
 *                 change being resolved), before the first block is applied, when the keeper lags more
 *                 than maxBlockLag blocks behind the head, or when it has made no progress for more
 *                 than maxStaleSeconds (the RPC is unreachable, or its ticks keep failing: the lag it
 *                 last saw says nothing then). The body's `reason` says which.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { BlockProgress, KeeperMetrics } from "./metrics";

export interface HealthLimits {
  maxBlockLag: number;
  maxStaleSeconds: number;
}

export interface HealthReport {
  healthy: boolean;
  body: {
    status: "ok" | "unhealthy";
    reason?: string;
    lastProgressAgeSeconds?: number;
  } & HealthLimits &
    Partial<BlockProgress>;
}

/**
 * Judges the keeper's progress; pure. `lastProgressAgeSeconds` is the time since the keeper last caught
 * up with the head (KeeperMetrics.observeProgress), undefined if it never has.
 */
export function healthReport(
  progress: BlockProgress | undefined,
  lastProgressAgeSeconds: number | undefined,
  limits: HealthLimits,
  conditions: readonly string[] = [],
): HealthReport {
  const age = lastProgressAgeSeconds === undefined ? {} : { lastProgressAgeSeconds };
  const body = { ...limits, ...age, ...progress };
  if (conditions.length > 0) {
    return { healthy: false, body: { status: "unhealthy", reason: conditions.join("; "), ...body } };
  }
  if (progress === undefined || lastProgressAgeSeconds === undefined) {
    return { healthy: false, body: { status: "unhealthy", reason: "no block processed yet", ...body } };
  }
  // Checked before the lag: a keeper that sees nothing new still reports the lag it last saw.
  if (lastProgressAgeSeconds > limits.maxStaleSeconds) {
    const reason = `stale: no progress for ${lastProgressAgeSeconds} s, more than ${limits.maxStaleSeconds} s`;
    return { healthy: false, body: { status: "unhealthy", reason, ...body } };
  }
  if (progress.blockLag > limits.maxBlockLag) {
    const reason = `block lag ${progress.blockLag} exceeds ${limits.maxBlockLag}`;
    return { healthy: false, body: { status: "unhealthy", reason, ...body } };
  }
  return { healthy: true, body: { status: "ok", ...body } };
}

export interface OpsServerOptions extends HealthLimits {
  metrics: KeeperMetrics;
  /** 0 picks a free port. */
  port: number;
  host?: string;
}

export interface OpsServer {
  /** The port actually bound. */
  port: number;
  url: string;
  /** Stops listening and drops open keep-alive connections. */
  close(): Promise<void>;
}

const LOCALHOST = "127.0.0.1";

/** The metrics port is taken (another keeper, or another service). */
export class PortInUseError extends Error {
  override name = "PortInUseError";
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(`${host}:${port} is already in use`);
  }
}

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const host = options.host ?? LOCALHOST;
  const server = http.createServer((request, response) => {
    respond(request, response, options).catch((error: unknown) => {
      send(response, 500, "text/plain; charset=utf-8", `internal error: ${(error as Error).message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    const refused = (error: NodeJS.ErrnoException) =>
      reject(error.code === "EADDRINUSE" ? new PortInUseError(host, options.port) : error);
    server.once("error", refused);
    server.listen(options.port, host, () => {
      server.off("error", refused);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function respond(
  request: http.IncomingMessage,
  response: http.ServerResponse,
  { metrics, maxBlockLag, maxStaleSeconds }: OpsServerOptions,
): Promise<void> {
  const path = new URL(request.url ?? "/", "http://keeper").pathname;
  if (path !== "/metrics" && path !== "/health") {
    send(response, 404, "text/plain; charset=utf-8", "not found; try /metrics or /health\n");
    return;
  }
  if (request.method !== "GET") {
    response.setHeader("Allow", "GET");
    send(response, 405, "text/plain; charset=utf-8", "method not allowed\n");
    return;
  }
  if (path === "/metrics") {
    send(response, 200, metrics.registry.contentType, await metrics.exposition());
    return;
  }
  const report = healthReport(
    metrics.progress(),
    metrics.lastProgressAgeSeconds(),
    { maxBlockLag, maxStaleSeconds },
    metrics.conditions(),
  );
  send(response, report.healthy ? 200 : 503, "application/json", `${JSON.stringify(report.body)}\n`);
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { "Content-Type": contentType, "Cache-Control": "no-store" });
  response.end(body);
}
