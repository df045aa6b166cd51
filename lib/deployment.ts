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
 * points at the wrong contract is named before any task calls it. Resolves to the first problem as
 * one line, or undefined when the record holds.
 */
export async function checkDeployment(
  exchange: Exchange,
  provider: Provider,
  label: string,
): Promise<string | undefined> {
  const d = exchange.deployment;
  const addresses: [string, string][] = [
    ...Object.entries(d.contracts).map(([name, a]): [string, string] => [`contracts.${name}`, a]),
    ...d.markets.flatMap((m, i): [string, string][] => [
      [`markets[${i}].coin`, m.coin],
      [`markets[${i}].spotPool`, m.spotPool],
      [`markets[${i}].twapFeed`, m.twapFeed],
      ...m.pushedFeeds.map((a, j): [string, string] => [`markets[${i}].pushedFeeds[${j}]`, a]),
    ]),
  ];
  const codes = await Promise.all(addresses.map(([, a]) => provider.getCode(a)));
  const empty = addresses.findIndex((_, i) => codes[i] === "0x");
  if (empty >= 0) {
    const [field, a] = addresses[empty];
    return `${label}: ${field} ${a}: no contract there on this chain; was the node restarted? Deploy again`;
  }
  const c = d.contracts;
  const wirings: Wiring[] = [
    {
      field: "contracts.engine",
      contract: "PerpEngine",
      getter: "vault()",
      expected: c.vault,
      read: () => exchange.engine.vault(),
    },
    {
      field: "contracts.engine",
      contract: "PerpEngine",
      getter: "oracle()",
      expected: c.oracle,
      read: () => exchange.engine.oracle(),
    },
    {
      field: "contracts.engineAdmin",
      contract: "PerpEngine",
      getter: "adminModule()",
      expected: c.engineAdmin,
      read: () => exchange.engine.adminModule(),
    },
    {
      field: "contracts.vault",
      contract: "Vault",
      getter: "collateral()",
      expected: c.collateral,
      read: () => exchange.vault.collateral(),
    },
    {
      field: "contracts.lens",
      contract: "PerpLens",
      getter: "engine()",
      expected: c.engine,
      read: () => exchange.lens.engine(),
    },
    {
      field: "contracts.orderBook",
      contract: "OrderBook",
      getter: "engine()",
      expected: c.engine,
      read: () => exchange.orderBook.engine(),
    },
    {
      field: "contracts.pool",
      contract: "LiquidityPool",
      getter: "vault()",
      expected: c.vault,
      read: () => exchange.pool.vault(),
    },
  ];
  d.markets.forEach((m, i) => {
    const h = exchange.markets.get(m.symbol)!;
    wirings.push(
      {
        field: `markets[${i}].spotPool`,
        contract: "SpotPool",
        getter: "coin()",
        expected: m.coin,
        read: () => h.spotPool.coin(),
      },
      {
        field: `markets[${i}].spotPool`,
        contract: "SpotPool",
        getter: "usd()",
        expected: c.collateral,
        read: () => h.spotPool.usd(),
      },
      {
        field: `markets[${i}].twapFeed`,
        contract: "SpotTwapFeed",
        getter: "pool()",
        expected: m.spotPool,
        read: () => h.twapFeed.pool(),
      },
    );
  });
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
    const at = w.field === "contracts.engineAdmin" ? c.engine : addressOf(d, w.field);
    return (
      `${label}: ${w.field} ${addressOf(d, w.field)}: ` +
      (error !== undefined
        ? `the contract at ${at} is not a perpsim ${w.contract} (it does not answer ${w.getter})`
        : `${w.contract}.${w.getter} at ${at} is ${value}, the record says ${w.expected}`)
    );
  }
  return undefined;
}

function addressOf(d: Deployment, field: string): string {
  const market = /^markets\[(\d+)\]\.(\w+)$/.exec(field);
  if (market) return (d.markets[Number(market[1])] as unknown as Record<string, string>)[market[2]];
  return (d.contracts as Record<string, string>)[field.replace("contracts.", "")];
}
