/**
 * The tasks' translations of a coin-margined order into the engine's terms (tasks/inverse.ts,
 * tasks/orders.ts), without a chain: sizing, the 1x margin, and which way a USD trigger becomes 1/P.
 */
import { expect } from "chai";
import { contractsFor, engineTriggerPrices, marginFor } from "../../tasks/inverse";
import { inverseLimitOpen } from "../../tasks/orders";
import { reciprocal } from "../../lib/coin-margined";
import { wad, WAD } from "../../lib/units";

const FACE = wad(100);
const P30K = wad(30_000);

describe("coin-margined order terms (tasks)", () => {
  it("sizes contracts from a coin margin and leverage, rounded down", () => {
    // 0.1 BTC * 10 * 30,000 USD / 100 USD = 300
    expect(contractsFor(wad("0.1"), wad(10), P30K, FACE)).to.equal(300n);
    expect(contractsFor(wad("0.1"), wad(10), P30K - 1n, FACE)).to.equal(299n);
    expect(contractsFor(wad("0.000001"), wad(1), P30K, FACE)).to.equal(0n);
  });

  it("gives a 1x margin of the whole coin notional at the fill, rounded up, and a 10x one a tenth", () => {
    const size = 300n * FACE; // the engine's long of a trader's 300-contract short
    const fill = reciprocal(P30K);
    const oneX = marginFor(size, fill, WAD);
    expect(oneX).to.be.gte((size * fill) / WAD);
    expect(oneX - (size * fill) / WAD).to.be.lte(1n);
    expect(marginFor(-size, fill, wad(10))).to.equal((oneX + 9n) / 10n);
  });

  it("turns a short's USD stop-loss into the engine long's 1/P stop, rounded to fire no later", () => {
    // A short's stop-loss: P rises to 32,000 USD; the engine long waits for 1/P to fall to 1/32,000.
    const usd = wad(32_000);
    const { trigger } = engineTriggerPrices(usd, usd, false, true);
    expect(trigger).to.equal((WAD * WAD + usd - 1n) / usd); // rounded up: an engine mark <= it fires
    // The engine mark at exactly 32,000 USD (1/P rounded down) meets it; at 31,999 it does not.
    expect(reciprocal(usd) <= trigger).to.equal(true);
    expect(reciprocal(wad(31_999)) <= trigger).to.equal(false);
  });

  it("turns a short's USD take-profit into the engine long's 1/P take-profit, rounded down", () => {
    const usd = wad(28_000);
    const { trigger, acceptable } = engineTriggerPrices(usd, wad(28_280), true, true);
    expect(trigger).to.equal((WAD * WAD) / usd);
    expect(reciprocal(usd) >= trigger).to.equal(true);
    expect(reciprocal(wad(28_001)) >= trigger).to.equal(false);
    // The closing buy accepts at most 28,280 USD: the engine sells at no less than 1/28,280, rounded up.
    expect(acceptable).to.equal((WAD * WAD + wad(28_280) - 1n) / wad(28_280));
  });

  it("prices a limit long at or below X USD as the engine's sell at or above 1/X", () => {
    const t = inverseLimitOpen(
      { mode: "contracts+leverage", contracts: 100n, leverage: wad(5) },
      wad(29_000),
      true,
      FACE,
    );
    expect(t.sizeDelta).to.equal(-100n * FACE);
    expect(t.trigger).to.equal((WAD * WAD + wad(29_000) - 1n) / wad(29_000));
    // 10,000 USD of face at 29,000 USD, 5x: 0.0689655 BTC; at the rounded-up limit 1/X, held to 14 digits.
    expect(t.margin).to.equal((10_000n * t.trigger + 4n) / 5n);
    expect(t.margin).to.be.closeTo(wad("0.068965517241379311"), 10n ** 6n);
    const byMargin = inverseLimitOpen(
      { mode: "margin+leverage", margin: wad("0.1"), leverage: wad(10) },
      wad(29_000),
      false,
      FACE,
    );
    expect(byMargin.contracts).to.equal(290n);
    expect(byMargin.sizeDelta).to.equal(290n * FACE);
  });
});
