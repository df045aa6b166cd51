/**
 * Names for a gas trace: contracts by address, functions by selector, storage slots by the contracts'
 * layouts. The layouts are written here from the Solidity declarations (AccessControl's `_roles` at
 * slot 0, then each contract's variables in order; ReentrancyGuard in its ERC-7201 slot) and checked
 * against the chain when the names are built: a layout that no longer matches is not used, and its
 * slots show as "other" rather than under a wrong name.
 */
import type { EthereumProvider } from "hardhat/types";
import { AbiCoder, Interface, keccak256, toBeHex, type InterfaceAbi } from "ethers";
import {
  CollateralToken__factory,
  CoinToken__factory,
  LiquidityPool__factory,
  Oracle__factory,
  OrderBook__factory,
  PerpEngineAdmin__factory,
  PerpEngine__factory,
  PerpLens__factory,
  PremiumFundingModel__factory,
  PushPriceFeed__factory,
  ReciprocalOracle__factory,
  SpotPool__factory,
  SpotTwapFeed__factory,
  Vault__factory,
} from "../typechain-types";
import type { Exchange } from "../lib/contracts";
import { PositionLib } from "../lib/math";
import type { Names } from "./trace";

/** OpenZeppelin 5's ReentrancyGuard status slot (ERC-7201 namespace "openzeppelin.storage.ReentrancyGuard"). */
const REENTRANCY_SLOT = "0x9b779b17422d0df92223018b32b4d1fa46e071723d6817e2486d003becc55f00";
const ROLES_SLOT = 0n;

/** Per-contract mapping slots (declaration order) and the struct size of each entry, in slots. */
const ENGINE = { marketCount: 1n, marketIdBySymbol: 2n, configs: 3n, states: 4n, tiers: 5n, positions: 6n };
const ENGINE_SIZES = { config: 6, state: 7, tier: 1, position: 1 };
const VAULT = { freeBalance: 1n, marginOperator: 2n, poolInsurance: 3n, escrowHeld: 4n };
/** Oracle: each market's sources, a fixed array of MAX_SOURCES one-slot entries (no length slot). */
const ORACLE = { sources: 1n, maxSources: 7 };
/** SpotPool: the reserves with the ring's position, the price (spot and times), then the observation ring. */
const SPOT_POOL = { reserves: 0n, price: 1n, observations: 2n, observationSlots: 512 };
const ORDER_BOOK = { minExecutionFee: 1n, orderCount: 2n, orders: 3n, orderSize: 4 };

const coder = AbiCoder.defaultAbiCoder();
const slotHex = (n: bigint): string => toBeHex(n, 32);
const mappingSlot = (keyType: string, key: unknown, slot: bigint): bigint =>
  BigInt(keccak256(coder.encode([keyType, "uint256"], [key, slot])));

export class ExchangeNames implements Names {
  private readonly contracts = new Map<string, string>();
  private readonly abis = new Map<string, Interface>();
  private readonly slots = new Map<string, Map<string, string>>();
  private readonly roleHashes: string[] = [];
  readonly warnings: string[] = [];

  private constructor(private readonly ex: Exchange) {}

