/**
 * From one price move to every liquidatable position liquidated: the Keeper class (keeper/keeper.ts,
 * used through its public API: constructor and tick()) against a naive keeper written here as the
 * reference, on the same chain state (an EVM snapshot taken after the positions are open).
 *
 * Setup: `count` longs of $20 margin at 10x on ALT-USD, each its own impersonated account, opened in
 * stages; after each stage a funding boundary is crossed and settleFunding's gas is recorded (steady
 * state: the first stage crosses two boundaries and records the second). Then a 20% fall of the index,
 * pushed to both feeds in one block, makes every long liquidatable.
 *
 * Mining: automine (one block per transaction, as the simulator and a local node run), where seconds
 * are the keepers' own work and blocks count transactions; and, for the Keeper class, interval mining
 * (a block every `intervalMs` with whatever transactions arrived), where blocks are blocks as on a
 * chain. Blocks are counted from the price move's block to the block of the last liquidation; seconds
 * from the moment the price move is mined to the moment the keeper has liquidated the last position.
 */
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { Wallet, id as keccakId, type Signer } from "ethers";
import { deploySystem } from "../lib/deploy";
import type { Exchange, MarketHandles } from "../lib/contracts";
import { PositionLib } from "../lib/math";
import { toFeedAnswer, wad, WAD } from "../lib/units";
import { Keeper } from "../keeper/keeper";
import type { KeeperOptions } from "../keeper/keeper";
import { TxSender } from "../keeper/chain/sender";
import { CircuitBreaker } from "../keeper/chain/circuit";
import { LOST_RACE_ERRORS, exchangeErrors } from "../keeper/transactor";
import { createSilentLogger } from "../keeper/log";
import { advanceTime, impersonatedAccounts, RpcProfile, sendMany, type MethodProfile, type RawCall } from "./chain";
import { callDetail } from "./names";
import { alignAfterFundingBoundary, fundFleet, openCall, pushIndex } from "./gas";

const MARGIN_USD = 20n;
const LEVERAGE = 10n;
const DEPOSIT_USD = 50n;
const CRASH_PCT = 80n;
const MAX_TICKS = 100;
/** The CLI keeper's sender settings, as keeper/app.ts sets them up (receipt polling in ms, bump after blocks). */
const SENDER_POLL_MS = 50;
const SENDER_GAS_BUMP_BLOCKS = 3;
const CIRCUIT = { failureThreshold: 5, cooldownMs: 5_000 };
/** The naive keeper's concurrent static calls per round trip. */
const NAIVE_CONCURRENCY = 100;
const VIEW_CHUNK = 200;

export interface SettleRun {
  positions: number;
  gasUsed: number;
  hash: string;
}

export interface RaceSetup {
  ex: Exchange;
  market: MarketHandles;
  ids: bigint[];
  settle: SettleRun[];
  keeper: Signer;
  snapshot: string;
}

export interface RaceResult {
  label: string;
  liquidated: number;
  /** positions still open at the end (0 when the keeper finished the job) */
  remaining: number;
  blocks: number;
  seconds: number;
  transactions: number;
  /** gas of every transaction from the price move to the last liquidation */
  gasUsed: number;
  methods: MethodProfile[];
  /** wall-clock ms with any RPC call in flight */
  busyMs: number;
}

export async function setupRace(hre: HardhatRuntimeEnvironment, stages: number[]): Promise<RaceSetup> {
  const provider = hre.network.provider;
  await provider.send("hardhat_reset", []);
  const [deployer, keeper] = await hre.ethers.getSigners();
  await alignAfterFundingBoundary(hre);
  const ex = await deploySystem(deployer);
  const market = ex.markets.get("ALT-USD")!;
  const index0 = (await ex.lens.market(market.marketId)).indexPrice;
  const interval = Number((await ex.admin.marketConfig(market.marketId)).fundingInterval);
  const count = stages[stages.length - 1];
  const accounts = await impersonatedAccounts(provider, "race", count);
  await fundFleet(hre, ex, deployer.address, accounts, DEPOSIT_USD);

  const size = (wad(MARGIN_USD) * LEVERAGE * WAD) / index0;
  const settle: SettleRun[] = [];
  const settleOnce = async () => {
    await advanceTime(provider, interval);
    await pushIndex(market, index0);
    const receipt = await (await ex.engine.connect(keeper).settleFunding(market.marketId)).wait();
    const intervals = receipt!.logs
      .map((l) => ex.engine.interface.parseLog(l))
      .filter((p) => p?.name === "FundingSettled")
      .map((p) => p!.args.intervals as bigint);
    if (intervals.length !== 1 || intervals[0] !== 1n)
      throw new Error("bench setup: settleFunding did not cross one boundary");
    return receipt!;
  };
  let opened = 0;
  for (const [i, target] of stages.entries()) {
    const calls: RawCall[] = accounts.slice(opened, target).map((a) => openCall(ex, market, a, size, wad(MARGIN_USD)));
    await sendMany(provider, calls);
    opened = target;
    if (i === 0) await settleOnce();
    const receipt = await settleOnce();
    settle.push({ positions: target, gasUsed: Number(receipt.gasUsed), hash: receipt.hash });
  }
  const ids = accounts.map((a) => PositionLib.id(a, market.marketId));
  const views = await positionViews(ex, ids);
  if (views.some((v) => v.size === 0n || v.liquidatable))
    throw new Error("bench setup: a position did not open healthy");
  const snapshot = (await provider.send("evm_snapshot", [])) as string;
  return { ex, market, ids, settle, keeper, snapshot };
}

