/**
 * `npm run walkthrough`: the seed's eight steps of a contract trade, for one trader, on the real
 * contracts, with the numbers they produce. In-process by default (a fresh exchange on the embedded
 * Hardhat network), or against a node: `npx hardhat walkthrough --network localhost` (a deployment
 * from `npm run deploy -- --network localhost`; the node's clock is moved, so local chains only).
 *
 * The story: a crowd is already short ALT-USD. Our trader shorts it too, 10x, by a limit order above
 * the price that a keeper fills when the price rallies to it; sees the mark, index and last prices and
 * the liquidation price; pays funding across an 8-hour boundary (the crowded side pays); sets a
 * take-profit and a stop-loss; a market maker buys the spot pool, the feeds follow, and the stop-loss
 * fires through a keeper before the liquidation price is reached. Last, the account's history, from
 * events, and the balance it adds up to.
 *
 * `runWalkthrough` returns every number it prints as a structured record (bigints, WAD unless named);
 * the integration test asserts them. This file is read before typechain-types exists (see
 * tasks/common.ts): anything generated is imported inside the function.
 */
import { task, types } from "hardhat/config";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { ContractTransactionReceipt, ContractTransactionResponse, Interface, Signer } from "ethers";
import type { Exchange, MarketHandles } from "../lib/contracts";
import * as f from "../lib/format";
import { Pricing } from "../lib/math";
import { toFeedAnswer, usd6, USD6_TO_WAD, wad, WAD } from "../lib/units";
import { connect, fail, LOCAL_CHAIN_ID, out } from "./common";

/* ------------------------------------------------------------------ THE SCRIPT'S CHOICES */

const MARKET = "ALT-USD";
const TRADER_DEPOSIT_USD = 1_000n;
const MARGIN = wad(100);
const LEVERAGE = wad(10);
/** The crowd: 7,500 ALT short at 5x, enough skew for the shorts to pay funding, far from liquidation. */
const CROWD_SIZE = wad(7_500);
const CROWD_LEVERAGE = 5n;
const CROWD_FEE_ALLOWANCE_USD = 100n;
/** The trader sells the rally: a limit 2.5% above the index; the feeds then rally 3%. */
const LIMIT_ABOVE_INDEX = wad("0.025");
const RALLY = wad("0.03");
/** Take-profit 10% below entry, stop-loss 5% above (the liquidation price is ~9.5% above). */
const TAKE_PROFIT_BELOW_ENTRY = wad("0.10");
const STOP_LOSS_ABOVE_ENTRY = wad("0.05");
/** Worst fill accepted beyond the trigger: a take-profit 1%, a stop in a squeeze 3%. */
const TAKE_PROFIT_TOLERANCE = wad("0.01");
const STOP_LOSS_TOLERANCE = wad("0.03");
/** The market maker pushes spot to 2% short of the stop-loss trigger, then to 2% beyond it. */
const FIRST_PUSH_OF_TRIGGER = wad("0.98");
const SECOND_PUSH_OF_TRIGGER = wad("1.02");
const GAS_ETH = "0x56BC75E2D63100000"; // 100 ETH for each generated wallet
const TAKE_PROFIT = 2n;
const STOP_LOSS = 3n;
const SPOT_FEE_BPS = 9_970n; // the spot pool keeps 0.3%
const BPS = 10_000n;

/* ------------------------------------------------------------------ THE RECORD */

export interface HistoryEntry {
  block: number;
  timestamp: bigint;
  /** contract event name */
  event: string;
  text: string;
}

