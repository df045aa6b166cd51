/**
 * Access control, table-driven over the ABIs (SPEC section 8, invariant 5: only roles change config or
 * push prices). Every non-view function of every deployed contract must be classified below, either as
 * permissionless (with the reason it is safe for anyone to call) or as gated by a named role. The test
 * fails when an ABI has a function the table does not classify, so a new function cannot ship without a
 * decision and a check; and when the table names a function the ABI no longer has.
 *
 * For each role-gated function an account that holds no role calls it, with arguments that decode, and
 * must get AccessControlUnauthorizedAccount(caller, role). For each permissionless one the same account
 * calls it (statically) and must not get that error. Finally, the roles are held by exactly the accounts
 * the deployment granted them to: the holders are rebuilt from RoleGranted/RoleRevoked events.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { BaseContract, FunctionFragment, Interface, ParamType } from "ethers";
import { PremiumFundingModel__factory, ReciprocalOracle__factory } from "../../typechain-types";
import { exchangeFixture, type ExchangeFixture } from "../helpers/fixtures";

type Access =
  | { kind: "permissionless"; why: string }
  | {
      kind: "role";
      role:
        | "DEFAULT_ADMIN_ROLE"
        | "CONFIG_ROLE"
        | "OPERATOR_ROLE"
        | "POOL_ROLE"
        | "EXECUTOR_ROLE"
        | "ORACLE_ROLE"
        | "MINTER_ROLE";
    };

const open = (why: string): Access => ({ kind: "permissionless", why });
const role = (r: Extract<Access, { kind: "role" }>["role"]): Access => ({ kind: "role", role: r });

/** OpenZeppelin AccessControl's three writers, on every contract that has roles. */
const ACCESS_CONTROL: Record<string, Access> = {
  "grantRole(bytes32,address)": role("DEFAULT_ADMIN_ROLE"),
  "revokeRole(bytes32,address)": role("DEFAULT_ADMIN_ROLE"),
  "renounceRole(bytes32,address)": open("renounces only the caller's own role (confirmation must be the caller)"),
};

const ERC20_WRITES: Record<string, Access> = {
  "approve(address,uint256)": open("ERC-20: the caller's own allowance"),
  "transfer(address,uint256)": open("ERC-20: the caller's own balance"),
  "transferFrom(address,address,uint256)": open("ERC-20: spends an allowance the owner gave"),
};

type Contractish = BaseContract & { interface: Interface };

interface Subject {
  name: string;
  contract: (f: ExchangeFixture) => Contractish | Promise<Contractish>;
  table: Record<string, Access>;
}

