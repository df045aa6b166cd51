/**
 * The liquidation job's hand-written liquidateMany calldata, held equal to ethers' ABI coder so that
 * the fast path cannot drift from the engine's ABI.
 */
import { expect } from "chai";
import { id as keccakId } from "ethers";
import { encodeLiquidateMany, MAX_BATCH_SIZE } from "../../keeper/jobs/liquidations";
import { PerpEngine__factory } from "../../typechain-types";

const engine = PerpEngine__factory.createInterface();
const selector = engine.getFunction("liquidateMany")!.selector;
const UINT256_MAX = (1n << 256n) - 1n;

describe("liquidateMany calldata", () => {
  it("is byte for byte what the ABI coder writes, for no ids, one, the extremes and a full batch of position ids", () => {
    const positionIds = Array.from({ length: MAX_BATCH_SIZE }, (_, i) => BigInt(keccakId(`position ${i}`)));
    for (const ids of [[], [1n], [0n, UINT256_MAX], positionIds]) {
      expect(encodeLiquidateMany(selector, ids), `${ids.length} ids`).to.equal(
        engine.encodeFunctionData("liquidateMany", [ids]),
      );
    }
  });

  it("refuses an id that is not a uint256, naming it", () => {
    expect(() => encodeLiquidateMany(selector, [UINT256_MAX + 1n])).to.throw(RangeError, String(UINT256_MAX + 1n));
    expect(() => encodeLiquidateMany(selector, [-1n])).to.throw(RangeError, "id -1 is not a uint256");
  });
});
