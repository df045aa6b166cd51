/**
 * Every perp:* task under bad input, as a new user would type it: each refusal is one line on stderr
 * naming the argument, exit code 1, nothing sent (no block mined) and every balance unchanged.
 *
 * The table runs in-process through the CLI's own error path: the task is run as the CLI's entry task
 * (process.argv names it, as `npx hardhat perp:x` would), so `cliAction` writes its line to stderr and
 * sets the exit code instead of throwing. A few cases then run as real `hardhat` processes with CI=true
 * and no display (where Hardhat prints stack traces by default) against this chain served over HTTP.
 */
import { expect } from "chai";
import { makeError } from "ethers";
import hre from "hardhat";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadFixture, takeSnapshot, time } from "@nomicfoundation/hardhat-network-helpers";
import { TASK_NODE_CREATE_SERVER } from "hardhat/builtin-tasks/task-names";
import type { JsonRpcServer } from "hardhat/types";
import type { Deployment, Exchange } from "../../lib/contracts";
import { deployToFile } from "../../lib/deployment";
import { usd6, wad } from "../../lib/units";
import { describeFailure, positionIdHex, refuseUnparsableCommandLine, setOutput } from "../../tasks/common";
import { MAX_CHAIN_TIME } from "../../tasks/operations";

/** What `npx hardhat` runs: a test that plays the CLI starts "node" with it (tasks/common.ts:cliTaskName). */
const HARDHAT_BIN = path.join(__dirname, "..", "..", "node_modules", ".bin", "hardhat");

const ALT = "ALT-USD";
const TRADER = "1";
const KEEPER = "2";
const ACCOUNTS = 4;
const BIG = (zeros: number) => "1" + "0".repeat(zeros);

const tmp = mkdtempSync(path.join(tmpdir(), "perpsim-refusals-"));

/** A deployment record with one field changed (or replaced by `text`), written next to the good one. */
function variant(file: string, name: string, change: (d: Deployment) => void | string): string {
  const record = JSON.parse(readFileSync(file, "utf8")) as Deployment;
  const text = change(record);
  const out = path.join(tmp, `${name}.json`);
  writeFileSync(out, typeof text === "string" ? text : JSON.stringify(record));
  return out;
}

/**
 * The trader (account 1) holds 10,000 USD in the wallet, 899 free in the vault, a 10x ALT-USD short of
 * 100 USD margin and a live stop-loss (order #1); the keeper (account 2) holds nothing.
 */
async function world() {
  const [deployer, trader] = await hre.ethers.getSigners();
  const file = path.join(tmp, "deployment.json");
  const ex = await deployToFile(deployer, file);
  await (await ex.collateral.faucet(trader.address, usd6(11_000))).wait();
  await (await ex.collateral.connect(trader).approve(ex.vault, usd6(1_000))).wait();
  await (await ex.vault.connect(trader).deposit(usd6(1_000))).wait();
  await (await ex.engine.connect(trader).increasePosition(1n, -wad(500), wad(100), 0n)).wait();
  // The deployer holds a whale's free balance: 1,000,000 USD, enough to ask for more than the skew scale.
  await (await ex.collateral.faucet(deployer.address, usd6(1_000_000))).wait();
  await (await ex.collateral.approve(ex.vault, usd6(1_000_000))).wait();
  await (await ex.vault.deposit(usd6(1_000_000))).wait();
  const fee = await ex.orderBook.minExecutionFee();
  await (
    await ex.orderBook.connect(trader).createTriggerOrder(1n, 3n, wad(500), wad("2.15"), wad("2.3"), fee, 0n)
  ).wait();
  const positionId = await ex.admin.positionId(trader.address, 1n);
  const files = {
    good: file,
    lensIsVault: variant(file, "lens-is-vault", (d) => void (d.contracts.lens = d.contracts.vault)),
    badAddress: variant(file, "bad-address", (d) => void (d.contracts.lens = "0x1234")),
    // A mixed-case address with one letter's case flipped fails its EIP-55 checksum.
    badChecksum: variant(file, "bad-checksum", (d) => {
      d.contracts.engine = d.contracts.engine.replace(/[a-fA-F]/, (ch) =>
        ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase(),
      );
    }),
    otherChain: variant(file, "other-chain", (d) => void (d.chainId = 1)),
    noMarkets: variant(file, "no-markets", (d) => void (d.markets = [])),
    notJson: variant(file, "not-json", () => "{ chainId: 31337,"),
  };
  return { ex, file, files, positionId: positionIdHex(positionId) };
}