const SUBJECTS: Subject[] = [
  {
    name: "Vault",
    contract: (f) => f.ex.vault,
    table: {
      "deposit(uint256)": open("credits the caller's own free balance with the caller's tokens"),
      "withdraw(uint256,address)": open("debits only the caller's own free balance"),
      "fundInsurance(uint256)": open("a donation of the caller's tokens"),
      "settle((address,int256,address,int256,int256,int256,int256,int256))": role("OPERATOR_ROLE"),
      "creditPool(uint256)": role("POOL_ROLE"),
      "payFromPool(address,uint256)": role("POOL_ROLE"),
      ...ACCESS_CONTROL,
    },
  },
  {
    name: "LiquidityPool",
    contract: (f) => f.ex.pool,
    table: {
      ...ERC20_WRITES,
      "deposit(uint256,address)": open("ERC-4626: the caller's assets for shares"),
      "mint(uint256,address)": open("ERC-4626: the caller's assets for shares"),
      "withdraw(uint256,address,address)": open(
        "ERC-4626: the owner's shares, or an allowance, within the free assets",
      ),
      "redeem(uint256,address,address)": open("ERC-4626: the owner's shares, or an allowance, within the free assets"),
    },
  },
  {
    name: "Oracle",
    contract: (f) => f.ex.oracle,
    table: {
      "setSources(uint256,address[],uint32[])": role("CONFIG_ROLE"),
      "recordPrice(int256,uint256)": open("writes only into the source slots that list the caller as a recorded feed"),
      ...ACCESS_CONTROL,
    },
  },
  {
    name: "ReciprocalOracle (the BTC engine's)",
    contract: (f) => ReciprocalOracle__factory.connect(f.ex.deployment.coinMargined![0].contracts.oracle, f.deployer),
    table: { "list(uint256,uint256)": role("CONFIG_ROLE"), ...ACCESS_CONTROL },
  },
  {
    name: "PushPriceFeed",
    contract: (f) => f.alt.pushedFeeds[0],
    table: {
      "setPrice(int256)": role("ORACLE_ROLE"),
      "setMaxDeviation(uint256)": role("DEFAULT_ADMIN_ROLE"),
      "setOracle(address)": role("DEFAULT_ADMIN_ROLE"),
      ...ACCESS_CONTROL,
    },
  },
  {
    name: "SpotTwapFeed",
    contract: (f) => f.alt.twapFeed,
    table: {},
  },
  {
    name: "PerpEngine",
    contract: (f) => f.ex.engine,
    table: {
      "increasePosition(uint256,int256,uint256,uint256)": open("the caller's own position, paid from its own balance"),
      "decreasePosition(uint256,uint256,uint256)": open("the caller's own position"),
      "closePosition(uint256,uint256)": open("the caller's own position"),
      "addMargin(uint256,uint256)": open("the caller's own position and balance"),
      "removeMargin(uint256,uint256)": open("the caller's own position, within its initial margin"),
      "increasePositionFor(address,uint256,int256,uint256,uint256)": role("EXECUTOR_ROLE"),
      "decreasePositionFor(address,uint256,uint256,uint256)": role("EXECUTOR_ROLE"),
      "settleFunding(uint256)": open("keeper job: the contract applies the funding rule"),
      "liquidate(uint256)": open("keeper job: reverts unless the position is liquidatable at mark"),
      "liquidateMany(uint256[])": open("keeper job: skips every position that is not liquidatable"),
      "autoDeleverage(uint256,uint256)": open("keeper job: reverts unless ADL is active and the position wins"),
      ...ACCESS_CONTROL,
    },
  },
  {
    name: "PerpEngineAdmin (at the engine's address)",
    contract: (f) => f.ex.admin,
    table: {
      "createMarket((bytes32,uint128,uint128,uint64,uint64,uint64,uint64,uint128,uint128,int64,uint64,uint64,uint32,uint32,uint64,uint64,uint64,uint64,uint8,uint96,address,uint64,uint32),(uint128,uint128,uint128,uint128)[])":
        role("CONFIG_ROLE"),
      "setMarketConfig(uint256,(bytes32,uint128,uint128,uint64,uint64,uint64,uint64,uint128,uint128,int64,uint64,uint64,uint32,uint32,uint64,uint64,uint64,uint64,uint8,uint96,address,uint64,uint32))":
        role("CONFIG_ROLE"),
      "setTiers(uint256,(uint128,uint128,uint128,uint128)[])": role("CONFIG_ROLE"),
      "setPaused(uint256,bool)": role("CONFIG_ROLE"),
      ...ACCESS_CONTROL,
    },
  },
  {
    name: "OrderBook",
    contract: (f) => f.ex.orderBook,
    table: {
      "createLimitOpen(uint256,int256,uint256,uint256,uint256,uint256,bool)": open("escrows the caller's own balance"),
      "createLimitClose(uint256,uint256,uint256,uint256,uint256,bool)": open("reduces only the caller's own position"),
      "createTriggerOrder(uint256,uint8,uint256,uint256,uint256,uint256,uint256)": open(
        "reduces only the caller's own position",
      ),
      "executeOrder(uint256)": open("keeper job: reverts unless the order's condition holds"),
      "cancelOrder(uint256)": open("the owner's, or anyone's once expired (NotOrderOwner otherwise)"),
      "setMinExecutionFee(uint256)": role("CONFIG_ROLE"),
      ...ACCESS_CONTROL,
    },
  },
  {
    name: "CoinToken",
    contract: (f) => f.alt.coin,
    table: {
      ...ERC20_WRITES,
      "mint(address,uint256)": role("MINTER_ROLE"),
      "faucet(address,uint256)": open("mints only on the local chain (chain id 31337)"),
      ...ACCESS_CONTROL,
    },
  },
  {
    name: "CollateralToken",
    contract: (f) => f.ex.collateral,
    table: { ...ERC20_WRITES, "faucet(address,uint256)": open("mints only on the local chain (chain id 31337)") },
  },
  {
    name: "SpotPool",
    contract: (f) => f.alt.spotPool,
    table: {
      "addLiquidity(uint256,uint256)": open("the caller's own tokens, permanent liquidity"),
      "swap(bool,uint256,uint256,address)": open("the caller's own tokens, at the x*y=k quote"),
    },
  },
  { name: "PerpLens", contract: (f) => f.ex.lens, table: {} },
  {
    name: "PremiumFundingModel",
    contract: (f) => PremiumFundingModel__factory.connect(f.ex.deployment.contracts.fundingModel, f.deployer),
    table: {},
  },
];

