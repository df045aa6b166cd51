/**
 * The keeper's configuration: CLI flags and PERP_* environment variables (a flag wins over its
 * variable), validated with zod into a typed `KeeperConfig`, plus the deployment file it names.
 *
 * Every problem becomes a `ConfigError` whose message names the flag or variable the value came
 * from, the value (never a private key's) and what is allowed. `loadConfigOrExit` is the CLI's
 * shell around it: it prints the error and exits with code 2.
 *
 * Checks that need the chain (the deployment's chain id, the default signer) are separate helpers
 * the keeper calls once it has connected.
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { SigningKey, getAddress } from "ethers";
import { z } from "zod";
import { DEV_KEYS } from "../lib/dev-accounts";

/** Bad configuration; the message has one line per problem. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** The chain id of Hardhat's network, the only one where the keeper may pick its own key. */
export const HARDHAT_CHAIN_ID = 31337;
/**
 * Account #19 of Hardhat's default mnemonic ("test test ... junk"): a well-known local key, and
 * not account #0, which deploys and pushes prices, so the keeper's nonces never collide with them.
 */
export const LOCAL_KEEPER_KEY = DEV_KEYS[19];
/**
 * The local keys the keeper may pick on chain 31337, in order: Hardhat's #19 (`hardhat node` funds 20
 * accounts), then #9 of the same mnemonic (anvil funds 10). The first that can pay for a batch signs.
 */
export const LOCAL_KEEPER_KEYS = [
  { name: "Hardhat account #19", key: LOCAL_KEEPER_KEY },
  {
    name: "account #9 (anvil's last funded)",
    key: DEV_KEYS[9],
  },
] as const;
/** Exit code of a keeper that refuses to start because of its configuration. */
export const CONFIG_EXIT_CODE = 2;

interface OptionSpec {
  flag: string;
  env: string;
  boolean?: true;
  /** Shown in errors and in --help. */
  allowed: string;
  /** Used when neither the flag nor the variable is set (as the text a user would type). */
  fallback?: string;
  /** Never echoed in an error message. */
  secret?: true;
}

const OPTIONS = {
  rpcUrl: { flag: "rpc-url", env: "PERP_RPC_URL", allowed: "an http(s):// or ws(s):// JSON-RPC URL" },
  deployment: {
    flag: "deployment",
    env: "PERP_DEPLOYMENT",
    allowed: "the path of a deployment JSON file {chainId, deploymentBlock, contracts}",
  },
  privateKey: {
    flag: "private-key",
    env: "PERP_PRIVATE_KEY",
    allowed: "0x followed by 64 hex digits, a valid secp256k1 key (optional on chain id 31337)",
    secret: true,
  },
  shard: {
    flag: "shard",
    env: "PERP_SHARD",
    allowed: "i/n with 0 <= i < n <= 64: liquidate the positions whose id is i modulo n",
    fallback: "0/1",
  },
  takeoverBlocks: {
    flag: "takeover-blocks",
    env: "PERP_TAKEOVER_BLOCKS",
    allowed:
      "an integer from 1 to 10000: blocks another shard's position stays liquidatable before this keeper takes it",
    fallback: "3",
  },
  logRange: {
    flag: "log-range",
    env: "PERP_LOG_RANGE",
    allowed: "an integer from 1 to 100000: blocks per eth_getLogs (halved while the node refuses a range)",
    fallback: "2000",
  },
  dryRun: {
    flag: "dry-run",
    env: "PERP_DRY_RUN",
    boolean: true,
    allowed: "a boolean: 1/0, true/false, yes/no",
    fallback: "false",
  },
  metricsPort: {
    flag: "metrics-port",
    env: "PERP_METRICS_PORT",
    allowed: "an integer from 0 to 65535 (0 turns the metrics server off)",
    fallback: "9464",
  },
  pollMs: { flag: "poll-ms", env: "PERP_POLL_MS", allowed: "an integer from 10 to 60000", fallback: "500" },
  batchSize: { flag: "batch-size", env: "PERP_BATCH_SIZE", allowed: "an integer from 1 to 500", fallback: "50" },
  logPretty: {
    flag: "log-pretty",
    env: "PERP_LOG_PRETTY",
    boolean: true,
    allowed: "a boolean: 1/0, true/false, yes/no",
    fallback: "false",
  },
  gasBumpBlocks: {
    flag: "gas-bump-blocks",
    env: "PERP_GAS_BUMP_BLOCKS",
    allowed: "an integer from 1 to 1000",
    fallback: "3",
  },
  maxBlockLag: {
    flag: "max-block-lag",
    env: "PERP_MAX_BLOCK_LAG",
    allowed: "an integer from 1 to 10000",
    fallback: "10",
  },
  venues: {
    flag: "venues",
    env: "PERP_VENUES",
    allowed:
      "a comma-separated list of the venues to serve: USD (the USD-margined exchange) and the coins of the " +
      "deployment's coin-margined exchanges (BTC, ALT); every venue in the deployment when not given",
  },
  maxStaleSeconds: {
    flag: "max-stale-seconds",
    env: "PERP_MAX_STALE_SECONDS",
    allowed: "an integer from 1 to 3600, at least two --poll-ms intervals",
    fallback: "30",
  },
} as const satisfies Record<string, OptionSpec>;