/** Everything a refused command must leave as it was: the chain's height and every balance that matters. */
async function state(ex: Exchange): Promise<string> {
  const signers = (await hre.ethers.getSigners()).slice(0, ACCOUNTS);
  const markets = [...ex.markets.values()];
  const perAccount = await Promise.all(
    signers.map(async (s) => [
      await ex.collateral.balanceOf(s.address),
      await ex.vault.freeBalance(s.address),
      ...(await Promise.all(markets.map((m) => m.coin.balanceOf(s.address)))),
      ...(await Promise.all(
        markets.map(async (m) => {
          const p = await ex.admin.position(await ex.admin.positionId(s.address, m.marketId));
          return `${p.size}/${p.margin}`;
        }),
      )),
    ]),
  );
  const global = [
    await hre.ethers.provider.getBlockNumber(),
    await ex.vault.insuranceFund(),
    await ex.vault.poolAssets(),
    (await ex.orderBook.getOrder(1n)).status,
    ...(await Promise.all(markets.map((m) => m.spotPool.spotPrice()))),
  ];
  return JSON.stringify([global, perAccount], (_, v) => (typeof v === "bigint" ? v.toString() : v));
}

interface CliRun {
  /** what the task wrote to stderr */
  stderr: string;
  /** its human output (stdout) */
  stdout: string[];
  exitCode: number | string | undefined;
}

/** Runs a task as the Hardhat CLI's entry task, in this process: the path a shell command takes. */
async function asCli(task: string, args: Record<string, unknown>, showStackTraces = false): Promise<CliRun> {
  const saved = { argv: process.argv, exitCode: process.exitCode, write: process.stderr.write };
  const savedShowStackTraces = hre.hardhatArguments.showStackTraces;
  let stderr = "";
  const stdout: string[] = [];
  const restoreOutput = setOutput((line) => stdout.push(line));
  process.argv = [saved.argv[0], HARDHAT_BIN, "--network", "localhost", task];
  process.exitCode = undefined;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  hre.hardhatArguments.showStackTraces = showStackTraces;
  try {
    await hre.run(task, args);
    return { stderr, stdout, exitCode: process.exitCode };
  } finally {
    hre.hardhatArguments.showStackTraces = savedShowStackTraces;
    process.stderr.write = saved.write;
    process.argv = saved.argv;
    process.exitCode = saved.exitCode;
    restoreOutput();
  }
}

type Files = Awaited<ReturnType<typeof world>>["files"];
interface Case {
  task: string;
  args: Record<string, string | boolean>;
  /** what the one line must say (after "perp:<task>: ") */
  says: RegExp;
  /** a deployment variant instead of the good record */
  deployment?: keyof Files;
}

