/**
 * The chain a simulation runs on, chosen per run (`--chain`, or PERPSIM_CHAIN for every run of a
 * process and its workers):
 *   - `edr`: Hardhat's in-process network (the runtime's own `hardhat` network), or the node named by
 *     `--network` (a `hardhat node` or anvil over HTTP);
 *   - `anvil`: a private anvil node this process starts and reaches over IPC (sim/anvil.ts), one per
 *     process or sweep thread, reused by every run in it and stopped with it.
 * The runner sees both the same way: a raw EIP-1193 provider (which the block clock wraps), an ethers
 * provider over it, and signers.
 */
import type { HardhatRuntimeEnvironment, EthereumProvider } from "hardhat/types";
import { HardhatEthersProvider } from "@nomicfoundation/hardhat-ethers/internal/hardhat-ethers-provider";
import { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { toQuantity, type Block, type BlockTag, type Filter, type FilterByBlockHash, type Log } from "ethers";
import { startAnvil, type AnvilNode } from "./anvil";

export const CHAINS = ["anvil", "edr"] as const;
export type ChainKind = (typeof CHAINS)[number];

/** The default backend, measured in `npm run bench` (README: Simulator speed). */
export const DEFAULT_CHAIN: ChainKind = "anvil";

/** `value` as a chain kind; a one-line error naming the allowed values otherwise. */
export function parseChain(value: string, source = "--chain"): ChainKind {
  if ((CHAINS as readonly string[]).includes(value)) return value as ChainKind;
  throw new Error(`${source}: expected one of ${CHAINS.join(", ")} (got ${JSON.stringify(value)})`);
}

/** The chain a run uses when its caller names none: PERPSIM_CHAIN, else DEFAULT_CHAIN. */
export function defaultChain(): ChainKind {
  const fromEnv = process.env.PERPSIM_CHAIN;
  return fromEnv === undefined || fromEnv === "" ? DEFAULT_CHAIN : parseChain(fromEnv, "PERPSIM_CHAIN");
}

export interface SimNetwork {
  /** What the summary's reader is told the run ran on: "edr", "anvil" or a `--network` name. */
  readonly label: string;
  /** The raw provider every request goes through (the block clock wraps its `send`). */
  readonly provider: EthereumProvider;
  readonly ethers: HardhatEthersProvider;
  /**
   * Whether the run owns the chain: it may reset it and set the clock to the simulator's fixed epoch
   * (the in-process network, a private anvil). False on a node others use (`--network localhost`).
   */
  readonly owned: boolean;
  /** The chain's first unlocked account (the deployer). */
  deployer(): Promise<HardhatEthersSigner>;
  /** A signer sending as `address` (impersonated, or one of the node's accounts). */
  signer(address: string): Promise<HardhatEthersSigner>;
}

/** The network of `hre` itself: in-process EDR, or the node `--network` names. */
function runtimeNetwork(hre: HardhatRuntimeEnvironment): SimNetwork {
  const inProcess = hre.network.name === "hardhat";
  return {
    label: inProcess ? "edr" : hre.network.name,
    provider: hre.network.provider,
    ethers: hre.ethers.provider,
    owned: inProcess,
    deployer: async () => (await hre.ethers.getSigners())[0]!,
    signer: (address) => hre.ethers.getSigner(address),
  };
}

/**
 * The anvil network's ethers provider: a block header or a page of logs as the node sends them, without
 * ethers' formatting into its Block and Log classes (a checksummed address per log, property
 * definitions per object: about 0.3 s of JavaScript per squeeze-thin run, for the keeper's three block
 * reads and one log read a step). The objects carry the fields their readers use (the keeper and its
 * indexer, the runner): numbers, hashes, the gas limit; a log's address, block, topics and data.
 */
class SimEthersProvider extends HardhatEthersProvider {
  constructor(private readonly raw: EthereumProvider) {
    super(raw, "anvil");
  }

  override async getBlock(tag: BlockTag | string, prefetchTxs?: boolean): Promise<Block | null> {
    if (prefetchTxs === true || !(typeof tag === "number" || tag === "latest")) return super.getBlock(tag, prefetchTxs);
    const b = (await this.raw.send("eth_getBlockByNumber", [
      typeof tag === "number" ? toQuantity(tag) : tag,
      false,
    ])) as RawBlock | null;
    if (b === null) return null;
    const header = {
      number: Number(b.number),
      hash: b.hash,
      parentHash: b.parentHash,
      timestamp: Number(b.timestamp),
      gasLimit: BigInt(b.gasLimit),
      gasUsed: BigInt(b.gasUsed),
      transactions: b.transactions,
    };
    return header as unknown as Block;
  }

  override async getLogs(filter: Filter | FilterByBlockHash): Promise<Log[]> {
    const f = filter as Filter;
    if (typeof f.fromBlock !== "number" || typeof f.toBlock !== "number") return super.getLogs(filter);
    const raw = (await this.raw.send("eth_getLogs", [
      { address: f.address, topics: f.topics, fromBlock: toQuantity(f.fromBlock), toBlock: toQuantity(f.toBlock) },
    ])) as RawLog[];
    return raw.map(
      (l) =>
        ({
          address: l.address,
          blockNumber: Number(l.blockNumber),
          blockHash: l.blockHash,
          transactionHash: l.transactionHash,
          transactionIndex: Number(l.transactionIndex),
          index: Number(l.logIndex),
          removed: l.removed === true,
          topics: l.topics,
          data: l.data,
        }) as unknown as Log,
    );
  }
}

interface RawBlock {
  number: string;
  hash: string;
  parentHash: string;
  timestamp: string;
  gasLimit: string;
  gasUsed: string;
  transactions: string[];
}

interface RawLog {
  address: string;
  blockNumber: string;
  blockHash: string;
  transactionHash: string;
  transactionIndex: string;
  logIndex: string;
  removed?: boolean;
  topics: string[];
  data: string;
}

/** This process's (or this thread's) anvil node, started by the first run that asks for it. */
let anvil: Promise<{ node: AnvilNode; network: SimNetwork }> | undefined;

async function anvilNetwork(): Promise<SimNetwork> {
  anvil ??= startAnvil().then((node) => {
    const provider = node.provider as unknown as EthereumProvider;
    const ethers = new SimEthersProvider(provider);
    const network: SimNetwork = {
      label: "anvil",
      provider,
      ethers,
      owned: true,
      deployer: async () => {
        const [first] = (await provider.send("eth_accounts", [])) as string[];
        return HardhatEthersSigner.create(ethers, first!);
      },
      signer: (address) => HardhatEthersSigner.create(ethers, address),
    };
    return { node, network };
  });
  // A node that failed to start is not kept: the next run tries again.
  anvil.catch(() => (anvil = undefined));
  return (await anvil).network;
}

/** CPU seconds this process's anvil node has used; undefined without a node (or off Linux). */
export async function anvilCpuSeconds(): Promise<number | undefined> {
  return anvil === undefined ? undefined : (await anvil).node.cpuSeconds();
}

/** Stops this process's anvil node, if it started one (it is stopped at exit otherwise). */
export async function stopAnvil(): Promise<void> {
  const started = anvil;
  anvil = undefined;
  if (started !== undefined) (await started).node.stop();
}

/**
 * The network a run on `chain` uses. `anvil` needs the runtime on its in-process network: a
 * `--network` names a node of its own, which the run then uses as it is.
 */
export async function simNetwork(hre: HardhatRuntimeEnvironment, chain: ChainKind): Promise<SimNetwork> {
  if (chain === "anvil" && hre.network.name === "hardhat") return anvilNetwork();
  return runtimeNetwork(hre);
}
