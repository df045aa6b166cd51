/**
 * lib/math.ts against the live lens: positions opened on a full deployment, then the lens's panel
 * (PerpLens.position) compared field by field with projectMarket + positionHealth computed from the
 * engine's raw state (admin getters and the oracle's index) read at the same block. This is what the
 * keeper does every block, so the two must agree to the unit.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { Signer } from "ethers";
import { deploySystem } from "../../lib/deploy";
import type { Exchange } from "../../lib/contracts";
import {
  fundingModelOf,
  marketConfigFromChain,
  marketStateFromChain,
  positionFromChain,
  positionHealth,
  projectMarket,
  tiersFromChain,
  WAD,
} from "../../lib/math";
import { toFeedAnswer, usd6, wad } from "../../lib/units";
import { IFundingModel__factory } from "../../typechain-types";

const DEPOSIT_USD = 1_000_000n;

interface Opened {
  label: string;
  id: bigint;
}

/** Opens a position of `leverage` on `margin` USD at the current index; returns its id. */
async function open(ex: Exchange, trader: Signer, symbol: string, side: 1n | -1n, marginUsd: bigint, leverage: bigint) {
  const { marketId } = ex.markets.get(symbol)!;
  const index = (await ex.lens.market(marketId)).indexPrice;
  const margin = wad(marginUsd);
  const size = (side * margin * leverage * WAD) / index;
  await (
    await ex.engine.connect(trader).increasePosition(marketId, size, margin, side > 0n ? ethers.MaxUint256 : 0n)
  ).wait();
  return ex.admin.positionId(await trader.getAddress(), marketId);
}

async function pushIndex(ex: Exchange, symbol: string, price: bigint): Promise<void> {
  for (const feed of ex.markets.get(symbol)!.pushedFeeds) await (await feed.setPrice(toFeedAnswer(price))).wait();
}

async function fixture() {
  const [deployer, ...traders] = await ethers.getSigners();
  const ex = await deploySystem(deployer);
  for (const t of traders.slice(0, 4)) {
    await (await ex.collateral.faucet(await t.getAddress(), usd6(DEPOSIT_USD))).wait();
    await (await ex.collateral.connect(t).approve(ex.vault, usd6(DEPOSIT_USD))).wait();
    await (await ex.vault.connect(t).deposit(usd6(DEPOSIT_USD))).wait();
  }
  const [a, b, c, d] = traders;
  const positions: Opened[] = [
    { label: "ALT 10x short on $100", id: await open(ex, a, "ALT-USD", -1n, 100n, 10n) },
    { label: "ALT 20x long on $500", id: await open(ex, b, "ALT-USD", 1n, 500n, 20n) },
    { label: "BTC 40x long on $20k, in the second tier", id: await open(ex, c, "BTC-USD", 1n, 20_000n, 40n) },
    { label: "BTC 4x short on $300k, in the third tier", id: await open(ex, d, "BTC-USD", -1n, 300_000n, 4n) },
  ];
  return { ex, positions };
}

/** lib/math.ts's panel for one position from raw state at `blockTag`, next to the lens's own. */
async function bothPanels(ex: Exchange, id: bigint, blockTag: number) {
  const at = { blockTag };
  const lens = await ex.lens.position(id, at);
  const position = positionFromChain(await ex.admin.position(id, at));
  const marketId = position.marketId;
  const rawConfig = await ex.admin.marketConfig(marketId, at);
  const fundingModel = fundingModelOf(
    await IFundingModel__factory.connect(rawConfig.fundingModel, ethers.provider).name(),
  );
  const cfg = marketConfigFromChain(rawConfig, fundingModel);
  const state = marketStateFromChain(await ex.admin.marketState(marketId, at));
  const tiers = tiersFromChain(await ex.admin.tiers(marketId, at));
  const [oracleIndex, fresh] = await ex.oracle.indexPrice(marketId, at);
  const index = fresh !== 0n ? oracleIndex : (await ex.oracle.lastIndexPrice(marketId, at))[0];
  const nowTs = BigInt((await ethers.provider.getBlock(blockTag))!.timestamp);

  const market = projectMarket(cfg, state, index, nowTs);
  const health = positionHealth(market.state, tiers, position, market.mark);
  const mirror = { markPrice: market.mark, ...health };
  const chain = {
    markPrice: lens.markPrice,
    pendingFunding: lens.pendingFunding,
    notional: lens.notional,
    unrealizedPnl: lens.unrealizedPnl,
    equity: lens.equity,
    maintenanceMargin: lens.maintenanceMargin,
    leverage: lens.leverage,
    liquidationPrice: lens.liquidationPrice,
    liquidatable: lens.liquidatable,
  };
  return { mirror, chain };
}

async function expectPanelsAgree(ex: Exchange, positions: Opened[]) {
  const blockTag = await ethers.provider.getBlockNumber();
  const panels = [];
  for (const p of positions) {
    const { mirror, chain } = await bothPanels(ex, p.id, blockTag);
    expect(mirror, p.label).to.deep.equal(chain);
    panels.push(mirror);
  }
  return panels;
}

describe("lib/math.ts against the live lens", () => {
  it("computes the lens's panel for positions just opened", async () => {
    const { ex, positions } = await loadFixture(fixture);
    const panels = await expectPanelsAgree(ex, positions);
    expect(panels.every((p) => !p.liquidatable && p.pendingFunding === 0n)).to.equal(true);
  });

  it("computes the same panel after an unsettled funding boundary and an index move that liquidates one", async () => {
    const { ex, positions } = await loadFixture(fixture);
    await time.increase(9 * 3600);
    // fresh pushed prices: ALT down 6% (two of three sources), BTC up 1%
    await pushIndex(ex, "ALT-USD", wad("1.88"));
    await pushIndex(ex, "BTC-USD", wad(30_300));
    const panels = await expectPanelsAgree(ex, positions);

    // the boundary was crossed without settleFunding: the projection owes funding all the same
    expect(panels.every((p) => p.pendingFunding !== 0n)).to.equal(true);
    expect(panels.map((p) => p.liquidatable)).to.deep.equal([false, true, false, false]);
  });
});