/** The bad inputs, per task; `id` stands for the trader's position id. */
function table(positionId: string): Case[] {
  const c = (task: string, args: Case["args"], says: RegExp, deployment?: keyof Files): Case => ({
    task: `perp:${task}`,
    args,
    says,
    deployment,
  });
  const trader = { account: TRADER };
  const short = { ...trader, market: ALT };
  return [
    c("faucet", { amount: "abc" }, /^--amount abc: not a decimal number/),
    c("faucet", { amount: "2000000" }, /^--amount 2000000: at most 1,000,000 USD$/),
    c("faucet", { account: "99" }, /^--account 99: network "hardhat" has 20 local accounts \(0-19\)$/),
    c("faucet", { account: "-1" }, /^--account -1: expected a whole number/),
    c("deposit", {}, /^--amount is required: a positive decimal number of USD/),
    c("deposit", { ...trader, amount: "-5" }, /^--amount -5: must not be negative/),
    c("deposit", { ...trader, amount: "1.1234567" }, /^--amount 1.1234567: at most 6 decimal places$/),
    c(
      "deposit",
      { ...trader, amount: "20000" },
      /^--amount 20000: the wallet of account 1 \(0x\w+\) holds 10,000.00 USD/,
    ),
    c(
      "withdraw",
      { account: KEEPER, amount: "all" },
      /^--amount all: the free balance of account 2 .* is 0.00 USD; nothing to withdraw$/,
    ),
    c("withdraw", { ...trader, amount: "5000" }, /^--amount 5000: the free balance of account 1 .* is 899.00 USD$/),
    c("withdraw", { ...trader, amount: "half" }, /^--amount half: not a decimal number/),
    c(
      "open",
      { ...trader, side: "short", margin: "10", leverage: "10" },
      /^--market is required: one of ALT-USD, BTC-USD, BTCUSD-INV, ALTUSD-INV$/,
    ),
    c(
      "open",
      { ...short, market: "DOGE-USD", side: "short", margin: "10", leverage: "10" },
      /^--market DOGE-USD: unknown market; markets: ALT-USD, BTC-USD, BTCUSD-INV, ALTUSD-INV$/,
    ),
    c("open", { ...short, side: "up", margin: "10", leverage: "10" }, /^--side up: expected long or short$/),
    c(
      "open",
      { ...short, side: "short", margin: BIG(81), leverage: "10" },
      /^--margin 1000+: at most 1,000,000,000,000 USD$/,
    ),
    c(
      "open",
      { ...short, side: "short", margin: "50000", leverage: "10" },
      /^--margin 50000: the free balance of account 1 .* is 899.00 USD; deposit/,
    ),
    c("open", { ...short, side: "short", margin: "10", leverage: "0" }, /^--leverage 0: must be greater than 0/),
    c(
      "open",
      { ...short, side: "short", margin: "10", leverage: BIG(13) },
      /^--leverage 10000000000000: at most 1,000$/,
    ),
    c(
      "open",
      { ...short, side: "short", margin: "10", leverage: "60" },
      /^--leverage 60: ALT-USD allows at most 50.00x$/,
    ),
    c(
      "open",
      { ...short, side: "short", margin: "10", leverage: "10", slippage: "100" },
      /^--slippage 100: must be below 100 \(percent\)$/,
    ),
    c(
      "open",
      { ...short, side: "long", margin: "10", leverage: "10" },
      /^--side long: account 1 .* holds a short on ALT-USD; close it first/,
    ),
    c(
      "open",
      { ...short, side: "short", margin: "0.000000000000000001", leverage: "0.000000000000000001" },
      /^--margin 0.000000000000000001 --leverage 0.000000000000000001: the size rounds to zero/,
    ),
    c(
      "open",
      { market: ALT, side: "long", margin: "250000", leverage: "50" },
      /^--margin 250000 --leverage 50: buying [\d,]+\.\d{6} ALT would take the ALT-USD skew to [\d,]+\.\d{6}, beyond its skew scale 5,000,000.000000; at most 5,000,499.999999 this way now$/,
    ),
    c(
      "open",
      { market: ALT, side: "long", margin: "200000", leverage: "50" },
      /^--margin 200000 --leverage 50: [\d,]+\.\d{6} ALT would lift ALT-USD's long open interest to [\d,]+\.\d{6}, above its cap [\d,]+\.\d{6}$/,
    ),
    c("close", { ...trader, market: "BTC-USD" }, /^--market BTC-USD: account 1 .* has no open position there$/),
    c("close", { ...short, slippage: "abc" }, /^--slippage abc: not a decimal number/),
    c("close", { account: KEEPER, market: ALT }, /^--market ALT-USD: account 2 .* has no open position there$/),
    c("margin", short, /^--add or --remove is required: exactly one/),
    c("margin", { ...short, add: "1", remove: "1" }, /^--add 1 --remove 1: pass exactly one of them$/),
    c("margin", { ...short, remove: BIG(72) }, /^--remove 1000+: at most 1,000,000,000,000 USD$/),
    c("margin", { ...short, remove: "100" }, /^--remove 100: the ALT-USD position's margin is 100.00 USD; remove less/),
    c("margin", { ...short, add: "5000" }, /^--add 5000: the free balance of account 1 .* is 899.00 USD$/),
    c("position", trader, /^--market is required: one of ALT-USD, BTC-USD, BTCUSD-INV, ALTUSD-INV$/),
    c(
      "position",
      short,
      /^--deployment \S+: contracts.lens 0x\w+: the contract at 0x\w+ is not a perpsim PerpLens \(it does not answer engine\(\)\)$/,
      "lensIsVault",
    ),
    c("position", { ...short, account: "1.5" }, /^--account 1.5: expected a whole number/),
    c(
      "markets",
      {},
      /^--deployment \S+: contracts.lens: "0x1234" is not an address \(0x and 40 hex digits\)$/,
      "badAddress",
    ),
    c("markets", {}, /^--deployment \S+ is for chain 1, but network "hardhat" is chain 31337$/, "otherChain"),
    c("markets", {}, /^--deployment \S+: not JSON/, "notJson"),
    c("markets", {}, /^--deployment \S+: contracts.engine: 0x\w+ fails its EIP-55 checksum/, "badChecksum"),
    c("insurance", { account: "abc" }, /^--account abc: expected a whole number/),
    c("insurance", {}, /^--deployment \S+: markets: expected at least one market$/, "noMarkets"),
    c("price", { market: ALT, price: "0" }, /^--price 0: must be greater than 0/),
    c("price", { market: ALT, price: "2.123456789" }, /^--price 2.123456789: the feeds have 8 decimals$/),
    c("price", { market: ALT, price: BIG(53) }, /^--price 1000+: at most 1,000,000,000,000 USD$/),
    c(
      "price",
      { ...short, price: "3" },
      /^account 1 .* lacks ORACLE_ROLE on the ALT-USD feed 0x\w+; the deployer \(account 0\) has it$/,
    ),
    c("spot-swap", { market: ALT, usd: "10" }, /^--buy or --sell is required: exactly one of them$/),
    c("spot-swap", { market: ALT, buy: true, sell: true, usd: "10" }, /^--buy --sell: pass exactly one of them$/),
    c("spot-swap", { market: ALT, buy: true, mint: true, usd: "10" }, /^--mint applies to --sell only/),
    c(
      "spot-swap",
      { market: ALT, sell: true, mint: true, usd: BIG(23) },
      /^--usd 1000+: at most 1,000,000,000,000 USD$/,
    ),
    c(
      "spot-swap",
      { market: ALT, sell: true, mint: true, usd: "8000000" },
      /^--usd 8000000: one swap may move the ALT-USD spot price at most 100-fold .*; sell at most 1,800,000.00 USD at once$/,
    ),
    c(
      "spot-swap",
      { ...short, buy: true, usd: "50000" },
      /^--usd 50000: the wallet of account 1 .* holds 10,000.00 USD/,
    ),
    c(
      "spot-swap",
      { ...short, sell: true, usd: "10" },
      /^--usd 10: selling needs 5.000000 ALT, account 1 .* holds 0.000000/,
    ),
    c("spot-swap", { ...short, sell: true, mint: true, usd: "10" }, /^--mint: account 1 .* lacks MINTER_ROLE on ALT/),
    c(
      "spot-swap",
      { market: ALT, sell: true, mint: true, usd: "0.000001" },
      /^--usd 0.000001: the swap would return nothing after the pool's fee and --slippage$/,
    ),
    c("advance-time", { hours: "abc" }, /^--hours abc: not a decimal number/),
    c("advance-time", { hours: "0.0001" }, /^--hours 0.0001: less than one second$/),
    c("advance-time", { hours: BIG(30) }, /^--hours 1000+: at most 87,600 hours$/),
    c("advance-time", { hours: "100000000000" }, /^--hours 100000000000: at most 87,600 hours$/),
    c("advance-time", { hours: "87601" }, /^--hours 87601: at most 87,600 hours$/),
    c("advance-time", { hours: "1" }, /^--deployment \S+: contracts.lens: "0x1234" is not an address/, "badAddress"),
    c("advance-time", { hours: "1", account: "x" }, /^--account x: expected a whole number/),
    c(
      "advance-time",
      { hours: "1", account: "99" },
      /^--account 99: network "hardhat" has 20 local accounts \(0-19\)$/,
    ),
    c("settle-funding", { market: "XYZ" }, /^--market XYZ: unknown market/),
    c("settle-funding", { market: ALT, account: "99" }, /^--account 99: network "hardhat" has 20 local accounts/),
    c("liquidate", { id: "xyz" }, /^--id xyz: expected a position id in decimal or 0x-hex/),
    c("liquidate", { id: "0" }, /^--id 0: not a position id/),
    c(
      "liquidate",
      { id: "0x" + "f".repeat(65) },
      /^--id 0xf+: expected a position id in decimal or 0x-hex \(at most 64 hex digits\)$/,
    ),
    c("liquidate", { id: "12345" }, /^--id 12345: no open position with this id$/),
    c(
      "liquidate",
      { account: KEEPER, id: positionId },
      /^--id 0x\w+: the ALT-USD position is healthy at mark 1.99\d+ .*liquidation price 2.18\d+\)$/,
    ),
    c("order", { ...short, price: "2" }, /^--type is required: limit, tp or sl$/),
    c("order", { ...short, type: "stop", price: "2" }, /^--type stop: expected limit, tp or sl$/),
    c(
      "order",
      { ...short, type: "limit", side: "short", margin: "10", leverage: "2", price: BIG(53) },
      /^--price 1000+: at most 1,000,000,000,000 USD \(the limit\)$/,
    ),
    c(
      "order",
      { ...short, type: "limit", side: "short", margin: "10", leverage: "2", price: "2.5", expiryHours: BIG(23) },
      /^--expiry-hours 1000+: at most 87,600 hours$/,
    ),
    c(
      "order",
      { ...short, type: "limit", side: "long", margin: "10", leverage: "2", price: "1.5" },
      /^--side long: account 1 .* holds a short on ALT-USD, and a limit open only adds to its own side/,
    ),
    c(
      "order",
      { ...short, type: "limit", side: "short", margin: "10", leverage: BIG(13), price: "2.5" },
      /^--leverage 10000000000000: at most 1,000$/,
    ),
    c(
      "order",
      { ...short, type: "limit", side: "short", margin: "10", leverage: "2", price: "2.5", slippage: "1" },
      /^--slippage 1: only a take-profit or stop-loss takes it/,
    ),
    c("order", { ...short, type: "tp", margin: "10", price: "1.9" }, /^--margin 10: only a limit open/),
    c(
      "order",
      { ...short, type: "sl", price: "2.1", fee: "0.1" },
      /^--fee 0.1: the order book's minimum execution fee is 0.50 USD$/,
    ),
    c("order", { ...short, type: "sl", price: "2.1", size: "600" }, /^--size 600: the position holds 500.000000 ALT$/),
    c("order", { ...short, type: "tp", price: "2.1" }, /^--price 2.1: a short's take-profit triggers below its entry/),
    c("orders", { account: "99" }, /^--account 99: network "hardhat" has 20 local accounts/),
    c(
      "orders",
      {},
      /^--deployment \S+: contracts.lens 0x\w+: the contract at 0x\w+ is not a perpsim PerpLens/,
      "lensIsVault",
    ),
    c("cancel", { id: "abc" }, /^--id abc: expected a whole number/),
    c("cancel", { id: "0" }, /^--id 0: order ids start at 1$/),
    c("cancel", { id: "99" }, /^--id 99: order #99 is unknown, not live$/),
    c(
      "cancel",
      { account: KEEPER, id: "1" },
      /^--id 1: order #1 belongs to 0x\w+; only its owner may cancel it before it expires$/,
    ),
    c("pool", { account: "99" }, /^--account 99: network "hardhat" has 20 local accounts \(0-19\)$/),
    c("lp-deposit", trader, /^--amount is required: a positive decimal number of USD/),
    c("lp-deposit", { ...trader, amount: "abc" }, /^--amount abc: not a decimal number/),
    c(
      "lp-deposit",
      { ...trader, amount: "999999999" },
      /^--amount 999999999: the wallet of account 1 .* holds .*; get more with perp:faucet$/,
    ),
    c("lp-redeem", trader, /^--shares is required: a positive decimal number of shares/),
    c("lp-redeem", { ...trader, shares: "5" }, /^--shares 5: account 1 .* holds .* shares$/),
    c("execute", { id: BIG(30) }, /^--id 1000+: at most 18446744073709551615$/),
    c(
      "execute",
      { account: KEEPER, id: "1" },
      /^order #1 cannot execute now: the mark is 1.99\d{4}; the stop-loss executes when the mark is at or above 2.150000$/,
    ),
  ];
}

describe("perp:* refusals: one line, exit 1, nothing sent", function () {
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("refuses every bad input in the table, on every task, with one line naming it and nothing moved", async () => {
    const { ex, files, positionId } = await loadFixture(world);
    const cases = table(positionId);
    const perpTasks = Object.keys(hre.tasks).filter((name) => name.startsWith("perp:"));
    expect([...new Set(cases.map((c) => c.task))].sort(), "every perp:* task has cases").to.deep.equal(
      perpTasks.sort(),
    );

    const before = await state(ex);
    const height = await hre.ethers.provider.getBlockNumber();
    for (const k of cases) {
      const run = await asCli(k.task, { ...k.args, deployment: files[k.deployment ?? "good"] });
      const label = `${k.task} ${JSON.stringify(k.args)}`;
      expect(run.exitCode, label).to.equal(1);
      expect(run.stdout, label).to.deep.equal([]);
      expect(
        run.stderr.endsWith("\n") && run.stderr.indexOf("\n") === run.stderr.length - 1,
        `one line: ${run.stderr}`,
      ).to.equal(true);
      const prefix = `${k.task}: `;
      expect(run.stderr.startsWith(prefix), run.stderr).to.equal(true);
      expect(run.stderr.slice(prefix.length, -1), label).to.match(k.says);
      // Automine: any transaction sent would have mined a block.
      expect(await hre.ethers.provider.getBlockNumber(), `${label} sent a transaction`).to.equal(height);
    }
    expect(await state(ex), "the balances after the table").to.equal(before);
  });

  it("refuses to move the clock past the exchange's 40-bit timestamps, and moves it to their last second", async () => {
    await loadFixture(world);
    const snapshot = await takeSnapshot();
    try {
      // One hour before the last second: an hour fits, two do not.
      await time.increaseTo(MAX_CHAIN_TIME - 3_600n);
      const refused = await asCli("perp:advance-time", { hours: "2" });
      expect(refused.exitCode).to.equal(1);
      expect(refused.stderr).to.match(
        /^perp:advance-time: --hours 2: the chain's clock would pass \+036812-02-20T00:36:15.000Z, the latest time the exchange's 40-bit timestamps hold; it is .+\n$/,
      );
      expect(BigInt(await time.latest())).to.equal(MAX_CHAIN_TIME - 3_600n);
      const moved = await asCli("perp:advance-time", { hours: "1" });
      expect(moved.exitCode).to.equal(undefined);
      expect(BigInt(await time.latest())).to.equal(MAX_CHAIN_TIME);
    } finally {
      await snapshot.restore();
    }
  });

  it("refuses a command line Hardhat's parser would refuse (an unknown option, a missing value) in one line", () => {
    const saved = { argv: process.argv, exit: process.exit, write: process.stderr.write };
    const refuse = (...args: string[]) => {
      let stderr = "";
      let code: number | undefined;
      process.argv = [saved.argv[0], HARDHAT_BIN, ...args];
      process.stderr.write = ((chunk: string | Uint8Array) => {
        stderr += String(chunk);
        return true;
      }) as typeof process.stderr.write;
      process.exit = ((exitCode?: number) => {
        code = exitCode;
        throw new Error("exit");
      }) as typeof process.exit;
      try {
        refuseUnparsableCommandLine();
      } catch (err) {
        if ((err as Error).message !== "exit") throw err;
      } finally {
        Object.assign(process, { argv: saved.argv, exit: saved.exit });
        process.stderr.write = saved.write;
      }
      return { stderr, code };
    };
    expect(refuse("perp:markets", "--network", "localhost", "--foo", "1")).to.deep.equal({
      stderr: "perp:markets: HH305: Unrecognized param --foo; npx hardhat help perp:markets lists its options\n",
      code: 1,
    });
    expect(refuse("--network", "localhost", "perp:open", "--market")).to.deep.equal({
      stderr:
        "perp:open: HH306: The '--market' parameter of task 'perp:open' expects a value, but none was passed; " +
        "npx hardhat help perp:open lists its options\n",
      code: 1,
    });
    // A well-formed command line passes on to the task; --show-stack-traces leaves the refusal to Hardhat.
    expect(refuse("perp:markets", "--network", "localhost", "--account", "1")).to.deep.equal({
      stderr: "",
      code: undefined,
    });
    expect(refuse("perp:markets", "--foo", "1", "--show-stack-traces")).to.deep.equal({ stderr: "", code: undefined });
  });

  it("describes an unexpected failure in one line: an undecoded revert by its selector, a message over lines", () => {
    const revert = makeError("execution reverted (unknown custom error)", "CALL_EXCEPTION", {
      action: "estimateGas",
      data: "0xdeadbeef0000000000000000",
      reason: null,
      transaction: { to: "0x0000000000000000000000000000000000000001", data: "0x" },
      invocation: null,
      revert: null,
    });
    expect(describeFailure("perp:close", revert)).to.deep.equal({
      refusal: false,
      line:
        "perp:close: unexpected failure: execution reverted (unknown custom error) (revert data 0xdeadbeef...); " +
        "--show-stack-traces shows where",
    });
    expect(describeFailure("perp:markets", new TypeError("first\n   second"))).to.deep.equal({
      refusal: false,
      line: "perp:markets: unexpected failure: TypeError: first second; --show-stack-traces shows where",
    });
  });

  it("hands the error to Hardhat, for its stack trace, under --show-stack-traces", async () => {
    const { files } = await loadFixture(world);
    let thrown: unknown;
    try {
      await asCli("perp:advance-time", { hours: "abc", deployment: files.good }, true);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).to.be.instanceOf(Error);
    expect((thrown as Error).message).to.match(/^--hours abc: not a decimal number/);
    expect((thrown as Error).stack).to.match(/\n\s+at .*tasks[\\/]common\.ts/);
  });

  describe("as real processes on a headless machine (CI=true, no display)", function () {
    let server: JsonRpcServer;
    let rpcUrl = "";

    before(async () => {
      server = (await hre.run(TASK_NODE_CREATE_SERVER, {
        hostname: "127.0.0.1",
        port: 0,
        provider: hre.network.provider,
      })) as JsonRpcServer;
      const { port } = await server.listen();
      rpcUrl = `http://127.0.0.1:${port}`;
    });
    after(async () => server.close());

    /** `npx hardhat <args> --network localhost` against this chain; resolves with its exit code and output. */
    function hardhat(args: string[], url = rpcUrl): Promise<{ code: number; stdout: string; stderr: string }> {
      const env: NodeJS.ProcessEnv = { ...process.env, CI: "true", RPC_URL: url, FORCE_COLOR: "0" };
      delete env.DISPLAY;
      delete env.WAYLAND_DISPLAY;
      const cli = require.resolve("hardhat/internal/cli/bootstrap.js");
      return new Promise((resolve) => {
        execFile(
          process.execPath,
          [cli, ...args, "--network", "localhost"],
          { cwd: hre.config.paths.root, env },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        );
      });
    }

    it("prints one line and exits 1 for a refusal of an argument, of the chain's state, and for an RPC that is down", async () => {
      const { ex, file, positionId } = await loadFixture(world);
      const before = await state(ex);
      const runs = await Promise.all([
        hardhat(["perp:advance-time", "--hours", "abc", "--deployment", file]),
        hardhat(["perp:liquidate", "--account", KEEPER, "--id", positionId, "--deployment", file]),
        hardhat(["perp:markets", "--deployment", file], "http://127.0.0.1:1"),
      ]);
      const expected = [
        /^perp:advance-time: --hours abc: not a decimal number/,
        /^perp:liquidate: --id 0x\w+: the ALT-USD position is healthy at mark/,
        /^perp:markets: unexpected failure: HH108: Cannot connect to the network localhost/,
      ];
      for (const [i, run] of runs.entries()) {
        expect(run.code, run.stderr).to.equal(1);
        expect(run.stderr.trimEnd().split("\n"), run.stderr).to.have.length(1);
        expect(run.stderr.trimEnd()).to.match(expected[i]);
        expect(run.stdout.trim(), run.stdout).to.equal("");
      }
      expect(await state(ex)).to.equal(before);
    });
  });
});
