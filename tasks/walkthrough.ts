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
import { cliAction, connect, fail, LOCAL_CHAIN_ID, out } from "./common";

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
  /** step 4's comparison: the same 10x short USD-margined and coin-margined; undefined without a coin exchange */
  step4CoinMargined?: CoinMarginedComparison;
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

/**
 * The same short, 10x USD-margined on ALT-USD and coin-margined on ALTUSD-INV, and 1x coin-margined:
 * opened by a second trader on a snapshot of the chain that is rewound after (the story goes on untouched).
 */
export interface CoinMarginedComparison {
  /** USD of face (notional) of each short */
  notional: bigint;
  usdMargined: { margin: bigint; entryPrice: bigint; liquidationPrice: bigint };
  /** margin in ALT; prices USD */
  coinMargined: { contracts: bigint; margin: bigint; entryPrice: bigint; liquidationPrice: bigint };
  /** the 1x coin-margined short: margin the whole notional in ALT; no liquidation price */
  oneX: { contracts: bigint; margin: bigint; liquidationPrice: bigint | undefined };
}

export interface WalkthroughOptions {
  /** deployment file when not in-process */
  deployment?: string;
}

/* ------------------------------------------------------------------ THE WALKTHROUGH */

/** What every step works with: the exchange, the market, the four wallets and a few shared moves. */
interface Scene {
  hre: HardhatRuntimeEnvironment;
  ex: Exchange;
  market: MarketHandles;
  id: bigint;
  /** the market's base coin, e.g. "ALT" */
  base: string;
  deployer: Signer;
  trader: Wallet;
  keeper: Wallet;
  marketMaker: Wallet;
  crowd: Wallet;
  /** the order book's minimum execution fee, USD */
  minFee: bigint;
  /** The custom error's name of a reverted static call (lib/revert, loaded with typechain-types). */
  revertName: (err: unknown, iface: Interface) => string;
}

type Wallet = Signer & { address: string };

/** Runs the eight steps and returns every number printed, step by step. */
export async function runWalkthrough(
  hre: HardhatRuntimeEnvironment,
  opts: WalkthroughOptions = {},
): Promise<WalkthroughRecord> {
  const scene = await setUpScene(hre, opts);
  const firstBlock = await hre.ethers.provider.getBlockNumber();
  const deposit = await depositForTrader(scene);
  const step1Direction = await chooseDirection(scene);
  const placed = await placeLimitOrder(scene, step1Direction);
  const { step3Leverage, step4Margin } = explainLeverageAndMargin(scene, placed);
  const step4CoinMargined = await compareCoinMargined(scene, placed.notionalAtLimit);
  const step2Limit = await fillOnTheRally(scene, step1Direction, placed);
  const step5Prices = await showPrices(scene);
  const step6Funding = await crossFundingBoundary(scene, step2Limit, step5Prices);
  const step7TpSl = await setTakeProfitAndStopLoss(scene, step5Prices);
  const step8Close = await squeezeToTheStopLoss(scene, step7TpSl);
  const { history, totals } = await accountHistory(scene, deposit, firstBlock);
  return {
    deployment: scene.ex.deployment,
    market: MARKET,
    marketId: scene.id,
    accounts: {
      trader: scene.trader.address,
      keeper: scene.keeper.address,
      marketMaker: scene.marketMaker.address,
      crowd: scene.crowd.address,
    },
    deposit,
    step1Direction,
    step2Limit,
    step3Leverage,
    step4Margin,
    step4CoinMargined,
    step5Prices,
    step6Funding,
    step7TpSl,
    step8Close,
    history,
    totals,
  };
}

