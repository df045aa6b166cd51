/**
 * SPEC section 5, "Skew, last price, price impact", on the deployed ALT-USD market:
 * index I = $2 exactly (both pushed feeds and the spot pool say 2), skew scale S = 5,000,000 ALT,
 * taker fee 0.05%, maker fee 0.02%, 20% of fees to the insurance fund.
 *   P_last = I * (1 + K/S)                       (rounded down)
 *   P_fill = I * (1 + (K + (K + d)) / 2S)        (a buy rounds up, a sell down)
 *   fee    = rate * |d| * P_fill                 (taker when |K + d| > |K|, else maker; rounded up)
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { wad, WAD } from "../../lib/units";
import { DecimalFloat } from "../../lib/math";
import type { Exchange } from "../../lib/contracts";
import { exchangeFixture, openSize, tradeEvent } from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";

const I = wad(2);
const S = wad(5_000_000);
const TAKER = wad("0.0005");
const MAKER = wad("0.0002");
const INSURANCE_SHARE = wad("0.2");

const divUp = (a: bigint, b: bigint): bigint => (a === 0n ? 0n : (a - 1n) / b + 1n);
const abs = (a: bigint): bigint => (a < 0n ? -a : a);
const floorDiv = (a: bigint, b: bigint): bigint => (a % b !== 0n && a < 0n ? a / b - 1n : a / b);

async function ledgers(ex: Exchange, account: string) {
  return {
    free: await ex.vault.freeBalance(account),
    pool: await ex.vault.poolAssets(),
    insurance: await ex.vault.insuranceFund(),
  };
}

describe("pricing: fill price, fees and last price at several skews", () => {
  it("fills each order at the mean premium before and after it, charging taker or maker fees by the skew", async () => {
    const { ex, traders, alt, accounts } = await loadFixture(exchangeFixture);
    const [a, b, c] = traders;
    const id = alt.marketId;
    expect((await ex.lens.market(id)).indexPrice).to.equal(I);

    /** Opens or increases, checks fill, fee, the three ledgers and the last price after it. */
    async function increase(
      trader: HardhatEthersSigner,
      d: bigint,
      margin: bigint,
      fill: bigint,
      fee: bigint,
      kAfter: bigint,
    ) {
      const before = await ledgers(ex, trader.address);
      const { trade } = await openSize(ex, trader, id, d, margin);
      expect(trade.fillPrice, "fill").to.equal(fill);
      expect(trade.fee, "fee").to.equal(fee);
      const after = await ledgers(ex, trader.address);
      const toInsurance = (fee * INSURANCE_SHARE) / WAD;
      expect(after.free - before.free).to.equal(-(margin + fee));
      expect(after.insurance - before.insurance).to.equal(toInsurance);
      expect(after.pool - before.pool).to.equal(fee - toInsurance);
      const m = await ex.lens.market(id);
      expect(m.skew).to.equal(kAfter);
      expect(m.lastPrice, "last").to.equal((I * (S + kAfter)) / S);
    }

    // 1. A sells 100,000 at K = 0 (|K+d| = 100,000 > 0: taker).
    //    fill = 2 * (1 + (0 - 100,000) / 10,000,000) = 1.98; fee = 100,000 * 1.98 * 0.0005 = 99
    await increase(a, wad(-100_000), wad(20_000), wad("1.98"), wad(99), wad(-100_000));

    // 2. B buys 40,000 at K = -100,000 (|K+d| = 60,000 < 100,000: maker).
    //    fill = 2 * (1 + (-100,000 - 60,000) / 10,000,000) = 1.968; fee = 40,000 * 1.968 * 0.0002 = 15.744
    await increase(b, wad(40_000), wad(8_000), wad("1.968"), wad("15.744"), wad(-60_000));

    // 3. C buys 150,000 at K = -60,000, crossing zero (|K+d| = 90,000 > 60,000: taker).
    //    fill = 2 * (1 + (-60,000 + 90,000) / 10,000,000) = 2.006; fee = 150,000 * 2.006 * 0.0005 = 150.45
    await increase(c, wad(150_000), wad(40_000), wad("2.006"), wad("150.45"), wad(90_000));

    // 4. A buys back 30,000 of the short at K = 90,000 (|K+d| = 120,000 > 90,000: taker, though it reduces A).
    //    fill = 2 * (1 + (90,000 + 120,000) / 10,000,000) = 2.042; fee = 30,000 * 2.042 * 0.0005 = 30.63
    //    realised = -30,000 * (2.042 - 1.98) = -1,860; A gets (margin + realised - fee) * 30,000 / 100,000.
    {
      const before = await ledgers(ex, a.address);
      const receipt = (await (await ex.engine.connect(a).decreasePosition(id, wad(30_000), wad(3))).wait())!;
      const trade = tradeEvent(ex, receipt);
      const fee = wad("30.63");
      const realized = wad(-1_860);
      expect(trade.fillPrice).to.equal(wad("2.042"));
      expect(trade.fee).to.equal(fee);
      expect(trade.realizedPnl).to.equal(realized);
      const after = await ledgers(ex, a.address);
      const toInsurance = (fee * INSURANCE_SHARE) / WAD;
      expect(after.free - before.free).to.equal(((wad(20_000) + realized - fee) * 30_000n) / 100_000n);
      expect(after.pool - before.pool).to.equal(-realized + fee - toInsurance);
      expect(after.insurance - before.insurance).to.equal(toInsurance);
      expect((await ex.lens.market(id)).lastPrice).to.equal((I * (S + wad(120_000))) / S);
    }

    // 5. A sells 240,000 at K = 120,000, to K = -120,000 (|K+d| = |K|: not growing, maker).
    //    fill = 2 * (1 + (120,000 - 120,000) / 10,000,000) = 2; fee = 240,000 * 2 * 0.0002 = 96
    //    A's entry averages down (a short rounds down): (70,000 * 1.98 + 240,000 * 2) / 310,000 = 1.9954838709...
    //    to the nine significant digits a position stores: 1.99548387.
    await increase(a, wad(-240_000), wad(60_000), wad(2), wad(96), wad(-120_000));
    const posA = await ex.admin.position(await ex.admin.positionId(a.address, id));
    expect(posA.entryPrice).to.equal(wad("1.99548387"));
    expect(posA.entryPrice).to.equal(
      DecimalFloat.entry((wad(70_000) * wad("1.98") + wad(240_000) * wad(2)) / wad(310_000), false),
    );

    // 6. B buys 1000/3 ALT (not a round number) at K = -120,000: maker, fill rounded up.
    const d6 = (wad(1_000) * WAD) / wad(3);
    const fill6 = divUp(I * (2n * S + 2n * wad(-120_000) + d6), 2n * S);
    expect(fill6 * 2n * S).to.be.gt(I * (2n * S + 2n * wad(-120_000) + d6)); // not exact: it did round
    const fee6 = divUp(divUp(d6 * fill6, WAD) * MAKER, WAD);
    await increase(b, d6, wad(100), fill6, fee6, wad(-120_000) + d6);

    // 7. C sells 7000/9 ALT at K = -120,000 + 1000/3: taker, fill rounded down.
    const k7 = wad(-120_000) + d6;
    const d7 = -(wad(7_000) * WAD) / wad(9);
    const fill7 = (I * (2n * S + 2n * k7 + d7)) / (2n * S);
    const fee7 = divUp(divUp(abs(d7) * fill7, WAD) * TAKER, WAD);
    const before7 = await ledgers(ex, c.address);
    const receipt7 = (await (await ex.engine.connect(c).decreasePosition(id, -d7, 0n)).wait())!;
    const trade7 = tradeEvent(ex, receipt7);
    expect(trade7.fillPrice).to.equal(fill7);
    expect(trade7.fee).to.equal(fee7);
    // C's long was 150,000 at 2.006 with 40,000 margin: realised = floor(7000/9 * (fill - 2.006)), and C
    // gets the closed share of (margin + realised - fee).
    const realized7 = floorDiv(-d7 * (fill7 - wad("2.006")), WAD);
    expect(trade7.realizedPnl).to.equal(realized7);
    expect((await ledgers(ex, c.address)).free - before7.free).to.equal(
      ((wad(40_000) + realized7 - fee7) * -d7) / wad(150_000),
    );
    expect((await ex.lens.market(id)).lastPrice).to.equal((I * (S + k7 + d7)) / S);

    const ids = await Promise.all([a, b, c].map((t) => ex.admin.positionId(t.address, id)));
    await expectConservation(ex, ids, accounts);
  });

  it("quotes the last price of a flat market at the index and moves it by K/S", async () => {
    const { ex, traders, btc, accounts } = await loadFixture(exchangeFixture);
    // BTC-USD: I = 30,000, S = 100,000 BTC.
    expect((await ex.lens.market(btc.marketId)).lastPrice).to.equal(wad(30_000));
    const { id } = await openSize(ex, traders[0], btc.marketId, wad(250), wad(500_000));
    // last = 30,000 * (1 + 250 / 100,000) = 30,075
    expect((await ex.lens.market(btc.marketId)).lastPrice).to.equal(wad(30_075));
    await expectConservation(ex, [id], accounts);
  });
});