export interface WalkthroughRecord {
  /** the exchange it ran on, to inspect after */
  deployment: Exchange["deployment"];
  market: string;
  marketId: bigint;
  accounts: { trader: string; keeper: string; marketMaker: string; crowd: string };
  /** USD, WAD */
  deposit: bigint;
  step1Direction: {
    side: "short";
    indexPrice: bigint;
    markPrice: bigint;
    lastPrice: bigint;
    skew: bigint;
    crowdEntry: bigint;
    predictedFundingRate: bigint;
  };
  step2Limit: {
    orderId: bigint;
    limitPrice: bigint;
    /** the fill a market sell would get when the order was placed (below the limit: it rests) */
    fillAtCreation: bigint;
    /** the keeper's check before the rally: the engine's SlippageExceeded */
    earlyCheck: string;
    rallyIndex: bigint;
    fillPrice: bigint;
    tradingFee: bigint;
    executionFee: bigint;
    keeperEarned: bigint;
  };
  step3Leverage: { leverage: bigint; notionalAtLimit: bigint };
  step4Margin: { margin: bigint; sizeDelta: bigint };
  step5Prices: {
    positionId: bigint;
    size: bigint;
    entryPrice: bigint;
    indexPrice: bigint;
    markPrice: bigint;
    lastPrice: bigint;
    leverage: bigint;
    maintenanceMargin: bigint;
    liquidationPrice: bigint;
    /** (liquidation - mark) / mark */
    liquidationDistance: bigint;
  };
  step6Funding: {
    boundary: bigint;
    rate: bigint;
    fundingIndexBefore: bigint;
    fundingIndexAfter: bigint;
    /** the position's snapshot of the funding index */
    snapshot: bigint;
    /** what the position owes (negative: is owed), rounded up */
    fundingOwed: bigint;
    markPrice: bigint;
  };
  step7TpSl: {
    takeProfit: { id: bigint; trigger: bigint; acceptable: bigint };
    stopLoss: { id: bigint; trigger: bigint; acceptable: bigint };
    liquidationPrice: bigint;
    executionFee: bigint;
  };
  step8Close: {
    firstPush: { usdIn: bigint; spotPrice: bigint; indexPrice: bigint; markPrice: bigint; check: string };
    secondPush: { usdIn: bigint; spotPrice: bigint; indexPrice: bigint; markPrice: bigint };
    stopLoss: {
      markPrice: bigint;
      trigger: bigint;
      sizeDelta: bigint;
      fillPrice: bigint;
      tradingFee: bigint;
      realizedPnl: bigint;
      fundingPaid: bigint;
      keeperEarned: bigint;
      liquidationPriceBefore: bigint;
    };
    takeProfitRefund: bigint;
  };
  history: HistoryEntry[];
  totals: {
    tradingFees: bigint;
    executionFees: bigint;
    realizedPnl: bigint;
    fundingPaid: bigint;
    /** deposit + realized PnL - trading fees - funding - execution fees */
    expectedFreeBalance: bigint;
    freeBalance: bigint;
  };
}

export interface WalkthroughOptions {
  /** deployment file when not in-process */
  deployment?: string;
}

/* ------------------------------------------------------------------ THE WALKTHROUGH */

