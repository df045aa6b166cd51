/**
 * The deployment record on disk: `npm run deploy` writes it, the tasks and the keeper read it. One
 * function deploys and records, so the deploy script and the tests that exercise the tasks run the same
 * code. Reading checks the record's shape field by field (`readDeploymentFile`) and, against a chain,
 * that every address holds the contract the record says, wired to the others (`checkDeployment`).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { getAddress, type Provider, type Signer } from "ethers";
import { z } from "zod";
import type { Deployment, Exchange } from "./contracts";
import { deploySystem, DEFAULT_SYSTEM, type SystemSpec } from "./deploy";
import * as f from "./format";
import { reciprocal } from "./coin-margined";
import { ReciprocalOracle__factory } from "../typechain-types";

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
  const coinLines: string[] = [];
  for (const [asset, coinExchange] of exchange.coinMargined)
    coinLines.push("", ...(await describeCoinExchange(asset, coinExchange)));
  return [
    ...lines,
    "",
    ...f.table(rows).map((l) => `  ${l}`),
    "",
    `  LP pool ${f.usd(poolAssets)}, insurance fund ${f.usd(insurance)}; deployment block ${d.deploymentBlock}, chain ${
      d.chainId
    }`,
    ...coinLines,
  ];
}

/** A coin-margined exchange: its contracts, its inverse markets (index in USD), its pool and fund in the coin. */
async function describeCoinExchange(asset: string, exchange: Exchange): Promise<string[]> {
  const c = exchange.deployment.contracts;
  const [poolAssets, insurance] = await Promise.all([exchange.vault.poolAssets(), exchange.vault.insuranceFund()]);
  const rows = [["market", "id", "index (USD)", "face", "underlying"]];
  for (const m of exchange.markets.values()) {
    const view = await exchange.lens.market(m.marketId);
    rows.push([
      m.symbol,
      String(m.marketId),
      f.price(reciprocal(view.indexPrice)),
      `${m.inverse?.faceUsd ?? "?"} USD`,
      m.inverse?.underlying ?? "?",
    ]);
  }
  return [
    `  ${asset}-margined exchange (margin, PnL, fees, LP pool and insurance in ${asset}; the index is the USD market's, inverted):`,
    ...f.panel([
      ["collateral", `${c.collateral} (${asset})`],
      ["vault", c.vault],
      ["engine", c.engine],
      ["lens", c.lens],
      ["order book", c.orderBook],
      ["LP pool", c.pool],
      ["oracle", `${c.oracle} (1 / the USD oracle's index)`],
    ]),
    "",
    ...f.table(rows).map((l) => `  ${l}`),
    "",
    `  LP pool ${f.coin(poolAssets, asset)}, insurance fund ${f.coin(insurance, asset)}`,
  ];
}

/* ------------------------------------------------------------------ READING AND CHECKING */

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** An address: 0x and 40 hex digits; a mixed-case one must carry a valid EIP-55 checksum. */
const address = z.string().superRefine((value, ctx) => {
  if (!ADDRESS.test(value)) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `${JSON.stringify(value)} is not an address (0x and 40 hex digits)`,
    });
    return;
  }
  try {
    getAddress(value);
  } catch {
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `${value} fails its EIP-55 checksum (mistyped?)` });
  }
});

const wholeNumber = z.number().int().nonnegative();

const contractsSchema = z.object({
  collateral: address,
  vault: address,
  oracle: address,
  engine: address,
  engineAdmin: address,
  lens: address,
  pool: address,
  orderBook: address,
  fundingModel: address,
});

const SYMBOL = /^[A-Z0-9]+-[A-Z0-9]+$/;

const marketsSchema = z
  .array(
    z.object({
      symbol: z.string().regex(SYMBOL, "expected a symbol like ALT-USD or BTCUSD-INV"),
      marketId: wholeNumber.positive(),
      coin: address,
      spotPool: address,
      pushedFeeds: z.array(address),
      twapFeed: address,
      inverse: z
        .object({
          underlying: z.string().regex(SYMBOL, "expected the symbol of a USD market, like BTC-USD"),
          faceUsd: z.string().regex(/^\d+(\.\d+)?$/, "expected a decimal number of USD"),
        })
        .optional(),
    }),
  )
  .min(1, "expected at least one market")
  .superRefine((markets, ctx) => {
    for (const key of ["symbol", "marketId"] as const) {
      const seen = new Set<unknown>();
      markets.forEach((m, i) => {
        if (seen.has(m[key]))
          ctx.addIssue({ code: z.ZodIssueCode.custom, path: [i, key], message: `${m[key]} appears twice` });
        seen.add(m[key]);
      });
    }
  });

