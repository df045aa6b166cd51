/**
 * The keeper's operations endpoint (node:http only), bound to 127.0.0.1:
 *   GET /metrics  Prometheus text from the keeper's own registry (a `venue` label on each venue's series)
 *   GET /health   200 {"status":"ok",...} while the keeper keeps up on every venue it serves; 503 while a
 *                 condition keeps it from its job (the RPC unreachable at start, a signer that cannot pay
 *                 for one batch, a chain change being resolved), or when a venue has applied no block
 *                 yet, lags more than maxBlockLag blocks behind the head, or has made no progress for
 *                 more than maxStaleSeconds (the RPC is unreachable, or its ticks keep failing: the lag it
 *                 last saw says nothing then). The body's `reason` says which, each venue's prefixed with
 *                 its name ("BTC: stale: ..."); `venues` has each venue's own report, and the top-level
 *                 progress is the slowest venue's (lowest last block, largest lag and age).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { BlockProgress, KeeperMetrics, VenueMetrics } from "./metrics";

const NOTHING_YET = "no block processed yet";

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
    return { healthy: false, body: { status: "unhealthy", reason: NOTHING_YET, ...body } };
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

/** One venue's report in /health's `venues`. */
export type VenueHealth = {
  status: "ok" | "unhealthy";
  reason?: string;
  lastProgressAgeSeconds?: number;
} & Partial<BlockProgress>;

export interface KeeperHealthReport {
  healthy: boolean;
  body: HealthReport["body"] & { venues: Record<string, VenueHealth> };
}

/** One venue's progress as /health judges it. */
export interface VenueProgress {
  name: string;
  progress: BlockProgress | undefined;
  lastProgressAgeSeconds: number | undefined;
}

/**
 * Judges a keeper that serves several venues; pure. Healthy when no condition holds and every venue is
 * (healthReport); the reasons are the conditions', else each unhealthy venue's, prefixed with its name.
 */
export function keeperHealth(
  venues: readonly VenueProgress[],
  limits: HealthLimits,
  conditions: readonly string[] = [],
): KeeperHealthReport {
  const byVenue: Record<string, VenueHealth> = {};
  const reasons: string[] = [];
  for (const venue of venues) {
    const { body } = healthReport(venue.progress, venue.lastProgressAgeSeconds, limits);
    const age = venue.lastProgressAgeSeconds;
    byVenue[venue.name] = {
      status: body.status,
      ...(body.reason === undefined ? {} : { reason: body.reason }),
      ...(age === undefined ? {} : { lastProgressAgeSeconds: age }),
      ...venue.progress,
    };
    if (body.reason !== undefined) reasons.push(`${venue.name}: ${body.reason}`);
  }
  if (venues.length === 0) reasons.push(NOTHING_YET);
  const all = conditions.length > 0 ? [...conditions] : reasons;
  const slowest = slowestOf(venues);
  const status = all.length === 0 ? ("ok" as const) : ("unhealthy" as const);
  const reason = all.length === 0 ? {} : { reason: all.join("; ") };
  return { healthy: all.length === 0, body: { status, ...reason, ...limits, ...slowest, venues: byVenue } };
}

/** The lowest last block, the highest head, the largest lag and age over the venues that have them. */
function slowestOf(venues: readonly VenueProgress[]): Partial<BlockProgress> & { lastProgressAgeSeconds?: number } {
  const progress = venues.map((v) => v.progress);
  const ages = venues.map((v) => v.lastProgressAgeSeconds);
  const known = progress.filter((p): p is BlockProgress => p !== undefined);
  const knownAges = ages.filter((a): a is number => a !== undefined);
  return {
    ...(knownAges.length === 0 ? {} : { lastProgressAgeSeconds: Math.max(...knownAges) }),
    ...(known.length === 0
      ? {}
      : {
          lastBlock: Math.min(...known.map((p) => p.lastBlock)),
          headBlock: Math.max(...known.map((p) => p.headBlock)),
          blockLag: Math.max(...known.map((p) => p.blockLag)),
        }),
  };
}

/** A venue's metrics as keeperHealth reads them. */
export function venueProgress(venue: VenueMetrics): VenueProgress {
  return { name: venue.name, progress: venue.progress(), lastProgressAgeSeconds: venue.lastProgressAgeSeconds() };
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
  const report = keeperHealth(
    metrics.venues().map(venueProgress),
    { maxBlockLag, maxStaleSeconds },
    metrics.conditions(),
  );
  send(response, report.healthy ? 200 : 503, "application/json", `${JSON.stringify(report.body)}\n`);
}

function send(response: http.ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { "Content-Type": contentType, "Cache-Control": "no-store" });
  response.end(body);
}
