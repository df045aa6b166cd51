/**
 * The deployment record on disk: `npm run deploy` writes it, the tasks and the keeper read it
 * (lib/contracts.ts readDeployment). One function deploys and records, so the deploy script and the
 * tests that exercise the tasks run the same code.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Signer } from "ethers";
import type { Deployment, Exchange } from "./contracts";
import { deploySystem, DEFAULT_SYSTEM, type SystemSpec } from "./deploy";
import * as f from "./format";

/** Writes the record as pretty JSON, creating the directory. */
export function writeDeployment(file: string, deployment: Deployment): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(deployment, null, 2) + "\n");
}

/** Deploys a full exchange with `deployer` and writes its record to `file`. */
export async function deployToFile(
  deployer: Signer,
  file: string,
  spec: SystemSpec = DEFAULT_SYSTEM,
): Promise<Exchange> {
  const exchange = await deploySystem(deployer, spec);
  writeDeployment(file, exchange.deployment);
  return exchange;
}

/** A short human summary of a fresh deployment: addresses, markets with their prices, pool and fund. */
export async function describeDeployment(exchange: Exchange): Promise<string[]> {
  const d = exchange.deployment;
  const c = d.contracts;
  const [poolAssets, insurance] = await Promise.all([exchange.vault.poolAssets(), exchange.vault.insuranceFund()]);
  const lines = f.panel([
    ["collateral", c.collateral],
    ["vault", c.vault],
    ["engine", c.engine],
    ["lens", c.lens],
    ["order book", c.orderBook],
    ["LP pool", c.pool],
    ["oracle", c.oracle],
  ]);
  const rows = [["market", "id", "index", "spot", "sources", "spot pool"]];
  for (const m of exchange.markets.values()) {
    const [view, spot] = await Promise.all([exchange.lens.market(m.marketId), m.spotPool.spotPrice()]);
    rows.push([
      m.symbol,
      String(m.marketId),
      f.price(view.indexPrice),
      f.price(spot),
      `${m.pushedFeeds.length} pushed + spot TWAP`,
      await m.spotPool.getAddress(),
    ]);
  }
  return [
    ...lines,
    "",
    ...f.table(rows).map((l) => `  ${l}`),
    "",
    `  LP pool ${f.usd(poolAssets)}, insurance fund ${f.usd(insurance)}; deployment block ${d.deploymentBlock}, chain ${
      d.chainId
    }`,
  ];
}