/** Reverts to the setup's snapshot and takes a new one (a snapshot is used up by its revert). */
export async function rewind(hre: HardhatRuntimeEnvironment, setup: RaceSetup): Promise<void> {
  const provider = hre.network.provider;
  if (!(await provider.send("evm_revert", [setup.snapshot]))) throw new Error("evm_revert failed");
  setup.snapshot = (await provider.send("evm_snapshot", [])) as string;
}

/** Pushes the crash to both feeds in one block; returns that block's number. */
async function crash(hre: HardhatRuntimeEnvironment, setup: RaceSetup): Promise<number> {
  const provider = hre.network.provider;
  const [deployer] = await hre.ethers.getSigners();
  const index = (await setup.ex.lens.market(setup.market.marketId)).indexPrice;
  const answer = toFeedAnswer((index * CRASH_PCT) / 100n);
  const calls = await Promise.all(
    setup.market.pushedFeeds.map(async (f) => ({
      from: deployer.address,
      to: await f.getAddress(),
      data: f.interface.encodeFunctionData("setPrice", [answer]),
    })),
  );
  await sendMany(provider, calls);
  return Number(BigInt((await provider.send("eth_blockNumber", [])) as string));
}

/** Lens views of `ids`, a chunk per call (one call for all 1,000 would pass the call's gas cap). */
async function positionViews(ex: Exchange, ids: bigint[]) {
  const views = [];
  for (let i = 0; i < ids.length; i += VIEW_CHUNK)
    views.push(...(await ex.lens.positions(ids.slice(i, i + VIEW_CHUNK))));
  return views;
}

async function stillOpen(setup: RaceSetup): Promise<number> {
  const views = await positionViews(setup.ex, setup.ids);
  return views.filter((v) => v.size !== 0n).length;
}

async function blocksBetween(
  hre: HardhatRuntimeEnvironment,
  from: number,
  to: number,
): Promise<{ transactions: number; gasUsed: number }> {
  let transactions = 0;
  let gasUsed = 0;
  for (let b = from; b <= to; b++) {
    const block = (await hre.network.provider.send("eth_getBlockByNumber", ["0x" + b.toString(16), false])) as {
      transactions: string[];
      gasUsed: string;
    };
    transactions += block.transactions.length;
    gasUsed += Number(BigInt(block.gasUsed));
  }
  return { transactions, gasUsed };
}

/**
 * The Keeper class with its default options: warmed up (book synced) before the move, then tick()
 * until every position is gone or a tick liquidates nothing more. `intervalMs` switches to interval
 * mining for the race; `cli` sends through the CLI's TxSender instead of the plain signer.
 */
