/**
 * Simulator throughput beside the network's own ceiling, in one run: squeeze-thin through the runner
 * (sim/runner.ts runScenario) on one chain backend (sim/network.ts: the default, anvil over IPC, or
 * in-process EDR), and plain ERC-20 transfers sent through raw provider.send on that same backend,
 * measured just before and just after the scenario (their mean is the reference, so load that changes
 * during the run shows up in both). The other backend's raw transfers are measured too, once, so the
 * reader sees what each chain gives before the simulator adds anything.
 *
 * The scenario's figures cover its steps only (from the end of step 1 to the end of the last step;
 * deployment and agent set-up excluded); transactions are counted from the blocks mined in that span.
 */
import { spawnSync } from "node:child_process";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { CollateralToken__factory } from "../typechain-types";
import { loadScenario, type Scenario } from "../sim/scenario";
import { runScenario } from "../sim/runner";
import { usd6 } from "../lib/units";
import { anvilCpuSeconds, defaultChain, simNetwork, CHAINS, type ChainKind, type SimNetwork } from "../sim/network";
import { BlockClock } from "../sim/clock";
import { sendBlock } from "../sim/chain";
import { RpcProfile, type MethodProfile } from "./chain";
import { callDetail } from "./names";

export const SCENARIO_FILE = "scenarios/squeeze-thin.json";
const TRANSFER_GAS = "0x30000";
const HOUR = 3600;

export interface TransferThroughput {
  transfers: number;
  seconds: number;
  perSecond: number;
  /** CPU seconds (user + system) of this process and, on anvil, of the node: the EVM's wherever it runs */
  cpuSeconds: number;
}

export interface SimThroughput {
  /** the chain backend the scenario and its reference transfers ran on */
  chain: ChainKind;
  /** raw transfers on the other backend, for comparison (not in the ratio) */
  rawOther: { chain: ChainKind; transfers: TransferThroughput };
  scenario: string;
  steps: number;
  seconds: number;
  transactions: number;
  stepsPerSecond: number;
  txPerSecond: number;
  rawBefore: TransferThroughput;
  rawAfter: TransferThroughput;
  rawPerSecond: number;
  /** blocks mined in the steps that hold a transaction (the keeper's latency blocks hold none) */
  txBlocks: number;
  /** transactions per block that holds any: how the simulator packs */
  txPerBlock: number;
  /** raw transfers packed as the simulator packs (txPerBlock to a block), after the run: for comparison */
  rawPacked: TransferThroughput;
  ratio: number;
  /** CPU seconds of the steps (user + system: this process, the EVM's threads, the anvil node) */
  cpuSeconds: number;
  /**
   * The ratio on CPU time: simulator transactions per CPU second over raw transfers per CPU second. On a
   * machine shared with other work, wall time swings with the load; CPU time much less.
   */
  cpuRatio: number;
  /**
   * The ratio the transactions alone would give: transactions per second of the time their own calls
   * were in flight (eth_sendTransaction, the evm_mine of their blocks, their receipts and refusals' traces).
   */
  sendOnlyRatio: number;
  methods: MethodProfile[];
  /** wall-clock ms with any RPC call in flight */
  busyMs: number;
  /** wall-clock ms with any eth_call in flight */
  readMs: number;
  /** wall-clock ms with a transaction's own call in flight (TX_METHODS) */
  sendMs: number;
}

/** The calls a transaction costs: its send, its block's mining, its receipt, a refusal's trace. */
const TX_METHODS = ["eth_sendTransaction", "evm_mine", "eth_getTransactionReceipt", "trace_transaction"];

/**
 * `count` transfers of one unit from one account to another on `net`, each sent and mined in turn (one
 * block each), or with `perBlock` above 1 packed as the simulator packs a step phase (sim/chain.ts
 * sendBlock: automine off, the block's transfers sent, one evm_mine, their receipts), `perBlock` to a
 * block on average.
 */