  static async build(provider: EthereumProvider, ex: Exchange): Promise<ExchangeNames> {
    const n = new ExchangeNames(ex);
    const c = ex.deployment.contracts;
    const set = (address: string, name: string, abi: InterfaceAbi) => {
      n.contracts.set(address.toLowerCase(), name);
      if (!n.abis.has(name)) n.abis.set(name, new Interface(abi));
    };
    set(c.collateral, "CollateralToken", CollateralToken__factory.abi);
    set(c.vault, "Vault", Vault__factory.abi);
    set(c.oracle, "Oracle", Oracle__factory.abi);
    set(c.engine, "PerpEngine", [
      ...PerpEngine__factory.abi,
      ...PerpEngineAdmin__factory.abi.filter((f) => f.type === "function"),
    ]);
    set(c.engineAdmin, "PerpEngineAdmin", PerpEngineAdmin__factory.abi);
    set(c.pool, "LiquidityPool", LiquidityPool__factory.abi);
    set(c.orderBook, "OrderBook", OrderBook__factory.abi);
    set(c.fundingModel, "PremiumFundingModel", PremiumFundingModel__factory.abi);
    // Each coin-margined exchange: the same contracts and layouts under the same names (its coin is the
    // coin of its USD market), and its ReciprocalOracle.
    for (const v of ex.deployment.coinMargined ?? []) {
      const cc = v.contracts;
      set(cc.vault, "Vault", Vault__factory.abi);
      set(cc.oracle, "ReciprocalOracle", ReciprocalOracle__factory.abi);
      set(cc.engine, "PerpEngine", [
        ...PerpEngine__factory.abi,
        ...PerpEngineAdmin__factory.abi.filter((f) => f.type === "function"),
      ]);
      set(cc.engineAdmin, "PerpEngineAdmin", PerpEngineAdmin__factory.abi);
      set(cc.pool, "LiquidityPool", LiquidityPool__factory.abi);
      set(cc.orderBook, "OrderBook", OrderBook__factory.abi);
    }
    for (const m of ex.deployment.markets) {
      set(m.coin, `${m.symbol} coin`, CoinToken__factory.abi);
      set(m.spotPool, `${m.symbol} SpotPool`, SpotPool__factory.abi);
      set(m.twapFeed, `${m.symbol} SpotTwapFeed`, SpotTwapFeed__factory.abi);
      m.pushedFeeds.forEach((f, i) => set(f, `${m.symbol} PushPriceFeed ${i + 1}`, PushPriceFeed__factory.abi));
    }
    for (const role of [
      "DEFAULT_ADMIN_ROLE",
      "CONFIG_ROLE",
      "EXECUTOR_ROLE",
      "OPERATOR_ROLE",
      "POOL_ROLE",
      "ORACLE_ROLE",
    ]) {
      n.roleHashes.push(role === "DEFAULT_ADMIN_ROLE" ? slotHex(0n) : keccak256(Buffer.from(role)));
    }
    await n.checkLayouts(provider);
    n.addMarkets(BigInt(ex.deployment.markets.length));
    const coinContracts = (ex.deployment.coinMargined ?? []).flatMap((v) => [
      v.contracts.engine,
      v.contracts.orderBook,
      v.contracts.pool,
      v.contracts.vault,
    ]);
    n.addAccounts([c.engine, c.orderBook, c.pool, c.vault, ...coinContracts]);
    return n;
  }

  contractOf(address: string): string {
    return this.contracts.get(address.toLowerCase()) ?? `contract ${address.slice(0, 10)}`;
  }

  functionOf(contract: string, selector: string): string {
    const own = this.abis.get(contract.split(" via ")[0]);
    const found =
      own?.getFunction(selector) ?? [...this.abis.values()].map((i) => i.getFunction(selector)).find(Boolean);
    return found ? found.name : selector;
  }

  slotOf(contract: string, slot: string): string {
    const name = contract.split(" via ")[0];
    const label = this.slots.get(name)?.get(slot) ?? this.slots.get("*")?.get(slot);
    if (label) return label;
    return BigInt(slot) < 16n ? `slot ${BigInt(slot)}` : "other";
  }

  /** Names the slots that belong to these accounts: free balances, positions, role memberships. */
  addAccounts(accounts: readonly string[]): void {
    const markets = this.ex.deployment.markets.map((m) => BigInt(m.marketId));
    for (const account of accounts) {
      this.label("Vault", mappingSlot("address", account, VAULT.freeBalance), "freeBalance[account]");
      for (const marketId of markets) {
        const base = mappingSlot("uint256", PositionLib.id(account, marketId), ENGINE.positions);
        for (let k = 0; k < ENGINE_SIZES.position; k++) this.label("PerpEngine", base + BigInt(k), "position");
      }
      for (const role of this.roleHashes) {
        const roleData = mappingSlot("bytes32", role, ROLES_SLOT);
        this.label("*", mappingSlot("address", account, roleData), "roles");
      }
    }
  }

  /** Names order slots 1..count of the order book. */
  addOrders(count: bigint): void {
    for (let id = 1n; id <= count; id++) {
      const base = mappingSlot("uint256", id, ORDER_BOOK.orders);
      for (let k = 0; k < ORDER_BOOK.orderSize; k++) this.label("OrderBook", base + BigInt(k), "order");
    }
  }