/** A fresh exchange in-process, or the node's deployment; four fresh wallets with gas. */
async function setUpScene(hre: HardhatRuntimeEnvironment, opts: WalkthroughOptions): Promise<Scene> {
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
    ex = await deploySystem(deployer!);
  } else {
    ex = (await connect(hre, { account: "0", deployment: opts.deployment })).exchange;
  }
  const market = ex.markets.get(MARKET);
  if (!market) fail(`the deployment has no ${MARKET} market`);

  // Fresh wallets each run, so a node that already ran the walkthrough runs it again from scratch.
  const wallet = async (): Promise<Wallet> => {
    const w = ethers.Wallet.createRandom().connect(ethers.provider);
    await ethers.provider.send("hardhat_setBalance", [w.address, GAS_ETH]);
    return w;
  };
  const [trader, keeper, marketMaker, crowd] = [await wallet(), await wallet(), await wallet(), await wallet()];
  return {
    hre,
    ex,
    market,
    id: market.marketId,
    base: MARKET.split("-")[0]!,
    deployer: deployer!,
    trader,
    keeper,
    marketMaker,
    crowd,
    minFee: await ex.orderBook.minExecutionFee(),
    revertName: (err, iface) => decodeRevert(err, iface)?.name ?? "reverted",
  };
}

async function mined(tx: Promise<ContractTransactionResponse>): Promise<ContractTransactionReceipt> {
  return (await (await tx).wait())!;
}

/** Faucet, approve and deposit `usd` for `who`. */
async function fund(s: Scene, who: Wallet, usd: bigint): Promise<void> {
  const { collateral, vault } = s.ex;
  await mined(collateral.connect(who).faucet(who.address, usd6(usd)));
  await mined(collateral.connect(who).approve(vault, usd6(usd)));
  await mined(vault.connect(who).deposit(usd6(usd)));
}

/** Every pushed feed of the market reports `price`. */
async function pushFeeds(s: Scene, price: bigint): Promise<void> {
  for (const feed of s.market.pushedFeeds) await mined(feed.connect(s.deployer).setPrice(toFeedAnswer(price)));
}

async function depositForTrader(s: Scene): Promise<bigint> {
  out("", "The trader's eight steps on a perpetual contract, on the contracts themselves.", "");
  out(`The trader ${s.trader.address} deposits ${f.usd(wad(TRADER_DEPOSIT_USD))} into the vault.`);
  await fund(s, s.trader, TRADER_DEPOSIT_USD);
  return wad(TRADER_DEPOSIT_USD);
}

/** STEP 1: a crowd shorts first, so the trader sees a skew, a premium and who pays funding. */
async function chooseDirection(s: Scene): Promise<WalkthroughRecord["step1Direction"]> {
  const { engine, admin, lens } = s.ex;
  const crowdMargin = (CROWD_SIZE * (await lens.market(s.id)).indexPrice) / WAD / CROWD_LEVERAGE;
  await fund(s, s.crowd, crowdMargin / WAD + CROWD_FEE_ALLOWANCE_USD);
  await mined(engine.connect(s.crowd).increasePosition(s.id, -CROWD_SIZE, crowdMargin, 0n));
  const crowdEntry = (await admin.position(await admin.positionId(s.crowd.address, s.id))).entryPrice;
  const m1 = await lens.market(s.id);
  heading(1, "Choose a direction: long (bet on a rise) or short (bet on a fall)");
  out(
    `A crowd is already short ${f.size(CROWD_SIZE)} ${s.base} (entry ${f.price(crowdEntry)}): the skew is ${f.size(m1.skew)} ${s.base},`,
    `so the perp's last price ${f.price(m1.lastPrice)} trades below the index ${f.price(m1.indexPrice)} (mark ${f.price(m1.markPrice)}):`,
    `a premium of ${f.pct(premium(m1.lastPrice, m1.indexPrice), 4, true)}. Funding settles every 8 h on the premium averaged over the`,
    `interval: while the shorts stay crowded, shorts pay longs (predicted now ${f.pct(m1.predictedFundingRate, 4, true)}; a rate above 0 means longs pay).`,
    `Our trader thinks ${s.base} is overpriced anyway, and goes SHORT.`,
  );
  return {
    side: "short",
    indexPrice: m1.indexPrice,
    markPrice: m1.markPrice,
    lastPrice: m1.lastPrice,
    skew: m1.skew,
    crowdEntry,
    predictedFundingRate: m1.predictedFundingRate,
  };
}

/** STEP 2, first half: the limit order rests above the market; a keeper's early check says why. */
interface PlacedLimit {
  orderId: bigint;
  limitPrice: bigint;
  fillAtCreation: bigint;
  earlyCheck: string;
  notionalAtLimit: bigint;
  sizeDelta: bigint;
}

