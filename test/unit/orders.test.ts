/**
 * The order book: limit opens and closes, take-profit and stop-loss, escrow, expiry, keepers' fees.
 *
 * Most tests run on ALT-USD with mark = index (IndexMarkModel) and one 18-decimal pushed feed as the only
 * index source, so a test sets the index, and with it the mark, to the unit of price: "not a tick before"
 * means one wei of price. One test runs the exchange-style median mark to show TP/SL follow the mark, not
 * the index or the last price. Expected numbers come from the SPEC formulas written out below.
 */
import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { DEFAULT_SYSTEM, DEFAULT_MIN_EXECUTION_FEE_USD, deploySystem } from "../../lib/deploy";
import { ALT_USD, type MarketSpec } from "../../lib/markets";
import type { Exchange } from "../../lib/contracts";
import { usd6, USD6_TO_WAD, wad, WAD } from "../../lib/units";
import { PushPriceFeed__factory, type PushPriceFeed } from "../../typechain-types";

/* ------------------------------------------------------------------ constants (the contract's enums) */

const LIMIT_OPEN = 0n;
const LIMIT_CLOSE = 1n;
const TAKE_PROFIT = 2n;
const STOP_LOSS = 3n;
const LIVE = 1n;
const EXECUTED = 2n;
const CANCELLED = 3n;
const EXPIRED = 4n;
const BY_OWNER = 0n;
const POSITION_CLOSED = 1n;

const ALT = 1n;
const SKEW_SCALE = wad(ALT_USD.skewScale);
const TAKER_FEE = wad(ALT_USD.takerFee);
const MAKER_FEE = wad(ALT_USD.makerFee);
const MIN_FEE = wad(DEFAULT_MIN_EXECUTION_FEE_USD);
const EXEC_FEE = wad(1);
const SIZE = wad(500);
const MARGIN = wad(100);
const START = wad(2);
const ONE_YEAR = 365 * 24 * 3600;
const DEPOSIT_USD = 100_000n;

/* ------------------------------------------------------------------ SPEC formulas, written out */

const abs = (x: bigint) => (x < 0n ? -x : x);
const ceilDiv = (a: bigint, b: bigint) => (a === 0n ? 0n : (a - 1n) / b + 1n);
const mulUp = (a: bigint, b: bigint) => ceilDiv(a * b, WAD);

/** P_fill = index * (1 + (2K + d) / 2S): a buy rounds up, a sell down. */
function fillPrice(index: bigint, skew: bigint, d: bigint): bigint {
  const num = index * (2n * SKEW_SCALE + 2n * skew + d);
  const den = 2n * SKEW_SCALE;
  return d > 0n ? ceilDiv(num, den) : num / den;
}

/** fee = rate * |d| * fill, rounded up; taker rate when the order grows |skew|, maker otherwise. */
function tradeFee(skew: bigint, d: bigint, fill: bigint): bigint {
  const rate = abs(skew + d) > abs(skew) ? TAKER_FEE : MAKER_FEE;
  return mulUp(mulUp(abs(d), fill), rate);
}

/** PnL of signed `size` entered at `entry` and valued at `price`, rounded down. */
function pnl(size: bigint, entry: bigint, price: bigint): bigint {
  const x = size * (price - entry);
  return x >= 0n ? x / WAD : -ceilDiv(-x, WAD);
}

/* ------------------------------------------------------------------ fixtures */

interface OrdersSystem {
  ex: Exchange;
  feed: PushPriceFeed;
  trader: HardhatEthersSigner;
  other: HardhatEthersSigner;
  keeper: HardhatEthersSigner;
  whale: HardhatEthersSigner;
}

async function deployOrders(markModel: MarketSpec["markModel"]): Promise<OrdersSystem> {
  const [deployer, trader, other, keeper, whale] = await ethers.getSigners();
  const ex = await deploySystem(deployer, {
    ...DEFAULT_SYSTEM,
    markets: [{ ...ALT_USD, markModel }],
    coinMargined: [],
  });
  const feed = await new PushPriceFeed__factory(deployer).deploy(18, "ALT exact", deployer.address);
  await feed.setPrice(START);
  await ex.oracle.setSources(ALT, [await feed.getAddress()], [ONE_YEAR]);
  for (const who of [trader, other, whale]) {
    await ex.collateral.faucet(who.address, usd6(DEPOSIT_USD));
    await ex.collateral.connect(who).approve(ex.vault, usd6(DEPOSIT_USD));
    await ex.vault.connect(who).deposit(usd6(DEPOSIT_USD));
  }
  return { ex, feed, trader, other, keeper, whale };
}

async function indexMarked() {
  return deployOrders("index");
}

async function medianMarked() {
  return deployOrders("median");
}

/* ------------------------------------------------------------------ helpers */

async function positionOf(s: OrdersSystem, who: HardhatEthersSigner) {
  return s.ex.admin.position(await s.ex.admin.positionId(who.address, ALT));
}

async function marketOpen(s: OrdersSystem, who: HardhatEthersSigner, size: bigint, margin = MARGIN) {
  await s.ex.engine.connect(who).increasePosition(ALT, size, margin, size > 0n ? ethers.MaxUint256 : 0n);
  return positionOf(s, who);
}

async function nextId(s: OrdersSystem): Promise<bigint> {
  return (await s.ex.orderBook.orderCount()) + 1n;
}