/** Every state-changing function of an ABI, by canonical signature. */
function writers(iface: Interface): FunctionFragment[] {
  const out: FunctionFragment[] = [];
  iface.forEachFunction((fn) => {
    if (fn.stateMutability !== "view" && fn.stateMutability !== "pure") out.push(fn);
  });
  return out;
}

/** A value of `type` that ABI-decodes: zeros, the zero address, empty arrays. */
function zeroOf(type: ParamType): unknown {
  switch (type.baseType) {
    case "tuple":
      return type.components!.map(zeroOf);
    case "array":
      return type.arrayLength! > 0 ? Array.from({ length: type.arrayLength! }, () => zeroOf(type.arrayChildren!)) : [];
    case "address":
      return ethers.ZeroAddress;
    case "bool":
      return false;
    case "string":
      return "";
    case "bytes":
      return "0x";
    default:
      if (type.baseType.startsWith("bytes")) return ethers.zeroPadValue("0x", Number(type.baseType.slice(5)));
      return 0n; // uintN, intN
  }
}

const roleHash = (name: string): string => (name === "DEFAULT_ADMIN_ROLE" ? ethers.ZeroHash : ethers.id(name));

/** The revert data of a failed call, whatever shape the error came in. */
function revertData(err: unknown): string | undefined {
  const e = err as { data?: unknown; error?: { data?: unknown } };
  if (typeof e.data === "string") return e.data;
  if (typeof e.error?.data === "string") return e.error.data;
  return undefined;
}

