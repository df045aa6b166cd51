/**
 * Reentrancy through the collateral token. The exchange is deployed on HookedToken, an ERC-777-like
 * token that calls back into an attacker contract on every transfer (before the balances move, like
 * tokensToSend, or after, like tokensReceived). The attacker is itself the trading account, so the call
 * it makes from the hook is a real re-entrant call by the same account.
 *
 * What holds, and which way:
 *  - The vault's token-moving entry points (deposit, withdraw, fundInsurance, and payFromPool behind an LP
 *    redemption) share one ReentrancyGuard: re-entering any of them from a hook fails with
 *    ReentrancyGuardReentrantCall (asserted on the bubbled revert and on the swallowed hook result).
 *  - The engine is a different contract with its own guard and is not locked while the vault transfers,
 *    so a hook may close, liquidate or open in the middle of a withdrawal or deposit. That is safe
 *    because the vault writes its ledgers before it moves tokens: the tests assert that the re-entrant
 *    call leaves exactly the money the same two calls made in sequence leave, and conservation to the unit.
 *  - Closing and liquidating move no tokens at all (they are ledger settlements), so no hook can run
 *    inside them.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import {
  HookedToken__factory,
  LiquidityPool__factory,
  Oracle__factory,
  PerpEngineAdmin__factory,
  PerpEngine__factory,
  PremiumFundingModel__factory,
  PushPriceFeed__factory,
  ReentrantAttacker__factory,
  Vault__factory,
} from "../../typechain-types";
import type {
  HookedToken,
  LiquidityPool,
  PerpEngine,
  PerpEngineAdmin,
  PushPriceFeed,
  ReentrantAttacker,
  Vault,
} from "../../typechain-types";
import { marketConfig, tiersOf } from "../../lib/deploy";
import { ALT_USD } from "../../lib/markets";
import { USD6_TO_WAD, usd6, wad } from "../../lib/units";
import { whatIf } from "./helpers";

const MARKET = 1n;
const INDEX = wad(ALT_USD.initialPrice);
const FEED_HEARTBEAT = 30 * 24 * 3600;
const ATTACKER_TOKENS = usd6(100_000);
const ATTACKER_DEPOSIT = usd6(50_000);

interface HookedSystem {
  token: HookedToken;
  vault: Vault;
  engine: PerpEngine;
  admin: PerpEngineAdmin;
  pool: LiquidityPool;
  feed: PushPriceFeed;
  attacker: ReentrantAttacker;
  attackerAddress: string;
  deployer: HardhatEthersSigner;
  /** an EOA that sends the attacker's transactions (the attacker contract is the account) */
  operator: HardhatEthersSigner;
  victim: HardhatEthersSigner;
  keeper: HardhatEthersSigner;
}

/** The exchange's core wired by hand on the hooked token: one ALT market whose mark is its one feed. */
async function hookedSystem(): Promise<HookedSystem> {
  const [deployer, operator, victim, keeper] = await ethers.getSigners();
  const admin = deployer.address;
  const token = await new HookedToken__factory(deployer).deploy();
  const vault = await new Vault__factory(deployer).deploy(token, admin);
  const oracle = await new Oracle__factory(deployer).deploy(admin);
  const module = await new PerpEngineAdmin__factory(deployer).deploy(vault, oracle);
  const engine = await new PerpEngine__factory(deployer).deploy(vault, oracle, module, admin);
  const engineAdmin = PerpEngineAdmin__factory.connect(await engine.getAddress(), deployer);
  const pool = await new LiquidityPool__factory(deployer).deploy(token, vault, engine, USD6_TO_WAD);
  const funding = await new PremiumFundingModel__factory(deployer).deploy();
  await (await vault.grantRole(await vault.OPERATOR_ROLE(), engine)).wait();
  await (await vault.grantRole(await vault.POOL_ROLE(), pool)).wait();

  const feed = await new PushPriceFeed__factory(deployer).deploy(18, "ALT exact", admin);
  await (await feed.setPrice(INDEX)).wait();
  await (await oracle.setSources(MARKET, [await feed.getAddress()], [FEED_HEARTBEAT])).wait();
  const spec = { ...ALT_USD, markModel: "index" as const };
  const cfg = await marketConfig(spec, await funding.getAddress());
  await (await engineAdmin.createMarket(cfg, tiersOf(spec))).wait();

  await (await token.mint(admin, usd6(1_100_000))).wait();
  await (await token.approve(pool, usd6(1_000_000))).wait();
  await (await pool.deposit(usd6(1_000_000), admin)).wait();
  await (await token.approve(vault, usd6(100_000))).wait();
  await (await vault.fundInsurance(usd6(100_000))).wait();

  for (const who of [victim, keeper]) {
    await (await token.mint(who.address, usd6(100_000))).wait();
    await (await token.connect(who).approve(vault, usd6(100_000))).wait();
    await (await vault.connect(who).deposit(usd6(100_000))).wait();
  }

  const attacker = await new ReentrantAttacker__factory(deployer).deploy();
  const attackerAddress = await attacker.getAddress();
  await (await token.mint(attackerAddress, ATTACKER_TOKENS)).wait();
  const s = {
    token,
    vault,
    engine,
    admin: engineAdmin,
    pool,
    feed,
    attacker,
    attackerAddress,
    deployer,
    operator,
    victim,
    keeper,
  };
  await act(s, token, "approve", [await vault.getAddress(), ethers.MaxUint256]);
  await act(s, token, "approve", [await pool.getAddress(), ethers.MaxUint256]);
  await act(s, vault, "deposit", [ATTACKER_DEPOSIT]);
  return s;
}