async function placeLimitOrder(s: Scene, step1: WalkthroughRecord["step1Direction"]): Promise<PlacedLimit> {
  const { admin, orderBook } = s.ex;
  const cfg = await admin.marketConfig(s.id);
  const limitPrice = step1.indexPrice + (step1.indexPrice * LIMIT_ABOVE_INDEX) / WAD;
  const notionalAtLimit = (MARGIN * LEVERAGE) / WAD;
  const sizeDelta = -((notionalAtLimit * WAD) / limitPrice);
  const fillAtCreation = Pricing.fillPrice(step1.indexPrice, step1.skew, sizeDelta, cfg.skewScale);
  const created = await mined(
    orderBook.connect(s.trader).createLimitOpen(s.id, sizeDelta, MARGIN, limitPrice, s.minFee, 0n, false),
  );
  const orderId = eventOf(created, orderBook.interface, "OrderCreated").id as bigint;
  heading(2, "Market or limit? A limit: sell the rally");
  out(
    `A market sell now would fill at ${f.price(fillAtCreation)}. The trader places limit order #${orderId} instead:`,
    `sell at ${f.price(limitPrice)} or better (${f.pct(LIMIT_ABOVE_INDEX, 1)} above the index). The order book escrows`,
    `${f.usd(MARGIN)} margin + ${f.usd(s.minFee)} for the keeper that will execute it.`,
  );
  const earlyCheck = await staticCheck(s, orderId);
  out(`A keeper checks it: not yet (${earlyCheck}: the fill is below the limit).`);
  return { orderId, limitPrice, fillAtCreation, earlyCheck, notionalAtLimit, sizeDelta };
}

/** "executable", or the custom error a keeper's static call of executeOrder meets. */
async function staticCheck(s: Scene, orderId: bigint): Promise<string> {
  const { orderBook } = s.ex;
  try {
    await orderBook.connect(s.keeper).executeOrder.staticCall(orderId);
    return "executable";
  } catch (err) {
    return s.revertName(err, orderBook.interface);
  }
}

/** STEPS 3 and 4: what the order's leverage and margin mean (nothing is sent). */
function explainLeverageAndMargin(
  s: Scene,
  placed: PlacedLimit,
): Pick<WalkthroughRecord, "step3Leverage" | "step4Margin"> {
  heading(3, "Leverage");
  out(`10x: ${f.usd(MARGIN)} of margin controls ${f.usd(placed.notionalAtLimit)} of ${s.base} at the limit price.`);
  heading(4, "Margin and quantity");
  out(
    `Margin ${f.usd(MARGIN)}; quantity ${f.size(-placed.sizeDelta)} ${s.base} = ${f.usd(placed.notionalAtLimit)} / ${f.price(placed.limitPrice)}.`,
  );
  return {
    step3Leverage: { leverage: LEVERAGE, notionalAtLimit: placed.notionalAtLimit },
    step4Margin: { margin: MARGIN, sizeDelta: placed.sizeDelta },
  };
}

const COIN_MARKET = "ALTUSD-INV";

/**
 * STEP 4, continued: the same 10x short margined in USD (ALT-USD) and in ALT (ALTUSD-INV), and a 1x
 * ALT-margined short, opened by a second trader at market on a snapshot of the chain, then rewound.
 */
async function compareCoinMargined(s: Scene, notional: bigint): Promise<CoinMarginedComparison | undefined> {
  const alt = s.ex.coinMargined.get("ALT");
  const inverse = alt?.markets.get(COIN_MARKET);
  if (!alt || !inverse?.inverse) {
    out(`(This deployment has no ${COIN_MARKET}: deploy again to compare a coin-margined short.)`);
    return undefined;
  }
  const { provider } = s.hre.ethers;
  const snapshot = (await provider.send("evm_snapshot", [])) as string;
  try {
    const comparison = await openTwinShorts(s, alt, inverse, notional);
    printComparison(s, comparison);
    return comparison;
  } finally {
    await provider.send("evm_revert", [snapshot]);
  }
}