export async function runWalkthrough(
  hre: HardhatRuntimeEnvironment,
  opts: WalkthroughOptions = {},
): Promise<WalkthroughRecord> {
  const { ethers } = hre;
  const { decodeRevert } = await import("../lib/revert");
  const [deployer] = await ethers.getSigners();
  const { chainId } = await ethers.provider.getNetwork();
  if (chainId !== LOCAL_CHAIN_ID)
    fail(`walkthrough moves the chain's clock: local chains only (id ${LOCAL_CHAIN_ID}), got ${chainId}`);

  let ex: Exchange;
  if (hre.network.name === "hardhat") {
    const { deploySystem } = await import("../lib/deploy");
    out(
      "Deploying a fresh exchange in-process (collateral, vault, LP pool, engine, oracle, order book, ALT-USD and BTC-USD)...",
    );
    ex = await deploySystem(deployer);
  } else {
    ex = (await connect(hre, { account: "0", deployment: opts.deployment })).exchange;
  }
  const market = ex.markets.get(MARKET);
  if (!market) fail(`the deployment has no ${MARKET} market`);
  const id = market.marketId;
  const { engine, admin, lens, orderBook, vault, collateral } = ex;

  // Fresh wallets each run, so a node that already ran the walkthrough runs it again from scratch.
  const wallet = async () => {
    const w = ethers.Wallet.createRandom().connect(ethers.provider);
    await ethers.provider.send("hardhat_setBalance", [w.address, GAS_ETH]);
    return w;
  };
  const [trader, keeper, marketMaker, crowd] = [await wallet(), await wallet(), await wallet(), await wallet()];
  const mined = async (tx: Promise<ContractTransactionResponse>) => (await (await tx).wait())!;
  const fund = async (who: Signer, usd: bigint) => {
    const address = await who.getAddress();
    await mined(collateral.connect(who).faucet(address, usd6(usd)));
    await mined(collateral.connect(who).approve(vault, usd6(usd)));
    await mined(vault.connect(who).deposit(usd6(usd)));
  };
  const pushFeeds = async (price: bigint) => {
    for (const feed of market.pushedFeeds) await mined(feed.connect(deployer).setPrice(toFeedAnswer(price)));
  };
  const base = MARKET.split("-")[0];
  const firstBlock = await ethers.provider.getBlockNumber();

  out("", "The trader's eight steps on a perpetual contract, on the contracts themselves.", "");
  out(`The trader ${trader.address} deposits ${f.usd(wad(TRADER_DEPOSIT_USD))} into the vault.`);
  await fund(trader, TRADER_DEPOSIT_USD);
  const deposit = wad(TRADER_DEPOSIT_USD);
  const minFee = await orderBook.minExecutionFee();

  /* STEP 1: direction ---------------------------------------------------------------------------------- */
  const crowdMargin = (CROWD_SIZE * (await lens.market(id)).indexPrice) / WAD / CROWD_LEVERAGE;
  await fund(crowd, crowdMargin / WAD + CROWD_FEE_ALLOWANCE_USD);
  await mined(engine.connect(crowd).increasePosition(id, -CROWD_SIZE, crowdMargin, 0n));
  const crowdEntry = (await admin.position(await admin.positionId(crowd.address, id))).entryPrice;
  const m1 = await lens.market(id);
  const step1: WalkthroughRecord["step1Direction"] = {
    side: "short",
    indexPrice: m1.indexPrice,
    markPrice: m1.markPrice,
    lastPrice: m1.lastPrice,
    skew: m1.skew,
    crowdEntry,
    predictedFundingRate: m1.predictedFundingRate,
  };
  heading(1, "Choose a direction: long (bet on a rise) or short (bet on a fall)");
  out(
    `A crowd is already short ${f.size(CROWD_SIZE)} ${base} (entry ${f.price(crowdEntry)}): the skew is ${f.size(m1.skew)} ${base},`,
    `so the perp's last price ${f.price(m1.lastPrice)} trades below the index ${f.price(m1.indexPrice)} (mark ${f.price(m1.markPrice)}):`,
    `a premium of ${f.pct(premium(m1.lastPrice, m1.indexPrice), 4, true)}. Funding settles every 8 h on the premium averaged over the`,
    `interval: while the shorts stay crowded, shorts pay longs (predicted now ${f.pct(m1.predictedFundingRate, 4, true)}; a rate above 0 means longs pay).`,
    `Our trader thinks ${base} is overpriced anyway, and goes SHORT.`,
  );

  /* STEPS 2-4: limit order, leverage, margin and quantity ------------------------------------------------ */
  const cfg = await admin.marketConfig(id);
  const limitPrice = m1.indexPrice + (m1.indexPrice * LIMIT_ABOVE_INDEX) / WAD;
  const notionalAtLimit = (MARGIN * LEVERAGE) / WAD;
  const sizeDelta = -((notionalAtLimit * WAD) / limitPrice);
  const fillAtCreation = Pricing.fillPrice(m1.indexPrice, m1.skew, sizeDelta, cfg.skewScale);
  const created = await mined(
    orderBook.connect(trader).createLimitOpen(id, sizeDelta, MARGIN, limitPrice, minFee, 0n, false),
  );
  const orderId = eventOf(created, orderBook.interface, "OrderCreated").id as bigint;
  heading(2, "Market or limit? A limit: sell the rally");
  out(
    `A market sell now would fill at ${f.price(fillAtCreation)}. The trader places limit order #${orderId} instead:`,
    `sell at ${f.price(limitPrice)} or better (${f.pct(LIMIT_ABOVE_INDEX, 1)} above the index). The order book escrows`,
    `${f.usd(MARGIN)} margin + ${f.usd(minFee)} for the keeper that will execute it.`,
  );
  let earlyCheck = "";
  try {
    await orderBook.connect(keeper).executeOrder.staticCall(orderId);
    earlyCheck = "executable";
  } catch (err) {
    earlyCheck = decodeRevert(err, orderBook.interface)?.name ?? "reverted";
  }
  out(`A keeper checks it: not yet (${earlyCheck}: the fill is below the limit).`);
  heading(3, "Leverage");
  out(`10x: ${f.usd(MARGIN)} of margin controls ${f.usd(notionalAtLimit)} of ${base} at the limit price.`);
  heading(4, "Margin and quantity");
  out(
    `Margin ${f.usd(MARGIN)}; quantity ${f.size(-sizeDelta)} ${base} = ${f.usd(notionalAtLimit)} / ${f.price(limitPrice)}.`,
  );

  const rallyIndex = m1.indexPrice + (m1.indexPrice * RALLY) / WAD;
  await pushFeeds(rallyIndex);
  const filled = await mined(orderBook.connect(keeper).executeOrder(orderId));
  const openTrade = eventOf(filled, engine.interface, "Trade");
  const step2: WalkthroughRecord["step2Limit"] = {
    orderId,
    limitPrice,
    fillAtCreation,
    earlyCheck,
    rallyIndex: (await lens.market(id)).indexPrice,
    fillPrice: openTrade.fillPrice as bigint,
    tradingFee: openTrade.fee as bigint,
    executionFee: minFee,
    keeperEarned: await vault.freeBalance(keeper.address),
  };
  out(
    "",
    `The price rallies: the pushed feeds (stand-ins for other exchanges) report ${f.price(step2.rallyIndex)}.`,
    `A keeper calls executeOrder(#${orderId}): sold ${f.size(-sizeDelta)} ${base} at ${f.price(step2.fillPrice)} ` +
      `(limit ${f.price(limitPrice)}), trading fee ${f.usd(step2.tradingFee)}; the keeper earned ${f.usd(step2.keeperEarned)}.`,
  );

  /* STEP 5: mark, index, last and the liquidation price -------------------------------------------------- */
  const positionId = await admin.positionId(trader.address, id);
  const [p5, m5] = await Promise.all([lens.position(positionId), lens.market(id)]);
  const step5: WalkthroughRecord["step5Prices"] = {
    positionId,
    size: p5.size,
    entryPrice: p5.entryPrice,
    indexPrice: m5.indexPrice,
    markPrice: m5.markPrice,
    lastPrice: m5.lastPrice,
    leverage: p5.leverage,
    maintenanceMargin: p5.maintenanceMargin,
    liquidationPrice: p5.liquidationPrice,
    liquidationDistance: ((p5.liquidationPrice - m5.markPrice) * WAD) / m5.markPrice,
  };
  heading(5, "The mark price and the liquidation price appear");
  out(
    ...f.panel([
      ["position", `${f.size(-p5.size)} ${base} short, entry ${f.price(p5.entryPrice)}, margin ${f.usd(p5.margin)}`],
      ["index", `${f.price(m5.indexPrice)}  (median of the oracle's fresh sources)`],
      ["last", `${f.price(m5.lastPrice)}  (index * (1 + skew / skew scale): where the perp trades)`],
      [
        "mark",
        `${f.price(m5.markPrice)}  (median of index+funding basis, index+EMA basis, last: liquidation uses this)`,
      ],
      ["leverage", f.leverage(p5.leverage)],
      ["maintenance margin", f.usd(p5.maintenanceMargin)],
      [
        "LIQUIDATION PRICE",
        `${f.price(p5.liquidationPrice)}  (${f.pct(step5.liquidationDistance, 2, true)} from mark)`,
      ],
    ]),
  );

  /* STEP 6: funding -------------------------------------------------------------------------------------- */
  const [st6, pos6] = await Promise.all([admin.marketState(id), admin.position(positionId)]);
  const boundary = BigInt(st6.lastFundingTime) + BigInt(cfg.fundingInterval);
  const latest = BigInt((await ethers.provider.getBlock("latest"))!.timestamp);
  await ethers.provider.send("evm_setNextBlockTimestamp", [Number(boundary > latest ? boundary : latest + 1n)]);
  await pushFeeds(step2.rallyIndex); // the feeds' heartbeat is an hour: the oracle keeps pushing
  const settled = await mined(engine.connect(keeper).settleFunding(id));
  const funding = eventOf(settled, engine.interface, "FundingSettled");
  const p6 = await lens.position(positionId);
  const step6: WalkthroughRecord["step6Funding"] = {
    boundary,
    rate: funding.rate as bigint,
    fundingIndexBefore: st6.fundingIndex,
    fundingIndexAfter: funding.fundingIndex as bigint,
    snapshot: pos6.fundingSnapshot,
    fundingOwed: p6.pendingFunding,
    markPrice: p6.markPrice,
  };
  heading(6, "Funding, every 8 hours");
  out(
    `Time passes to the funding boundary at ${new Date(Number(boundary) * 1000).toISOString()}; a keeper calls settleFunding.`,
    `The rate settled at ${f.pct(step6.rate, 4, true)} (the time-weighted premium of a crowded short side, plus the`,
    `interest term clamped): the funding index moved ${f.amount(step6.fundingIndexAfter - step6.fundingIndexBefore, 6)} USD per ${base}.`,
    `The trader's ${f.size(-p5.size)} ${base} short ${step6.fundingOwed >= 0n ? "owes" : "is owed"} ${f.usd(abs(step6.fundingOwed))} ` +
      `(size * index change, rounded up), counted in equity now and taken from margin at the next touch.`,
  );

  /* STEP 7: take-profit and stop-loss -------------------------------------------------------------------- */
  const size = -p5.size;
  const tpTrigger = p5.entryPrice - (p5.entryPrice * TAKE_PROFIT_BELOW_ENTRY) / WAD;
  const slTrigger = p5.entryPrice + (p5.entryPrice * STOP_LOSS_ABOVE_ENTRY) / WAD;
  const tpAcceptable = tpTrigger + (tpTrigger * TAKE_PROFIT_TOLERANCE) / WAD;
  const slAcceptable = slTrigger + (slTrigger * STOP_LOSS_TOLERANCE) / WAD;
  const tpTx = await mined(
    orderBook.connect(trader).createTriggerOrder(id, TAKE_PROFIT, size, tpTrigger, tpAcceptable, minFee, 0n),
  );
  const slTx = await mined(
    orderBook.connect(trader).createTriggerOrder(id, STOP_LOSS, size, slTrigger, slAcceptable, minFee, 0n),
  );
  const tpId = eventOf(tpTx, orderBook.interface, "OrderCreated").id as bigint;
  const slId = eventOf(slTx, orderBook.interface, "OrderCreated").id as bigint;
  const p7 = await lens.position(positionId);
  const step7: WalkthroughRecord["step7TpSl"] = {
    takeProfit: { id: tpId, trigger: tpTrigger, acceptable: tpAcceptable },
    stopLoss: { id: slId, trigger: slTrigger, acceptable: slAcceptable },
    liquidationPrice: p7.liquidationPrice,
    executionFee: minFee,
  };
  heading(7, "Take-profit and stop-loss");
  out(
    `Take-profit #${tpId}: buy back ${f.size(size)} ${base} when the mark falls to ${f.price(tpTrigger)} (fill no worse than ${f.price(tpAcceptable)}).`,
    `Stop-loss   #${slId}: buy back when the mark rises to ${f.price(slTrigger)} (fill no worse than ${f.price(slAcceptable)}),`,
    `below the liquidation price ${f.price(p7.liquidationPrice)}. Both are reduce-only; each escrows ${f.usd(minFee)} for its keeper.`,
  );

  /* STEP 8: the market maker pushes spot; the stop-loss closes ------------------------------------------ */
  heading(8, "Closing: here the stop-loss closes it, executed by a keeper");
  await mined(collateral.connect(marketMaker).approve(market.spotPool, ethers.MaxUint256));
  const push = async (target: bigint) => {
    const usdIn = await usdToReach(market, target);
    if (usdIn > 0n) {
      await mined(collateral.connect(marketMaker).faucet(marketMaker.address, usdIn));
      await mined(market.spotPool.connect(marketMaker).swap(true, usdIn, 0n, marketMaker.address));
    }
    const spot = await market.spotPool.spotPrice();
    await pushFeeds(spot); // the other venues follow the pump (arbitrage)
    const m = await lens.market(id);
    return { usdIn: usdIn * USD6_TO_WAD, spotPrice: spot, indexPrice: m.indexPrice, markPrice: m.markPrice };
  };
  const first = await push((slTrigger * FIRST_PUSH_OF_TRIGGER) / WAD);
  let check = "";
  try {
    await orderBook.connect(keeper).executeOrder.staticCall(slId);
    check = "executable";
  } catch (err) {
    check = decodeRevert(err, orderBook.interface)?.name ?? "reverted";
  }
  out(
    `A market maker buys ${f.usd(first.usdIn)} of ${base} on the thin spot pool: spot ${f.price(first.spotPrice)}; the feeds follow;`,
    `index ${f.price(first.indexPrice)}, mark ${f.price(first.markPrice)}. The keeper checks the stop-loss: ${check} (trigger ${f.price(slTrigger)}).`,
  );
  const liquidationPriceBefore = (await lens.position(positionId)).liquidationPrice;
  const second = await push((slTrigger * SECOND_PUSH_OF_TRIGGER) / WAD);
  const slFired = await mined(orderBook.connect(keeper).executeOrder(slId));
  const slExec = eventOf(slFired, orderBook.interface, "OrderExecuted");
  const closeTrade = eventOf(slFired, engine.interface, "Trade");
  const tpCleanup = await mined(orderBook.connect(keeper).executeOrder(tpId));
  const tpCancelled = eventOf(tpCleanup, orderBook.interface, "OrderCancelled");
  const step8: WalkthroughRecord["step8Close"] = {
    firstPush: { ...first, check },
    secondPush: second,
    stopLoss: {
      markPrice: slExec.markPrice as bigint,
      trigger: slTrigger,
      sizeDelta: slExec.sizeDelta as bigint,
      fillPrice: closeTrade.fillPrice as bigint,
      tradingFee: closeTrade.fee as bigint,
      realizedPnl: closeTrade.realizedPnl as bigint,
      fundingPaid: closeTrade.fundingPaid as bigint,
      keeperEarned: slExec.executionFee as bigint,
      liquidationPriceBefore,
    },
    takeProfitRefund: tpCancelled.refund as bigint,
  };
  out(
    `It buys ${f.usd(second.usdIn)} more: spot ${f.price(second.spotPrice)}, index ${f.price(second.indexPrice)}, mark ${f.price(second.markPrice)}.`,
    `The keeper executes stop-loss #${slId} at mark ${f.price(step8.stopLoss.markPrice)} (trigger ${f.price(slTrigger)}, ` +
      `liquidation ${f.price(liquidationPriceBefore)}):`,
    `bought back ${f.size(step8.stopLoss.sizeDelta)} ${base} at ${f.price(step8.stopLoss.fillPrice)}; realised PnL ` +
      `${f.signedUsd(step8.stopLoss.realizedPnl)}, fee ${f.usd(step8.stopLoss.tradingFee)}, funding ${f.signedUsd(-step8.stopLoss.fundingPaid)}.`,
    `Take-profit #${tpId} has no position left to reduce: the keeper's call cancels it and returns ${f.usd(step8.takeProfitRefund)} to the trader.`,
  );

  /* EPILOGUE: the account's history, from events ---------------------------------------------------------- */
  const history = await historyOf(ex, trader.address, id, firstBlock);
  let tradingFees = 0n;
  let realizedPnl = 0n;
  let fundingPaid = 0n;
  for (const log of await engine.queryFilter(engine.filters.Trade(undefined, trader.address), firstBlock)) {
    tradingFees += log.args.fee;
    realizedPnl += log.args.realizedPnl;
    fundingPaid += log.args.fundingPaid;
  }
  let executionFees = 0n;
  for (const log of await orderBook.queryFilter(
    orderBook.filters.OrderExecuted(undefined, trader.address),
    firstBlock,
  )) {
    if (log.args.keeper !== trader.address) executionFees += log.args.executionFee;
  }
  const totals: WalkthroughRecord["totals"] = {
    tradingFees,
    executionFees,
    realizedPnl,
    fundingPaid,
    expectedFreeBalance: deposit + realizedPnl - tradingFees - fundingPaid - executionFees,
    freeBalance: await vault.freeBalance(trader.address),
  };
  out("", "The account's history, rebuilt from events:");
  for (const h of history) out(`  block ${h.block}  ${h.event.padEnd(15)} ${h.text}`);
  out(
    "",
    ...f.panel([
      ["deposit", f.usd(deposit)],
      ["realised PnL", f.signedUsd(realizedPnl)],
      ["trading fees", f.signedUsd(-tradingFees)],
      ["funding", f.signedUsd(-fundingPaid)],
      ["keeper fees", f.signedUsd(-executionFees)],
      ["= free balance", `${f.usd(totals.expectedFreeBalance)} (the vault says ${f.usd(totals.freeBalance)})`],
    ]),
    "",
  );

  return {
    deployment: ex.deployment,
    market: MARKET,
    marketId: id,
    accounts: {
      trader: trader.address,
      keeper: keeper.address,
      marketMaker: marketMaker.address,
      crowd: crowd.address,
    },
    deposit,
    step1Direction: step1,
    step2Limit: step2,
    step3Leverage: { leverage: LEVERAGE, notionalAtLimit },
    step4Margin: { margin: MARGIN, sizeDelta },
    step5Prices: step5,
    step6Funding: step6,
    step7TpSl: step7,
    step8Close: step8,
    history,
    totals,
  };
}