interface Encoder {
  getAddress(): Promise<string>;
  interface: { encodeFunctionData(fn: string, args: readonly unknown[]): string };
}

/** `fn(args)` on `target`, encoded as the attacker's `run(target, data)`. */
async function runData(s: HookedSystem, target: Encoder, fn: string, args: readonly unknown[]): Promise<string> {
  return s.attacker.interface.encodeFunctionData("run", [
    await target.getAddress(),
    target.interface.encodeFunctionData(fn, args),
  ]);
}

/** The attacker account calls `fn(args)` on `target` (no hook armed unless the test armed one). */
function act(s: HookedSystem, target: Encoder, fn: string, args: readonly unknown[]) {
  return target
    .getAddress()
    .then((addr) => s.attacker.connect(s.operator).run(addr, target.interface.encodeFunctionData(fn, args)));
}

/** Arms the token: its next transfer makes the attacker call `fn(args)` on `target`. */
async function armHook(
  s: HookedSystem,
  target: Encoder,
  fn: string,
  args: readonly unknown[],
  opts: { before: boolean; bubble: boolean },
): Promise<void> {
  await (await s.token.arm(s.attackerAddress, await runData(s, target, fn, args), opts.before, opts.bubble)).wait();
}

/** The vault's books against the tokens it holds, to the unit, over every account that holds a balance. */
async function expectBooksBalance(s: HookedSystem): Promise<void> {
  const held = (await s.token.balanceOf(await s.vault.getAddress())) * USD6_TO_WAD;
  const owed = await s.vault.totalOwed();
  expect(held, "tokens held (WAD) == vault.totalOwed()").to.equal(owed);
  const ledgers =
    (await s.vault.totalFree()) +
    (await s.vault.totalMargin()) +
    (await s.vault.totalEscrow()) +
    (await s.vault.poolAssets()) +
    (await s.vault.insuranceFund());
  expect(ledgers, "sum of ledgers == totalOwed").to.equal(owed);
  let free = 0n;
  for (const a of [s.deployer.address, s.attackerAddress, s.victim.address, s.keeper.address]) {
    free += await s.vault.freeBalance(a);
  }
  expect(await s.vault.totalFree(), "free ledger == the accounts' balances").to.equal(free);
  let margin = 0n;
  for (const a of [s.attackerAddress, s.victim.address]) {
    margin += (await s.admin.position(await s.admin.positionId(a, MARKET))).margin;
  }
  expect(await s.vault.totalMargin(), "margin ledger == the positions' margins").to.equal(margin);
}