describe("adversarial: access control over every non-view function", () => {
  let outsider: HardhatEthersSigner;

  async function fixture() {
    const f = await loadFixture(exchangeFixture);
    // An account that was never granted anything and holds no balance: the last signer.
    const signers = await ethers.getSigners();
    outsider = signers[signers.length - 1];
    return f;
  }

  for (const subject of SUBJECTS) {
    describe(subject.name, () => {
      it("classifies every non-view function of the ABI, and only functions the ABI has", async () => {
        const f = await fixture();
        const inAbi = writers((await subject.contract(f)).interface).map((fn) => fn.format("sighash"));
        const classified = Object.keys(subject.table);
        const unclassified = inAbi.filter((sig) => !(sig in subject.table));
        const stale = classified.filter((sig) => !inAbi.includes(sig));
        expect(unclassified, `${subject.name}: functions with no access decision in the table`).to.deep.equal([]);
        expect(stale, `${subject.name}: table entries the ABI does not have`).to.deep.equal([]);
      });

      it("refuses every role-gated function to an account without the role, with AccessControlUnauthorizedAccount", async () => {
        const f = await fixture();
        const contract = (await subject.contract(f)).connect(outsider) as Contractish;
        let checked = 0;
        for (const fn of writers(contract.interface)) {
          const access = subject.table[fn.format("sighash")];
          if (!access || access.kind !== "role") continue;
          const hash = roleHash(access.role);
          const constant = contract.interface.getFunction(access.role);
          if (constant)
            expect(await contract.getFunction(access.role).staticCall(), `${access.role} constant`).to.equal(hash);
          expect(await contract.getFunction("hasRole").staticCall(hash, outsider.address)).to.equal(false);
          const args = fn.inputs.map(zeroOf);
          await expect(contract.getFunction(fn.format("sighash"))(...args), `${subject.name}.${fn.format("sighash")}`)
            .to.be.revertedWithCustomError(contract, "AccessControlUnauthorizedAccount")
            .withArgs(outsider.address, hash);
          checked++;
        }
        const gated = Object.values(subject.table).filter((a) => a.kind === "role").length;
        expect(checked, "every role-gated entry was called").to.equal(gated);
      });

      it("lets any account reach every permissionless function (no role check in the way)", async () => {
        const f = await fixture();
        const contract = (await subject.contract(f)).connect(outsider) as Contractish;
        const refusals: string[] = [];
        for (const fn of writers(contract.interface)) {
          const access = subject.table[fn.format("sighash")];
          if (!access || access.kind !== "permissionless") continue;
          const args = fn.inputs.map(zeroOf);
          try {
            await contract.getFunction(fn.format("sighash")).staticCall(...args);
          } catch (err) {
            // It may refuse the zero arguments, but with a declared error of its own, never a role check.
            const data = revertData(err);
            const parsed = data ? contract.interface.parseError(data) : null;
            const where = `${subject.name}.${fn.format("sighash")} (${access.why})`;
            expect(parsed, `${where}: reverted without a declared custom error`).to.not.equal(null);
            expect(parsed!.name, where).to.not.equal("AccessControlUnauthorizedAccount");
            refusals.push(`${fn.name}: ${parsed!.name}`);
          }
        }
      });
    });
  }

  it("renounceRole cannot take a role from another account", async () => {
    const f = await fixture();
    const configRole = await f.ex.engine.CONFIG_ROLE();
    await expect(
      f.ex.engine.connect(outsider).renounceRole(configRole, f.deployer.address),
    ).to.be.revertedWithCustomError(f.ex.engine, "AccessControlBadConfirmation");
    expect(await f.ex.engine.hasRole(configRole, f.deployer.address)).to.equal(true);
  });

  it("grants each role to exactly the accounts the deployment wired, as rebuilt from the role events", async () => {
    const f = await fixture();
    const { ex, deployer, alt, btc } = f;
    const c = ex.deployment.contracts;
    const admin = deployer.address;
    type RoleHolders = { name: string; contract: BaseContract; holders: Record<string, string[]> };
    const expected: RoleHolders[] = [
      {
        name: "Vault",
        contract: ex.vault,
        holders: { DEFAULT_ADMIN_ROLE: [admin], OPERATOR_ROLE: [c.engine, c.orderBook], POOL_ROLE: [c.pool] },
      },
      { name: "Oracle", contract: ex.oracle, holders: { DEFAULT_ADMIN_ROLE: [admin], CONFIG_ROLE: [admin] } },
      {
        name: "PerpEngine",
        contract: ex.engine,
        holders: { DEFAULT_ADMIN_ROLE: [admin], CONFIG_ROLE: [admin], EXECUTOR_ROLE: [c.orderBook] },
      },
      { name: "OrderBook", contract: ex.orderBook, holders: { DEFAULT_ADMIN_ROLE: [admin], CONFIG_ROLE: [admin] } },
      ...[alt, btc].flatMap((m): RoleHolders[] => [
        ...m.pushedFeeds.map((feed) => ({
          name: `${m.symbol} pushed feed`,
          contract: feed as BaseContract,
          holders: { DEFAULT_ADMIN_ROLE: [admin], ORACLE_ROLE: [admin] },
        })),
        {
          name: `${m.symbol} coin`,
          contract: m.coin as BaseContract,
          holders: { DEFAULT_ADMIN_ROLE: [admin], MINTER_ROLE: [admin] },
        },
      ]),
      // Each coin-margined exchange is wired as the USD one, over its own contracts.
      ...(ex.deployment.coinMargined ?? []).flatMap((v): RoleHolders[] => [
        {
          name: `${v.asset} vault`,
          contract: ex.coinMargined.get(v.asset)!.vault,
          holders: {
            DEFAULT_ADMIN_ROLE: [admin],
            OPERATOR_ROLE: [v.contracts.engine, v.contracts.orderBook],
            POOL_ROLE: [v.contracts.pool],
          },
        },
        {
          name: `${v.asset} reciprocal oracle`,
          contract: ReciprocalOracle__factory.connect(v.contracts.oracle, deployer),
          holders: { DEFAULT_ADMIN_ROLE: [admin], CONFIG_ROLE: [admin] },
        },
        {
          name: `${v.asset} engine`,
          contract: ex.coinMargined.get(v.asset)!.engine,
          holders: { DEFAULT_ADMIN_ROLE: [admin], CONFIG_ROLE: [admin], EXECUTOR_ROLE: [v.contracts.orderBook] },
        },
        {
          name: `${v.asset} order book`,
          contract: ex.coinMargined.get(v.asset)!.orderBook,
          holders: { DEFAULT_ADMIN_ROLE: [admin], CONFIG_ROLE: [admin] },
        },
      ]),
    ];
    for (const e of expected) {
      const held = new Map<string, Set<string>>();
      const granted = await e.contract.queryFilter("RoleGranted");
      const revoked = await e.contract.queryFilter("RoleRevoked");
      const events = [...granted, ...revoked].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index);
      for (const ev of events) {
        const parsed = e.contract.interface.parseLog(ev)!;
        const [r, account] = parsed.args as unknown as [string, string];
        if (!held.has(r)) held.set(r, new Set());
        if (parsed.name === "RoleGranted") held.get(r)!.add(account.toLowerCase());
        else held.get(r)!.delete(account.toLowerCase());
      }
      const want = new Map(
        Object.entries(e.holders).map(([name, accounts]) => [
          roleHash(name),
          new Set(accounts.map((a) => a.toLowerCase())),
        ]),
      );
      const got = new Map([...held].filter(([, set]) => set.size > 0));
      expect(got, `${e.name}: role holders`).to.deep.equal(want);
    }
  });
});