async function now(): Promise<bigint> {
  return BigInt(await time.latest());
}

/** Everything an order action can touch; compared whole to show a refused action changed nothing. */
async function snapshot(s: OrdersSystem) {
  const { ex } = s;
  const count = await ex.orderBook.orderCount();
  const orders = [];
  for (let id = 1n; id <= count; id++) orders.push([...(await ex.orderBook.getOrder(id))]);
  return {
    count,
    orders,
    escrow: await ex.vault.totalEscrow(),
    margin: await ex.vault.totalMargin(),
    free: await Promise.all([s.trader, s.other, s.keeper].map((w) => ex.vault.freeBalance(w.address))),
    positions: (await Promise.all([s.trader, s.other].map((w) => positionOf(s, w)))).map((p) => [...p]),
  };
}

/** The vault's escrow is the sum of live orders' escrow, and its ledgers sum to the collateral held. */
async function expectEscrowConserved(ex: Exchange): Promise<bigint> {
  const count = await ex.orderBook.orderCount();
  let live = 0n;
  for (let id = 1n; id <= count; id++) {
    const o = await ex.orderBook.getOrder(id);
    if (o.status === LIVE) live += o.margin + o.executionFee;
  }
  expect(await ex.vault.totalEscrow()).to.equal(live, "escrow == sum of live orders' margin + fee");
  const held = await ex.collateral.balanceOf(ex.vault);
  expect(await ex.vault.totalOwed()).to.equal(held * USD6_TO_WAD, "vault ledgers == collateral held");
  return live;
}

/* ------------------------------------------------------------------ tests */

