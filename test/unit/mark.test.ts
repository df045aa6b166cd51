/**
 * SPEC section 5, mark price: mark = median(P1, P2, P_last) with
 *   P1 = index * (1 + F_last * timeToNextFunding / interval)
 *   P2 = index + EMA(basis), basis = P_last - index, EMA half-life 300 s
 * and the optional band index * (1 +/- band).
 *
 * The market tests use a controlled market (index = one 18-decimal feed at exactly 100, S = 10,000) and
 * move time by whole half-lives, where the EMA's decay 2^(-dt/h) is exact: after n half-lives with the
 * basis held at b, ema' = b + (ema - b) / 2^n (the division truncating toward zero, as in Solidity).
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { MathHarness__factory } from "../../typechain-types";
import type { MarkInputsStruct } from "../../typechain-types/contracts/test/MathHarness";
import { MARK_METHOD } from "../../lib/math";
import { wad, WAD } from "../../lib/units";
import {
  anyPrice,
  createControlledMarket,
  EMA_HALF_LIFE,
  exchangeFixture,
  FUNDING_INTERVAL,
  openSize,
} from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";

const I = wad(100);
const HOUR = 3_600n;

/** The EMA after `halvings` whole half-lives toward the basis `b` held over them. */
const emaAfterHalvings = (ema: bigint, b: bigint, halvings: bigint): bigint => b + (ema - b) / 2n ** halvings;

async function markFixture() {
  const f = await exchangeFixture();
  const common = { initialPrice: "100", skewScale: "10000", maxOpenInterest: "5000" };
  const median = await createControlledMarket(f.ex, f.deployer, { ...common, symbol: "MARK-USD", markModel: "median" });
  const banded = await createControlledMarket(f.ex, f.deployer, {
    ...common,
    symbol: "BAND-USD",
    markModel: "median",
    markBand: "0.01",
  });
  return { ...f, median, banded };
}

describe("mark price: median of P1, P2 and last", () => {
  it("follows P2 while the EMA lags a short skew, then last once the skew shrinks between them", async () => {
    const { ex, traders, median, accounts } = await loadFixture(markFixture);
    const id = median.marketId;
    // t0: short 400 at K = 0. The EMA was sampled with K = 0 before the trade: it is still 0.
    const opened = await openSize(ex, traders[0], id, wad(-400), wad(4_000));
    const t0 = BigInt((await opened.receipt.getBlock()).timestamp);

    // One half-life later: last = 100 * (1 - 400/10,000) = 96, basis b = -4,
    // ema = -4 + (0 - -4) / 2 = -2, P2 = 98; F_last = 0, so P1 = 100. median(100, 98, 96) = 98 = P2.
    await time.increaseTo(t0 + EMA_HALF_LIFE);
    let m = await ex.lens.market(id);
    const b1 = wad(96) - I;
    const ema1 = emaAfterHalvings(0n, b1, 1n);
    expect(ema1).to.equal(wad(-2));
    expect(m.lastPrice).to.equal(wad(96));
    expect(m.lastFundingRate).to.equal(0n);
    expect(m.markPrice, "P2 wins").to.equal(I + ema1);

    // Two half-lives after t0 the short buys back 300: first the EMA advances with the old basis,
    // ema = -4 + (0 - -4) / 4 = -3 (P2 = 97); then K = -100 and last = 100 * (1 - 100/10,000) = 99.
    // median(P1 = 100, P2 = 97, last = 99) = 99 = last.
    await time.setNextBlockTimestamp(t0 + 2n * EMA_HALF_LIFE);
    await (await ex.engine.connect(traders[0]).decreasePosition(id, wad(300), anyPrice(wad(300)))).wait();
    m = await ex.lens.market(id);
    const ema2 = emaAfterHalvings(0n, b1, 2n);
    expect(ema2).to.equal(wad(-3));
    expect((await ex.admin.marketState(id)).emaBasis).to.equal(ema2);
    expect(m.lastPrice).to.equal(wad(99));
    expect(m.markPrice, "last wins").to.equal(wad(99));
    await expectConservation(ex, [opened.id], accounts);
  });

  it("follows P1 after a funding boundary when a fresh long skew lifts last above it", async () => {
    const { ex, traders, median, accounts } = await loadFixture(markFixture);
    const id = median.marketId;
    // A flat interval: average premium 0, so F = clamp(0 + clamp(0.0001 - 0, +-0.0005), +-0.0075) = 0.0001.
    const boundary = (await ex.lens.market(id)).nextFundingTime;
    await time.increaseTo(boundary + 10n);
    await (await ex.engine.settleFunding(id)).wait();
    let m = await ex.lens.market(id);
    expect(m.lastFundingRate).to.equal(wad("0.0001"));
    // The index grew by F * mark = 0.0001 * 100 = 0.01 per unit.
    expect(m.fundingIndex).to.equal(wad("0.01"));
    expect(m.nextFundingTime).to.equal(boundary + FUNDING_INTERVAL);

    // Buy 50: last = 100 * (1 + 50/10,000) = 100.5; the EMA was sampled at K = 0, so P2 = 100;
    // P1 = 100 + 100 * 0.0001 * (time to next funding) / 8 h, between them.
    const opened = await openSize(ex, traders[0], id, wad(50), wad(1_000));
    const now = BigInt((await opened.receipt.getBlock()).timestamp);
    const p1 = I + (I * wad("0.0001") * (boundary + FUNDING_INTERVAL - now)) / (FUNDING_INTERVAL * WAD);
    m = await ex.lens.market(id);
    expect(m.lastPrice).to.equal(wad("100.5"));
    expect(p1).to.be.gt(I).and.lt(wad("100.5"));
    expect(m.markPrice, "P1 wins").to.equal(p1);
    await expectConservation(ex, [opened.id], accounts);
  });

  it("clamps the mark to the band around the index", async () => {
    const { ex, traders, banded, accounts } = await loadFixture(markFixture);
    // As in the first test: one half-life after a 400 short the median is P2 = 98, below 100 * (1 - 1%).
    const opened = await openSize(ex, traders[0], banded.marketId, wad(-400), wad(4_000));
    await time.increaseTo(BigInt((await opened.receipt.getBlock()).timestamp) + EMA_HALF_LIFE);
    expect((await ex.lens.market(banded.marketId)).markPrice).to.equal(wad(99));
    await expectConservation(ex, [opened.id], accounts);
  });
});