const deploymentSchema = z.object({
  chainId: wholeNumber.positive(),
  deploymentBlock: wholeNumber,
  contracts: contractsSchema,
  markets: marketsSchema,
  coinMargined: z
    .array(
      z.object({
        asset: z.string().regex(/^[A-Z0-9]+$/, "expected a coin symbol like BTC"),
        contracts: contractsSchema,
        markets: marketsSchema,
      }),
    )
    .optional(),
});

/** A deployment record that is unreadable, malformed, or does not match the chain. */
export class DeploymentError extends Error {
  override name = "DeploymentError";
}

/** "contracts.lens", "markets[0].pushedFeeds[1]" */
function fieldPath(issuePath: (string | number)[]): string {
  return issuePath.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("") || "(top level)";
}

/**
 * Parses a deployment record; throws DeploymentError naming `label` (the file as shown to the user), the
 * first bad field, its value and what is allowed.
 */
export function parseDeployment(json: unknown, label: string): Deployment {
  const parsed = deploymentSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const message =
    issue.code === z.ZodIssueCode.invalid_type ? `expected ${issue.expected}, got ${issue.received}` : issue.message;
  throw new DeploymentError(`${label}: ${fieldPath(issue.path)}: ${message}`);
}

/** Reads and parses a deployment file (see parseDeployment); `label` defaults to the path. */
export function readDeploymentFile(file: string, label = file): Deployment {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new DeploymentError(
      `${label}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DeploymentError(`${label}: not JSON (${(err as Error).message})`);
  }
  return parseDeployment(json, label);
}

/** One claim of a record about the chain: the contract at `field` answers `getter` with `expected`. */
interface Wiring {
  field: string;
  contract: string;
  getter: string;
  expected: string;
  read: () => Promise<string>;
}

/**
 * Checks a record against the chain: code at every address, then each contract's own view of its
 * neighbours (the lens's engine, the order book's vault, a spot pool's coin...), so an address that
 * points at the wrong contract is named before any task calls it; then the same for each coin-margined
 * exchange (`coinMargined[i]`), whose vault holds the coin of its markets, whose oracle inverts the USD
 * oracle, and whose markets' spot pools and feeds are the USD exchange's. Resolves to the first problem
 * as one line, or undefined when the record holds.
 */
export async function checkDeployment(
  exchange: Exchange,
  provider: Provider,
  label: string,
): Promise<string | undefined> {
  const d = exchange.deployment;
  const usdProblem = await checkExchange(exchange, provider, label, "", d.contracts.collateral);
  if (usdProblem) return usdProblem;
  for (const [i, v] of (d.coinMargined ?? []).entries()) {
    const coinExchange = exchange.coinMargined.get(v.asset);
    if (!coinExchange) return `${label}: coinMargined[${i}] (${v.asset}) is not connected`;
    const problem = await checkExchange(coinExchange, provider, label, `coinMargined[${i}].`, d.contracts.collateral);
    if (problem) return problem;
    const more = await coinWirings(coinExchange, d.contracts.oracle, i);
    const wrong = await firstMismatch(more, label, (field) =>
      addressOf(coinExchange.deployment, field, `coinMargined[${i}].`),
    );
    if (wrong) return wrong;
  }
  return undefined;
}

/** What makes a coin exchange the coin's: its vault holds its markets' coin, its oracle inverts the USD one. */
async function coinWirings(exchange: Exchange, usdOracle: string, i: number): Promise<Wiring[]> {
  const d = exchange.deployment;
  const oracle = ReciprocalOracle__factory.connect(d.contracts.oracle, exchange.engine.runner);
  return [
    {
      field: `coinMargined[${i}].contracts.oracle`,
      contract: "ReciprocalOracle",
      getter: "base()",
      expected: usdOracle,
      read: () => oracle.base(),
    },
    ...d.markets.map((m): Wiring => ({
      field: `coinMargined[${i}].contracts.vault`,
      contract: "Vault",
      getter: "collateral()",
      expected: m.coin,
      read: () => exchange.vault.collateral(),
    })),
  ];
}

/**
 * One exchange's addresses and wiring; `prefix` names its place in the record ("" or "coinMargined[0].");
 * `usd` is the USD collateral every spot pool trades against.
 */
async function checkExchange(
  exchange: Exchange,
  provider: Provider,
  label: string,
  prefix: string,
  usd: string,
): Promise<string | undefined> {
  const d = exchange.deployment;
  const addresses: [string, string][] = [
    ...Object.entries(d.contracts).map(([name, a]): [string, string] => [`${prefix}contracts.${name}`, a]),
    ...d.markets.flatMap((m, i): [string, string][] => [
      [`${prefix}markets[${i}].coin`, m.coin],
      [`${prefix}markets[${i}].spotPool`, m.spotPool],
      [`${prefix}markets[${i}].twapFeed`, m.twapFeed],
      ...m.pushedFeeds.map((a, j): [string, string] => [`${prefix}markets[${i}].pushedFeeds[${j}]`, a]),
    ]),
  ];
  const codes = await Promise.all(addresses.map(([, a]) => provider.getCode(a)));
  const empty = addresses.findIndex((_, i) => codes[i] === "0x");
  if (empty >= 0) {
    const [field, a] = addresses[empty];
    return `${label}: ${field} ${a}: no contract there on this chain; was the node restarted? Deploy again`;
  }
  const c = d.contracts;
  const field = (name: string) => `${prefix}contracts.${name}`;
  const wirings: Wiring[] = [
    {
      field: field("engine"),
      contract: "PerpEngine",
      getter: "vault()",
      expected: c.vault,
      read: () => exchange.engine.vault(),
    },
    {
      field: field("engine"),
      contract: "PerpEngine",
      getter: "oracle()",
      expected: c.oracle,
      read: () => exchange.engine.oracle(),
    },
    {
      field: field("engineAdmin"),
      contract: "PerpEngine",
      getter: "adminModule()",
      expected: c.engineAdmin,
      read: () => exchange.engine.adminModule(),
    },
    {
      field: field("vault"),
      contract: "Vault",
      getter: "collateral()",
      expected: c.collateral,
      read: () => exchange.vault.collateral(),
    },
    {
      field: field("lens"),
      contract: "PerpLens",
      getter: "engine()",
      expected: c.engine,
      read: () => exchange.lens.engine(),
    },
    {
      field: field("orderBook"),
      contract: "OrderBook",
      getter: "engine()",
      expected: c.engine,
      read: () => exchange.orderBook.engine(),
    },
    {
      field: field("pool"),
      contract: "LiquidityPool",
      getter: "vault()",
      expected: c.vault,
      read: () => exchange.pool.vault(),
    },
  ];
  d.markets.forEach((m, i) => {
    const h = exchange.markets.get(m.symbol)!;
    const at = `${prefix}markets[${i}]`;
    wirings.push(
      {
        field: `${at}.spotPool`,
        contract: "SpotPool",
        getter: "coin()",
        expected: m.coin,
        read: () => h.spotPool.coin(),
      },
      { field: `${at}.spotPool`, contract: "SpotPool", getter: "usd()", expected: usd, read: () => h.spotPool.usd() },
      {
        field: `${at}.twapFeed`,
        contract: "SpotTwapFeed",
        getter: "pool()",
        expected: m.spotPool,
        read: () => h.twapFeed.pool(),
      },
    );
  });
  return firstMismatch(wirings, label, (f) => addressOf(d, f, prefix), field("engine"));
}

/**
 * The first wiring the chain contradicts, as one line naming the field and both addresses; `addressAt`
 * finds a field's address in the record. A wrong engineAdmin is read at the engine's address.
 */
async function firstMismatch(
  wirings: Wiring[],
  label: string,
  addressAt: (field: string) => string,
  engineField?: string,
): Promise<string | undefined> {
  const answers = await Promise.all(
    wirings.map((w) =>
      w.read().then(
        (value) => ({ value, error: undefined as string | undefined }),
        (err: unknown) => ({ value: "", error: err instanceof Error ? err.message : String(err) }),
      ),
    ),
  );
  for (const [i, w] of wirings.entries()) {
    const { value, error } = answers[i];
    if (error === undefined && value.toLowerCase() === w.expected.toLowerCase()) continue;
    // The field whose address answered wrongly is the suspect; a wrong neighbour shows as a mismatch.
    const at = w.field.endsWith("contracts.engineAdmin") && engineField ? addressAt(engineField) : addressAt(w.field);
    return (
      `${label}: ${w.field} ${addressAt(w.field)}: ` +
      (error !== undefined
        ? `the contract at ${at} is not a perpsim ${w.contract} (it does not answer ${w.getter})`
        : `${w.contract}.${w.getter} at ${at} is ${value}, the record says ${w.expected}`)
    );
  }
  return undefined;
}

function addressOf(d: Deployment, field: string, prefix = ""): string {
  const local = field.startsWith(prefix) ? field.slice(prefix.length) : field;
  const market = /^markets\[(\d+)\]\.(\w+)$/.exec(local);
  if (market) return (d.markets[Number(market[1])] as unknown as Record<string, string>)[market[2]];
  return (d.contracts as Record<string, string>)[local.replace("contracts.", "")];
}
