import { expect } from "chai";
import { DecimalError, formatWad, formatWadFixed, toWad, WAD } from "../../sim/decimal";

describe("decimal <-> WAD", () => {
  describe("toWad", () => {
    it("reads 0.1 exactly, where 0.1 * 1e18 in floats would not be", () => {
      expect(toWad(0.1)).to.equal(100_000_000_000_000_000n);
      expect(toWad("0.1")).to.equal(toWad(0.1));
    });

    it("reads fractions, integers and negatives", () => {
      expect(toWad(0.005)).to.equal(5n * 10n ** 15n);
      expect(toWad(150_000)).to.equal(150_000n * WAD);
      expect(toWad("-2.5")).to.equal(-25n * 10n ** 17n);
    });

    it("reads exponent notation, as String() writes very large and very small numbers", () => {
      expect(toWad(1e21)).to.equal(10n ** 39n);
      expect(toWad(5e-7)).to.equal(5n * 10n ** 11n);
      expect(toWad("1.5E3")).to.equal(1_500n * WAD);
    });

    it("keeps all 18 decimals of a string", () => {
      expect(toWad("0.000000000000000001")).to.equal(1n);
      expect(toWad("123456789012345678901234.123456789012345678")).to.equal(
        123456789012345678901234123456789012345678n,
      );
    });

    it("refuses a 19th decimal instead of rounding it away", () => {
      expect(() => toWad("0.0000000000000000001")).to.throw(DecimalError, /more than 18 decimal places/);
    });

    it("refuses numbers that JSON.parse may already have rounded", () => {
      expect(() => toWad(0.1 + 0.2)).to.throw(DecimalError, /significant digits; write it as a string/);
    });

    it("refuses text that is not a plain decimal", () => {
      for (const text of ["1%", "", "0x10", "1,000", ".5", "Infinity"])
        expect(() => toWad(text), text).to.throw(DecimalError);
      expect(() => toWad(Number.NaN)).to.throw(DecimalError, /not a finite number/);
      expect(() => toWad("1e999")).to.throw(DecimalError, /exponent out of range/);
    });
  });

  describe("formatWad", () => {
    it("writes the exact decimal with trailing zeros trimmed", () => {
      expect(formatWad(150_000n * WAD)).to.equal("150000");
      expect(formatWad(WAD + WAD / 2n)).to.equal("1.5");
      expect(formatWad(-1n)).to.equal("-0.000000000000000001");
      expect(formatWad(0n)).to.equal("0");
    });

    it("round-trips through toWad", () => {
      for (const text of ["0.3812", "-42.000000000000000001", "1000000000"])
        expect(formatWad(toWad(text))).to.equal(text);
    });
  });

  describe("formatWadFixed", () => {
    it("rounds half away from zero to the places asked", () => {
      expect(formatWadFixed(toWad("1.005"), 2)).to.equal("1.01");
      expect(formatWadFixed(toWad("-1.005"), 2)).to.equal("-1.01");
      expect(formatWadFixed(toWad("1.004"), 2)).to.equal("1.00");
      expect(formatWadFixed(toWad("149999.5"), 0)).to.equal("150000");
    });

    it("drops the sign of a value that rounds to zero", () => {
      expect(formatWadFixed(toWad("-0.004"), 2)).to.equal("0.00");
    });
  });
});
