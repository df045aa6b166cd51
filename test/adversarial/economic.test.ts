/**
 * Economic attacks: value extraction by trading against the pool's pricing, by rounding, by liquidating
 * oneself, by opening at the edge of initial margin, and by flooding the keeper with dust.
 *
 * Deployed markets (lib/markets.ts): ALT-USD index 2, skew scale S = 5,000,000, taker 0.05%, maker
 * 0.02%, 20% of fees to insurance, minimum margin $10, liquidation fee 0.25% of notional, at least $1,
 * tier 1 up to $50,000 at 50x (mmr 0.5%); BTC-USD index 30,000, S = 100,000, tier 1 up to $250,000 at
 * 100x (mmr 0.4%).
 */
import { expect } from "chai";
import type { Result } from "ethers";
import type { MarketConfigStruct } from "../../typechain-types/contracts/core/PerpEngineAdmin";
import { ethers, network } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { ContractTransactionReceipt, Wallet } from "ethers";
import { ALT_USD, BTC_USD } from "../../lib/markets";
import type { Exchange } from "../../lib/contracts";
import { usd6, wad, WAD } from "../../lib/units";
import {
  anyPrice,
  closeAll,
  createControlledMarket,
  exchangeFixture,
  type ExchangeFixture,
  openSize,
  pushIndex,
  tradeEvent,
  type TradeEvent,
} from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";
import { BLOCK_TX_GAS, COVERAGE_SCALE, inOneBlock, revertOf, whatIf } from "./helpers";

const INSURANCE_FEE_SHARE = wad(ALT_USD.insuranceFeeShare);
const LIQ_FEE_RATE = wad(ALT_USD.liquidationFeeRate);
const MIN_LIQ_FEE = wad(ALT_USD.minLiquidationFee);
const MIN_MARGIN = wad(ALT_USD.minMargin);

const mulDown = (a: bigint, b: bigint): bigint => (a * b) / WAD;
const floorDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a < 0n ? a / b - 1n : a / b);
/** The pool's part of a trading fee: all of it but the insurance share (rounded down). */
const poolShare = (fee: bigint): bigint => fee - mulDown(fee, INSURANCE_FEE_SHARE);

function tradeOf(ex: Exchange, receipt: ContractTransactionReceipt): TradeEvent {
  return tradeEvent(ex, receipt);
}

/** The Liquidation events of a receipt. */
function liquidations(ex: Exchange, receipt: ContractTransactionReceipt | { logs: readonly unknown[] }) {
  const out = [];
  for (const log of receipt.logs as Parameters<typeof ex.engine.interface.parseLog>[0][]) {
    const parsed = ex.engine.interface.parseLog(log);
    if (parsed?.name === "Liquidation") out.push(parsed.args);
  }
  return out;
}

/** Gives a generated wallet gas and `usd` of free balance. */
async function fundWallet(ex: Exchange, w: Wallet, usd: bigint): Promise<void> {
  await network.provider.send("hardhat_setBalance", [w.address, "0x56BC75E2D63100000"]); // 100 ETH
  await (await ex.collateral.faucet(w.address, usd6(usd))).wait();
  await (await ex.collateral.connect(w).approve(ex.vault, usd6(usd))).wait();
  await (await ex.vault.connect(w).deposit(usd6(usd))).wait();
}

async function freeOf(ex: Exchange, accounts: readonly string[]): Promise<bigint> {
  let total = 0n;
  for (const a of accounts) total += await ex.vault.freeBalance(a);
  return total;
}

/**
 * The exchange with the markets' minimum position notional lifted, so the dust attacks below reach the
 * engine's rounding (with the minimum on, the engine refuses them at the door: PositionTooSmall).
 */
async function dustFixture(): Promise<ExchangeFixture> {
  const f = await exchangeFixture();
  for (const m of [f.alt, f.btc]) {
    const raw = (await f.ex.admin.marketConfig(m.marketId)) as unknown as Result;
    const cfg = { ...raw.toObject(), minPositionNotional: 0n } as unknown as MarketConfigStruct;
    await (await f.ex.admin.setMarketConfig(m.marketId, cfg)).wait();
  }
  return f;
}