/** A second trader's 10x ALT-USD short, 10x and 1x ALTUSD-INV shorts of the same notional; their numbers. */
async function openTwinShorts(
  s: Scene,
  alt: Exchange,
  inverse: MarketHandles,
  notional: bigint,
): Promise<CoinMarginedComparison> {
  const { engineSize, reciprocal, usdLiquidationPrice, engineAcceptablePrice } = await import("../lib/coin-margined");
  const { faceOf, marginFor } = await import("./inverse");
  const twin = await freshWallet(s);
  await fund(s, twin, (MARGIN + wad(10)) / WAD);
  const index = (await s.ex.lens.market(s.id)).indexPrice;
  await mined(s.ex.engine.connect(twin).increasePosition(s.id, -((notional * WAD) / index), MARGIN, 0n));
  const usd = await s.ex.lens.position(await s.ex.admin.positionId(twin.address, s.id));

  const face = faceOf(inverse);
  const contracts = notional / face;
  const size = engineSize(contracts, face, false);
  const [m, cfg] = await Promise.all([alt.lens.market(inverse.marketId), alt.admin.marketConfig(inverse.marketId)]);
  const fill = Pricing.fillPrice(m.indexPrice, m.skew, size, cfg.skewScale);
  const margin10 = marginFor(size, fill, LEVERAGE);
  await fundCoin(alt, twin, margin10 + wad(10));
  await mined(
    alt.engine.connect(twin).increasePosition(inverse.marketId, size, margin10, engineAcceptablePrice(0n, false)),
  );
  const coin = await alt.lens.position(await alt.admin.positionId(twin.address, inverse.marketId));
  // The 1x short: a third account's (one position per account and market), its margin the whole coin
  // notional at its own fill, which the first short's skew has moved.
  const m1 = await alt.lens.market(inverse.marketId);
  const margin1 = marginFor(size, Pricing.fillPrice(m1.indexPrice, m1.skew, size, cfg.skewScale), WAD);
  const oneX = await openOneX(s, alt, inverse, size, margin1);
  return {
    notional,
    usdMargined: { margin: usd.margin, entryPrice: usd.entryPrice, liquidationPrice: usd.liquidationPrice },
    coinMargined: {
      contracts,
      margin: coin.margin,
      entryPrice: reciprocal(coin.entryPrice),
      liquidationPrice: usdLiquidationPrice(coin.liquidationPrice, false) ?? 0n,
    },
    oneX: { contracts, margin: oneX.margin, liquidationPrice: usdLiquidationPrice(oneX.liquidationPrice, false) },
  };
}

/** A fresh account's coin-margined short of engine size `size` with `margin` ALT (1x and a little more). */
async function openOneX(s: Scene, alt: Exchange, inverse: MarketHandles, size: bigint, margin: bigint) {
  const { engineAcceptablePrice } = await import("../lib/coin-margined");
  const holder = await freshWallet(s);
  await fundCoin(alt, holder, margin + wad(10));
  await mined(
    alt.engine.connect(holder).increasePosition(inverse.marketId, size, margin, engineAcceptablePrice(0n, false)),
  );
  return alt.lens.position(await alt.admin.positionId(holder.address, inverse.marketId));
}

/** A new wallet with gas. */
async function freshWallet(s: Scene): Promise<Wallet> {
  const w = s.hre.ethers.Wallet.createRandom().connect(s.hre.ethers.provider);
  await s.hre.ethers.provider.send("hardhat_setBalance", [w.address, GAS_ETH]);
  return w;
}

/** Faucet, approve and deposit `amount` (WAD) of a coin exchange's coin for `who`. */
async function fundCoin(ex: Exchange, who: Wallet, amount: bigint): Promise<void> {
  await mined(ex.collateral.connect(who).faucet(who.address, amount));
  await mined(ex.collateral.connect(who).approve(ex.vault, amount));
  await mined(ex.vault.connect(who).deposit(amount));
}

