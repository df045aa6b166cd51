/**
 * The seed document's example, to the unit, and its liquidation-price claim; the gas of a 10x round trip.
 */
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { usd6, wad } from "../../lib/units";
import { closeAll, exchangeFixture, openByLeverage, openSize, pushIndex } from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";

describe("seed example: short 1 BTC at 30,000, close at 20,000", () => {
  it("pays 10,000 less price impact and fees, to the unit, and lets the trader withdraw it", async () => {
    const { ex, traders, btc, accounts } = await loadFixture(exchangeFixture);
    const trader = traders[0];
    const freeBefore = await ex.vault.freeBalance(trader.address);

    // BTC-USD: S = 100,000 BTC, taker 0.05%, maker 0.02%. Open: K = 0, d = -1 (taker):
    //   fill = 30,000 * (1 + (0 + -1) / 200,000) = 29,999.85      (impact 0.15)
    //   fee  = 1 * 29,999.85 * 0.0005            = 14.999925
    const { id, trade: open } = await openSize(ex, trader, btc.marketId, -wad(1), wad(3_000));
    expect(open.fillPrice).to.equal(wad("29999.85"));
    expect(open.fee).to.equal(wad("14.999925"));

    // The price falls to 20,000. Close: K = -1, d = +1 (|K + d| = 0 < 1: maker):
    //   fill = 20,000 * (1 + (-1 + 0) / 200,000) = 19,999.9        (buying back into the short skew fills
    //                                                              0.1 below the index: impact in the trader's favour)
    //   fee  = 1 * 19,999.9 * 0.0002             = 3.99998
    //   realised = -1 * (19,999.9 - 29,999.85)   = 9,999.95
    await pushIndex(btc, wad(20_000));
    expect((await ex.lens.market(btc.marketId)).indexPrice).to.equal(wad(20_000));
    const { trade: close } = await closeAll(ex, trader, btc.marketId);
    expect(close.fillPrice).to.equal(wad("19999.9"));
    expect(close.fee).to.equal(wad("3.99998"));
    expect(close.realizedPnl).to.equal(wad("9999.95"));
    expect(close.fundingPaid).to.equal(0n);

    // profit = 10,000 - 0.15 + 0.1 - 14.999925 - 3.99998 = 9,980.950095
    const profit = wad("9980.950095");
    expect(wad(10_000) - wad("0.15") + wad("0.1") - wad("14.999925") - wad("3.99998")).to.equal(profit);
    const freeAfter = await ex.vault.freeBalance(trader.address);
    expect(freeAfter - freeBefore).to.equal(profit);
    expect((await ex.admin.position(id)).size).to.equal(0n);

    const tokensBefore = await ex.collateral.balanceOf(trader.address);
    await (await ex.vault.connect(trader).withdraw(freeAfter / 10n ** 12n, trader.address)).wait();
    expect((await ex.collateral.balanceOf(trader.address)) - tokensBefore).to.equal(usd6("1009980.950095"));
    expect(await ex.vault.freeBalance(trader.address)).to.equal(0n);
    await expectConservation(ex, [id], accounts);
  });
});

describe("seed claim: a 10x short is liquidated about 9.5% above entry", () => {
  for (const symbol of ["ALT-USD", "BTC-USD"]) {
    it(`shows a 10x ${symbol} short's liquidation price between +9% and +10% of entry`, async () => {
      const { ex, traders, accounts } = await loadFixture(exchangeFixture);
      const market = ex.markets.get(symbol)!;
      const { id } = await openByLeverage(ex, traders[0], market.marketId, {
        side: "short",
        margin: wad(1_000),
        leverage: 10n,
      });
      const view = await ex.lens.position(id);
      expect(view.liquidationPrice).to.be.gt((view.entryPrice * 109n) / 100n);
      expect(view.liquidationPrice).to.be.lt((view.entryPrice * 110n) / 100n);
      expect(view.liquidatable).to.equal(false);
      await expectConservation(ex, [id], accounts);
    });
  }
});

describe("gas of a 10x ALT short round trip", () => {
  it("opens and closes a 10x ALT short twice, leaving nothing behind", async () => {
    const { ex, traders, alt, accounts } = await loadFixture(exchangeFixture);
    const trader = traders[0];
    const order = { side: "short" as const, margin: wad(100), leverage: 10n };
    const gas: bigint[] = [];
    let id = 0n;
    for (let round = 0; round < 2; round++) {
      const opened = await openByLeverage(ex, trader, alt.marketId, order);
      id = opened.id;
      gas.push(opened.receipt.gasUsed);
      const closed = await closeAll(ex, trader, alt.marketId);
      gas.push(closed.receipt.gasUsed);
      expect((await ex.admin.position(id)).size).to.equal(0n);
      expect((await ex.lens.market(alt.marketId)).skew).to.equal(0n);
    }
    console.log(`      gas: first open ${gas[0]}, close ${gas[1]}; second open ${gas[2]}, close ${gas[3]}`);
    // A second trader opening while the first is open: the market's open interest slots are warm.
    const first = await openByLeverage(ex, trader, alt.marketId, order);
    const second = await openByLeverage(ex, traders[1], alt.marketId, order);
    console.log(`      gas: open beside another short ${second.receipt.gasUsed}`);
    expect(second.trade.fillPrice).to.be.lt(first.trade.fillPrice); // the skew grew: a worse fill
    await expectConservation(ex, [id, first.id, second.id], accounts);
  });
});