type OptionKey = keyof typeof OPTIONS;
const OPTION_KEYS = Object.keys(OPTIONS) as OptionKey[];

const RPC_PROTOCOLS = new Set(["http:", "https:", "ws:", "wss:"]);
const PRIVATE_KEY = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const TRUE_TEXT = new Set(["1", "true", "yes", "on"]);
const FALSE_TEXT = new Set(["0", "false", "no", "off"]);
const MS_PER_SECOND = 1_000;
const VENUE_LIST = /^\s*[A-Za-z][A-Za-z0-9]*\s*(,\s*[A-Za-z][A-Za-z0-9]*\s*)*$/;
/** The venue name of a deployment's top-level, USD-margined exchange. */
export const USD_VENUE = "USD";
/** A keeper polls the head once per interval, so a bound of fewer intervals would flap on a healthy keeper. */
const MIN_POLLS_PER_STALE_BOUND = 2;

/* SCHEMAS */

function integerText(min: number, max: number) {
  return z.string().regex(/^\d+$/).transform(Number).pipe(z.number().int().min(min).max(max));
}

/** A flag's presence arrives as `true`; a variable as text. */
const booleanInput = z.union([
  z.boolean(),
  z
    .string()
    .transform((text) => text.trim().toLowerCase())
    .refine((text) => TRUE_TEXT.has(text) || FALSE_TEXT.has(text))
    .transform((text) => TRUE_TEXT.has(text)),
]);

/** A secp256k1 private key: 32 bytes, not zero, below the curve order (SigningKey refuses the rest). */
function isSigningKey(text: string): boolean {
  try {
    return new SigningKey(text).publicKey.length > 0;
  } catch {
    return false;
  }
}

const MAX_SHARDS = 64;
const shardInput = z
  .string()
  .regex(/^\d+\/\d+$/)
  .transform((text) => {
    const [index, count] = text.split("/").map(Number);
    return { index, count };
  })
  .refine(({ index, count }) => count >= 1 && count <= MAX_SHARDS && index < count);

const optionsSchema = z.object({
  rpcUrl: z.string().refine((text) => {
    try {
      return RPC_PROTOCOLS.has(new URL(text).protocol);
    } catch {
      return false;
    }
  }),
  deployment: z.string().min(1),
  privateKey: z.string().regex(PRIVATE_KEY).refine(isSigningKey).optional(),
  shard: shardInput,
  takeoverBlocks: integerText(1, 10_000),
  logRange: integerText(1, 100_000),
  dryRun: booleanInput,
  metricsPort: integerText(0, 65_535),
  pollMs: integerText(10, 60_000),
  batchSize: integerText(1, 500),
  logPretty: booleanInput,
  gasBumpBlocks: integerText(1, 1_000),
  maxBlockLag: integerText(1, 10_000),
  maxStaleSeconds: integerText(1, 3_600),
  venues: z
    .string()
    .regex(VENUE_LIST)
    .transform((text) => [...new Set(text.split(",").map((name) => name.trim().toUpperCase()))])
    .optional(),
});

/** Relations between options, checked once each one is valid on its own. */
const configSchema = optionsSchema.refine(
  ({ maxStaleSeconds, pollMs }) => maxStaleSeconds * MS_PER_SECOND >= MIN_POLLS_PER_STALE_BOUND * pollMs,
  { path: ["maxStaleSeconds"] },
);

const addressSchema = z
  .string({ invalid_type_error: "must be an address string" })
  .superRefine((text, context) => {
    if (!ADDRESS.test(text)) context.addIssue({ code: "custom", message: "must be 0x followed by 40 hex digits" });
    else if (!hasValidChecksum(text)) context.addIssue({ code: "custom", message: "has a bad EIP-55 checksum" });
  })
  .transform((text) => getAddress(text));

/** All-lowercase and all-uppercase addresses carry no checksum; mixed case must match EIP-55. */
function hasValidChecksum(address: string): boolean {
  try {
    getAddress(address);
    return true;
  } catch {
    return false;
  }
}

