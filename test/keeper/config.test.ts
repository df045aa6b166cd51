import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { HDNodeWallet } from "ethers";
import { expect } from "chai";
import {
  CONFIG_EXIT_CODE,
  ConfigError,
  HARDHAT_CHAIN_ID,
  LOCAL_KEEPER_KEY,
  assertDeploymentChain,
  keeperUsage,
  loadConfigOrExit,
  chooseVenues,
  offeredVenues,
  parseKeeperConfig,
  resolveSignerKey,
} from "../../keeper/config";
import type { CliIo, KeeperConfig } from "../../keeper/config";
import { DEV_KEYS } from "../../lib/dev-accounts";

const VAULT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const KEY = `0x${"ab".repeat(32)}`;

describe("keeper config", () => {
  let dir: string;
  let deploymentFile: string;

  const writeJson = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
  const baseArgs = (): string[] => ["--rpc-url", "http://127.0.0.1:8545", "--deployment", deploymentFile];
  const errorOf = (fn: () => unknown): ConfigError => {
    try {
      fn();
    } catch (error) {
      expect(error).to.be.instanceOf(ConfigError);
      return error as ConfigError;
    }
    throw new Error("expected a ConfigError");
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "keeper-config-"));
    deploymentFile = writeJson(
      "localhost.json",
      JSON.stringify({
        chainId: 31337,
        deploymentBlock: 7,
        contracts: { Vault: VAULT.toLowerCase() },
        markets: [{ symbol: "ALT-USD" }],
      }),
    );
  });

  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  describe("parseKeeperConfig", () => {
    it("reads flags, applies the documented defaults and loads the deployment file", () => {
      const config = parseKeeperConfig(baseArgs(), {});
      expect(config).to.deep.include({
        rpcUrl: "http://127.0.0.1:8545",
        deploymentPath: deploymentFile,
        privateKey: undefined,
        dryRun: false,
        metricsPort: 9464,
        pollMs: 500,
        batchSize: 50,
        logPretty: false,
        gasBumpBlocks: 3,
        maxBlockLag: 10,
        maxStaleSeconds: 30,
      });
      expect(config.deployment.chainId).to.equal(31337);
      expect(config.deployment.deploymentBlock).to.equal(7);
      expect(config.deployment.contracts.Vault, "checksummed").to.equal(VAULT);
      expect(config.deployment.markets, "fields beyond the required ones are kept").to.deep.equal([
        { symbol: "ALT-USD" },
      ]);
    });

    it("reads every option from its PERP_* variable", () => {
      const config = parseKeeperConfig([], {
        PERP_RPC_URL: "ws://node:8546",
        PERP_DEPLOYMENT: deploymentFile,
        PERP_PRIVATE_KEY: KEY,
        PERP_DRY_RUN: "true",
        PERP_METRICS_PORT: "0",
        PERP_POLL_MS: "250",
        PERP_BATCH_SIZE: "100",
        PERP_LOG_PRETTY: "1",
        PERP_GAS_BUMP_BLOCKS: "5",
        PERP_MAX_BLOCK_LAG: "20",
        PERP_MAX_STALE_SECONDS: "45",
      });
      expect(config).to.deep.include({
        rpcUrl: "ws://node:8546",
        privateKey: KEY,
        dryRun: true,
        metricsPort: 0,
        pollMs: 250,
        batchSize: 100,
        logPretty: true,
        gasBumpBlocks: 5,
        maxBlockLag: 20,
        maxStaleSeconds: 45,
      });
    });

    it("lets a flag win over its variable", () => {
      const config = parseKeeperConfig([...baseArgs(), "--batch-size", "7", "--dry-run"], {
        PERP_RPC_URL: "http://elsewhere:1",
        PERP_BATCH_SIZE: "99",
        PERP_DRY_RUN: "false",
      });
      expect(config.rpcUrl).to.equal("http://127.0.0.1:8545");
      expect(config.batchSize).to.equal(7);
      expect(config.dryRun).to.equal(true);
    });

    it("takes --flag=value and treats an empty variable as unset", () => {
      const config = parseKeeperConfig([`--rpc-url=https://rpc.example`, `--deployment=${deploymentFile}`], {
        PERP_PRIVATE_KEY: "",
        PERP_POLL_MS: "",
      });
      expect(config.rpcUrl).to.equal("https://rpc.example");
      expect(config.privateKey).to.equal(undefined);
      expect(config.pollMs).to.equal(500);
    });

    it("names the flag, the value and what is allowed", () => {
      const error = errorOf(() => parseKeeperConfig([...baseArgs(), "--metrics-port", "70000"], {}));
      expect(error.message).to.equal(
        '--metrics-port: "70000" is not allowed; expected an integer from 0 to 65535 (0 turns the metrics server off)',
      );
    });

    it("names the variable when the bad value came from the environment", () => {
      const error = errorOf(() => parseKeeperConfig(baseArgs(), { PERP_POLL_MS: "fast" }));
      expect(error.message).to.equal('PERP_POLL_MS: "fast" is not allowed; expected an integer from 10 to 60000');
    });

    it("bounds --max-stale-seconds to whole seconds from 1 to 3600, naming the flag or variable", () => {
      expect(parseKeeperConfig([...baseArgs(), "--max-stale-seconds", "2"], {}).maxStaleSeconds).to.equal(2);
      const allowed = "expected an integer from 1 to 3600, at least two --poll-ms intervals";
      for (const bad of ["0", "3601", "1.5", "soon"]) {
        expect(errorOf(() => parseKeeperConfig([...baseArgs(), "--max-stale-seconds", bad], {})).message).to.equal(
          `--max-stale-seconds: ${JSON.stringify(bad)} is not allowed; ${allowed}`,
        );
      }
      expect(errorOf(() => parseKeeperConfig(baseArgs(), { PERP_MAX_STALE_SECONDS: "-5" })).message).to.equal(
        `PERP_MAX_STALE_SECONDS: "-5" is not allowed; ${allowed}`,
      );
    });

    it("refuses a --max-stale-seconds shorter than two polls, which would flap on a healthy keeper", () => {
      // 2 polls of 1500 ms = 3 s: a 3 s bound is enough, 2 s is not.
      const withPoll = (stale: string) => [...baseArgs(), "--poll-ms", "1500", "--max-stale-seconds", stale];
      expect(parseKeeperConfig(withPoll("3"), {}).maxStaleSeconds).to.equal(3);
      expect(errorOf(() => parseKeeperConfig(withPoll("2"), {})).message).to.equal(
        '--max-stale-seconds: "2" is not allowed; expected an integer from 1 to 3600, at least two --poll-ms intervals',
      );
      // The default 30 s names the flag to raise when only --poll-ms was set too high for it.
      expect(errorOf(() => parseKeeperConfig([...baseArgs(), "--poll-ms", "20000"], {})).message).to.equal(
        '--max-stale-seconds: "30" is not allowed; expected an integer from 1 to 3600, at least two --poll-ms intervals',
      );
    });

    it("reports every bad option, one per line", () => {
      const error = errorOf(() =>
        parseKeeperConfig(["--batch-size", "0", "--rpc-url", "ftp://x"], { PERP_DRY_RUN: "maybe" }),
      );
      const lines = error.message.split("\n");
      expect(lines).to.have.length(4);
      expect(lines[0]).to.match(
        /^--rpc-url: "ftp:\/\/x" is not allowed; expected an http\(s\):\/\/ or ws\(s\):\/\/ JSON-RPC URL$/,
      );
      expect(lines[1]).to.match(
        /^--deployment \(or PERP_DEPLOYMENT\) is required; expected the path of a deployment JSON file/,
      );
      expect(lines[2]).to.match(/^PERP_DRY_RUN: "maybe" is not allowed; expected a boolean/);
      expect(lines[3]).to.match(/^--batch-size: "0" is not allowed; expected an integer from 1 to 500$/);
    });

    it("never echoes a bad private key", () => {
      const secret = `0x${"12".repeat(31)}`;
      const error = errorOf(() => parseKeeperConfig([...baseArgs(), "--private-key", secret], {}));
      expect(error.message).to.equal(
        "--private-key: (hidden, 64 characters) is not allowed; expected 0x followed by 64 hex digits, a valid secp256k1 key (optional on chain id 31337)",
      );
      expect(error.message).not.to.contain(secret);
    });

    it("refuses an all-zero key and one at or above the curve order in one line, without echoing them", () => {
      const order = "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";
      for (const secret of [`0x${"00".repeat(32)}`, order]) {
        const error = errorOf(() => parseKeeperConfig([...baseArgs(), "--private-key", secret], {}));
        expect(error.message).to.equal(
          "--private-key: (hidden, 66 characters) is not allowed; expected 0x followed by 64 hex digits, a valid secp256k1 key (optional on chain id 31337)",
        );
      }
    });

    it("reads --shard i/n and --takeover-blocks, and refuses a shard index that is not below the count", () => {
      const config = parseKeeperConfig([...baseArgs(), "--shard", "2/3", "--takeover-blocks", "5"], {});
      expect(config.shard).to.deep.equal({ index: 2, count: 3 });
      expect(config.takeoverBlocks).to.equal(5);
      expect(parseKeeperConfig(baseArgs(), {}).shard).to.deep.equal({ index: 0, count: 1 });
      const error = errorOf(() => parseKeeperConfig(baseArgs(), { PERP_SHARD: "3/3" }));
      expect(error.message).to.match(/^PERP_SHARD: "3\/3" is not allowed; expected i\/n with 0 <= i < n <= 64/);
    });

    it("refuses unknown flags and positional arguments", () => {
      expect(errorOf(() => parseKeeperConfig([...baseArgs(), "--batchsize", "5"], {})).message).to.match(
        /^unknown flag --batchsize; allowed flags: --rpc-url, --deployment, /,
      );
      expect(errorOf(() => parseKeeperConfig([...baseArgs(), "extra"], {})).message).to.contain("extra");
      expect(errorOf(() => parseKeeperConfig(["--rpc-url"], {})).message).to.contain("--rpc-url");
    });

    it("says when the deployment file does not exist", () => {
      const missing = path.join(dir, "nope.json");
      const error = errorOf(() => parseKeeperConfig(["--rpc-url", "http://x", "--deployment", missing], {}));
      expect(error.message).to.equal(
        `--deployment: ${JSON.stringify(
          missing,
        )} does not exist; expected the path of a deployment JSON file {chainId, deploymentBlock, contracts}`,
      );
    });

    it("says when the deployment file is not JSON, naming the variable it came from", () => {
      const file = writeJson("broken.json", "{ chainId: 1");
      const error = errorOf(() => parseKeeperConfig(["--rpc-url", "http://x"], { PERP_DEPLOYMENT: file }));
      expect(error.message).to.match(/^PERP_DEPLOYMENT: ".*broken\.json" is not valid JSON \(/);
    });

    it("names each bad field of the deployment file with the value found", () => {
      const file = writeJson(
        "bad-shape.json",
        JSON.stringify({ chainId: "31337", contracts: { Vault: "0x1234", Pool: VAULT } }),
      );
      const error = errorOf(() => parseKeeperConfig(["--rpc-url", "http://x", "--deployment", file], {}));
      const lines = error.message
        .split("\n")
        .map((line) => line.replace(`--deployment: ${JSON.stringify(file)}: `, ""));
      expect(lines).to.deep.equal([
        'chainId: must be a number (got "31337")',
        "deploymentBlock: is required",
        'contracts.Vault: must be 0x followed by 40 hex digits (got "0x1234")',
      ]);
    });

    it("refuses an address with a bad EIP-55 checksum", () => {
      const badChecksum = VAULT.replace("F", "f");
      const file = writeJson(
        "checksum.json",
        JSON.stringify({ chainId: 1, deploymentBlock: 0, contracts: { Vault: badChecksum } }),
      );
      const error = errorOf(() => parseKeeperConfig(["--rpc-url", "http://x", "--deployment", file], {}));
      expect(error.message).to.contain(`contracts.Vault: has a bad EIP-55 checksum (got "${badChecksum}")`);
    });

    describe("--venues", () => {
      const coinFile = () =>
        writeJson(
          "coins.json",
          JSON.stringify({
            chainId: 31337,
            deploymentBlock: 7,
            contracts: { Vault: VAULT },
            coinMargined: [{ asset: "BTC" }, { asset: "ALT" }],
          }),
        );
      const withCoins = (...extra: string[]) => ["--rpc-url", "http://x", "--deployment", coinFile(), ...extra];

      it("serves every venue in the record by default: USD, then each coin-margined exchange's coin", () => {
        expect(parseKeeperConfig(withCoins(), {}).venues).to.deep.equal(["USD", "BTC", "ALT"]);
        expect(parseKeeperConfig(baseArgs(), {}).venues, "a record without coin exchanges").to.deep.equal(["USD"]);
      });

      it("takes a comma-separated list in any case and order, from the flag or PERP_VENUES, in the record's order", () => {
        expect(parseKeeperConfig(withCoins("--venues", "alt, btc,BTC"), {}).venues).to.deep.equal(["BTC", "ALT"]);
        expect(parseKeeperConfig(withCoins(), { PERP_VENUES: "BTC" }).venues).to.deep.equal(["BTC"]);
      });

      it("refuses a venue the record does not offer, naming the ones it does, and a malformed list", () => {
        const error = errorOf(() => parseKeeperConfig(withCoins(), { PERP_VENUES: "USD,ETH" }));
        expect(error.message).to.match(/^PERP_VENUES: ETH not in ".*coins\.json", which offers USD, BTC, ALT$/);
        const malformed = errorOf(() => parseKeeperConfig(withCoins("--venues", "BTC,,ALT"), {}));
        expect(malformed.message).to.match(/^--venues: "BTC,,ALT" is not allowed; expected a comma-separated list/);
      });

      it("chooseVenues and offeredVenues are pure", () => {
        expect(offeredVenues({ chainId: 1, deploymentBlock: 0, contracts: {} })).to.deep.equal(["USD"]);
        expect(chooseVenues(["USD", "BTC"], undefined)).to.deep.equal(["USD", "BTC"]);
        expect(chooseVenues(["USD", "BTC"], ["BTC"])).to.deep.equal(["BTC"]);
        expect(() => chooseVenues(["USD"], ["BTC"])).to.throw(ConfigError, "--venues: BTC not in");
      });
    });
  });

  describe("checks against the chain", () => {
    const config = (overrides: Partial<KeeperConfig> = {}): KeeperConfig => ({
      ...parseKeeperConfig(baseArgs(), {}),
      ...overrides,
    });

    it("uses --private-key on any chain", () => {
      expect(resolveSignerKey(config({ privateKey: KEY }), 1n)).to.equal(KEY);
      expect(resolveSignerKey(config({ privateKey: KEY }), HARDHAT_CHAIN_ID)).to.equal(KEY);
    });

    it("falls back to a local Hardhat key on chain id 31337 only", () => {
      expect(resolveSignerKey(config(), 31337n)).to.equal(LOCAL_KEEPER_KEY);
      expect(() => resolveSignerKey(config(), 11155111n)).to.throw(
        ConfigError,
        "--private-key is required on chain id 11155111",
      );
    });

    it("the local key is account #19 of Hardhat's default mnemonic, as are all 20 development keys", () => {
      const mnemonic = "test test test test test test test test test test test junk";
      const derived = Array.from(
        { length: 20 },
        (_, i) => HDNodeWallet.fromPhrase(mnemonic, undefined, `m/44'/60'/0'/0/${i}`).privateKey,
      );
      expect(DEV_KEYS).to.deep.equal(derived);
      expect(derived[19]).to.equal(LOCAL_KEEPER_KEY);
    });

    it("refuses an RPC that serves another chain than the deployment's", () => {
      expect(() => assertDeploymentChain(config(), 31337n)).not.to.throw();
      expect(() => assertDeploymentChain(config(), 1)).to.throw(
        ConfigError,
        `--deployment: ${JSON.stringify(
          deploymentFile,
        )} is for chain id 31337, but http://127.0.0.1:8545 serves chain id 1`,
      );
    });
  });

  describe("loadConfigOrExit", () => {
    class Exit extends Error {
      constructor(readonly code: number) {
        super(`exit ${code}`);
      }
    }
    const recordingIo = () => {
      const out: string[] = [];
      const err: string[] = [];
      const io: CliIo = {
        exit: (code) => {
          throw new Exit(code);
        },
        print: (text) => void out.push(text),
        printError: (text) => void err.push(text),
      };
      return { io, out, err };
    };
    const exitCode = (fn: () => unknown): number => {
      try {
        fn();
      } catch (error) {
        if (error instanceof Exit) return error.code;
        throw error;
      }
      throw new Error("expected an exit");
    };

    it("returns the config when it is valid", () => {
      const { io, err } = recordingIo();
      expect(loadConfigOrExit(baseArgs(), {}, io).batchSize).to.equal(50);
      expect(err).to.deep.equal([]);
    });

    it("prints the problem and exits with code 2", () => {
      const { io, err } = recordingIo();
      expect(exitCode(() => loadConfigOrExit(["--rpc-url", "http://x"], {}, io)))
        .to.equal(CONFIG_EXIT_CODE)
        .and.to.equal(2);
      expect(err).to.have.length(1);
      expect(err[0]).to.contain("--deployment (or PERP_DEPLOYMENT) is required");
    });

    it("prints the usage for --help and exits with code 0", () => {
      const { io, out } = recordingIo();
      expect(exitCode(() => loadConfigOrExit(["--help"], {}, io))).to.equal(0);
      expect(out).to.deep.equal([keeperUsage()]);
      for (const flag of [
        "--rpc-url",
        "--deployment",
        "--private-key",
        "--dry-run",
        "--metrics-port",
        "--poll-ms",
        "--batch-size",
        "--log-pretty",
        "--gas-bump-blocks",
        "--max-block-lag",
        "--max-stale-seconds",
      ]) {
        expect(out[0]).to.contain(flag);
      }
    });

    it("exits with code 2 when the deployment path cannot be read (a directory)", () => {
      const { io, err } = recordingIo();
      const directory = fs.mkdtempSync(path.join(dir, "a-directory-"));
      expect(exitCode(() => loadConfigOrExit(["--rpc-url", "http://x", "--deployment", directory], {}, io))).to.equal(
        2,
      );
      expect(err[0]).to.contain(`--deployment: ${JSON.stringify(directory)} cannot be read`);
    });
  });
});
