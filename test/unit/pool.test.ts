/**
 * SPEC section 4, LiquidityPool: ERC-4626 shares over the vault's pool ledger, the traders' counterparty.
 * Shares use OZ's virtual offset of 10^6: shares = assets * (supply + 10^6) / (totalAssets + 1) and
 * assets = shares * (totalAssets + 1) / (supply + 10^6), both rounded down. Redemptions may not take the
 * reserve: per market, max(long OI, short OI) * last index * reserve factor (0.5), each product rounded up.
 */
import { expect } from "chai";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { usd6, wad, WAD } from "../../lib/units";
import { closeAll, exchangeFixture, openByLeverage } from "../helpers/fixtures";
import { expectConservation, expectUnchanged, snapshotState } from "../helpers/conservation";

const OFFSET = 10n ** 6n;
const USD6_SCALE = 10n ** 12n;
const RESERVE_FACTOR = wad("0.5");

const divUp = (a: bigint, b: bigint): bigint => (a === 0n ? 0n : (a - 1n) / b + 1n);
const mulUp = (a: bigint, b: bigint): bigint => divUp(a * b, WAD);

describe("liquidity pool", () => {
  it("mints and redeems shares at the pool's price, returning the deposit to within the rounding", async () => {
    const { ex, keeper: lp, accounts } = await loadFixture(exchangeFixture);
    const deposit = usd6(10_000);
    await (await ex.collateral.faucet(lp.address, deposit)).wait();
    await (await ex.collateral.connect(lp).approve(ex.pool, deposit)).wait();

    const assets0 = (await ex.vault.poolAssets()) / USD6_SCALE;
    const supply0 = await ex.pool.totalSupply();
    expect(await ex.pool.totalAssets()).to.equal(assets0);
    const shares = (deposit * (supply0 + OFFSET)) / (assets0 + 1n);
    await (await ex.pool.connect(lp).deposit(deposit, lp.address)).wait();
    expect(await ex.pool.balanceOf(lp.address)).to.equal(shares);
    expect(await ex.vault.poolAssets()).to.equal((assets0 + deposit) * USD6_SCALE);

    const back = (shares * (assets0 + deposit + 1n)) / (supply0 + shares + OFFSET);
    expect(deposit - back)
      .to.be.gte(0n)
      .and.lte(1n);
    await (await ex.pool.connect(lp).redeem(shares, lp.address, lp.address)).wait();
    expect(await ex.collateral.balanceOf(lp.address)).to.equal(back);
    expect(await ex.pool.balanceOf(lp.address)).to.equal(0n);
    await expectConservation(ex, [], accounts);
  });

  it("refuses to redeem or withdraw the assets reserved for open interest, and frees them on close", async () => {
    const { ex, deployer, traders, alt, btc, accounts } = await loadFixture(exchangeFixture);
    const short = await openByLeverage(ex, traders[0], alt.marketId, {
      side: "short",
      margin: wad(10_000),
      leverage: 10n,
    });
    const long = await openByLeverage(ex, traders[1], btc.marketId, {
      side: "long",
      margin: wad(30_000),
      leverage: 10n,
    });
    const ids = [short.id, long.id];

    // reserve = sum over markets of max(long OI, short OI) * index * 0.5
    let reserved = 0n;
    for (const m of [alt, btc]) {
      const st = await ex.admin.marketState(m.marketId);
      const oi = st.longOpenInterest > st.shortOpenInterest ? st.longOpenInterest : st.shortOpenInterest;
      const [index] = await ex.oracle.indexPrice(m.marketId);
      reserved += mulUp(mulUp(oi, index), RESERVE_FACTOR);
    }
    expect(await ex.admin.reservedAssets()).to.equal(reserved);
    // (50,000 ALT short * 2 + 10 BTC long * 30,000) * 0.5 = 200,000
    expect(reserved).to.equal(wad(200_000));

    const poolAssets = await ex.vault.poolAssets();
    // Shares are priced at the pool's value at mark (SPEC 9.1); the reserve is taken from the ledger.
    const assets = await ex.pool.totalAssets();
    const supply = await ex.pool.totalSupply();
    const shares = await ex.pool.balanceOf(deployer.address);
    const available = (poolAssets - reserved) / USD6_SCALE;
    const maxShares = (available * (supply + OFFSET)) / (assets + 1n);
    // OZ 5 derives maxWithdraw from maxRedeem: the assets of the redeemable shares, rounded down twice.
    const maxAssets = (maxShares * (assets + 1n)) / (supply + OFFSET);
    expect(available - maxAssets)
      .to.be.gte(0n)
      .and.lte(1n);
    expect(await ex.pool.maxRedeem(deployer.address)).to.equal(maxShares);
    expect(await ex.pool.maxWithdraw(deployer.address)).to.equal(maxAssets);

    const before = await snapshotState(ex, accounts, ids);
    await expect(ex.pool.redeem(shares, deployer.address, deployer.address))
      .to.be.revertedWithCustomError(ex.pool, "ERC4626ExceededMaxRedeem")
      .withArgs(deployer.address, shares, anyValue); // the next block's mark moves the price a little
    await expect(ex.pool.withdraw(assets, deployer.address, deployer.address))
      .to.be.revertedWithCustomError(ex.pool, "ERC4626ExceededMaxWithdraw")
      .withArgs(deployer.address, assets, anyValue);
    expectUnchanged(before, await snapshotState(ex, accounts, ids));

    // Everything above the reserve can leave.
    await (await ex.pool.withdraw(maxAssets, deployer.address, deployer.address)).wait();
    expect(await ex.vault.poolAssets()).to.be.gte(reserved);
    expect(await ex.pool.maxWithdraw(deployer.address)).to.equal(0n);
    await expectConservation(ex, ids, accounts);

    // Once the positions close nothing is reserved: all remaining shares redeem.
    await closeAll(ex, traders[0], alt.marketId);
    await closeAll(ex, traders[1], btc.marketId);
    expect(await ex.admin.reservedAssets()).to.equal(0n);
    const left = await ex.pool.balanceOf(deployer.address);
    // With nothing open the pool's value is its ledger; the shares' rounding (OZ's virtual offset) may
    // keep at most one asset unit's worth of shares back when a share is worth a hair under par.
    const redeemable = await ex.pool.maxRedeem(deployer.address);
    expect(left - redeemable).to.be.lte(left / (await ex.pool.totalAssets()) + 1n);
    await (await ex.pool.redeem(redeemable, deployer.address, deployer.address)).wait();
    await expectConservation(ex, ids, accounts);
  });

  it("grows the pool's assets, and the share price, by the trading fees less the insurance share", async () => {
    const { ex, traders, alt, accounts } = await loadFixture(exchangeFixture);
    const pool0 = await ex.vault.poolAssets();
    const insurance0 = await ex.vault.insuranceFund();
    const unit = 10n ** 18n; // one whole share
    const price0 = await ex.pool.convertToAssets(unit);

    const opened = await openByLeverage(ex, traders[0], alt.marketId, {
      side: "long",
      margin: wad(1_000),
      leverage: 10n,
    });
    const closed = await closeAll(ex, traders[0], alt.marketId);
    const fees = opened.trade.fee + closed.trade.fee;
    const toInsurance = (opened.trade.fee * wad("0.2")) / WAD + (closed.trade.fee * wad("0.2")) / WAD;
    expect(fees).to.be.gt(0n);
    // At an unchanged index the close fills where the open did (the skew returns to 0 along the same
    // line): no realised PnL, so the pool's gain is the fees alone.
    expect(closed.trade.fillPrice).to.equal(opened.trade.fillPrice);
    expect(closed.trade.realizedPnl).to.equal(0n);
    expect((await ex.vault.poolAssets()) - pool0).to.equal(fees - toInsurance);
    expect((await ex.vault.insuranceFund()) - insurance0).to.equal(toInsurance);
    expect(await ex.pool.convertToAssets(unit)).to.be.gt(price0);
    await expectConservation(ex, [opened.id], accounts);
  });
});