describe("mark price models on their inputs", () => {
  const base = { index: I, fundingInterval: 8n * HOUR };

  it("the median method takes whichever of P1, P2 and last lies in the middle", async () => {
    const [deployer] = await ethers.getSigners();
    const harness = await new MathHarness__factory(deployer).deploy();
    const mark = (m: Omit<MarkInputsStruct, "index" | "fundingInterval">) =>
      harness.markPriceOf(MARK_METHOD.median, { ...base, ...m });

    // P1 = 100 * (1 - 0.003 * 4 h / 8 h) = 99.85; P2 = 100 - 0.5 = 99.5; last = 100.2 -> P1
    expect(
      await mark({
        lastPrice: wad("100.2"),
        emaBasis: wad("-0.5"),
        lastFundingRate: wad("-0.003"),
        timeToNextFunding: 4n * HOUR,
      }),
    ).to.equal(wad("99.85"));
    // P1 = 100 * (1 + 0.001 * 8 h / 8 h) = 100.1; P2 = 100 - 0.3 = 99.7; last = 99 -> P2
    expect(
      await mark({
        lastPrice: wad(99),
        emaBasis: wad("-0.3"),
        lastFundingRate: wad("0.001"),
        timeToNextFunding: 8n * HOUR,
      }),
    ).to.equal(wad("99.7"));
    // P1 = 100 * (1 + 0.002 * 2 h / 8 h) = 100.05; P2 = 100 - 1 = 99; last = 99.8 -> last
    expect(
      await mark({
        lastPrice: wad("99.8"),
        emaBasis: wad(-1),
        lastFundingRate: wad("0.002"),
        timeToNextFunding: 2n * HOUR,
      }),
    ).to.equal(wad("99.8"));
    // A basis below -index makes P2 non-positive: it counts as 1 wei, so median(100, 1 wei, 50) = 50.
    expect(
      await mark({ lastPrice: wad(50), emaBasis: wad(-200), lastFundingRate: 0n, timeToNextFunding: 0n }),
    ).to.equal(wad(50));
  });

  it("the index method returns the index whatever the skew, basis or funding", async () => {
    const [deployer] = await ethers.getSigners();
    const harness = await new MathHarness__factory(deployer).deploy();
    expect(
      await harness.markPriceOf(MARK_METHOD.index, {
        ...base,
        lastPrice: wad(150),
        emaBasis: wad(30),
        lastFundingRate: wad("0.0075"),
        timeToNextFunding: HOUR,
      }),
    ).to.equal(I);
  });
});
