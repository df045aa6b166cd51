/**
 * The keeper as its own process:
 *
 *   npm run keeper -- --rpc-url http://127.0.0.1:8545 --deployment deployments/localhost.json
 *   perpsim-keeper --rpc-url ...        (the package's bin: keeper/bin/perpsim-keeper execs this file)
 *
 * Signals reach this process however it is started: the bin script and `npm run keeper` both `exec`
 * node, so no shell sits between the supervisor (systemd, docker, npm) and the keeper.
 *
 * Flags (each also from a PERP_* variable; --help lists them) are validated before anything starts: a
 * bad value, a deployment file that is missing or incomplete, a chain id that is not the deployment's
 * or a missing key off the local chain prints what is wrong and exits with code 2; so do a metrics
 * port in use, a key that is not a secp256k1 key, no funded local key on chain 31337, and a chain
 * reset under a running keeper that leaves no contract at the engine (one line each, no stack trace).
 *
 * SIGINT / SIGTERM: no new transaction starts, the ones in flight are followed to their receipts, the
 * metrics server closes, exit 0. A second signal, or SHUTDOWN_GRACE_MS without finishing, stops at
 * once (exit 130 / 1).
 */
import { CONFIG_EXIT_CODE, ConfigError, loadConfigOrExit } from "./config";
import type { KeeperApp } from "./app";
import { ChainGoneError } from "./keeper";
import { createLogger } from "./log";

const SHUTDOWN_GRACE_MS = 60_000;
const FORCED_EXIT_CODE = 130;
const FAILURE_EXIT_CODE = 1;

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const log = createLogger({ pretty: config.logPretty });
  const starting = new AbortController();
  let app: KeeperApp | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (app === undefined) {
      starting.abort();
      process.exit(FAILURE_EXIT_CODE);
    }
    if (signals > 1) {
      log.warn({ signal }, "second signal: stopping now, without waiting for transactions in flight");
      app.abort();
      process.exit(FORCED_EXIT_CODE);
    }
    log.info({ signal }, "stopping: finishing the transactions in flight");
    setTimeout(() => {
      log.error({ graceMs: SHUTDOWN_GRACE_MS }, "shutdown took too long; stopping now");
      app?.abort();
      process.exit(FAILURE_EXIT_CODE);
    }, SHUTDOWN_GRACE_MS).unref();
    void app.stop();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    // Loaded after the flags are checked, so a bad flag fails at once, before the contract bindings load.
    const { createKeeperApp } = await import("./app");
    app = await createKeeperApp(config, log, { signal: starting.signal });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`keeper: configuration error\n${error.message}\n`);
    log.flush();
    process.exit(CONFIG_EXIT_CODE);
  }
  try {
    await app.run();
  } catch (error) {
    if (!(error instanceof ChainGoneError)) throw error;
    process.stderr.write(`keeper: ${error.message}\n`);
    app.abort();
    await app.stop();
    log.flush();
    process.exit(CONFIG_EXIT_CODE);
  }
  await app.stop();
  log.flush();
}

main().catch((error: unknown) => {
  process.stderr.write(`keeper: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(FAILURE_EXIT_CODE);
});