/** Everything money-like, as plain data. */
async function moneyState(s: HookedSystem) {
  const accounts = [s.attackerAddress, s.victim.address, s.keeper.address];
  return {
    free: await Promise.all(accounts.map((a) => s.vault.freeBalance(a))),
    tokens: await Promise.all(accounts.map((a) => s.token.balanceOf(a))),
    vaultTokens: await s.token.balanceOf(await s.vault.getAddress()),
    ledgers: [
      await s.vault.totalFree(),
      await s.vault.totalMargin(),
      await s.vault.poolAssets(),
      await s.vault.insuranceFund(),
    ],
    lpShares: await s.pool.balanceOf(s.attackerAddress),
    positions: await Promise.all(
      accounts.map(async (a) => {
        const p = await s.admin.position(await s.admin.positionId(a, MARKET));
        return [p.size, p.entryPrice, p.margin];
      }),
    ),
  };
}

const REENTRANCY_ERROR = "ReentrancyGuardReentrantCall";

describe("adversarial: reentrancy through a collateral token with transfer hooks", () => {
  type VaultCall = { name: string; args: (s: HookedSystem) => readonly unknown[] };
  const vaultEntries: VaultCall[] = [
    { name: "deposit", args: () => [usd6(1_000)] },
    { name: "withdraw", args: (s) => [usd6(1_000), s.attackerAddress] },
    { name: "fundInsurance", args: () => [usd6(1_000)] },
  ];

  describe("the vault's token-moving entry points cannot be re-entered", () => {
    for (const outer of vaultEntries) {
      for (const inner of vaultEntries) {
        for (const before of [true, false]) {
          const phase = before ? "before" : "after";
          it(`${outer.name} whose hook re-enters ${inner.name} (${phase} the balances move) reverts with ${REENTRANCY_ERROR}`, async () => {
            const s = await loadFixture(hookedSystem);
            const state0 = await moneyState(s);
            await armHook(s, s.vault, inner.name, inner.args(s), { before, bubble: true });
            await expect(act(s, s.vault, outer.name, outer.args(s))).to.be.revertedWithCustomError(
              s.vault,
              REENTRANCY_ERROR,
            );
            expect(await moneyState(s)).to.deep.equal(state0);
            await expectBooksBalance(s);
          });
        }
      }
    }

    it("a withdrawal whose hook swallows the failed re-entry pays out once, to the unit", async () => {
      const s = await loadFixture(hookedSystem);
      const free0 = await s.vault.freeBalance(s.attackerAddress);
      const tokens0 = await s.token.balanceOf(s.attackerAddress);
      const amount = usd6(10_000);
      await armHook(s, s.vault, "withdraw", [amount, s.attackerAddress], { before: false, bubble: false });
      await (await act(s, s.vault, "withdraw", [amount, s.attackerAddress])).wait();

      expect(await s.token.hookCalled()).to.equal(true);
      expect(await s.token.lastHookSuccess()).to.equal(false);
      const err = s.vault.interface.parseError(await s.token.lastHookReturn());
      expect(err?.name).to.equal(REENTRANCY_ERROR);
      // One withdrawal: the free balance fell by amount * 1e12 and the tokens rose by amount, no more.
      expect(await s.vault.freeBalance(s.attackerAddress)).to.equal(free0 - amount * USD6_TO_WAD);
      expect(await s.token.balanceOf(s.attackerAddress)).to.equal(tokens0 + amount);
      await expectBooksBalance(s);
    });

    it("an LP redemption whose hook re-enters redeem reverts with the vault's ReentrancyGuardReentrantCall", async () => {
      const s = await loadFixture(hookedSystem);
      await (await act(s, s.pool, "deposit", [usd6(20_000), s.attackerAddress])).wait();
      const shares = await s.pool.balanceOf(s.attackerAddress);
      const half = shares / 2n;
      const state0 = await moneyState(s);
      await armHook(s, s.pool, "redeem", [half, s.attackerAddress, s.attackerAddress], { before: false, bubble: true });
      await expect(
        act(s, s.pool, "redeem", [half, s.attackerAddress, s.attackerAddress]),
      ).to.be.revertedWithCustomError(s.vault, REENTRANCY_ERROR);
      expect(await moneyState(s)).to.deep.equal(state0);

      // Swallowed, the outer redemption alone goes through.
      await armHook(s, s.pool, "redeem", [half, s.attackerAddress, s.attackerAddress], {
        before: false,
        bubble: false,
      });
      await (await act(s, s.pool, "redeem", [half, s.attackerAddress, s.attackerAddress])).wait();
      expect(s.vault.interface.parseError(await s.token.lastHookReturn())?.name).to.equal(REENTRANCY_ERROR);
      expect(await s.pool.balanceOf(s.attackerAddress)).to.equal(shares - half);
      await expectBooksBalance(s);
    });
  });

  describe("the engine, re-entered from a vault transfer, leaves the money the sequential calls leave", () => {
    it("closing a position from inside a withdrawal", async () => {
      const s = await loadFixture(hookedSystem);
      await (await act(s, s.engine, "increasePosition", [MARKET, wad(-20_000), wad(4_000), 0n])).wait();
      await (await s.feed.setPrice(wad("1.9"))).wait(); // the short is in profit
      const amount = usd6(5_000);
      const closeArgs = [MARKET, ethers.MaxUint256];

      const sequential = await whatIf(async () => {
        await (await act(s, s.vault, "withdraw", [amount, s.attackerAddress])).wait();
        await (await act(s, s.engine, "closePosition", closeArgs)).wait();
        return moneyState(s);
      });

      await armHook(s, s.engine, "closePosition", closeArgs, { before: false, bubble: true });
      const receipt = (await (await act(s, s.vault, "withdraw", [amount, s.attackerAddress])).wait())!;
      expect(await s.token.lastHookSuccess()).to.equal(true);
      await expect(receipt.hash).to.emit(s.engine, "Trade");
      expect(await moneyState(s)).to.deep.equal(sequential);
      expect((await s.admin.position(await s.admin.positionId(s.attackerAddress, MARKET))).size).to.equal(0n);
      await expectBooksBalance(s);
    });

    it("liquidating another trader from inside a withdrawal", async () => {
      const s = await loadFixture(hookedSystem);
      // The victim: a 10x short entered at 1.999, liquidatable from (2*5,000 + 1,000) / (5,000 * 1.005) = 2.189;
      // at 2.192 its equity, 1,000 - 5,000 * (2.192 - 1.999) = 35, is above the 27.4 reward.
      await (await s.engine.connect(s.victim).increasePosition(MARKET, wad(-5_000), wad(1_000), 0n)).wait();
      await (await s.feed.setPrice(wad("2.192"))).wait();
      const victimId = await s.admin.positionId(s.victim.address, MARKET);
      const amount = usd6(5_000);

      const sequential = await whatIf(async () => {
        await (await act(s, s.vault, "withdraw", [amount, s.attackerAddress])).wait();
        await (await act(s, s.engine, "liquidate", [victimId])).wait();
        return moneyState(s);
      });

      await armHook(s, s.engine, "liquidate", [victimId], { before: false, bubble: true });
      const receipt = (await (await act(s, s.vault, "withdraw", [amount, s.attackerAddress])).wait())!;
      expect(await s.token.lastHookSuccess()).to.equal(true);
      await expect(receipt.hash).to.emit(s.engine, "Liquidation");
      expect(await moneyState(s)).to.deep.equal(sequential);
      await expectBooksBalance(s);
    });

    it("opening a position from inside a deposit, before the tokens arrive, on the balance the deposit credits", async () => {
      const s = await loadFixture(hookedSystem);
      // Withdraw everything first: the position can only be paid from the deposit in flight.
      const free = await s.vault.freeBalance(s.attackerAddress);
      await (await act(s, s.vault, "withdraw", [free / USD6_TO_WAD, s.attackerAddress])).wait();
      const amount = usd6(2_000);
      const openArgs = [MARKET, wad(10_000), wad(1_500), ethers.MaxUint256];

      const sequential = await whatIf(async () => {
        await (await act(s, s.vault, "deposit", [amount])).wait();
        await (await act(s, s.engine, "increasePosition", openArgs)).wait();
        return moneyState(s);
      });

      await armHook(s, s.engine, "increasePosition", openArgs, { before: true, bubble: true });
      await (await act(s, s.vault, "deposit", [amount])).wait();
      expect(await s.token.lastHookSuccess()).to.equal(true);
      expect(await moneyState(s)).to.deep.equal(sequential);
      await expectBooksBalance(s);
    });

    it("depositing into the LP pool from inside an LP redemption mints the shares a later deposit would", async () => {
      const s = await loadFixture(hookedSystem);
      // A trader's loss has moved the share price off 1:1, so share arithmetic is not trivial.
      await (await s.engine.connect(s.victim).increasePosition(MARKET, wad(-5_000), wad(1_000), 0n)).wait();
      await (await s.feed.setPrice(wad("2.1"))).wait();
      await (await s.engine.connect(s.victim).closePosition(MARKET, ethers.MaxUint256)).wait();
      await (await act(s, s.pool, "deposit", [usd6(20_000), s.attackerAddress])).wait();
      const redeemArgs = [(await s.pool.balanceOf(s.attackerAddress)) / 3n, s.attackerAddress, s.attackerAddress];
      const depositArgs = [usd6(7_777), s.attackerAddress];

      const sequential = await whatIf(async () => {
        await (await act(s, s.pool, "redeem", redeemArgs)).wait();
        await (await act(s, s.pool, "deposit", depositArgs)).wait();
        return [await moneyState(s), await s.pool.totalSupply()];
      });

      await armHook(s, s.pool, "deposit", depositArgs, { before: false, bubble: true });
      await (await act(s, s.pool, "redeem", redeemArgs)).wait();
      expect(await s.token.lastHookSuccess()).to.equal(true);
      expect([await moneyState(s), await s.pool.totalSupply()]).to.deep.equal(sequential);
      await expectBooksBalance(s);
    });

    it("a deposit that cannot pay after its hook spent the credit reverts whole, position and all", async () => {
      const s = await loadFixture(hookedSystem);
      const free = await s.vault.freeBalance(s.attackerAddress);
      await (await act(s, s.vault, "withdraw", [free / USD6_TO_WAD, s.attackerAddress])).wait();
      // Give the tokens away: the deposit's transferFrom must fail after the hook opened a position.
      const tokens = await s.token.balanceOf(s.attackerAddress);
      await (await act(s, s.token, "transfer", [s.deployer.address, tokens])).wait();
      const state0 = await moneyState(s);
      await armHook(s, s.engine, "increasePosition", [MARKET, wad(10_000), wad(1_500), ethers.MaxUint256], {
        before: true,
        bubble: true,
      });
      await expect(act(s, s.vault, "deposit", [usd6(2_000)])).to.be.revertedWithCustomError(
        s.token,
        "ERC20InsufficientBalance",
      );
      expect(await moneyState(s)).to.deep.equal(state0);
      await expectBooksBalance(s);
    });
  });

  describe("closing and liquidating move no tokens, so no hook runs inside them", () => {
    it("an armed hook stays silent through a close and a liquidation", async () => {
      const s = await loadFixture(hookedSystem);
      await (await act(s, s.engine, "increasePosition", [MARKET, wad(10_000), wad(2_000), ethers.MaxUint256])).wait();
      await (await s.engine.connect(s.victim).increasePosition(MARKET, wad(-5_000), wad(1_000), 0n)).wait();
      const victimId = await s.admin.positionId(s.victim.address, MARKET);
      await armHook(s, s.vault, "withdraw", [usd6(1), s.attackerAddress], { before: true, bubble: true });

      // The victim sold into the attacker's long skew, at 2.003: at 2.2 it is liquidatable with equity left.
      await (await s.feed.setPrice(wad("2.2"))).wait();
      const closeReceipt = (await (await act(s, s.engine, "closePosition", [MARKET, 0n])).wait())!;
      const liquidation = (await (await s.engine.connect(s.keeper).liquidate(victimId)).wait())!;
      for (const receipt of [closeReceipt, liquidation]) {
        const tokenLogs = receipt.logs.filter((l) => l.address === (s.token.target as string));
        expect(tokenLogs, "no Transfer or HookCalled event from the token").to.have.length(0);
      }
      expect(await s.token.hookCalled()).to.equal(false);
      await expectBooksBalance(s);
      // The equity left the positions only as free balance and insurance: the trader withdraws it normally.
      await (await s.token.disarm()).wait();
      const free = await s.vault.freeBalance(s.attackerAddress);
      expect(free).to.be.greaterThan(ATTACKER_DEPOSIT * USD6_TO_WAD);
      await (await act(s, s.vault, "withdraw", [free / USD6_TO_WAD, s.attackerAddress])).wait();
      expect(await s.vault.freeBalance(s.attackerAddress)).to.equal(free % USD6_TO_WAD);
      await expectBooksBalance(s);
    });
  });
});
