import path from "node:path";
import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";

import { devAccounts } from "./lib/dev-accounts";
import "./tasks";

/** The compiler ships with the `solc` npm package (pinned in package.json); nothing is downloaded. */
const SOLC_VERSION = "0.8.28";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  const solcPackage = require("solc/package.json") as { version: string };
  if (solcPackage.version !== SOLC_VERSION) {
    throw new Error(`solc npm package is ${solcPackage.version}, hardhat.config.ts pins ${SOLC_VERSION}`);
  }
  const compilerPath = path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js");
  return { compilerPath, isSolcJs: true, version: SOLC_VERSION, longVersion: `${SOLC_VERSION}-solcjs` };
});

const SOLC_SETTINGS = { optimizer: { enabled: true, runs: 200 }, evmVersion: "cancun" };

/**
 * The contracts every trade calls besides the engine (the vault's settle, the oracle's index and the spot
 * pool's TWAP behind it), through the IR pipeline for 1,000,000 runs: small contracts, so size is no
 * concern; quick bench: open 174,772 -> 173,398, close 120,352 -> 118,977, liquidate 128,814 -> 127,433.
 * The coin-margined engine's ReciprocalOracle too: 292 gas less per BTCUSD-INV trade.
 */
const HOT_PATH = {
  version: SOLC_VERSION,
  settings: { ...SOLC_SETTINGS, optimizer: { enabled: true, runs: 1_000_000 }, viaIR: true },
};

const config: HardhatUserConfig = {
  solidity: {
    compilers: [{ version: SOLC_VERSION, settings: SOLC_SETTINGS }],
    // The engine alone through the IR pipeline, optimised for 2,000 runs: 2.4k-4.1k gas less per trade
    // (bench: open 209,936 -> 206,065, close 152,819 -> 149,345, liquidate 162,185 -> 159,768), at 22.9 KB
    // (22,885 bytes) of the 24 KB limit, for ~30 s more of a full compile. Besides the hot-path contracts
    // above, every other contract keeps the legacy pipeline.
    overrides: {
      "contracts/core/Vault.sol": HOT_PATH,
      "contracts/oracle/Oracle.sol": HOT_PATH,
      "contracts/oracle/ReciprocalOracle.sol": HOT_PATH,
      "contracts/spot/SpotPool.sol": HOT_PATH,
      "contracts/core/PerpEngine.sol": {
        version: SOLC_VERSION,
        settings: { ...SOLC_SETTINGS, optimizer: { enabled: true, runs: 2_000 }, viaIR: true },
      },
    },
  },
  networks: {
    hardhat: { chainId: 31337, initialBaseFeePerGas: 0, accounts: devAccounts() },
    localhost: { url: process.env.RPC_URL ?? "http://127.0.0.1:8545", chainId: 31337 },
  },
  mocha: { timeout: 300_000, jobs: 2 },
  gasReporter: { enabled: process.env.REPORT_GAS === "1" },
  typechain: { outDir: "typechain-types", target: "ethers-v6" },
};

export default config;