export async function transferThroughput(net: SimNetwork, count: number, perBlock = 1): Promise<TransferThroughput> {
  const provider = net.provider;
  const deployer = await net.deployer();
  const [, fromAddress, toAddress] = (await provider.send("eth_accounts", [])) as string[];
  const token = await new CollateralToken__factory(deployer).deploy();
  await (await token.faucet(fromAddress!, usd6(1_000n))).wait();
  const address = await token.getAddress();
  const data = token.interface.encodeFunctionData("transfer", [toAddress!, 1n]);
  const start = performance.now();
  const cpu = await cpuNow();
  if (perBlock <= 1) {
    for (let i = 0; i < count; i++) {
      await provider.send("eth_sendTransaction", [{ from: fromAddress, to: address, data, gas: TRANSFER_GAS }]);
    }
  } else {
    const head = (await provider.send("eth_getBlockByNumber", ["latest", false])) as { timestamp: string };
    const clock = new BlockClock(provider, Number(BigInt(head.timestamp)) + 1);
    const transfer = { from: fromAddress!, call: { to: address, data } };
    // Block b holds floor((b + 1) * perBlock) - floor(b * perBlock): perBlock on average.
    for (let b = 0, sent = 0; sent < count; b++) {
      const size = Math.min(count - sent, Math.floor((b + 1) * perBlock) - Math.floor(b * perBlock));
      const outcomes = await sendBlock(provider, clock, Array(size).fill(transfer));
      if (outcomes.some((o) => o.kind !== "done")) throw new Error("bench: a packed transfer was refused");
      sent += size;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const cpuSeconds = (await cpuNow()) - cpu;
  if ((await token.balanceOf(toAddress!)) !== BigInt(count)) throw new Error("bench: not every transfer went through");
  return { transfers: count, seconds, perSecond: count / seconds, cpuSeconds };
}

export async function simThroughput(
  hre: HardhatRuntimeEnvironment,
  transfers: number,
  durationHours?: number,
  chain: ChainKind = defaultChain(),
): Promise<SimThroughput> {
  const net = await simNetwork(hre, chain);
  const provider = net.provider;
  const other = CHAINS.find((c) => c !== chain)!;
  const rawOther = { chain: other, transfers: await transferThroughput(await simNetwork(hre, other), transfers) };
  const rawBefore = await transferThroughput(net, transfers);
  const loaded = loadScenario(SCENARIO_FILE);
  const scenario: Scenario = durationHours === undefined ? loaded : { ...loaded, durationSec: durationHours * HOUR };

  // Installed before the runner's block clock wraps the provider (and so removed after it unwraps);
  // recording from the end of step 1.
  const profile = new RpcProfile(provider, callDetail()).install();
  profile.recording = false;
  const total = Math.floor(scenario.durationSec / scenario.stepSec);
  let firstStepAt = 0;
  let lastStepAt = 0;
  let firstStepBlock = 0;
  let lastStepBlock = 0;
  let lastStep = 0;
  let cpuAtFirst: Promise<number> = Promise.resolve(0);
  let cpuAtLast: Promise<number> = Promise.resolve(0);
  try {
    await runScenario(hre, scenario, {
      chain,
      onStep: (step, _total, block) => {
        lastStep = step;
        lastStepAt = performance.now();
        if (step === total) {
          cpuAtLast = cpuNow();
          profile.recording = false;
          lastStepBlock = block;
        }
        if (step !== 1) return;
        firstStepAt = performance.now();
        cpuAtFirst = cpuNow();
        firstStepBlock = block;
        profile.recording = true;
      },
    });
  } finally {
    profile.recording = false;
  }
  const seconds = (lastStepAt - firstStepAt) / 1000;
  const cpuSeconds = (await cpuAtLast) - (await cpuAtFirst);
  const busyMs = profile.busyMs;
  const readMs = profile.methodBusyMs("eth_call");
  const sendMs = TX_METHODS.reduce((ms, m) => ms + profile.methodBusyMs(m), 0);
  const methods = profile.uninstall();
  const from = firstStepBlock + 1;
  const last = lastStepBlock;
  let transactions = 0;
  let txBlocks = 0;
  for (let b = from; b <= last; b++) {
    const block = (await provider.send("eth_getBlockByNumber", ["0x" + b.toString(16), false])) as {
      transactions: string[];
    };
    transactions += block.transactions.length;
    if (block.transactions.length > 0) txBlocks++;
  }
  const txPerBlock = transactions / Math.max(1, txBlocks);
  const rawAfter = await transferThroughput(net, transfers);
  const rawPacked = await transferThroughput(net, transfers, txPerBlock);
  const rawPerSecond = (rawBefore.perSecond + rawAfter.perSecond) / 2;
  const rawPerCpuSecond = (rawBefore.transfers + rawAfter.transfers) / (rawBefore.cpuSeconds + rawAfter.cpuSeconds);
  const steps = lastStep - 1;
  const txPerSecond = transactions / seconds;
  return {
    chain,
    rawOther,
    scenario: scenario.name,
    steps,
    seconds,
    transactions,
    stepsPerSecond: steps / seconds,
    txPerSecond,
    rawBefore,
    rawAfter,
    rawPerSecond,
    txBlocks,
    txPerBlock,
    rawPacked,
    ratio: txPerSecond / rawPerSecond,
    cpuSeconds,
    cpuRatio: transactions / cpuSeconds / rawPerCpuSecond,
    sendOnlyRatio: transactions / (sendMs / 1000) / rawPerSecond,
    methods,
    busyMs,
    readMs,
    sendMs,
  };
}

/** CPU seconds used so far by this process and this process's anvil node (when it has one). */
async function cpuNow(): Promise<number> {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6 + ((await anvilCpuSeconds()) ?? 0);
}

/**
 * Wall-clock seconds of `npm start` (the thin and deep pair, as a user runs it) in a process of its
 * own, artifacts already compiled: Hardhat's start-up, both runs and their reports. Throws when it fails.
 */
export function npmStartSeconds(): number {
  const started = performance.now();
  const run = spawnSync("npm", ["start", "--silent"], { encoding: "utf8", env: { ...process.env, CI: "true" } });
  if (run.status !== 0) throw new Error(`bench: npm start failed (${run.status}): ${run.stderr.trim().split("\n")[0]}`);
  return (performance.now() - started) / 1000;
}
