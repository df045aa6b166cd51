/**
 * Refusals at the door: what could never become a healthy position is refused when it is asked for,
 * with a custom error carrying the numbers, and nothing moves.
 *  - A limit open is judged by itself at its limit price, as the engine judges its fill: its notional
 *    must fit the last tier and the market's minimum, and its leverage the tier that holds the notional.
 *    (Before: a 1000x limit order escrowed its margin and fee and could never fill.)
 *  - A market order may not open or grow a position below the market's minimum notional at fill
 *    (ALT-USD: 10 USD), so a dust position cannot be opened.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { DEFAULT_MIN_EXECUTION_FEE_USD } from "../../lib/deploy";
import { ALT_USD } from "../../lib/markets";
import { Pricing } from "../../lib/math";
import { wad, WAD } from "../../lib/units";
import { exchangeFixture } from "../helpers/fixtures";
import { snapshotState, expectUnchanged } from "../helpers/conservation";

const FEE = wad(DEFAULT_MIN_EXECUTION_FEE_USD);
const MIN_NOTIONAL = wad(ALT_USD.minPositionNotional);
const divUp = (a: bigint, b: bigint): bigint => (a === 0n ? 0n : (a - 1n) / b + 1n);

describe("refusals at the door", () => {
  it("refuses a 1000x limit open when it is placed (LeverageTooHigh), escrowing nothing", async () => {
    const { ex, traders, alt, accounts } = await loadFixture(exchangeFixture);
    const limit = wad("1.9");
    const margin = wad("47.5"); // notional 25,000 ALT x 1.9 = 47,500 USD: 1000x
    const size = wad(25_000);
    const notional = divUp(size * limit, WAD);
    const leverage = divUp(notional * WAD, margin);
    expect(leverage).to.equal(wad(1000));
    const maxLeverage = wad(ALT_USD.tiers[0].maxLeverage); // 47,500 USD sits in the first tier (<= 50,000)
    const before = await snapshotState(ex, accounts, []);
    await expect(ex.orderBook.connect(traders[0]).createLimitOpen(alt.marketId, size, margin, limit, FEE, 0n, false))
      .to.be.revertedWithCustomError(ex.orderBook, "LeverageTooHigh")
      .withArgs(leverage, maxLeverage);
    expectUnchanged(before, await snapshotState(ex, accounts, []));
    expect(await ex.orderBook.orderCount()).to.equal(0n);
  });

  it("refuses a limit open above the last tier (PositionTooLarge) and one below the minimum notional (PositionTooSmall)", async () => {
    const { ex, traders, alt } = await loadFixture(exchangeFixture);
    const limit = wad("1.9");
    const lastCap = wad(ALT_USD.tiers[ALT_USD.tiers.length - 1].notionalCap);
    const huge = wad(3_000_000); // 5,700,000 USD at the limit
    await expect(
      ex.orderBook.connect(traders[0]).createLimitOpen(alt.marketId, huge, wad(500_000), limit, FEE, 0n, false),
    )
      .to.be.revertedWithCustomError(ex.orderBook, "PositionTooLarge")
      .withArgs(divUp(huge * limit, WAD), lastCap);
    const dust = wad(5); // 9.5 USD at the limit
    await expect(ex.orderBook.connect(traders[0]).createLimitOpen(alt.marketId, dust, wad(10), limit, FEE, 0n, false))
      .to.be.revertedWithCustomError(ex.orderBook, "PositionTooSmall")
      .withArgs((dust * limit) / WAD, MIN_NOTIONAL);
  });

  it("still takes a limit open its margin carries at its limit price", async () => {
    const { ex, traders, alt } = await loadFixture(exchangeFixture);
    const limit = wad("1.9");
    await (
      await ex.orderBook
        .connect(traders[0])
        .createLimitOpen(alt.marketId, wad(25_000), wad(1_000), limit, FEE, 0n, false)
    ).wait(); // 47.5x, within the first tier's 50x
    expect(await ex.orderBook.orderCount()).to.equal(1n);
  });

  it("refuses a market order that would open a position below the minimum notional (PositionTooSmall)", async () => {
    const { ex, traders, alt, accounts } = await loadFixture(exchangeFixture);
    const m = await ex.lens.market(alt.marketId);
    const size = wad(1); // about 2 USD of ALT, with the 10 USD minimum margin
    const fill = Pricing.fillPrice(m.indexPrice, m.skew, size, wad(ALT_USD.skewScale));
    const before = await snapshotState(ex, accounts, []);
    await expect(ex.engine.connect(traders[0]).increasePosition(alt.marketId, size, wad(10), ethers.MaxUint256))
      .to.be.revertedWithCustomError(ex.engine, "PositionTooSmall")
      .withArgs((size * fill) / WAD, MIN_NOTIONAL);
    expectUnchanged(before, await snapshotState(ex, accounts, []));
  });
});
