/**
 * npm run deploy -- --network localhost
 * Deploys a full local exchange (collateral, vault, engine, lens, LP pool, ALT-USD and BTC-USD with
 * spot pools and feeds) with the first signer and writes deployments/<network>.json.
 * `hardhat run` passes no script arguments; the network is the only input.
 */
import path from "node:path";
import hre from "hardhat";
import { deploySystem } from "../lib/deploy";
import { deployToFile, describeDeployment } from "../lib/deployment";

/** The in-process network ends with the script: a record of it would point at nothing. */
const EPHEMERAL_NETWORK = "hardhat";

async function main(): Promise<void> {
  const network = hre.network.name;
  const [deployer] = await hre.ethers.getSigners();
  const file = path.join(hre.config.paths.root, "deployments", `${network}.json`);
  const started = Date.now();
  const exchange = network === EPHEMERAL_NETWORK ? await deploySystem(deployer) : await deployToFile(deployer, file);
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    `Deployed perpsim to network "${network}" (chain ${exchange.deployment.chainId}) from ${deployer.address} in ${seconds} s`,
  );
  for (const line of await describeDeployment(exchange)) console.log(line);
  if (network === EPHEMERAL_NETWORK) {
    console.log(
      `\nNo deployment file written: the in-process "${EPHEMERAL_NETWORK}" network ends with this script.\n` +
        "Start a node (npm run node) and deploy to it: npm run deploy -- --network localhost",
    );
    return;
  }
  console.log(`\nWrote ${path.relative(process.cwd(), file)}`);
  console.log(`Next: npx hardhat perp:faucet --network ${network}, then perp:deposit, perp:open, perp:position`);
}

main().catch((err: unknown) => {
  const known = err instanceof Error && (err.name === "HardhatError" || err.name === "HardhatPluginError");
  console.error(known ? `Error: ${err.message}` : err);
  process.exitCode = 1;
});