export async function keeperRace(
  hre: HardhatRuntimeEnvironment,
  setup: RaceSetup,
  label: string,
  mode: { intervalMs?: number; cli?: boolean } = {},
): Promise<RaceResult> {
  const provider = hre.network.provider;
  const intervalMs = mode.intervalMs;
  const options: Partial<KeeperOptions> & { fromBlock: number } = { fromBlock: setup.ex.deployment.deploymentBlock };
  let signer: Signer = setup.keeper;
  if (mode.cli) {
    const cli = await cliSender(hre);
    signer = cli.wallet;
    options.transactor = cli.sender;
  }
  const keeper = new Keeper(setup.ex, signer, options);
  await keeper.tick();
  const moveBlock = await crash(hre, setup);
  const wanted = new Set(setup.ids);
  if (intervalMs !== undefined) {
    await provider.send("evm_setAutomine", [false]);
    await provider.send("evm_setIntervalMining", [intervalMs]);
  }
  const profile = new RpcProfile(provider, callDetail()).install();
  const start = performance.now();
  let liquidated = 0;
  let lastBlock = moveBlock;
  let seconds = 0;
  let busyMs = 0;
  let methods: MethodProfile[] = [];
  try {
    for (let tick = 0; tick < MAX_TICKS && liquidated < wanted.size; tick++) {
      const report = await keeper.tick();
      let more = 0;
      for (const l of report.liquidations) {
        if (!wanted.has(l.id)) continue;
        more++;
        if (l.block > lastBlock) lastBlock = l.block;
      }
      liquidated += more;
      if (more === 0 && report.complete) break;
    }
  } finally {
    seconds = (performance.now() - start) / 1000;
    busyMs = profile.busyMs;
    methods = profile.uninstall();
    if (intervalMs !== undefined) {
      await provider.send("evm_setIntervalMining", [0]);
      await provider.send("evm_setAutomine", [true]);
    }
  }
  const remaining = await stillOpen(setup);
  const { transactions, gasUsed } = await blocksBetween(hre, moveBlock + 1, lastBlock);
  return {
    label,
    liquidated,
    remaining,
    blocks: lastBlock - moveBlock,
    seconds,
    transactions,
    gasUsed,
    methods,
    busyMs,
  };
}

/**
 * The keeper as the CLI runs it (keeper/app.ts): a local wallet and the TxSender with its own nonces,
 * so the batches of one round go out together instead of one receipt at a time.
 */
export async function cliSender(hre: HardhatRuntimeEnvironment): Promise<{ wallet: Wallet; sender: TxSender }> {
  const provider = hre.ethers.provider;
  const wallet = new Wallet(keccakId("perpsim-bench:cli-keeper"), provider);
  await hre.network.provider.send("hardhat_setBalance", [wallet.address, "0x56BC75E2D63100000"]);
  const sender = new TxSender({
    chain: provider,
    signer: wallet,
    chainId: (await provider.getNetwork()).chainId,
    circuit: new CircuitBreaker(CIRCUIT),
    log: createSilentLogger(),
    gasBumpBlocks: SENDER_GAS_BUMP_BLOCKS,
    dryRun: false,
    lostRaceErrors: LOST_RACE_ERRORS,
    errors: exchangeErrors(),
    pollMs: SENDER_POLL_MS,
  });
  return { wallet, sender };
}

/**
 * The reference: per poll, one static call of liquidate(id) per tracked position (NAIVE_CONCURRENCY at
 * a time), then one liquidate transaction per position that passed, each sent and awaited in turn, as
 * keepers with a canLiquidate call per position do; polls until nothing is left.
 */
export async function naiveRace(hre: HardhatRuntimeEnvironment, setup: RaceSetup): Promise<RaceResult> {
  const engine = setup.ex.engine.connect(setup.keeper);
  const moveBlock = await crash(hre, setup);
  const profile = new RpcProfile(hre.network.provider, callDetail()).install();
  const start = performance.now();
  const open = new Set(setup.ids);
  let liquidated = 0;
  let lastBlock = moveBlock;
  let seconds = 0;
  let busyMs = 0;
  let methods: MethodProfile[] = [];
  try {
    for (let poll = 0; poll < MAX_TICKS && open.size > 0; poll++) {
      const ids = [...open];
      const passed: bigint[] = [];
      for (let i = 0; i < ids.length; i += NAIVE_CONCURRENCY) {
        const chunk = ids.slice(i, i + NAIVE_CONCURRENCY);
        const ok = await Promise.all(
          chunk.map((id) =>
            engine.liquidate.staticCall(id).then(
              () => true,
              () => false,
            ),
          ),
        );
        chunk.forEach((id, j) => ok[j] && passed.push(id));
      }
      for (const id of passed) {
        const receipt = await (await engine.liquidate(id)).wait();
        open.delete(id);
        liquidated++;
        lastBlock = receipt!.blockNumber;
      }
    }
  } finally {
    seconds = (performance.now() - start) / 1000;
    busyMs = profile.busyMs;
    methods = profile.uninstall();
  }
  const remaining = await stillOpen(setup);
  const { transactions, gasUsed } = await blocksBetween(hre, moveBlock + 1, lastBlock);
  return {
    gasUsed,
    busyMs,
    label: "naive keeper",
    liquidated,
    remaining,
    blocks: lastBlock - moveBlock,
    seconds,
    transactions,
    methods,
  };
}
