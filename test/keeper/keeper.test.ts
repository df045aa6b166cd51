/**
 * The Keeper engine on the in-process network, one tick() at a time (as the simulator drives it):
 * off-chain liquidation prices against the lens, cascades within a tick, a last liquidation pass when
 * the tick's own order fill moved the mark, limit / take-profit / stop-loss orders executed in the
 * block after their condition holds, expired orders removed for their owners, funding at every
 * boundary across three days, ADL by adlScore, and dry-run.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { positionIdHex } from "../../keeper/book";
import { liquidationPriceOf } from "../../keeper/health";
import { Keeper } from "../../keeper/keeper";
import type { KeeperOptions } from "../../keeper/keeper";
import { createMemoryLogger } from "../../keeper/log";
import type { MemoryLogger } from "../../keeper/log";
import { liquidateManyGas } from "../../keeper/jobs/liquidations";
import { MarketReader } from "../../keeper/markets";
import { KeeperMetrics } from "../../keeper/metrics";
import { SignerTransactor } from "../../keeper/transactor";
import { createVenueKeepers, venuesOf } from "../../keeper/venues";
import type { Transactor, TxRequest } from "../../keeper/transactor";
import { Pricing } from "../../lib/math";
import { wad } from "../../lib/units";
import {
  createControlledMarket,
  exchangeFixture,
  FUNDING_INTERVAL,
  fund,
  openByLeverage,
  openSize,
  pushIndex,
} from "../helpers/fixtures";
import type { ExchangeFixture } from "../helpers/fixtures";

const TAKE_PROFIT = 2n;
const STOP_LOSS = 3n;
const EXEC_FEE = wad(1);
/** The lowest acceptable price the order book takes (0 is refused): a sell at any fill. */
const ANY_SELL = 1n;
/** Hardhat's default block gas limit, the head's gasLimit the keeper budgets under. */
const BLOCK_GAS = 30_000_000n;

function keeperFor(f: ExchangeFixture, options: Partial<KeeperOptions> = {}) {
  const metrics = new KeeperMetrics();
  const logs: MemoryLogger = createMemoryLogger("debug");
  const keeper = new Keeper(f.ex, f.keeper, {
    fromBlock: f.ex.deployment.deploymentBlock,
    metrics: metrics.venue("USD"),
    log: logs.log,
    ...options,
  });
  return { keeper, metrics, logs };
}

/** Sends through the keeper's signer, recording the gas limit each request asked for; `change` may alter it. */
function recordingTransactor(f: ExchangeFixture, change: (r: TxRequest) => TxRequest = (r) => r) {
  const sent: (bigint | undefined)[] = [];
  const inner = new SignerTransactor(f.keeper);
  const transactor: Transactor = {
    send: (r) => {
      sent.push(r.gasLimit);
      return inner.send(change(r));
    },
  };
  return { sent, transactor };
}

async function counter(metric: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await metric.get()).values[0]?.value ?? 0;
}

/** Fresh signers beyond the fixture's, each with `usd` deposited. */
async function funded(f: ExchangeFixture, count: number, usd: bigint, from = 5): Promise<HardhatEthersSigner[]> {
  const signers = (await ethers.getSigners()).slice(from, from + count);
  for (const s of signers) await fund(f.ex, s, usd);
  return signers;
}

/**
 * A market at $2 (skew scale 2M) with one exact feed and the SPEC median mark, its basis EMA without
 * memory (half-life 0): one second after a trade the mark is median(index, last, last), where
 * last = index * (1 + K / S), so the skew moves the mark.
 */
function skewMarket(f: ExchangeFixture, symbol: string) {
  return createControlledMarket(f.ex, f.deployer, {
    symbol,
    initialPrice: "2",
    markModel: "median",
    skewScale: "2000000",
    maxOpenInterest: "1000000",
    emaHalfLifeSeconds: 0,
  });
}

async function blockNumber(): Promise<number> {
  return ethers.provider.getBlockNumber();
}