/** The fields the keeper needs; anything else in the file is kept as it is. */
const deploymentSchema = z
  .object({
    chainId: z.number({ required_error: "is required", invalid_type_error: "must be a number" }).int().positive(),
    deploymentBlock: z
      .number({ required_error: "is required", invalid_type_error: "must be a number" })
      .int()
      .nonnegative(),
    contracts: z.record(z.string(), addressSchema, {
      required_error: "is required",
      invalid_type_error: "must be an object of name: address",
    }),
  })
  .passthrough();

/** A deployment file; contract addresses are checksummed. */
export type Deployment = z.infer<typeof deploymentSchema>;

export type KeeperConfig = Omit<z.infer<typeof optionsSchema>, "deployment" | "venues"> & {
  deploymentPath: string;
  deployment: Deployment;
  /** The venues to serve, each offered by the deployment: USD first, then the coins in the record's order. */
  venues: string[];
};

/* PARSING */

type RawValue = string | boolean | undefined;
type Source = "flag" | "env" | "default";

/**
 * Reads the keeper's configuration from `argv` (the arguments after the script, as in
 * `process.argv.slice(2)`) and `env`, and loads the deployment file. Throws ConfigError.
 */
export function parseKeeperConfig(argv: readonly string[], env: NodeJS.ProcessEnv): KeeperConfig {
  const flags = readFlags(argv);
  const raw: Partial<Record<OptionKey, RawValue>> = {};
  const sources: Partial<Record<OptionKey, Source>> = {};
  for (const key of OPTION_KEYS) {
    const spec: OptionSpec = OPTIONS[key];
    const fromEnv = env[spec.env];
    // An empty variable counts as unset, as `PERP_PRIVATE_KEY=` in a compose file means.
    const [value, source]: [RawValue, Source] =
      flags[spec.flag] !== undefined
        ? [flags[spec.flag], "flag"]
        : fromEnv !== undefined && fromEnv !== ""
          ? [fromEnv, "env"]
          : [spec.fallback, "default"];
    raw[key] = value;
    sources[key] = source;
  }

  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const keys = [...new Set(parsed.error.issues.map((issue) => issue.path[0] as OptionKey))];
    throw new ConfigError(keys.map((key) => optionProblem(key, raw[key], sources[key] ?? "default")).join("\n"));
  }
  const { deployment: deploymentPath, venues: requested, ...options } = parsed.data;
  const deploymentLabel = sourceLabel(OPTIONS.deployment, sources.deployment ?? "default");
  const deployment = loadDeployment(deploymentPath, deploymentLabel);
  const venuesLabel = sourceLabel(OPTIONS.venues, sources.venues ?? "default");
  const venues = chooseVenues(offeredVenues(deployment), requested, venuesLabel, deploymentPath);
  return { ...options, deploymentPath, deployment, venues };
}

/**
 * The venues a deployment record offers: USD (its top-level exchange), then each coin-margined exchange's
 * coin (`coinMargined[].asset`; records written before them have none).
 */
export function offeredVenues(deployment: Deployment): string[] {
  const coins = (deployment as { coinMargined?: unknown }).coinMargined;
  const assets = Array.isArray(coins) ? coins.map((c) => (c as { asset?: unknown }).asset) : [];
  return [USD_VENUE, ...assets.filter((a): a is string => typeof a === "string").map((a) => a.toUpperCase())];
}

/**
 * The venues to serve: every one `offered` when none were `requested`, else the requested ones in the
 * record's order; a ConfigError names any the record does not offer, and the ones it does.
 */
export function chooseVenues(
  offered: readonly string[],
  requested: readonly string[] | undefined,
  label = `--${OPTIONS.venues.flag}`,
  deploymentPath = "the deployment",
): string[] {
  if (requested === undefined) return [...offered];
  const unknown = requested.filter((name) => !offered.includes(name));
  if (unknown.length > 0) {
    throw new ConfigError(
      `${label}: ${unknown.join(", ")} not in ${JSON.stringify(deploymentPath)}, which offers ${offered.join(", ")}`,
    );
  }
  return offered.filter((name) => requested.includes(name));
}

function readFlags(argv: readonly string[]): Record<string, RawValue> {
  const options = Object.fromEntries(
    OPTION_KEYS.map((key) => {
      const spec: OptionSpec = OPTIONS[key];
      return [spec.flag, { type: spec.boolean ? ("boolean" as const) : ("string" as const) }];
    }),
  );
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const flag = /'([^']+)'/.exec((error as Error).message)?.[1] ?? "?";
      const allowed = OPTION_KEYS.map((key) => `--${OPTIONS[key].flag}`).join(", ");
      throw new ConfigError(`unknown flag ${flag}; allowed flags: ${allowed}`);
    }
    if (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS")) throw new ConfigError((error as Error).message);
    throw error;
  }
}