function printComparison(s: Scene, c: CoinMarginedComparison): void {
  const usdDistance = ((c.usdMargined.liquidationPrice - c.usdMargined.entryPrice) * WAD) / c.usdMargined.entryPrice;
  const coinDistance =
    ((c.coinMargined.liquidationPrice - c.coinMargined.entryPrice) * WAD) / c.coinMargined.entryPrice;
  out(
    "",
    `Margin in USD or in the coin? A second trader opens the same ${f.usd(c.notional)} short at 10x both ways`,
    `(at market, on a snapshot of the chain that is rewound after):`,
    ...f.panel([
      [
        `${MARKET} (USD-margined)`,
        `margin ${f.usd(c.usdMargined.margin)}, entry ${f.price(c.usdMargined.entryPrice)}, ` +
          `LIQUIDATION PRICE ${f.price(c.usdMargined.liquidationPrice)} (${f.pct(usdDistance, 2, true)} from entry)`,
      ],
      [
        `${COIN_MARKET} (ALT-margined)`,
        `${c.coinMargined.contracts} contracts of 10 USD, margin ${f.coin(c.coinMargined.margin, s.base)}, entry ` +
          `${f.price(c.coinMargined.entryPrice)}, LIQUIDATION PRICE ${f.price(c.coinMargined.liquidationPrice)} ` +
          `(${f.pct(coinDistance, 2, true)} from entry)`,
      ],
      [
        `${COIN_MARKET} at 1x`,
        `margin ${f.coin(c.oneX.margin, s.base)} (the whole notional in ALT), LIQUIDATION PRICE ` +
          (c.oneX.liquidationPrice === undefined ? "none" : f.price(c.oneX.liquidationPrice)),
      ],
    ]),
    `The ALT-margined short's loss in ALT grows as notional * (1/entry - 1/P), slower than the price, so it is`,
    `liquidated further away; at 1x its margin is the dollars it is short, held in ALT: a synthetic dollar.`,
  );
}

/** STEP 2, second half: the feeds rally, a keeper fills the limit order. */
async function fillOnTheRally(
  s: Scene,
  step1: WalkthroughRecord["step1Direction"],
  placed: PlacedLimit,
): Promise<WalkthroughRecord["step2Limit"]> {
  const { engine, lens, orderBook, vault } = s.ex;
  await pushFeeds(s, step1.indexPrice + (step1.indexPrice * RALLY) / WAD);
  const filled = await mined(orderBook.connect(s.keeper).executeOrder(placed.orderId));
  const openTrade = eventOf(filled, engine.interface, "Trade");
  const step2: WalkthroughRecord["step2Limit"] = {
    orderId: placed.orderId,
    limitPrice: placed.limitPrice,
    fillAtCreation: placed.fillAtCreation,
    earlyCheck: placed.earlyCheck,
    rallyIndex: (await lens.market(s.id)).indexPrice,
    fillPrice: openTrade.fillPrice as bigint,
    tradingFee: openTrade.fee as bigint,
    executionFee: s.minFee,
    keeperEarned: await vault.freeBalance(s.keeper.address),
  };
  out(
    "",
    `The price rallies: the pushed feeds (stand-ins for other exchanges) report ${f.price(step2.rallyIndex)}.`,
    `A keeper calls executeOrder(#${placed.orderId}): sold ${f.size(-placed.sizeDelta)} ${s.base} at ${f.price(step2.fillPrice)} ` +
      `(limit ${f.price(placed.limitPrice)}), trading fee ${f.usd(step2.tradingFee)}; the keeper earned ${f.usd(step2.keeperEarned)}.`,
  );
  return step2;
}

/** STEP 5: mark, index, last and the liquidation price. */
async function showPrices(s: Scene): Promise<WalkthroughRecord["step5Prices"]> {
  const { admin, lens } = s.ex;
  const positionId = await admin.positionId(s.trader.address, s.id);
  const [p5, m5] = await Promise.all([lens.position(positionId), lens.market(s.id)]);
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
      ["position", `${f.size(-p5.size)} ${s.base} short, entry ${f.price(p5.entryPrice)}, margin ${f.usd(p5.margin)}`],
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
  return step5;
}

