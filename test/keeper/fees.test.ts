import { expect } from "chai";
import { FeeData } from "ethers";
import { bumpFees, feesFrom, feesOf } from "../../keeper/chain/fees";
import type { Fees } from "../../keeper/chain/fees";

const GWEI = 10n ** 9n;

describe("gas fees", () => {
  it("uses EIP-1559 fees when quoted, a legacy gas price otherwise", () => {
    expect(feesFrom(new FeeData(2n * GWEI, 30n * GWEI, GWEI))).to.deep.equal({
      maxFeePerGas: 30n * GWEI,
      maxPriorityFeePerGas: GWEI,
    });
    expect(feesFrom(new FeeData(2n * GWEI, null, null))).to.deep.equal({ gasPrice: 2n * GWEI });
    expect(() => feesFrom(new FeeData(null, null, null))).to.throw("neither EIP-1559 fees nor a gas price");
  });

  it("keeps only the fee fields of a transaction", () => {
    const tx = { to: "0x", data: "0x1234", gasLimit: 1n, maxFeePerGas: 3n, maxPriorityFeePerGas: 2n };
    expect(feesOf(tx)).to.deep.equal({ maxFeePerGas: 3n, maxPriorityFeePerGas: 2n });
  });

  it("raises both EIP-1559 fees by 12.5%, rounding up", () => {
    const bumped = bumpFees(
      { maxFeePerGas: 80n * GWEI, maxPriorityFeePerGas: 2n * GWEI },
      { maxFeePerGas: 1n, maxPriorityFeePerGas: 1n },
    );
    // 80 gwei * 9/8 = 90 gwei; 2 gwei * 9/8 = 2.25 gwei
    expect(bumped).to.deep.equal({ maxFeePerGas: 90n * GWEI, maxPriorityFeePerGas: 2_250_000_000n });
    const odd = bumpFees(
      { maxFeePerGas: 9n, maxPriorityFeePerGas: 1n },
      { maxFeePerGas: 0n, maxPriorityFeePerGas: 0n },
    );
    // 9 + ceil(9/8) = 11; 1 + max(ceil(1/8), 1) = 2
    expect(odd).to.deep.equal({ maxFeePerGas: 11n, maxPriorityFeePerGas: 2n });
  });

  it("raises a legacy gas price by 12.5%, and a zero fee by at least 1 wei", () => {
    expect(bumpFees({ gasPrice: 8n * GWEI }, { gasPrice: GWEI })).to.deep.equal({ gasPrice: 9n * GWEI });
    expect(bumpFees({ gasPrice: 0n }, { gasPrice: 0n })).to.deep.equal({ gasPrice: 1n });
  });

  it("follows the network when it now asks more than the bump", () => {
    const current: Fees = { maxFeePerGas: 200n * GWEI, maxPriorityFeePerGas: 5n * GWEI };
    expect(bumpFees({ maxFeePerGas: 80n * GWEI, maxPriorityFeePerGas: 2n * GWEI }, current)).to.deep.equal(current);
    expect(bumpFees({ gasPrice: GWEI }, { gasPrice: 3n * GWEI })).to.deep.equal({ gasPrice: 3n * GWEI });
  });

  it("keeps maxFeePerGas at least the priority fee", () => {
    const bumped = bumpFees(
      { maxFeePerGas: 10n, maxPriorityFeePerGas: 10n },
      { maxFeePerGas: 10n, maxPriorityFeePerGas: 40n },
    );
    expect(bumped).to.deep.equal({ maxFeePerGas: 40n, maxPriorityFeePerGas: 40n });
  });

  it("always outbids the previous fees by at least 12.5% (property)", () => {
    for (let fee = 0n; fee < 2_000n; fee += 7n) {
      for (const previous of [{ gasPrice: fee }, { maxFeePerGas: fee * 3n, maxPriorityFeePerGas: fee }] as Fees[]) {
        const next = bumpFees(previous, { gasPrice: 0n });
        const pairs: [bigint, bigint][] =
          "gasPrice" in previous && "gasPrice" in next
            ? [[previous.gasPrice, next.gasPrice]]
            : "maxFeePerGas" in previous && "maxFeePerGas" in next
              ? [
                  [previous.maxFeePerGas, next.maxFeePerGas],
                  [previous.maxPriorityFeePerGas, next.maxPriorityFeePerGas],
                ]
              : [];
        expect(pairs).to.have.length.greaterThan(0);
        for (const [before, after] of pairs) {
          expect(after * 8n >= before * 9n && after > before, `${before} -> ${after}`).to.equal(true);
        }
      }
    }
  });
});