/** How the user set an option: the variable's name if it came from there, else the flag. */
function sourceLabel(spec: OptionSpec, source: Source): string {
  return source === "env" ? spec.env : `--${spec.flag}`;
}

function optionProblem(key: OptionKey, value: RawValue, source: Source): string {
  const spec: OptionSpec = OPTIONS[key];
  if (value === undefined) return `--${spec.flag} (or ${spec.env}) is required; expected ${spec.allowed}`;
  const shown = spec.secret ? `(hidden, ${String(value).length} characters)` : JSON.stringify(value);
  return `${sourceLabel(spec, source)}: ${shown} is not allowed; expected ${spec.allowed}`;
}

/** Reads and validates a deployment file; `label` names where its path came from. */
export function loadDeployment(file: string, label = `--${OPTIONS.deployment.flag}`): Deployment {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    const reason = (error as { code?: unknown }).code === "ENOENT" ? "does not exist" : "cannot be read";
    throw new ConfigError(`${label}: ${JSON.stringify(file)} ${reason}; expected ${OPTIONS.deployment.allowed}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${label}: ${JSON.stringify(file)} is not valid JSON (${(error as Error).message})`);
  }
  const parsed = deploymentSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  throw new ConfigError(
    parsed.error.issues
      .map((issue) => {
        const at = issue.path.length === 0 ? "" : `${issue.path.join(".")}: `;
        const got = valueAt(json, issue.path);
        const shown = got === undefined ? "" : ` (got ${JSON.stringify(got)})`;
        return `${label}: ${JSON.stringify(file)}: ${at}${issue.message}${shown}`;
      })
      .join("\n"),
  );
}

function valueAt(root: unknown, path: readonly (string | number)[]): unknown {
  let node = root;
  for (const part of path) {
    if (node === null || typeof node !== "object") return undefined;
    node = (node as Record<string | number, unknown>)[part];
  }
  return node;
}

/* CHECKS AGAINST THE CHAIN */

/** Throws unless the RPC serves the chain the deployment file was written for. */
export function assertDeploymentChain(config: KeeperConfig, rpcChainId: bigint | number): void {
  if (BigInt(config.deployment.chainId) === BigInt(rpcChainId)) return;
  throw new ConfigError(
    `--deployment: ${JSON.stringify(config.deploymentPath)} is for chain id ${config.deployment.chainId}, ` +
      `but ${config.rpcUrl} serves chain id ${rpcChainId}`,
  );
}

/** The key the keeper signs with: --private-key, or a local Hardhat key on chain id 31337 only. */
export function resolveSignerKey(config: KeeperConfig, chainId: bigint | number): string {
  if (config.privateKey !== undefined) return config.privateKey;
  if (BigInt(chainId) === BigInt(HARDHAT_CHAIN_ID)) return LOCAL_KEEPER_KEY;
  throw new ConfigError(`--private-key is required on chain id ${chainId}`);
}

/* CLI SHELL */

/** One line per option: flag, variable, default and what is allowed. */
export function keeperUsage(): string {
  const specs: OptionSpec[] = OPTION_KEYS.map((key) => OPTIONS[key]);
  const flagOf = (spec: OptionSpec) => (spec.boolean ? `--${spec.flag}` : `--${spec.flag} <value>`);
  const flagWidth = Math.max(...specs.map((spec) => flagOf(spec).length));
  const envWidth = Math.max(...specs.map((spec) => spec.env.length));
  const lines = specs.map((spec) => {
    const fallback = spec.fallback === undefined ? "" : ` [default ${spec.fallback}]`;
    return `  ${flagOf(spec).padEnd(flagWidth)}  ${spec.env.padEnd(envWidth)}  ${spec.allowed}${fallback}`;
  });
  return ["usage: npm run keeper -- [options]   (each flag may also come from its variable)", ...lines].join("\n");
}

export interface CliIo {
  exit: (code: number) => never;
  print: (text: string) => void;
  printError: (text: string) => void;
}

const processIo: CliIo = {
  exit: (code) => process.exit(code),
  print: (text) => process.stdout.write(`${text}\n`),
  printError: (text) => process.stderr.write(`${text}\n`),
};

/** parseKeeperConfig for the CLI: --help prints usage and exits 0; a ConfigError exits 2. */
export function loadConfigOrExit(
  argv: readonly string[] = process.argv.slice(2),
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = processIo,
): KeeperConfig {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.print(keeperUsage());
    return io.exit(0);
  }
  try {
    return parseKeeperConfig(argv, env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.printError(`keeper: configuration error\n${error.message}\nrun with --help for the options`);
    return io.exit(CONFIG_EXIT_CODE);
  }
}