/** STEP 6: time moves to the funding boundary; a keeper settles it; the position owes its share. */
async function crossFundingBoundary(
  s: Scene,
  step2: WalkthroughRecord["step2Limit"],
  step5: WalkthroughRecord["step5Prices"],
): Promise<WalkthroughRecord["step6Funding"]> {
  const { engine, admin, lens } = s.ex;
  const provider = s.hre.ethers.provider;
  const [cfg, st6, pos6] = await Promise.all([
    admin.marketConfig(s.id),
    admin.marketState(s.id),
    admin.position(step5.positionId),
  ]);
  const boundary = BigInt(st6.lastFundingTime) + BigInt(cfg.fundingInterval);
  const latest = BigInt((await provider.getBlock("latest"))!.timestamp);
  await provider.send("evm_setNextBlockTimestamp", [Number(boundary > latest ? boundary : latest + 1n)]);
  await pushFeeds(s, step2.rallyIndex); // the feeds' heartbeat is an hour: the oracle keeps pushing
  const settled = await mined(engine.connect(s.keeper).settleFunding(s.id));
  const funding = eventOf(settled, engine.interface, "FundingSettled");
  const p6 = await lens.position(step5.positionId);
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
    `interest term clamped): the funding index moved ${f.amount(step6.fundingIndexAfter - step6.fundingIndexBefore, 6)} USD per ${s.base}.`,
    `The trader's ${f.size(-step5.size)} ${s.base} short ${step6.fundingOwed >= 0n ? "owes" : "is owed"} ${f.usd(abs(step6.fundingOwed))} ` +
      `(size * index change, rounded up), counted in equity now and taken from margin at the next touch.`,
  );
  return step6;
}

/** STEP 7: a take-profit below the entry and a stop-loss above it, short of the liquidation price. */
async function setTakeProfitAndStopLoss(
  s: Scene,
  step5: WalkthroughRecord["step5Prices"],
): Promise<WalkthroughRecord["step7TpSl"]> {
  const { lens, orderBook } = s.ex;
  const size = -step5.size;
  const entry = step5.entryPrice;
  const tpTrigger = entry - (entry * TAKE_PROFIT_BELOW_ENTRY) / WAD;
  const slTrigger = entry + (entry * STOP_LOSS_ABOVE_ENTRY) / WAD;
  const tpAcceptable = tpTrigger + (tpTrigger * TAKE_PROFIT_TOLERANCE) / WAD;
  const slAcceptable = slTrigger + (slTrigger * STOP_LOSS_TOLERANCE) / WAD;
  const book = orderBook.connect(s.trader);
  const tpTx = await mined(book.createTriggerOrder(s.id, TAKE_PROFIT, size, tpTrigger, tpAcceptable, s.minFee, 0n));
  const slTx = await mined(book.createTriggerOrder(s.id, STOP_LOSS, size, slTrigger, slAcceptable, s.minFee, 0n));
  const tpId = eventOf(tpTx, orderBook.interface, "OrderCreated").id as bigint;
  const slId = eventOf(slTx, orderBook.interface, "OrderCreated").id as bigint;
  const p7 = await lens.position(step5.positionId);
  heading(7, "Take-profit and stop-loss");
  out(
    `Take-profit #${tpId}: buy back ${f.size(size)} ${s.base} when the mark falls to ${f.price(tpTrigger)} (fill no worse than ${f.price(tpAcceptable)}).`,
    `Stop-loss   #${slId}: buy back when the mark rises to ${f.price(slTrigger)} (fill no worse than ${f.price(slAcceptable)}),`,
    `below the liquidation price ${f.price(p7.liquidationPrice)}. Both are reduce-only; each escrows ${f.usd(s.minFee)} for its keeper.`,
  );
  return {
    takeProfit: { id: tpId, trigger: tpTrigger, acceptable: tpAcceptable },
    stopLoss: { id: slId, trigger: slTrigger, acceptable: slAcceptable },
    liquidationPrice: p7.liquidationPrice,
    executionFee: s.minFee,
  };
}

/** A market-maker buy that lifts spot to `target`, the feeds following; the prices after it. */
async function pushSpotTo(s: Scene, target: bigint): Promise<WalkthroughRecord["step8Close"]["secondPush"]> {
  const { collateral, lens } = s.ex;
  const usdIn = await usdToReach(s.market, target);
  if (usdIn > 0n) {
    await mined(collateral.connect(s.marketMaker).faucet(s.marketMaker.address, usdIn));
    await mined(s.market.spotPool.connect(s.marketMaker).swap(true, usdIn, 0n, s.marketMaker.address));
  }
  const spot = await s.market.spotPool.spotPrice();
  await pushFeeds(s, spot); // the other venues follow the pump (arbitrage)
  const m = await lens.market(s.id);
  return { usdIn: usdIn * USD6_TO_WAD, spotPrice: spot, indexPrice: m.indexPrice, markPrice: m.markPrice };
}