/* ------------------------------------------------------------------ HELPERS */

function heading(n: number, title: string): void {
  out("", `STEP ${n}. ${title}`);
}

/** (last - index) / index, a signed WAD fraction. */
function premium(last: bigint, index: bigint): bigint {
  return ((last - index) * WAD) / index;
}

function abs(x: bigint): bigint {
  return x < 0n ? -x : x;
}

/** The first (and only) event `name` of `iface` in a receipt, as named arguments. */
function eventOf(receipt: ContractTransactionReceipt, iface: Interface, name: string): Record<string, unknown> {
  for (const log of receipt.logs) {
    const parsed = iface.parseLog(log);
    if (parsed?.name === name) return parsed.args.toObject();
  }
  throw new Error(`walkthrough: expected a ${name} event`);
}

/**
 * The collateral (6 decimals) the spot pool must receive for its price to reach `target`: the smallest
 * amount by bisection over the pool's own quote (x*y=k, the 0.3% fee stays in the pool).
 */
async function usdToReach(market: MarketHandles, target: bigint): Promise<bigint> {
  const [reserveUsd, reserveCoin] = await Promise.all([market.spotPool.reserveUsd(), market.spotPool.reserveCoin()]);
  const priceAfter = (usdIn: bigint) => {
    const inAfterFee = usdIn * SPOT_FEE_BPS;
    const out = (reserveCoin * inAfterFee) / (reserveUsd * BPS + inAfterFee);
    return ((reserveUsd + usdIn) * USD6_TO_WAD * WAD) / (reserveCoin - out);
  };
  if (priceAfter(0n) >= target) return 0n;
  let lo = 0n;
  let hi = reserveUsd;
  while (priceAfter(hi) < target) hi *= 2n;
  while (hi - lo > 1n) {
    const mid = (lo + hi) / 2n;
    if (priceAfter(mid) >= target) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The account's own events on one market (and the market's funding boundaries), oldest first, in words. */
async function historyOf(ex: Exchange, account: string, marketId: bigint, fromBlock: number): Promise<HistoryEntry[]> {
  const { vault, engine, orderBook } = ex;
  const kinds = ["limit open", "limit close", "take-profit", "stop-loss"];
  const rows: { block: number; index: number; event: string; text: string }[] = [];
  const add = (log: { blockNumber: number; index: number }, event: string, text: string) =>
    rows.push({ block: log.blockNumber, index: log.index, event, text });

  for (const log of await vault.queryFilter(vault.filters.Deposited(account), fromBlock)) {
    add(log, "Deposited", `deposited ${f.usd6(log.args.amount)}; free balance ${f.usd(log.args.freeBalance)}`);
  }
  for (const log of await orderBook.queryFilter(
    orderBook.filters.OrderCreated(undefined, account, marketId),
    fromBlock,
  )) {
    const a = log.args;
    const trade = `${a.sizeDelta > 0n ? "buy" : "sell"} ${f.size(abs(a.sizeDelta))}`;
    add(
      log,
      "OrderCreated",
      `#${a.id} ${kinds[Number(a.orderType)]}: ${trade} at ${f.price(a.triggerPrice)}; escrow ${f.usd(a.margin + a.executionFee)}`,
    );
  }
  for (const log of await orderBook.queryFilter(
    orderBook.filters.OrderExecuted(undefined, account, marketId),
    fromBlock,
  )) {
    const a = log.args;
    const mark = a.markPrice !== 0n ? ` at mark ${f.price(a.markPrice)}` : "";
    add(log, "OrderExecuted", `#${a.id} executed by keeper ${a.keeper}${mark}; keeper fee ${f.usd(a.executionFee)}`);
  }
  for (const log of await orderBook.queryFilter(
    orderBook.filters.OrderCancelled(undefined, account, marketId),
    fromBlock,
  )) {
    const why = log.args.reason === 1n ? "no position left to reduce" : "by its owner";
    add(log, "OrderCancelled", `#${log.args.id} cancelled (${why}); refund ${f.usd(log.args.refund)}`);
  }
  for (const log of await orderBook.queryFilter(
    orderBook.filters.OrderExpired(undefined, account, marketId),
    fromBlock,
  )) {
    add(log, "OrderExpired", `#${log.args.id} expired; refund ${f.usd(log.args.refund)}`);
  }
  for (const log of await engine.queryFilter(engine.filters.Trade(undefined, account, marketId), fromBlock)) {
    const a = log.args;
    add(
      log,
      "Trade",
      `${a.sizeDelta > 0n ? "bought" : "sold"} ${f.size(abs(a.sizeDelta))} at ${f.price(a.fillPrice)}; fee ${f.usd(a.fee)}` +
        (a.realizedPnl !== 0n ? `; PnL ${f.signedUsd(a.realizedPnl)}` : "") +
        (a.fundingPaid !== 0n ? `; funding ${f.signedUsd(-a.fundingPaid)}` : ""),
    );
  }
  for (const log of await engine.queryFilter(engine.filters.FundingSettled(marketId), fromBlock)) {
    add(
      log,
      "FundingSettled",
      `funding boundary: rate ${f.pct(log.args.rate, 4, true)}, index ${f.amount(log.args.fundingIndex, 6)}`,
    );
  }
  rows.sort((a, b) => a.block - b.block || a.index - b.index);
  const entries: HistoryEntry[] = [];
  for (const r of rows) {
    const block = await ex.engine.runner!.provider!.getBlock(r.block);
    entries.push({ block: r.block, timestamp: BigInt(block!.timestamp), event: r.event, text: r.text });
  }
  return entries;
}

/* ------------------------------------------------------------------ TASK */

task(
  "walkthrough",
  "Narrates a trader's eight steps (limit short, mark and liquidation price, funding, TP/SL, a squeeze) with real numbers",
)
  .addOptionalParam(
    "deployment",
    "deployment file, with --network localhost (default: deployments/<network>.json)",
    undefined,
    types.string,
  )
  .setAction(async (args: { deployment?: string }, hre) => {
    await runWalkthrough(hre, args);
  });
