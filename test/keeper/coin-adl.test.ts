/**
 * ADL on a coin-margined market (#19): the keeper of the BTC exchange, as `createVenueKeepers` builds it,
 * runs the same ADL job on BTCUSD-INV as on the USD markets. A bankrupt 20x short margined in BTC leaves
 * bad debt past the BTC insurance fund; the keeper deleverages the traders' long with the highest adlScore
 * (the engine's short on 1/P), the haircut covers the bad debt, and the winner is paid in BTC.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { createVenueKeepers } from "../../keeper/venues";
import { engineAcceptablePrice, engineSize } from "../../lib/coin-margined";
import type { Exchange } from "../../lib/contracts";
import { BTCUSD_INV } from "../../lib/markets";
import { wad } from "../../lib/units";
import { exchangeFixture, pushIndex } from "../helpers/fixtures";

const FACE = wad(BTCUSD_INV.faceUsd);

async function depositBtc(btc: Exchange, trader: HardhatEthersSigner, amount: bigint): Promise<void> {
  const coin = await ethers.getContractAt("CoinToken", await btc.collateral.getAddress());
  await (await coin.faucet(trader.address, amount)).wait();
  await (await coin.connect(trader).approve(btc.vault, amount)).wait();
  await (await btc.vault.connect(trader).deposit(amount)).wait();
}

/** Opens a trader's `contracts` BTCUSD-INV contracts with `margin` BTC; returns the position id. */
async function open(btc: Exchange, trader: HardhatEthersSigner, contracts: bigint, long: boolean, margin: bigint) {
  const marketId = btc.markets.get("BTCUSD-INV")!.marketId;
  const size = engineSize(contracts, FACE, long);
  await (
    await btc.engine.connect(trader).increasePosition(marketId, size, margin, engineAcceptablePrice(0n, long))
  ).wait();
  return btc.admin.positionId(trader.address, marketId);
}

describe("keeper: ADL on a coin-margined market", () => {
  it("deleverages the BTCUSD-INV long with the highest adlScore once a short's bad debt passes the BTC insurance fund", async () => {
    const f = await loadFixture(exchangeFixture);
    const btc = f.ex.coinMargined.get("BTC")!;
    const marketId = btc.markets.get("BTCUSD-INV")!.marketId;
    const [bankrupt, bold, careful] = f.traders;
    for (const t of f.traders) await depositBtc(btc, t, wad(20));
    // At 30,000 USD: a 20x short of 200 BTC (60,000 contracts), a 20x long of 50 BTC, a 4x long of 10 BTC.
    const short = await open(btc, bankrupt, 60_000n, false, wad(10));
    const boldLong = await open(btc, bold, 15_000n, true, wad("2.5"));
    const carefulLong = await open(btc, careful, 3_000n, true, wad("2.5"));
    const carefulSize = (await btc.admin.position(carefulLong)).size;

    // +8%: the short loses 200 * (1 - 1/1.08) = 14.8 BTC on 10 BTC of margin; the 3 BTC fund covers part.
    await pushIndex(f.btc, wad(32_400));
    const keeper = createVenueKeepers(f.ex, f.keeper, () => ({ fromBlock: f.ex.deployment.deploymentBlock })).get(
      "BTC",
    )!;
    const free = await btc.vault.freeBalance(bold.address);
    const report = await keeper.tick();

    expect(report.liquidations.map((l) => l.id)).to.deep.equal([short]);
    const [badDebt] = await btc.engine.queryFilter(btc.engine.filters.BadDebt());
    expect(badDebt.args.uncovered).to.be.greaterThan(0n);
    const at = { blockTag: badDebt.blockNumber };
    expect((await btc.lens.adlScore(boldLong, at)).score).to.be.greaterThan(
      (await btc.lens.adlScore(carefulLong, at)).score,
    );

    expect(report.adl.map((d) => d.id)).to.deep.equal([boldLong]);
    expect(report.adl[0].haircut).to.equal(badDebt.args.uncovered);
    expect((await btc.admin.marketState(marketId)).uncoveredBadDebt).to.equal(0n);
    expect((await btc.admin.position(carefulLong)).size).to.equal(carefulSize);
    // The deleveraged long's profit, less the haircut, is paid in BTC to its free balance.
    expect(await btc.vault.freeBalance(bold.address)).to.be.greaterThan(free);
  });
});