/** STEP 8: the market maker pushes spot past the stop-loss; a keeper closes the position with it. */
async function squeezeToTheStopLoss(
  s: Scene,
  step7: WalkthroughRecord["step7TpSl"],
): Promise<WalkthroughRecord["step8Close"]> {
  const { engine, lens, orderBook, collateral, admin } = s.ex;
  const slTrigger = step7.stopLoss.trigger;
  const slId = step7.stopLoss.id;
  const tpId = step7.takeProfit.id;
  heading(8, "Closing: here the stop-loss closes it, executed by a keeper");
  await mined(collateral.connect(s.marketMaker).approve(s.market.spotPool, s.hre.ethers.MaxUint256));
  const first = await pushSpotTo(s, (slTrigger * FIRST_PUSH_OF_TRIGGER) / WAD);
  const check = await staticCheck(s, slId);
  out(
    `A market maker buys ${f.usd(first.usdIn)} of ${s.base} on the thin spot pool: spot ${f.price(first.spotPrice)}; the feeds follow;`,
    `index ${f.price(first.indexPrice)}, mark ${f.price(first.markPrice)}. The keeper checks the stop-loss: ${check} (trigger ${f.price(slTrigger)}).`,
  );
  const positionId = await admin.positionId(s.trader.address, s.id);
  const liquidationPriceBefore = (await lens.position(positionId)).liquidationPrice;
  const second = await pushSpotTo(s, (slTrigger * SECOND_PUSH_OF_TRIGGER) / WAD);
  const slFired = await mined(orderBook.connect(s.keeper).executeOrder(slId));
  const slExec = eventOf(slFired, orderBook.interface, "OrderExecuted");
  const closeTrade = eventOf(slFired, engine.interface, "Trade");
  const tpCleanup = await mined(orderBook.connect(s.keeper).executeOrder(tpId));
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
    `bought back ${f.size(step8.stopLoss.sizeDelta)} ${s.base} at ${f.price(step8.stopLoss.fillPrice)}; realised PnL ` +
      `${f.signedUsd(step8.stopLoss.realizedPnl)}, fee ${f.usd(step8.stopLoss.tradingFee)}, funding ${f.signedUsd(-step8.stopLoss.fundingPaid)}.`,
    `Take-profit #${tpId} has no position left to reduce: the keeper's call cancels it and returns ${f.usd(step8.takeProfitRefund)} to the trader.`,
  );
  return step8;
}

/** EPILOGUE: the account's history from events, and the free balance it adds up to. */
async function accountHistory(
  s: Scene,
  deposit: bigint,
  firstBlock: number,
): Promise<Pick<WalkthroughRecord, "history" | "totals">> {
  const { engine, orderBook, vault } = s.ex;
  const trader = s.trader.address;
  const history = await historyOf(s.ex, trader, s.id, firstBlock);
  let tradingFees = 0n;
  let realizedPnl = 0n;
  let fundingPaid = 0n;
  for (const log of await engine.queryFilter(engine.filters.Trade(undefined, trader), firstBlock)) {
    tradingFees += log.args.fee;
    realizedPnl += log.args.realizedPnl;
    fundingPaid += log.args.fundingPaid;
  }
  let executionFees = 0n;
  for (const log of await orderBook.queryFilter(orderBook.filters.OrderExecuted(undefined, trader), firstBlock)) {
    if (log.args.keeper !== trader) executionFees += log.args.executionFee;
  }
  const totals: WalkthroughRecord["totals"] = {
    tradingFees,
    executionFees,
    realizedPnl,
    fundingPaid,
    expectedFreeBalance: deposit + realizedPnl - tradingFees - fundingPaid - executionFees,
    freeBalance: await vault.freeBalance(trader),
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
  return { history, totals };
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
  .setAction(
    cliAction("walkthrough", async (args: { deployment?: string }, hre) => {
      await runWalkthrough(hre, args);
    }),
  );
