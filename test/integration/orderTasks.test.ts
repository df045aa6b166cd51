/**
 * perp:order, perp:orders, perp:cancel and perp:execute against an in-process exchange whose deployment
 * record the test writes to a temporary file.
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deploySystem, DEFAULT_MIN_EXECUTION_FEE_USD } from "../../lib/deploy";
import { toFeedAnswer, usd6, wad, WAD } from "../../lib/units";
import { refusal, runTask } from "../helpers/tasks";
import type { CancelResult, ExecuteResult, OrderResult, OrderRow } from "../../tasks/orders";

const ALT = "ALT-USD";
const TRADER = "1";
const KEEPER = "2";
const MIN_FEE = wad(DEFAULT_MIN_EXECUTION_FEE_USD);

async function orderTasksFixture() {
  const [deployer, trader] = await ethers.getSigners();
  const ex = await deploySystem(deployer);
  const file = path.join(mkdtempSync(path.join(tmpdir(), "perpsim-orders-")), "hardhat.json");
  writeFileSync(file, JSON.stringify(ex.deployment));
  await ex.collateral.faucet(trader.address, usd6(10_000));
  await ex.collateral.connect(trader).approve(ex.vault, usd6(10_000));
  await ex.vault.connect(trader).deposit(usd6(10_000));
  return { ex, file, trader };
}

describe("order tasks", () => {
  it("places a 10x short limit, lists it, and a keeper executes it when the price rallies", async () => {
    const { ex, file, trader } = await loadFixture(orderTasksFixture);
    const placed = await runTask<OrderResult>(file, "order", {
      account: TRADER,
      type: "limit",
      market: ALT,
      side: "short",
      margin: "100",
      leverage: "10",
      price: "2.05",
    });
    // size = margin * leverage / limit = 1,000 / 2.05
    expect(placed.result.sizeDelta).to.equal(-((wad(1_000) * WAD) / wad("2.05")));
    expect(placed.result.status).to.equal("live");
    expect(placed.result.executionFee).to.equal(MIN_FEE);
    expect(placed.lines.join("\n")).to.contain("the fill price is at or above 2.050000");

    const listed = await runTask<OrderRow[]>(file, "orders", { account: TRADER });
    expect(listed.result.map((o) => o.id)).to.deep.equal([placed.result.id]);

    const early = await refusal(runTask(file, "execute", { account: KEEPER, id: String(placed.result.id) }));
    expect(early).to.match(
      /cannot execute now: a sell would fill at 1\.99\d+; it executes when the fill price is at or above 2\.050000/,
    );

    for (const feed of ex.markets.get(ALT)!.pushedFeeds) await feed.setPrice(toFeedAnswer(wad("2.06")));
    const executed = await runTask<ExecuteResult>(file, "execute", { account: KEEPER, id: String(placed.result.id) });
    expect(executed.result.outcome).to.equal("executed");
    expect(executed.result.fillPrice).to.be.gte(wad("2.05"));
    expect(executed.result.feeEarned).to.equal(MIN_FEE);
    const position = await ex.admin.position(await ex.admin.positionId(trader.address, 1n));
    expect(position.size).to.equal(placed.result.sizeDelta);
    expect((await runTask<OrderRow[]>(file, "orders", { account: TRADER })).result).to.deep.equal([]);
  });

  it("sets a stop-loss on the whole position with the default 5% tolerance, and cancels it", async () => {
    const { ex, file, trader } = await loadFixture(orderTasksFixture);
    await ex.engine.connect(trader).increasePosition(1n, -wad(500), wad(100), 0n);
    const sl = await runTask<OrderResult>(file, "order", { account: TRADER, type: "sl", market: ALT, price: "2.1" });
    expect(sl.result.type).to.equal("stop-loss");
    expect(sl.result.sizeDelta).to.equal(wad(500)); // buys the short back
    expect(sl.result.acceptablePrice).to.equal((wad("2.1") * 105n) / 100n); // the stop's default 5% above
    const cancelled = await runTask<CancelResult>(file, "cancel", { account: TRADER, id: String(sl.result.id) });
    expect(cancelled.result).to.include({ outcome: "cancelled", refund: MIN_FEE });
  });

  it("refuses bad input with a message naming the argument", async () => {
    const { ex, file, trader } = await loadFixture(orderTasksFixture);
    await ex.engine.connect(trader).increasePosition(1n, -wad(500), wad(100), 0n);
    expect(
      await refusal(runTask(file, "order", { account: TRADER, type: "stop", market: ALT, price: "2" })),
    ).to.contain("--type stop: expected limit, tp or sl");
    expect(
      await refusal(runTask(file, "order", { account: TRADER, type: "tp", market: ALT, price: "2.1" })),
    ).to.contain("a short's take-profit triggers below its entry");
    expect(
      await refusal(runTask(file, "order", { account: TRADER, type: "sl", market: ALT, price: "2.1", fee: "0.1" })),
    ).to.contain("minimum execution fee is 0.50 USD");
    expect(
      await refusal(
        runTask(file, "order", {
          account: TRADER,
          type: "limit",
          market: ALT,
          side: "long",
          margin: "100",
          leverage: "10",
          price: "2.5",
        }),
      ),
    ).to.contain("holds a short on ALT-USD, and a limit open only adds to its own side; close the short first");
    const sl = await runTask<OrderResult>(file, "order", { account: TRADER, type: "sl", market: ALT, price: "2.1" });
    expect(await refusal(runTask(file, "cancel", { account: KEEPER, id: String(sl.result.id) }))).to.contain(
      "only its owner may cancel it",
    );
    expect(await refusal(runTask(file, "execute", { account: KEEPER, id: "99" }))).to.contain("order #99 is unknown");
  });

  it("refuses a limit that would fill at once unless --immediate, which fills it at market", async () => {
    const { file } = await loadFixture(orderTasksFixture);
    const args = {
      account: TRADER,
      type: "limit",
      market: ALT,
      side: "long",
      margin: "100",
      leverage: "10",
      price: "2.5",
    };
    // 1,000 USD / 2.5 = 400 ALT; a market buy of 400 on an empty book fills at 2 * (1 + 400 / 10M) = 2.00008
    expect(await refusal(runTask(file, "order", args))).to.contain(
      "a buy limit at 2.500000 would fill now (a market buy fills at 2.000080); pass --immediate",
    );
    const filled = await runTask<OrderResult>(file, "order", { ...args, immediate: true });
    expect(filled.result.status).to.equal("executed");
    expect(filled.result.fillPrice).to.be.gt(0n).and.lte(wad("2.5"));
  });
});