  private addMarkets(count: bigint): void {
    for (const role of this.roleHashes)
      this.label("*", mappingSlot("bytes32", role, ROLES_SLOT) + 1n, "roles (admin role)");
    this.label("*", BigInt(REENTRANCY_SLOT), "reentrancy guard");
    if (!this.warnings.some((w) => w.startsWith("PerpEngine"))) {
      this.label("PerpEngine", ENGINE.marketCount, "marketCount");
      for (let m = 1n; m <= count; m++) {
        const config = mappingSlot("uint256", m, ENGINE.configs);
        for (let k = 0; k < ENGINE_SIZES.config; k++) this.label("PerpEngine", config + BigInt(k), "config");
        const state = mappingSlot("uint256", m, ENGINE.states);
        for (let k = 0; k < ENGINE_SIZES.state; k++) this.label("PerpEngine", state + BigInt(k), "state");
        const tiers = mappingSlot("uint256", m, ENGINE.tiers); // a fixed array: the tiers from this slot on
        for (let k = 0; k < 10 * ENGINE_SIZES.tier; k++) this.label("PerpEngine", tiers + BigInt(k), "tiers");
        const sources = mappingSlot("uint256", m, ORACLE.sources);
        for (let k = 0; k < ORACLE.maxSources; k++) this.label("Oracle", sources + BigInt(k), "sources");
      }
    }
    if (!this.warnings.some((w) => w.startsWith("Vault"))) {
      this.label("Vault", VAULT.marginOperator, "ledgers (margin, fast operator)");
      this.label("Vault", VAULT.poolInsurance, "ledgers (pool, insurance)");
      this.label("Vault", VAULT.escrowHeld, "ledgers (escrow, held)");
    }
    for (const m of this.ex.deployment.markets) {
      const pool = `${m.symbol} SpotPool`;
      this.label(pool, SPOT_POOL.reserves, "reserves");
      this.label(pool, SPOT_POOL.price, "price (spot, last update)");
      for (let k = 0; k < SPOT_POOL.observationSlots; k++)
        this.label(pool, SPOT_POOL.observations + BigInt(k), "observations");
    }
    this.label("OrderBook", ORDER_BOOK.minExecutionFee, "minExecutionFee");
    this.label("OrderBook", ORDER_BOOK.orderCount, "orderCount");
  }

  private label(contract: string, slot: bigint, label: string): void {
    let map = this.slots.get(contract);
    if (!map) {
      map = new Map();
      this.slots.set(contract, map);
    }
    map.set(slotHex(slot), label);
  }

  /** Reads a few known values through their slots; a mismatch disables that contract's layout. */
  private async checkLayouts(provider: EthereumProvider): Promise<void> {
    const read = async (address: string, slot: bigint) =>
      BigInt((await provider.send("eth_getStorageAt", [address, slotHex(slot), "latest"])) as string);
    const c = this.ex.deployment.contracts;
    const marketCount = await this.ex.admin.marketCount();
    const symbolWord = await read(c.engine, mappingSlot("uint256", 1n, ENGINE.configs));
    const symbol = (await this.ex.admin.marketConfig(1n)).symbol;
    if ((await read(c.engine, ENGINE.marketCount)) !== marketCount || symbolWord !== BigInt(symbol)) {
      this.warnings.push("PerpEngine's storage layout changed: its slots are not named");
    }
    const poolWord = await read(c.vault, VAULT.poolInsurance);
    if (poolWord % (1n << 128n) !== (await this.ex.vault.poolAssets())) {
      this.warnings.push("Vault's storage layout changed: its slots are not named");
    }
  }
}

/**
 * For RpcProfile: names an eth_call, eth_estimateGas or eth_sendTransaction by the function it calls
 * (e.g. "positions"), from the selectors of every exchange contract.
 */
const DETAILED = new Set(["eth_call", "eth_estimateGas", "eth_sendTransaction"]);

export function callDetail(): (method: string, params: unknown[] | undefined) => string | undefined {
  const abis: InterfaceAbi[] = [
    PerpLens__factory.abi,
    PerpEngine__factory.abi,
    PerpEngineAdmin__factory.abi,
    Vault__factory.abi,
    Oracle__factory.abi,
    OrderBook__factory.abi,
    LiquidityPool__factory.abi,
    SpotPool__factory.abi,
    PushPriceFeed__factory.abi,
    SpotTwapFeed__factory.abi,
    CollateralToken__factory.abi,
    CoinToken__factory.abi,
  ];
  const names = new Map<string, string>();
  for (const abi of abis) {
    new Interface(abi).forEachFunction((f) => {
      if (!names.has(f.selector)) names.set(f.selector, f.name);
    });
  }
  return (method, params) => {
    if (!DETAILED.has(method)) return undefined;
    const tx = params?.[0] as { to?: string; data?: string; input?: string } | undefined;
    // A call with no target runs creation code: the simulator's batched reads (contracts/sim/SimReads.sol).
    if (method === "eth_call" && tx !== undefined && tx.to === undefined) return "SimReads (batched reads)";
    const selector = (tx?.data ?? tx?.input ?? "").slice(0, 10);
    return names.get(selector) ?? (selector || undefined);
  };
}
