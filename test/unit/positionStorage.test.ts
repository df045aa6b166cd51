/**
 * A position in one storage slot (PerpEngineStorage._positions): its size and margin exact, its entry
 * price and funding snapshot to nine significant digits (DecimalFloat), each rounded against the trader.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import fc from "fast-check";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { AbiCoder, keccak256, toBeHex } from "ethers";
import { MathHarness__factory } from "../../typechain-types";
import { DecimalFloat } from "../../lib/math";
import { wad } from "../../lib/units";
import { exchangeFixture, FUNDING_INTERVAL, openSize, pushIndex } from "../helpers/fixtures";

/** The engine's `_positions` mapping: slot 6 (after marketCount, the symbol map, configs, states, tiers). */
const POSITIONS_SLOT = 6n;

function positionSlot(id: bigint): bigint {
  return BigInt(keccak256(AbiCoder.defaultAbiCoder().encode(["uint256", "uint256"], [id, POSITIONS_SLOT])));
}

async function storageWord(address: string, slot: bigint): Promise<bigint> {
  return BigInt(await ethers.provider.getStorage(address, toBeHex(slot, 32)));
}

describe("a position's storage: one slot, prices to nine digits", () => {
  it("stores size, margin, entry and snapshot in one word that decodes to the position the getter returns", async () => {
    const { ex, traders, alt } = await loadFixture(exchangeFixture);
    // An odd size, so the fill has more than nine significant digits and the entry rounds.
    const { id } = await openSize(ex, traders[0], alt.marketId, -wad("12345.678901234567891"), wad(5_000));
    const engine = await ex.engine.getAddress();
    const word = await storageWord(engine, positionSlot(id));
    expect(await storageWord(engine, positionSlot(id) + 1n), "the slot after it").to.equal(0n);

    const p = await ex.admin.position(id);
    const decode = (code: bigint, mantissaBits: bigint) =>
      (code & ((1n << mantissaBits) - 1n)) * 10n ** ((code >> mantissaBits) & 31n);
    expect(BigInt.asIntN(96, word), "size: int96").to.equal(p.size);
    expect((word >> 96n) & ((1n << 88n) - 1n), "margin: uint88").to.equal(p.margin);
    expect(decode((word >> 184n) & ((1n << 36n) - 1n), 31n), "entry: 36 bits").to.equal(p.entryPrice);
    const snapshot = word >> 220n;
    const magnitude = decode(snapshot & ((1n << 35n) - 1n), 30n);
    expect(snapshot >> 35n === 1n ? -magnitude : magnitude, "snapshot: 36 bits, signed").to.equal(p.fundingSnapshot);

    // Closed: the word is deleted whole.
    await (await ex.engine.connect(traders[0]).closePosition(alt.marketId, ethers.MaxUint256)).wait();
    expect(await storageWord(engine, positionSlot(id))).to.equal(0n);
  });

  it("rounds the entry against the trader, by less than one part in 10^8 of the fill", async () => {
    const { ex, traders, alt } = await loadFixture(exchangeFixture);
    for (const [trader, size] of [
      [traders[0], wad("7777.777777777777777")],
      [traders[1], -wad("3141.592653589793238")],
    ] as const) {
      const { id, trade } = await openSize(ex, trader, alt.marketId, size, wad(5_000));
      const { entryPrice } = await ex.admin.position(id);
      const fill = trade.fillPrice;
      expect(entryPrice, "the fill on the nine-digit grid").to.equal(DecimalFloat.entry(fill, size > 0n));
      expect(entryPrice, "the fill has more digits than the grid").to.not.equal(fill);
      if (size > 0n) expect(entryPrice).to.be.gt(fill);
      else expect(entryPrice).to.be.lt(fill);
      const off = entryPrice > fill ? entryPrice - fill : fill - entryPrice;
      expect(off * 10n ** 8n).to.be.lt(fill);
    }
  });

  it("rounds the funding snapshot against the trader: down for a long, up for a short", async () => {
    const { ex, traders, alt } = await loadFixture(exchangeFixture);
    // A crowded long side, then a funding boundary, so the index is away from zero with many digits.
    await openSize(ex, traders[2], alt.marketId, wad(300_000), wad(150_000));
    await time.increase(FUNDING_INTERVAL);
    await pushIndex(alt, wad("1.987654321987")); // an index with many digits: so is the funding per unit
    await (await ex.engine.settleFunding(alt.marketId)).wait();
    const { fundingIndex } = await ex.admin.marketState(alt.marketId);
    expect(DecimalFloat.roundSigned(fundingIndex, true), "an index off the grid").to.not.equal(fundingIndex);

    const long = await openSize(ex, traders[0], alt.marketId, wad(1_000), wad(500));
    const short = await openSize(ex, traders[1], alt.marketId, -wad(1_000), wad(500));
    const longSnapshot = (await ex.admin.position(long.id)).fundingSnapshot;
    const shortSnapshot = (await ex.admin.position(short.id)).fundingSnapshot;
    expect(longSnapshot).to.equal(DecimalFloat.snapshot(fundingIndex, true));
    expect(shortSnapshot).to.equal(DecimalFloat.snapshot(fundingIndex, false));
    expect(longSnapshot).to.be.lt(fundingIndex); // a long owes size x (index - snapshot): more
    expect(shortSnapshot).to.be.gt(fundingIndex); // a short is owed |size| x (index - snapshot): less
  });

  it("DecimalFloat: the contracts and lib/math round alike, on the named side, by less than one step", async () => {
    const [signer] = await ethers.getSigners();
    const harness = await new MathHarness__factory(signer).deploy();
    const anyValue = fc.oneof(
      fc.bigInt(0n, (1n << 128n) - 1n),
      fc.bigInt(0n, 10n ** 12n).chain((m) => fc.constant(m * 10n ** 15n)), // many trailing zeros
    );
    await fc.assert(
      fc.asyncProperty(anyValue, fc.boolean(), async (v, up) => {
        const [rounded, stored] = await harness.entryRound(v, up);
        expect(rounded).to.equal(DecimalFloat.round(v, DecimalFloat.ENTRY_MANTISSA, up));
        expect(stored, "the code decodes to the rounded value").to.equal(rounded);
        expect(up ? rounded >= v : rounded <= v, "on the named side").to.equal(true);
        const off = up ? rounded - v : v - rounded;
        expect(off * 2n ** 27n <= v, "within 2^-27 of the value (below 10^-8)").to.equal(true);
        expect(DecimalFloat.round(rounded, DecimalFloat.ENTRY_MANTISSA, !up), "a grid value stays").to.equal(rounded);
      }),
      { numRuns: 150 },
    );
    await fc.assert(
      fc.asyncProperty(fc.bigInt(-(1n << 111n), (1n << 111n) - 1n), fc.boolean(), async (v, up) => {
        const [rounded, stored] = await harness.snapshotRound(v, up);
        expect(rounded).to.equal(DecimalFloat.roundSigned(v, up));
        expect(stored, "the code decodes to the rounded value").to.equal(rounded);
        expect(up ? rounded >= v : rounded <= v, "on the named side").to.equal(true);
        const off = up ? rounded - v : v - rounded;
        const magnitude = v < 0n ? -v : v;
        expect(off * 2n ** 26n <= magnitude, "within 2^-26 of the value").to.equal(true);
      }),
      { numRuns: 150 },
    );
  });
});