describe("adversarial: economic attacks", () => {
  describe("open and close in one block", () => {
    const cases = [
      { market: "ALT-USD", size: wad(10_000), margin: wad(1_000) },
      { market: "ALT-USD", size: wad(-400_000), margin: wad(200_000) },
      { market: "BTC-USD", size: wad(3), margin: wad(9_000) },
      { market: "BTC-USD", size: -wad("0.000001"), margin: MIN_MARGIN },
    ];
    for (const c of cases) {
      const side = c.size > 0n ? "long" : "short";
      it(`loses exactly the fees and the impact on a ${c.market} ${side} of ${ethers.formatEther(c.size < 0n ? -c.size : c.size)}`, async () => {
        const { ex, traders, accounts } = await loadFixture(dustFixture);
        const trader = traders[0];
        const marketId = ex.markets.get(c.market)!.marketId;
        const free0 = await ex.vault.freeBalance(trader.address);
        const pool0 = await ex.vault.poolAssets();
        const [opened, closed] = await inOneBlock([
          () =>
            ex.engine
              .connect(trader)
              .increasePosition(marketId, c.size, c.margin, anyPrice(c.size), { gasLimit: BLOCK_TX_GAS }),
          () => ex.engine.connect(trader).closePosition(marketId, anyPrice(-c.size), { gasLimit: BLOCK_TX_GAS }),
        ]);
        expect([opened.status, closed.status]).to.deep.equal([1, 1]);
        const open = tradeOf(ex, opened as ContractTransactionReceipt);
        const close = tradeOf(ex, closed as ContractTransactionReceipt);
        // The round trip realises the impact (entry above the exit for a long, below for a short): never a gain.
        expect(close.realizedPnl <= 0n, "realised PnL of a same-block round trip").to.equal(true);
        const loss = free0 - (await ex.vault.freeBalance(trader.address));
        expect(loss).to.equal(open.fee + close.fee - close.realizedPnl);
        expect(loss >= open.fee + close.fee && loss > 0n).to.equal(true);
        // What the trader lost, the pool and the insurance fund gained, to the unit.
        expect((await ex.vault.poolAssets()) - pool0).to.equal(
          poolShare(open.fee) + poolShare(close.fee) - close.realizedPnl,
        );
        const id = await ex.admin.positionId(trader.address, marketId);
        await expectConservation(ex, [id], accounts);
      });
    }

    it("a two-account skew round trip (push, trade the dip, release, exit) nets minus the fees", async () => {
      const { ex, traders, alt, accounts } = await loadFixture(dustFixture);
      const [pusher, taker] = traders;
      const d = wad(500_000); // a 10% premium swing on S = 5,000,000
      const free0 = await freeOf(ex, [pusher.address, taker.address]);
      const gas = { gasLimit: BLOCK_TX_GAS };
      const receipts = await inOneBlock([
        () => ex.engine.connect(pusher).increasePosition(alt.marketId, -d, wad(300_000), 0n, gas),
        () => ex.engine.connect(taker).increasePosition(alt.marketId, d, wad(300_000), ethers.MaxUint256, gas),
        () => ex.engine.connect(pusher).closePosition(alt.marketId, ethers.MaxUint256, gas),
        () => ex.engine.connect(taker).closePosition(alt.marketId, 0n, gas),
      ]);
      expect(receipts.map((r) => r.status)).to.deep.equal([1, 1, 1, 1]);
      const trades = receipts.map((r) => tradeOf(ex, r as ContractTransactionReceipt));
      const fees = trades.reduce((sum, t) => sum + t.fee, 0n);
      const pnl = trades.reduce((sum, t) => sum + t.realizedPnl, 0n);
      // Fill at the mean premium is path-independent: the pusher's impact loss is the taker's gain, up to
      // the rounding of four fills (a unit of price each, times the size), which is the protocol's.
      expect(trades[1].realizedPnl + trades[3].realizedPnl > 0n, "the taker gained").to.equal(true);
      expect(pnl <= 0n && pnl > -(4n * d) / WAD - 4n, `sum of realised PnL ${pnl}`).to.equal(true);
      const loss = free0 - (await freeOf(ex, [pusher.address, taker.address]));
      expect(loss).to.equal(fees - pnl);
      const ids = await Promise.all([pusher, taker].map((t) => ex.admin.positionId(t.address, alt.marketId)));
      await expectConservation(ex, ids, accounts);
    });
  });

  it("1,000 dust trades cannot round value out of the pool: after each, pool = start + fees' pool share - traders' PnL, PnL <= 0", async () => {
    const { ex, traders, alt, btc, accounts } = await loadFixture(dustFixture);
    const pool0 = await ex.vault.poolAssets();
    const insurance0 = await ex.vault.insuranceFund();
    const free0 = await freeOf(ex, accounts);
    // Dust sizes: a base unit, odd few-wei sizes and sizes just around a cent of notional.
    const sizes = [1n, 2n, 3n, 7n, 999n, 10n ** 9n + 1n, 4_999_999_999_999_999n, 10n ** 15n + 3n];
    let fees = 0n;
    let feesToPool = 0n;
    let pnl = 0n;
    let trades = 0;
    for (let i = 0; trades < 1_000 / COVERAGE_SCALE; i++) {
      const trader = traders[i % traders.length];
      const market = i % 5 === 4 ? btc : alt;
      const size = (i % 2 === 0 ? 1n : -1n) * sizes[i % sizes.length];
      const opened = await openSize(ex, trader, market.marketId, size, MIN_MARGIN);
      const closed = await closeAll(ex, trader, market.marketId);
      for (const t of [opened.trade, closed.trade]) {
        fees += t.fee;
        feesToPool += poolShare(t.fee);
        pnl += t.realizedPnl;
        expect(t.fee > 0n, "every dust trade pays at least one unit of fee").to.equal(true);
        trades++;
      }
      expect(closed.trade.realizedPnl <= 0n, "no dust round trip gains").to.equal(true);
      const pool = await ex.vault.poolAssets();
      expect(pool).to.equal(pool0 + feesToPool - pnl);
      expect(pool >= pool0 + feesToPool).to.equal(true);
    }
    expect((await ex.vault.insuranceFund()) - insurance0).to.equal(fees - feesToPool);
    expect(free0 - (await freeOf(ex, accounts))).to.equal(fees - pnl);
    console.log(`      1,000 dust trades: fees ${fees} wei, traders' rounding loss ${-pnl} wei, all to the protocol`);
    const ids = await Promise.all(
      traders.flatMap((t) => [alt, btc].map((m) => ex.admin.positionId(t.address, m.marketId))),
    );
    await expectConservation(ex, ids, accounts);
  });

  describe("self-liquidation", () => {
    /**
     * Two ALT longs that the index then makes liquidatable with equity left (the mark = last once the basis
     * EMA settles, last = index * (1 + size / S)):
     *  - tier 1, liquidated whole: 20,000 entered at 2.004 on $1,000; index 1.955, mark 1.9628: equity
     *    1,000 - 20,000 * 0.0412 = 176 < maintenance 0.5% * 39,256 = 196;
     *  - tier 2, liquidated in part: 50,000 entered at 2.01 on $5,000; index 1.9, mark 1.919: equity
     *    5,000 - 50,000 * 0.091 = 450 < maintenance 1% * 95,950 - 250 = 709.5.
     */
    const underwater = (size: bigint, margin: bigint, index: bigint) =>
      async function underwaterFixture() {
        const f = await dustFixture();
        const [trader] = f.traders;
        const opened = await openSize(f.ex, trader, f.alt.marketId, size, margin);
        await pushIndex(f.alt, index);
        await time.increase(3_000n);
        await pushIndex(f.alt, index);
        return { ...f, trader, opened };
      };
    const cases = [
      { name: "liquidated whole (tier 1)", fixture: underwater(wad(20_000), wad(1_000), wad("1.955")), partial: false },
      { name: "liquidated in part (tier 2)", fixture: underwater(wad(50_000), wad(5_000), wad("1.9")), partial: true },
    ];

    for (const c of cases) {
      it(`pays the owner no more than its equity when it liquidates its own position, ${c.name}`, async () => {
        const { ex, trader, keeper, opened, alt, accounts } = await loadFixture(c.fixture);
        const second = keeper; // the owner's second account
        const view = await ex.lens.position(opened.id);
        expect(view.liquidatable).to.equal(true);
        expect(view.equity > 0n).to.equal(true);
        const owner = [trader.address, second.address];
        const free0 = await freeOf(ex, owner);

        const afterClose = await whatIf(async () => {
          await closeAll(ex, trader, alt.marketId);
          return freeOf(ex, owner);
        });

        for (const liquidator of [trader, second]) {
          await whatIf(async () => {
            const receipt = (await (await ex.engine.connect(liquidator).liquidate(opened.id)).wait())!;
            const [liq] = liquidations(ex, receipt);
            const mark = liq.markPrice;
            const closed = liq.closedSize;
            expect(closed === view.size, "whole").to.equal(!c.partial);
            // The SPEC reward on the closed part: min(equity, max(0.25% of its notional at mark, $1)), down.
            const rateFee = mulDown(mulDown(closed, mark), LIQ_FEE_RATE);
            const fee = rateFee > MIN_LIQ_FEE ? rateFee : MIN_LIQ_FEE;
            expect(liq.reward).to.equal(liq.equity < fee ? liq.equity : fee);
            expect(liq.reward <= liq.equity).to.equal(true);
            // The owner's value before, at the liquidation's own mark: free balances + equity. After: free
            // balances (with the reward) + what the remainder is worth at the same mark.
            const rest = await ex.admin.position(opened.id);
            const restEquity =
              rest.size === 0n ? 0n : rest.margin + floorDiv(rest.size * (mark - rest.entryPrice), WAD);
            const before = free0 + liq.equity;
            const after = (await freeOf(ex, owner)) + restEquity;
            expect((await freeOf(ex, owner)) - free0).to.equal(liq.reward);
            expect(after <= before, "the owner's total after liquidating itself").to.equal(true);
            console.log(
              `      ${c.name}, by ${liquidator === trader ? "the owner" : "its second account"}: value before ${ethers.formatEther(liq.equity)}, after ${ethers.formatEther(after - free0)} (reward ${ethers.formatEther(liq.reward)}); closing instead returns ${ethers.formatEther(afterClose - free0)}`,
            );
            await expectConservation(ex, [opened.id], accounts);
          });
        }
      });
    }

    it("a second account's skew cannot drag the owner's position into liquidation in the same block", async () => {
      const { ex, traders, alt, accounts } = await loadFixture(dustFixture);
      const [owner, accomplice] = traders;
      // A 20x long entered at 2.01, liquidated below 1.9268 (tier 2: 1%, amount 250).
      const opened = await openSize(ex, owner, alt.marketId, wad(100_000), wad(10_000));
      const markBefore = (await ex.lens.market(alt.marketId)).markPrice;
      // The accomplice sells 1,000,000 (K = -900,000: last 18% down) and liquidates the owner, in one block.
      const [push, liquidation] = await inOneBlock([
        () =>
          ex.engine
            .connect(accomplice)
            .increasePosition(alt.marketId, -wad(1_000_000), wad(800_000), 0n, { gasLimit: BLOCK_TX_GAS }),
        () => ex.engine.connect(accomplice).liquidate(opened.id, { gasLimit: BLOCK_TX_GAS }),
      ]);
      expect(push.status).to.equal(1);
      expect(liquidation.status).to.equal(0);
      const err = await revertOf(ex.engine.interface, liquidation.hash);
      expect(err.name).to.equal("PositionHealthy");
      // mark = median(P1, P2, last): P1 = index and P2 = index + EMA hold it while only last moved.
      const mark = err.args[1] as bigint;
      const last = (await ex.lens.market(alt.marketId)).lastPrice;
      expect(last < (markBefore * 83n) / 100n).to.equal(true);
      expect(mark > (markBefore * 99n) / 100n).to.equal(true);
      const accompliceId = await ex.admin.positionId(accomplice.address, alt.marketId);
      await expectConservation(ex, [opened.id, accompliceId], accounts);
    });

    it("the owner cannot make its own position liquidatable: removing margin or reducing stops at initial margin", async () => {
      const { ex, traders, alt, accounts } = await loadFixture(dustFixture);
      const [owner] = traders;
      const opened = await openSize(ex, owner, alt.marketId, wad(100_000), wad(10_000)); // 20x
      const p = await ex.lens.position(opened.id);
      // Margin down to maintenance would leave a liquidatable position: refused at the tier's 50x.
      const toMaintenance = p.margin - p.maintenanceMargin;
      await expect(ex.engine.connect(owner).removeMargin(alt.marketId, toMaintenance)).to.be.revertedWithCustomError(
        ex.engine,
        "LeverageTooHigh",
      );
      expect((await ex.lens.position(opened.id)).liquidatable).to.equal(false);
      await expectConservation(ex, [opened.id], accounts);
    });
  });

  describe("a position opened at the maximum leverage", () => {
    const specs = [
      { name: "ALT-like, 50x, mark = index", spec: { ...ALT_USD, symbol: "ALT-EDGE" } },
      { name: "BTC-like, 100x, mark = index", spec: { ...BTC_USD, symbol: "BTC-EDGE" } },
    ];
    for (const { name, spec } of specs) {
      it(`is not liquidatable in the block it opens in (${name}); one more unit of size is refused`, async () => {
        const { ex, deployer, traders, keeper, accounts } = await loadFixture(dustFixture);
        const market = await createControlledMarket(ex, deployer, {
          symbol: spec.symbol,
          initialPrice: spec.initialPrice,
          markModel: "index",
          skewScale: spec.skewScale,
          maxOpenInterest: spec.maxOpenInterest,
          tiers: spec.tiers,
        });
        const trader = traders[0];
        const margin = wad(1_000);
        const maxLeverage = wad(spec.tiers[0].maxLeverage);
        const engine = ex.engine.connect(trader);
        // The largest long the initial-margin check accepts, by bisection on the engine itself.
        let lo = 0n;
        let hi = (margin * maxLeverage) / wad(spec.initialPrice) + 1n;
        while (hi - lo > 1n) {
          const mid = (lo + hi) / 2n;
          try {
            await engine.increasePosition.staticCall(market.marketId, mid, margin, ethers.MaxUint256);
            lo = mid;
          } catch {
            hi = mid;
          }
        }
        await expect(
          engine.increasePosition(market.marketId, lo + 1n, margin, ethers.MaxUint256),
        ).to.be.revertedWithCustomError(ex.engine, "LeverageTooHigh");
        const id = await ex.admin.positionId(trader.address, market.marketId);
        const [opened, liquidation] = await inOneBlock([
          () => engine.increasePosition(market.marketId, lo, margin, ethers.MaxUint256, { gasLimit: BLOCK_TX_GAS }),
          () => ex.engine.connect(keeper).liquidate(id, { gasLimit: BLOCK_TX_GAS }),
        ]);
        expect(opened.status).to.equal(1);
        expect(liquidation.status).to.equal(0);
        expect((await revertOf(ex.engine.interface, liquidation.hash)).name).to.equal("PositionHealthy");
        const v = await ex.lens.position(id);
        // At the edge: leverage (rounded up) is the maximum, and equity = notional / leverage is still
        // 1 / (max leverage * mmr) = 4x (ALT) or 2.5x (BTC) the maintenance margin.
        expect(v.leverage <= maxLeverage && maxLeverage - v.leverage < maxLeverage / 1_000_000n).to.equal(true);
        expect(v.liquidatable).to.equal(false);
        expect(v.equity > v.maintenanceMargin * 2n).to.equal(true);
        await expectConservation(ex, [id], accounts);
      });
    }
  });

  describe("dust positions and order spam against liquidateMany", () => {
    const DUST = 200 / COVERAGE_SCALE;
    const VICTIMS = 5;

    async function spamFixture() {
      const f = await dustFixture();
      const { ex, alt, deployer } = f;
      const ids: bigint[] = [];
      const wallets: Wallet[] = [];
      for (let i = 0; i < DUST; i++) {
        const w = new ethers.Wallet(ethers.id(`perpsim dust wallet ${i}`), ethers.provider);
        await fundWallet(ex, w, 100n);
        wallets.push(w);
        // A dust position at the minimum margin, alternating sides, and a resting limit order far away.
        const size = (i % 2 === 0 ? 1n : -1n) * (1n + BigInt(i));
        await (await ex.engine.connect(w).increasePosition(alt.marketId, size, MIN_MARGIN, anyPrice(size))).wait();
        ids.push(await ex.admin.positionId(w.address, alt.marketId));
        const limit = i % 2 === 0 ? wad("0.5") : wad(8);
        await (
          await ex.orderBook
            .connect(w)
            .createLimitOpen(alt.marketId, size * 1000n, MIN_MARGIN, limit, wad("0.5"), 0n, false)
        ).wait();
      }
      // The victims: five ~19x longs of 10,000 ALT.
      const victims: bigint[] = [];
      for (let i = 0; i < VICTIMS; i++) {
        const w = new ethers.Wallet(ethers.id(`perpsim victim ${i}`), ethers.provider);
        await fundWallet(ex, w, 10_000n);
        // Entry e_i = 2 * (1 + (2 * 10,000 * i + 10,000) / 10,000,000) = 2.002 + 0.004 i; margin 1,070 + 40 i
        // leaves each about $48 of equity at a mark of 1.8998, below its maintenance margin of about $95.
        const margin = wad(1_070 + 40 * i);
        await (
          await ex.engine.connect(w).increasePosition(alt.marketId, wad(10_000), margin, ethers.MaxUint256)
        ).wait();
        victims.push(await ex.admin.positionId(w.address, alt.marketId));
        wallets.push(w);
      }
      // Index 1.881 with K = 50,000: last = 1.881 * 1.01 = 1.89981, which the mark reaches as the EMA settles.
      await pushIndex(alt, wad("1.881"));
      await time.increase(3_000n);
      await pushIndex(alt, wad("1.881"));
      // Spread deterministically: victims near the start, at each quarter and at the end.
      const batch = [...ids];
      [3, DUST / 4, DUST / 2, (3 * DUST) / 4, DUST].forEach((at, k) => batch.splice(at + k, 0, victims[k]));
      const accounts = [...f.accounts, ...wallets.map((w) => w.address)];
      return { ...f, ids, victims, batch, accounts, deployer };
    }

    it(`liquidates the ${VICTIMS} liquidatable among ${DUST} dust positions with ${DUST} spam orders, in one call within the block gas limit`, async () => {
      const { ex, keeper, ids, victims, batch, accounts } = await loadFixture(spamFixture);
      expect(await ex.orderBook.orderCount()).to.equal(BigInt(DUST));
      // The keeper's scan (the lens predicate over every id) finds exactly the victims.
      const flags = await ex.lens.liquidatable(batch);
      expect(batch.filter((_, i) => flags[i])).to.deep.equal(victims);
      const scanGas = await ex.lens.liquidatable.estimateGas(batch);

      const receipt = (await (await ex.engine.connect(keeper).liquidateMany(batch)).wait())!;
      const done = liquidations(ex, receipt);
      expect(done.map((l) => l.id)).to.deep.equal(victims);
      for (const id of victims) expect((await ex.admin.position(id)).size).to.equal(0n);
      for (const id of ids) expect((await ex.admin.position(id)).size).to.not.equal(0n);
      const gasLimit = (await ethers.provider.getBlock("latest"))!.gasLimit;
      expect(receipt.gasUsed < gasLimit / 4n, "a quarter of the block at most").to.equal(true);
      console.log(
        `      liquidateMany(${batch.length} ids, ${VICTIMS} liquidatable): gas ${receipt.gasUsed} (block limit ${gasLimit}); lens scan of ${batch.length} ids: gas ${scanGas}`,
      );
      await expectConservation(ex, [...ids, ...victims], accounts);
    });

    it("still goes through when a competitor liquidated some of the batch first (they are skipped)", async () => {
      const { ex, keeper, traders, victims, batch, ids, accounts } = await loadFixture(spamFixture);
      const competitor = traders[2];
      await (await ex.engine.connect(competitor).liquidate(victims[0])).wait();
      await (await ex.engine.connect(competitor).liquidate(victims[3])).wait();
      const count = await ex.engine.connect(keeper).liquidateMany.staticCall(batch);
      expect(count).to.equal(BigInt(VICTIMS - 2));
      const receipt = (await (await ex.engine.connect(keeper).liquidateMany(batch)).wait())!;
      expect(liquidations(ex, receipt).map((l) => l.id)).to.deep.equal([victims[1], victims[2], victims[4]]);
      await expectConservation(ex, [...ids, ...victims], accounts);
    });
  });

  describe("the minimum liquidation fee", () => {
    // $10 margin positions: 0.25% of their notional is $0.25 to $1.25, so the $1 minimum is what pays the keeper.
    const cases = [
      { leverage: 10n, equityTarget: wad("0.4") }, // MM $0.50: equity below $1, the reward is all of it
      { leverage: 30n, equityTarget: wad("1.2") }, // MM $1.50, 0.25% = $0.75: the $1 minimum pays
      { leverage: 50n, equityTarget: wad("2.0") }, // MM $2.50, 0.25% = $1.25: the rate pays
    ];
    for (const c of cases) {
      it(`pays min(equity, max(0.25% of notional, $1)) on a $10 ${c.leverage}x position with $${ethers.formatEther(c.equityTarget)} of equity`, async () => {
        const { ex, deployer, traders, keeper, accounts } = await loadFixture(dustFixture);
        const market = await createControlledMarket(ex, deployer, {
          symbol: "ALT-MIN",
          initialPrice: "2",
          markModel: "index",
        });
        const trader = traders[0];
        const size = (MIN_MARGIN * c.leverage) / 2n - wad(1); // a hair under the leverage at index 2
        const opened = await openSize(ex, trader, market.marketId, size, MIN_MARGIN);
        const entry = opened.trade.fillPrice;
        // Equity(p) = margin + size * (p - entry): the price that leaves the target equity, rounded up.
        const price = entry - ((MIN_MARGIN - c.equityTarget) * WAD) / size;
        await (await market.feed.setPrice(price)).wait();
        const v = await ex.lens.position(opened.id);
        expect(v.liquidatable).to.equal(true);
        const free0 = await ex.vault.freeBalance(keeper.address);
        const receipt = (await (await ex.engine.connect(keeper).liquidate(opened.id)).wait())!;
        const [liq] = liquidations(ex, receipt);
        const rateFee = mulDown(mulDown(size, price), LIQ_FEE_RATE);
        const fee = rateFee > MIN_LIQ_FEE ? rateFee : MIN_LIQ_FEE;
        const expected = liq.equity < fee ? liq.equity : fee;
        expect(liq.equity).to.equal(v.equity);
        expect(liq.reward).to.equal(expected);
        if (liq.equity >= MIN_LIQ_FEE) expect(liq.reward >= MIN_LIQ_FEE, "worth liquidating").to.equal(true);
        expect((await ex.vault.freeBalance(keeper.address)) - free0).to.equal(liq.reward);
        console.log(
          `      $10 at ${c.leverage}x: equity ${ethers.formatEther(liq.equity)}, reward ${ethers.formatEther(liq.reward)}, gas ${receipt.gasUsed}`,
        );
        await expectConservation(ex, [opened.id], accounts);
      });
    }
  });
});
