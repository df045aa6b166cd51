import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deploySystem } from "../../lib/deploy";
import { usd6, wad, WAD } from "../../lib/units";

async function fixture() {
  const [deployer, trader] = await ethers.getSigners();
  const ex = await deploySystem(deployer);
  await ex.collateral.faucet(trader.address, usd6(10_000));
  await ex.collateral.connect(trader).approve(ex.vault, usd6(10_000));
  await ex.vault.connect(trader).deposit(usd6(10_000));
  return { ex, deployer, trader };
}

describe("smoke: a trader's round trip", () => {
  it("opens a 10x ALT short, shows its liquidation price 9-10% above entry, and closes", async () => {
    const { ex, trader } = await loadFixture(fixture);
    const alt = ex.markets.get("ALT-USD")!;
    const m = await ex.lens.market(alt.marketId);
    const margin = wad(100);
    const size = -(margin * 10n * WAD) / m.indexPrice;
    const tx = await ex.engine.connect(trader).increasePosition(alt.marketId, size, margin, 0n);
    const receipt = await tx.wait();
    const id = await ex.admin.positionId(trader.address, alt.marketId);
    const view = await ex.lens.position(id);
    const ratio = (view.liquidationPrice * 10_000n) / view.entryPrice;
    expect(ratio).to.be.gte(10_900n).and.lte(11_000n);
    console.log("      open gas", receipt!.gasUsed.toString(), "liq", ratio.toString());
    const close = await (await ex.engine.connect(trader).closePosition(alt.marketId, ethers.MaxUint256)).wait();
    console.log("      close gas", close!.gasUsed.toString());
    expect((await ex.admin.position(id)).size).to.equal(0n);
  });
});