describe("Keeper engine (in-process network)", function () {
  this.timeout(120_000);

  it("prices every position exactly as the lens does, through an unsettled funding boundary, and finds the liquidatable ones", async () => {
    const f = await loadFixture(exchangeFixture);
    const [a, b, c] = f.traders;
    const [d] = await funded(f, 1, 1_000_000n);
    const ids = [
      (await openByLeverage(f.ex, a, f.alt.marketId, { side: "short", margin: wad(100), leverage: 10n })).id,
      (await openByLeverage(f.ex, b, f.alt.marketId, { side: "long", margin: wad(500), leverage: 20n })).id,
      (await openByLeverage(f.ex, c, f.btc.marketId, { side: "long", margin: wad(20_000), leverage: 40n })).id,
      (await openByLeverage(f.ex, d, f.btc.marketId, { side: "short", margin: wad(300_000), leverage: 4n })).id,
    ];
    const { keeper } = keeperFor(f);
    const reader = new MarketReader(f.ex.admin, f.ex.oracle, ethers.provider);

    const expectAgreement = async () => {
      await keeper.syncOnly();
      const block = await ethers.provider.getBlock("latest");
      const markets = await reader.read([f.alt.marketId, f.btc.marketId], block!.number, BigInt(block!.timestamp));
      const views = await f.ex.lens.positions(ids, { blockTag: block!.number });
      for (const [i, id] of ids.entries()) {
        const p = keeper.book.get(id)!;
        const m = markets.get(p.marketId)!;
        expect(liquidationPriceOf(p, m.projected.state.fundingIndex, m.tiers), `position ${i}`).to.equal(
          views[i].liquidationPrice,
        );
        expect(m.projected.mark).to.equal(views[i].markPrice);
      }
      keeper.health.update(keeper.book, keeper.book.takeChanged(), markets);
      const crossed = [...markets.values()].flatMap((m) => keeper.health.candidates(m.marketId, m.projected.mark));
      expect(new Set(crossed)).to.deep.equal(new Set(ids.filter((_, i) => views[i].liquidatable)));
      return views;
    };

    expect((await expectAgreement()).every((v) => !v.liquidatable)).to.equal(true);
    // Past a funding boundary nobody settled, with ALT 6% down: the 20x ALT long is liquidatable.
    await time.increase(9 * 3600);
    await pushIndex(f.alt, wad("1.88"));
    await pushIndex(f.btc, wad(30_300));
    const views = await expectAgreement();
    expect(views.map((v) => v.liquidatable)).to.deep.equal([false, true, false, false]);
    expect(views.every((v) => v.pendingFunding !== 0n)).to.equal(true);
  });

  it("follows a cascade within one tick: the liquidations of round 1 move the mark over the next positions", async () => {
    const f = await loadFixture(exchangeFixture);
    // With shorts in excess the mark is the last price, index * (1 + K / S).
    const cas = await skewMarket(f, "CAS-USD");
    const traders = await funded(f, 10, 10_000n);
    const open = (t: HardhatEthersSigner, margin: bigint, leverage: bigint) =>
      openByLeverage(f.ex, t, cas.marketId, { side: "short", margin, leverage }).then((o) => o.id);
    // First five 10x shorts of 5,000 (liquidated near 2.16 to 2.19), then five 12x shorts of 15,000 opened
    // lower into the skew (near 2.06 to 2.12): K = -100,000, last = 0.95 * index.
    const loose = [];
    for (const t of traders.slice(0, 5)) loose.push(await open(t, wad(1000), 10n));
    const tight = [];
    for (const t of traders.slice(5)) tight.push(await open(t, wad(2500), 12n));
    // At index 2.25 the mark is 0.95 * 2.25 = 2.1375: past every 12x short, short of every 10x one. Once
    // the 12x shorts are bought back, K = -25,000 and the mark is 0.9875 * 2.25 = 2.2219: past the 10x ones.
    await (await cas.feed.setPrice(wad("2.25"))).wait();
    const before = await f.ex.lens.positions([...tight, ...loose]);
    expect(before.map((v) => v.liquidatable)).to.deep.equal([...tight.map(() => true), ...loose.map(() => false)]);

    const { keeper } = keeperFor(f);
    const report = await keeper.tick();
    const rounds = new Map(report.liquidations.map((l) => [l.id, l.round]));
    expect(tight.map((id) => rounds.get(id))).to.deep.equal([1, 1, 1, 1, 1]);
    expect(loose.map((id) => rounds.get(id))).to.deep.equal([2, 2, 2, 2, 2]);
    expect(keeper.book.idsIn(cas.marketId)).to.deep.equal([]);
  });

  it("liquidates positions crossed in two markets in the same tick, one batch per market on the gas budget", async () => {
    const f = await loadFixture(exchangeFixture);
    const [a, b] = f.traders;
    const alt = await openByLeverage(f.ex, a, f.alt.marketId, { side: "long", margin: wad(5_000), leverage: 10n });
    const btc = await openByLeverage(f.ex, b, f.btc.marketId, { side: "long", margin: wad(200_000), leverage: 5n });
    await pushIndex(f.alt, wad("1.8"));
    await pushIndex(f.btc, wad(24_000));
    expect((await f.ex.lens.liquidatable([alt.id, btc.id])).map(Boolean)).to.deep.equal([true, true]);

    const { sent, transactor } = recordingTransactor(f);
    const { keeper } = keeperFor(f, { transactor, funding: false, orders: false, adl: false });
    const report = await keeper.tick();
    expect(new Set(report.liquidations.map((l) => l.id))).to.deep.equal(new Set([alt.id, btc.id]));
    // Two budgets of one position each, no retry.
    expect(sent).to.deep.equal([liquidateManyGas(1, BLOCK_GAS), liquidateManyGas(1, BLOCK_GAS)]);
  });

  it("sends a batch that ran out of its gas budget again at once with the node's estimate", async () => {
    const f = await loadFixture(exchangeFixture);
    const { id } = await openByLeverage(f.ex, f.traders[0], f.alt.marketId, {
      side: "long",
      margin: wad(5_000),
      leverage: 10n,
    });
    await pushIndex(f.alt, wad("1.8"));
    // A budget far too small: the engine runs out of gas pricing the market (a one-position liquidateMany
    // takes about 112k; 60k leaves about 39k past the intrinsic cost, spent before the oracle answers).
    const { sent, transactor } = recordingTransactor(f, (r) => ({ ...r, gasLimit: r.gasLimit && 60_000n }));
    const { keeper, logs } = keeperFor(f, { transactor, funding: false, orders: false, adl: false });
    const report = await keeper.tick();
    expect(report.liquidations.map((l) => l.id)).to.deep.equal([id]);
    expect(sent).to.deep.equal([liquidateManyGas(1, BLOCK_GAS), undefined]);
    expect(logs.entries().some((e) => String(e.msg).includes("reverted on its gas budget"))).to.equal(true);
  });

  it("sends a crossed position without reading it back, and has the lens confirm one the chain skipped before sending it again", async () => {
    const f = await loadFixture(exchangeFixture);
    const { id } = await openByLeverage(f.ex, f.traders[0], f.alt.marketId, {
      side: "long",
      margin: wad(5_000),
      leverage: 10n,
    });
    await pushIndex(f.alt, wad("1.8"));
    // The first batch reaches the chain without its position, as when another transaction got there
    // first: it is mined, and the position is not liquidated by it.
    const emptied = f.ex.engine.interface.encodeFunctionData("liquidateMany", [[]]);
    let sends = 0;
    const { transactor } = recordingTransactor(f, (r) => (sends++ === 0 ? { ...r, data: emptied } : r));
    const { keeper, logs } = keeperFor(f, { transactor, funding: false, orders: false, adl: false });
    const lensChecks = () => logs.entries().filter((e) => e.msg === "refused before: confirmed by the lens");

    const first = await keeper.tick();
    expect(first.liquidations).to.deep.equal([]);
    expect(first.lostRace).to.deep.equal([id]);
    expect(lensChecks(), "the first send reads nothing back").to.have.length(0);

    const second = await keeper.tick();
    expect(second.liquidations.map((l) => l.id)).to.deep.equal([id]);
    expect(lensChecks().map((e) => [e.doubtful, e.confirmed])).to.deep.equal([[1, 1]]);
    expect(sends).to.equal(2);
  });

  it("ends a tick whose own order fill moved the mark with one more liquidation pass", async () => {
    const f = await loadFixture(exchangeFixture);
    const mkt = await skewMarket(f, "END-USD");
    const [shorter, buyer] = await funded(f, 2, 100_000n);
    const { id: short } = await openByLeverage(f.ex, shorter, mkt.marketId, {
      side: "short",
      margin: wad(2500),
      leverage: 12n,
    });
    // K = -15,000: the mark is 0.9925 * index. A buy of 60,000 makes K = +45,000 and fills at 1.0075 *
    // index; once it has, the mark is at least the index. At index = liquidationPrice / 0.996 the short
    // is healthy before the fill and liquidatable after it.
    const [{ liquidationPrice }] = await f.ex.lens.positions([short]);
    const index = (liquidationPrice * 1000n) / 996n;
    const buy = wad(60_000);
    const skewScale = wad(mkt.spec.skewScale);
    const { skew } = await f.ex.lens.market(mkt.marketId);
    const limit = Pricing.fillPrice(index, skew, buy, skewScale);
    // Placed while the index is 1% higher, so it rests; then the index comes down to where it fills.
    await (await mkt.feed.setPrice((index * 101n) / 100n)).wait();
    await (
      await f.ex.orderBook.connect(buyer).createLimitOpen(mkt.marketId, buy, wad(20_000), limit, EXEC_FEE, 0n, false)
    ).wait();
    await (await mkt.feed.setPrice(index)).wait();
    expect(await f.ex.lens.liquidatable([short])).to.deep.equal([false]);

    const { keeper } = keeperFor(f, { funding: false, adl: false });
    const report = await keeper.tick();
    expect(report.orders.map((o) => o.id)).to.deep.equal([1n]);
    expect(report.liquidations.map((l) => l.id)).to.deep.equal([short]);
    expect(report.liquidations[0].block).to.be.greaterThan(report.orders[0].block);
    expect(keeper.book.idsIn(mkt.marketId)).to.have.length(1);
  });

  describe("orders", () => {
    /**
     * A market whose mark is its index, set to the wei by one 18-decimal feed; four traders: two longs
     * (one with a take-profit at 2.10, one with a stop-loss at 1.90), a short with a limit close (buy back
     * at or below 1.85) and a trader with a limit open (buy at or below 1.95).
     */
    async function ordersFixture() {
      const f = await exchangeFixture();
      const market = await createControlledMarket(f.ex, f.deployer, {
        symbol: "ORD-USD",
        initialPrice: "2",
        markModel: "index",
      });
      const [tpOwner, slOwner, lcOwner, loOwner] = await funded(f, 4, 10_000n);
      const size = wad(500);
      await openSize(f.ex, tpOwner, market.marketId, size, wad(100));
      await openSize(f.ex, slOwner, market.marketId, size, wad(100));
      await openSize(f.ex, lcOwner, market.marketId, -size, wad(100));
      const book = f.ex.orderBook;
      await (
        await book
          .connect(tpOwner)
          .createTriggerOrder(market.marketId, TAKE_PROFIT, size, wad("2.1"), ANY_SELL, EXEC_FEE, 0n)
      ).wait();
      await (
        await book
          .connect(slOwner)
          .createTriggerOrder(market.marketId, STOP_LOSS, size, wad("1.9"), ANY_SELL, EXEC_FEE, 0n)
      ).wait();
      await (
        await book.connect(lcOwner).createLimitClose(market.marketId, size, wad("1.85"), EXEC_FEE, 0n, false)
      ).wait();
      await (
        await book.connect(loOwner).createLimitOpen(market.marketId, size, wad(100), wad("1.95"), EXEC_FEE, 0n, false)
      ).wait();
      return { f, market, size, ids: { takeProfit: 1n, stopLoss: 2n, limitClose: 3n, limitOpen: 4n } };
    }

    it("executes a take-profit, a limit open, a stop-loss and a limit close each in the block after its condition holds, not before", async () => {
      const { f, market, size, ids } = await loadFixture(ordersFixture);
      const { keeper, metrics } = keeperFor(f);
      const setIndex = async (price: bigint) => (await (await market.feed.setPrice(price)).wait())!.blockNumber;
      const skewScale = wad(market.spec.skewScale);
      /** SPEC fill of a buy of `size`: index * (2S + 2K + d) / 2S, rounded up; the highest index at which it is <= limit. */
      const highestIndexFilling = async (limit: bigint) => {
        const { skew } = await f.ex.lens.market(market.marketId);
        return (limit * 2n * skewScale) / (2n * skewScale + 2n * skew + size);
      };
      /** Sets the index, ticks, and returns the ids the keeper executed and in which block. */
      const step = async (price: bigint) => {
        const pushedAt = await setIndex(price);
        const report = await keeper.tick();
        return { pushedAt, executed: report.orders.map((o) => ({ id: o.id, block: o.block })) };
      };
      const feesBefore = await f.ex.vault.freeBalance(f.keeper.address);

      expect((await keeper.tick()).orders).to.deep.equal([]);
      expect(keeper.orderList.size).to.equal(4);

      // Take-profit of a long: the mark (= index here) at or above 2.10.
      expect((await step(wad("2.1") - 1n)).executed).to.deep.equal([]);
      let s = await step(wad("2.1"));
      expect(s.executed).to.deep.equal([{ id: ids.takeProfit, block: s.pushedAt + 1 }]);

      // Limit open, a buy at 1.95: the first index whose fill is at or below it.
      const fillsAt = await highestIndexFilling(wad("1.95"));
      expect((await step(fillsAt + 1n)).executed).to.deep.equal([]);
      s = await step(fillsAt);
      expect(s.executed).to.deep.equal([{ id: ids.limitOpen, block: s.pushedAt + 1 }]);

      // Stop-loss of a long: the mark at or below 1.90.
      expect((await step(wad("1.9") + 1n)).executed).to.deep.equal([]);
      s = await step(wad("1.9"));
      expect(s.executed).to.deep.equal([{ id: ids.stopLoss, block: s.pushedAt + 1 }]);

      // Limit close of a short (buy back) at 1.85.
      const closesAt = await highestIndexFilling(wad("1.85"));
      expect((await step(closesAt + 1n)).executed).to.deep.equal([]);
      s = await step(closesAt);
      expect(s.executed).to.deep.equal([{ id: ids.limitClose, block: s.pushedAt + 1 }]);

      expect(keeper.orderList.size).to.equal(0);
      expect(await counter(metrics.ordersExecuted)).to.equal(4);
      expect((await f.ex.vault.freeBalance(f.keeper.address)) - feesBefore).to.equal(4n * EXEC_FEE);
    });

    it("removes an expired order for its owner, who gets the whole escrow back", async () => {
      const f = await loadFixture(exchangeFixture);
      const [owner] = f.traders;
      const free = await f.ex.vault.freeBalance(owner.address);
      // Pinned: after a fixture revert the node's next timestamp follows the wall clock, which may be
      // minutes past the snapshot's latest block when this runs late in the suite.
      const now = BigInt(await time.latest());
      await time.setNextBlockTimestamp(now + 1n);
      const expiry = now + 600n;
      await (
        await f.ex.orderBook
          .connect(owner)
          .createLimitOpen(f.alt.marketId, wad(500), wad(100), wad("1.5"), EXEC_FEE, expiry, false)
      ).wait();
      expect(await f.ex.vault.freeBalance(owner.address)).to.equal(free - wad(100) - EXEC_FEE);
      const { keeper } = keeperFor(f);
      await keeper.tick();
      expect(keeper.orderList.size).to.equal(1);

      await time.increaseTo(expiry);
      await keeper.tick();
      const [expired] = await f.ex.orderBook.queryFilter(f.ex.orderBook.filters.OrderExpired());
      expect(expired.args.caller).to.equal(f.keeper.address);
      expect(expired.args.refund).to.equal(wad(100) + EXEC_FEE);
      expect(await f.ex.vault.freeBalance(owner.address)).to.equal(free);
      expect(keeper.orderList.size).to.equal(0);
    });
  });

  it("settles funding at every boundary across three days, each once and on time, and catches up three missed intervals in one call", async () => {
    const f = await loadFixture(exchangeFixture);
    await openByLeverage(f.ex, f.traders[0], f.alt.marketId, { side: "short", margin: wad(1000), leverage: 5n });
    const { keeper, metrics } = keeperFor(f);
    const first = (await f.ex.admin.marketState(f.alt.marketId)).lastFundingTime + FUNDING_INTERVAL;
    const DAYS = 3n;
    const boundaries = Array.from(
      { length: Number((DAYS * 24n * 3600n) / FUNDING_INTERVAL) },
      (_, i) => first + BigInt(i) * FUNDING_INTERVAL,
    );
    expect(boundaries).to.have.length(9);

    for (const boundary of boundaries) {
      await time.increaseTo(boundary - 3600n);
      expect((await keeper.tick()).funding, "an hour before the boundary").to.deep.equal([]);
      await time.increaseTo(boundary);
      const head = await blockNumber();
      const settled = (await keeper.tick()).funding;
      expect(settled.map((s) => s.marketId)).to.deep.equal([f.alt.marketId, f.btc.marketId]);
      for (const s of settled) {
        expect(s.boundary).to.equal(boundary);
        expect(s.intervals).to.equal(1n);
        expect(s.block - head).to.be.at.most(2); // the first blocks after the boundary's
      }
    }
    expect(await counter(metrics.fundingSettled)).to.equal(2 * boundaries.length);

    // Three intervals with no keeper: one settlement per market covers them all.
    const last = boundaries[boundaries.length - 1];
    await time.increaseTo(last + 3n * FUNDING_INTERVAL + 60n);
    const caughtUp = (await keeper.tick()).funding;
    expect(caughtUp.map((s) => [s.intervals, s.boundary])).to.deep.equal([
      [3n, last + 3n * FUNDING_INTERVAL],
      [3n, last + 3n * FUNDING_INTERVAL],
    ]);
  });

  it("keeps every venue in-process with one signer: the venues' keepers, ticked at once, settle each coin-margined market's funding", async () => {
    const f = await loadFixture(exchangeFixture);
    const keepers = createVenueKeepers(f.ex, f.keeper, () => ({ fromBlock: f.ex.deployment.deploymentBlock }));
    expect([...keepers.keys()]).to.deep.equal(["USD", "BTC", "ALT"]);
    let boundary = 0n;
    for (const { exchange } of venuesOf(f.ex)) {
      for (const market of exchange.markets.values()) {
        const next = (await exchange.admin.marketState(market.marketId)).lastFundingTime + FUNDING_INTERVAL;
        if (next > boundary) boundary = next;
      }
    }
    await time.increaseTo(boundary);
    const reports = await Promise.all([...keepers.values()].map((k) => k.tick()));
    const settled = reports.map((r) => r.funding.map((s) => s.marketId));
    expect(settled).to.deep.equal([
      [f.alt.marketId, f.btc.marketId],
      [f.ex.coinMargined.get("BTC")!.markets.get("BTCUSD-INV")!.marketId],
      [f.ex.coinMargined.get("ALT")!.markets.get("ALTUSD-INV")!.marketId],
    ]);
  });

  it("deleverages the profitable long with the highest adlScore first and stops once ADL is inactive", async () => {
    const f = await loadFixture(exchangeFixture);
    const [bankrupt, bold, careful] = f.traders;
    const btc = f.btc.marketId;
    // $4M short at 20x, a $1M long at 20x, a $200k long at 4x, all at $30,000.
    const short = await openByLeverage(f.ex, bankrupt, btc, { side: "short", margin: wad(200_000), leverage: 20n });
    const boldLong = await openByLeverage(f.ex, bold, btc, { side: "long", margin: wad(50_000), leverage: 20n });
    const carefulLong = await openByLeverage(f.ex, careful, btc, { side: "long", margin: wad(50_000), leverage: 4n });
    // +8%: the short loses 133.3 * 2,400 = $320k on $200k of margin; the $100k fund covers most of the $120k.
    await pushIndex(f.btc, wad(32_400));
    const { keeper, metrics } = keeperFor(f);
    const report = await keeper.tick();

    expect(report.liquidations.map((l) => l.id)).to.deep.equal([short.id]);
    const [badDebt] = await f.ex.engine.queryFilter(f.ex.engine.filters.BadDebt());
    expect(badDebt.args.uncovered).to.be.greaterThan(0n);
    const at = { blockTag: badDebt.blockNumber };
    const [boldScore, carefulScore] = [
      (await f.ex.lens.adlScore(boldLong.id, at)).score,
      (await f.ex.lens.adlScore(carefulLong.id, at)).score,
    ];
    expect(boldScore).to.be.greaterThan(carefulScore);

    expect(report.adl.map((d) => d.id)).to.deep.equal([boldLong.id]);
    expect(report.adl[0].haircut).to.equal(badDebt.args.uncovered);
    expect((await f.ex.admin.marketState(btc)).uncoveredBadDebt).to.equal(0n);
    expect((await f.ex.admin.position(carefulLong.id)).size).to.equal(carefulLong.size);
    expect(await counter(metrics.adl)).to.equal(1);
  });

  it("in dry-run finds and logs the liquidatable position but sends nothing", async () => {
    const f = await loadFixture(exchangeFixture);
    const { id } = await openByLeverage(f.ex, f.traders[0], f.alt.marketId, {
      side: "short",
      margin: wad(100),
      leverage: 10n,
    });
    await pushIndex(f.alt, wad("2.3"));
    const { keeper, logs } = keeperFor(f, { dryRun: true });
    const nonce = await ethers.provider.getTransactionCount(f.keeper.address);

    const report = await keeper.tick();
    expect(report.liquidations).to.deep.equal([]);
    const wouldLiquidate = logs.entries().find((e) => e.msg === "dry run: would liquidate");
    expect(wouldLiquidate?.ids).to.deep.equal([positionIdHex(id)]);
    expect((await f.ex.admin.position(id)).size).to.not.equal(0n);
    expect(await ethers.provider.getTransactionCount(f.keeper.address)).to.equal(nonce);
  });
});
