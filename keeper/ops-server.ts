/**
 * The keeper's operations endpoint (node:http only), bound to 127.0.0.1:
 *   GET /metrics  Prometheus text from the keeper's own registry
 *   GET /health   200 {"status":"ok",...} while the block lag is within the bound; 503 before the
 *                 first block is seen or when the keeper lags further behind the head
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { BlockProgress, KeeperMetrics } from "./metrics";

export interface HealthReport {
  healthy: boolean;
  body: {
    status: "ok" | "unhealthy";
    reason?: string;
    maxBlockLag: number;
  } & Partial<BlockProgress>;
}

/** Judges the keeper's progress; pure. */
export function healthReport(progress: BlockProgress | undefined, maxBlockLag: number): HealthReport {
  if (progress === undefined) {
    return { healthy: false, body: { status: "unhealthy", reason: "no block processed yet", maxBlockLag } };
  }
  if (progress.blockLag > maxBlockLag) {
    const reason = `block lag ${progress.blockLag} exceeds ${maxBlockLag}`;
    return { healthy: false, body: { status: "unhealthy", reason, maxBlockLag, ...progress } };
  }
  return { healthy: true, body: { status: "ok", maxBlockLag, ...progress } };
}

export interface OpsServerOptions {
  metrics: KeeperMetrics;
  maxBlockLag: number;
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

export async function startOpsServer(options: OpsServerOptions): Promise<OpsServer> {
  const host = options.host ?? LOCALHOST;
  const server = http.createServer((request, response) => {
    respond(request, response, options).catch((error: unknown) => {
      send(response, 500, "text/plain; charset=utf-8", `internal error: ${(error as Error).message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, host, () => {
      server.off("error", reject);
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
  { metrics, maxBlockLag }: OpsServerOptions,
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
  const report = healthReport(metrics.progress(), maxBlockLag);
  send(response, report.healthy ? 200 : 503, "application/json", `${JSON.stringify(report.body)}\n`);
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { "Content-Type": contentType, "Cache-Control": "no-store" });
  response.end(body);
}