describe("OrderBook", () => {
  describe("limit open", () => {
    it("fills a long limit when the fill price falls to the limit, not one wei of index before", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader, keeper } = s;
      // The limit is the fill of a 500 ALT buy on an empty book at index 1.9: 1.9 * (1 + 500 / (2 * 5M)).
      const limit = fillPrice(wad("1.9"), 0n, SIZE);
      expect(limit).to.equal(wad("1.900095"));
      const free0 = await ex.vault.freeBalance(trader.address);
      const id = await nextId(s);
      const create = ex.orderBook.connect(trader).createLimitOpen(ALT, SIZE, MARGIN, limit, EXEC_FEE, 0, false);
      await expect(create)
        .to.emit(ex.orderBook, "OrderCreated")
        .withArgs(id, trader.address, ALT, LIMIT_OPEN, SIZE, limit, limit, MARGIN, EXEC_FEE, 0);
      console.log("      limit open: create gas", (await (await create).wait())!.gasUsed.toString());
      expect(await ex.vault.totalEscrow()).to.equal(MARGIN + EXEC_FEE);
      expect(await ex.vault.freeBalance(trader.address)).to.equal(free0 - MARGIN - EXEC_FEE);

      // One wei of index above 1.9: the buy would fill above the limit; the engine's slippage check refuses.
      await s.feed.setPrice(wad("1.9") + 1n);
      const tooHigh = fillPrice(wad("1.9") + 1n, 0n, SIZE);
      expect(tooHigh).to.be.gt(limit);
      await expect(ex.orderBook.connect(keeper).executeOrder(id))
        .to.be.revertedWithCustomError(ex.engine, "SlippageExceeded")
        .withArgs(tooHigh, limit);

      await s.feed.setPrice(wad("1.9"));
      const fee = tradeFee(0n, SIZE, limit); // taker: 500 * 1.900095 * 0.05%, rounded up
      const posId = await ex.admin.positionId(trader.address, ALT);
      const tx = ex.orderBook.connect(keeper).executeOrder(id);
      await expect(tx)
        .to.emit(ex.orderBook, "OrderExecuted")
        .withArgs(id, trader.address, ALT, LIMIT_OPEN, keeper.address, SIZE, 0, EXEC_FEE);
      await expect(tx)
        .to.emit(ex.engine, "Trade")
        .withArgs(posId, trader.address, ALT, SIZE, limit, fee, 0, 0, SIZE, limit, MARGIN, anyValue);
      console.log("      limit open: execute gas", (await (await tx).wait())!.gasUsed.toString());

      const p = await positionOf(s, trader);
      expect(p.size).to.equal(SIZE);
      expect(p.entryPrice).to.equal(limit);
      expect(p.margin).to.equal(MARGIN);
      expect(await ex.vault.freeBalance(keeper.address)).to.equal(EXEC_FEE);
      expect(await ex.vault.freeBalance(trader.address)).to.equal(free0 - MARGIN - EXEC_FEE - fee);
      expect((await ex.orderBook.getOrder(id)).status).to.equal(EXECUTED);
      expect(await expectEscrowConserved(ex)).to.equal(0n);
    });

    it("fills a short limit when the fill price rises to the limit, not one wei of index before", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader, keeper } = s;
      const limit = fillPrice(wad("2.1"), 0n, -SIZE); // 2.1 * (1 - 500 / 10M), rounded down
      const id = await nextId(s);
      await ex.orderBook.connect(trader).createLimitOpen(ALT, -SIZE, MARGIN, limit, EXEC_FEE, 0, false);

      await s.feed.setPrice(wad("2.1") - 1n);
      await expect(ex.orderBook.connect(keeper).executeOrder(id))
        .to.be.revertedWithCustomError(ex.engine, "SlippageExceeded")
        .withArgs(fillPrice(wad("2.1") - 1n, 0n, -SIZE), limit);

      await s.feed.setPrice(wad("2.1"));
      await ex.orderBook.connect(keeper).executeOrder(id);
      const p = await positionOf(s, trader);
      expect(p.size).to.equal(-SIZE);
      expect(p.entryPrice).to.equal(limit);
      await expectEscrowConserved(ex);
    });

    it("refuses a limit that would fill now, and fills it at market within the limit when asked to", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader } = s;
      const limit = wad("2.1"); // above the current buy fill 2 * (1 + 500 / 10M) = 2.0001
      const fill = fillPrice(START, 0n, SIZE);
      const before = await snapshot(s);
      await expect(ex.orderBook.connect(trader).createLimitOpen(ALT, SIZE, MARGIN, limit, EXEC_FEE, 0, false))
        .to.be.revertedWithCustomError(ex.orderBook, "WouldFillImmediately")
        .withArgs(fill, limit);
      expect(await snapshot(s)).to.deep.equal(before);

      const free0 = await ex.vault.freeBalance(trader.address);
      const id = await nextId(s);
      const tx = ex.orderBook.connect(trader).createLimitOpen(ALT, SIZE, MARGIN, limit, EXEC_FEE, 0, true);
      await expect(tx)
        .to.emit(ex.orderBook, "OrderExecuted")
        .withArgs(id, trader.address, ALT, LIMIT_OPEN, trader.address, SIZE, 0, EXEC_FEE);
      await expect(tx)
        .to.emit(ex.engine, "Trade")
        .withArgs(
          await ex.admin.positionId(trader.address, ALT),
          trader.address,
          ALT,
          SIZE,
          fill,
          tradeFee(0n, SIZE, fill),
          0,
          0,
          SIZE, // the position after it: a fresh one, entered at the fill with the order's margin
          fill,
          MARGIN,
          anyValue,
        );
      // Its own keeper: nothing escrowed, no execution fee changed hands; margin and trading fee paid.
      expect(await ex.vault.totalEscrow()).to.equal(0n);
      expect(await ex.vault.freeBalance(trader.address)).to.equal(free0 - MARGIN - tradeFee(0n, SIZE, fill));
      expect((await ex.orderBook.getOrder(id)).status).to.equal(EXECUTED);
    });

    it("rests an order that asked for an immediate fill when the price is not there", async () => {
      const s = await loadFixture(indexMarked);
      const limit = wad("1.9");
      const id = await nextId(s);
      await s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, SIZE, MARGIN, limit, EXEC_FEE, 0, true);
      expect((await s.ex.orderBook.getOrder(id)).status).to.equal(LIVE);
      expect(await s.ex.vault.totalEscrow()).to.equal(MARGIN + EXEC_FEE);
    });
  });

  describe("limit close", () => {
    it("closes a long when the sell fill rises to the limit, paying PnL, fee and the keeper", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader, keeper } = s;
      const p0 = await marketOpen(s, trader, SIZE);
      // Selling 500 against a skew of +500: fill = index * (1 + (2*500 - 500) / 10M).
      const limit = fillPrice(wad("2.2"), SIZE, -SIZE);
      const id = await nextId(s);
      await ex.orderBook.connect(trader).createLimitClose(ALT, SIZE, limit, EXEC_FEE, 0, false);
      expect(await ex.vault.totalEscrow()).to.equal(EXEC_FEE);

      await s.feed.setPrice(wad("2.2") - 1n);
      await expect(ex.orderBook.connect(keeper).executeOrder(id)).to.be.revertedWithCustomError(
        ex.engine,
        "SlippageExceeded",
      );

      await s.feed.setPrice(wad("2.2"));
      const free1 = await ex.vault.freeBalance(trader.address);
      const fee = tradeFee(SIZE, -SIZE, limit); // maker: it shrinks |skew|
      const realized = pnl(SIZE, p0.entryPrice, limit);
      const tx = ex.orderBook.connect(keeper).executeOrder(id);
      await expect(tx)
        .to.emit(ex.engine, "Trade")
        .withArgs(
          await ex.admin.positionId(trader.address, ALT),
          trader.address,
          ALT,
          -SIZE,
          limit,
          fee,
          realized,
          0,
          0, // closed: size, entry and margin 0
          0,
          0,
          anyValue,
        );
      await expect(tx)
        .to.emit(ex.orderBook, "OrderExecuted")
        .withArgs(id, trader.address, ALT, LIMIT_CLOSE, keeper.address, -SIZE, 0, EXEC_FEE);
      expect((await positionOf(s, trader)).size).to.equal(0n);
      expect(await ex.vault.freeBalance(trader.address)).to.equal(free1 + MARGIN + realized - fee);
      expect(await ex.vault.freeBalance(keeper.address)).to.equal(EXEC_FEE);
      await expectEscrowConserved(ex);
    });
  });

  describe("take-profit and stop-loss", () => {
    // Long entry 2.0001, short entry 1.9999 (500 ALT at index 2). Triggers on mark = index here.
    const cases = [
      {
        name: "a long's take-profit",
        side: 1n,
        type: TAKE_PROFIT,
        trigger: wad("2.2"),
        acceptable: wad("2.1"),
        early: 1n,
      },
      {
        name: "a long's stop-loss",
        side: 1n,
        type: STOP_LOSS,
        trigger: wad("1.9"),
        acceptable: wad("1.8"),
        early: -1n,
      },
      {
        name: "a short's take-profit",
        side: -1n,
        type: TAKE_PROFIT,
        trigger: wad("1.8"),
        acceptable: wad("1.9"),
        early: -1n,
      },
      {
        name: "a short's stop-loss",
        side: -1n,
        type: STOP_LOSS,
        trigger: wad("2.2"),
        acceptable: wad("2.3"),
        early: 1n,
      },
    ];
    for (const c of cases) {
      it(`fires ${c.name} when the mark reaches the trigger, not one wei before`, async () => {
        const s = await loadFixture(indexMarked);
        const { ex, trader, keeper } = s;
        const size = c.side * SIZE;
        const p0 = await marketOpen(s, trader, size);
        const id = await nextId(s);
        await expect(
          ex.orderBook.connect(trader).createTriggerOrder(ALT, c.type, SIZE, c.trigger, c.acceptable, EXEC_FEE, 0),
        )
          .to.emit(ex.orderBook, "OrderCreated")
          .withArgs(id, trader.address, ALT, c.type, -size, c.trigger, c.acceptable, 0, EXEC_FEE, 0);

        const early = c.trigger - c.early; // one wei short of the trigger, on the side the mark comes from
        await s.feed.setPrice(early);
        await expect(ex.orderBook.connect(keeper).executeOrder(id))
          .to.be.revertedWithCustomError(ex.orderBook, "TriggerNotReached")
          .withArgs(id, early, c.trigger);

        await s.feed.setPrice(c.trigger);
        const fill = fillPrice(c.trigger, size, -size);
        const tx = ex.orderBook.connect(keeper).executeOrder(id);
        await expect(tx)
          .to.emit(ex.orderBook, "OrderExecuted")
          .withArgs(id, trader.address, ALT, c.type, keeper.address, -size, c.trigger, EXEC_FEE);
        await expect(tx)
          .to.emit(ex.engine, "Trade")
          .withArgs(
            await ex.admin.positionId(trader.address, ALT),
            trader.address,
            ALT,
            -size,
            fill,
            tradeFee(size, -size, fill),
            pnl(size, p0.entryPrice, fill),
            0,
            0, // closed: size, entry and margin 0
            0,
            0,
            anyValue,
          );
        console.log(`      ${c.name}: execute gas`, (await (await tx).wait())!.gasUsed.toString());
        expect((await positionOf(s, trader)).size).to.equal(0n);
        expect(await ex.vault.freeBalance(keeper.address)).to.equal(EXEC_FEE);
        await expectEscrowConserved(ex);
      });
    }

    it("closes only part of the position when the order's size is smaller", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader, keeper } = s;
      await marketOpen(s, trader, SIZE);
      const id = await nextId(s);
      await ex.orderBook
        .connect(trader)
        .createTriggerOrder(ALT, TAKE_PROFIT, wad(200), wad("2.2"), wad("2.1"), EXEC_FEE, 0);
      await s.feed.setPrice(wad("2.2"));
      await ex.orderBook.connect(keeper).executeOrder(id);
      expect((await positionOf(s, trader)).size).to.equal(SIZE - wad(200));
    });

    it("follows the median mark, not the last price: a long's take-profit waits for the basis EMA", async () => {
      const s = await loadFixture(medianMarked);
      const { ex, trader, keeper, whale } = s;
      await marketOpen(s, trader, SIZE);
      // A whale's 100,000 ALT long lifts the last price 2% above the index at once; the mark's P2 leg
      // (index + EMA of the basis, half-life 5 minutes) follows over minutes.
      await marketOpen(s, whale, wad(100_000), wad(20_000));
      const trigger = wad("2.02");
      const id = await nextId(s);
      await ex.orderBook.connect(trader).createTriggerOrder(ALT, TAKE_PROFIT, SIZE, trigger, wad("2.0"), EXEC_FEE, 0);
      const m = await ex.lens.market(ALT);
      expect(m.lastPrice).to.be.gt(trigger);
      expect(m.indexPrice).to.be.lt(trigger);
      await expect(ex.orderBook.connect(keeper).executeOrder(id))
        .to.be.revertedWithCustomError(ex.orderBook, "TriggerNotReached")
        .withArgs(id, (mark: bigint) => mark > START && mark < trigger, trigger);

      await time.increase(3600); // twelve half-lives: the EMA has all but caught up with the basis
      const tx = await ex.orderBook.connect(keeper).executeOrder(id);
      const receipt = (await tx.wait())!;
      const executed = receipt.logs
        .map((l) => ex.orderBook.interface.parseLog(l))
        .find((e) => e?.name === "OrderExecuted")!;
      expect(executed.args.markPrice).to.be.gte(trigger);
      expect((await positionOf(s, trader)).size).to.equal(0n);
    });
  });

  describe("reduce-only", () => {
    it("never closes more than the position holds when it shrank after the order was placed", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader, keeper } = s;
      await marketOpen(s, trader, SIZE);
      const id = await nextId(s);
      await ex.orderBook
        .connect(trader)
        .createTriggerOrder(ALT, TAKE_PROFIT, SIZE, wad("2.2"), wad("2.1"), EXEC_FEE, 0);
      await ex.engine.connect(trader).decreasePosition(ALT, wad(300), 0n);
      await s.feed.setPrice(wad("2.2"));
      await expect(ex.orderBook.connect(keeper).executeOrder(id))
        .to.emit(ex.orderBook, "OrderExecuted")
        .withArgs(id, trader.address, ALT, TAKE_PROFIT, keeper.address, -wad(200), wad("2.2"), EXEC_FEE);
      expect((await positionOf(s, trader)).size).to.equal(0n);
    });

    it("cancels and refunds instead of executing when the position is gone", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader, keeper } = s;
      await marketOpen(s, trader, SIZE);
      const id = await nextId(s);
      await ex.orderBook.connect(trader).createTriggerOrder(ALT, STOP_LOSS, SIZE, wad("1.9"), wad("1.8"), EXEC_FEE, 0);
      await ex.engine.connect(trader).closePosition(ALT, 0n);
      await s.feed.setPrice(wad("1.9"));
      const free = await ex.vault.freeBalance(trader.address);
      await expect(ex.orderBook.connect(keeper).executeOrder(id))
        .to.emit(ex.orderBook, "OrderCancelled")
        .withArgs(id, trader.address, ALT, keeper.address, POSITION_CLOSED, EXEC_FEE);
      expect(await ex.vault.freeBalance(trader.address)).to.equal(free + EXEC_FEE);
      expect(await ex.vault.freeBalance(keeper.address)).to.equal(0n);
      expect((await positionOf(s, trader)).size).to.equal(0n);
      expect((await ex.orderBook.getOrder(id)).status).to.equal(CANCELLED);
      await expectEscrowConserved(ex);
    });

    it("does not touch a position that flipped side: a long's stop-loss never buys into a short", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader, keeper } = s;
      await marketOpen(s, trader, SIZE);
      const id = await nextId(s);
      await ex.orderBook.connect(trader).createTriggerOrder(ALT, STOP_LOSS, SIZE, wad("1.9"), wad("1.8"), EXEC_FEE, 0);
      await ex.engine.connect(trader).closePosition(ALT, 0n);
      const short = await marketOpen(s, trader, -SIZE);
      await s.feed.setPrice(wad("1.9"));
      await expect(ex.orderBook.connect(keeper).executeOrder(id))
        .to.emit(ex.orderBook, "OrderCancelled")
        .withArgs(id, trader.address, ALT, keeper.address, POSITION_CLOSED, EXEC_FEE);
      expect([...(await positionOf(s, trader))]).to.deep.equal([...short]);
    });
  });

  describe("cancel and expiry", () => {
    it("returns the whole escrow to the owner who cancels", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader } = s;
      const free0 = await ex.vault.freeBalance(trader.address);
      const id = await nextId(s);
      await ex.orderBook.connect(trader).createLimitOpen(ALT, SIZE, MARGIN, wad("1.9"), EXEC_FEE, 0, false);
      expect(await ex.orderBook.escrowOf(id)).to.equal(MARGIN + EXEC_FEE);
      await expect(ex.orderBook.connect(trader).cancelOrder(id))
        .to.emit(ex.orderBook, "OrderCancelled")
        .withArgs(id, trader.address, ALT, trader.address, BY_OWNER, MARGIN + EXEC_FEE);
      expect(await ex.orderBook.escrowOf(id)).to.equal(0n);
      expect(await ex.vault.freeBalance(trader.address)).to.equal(free0);
      expect(await ex.vault.totalEscrow()).to.equal(0n);
    });

    it("on a stale oracle prices new orders against its last index, and fills none (no new risk)", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader } = s;
      await time.increase(ONE_YEAR + 1);
      expect((await ex.oracle.indexPrice(ALT))[1]).to.equal(0n);
      // A buy limit above the last index (2) would fill at once: refused as such, or, asked to fill, as new risk.
      const book = ex.orderBook.connect(trader);
      await expect(book.createLimitOpen(ALT, SIZE, MARGIN, wad("2.1"), EXEC_FEE, 0, false))
        .to.be.revertedWithCustomError(ex.orderBook, "WouldFillImmediately")
        .withArgs(fillPrice(START, 0n, SIZE), wad("2.1"));
      await expect(book.createLimitOpen(ALT, SIZE, MARGIN, wad("2.1"), EXEC_FEE, 0, true))
        .to.be.revertedWithCustomError(ex.engine, "NoFreshPrice")
        .withArgs(ALT);
      // One below it rests with its escrow.
      const id = await nextId(s);
      await book.createLimitOpen(ALT, SIZE, MARGIN, wad("1.99"), EXEC_FEE, 0, false);
      expect((await ex.orderBook.getOrder(id)).status).to.equal(LIVE);
      await expectEscrowConserved(ex);
    });

    it("executes until the second before expiry; from the expiry anyone may remove it for the owner", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader, other, keeper } = s;
      const expiry = (await now()) + 600n;
      const a = await nextId(s);
      await ex.orderBook.connect(trader).createLimitOpen(ALT, SIZE, MARGIN, wad("1.9"), EXEC_FEE, expiry, false);
      const b = a + 1n;
      await ex.orderBook.connect(trader).createLimitOpen(ALT, SIZE, MARGIN, wad("1.8"), EXEC_FEE, expiry, false);
      await s.feed.setPrice(wad("1.8"));

      await expect(ex.orderBook.connect(other).cancelOrder(a))
        .to.be.revertedWithCustomError(ex.orderBook, "NotOrderOwner")
        .withArgs(a, other.address, trader.address);
      await time.setNextBlockTimestamp(expiry - 1n);
      await ex.orderBook.connect(keeper).executeOrder(a);
      expect((await ex.orderBook.getOrder(a)).status).to.equal(EXECUTED);

      await time.setNextBlockTimestamp(expiry);
      await expect(ex.orderBook.connect(keeper).executeOrder(b))
        .to.be.revertedWithCustomError(ex.orderBook, "ExpiredOrder")
        .withArgs(b, expiry);
      const free = await ex.vault.freeBalance(trader.address);
      await expect(ex.orderBook.connect(other).cancelOrder(b))
        .to.emit(ex.orderBook, "OrderExpired")
        .withArgs(b, trader.address, ALT, other.address, MARGIN + EXEC_FEE);
      expect(await ex.vault.freeBalance(trader.address)).to.equal(free + MARGIN + EXEC_FEE);
      expect(await ex.vault.freeBalance(other.address)).to.equal(wad(DEPOSIT_USD));
      expect((await ex.orderBook.getOrder(b)).status).to.equal(EXPIRED);
      await expectEscrowConserved(ex);
    });
  });

  describe("escrow conservation", () => {
    it("keeps the vault's escrow equal to the live orders' escrow through a scripted sequence", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, trader, other, keeper } = s;
      const ob = ex.orderBook;
      const expiry = (await now()) + 300n;
      await ob.connect(trader).createLimitOpen(ALT, SIZE, MARGIN, wad("1.9"), EXEC_FEE, 0, false); // 1
      await ob.connect(other).createLimitOpen(ALT, -SIZE, wad(50), wad("2.2"), wad(2), expiry, false); // 2
      await ob.connect(trader).createLimitOpen(ALT, SIZE, wad(70), wad("1.5"), wad("0.5"), 0, false); // 3
      expect(await expectEscrowConserved(ex)).to.equal(MARGIN + EXEC_FEE + wad(52) + wad("70.5"));
      await ob.connect(trader).cancelOrder(3);
      await expectEscrowConserved(ex);
      await s.feed.setPrice(wad("1.85"));
      await ob.connect(keeper).executeOrder(1);
      await expectEscrowConserved(ex);
      await ob.connect(trader).createTriggerOrder(ALT, TAKE_PROFIT, SIZE, wad("2.1"), wad("2.0"), EXEC_FEE, 0); // 4
      await ob.connect(trader).createTriggerOrder(ALT, STOP_LOSS, SIZE, wad("1.7"), wad("1.6"), EXEC_FEE, 0); // 5
      await expectEscrowConserved(ex);
      await time.increaseTo(expiry);
      await ob.connect(keeper).cancelOrder(2); // expired: anyone
      await expectEscrowConserved(ex);
      await s.feed.setPrice(wad("2.1"));
      await ob.connect(keeper).executeOrder(4); // TP closes the position
      await ob.connect(keeper).executeOrder(5); // SL finds nothing: cancelled, refunded
      expect(await expectEscrowConserved(ex)).to.equal(0n);
      expect((await Promise.all([1n, 2n, 3n, 4n, 5n].map((id) => ob.getOrder(id)))).map((o) => o.status)).to.deep.equal(
        [EXECUTED, EXPIRED, CANCELLED, EXECUTED, CANCELLED],
      );
    });

    it("keeps it through a seeded random sequence of create, cancel, expire and execute", async () => {
      const s = await loadFixture(indexMarked);
      const { ex, keeper } = s;
      const traders = [s.trader, s.other];
      let seed = 20240601n;
      const rand = (n: number) => {
        seed = (seed * 6364136223846793005n + 1442695040888963407n) % (1n << 64n);
        return Number((seed >> 33n) % BigInt(n));
      };
      let executed = 0;
      let expired = 0;
      for (let step = 0; step < 40; step++) {
        const who = traders[rand(2)];
        const action = rand(5);
        const index = (await ex.lens.market(ALT)).indexPrice;
        if (action <= 1) {
          // A resting limit 2-12% away from the index, on the side that does not fill now.
          const side = rand(2) === 0 ? 1n : -1n;
          const away = wad(2 + rand(11)) / 100n;
          const limit = side > 0n ? index - (index * away) / WAD : index + (index * away) / WAD;
          const expiry = rand(3) === 0 ? (await now()) + BigInt(60 + rand(600)) : 0n;
          await ex.orderBook
            .connect(who)
            .createLimitOpen(
              ALT,
              side * wad(10 + rand(90)),
              wad(20 + rand(80)),
              limit,
              wad(1) + BigInt(rand(1000)) * 10n ** 15n,
              expiry,
              false,
            );
        } else if (action === 2) {
          const p = await positionOf(s, who);
          if (p.size === 0n) continue;
          const isLong = p.size > 0n;
          const tp = rand(2) === 0;
          const above = isLong === tp;
          const trigger = above ? (p.entryPrice * 105n) / 100n : (p.entryPrice * 95n) / 100n;
          const acceptable = isLong ? trigger / 2n : trigger * 2n;
          await ex.orderBook
            .connect(who)
            .createTriggerOrder(ALT, tp ? TAKE_PROFIT : STOP_LOSS, abs(p.size), trigger, acceptable, EXEC_FEE, 0);
        } else if (action === 3) {
          const count = await ex.orderBook.orderCount();
          for (let id = 1n; id <= count; id++) {
            const o = await ex.orderBook.getOrder(id);
            if (o.status === LIVE && o.account === who.address && rand(2) === 0)
              await ex.orderBook.connect(who).cancelOrder(id);
          }
        } else {
          // The price walks; time passes; the keeper runs every live order that a static call accepts.
          await s.feed.setPrice((index * BigInt(94 + rand(13))) / 100n);
          await time.increase(30 + rand(300));
          const count = await ex.orderBook.orderCount();
          for (let id = 1n; id <= count; id++) {
            const o = await ex.orderBook.getOrder(id);
            if (o.status !== LIVE) continue;
            if (o.expiry !== 0n && BigInt(await time.latest()) + 1n >= o.expiry) {
              await ex.orderBook.connect(keeper).cancelOrder(id);
              expired++;
              continue;
            }
            try {
              await ex.orderBook.connect(keeper).executeOrder.staticCall(id);
            } catch {
              continue;
            }
            await ex.orderBook.connect(keeper).executeOrder(id);
            executed++;
          }
        }
        await expectEscrowConserved(ex);
      }
      expect(executed).to.be.greaterThan(0);
      expect(expired).to.be.greaterThan(0);
    });
  });

  describe("bad input: a custom error and nothing changed", () => {
    async function withLong() {
      const s = await indexMarked();
      await marketOpen(s, s.trader, SIZE);
      await s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, SIZE, MARGIN, wad("1.5"), EXEC_FEE, 0, false); // order 1
      return s;
    }

    const entry = fillPrice(START, 0n, SIZE); // the long's entry, 2.0001
    const cases: {
      name: string;
      act: (s: OrdersSystem) => Promise<unknown>;
      error: string;
      args: (s: OrdersSystem) => unknown[];
    }[] = [
      {
        name: "a buy limit above the fill price without the immediate flag",
        act: (s) => s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, SIZE, MARGIN, wad("2.5"), EXEC_FEE, 0, false),
        error: "WouldFillImmediately",
        args: () => [fillPrice(START, SIZE, SIZE), wad("2.5")],
      },
      {
        name: "a sell limit below the fill price without the immediate flag",
        act: (s) => s.ex.orderBook.connect(s.other).createLimitOpen(ALT, -SIZE, MARGIN, wad("1.5"), EXEC_FEE, 0, false),
        error: "WouldFillImmediately",
        args: () => [fillPrice(START, SIZE, -SIZE), wad("1.5")],
      },
      {
        name: "a zero-size limit open",
        act: (s) => s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, 0, MARGIN, wad("1.9"), EXEC_FEE, 0, false),
        error: "ZeroSize",
        args: () => [],
      },
      {
        name: "a zero-size take-profit",
        act: (s) =>
          s.ex.orderBook.connect(s.trader).createTriggerOrder(ALT, TAKE_PROFIT, 0, wad("2.2"), wad("2.1"), EXEC_FEE, 0),
        error: "ZeroSize",
        args: () => [],
      },
      {
        name: "a long's take-profit below entry",
        act: (s) =>
          s.ex.orderBook
            .connect(s.trader)
            .createTriggerOrder(ALT, TAKE_PROFIT, SIZE, wad("1.99"), wad("1.9"), EXEC_FEE, 0),
        error: "InvalidTrigger",
        args: () => [TAKE_PROFIT, true, wad("1.99"), entry],
      },
      {
        name: "a long's take-profit at entry",
        act: (s) =>
          s.ex.orderBook.connect(s.trader).createTriggerOrder(ALT, TAKE_PROFIT, SIZE, entry, wad("1.9"), EXEC_FEE, 0),
        error: "InvalidTrigger",
        args: () => [TAKE_PROFIT, true, entry, entry],
      },
      {
        name: "a long's stop-loss above entry",
        act: (s) =>
          s.ex.orderBook
            .connect(s.trader)
            .createTriggerOrder(ALT, STOP_LOSS, SIZE, wad("2.01"), wad("1.9"), EXEC_FEE, 0),
        error: "InvalidTrigger",
        args: () => [STOP_LOSS, true, wad("2.01"), entry],
      },
      {
        name: "a take-profit larger than the position",
        act: (s) =>
          s.ex.orderBook
            .connect(s.trader)
            .createTriggerOrder(ALT, TAKE_PROFIT, SIZE + 1n, wad("2.2"), wad("2.1"), EXEC_FEE, 0),
        error: "SizeExceedsPosition",
        args: () => [SIZE + 1n, SIZE],
      },
      {
        name: "a stop-loss without a position",
        act: (s) =>
          s.ex.orderBook.connect(s.other).createTriggerOrder(ALT, STOP_LOSS, SIZE, wad("2.2"), wad("2.3"), EXEC_FEE, 0),
        error: "NoPosition",
        args: (s) => [s.other.address, ALT],
      },
      {
        name: "a limit order typed as a trigger order",
        act: (s) =>
          s.ex.orderBook
            .connect(s.trader)
            .createTriggerOrder(ALT, LIMIT_CLOSE, SIZE, wad("2.2"), wad("2.1"), EXEC_FEE, 0),
        error: "InvalidOrderType",
        args: () => [LIMIT_CLOSE],
      },
      {
        name: "an execution fee below the minimum",
        act: (s) =>
          s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, SIZE, MARGIN, wad("1.9"), MIN_FEE - 1n, 0, false),
        error: "ExecutionFeeTooLow",
        args: () => [MIN_FEE - 1n, MIN_FEE],
      },
      {
        name: "a margin below the market's minimum",
        act: (s) =>
          s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, SIZE, wad(10) - 1n, wad("1.9"), EXEC_FEE, 0, false),
        error: "MarginTooLow",
        args: () => [wad(10) - 1n, wad(ALT_USD.minMargin)],
      },
      {
        name: "a zero limit price",
        act: (s) => s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, SIZE, MARGIN, 0, EXEC_FEE, 0, false),
        error: "ZeroPrice",
        args: () => [],
      },
      {
        name: "an unknown market",
        act: (s) => s.ex.orderBook.connect(s.trader).createLimitOpen(9, SIZE, MARGIN, wad("1.9"), EXEC_FEE, 0, false),
        error: "UnknownMarket",
        args: () => [9n],
      },
      {
        name: "cancelling someone else's order",
        act: (s) => s.ex.orderBook.connect(s.other).cancelOrder(1),
        error: "NotOrderOwner",
        args: (s) => [1n, s.other.address, s.trader.address],
      },
      {
        name: "executing an order that does not exist",
        act: (s) => s.ex.orderBook.connect(s.keeper).executeOrder(2),
        error: "OrderNotLive",
        args: () => [2n, 0n],
      },
      {
        name: "executing a limit whose price has not been reached",
        act: (s) => s.ex.orderBook.connect(s.keeper).executeOrder(1),
        error: "SlippageExceeded",
        args: () => [fillPrice(START, SIZE, SIZE), wad("1.5")],
      },
    ];
    for (const c of cases) {
      it(`refuses ${c.name}`, async () => {
        const s = await loadFixture(withLong);
        const before = await snapshot(s);
        const contract = c.error === "SlippageExceeded" ? s.ex.engine : s.ex.orderBook;
        await expect(c.act(s))
          .to.be.revertedWithCustomError(contract, c.error)
          .withArgs(...c.args(s));
        expect(await snapshot(s)).to.deep.equal(before);
      });
    }

    it("refuses an expiry that has already passed", async () => {
      const s = await loadFixture(withLong);
      const before = await snapshot(s);
      const t = await now();
      await time.setNextBlockTimestamp(t + 1n);
      await expect(
        s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, SIZE, MARGIN, wad("1.9"), EXEC_FEE, t + 1n, false),
      )
        .to.be.revertedWithCustomError(s.ex.orderBook, "InvalidExpiry")
        .withArgs(t + 1n, t + 1n);
      expect(await snapshot(s)).to.deep.equal(before);
    });

    it("refuses executing or cancelling a cancelled order", async () => {
      const s = await loadFixture(withLong);
      await s.ex.orderBook.connect(s.trader).cancelOrder(1);
      const before = await snapshot(s);
      await expect(s.ex.orderBook.connect(s.keeper).executeOrder(1))
        .to.be.revertedWithCustomError(s.ex.orderBook, "OrderNotLive")
        .withArgs(1n, CANCELLED);
      await expect(s.ex.orderBook.connect(s.trader).cancelOrder(1))
        .to.be.revertedWithCustomError(s.ex.orderBook, "OrderNotLive")
        .withArgs(1n, CANCELLED);
      expect(await snapshot(s)).to.deep.equal(before);
    });

    it("refuses executing an expired order", async () => {
      const s = await loadFixture(withLong);
      const expiry = (await now()) + 100n;
      await s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, SIZE, MARGIN, wad("1.9"), EXEC_FEE, expiry, false);
      await s.feed.setPrice(wad("1.9"));
      await time.increaseTo(expiry);
      const before = await snapshot(s);
      await expect(s.ex.orderBook.connect(s.keeper).executeOrder(2))
        .to.be.revertedWithCustomError(s.ex.orderBook, "ExpiredOrder")
        .withArgs(2n, expiry);
      expect(await snapshot(s)).to.deep.equal(before);
    });

    it("lets only the config role change the minimum fee", async () => {
      const s = await loadFixture(withLong);
      await expect(s.ex.orderBook.connect(s.other).setMinExecutionFee(0)).to.be.revertedWithCustomError(
        s.ex.orderBook,
        "AccessControlUnauthorizedAccount",
      );
      const [deployer] = await ethers.getSigners();
      await expect(s.ex.orderBook.connect(deployer).setMinExecutionFee(wad(2)))
        .to.emit(s.ex.orderBook, "MinExecutionFeeSet")
        .withArgs(MIN_FEE, wad(2));
      await expect(s.ex.orderBook.connect(s.trader).createLimitOpen(ALT, SIZE, MARGIN, wad("1.9"), EXEC_FEE, 0, false))
        .to.be.revertedWithCustomError(s.ex.orderBook, "ExecutionFeeTooLow")
        .withArgs(EXEC_FEE, wad(2));
    });
  });
});
