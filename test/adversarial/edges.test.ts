/**
 * Edges the scenario tests do not reach: every invalid market configuration and tier list is refused
 * with the field it breaks; the oracle refuses malformed source lists; the vault keeps its books even
 * against a buggy operator or pool (it refuses unbalanced, overdrawn and unbacked movements); the spot
 * pool refuses what would move its price or pay nothing; the feeds' and strategies' metadata; and the
 * lens at its corners (a long that cannot be liquidated, an ADL score, closed ids).
 */
import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import {
  PerpEngine__factory,
  PremiumFundingModel__factory,
  SpotPool__factory,
  SpotTwapFeed__factory,
} from "../../typechain-types";
import type { MarketConfigStruct, TierStruct } from "../../typechain-types/contracts/core/PerpEngineAdmin";
import { deploySystem, marketConfig, symbolBytes, tiersOf } from "../../lib/deploy";
import { ALT_USD } from "../../lib/markets";
import { toFeedAnswer, usd6, wad, WAD } from "../../lib/units";
import { closeAll, createControlledMarket, exchangeFixture, fund, openSize } from "../helpers/fixtures";
import { expectConservation } from "../helpers/conservation";

const field = (name: string): string => ethers.encodeBytes32String(name);
const USD6_TO_WAD = 10n ** 12n;
/** The engine stores funding rates in units of 1e-9 (PerpEngineStorage.RATE_UNIT, in WAD wei). */
const RATE_UNIT = 10n ** 9n;
/** ... and trade rates (fees, shares, bands, factors) in units of 1e-7 (TRADE_RATE_UNIT). */
const TRADE_RATE_UNIT = 10n ** 11n;

async function configFixture() {
  const f = await exchangeFixture();
  const c = f.ex.deployment.contracts;
  const cfg = await marketConfig(ALT_USD, c.fundingModel);
  return { ...f, cfg, tiers: tiersOf(ALT_USD) };
}

describe("adversarial edges", () => {
  describe("deployment", () => {
    it("refuses an engine whose vault, oracle or admin module is not a contract", async () => {
      const { ex, deployer } = await loadFixture(exchangeFixture);
      const [vault, oracle, module] = [ex.vault, ex.oracle, ex.deployment.contracts.engineAdmin];
      const factory = new PerpEngine__factory(deployer);
      const nobody = ethers.Wallet.createRandom().address;
      for (const args of [
        [nobody, oracle, module],
        [vault, nobody, module],
        [vault, oracle, nobody],
      ] as const) {
        await expect(factory.deploy(args[0], args[1], args[2], deployer.address))
          .to.be.revertedWithCustomError(factory, "NotAContract")
          .withArgs(nobody);
      }
      await (await factory.deploy(vault, oracle, module, deployer.address)).waitForDeployment();
    });
  });

  describe("market configuration", () => {
    const invalid: {
      name: string;
      change: (c: MarketConfigStruct, eoa: string) => MarketConfigStruct;
      field: string;
    }[] = [
      { name: "a zero skew scale", change: (c) => ({ ...c, skewScale: 0n }), field: "skewScale" },
      { name: "a zero open-interest cap", change: (c) => ({ ...c, maxOpenInterest: 0n }), field: "maxOpenInterest" },
      {
        name: "an open-interest cap at the skew scale (the last price could reach 0)",
        change: (c) => ({ ...c, maxOpenInterest: c.skewScale }),
        field: "maxOpenInterest",
      },
      {
        name: "an open-interest cap above 2^95 - 1 (a position's stored size, signed in 96 bits)",
        change: (c) => ({ ...c, skewScale: (2n ** 64n - 1n) * WAD, maxOpenInterest: (2n ** 95n / WAD + 1n) * WAD }),
        field: "maxOpenInterest",
      },
      // Stored units: the skew scale and the cap in whole base units, 64 bits.
      {
        name: "a skew scale with a fraction of a base unit",
        change: (c) => ({ ...c, skewScale: BigInt(c.skewScale) + 1n }),
        field: "skewScale",
      },
      {
        name: "a skew scale of 2^64 base units",
        change: (c) => ({ ...c, skewScale: 2n ** 64n * WAD }),
        field: "skewScale",
      },
      {
        name: "an open-interest cap with a fraction of a base unit",
        change: (c) => ({ ...c, maxOpenInterest: BigInt(c.maxOpenInterest) - 1n }),
        field: "maxOpenInterest",
      },
      { name: "a taker fee above 10%", change: (c) => ({ ...c, takerFee: wad("0.1") + 1n }), field: "fees" },
      {
        name: "a maker fee above the taker fee",
        change: (c) => ({ ...c, makerFee: BigInt(c.takerFee) + 1n }),
        field: "fees",
      },
      {
        name: "an insurance share above 100%",
        change: (c) => ({ ...c, insuranceFeeShare: WAD + 1n }),
        field: "insuranceFeeShare",
      },
      { name: "a zero funding interval", change: (c) => ({ ...c, fundingInterval: 0n }), field: "fundingInterval" },
      { name: "a funding cap above 10%", change: (c) => ({ ...c, fundingCap: wad("0.1") + 1n }), field: "fundingCap" },
      { name: "a mark band of 100%", change: (c) => ({ ...c, markBand: WAD }), field: "markBand" },
      {
        name: "a funding model with no code",
        change: (c, eoa) => ({ ...c, fundingModel: eoa }),
        field: "fundingModel",
      },
      { name: "a zero minimum margin", change: (c) => ({ ...c, minMargin: 0n }), field: "minMargin" },
      {
        name: "a liquidation fee at the first tier's maintenance rate",
        change: (c) => ({ ...c, liquidationFeeRate: wad(ALT_USD.tiers[0].mmr) }),
        field: "liquidationFeeRate",
      },
      // Stored units: trade rates in 1e-7, funding rates in 1e-9, the minimums in 1e-6 USD, the funding
      // clock in 24 bits of seconds; what they cannot hold is refused.
      {
        name: "a taker fee finer than 1e-7 (by 1e-9)",
        change: (c) => ({ ...c, takerFee: BigInt(c.takerFee) + RATE_UNIT }),
        field: "takerFee",
      },
      {
        name: "a maximum PnL factor finer than 1e-7",
        change: (c) => ({ ...c, maxPnlFactor: BigInt(c.maxPnlFactor) - 1n }),
        field: "maxPnlFactor",
      },
      {
        name: "a funding interval of 2^24 seconds",
        change: (c) => ({ ...c, fundingInterval: 2n ** 24n }),
        field: "fundingInterval",
      },
      {
        name: "an EMA half-life of 2^24 seconds",
        change: (c) => ({ ...c, emaHalfLife: 2n ** 24n }),
        field: "emaHalfLife",
      },
      {
        name: "a funding interest rate finer than 1e-9",
        change: (c) => ({ ...c, fundingInterestRate: BigInt(c.fundingInterestRate) + 1n }),
        field: "fundingInterestRate",
      },
      {
        name: "a negative funding interest rate finer than 1e-9",
        change: (c) => ({ ...c, fundingInterestRate: -BigInt(c.fundingInterestRate) - 1n }),
        field: "fundingInterestRate",
      },
      {
        name: "a funding interest rate below -2^31 stored units",
        change: (c) => ({ ...c, fundingInterestRate: -(2n ** 31n + 1n) * RATE_UNIT }),
        field: "fundingInterestRate",
      },
      {
        name: "a reserve factor of 2^24 stored units",
        change: (c) => ({ ...c, reserveFactor: 2n ** 24n * TRADE_RATE_UNIT }),
        field: "reserveFactor",
      },
      {
        name: "a minimum position notional finer than 1e-6 USD",
        change: (c) => ({ ...c, minPositionNotional: BigInt(c.minPositionNotional) + 1n }),
        field: "minPositionNotional",
      },
      {
        name: "a minimum margin finer than 1e-6 USD",
        change: (c) => ({ ...c, minMargin: BigInt(c.minMargin) + 1n }),
        field: "minMargin",
      },
      {
        name: "a minimum liquidation fee of 2^40 stored units",
        change: (c) => ({ ...c, minLiquidationFee: 2n ** 40n * 10n ** 12n }),
        field: "minLiquidationFee",
      },
    ];
    for (const c of invalid) {
      it(`refuses ${c.name}, naming the field, on update and on creation`, async () => {
        const { ex, deployer, alt, cfg, tiers } = await loadFixture(configFixture);
        const bad = c.change(cfg, deployer.address);
        await expect(ex.admin.setMarketConfig(alt.marketId, bad))
          .to.be.revertedWithCustomError(ex.admin, "InvalidConfig")
          .withArgs(field(c.field));
        await expect(ex.admin.createMarket({ ...bad, symbol: symbolBytes("NEW-USD") }, tiers))
          .to.be.revertedWithCustomError(ex.admin, "InvalidConfig")
          .withArgs(field(c.field));
      });
    }

    it("refuses a zero symbol, a duplicate symbol, and updates, tiers or pauses of an unknown market", async () => {
      const { ex, alt, cfg, tiers } = await loadFixture(configFixture);
      await expect(ex.admin.createMarket({ ...cfg, symbol: ethers.ZeroHash }, tiers))
        .to.be.revertedWithCustomError(ex.admin, "InvalidConfig")
        .withArgs(field("symbol"));
      await expect(ex.admin.createMarket(cfg, tiers))
        .to.be.revertedWithCustomError(ex.admin, "DuplicateSymbol")
        .withArgs(cfg.symbol);
      await expect(ex.admin.setMarketConfig(alt.marketId, { ...cfg, symbol: symbolBytes("BTC-USD") }))
        .to.be.revertedWithCustomError(ex.admin, "UnknownMarket")
        .withArgs(alt.marketId);
      await expect(ex.admin.setMarketConfig(99, cfg))
        .to.be.revertedWithCustomError(ex.admin, "UnknownMarket")
        .withArgs(99);
      await expect(ex.admin.setTiers(99, tiers)).to.be.revertedWithCustomError(ex.admin, "UnknownMarket").withArgs(99);
      await expect(ex.admin.setPaused(99, true)).to.be.revertedWithCustomError(ex.admin, "UnknownMarket").withArgs(99);
    });

    it("stores every field in its packed slot and reads it back exactly, at the edges of its units", async () => {
      const { ex, alt, cfg, tiers } = await loadFixture(configFixture);
      const maxRate = (2n ** 32n - 1n) * RATE_UNIT;
      const maxTradeRate = (2n ** 24n - 1n) * TRADE_RATE_UNIT;
      const edge: MarketConfigStruct = {
        ...cfg,
        skewScale: (2n ** 64n - 1n) * WAD, // the largest uint64 in whole base units
        maxOpenInterest: ((2n ** 95n - 1n) / WAD) * WAD, // the widest whole cap a position's stored size holds
        takerFee: wad("0.1"),
        makerFee: TRADE_RATE_UNIT,
        insuranceFeeShare: WAD,
        markBand: WAD - TRADE_RATE_UNIT,
        reserveFactor: maxTradeRate,
        maxPnlFactor: WAD,
        partialLiquidationBuffer: maxTradeRate,
        fundingInterestRate: -(2n ** 31n) * RATE_UNIT, // the most negative int32: its sign survives the slot
        fundingClamp: maxRate - RATE_UNIT,
        fundingCap: wad("0.1"),
        fundingInterval: 2n ** 24n - 1n,
        emaHalfLife: 2n ** 24n - 2n,
        minPositionNotional: (2n ** 40n - 1n) * 10n ** 12n, // the largest uint40 in 1e-6 USD
        minLiquidationFee: (2n ** 40n - 2n) * 10n ** 12n,
        minMargin: (2n ** 40n - 3n) * 10n ** 12n,
        maxFundingVelocity: 2n ** 64n - 1n,
        oracleGracePeriod: 2n ** 32n - 1n,
      };
      await (await ex.admin.setMarketConfig(alt.marketId, edge)).wait();
      const back = await ex.admin.marketConfig(alt.marketId);
      for (const [key, value] of Object.entries(edge)) {
        expect(back[key as keyof MarketConfigStruct], key).to.equal(value);
      }
      // The tier count lives in the config's slot: a new config keeps it; new tiers replace it.
      expect(await ex.admin.tiers(alt.marketId)).to.have.length(tiers.length);
      await (await ex.admin.setTiers(alt.marketId, [tiers[0]])).wait();
      expect(await ex.admin.tiers(alt.marketId)).to.have.length(1);
      await (await ex.admin.setTiers(alt.marketId, tiers)).wait();
      expect((await ex.admin.tiers(alt.marketId)).map((t) => t.notionalCap)).to.deep.equal(
        tiers.map((t) => BigInt(t.notionalCap)),
      );
    });

    type TierRow = { notionalCap: bigint; maintenanceAmount: bigint; mmr: bigint; maxLeverage: bigint };
    const tierRow = (cap: number, mmr: string, lev: string): TierRow => ({
      notionalCap: wad(cap),
      maintenanceAmount: 0n,
      mmr: wad(mmr),
      maxLeverage: wad(lev),
    });
    const good = [tierRow(50_000, "0.005", "50"), tierRow(250_000, "0.01", "25")];
    const badTiers: { name: string; tiers: TierRow[]; index: number; field: string }[] = [
      { name: "no tier", tiers: [], index: 0, field: "count" },
      {
        name: "eleven tiers",
        tiers: Array.from({ length: 11 }, (_, i) => tierRow(10_000 * (i + 1), "0.005", "50")),
        index: 11,
        field: "count",
      },
      { name: "a zero maintenance rate", tiers: [tierRow(50_000, "0", "50")], index: 0, field: "mmr" },
      { name: "a maintenance rate of 100%", tiers: [tierRow(50_000, "1", "1")], index: 0, field: "mmr" },
      { name: "a maximum leverage below 1x", tiers: [tierRow(50_000, "0.005", "0.5")], index: 0, field: "maxLeverage" },
      {
        name: "a maximum leverage whose initial margin is not above maintenance (200x at 0.5%)",
        tiers: [tierRow(50_000, "0.005", "200")],
        index: 0,
        field: "maxLeverage",
      },
      {
        name: "a cap above what a stored tier holds (uint96, 79 billion USD)",
        tiers: [tierRow(80_000_000_000, "0.005", "50")],
        index: 0,
        field: "notionalCap",
      },
      {
        name: "a maximum leverage above what a stored tier holds (uint96)",
        tiers: [tierRow(50_000, "0.000000000001", "100000000000")],
        index: 0,
        field: "maxLeverage",
      },
      {
        name: "caps that do not rise",
        tiers: [good[0], tierRow(50_000, "0.01", "25")],
        index: 1,
        field: "notionalCap",
      },
      {
        name: "a maintenance rate that falls",
        tiers: [good[0], tierRow(250_000, "0.004", "25")],
        index: 1,
        field: "mmr",
      },
      {
        name: "a maximum leverage that rises",
        tiers: [good[0], tierRow(250_000, "0.01", "60")],
        index: 1,
        field: "maxLeverage",
      },
    ];
    for (const c of badTiers) {
      it(`refuses tiers with ${c.name}`, async () => {
        const { ex, alt } = await loadFixture(configFixture);
        await expect(ex.admin.setTiers(alt.marketId, c.tiers as TierStruct[]))
          .to.be.revertedWithCustomError(ex.admin, "InvalidTiers")
          .withArgs(c.index, field(c.field));
      });
    }

    it("refuses tiers whose first maintenance rate is not above the liquidation fee rate", async () => {
      const { ex, alt } = await loadFixture(configFixture);
      await expect(ex.admin.setTiers(alt.marketId, [tierRow(50_000, ALT_USD.liquidationFeeRate, "50")]))
        .to.be.revertedWithCustomError(ex.admin, "InvalidConfig")
        .withArgs(field("liquidationFeeRate"));
    });

    it("accepts valid tiers and derives continuous maintenance amounts", async () => {
      const { ex, alt } = await loadFixture(configFixture);
      await expect(ex.admin.setTiers(alt.marketId, good)).to.emit(ex.admin, "TiersSet");
      const stored = await ex.admin.tiers(alt.marketId);
      // amt_2 = cap_1 * (mmr_2 - mmr_1) = 50,000 * 0.005 = 250
      expect(stored.map((t) => t.maintenanceAmount)).to.deep.equal([0n, wad(250)]);
    });
  });

  describe("oracle sources", () => {
    it("refuses an empty list, more than 7 sources, mismatched lengths and a zero heartbeat", async () => {
      const { ex, alt } = await loadFixture(exchangeFixture);
      const feed = await alt.pushedFeeds[0].getAddress();
      await expect(ex.oracle.setSources(alt.marketId, [], [])).to.be.revertedWithCustomError(ex.oracle, "NoSources");
      await expect(ex.oracle.setSources(alt.marketId, Array(8).fill(feed), Array(8).fill(60)))
        .to.be.revertedWithCustomError(ex.oracle, "TooManySources")
        .withArgs(8, 7);
      await expect(ex.oracle.setSources(alt.marketId, [feed, feed], [60]))
        .to.be.revertedWithCustomError(ex.oracle, "LengthMismatch")
        .withArgs(2, 1);
      await expect(ex.oracle.setSources(alt.marketId, [feed], [0]))
        .to.be.revertedWithCustomError(ex.oracle, "InvalidHeartbeat")
        .withArgs(feed);
      const sources = await ex.oracle.sources(alt.marketId);
      expect(sources.map((s) => [s.feed, s.decimals, s.heartbeat])).to.deep.equal([
        ...(await Promise.all(alt.pushedFeeds.map(async (x) => [await x.getAddress(), 8n, 3_600n]))),
        [await alt.twapFeed.getAddress(), 18n, 3_600n],
      ]);
    });
  });

  describe("feeds and strategies", () => {
    it("a pushed feed serves its current round only, refuses answers outside (0, int128 max], and reports its version", async () => {
      const { alt } = await loadFixture(exchangeFixture);
      const feed = alt.pushedFeeds[0];
      await (await feed.setPrice(toFeedAnswer(wad("2.5")))).wait();
      const latest = await feed.latestRoundData();
      expect(await feed.getRoundData(latest[0])).to.deep.equal(latest);
      await expect(feed.getRoundData(latest[0] - 1n))
        .to.be.revertedWithCustomError(feed, "RoundNotAvailable")
        .withArgs(latest[0] - 1n);
      await expect(feed.getRoundData(0)).to.be.revertedWithCustomError(feed, "RoundNotAvailable");
      const int128Max = 2n ** 127n - 1n;
      for (const answer of [0n, -1n, int128Max + 1n]) {
        await expect(feed.setPrice(answer)).to.be.revertedWithCustomError(feed, "PriceOutOfRange").withArgs(answer);
      }
      expect(await feed.version()).to.equal(1n);
      expect(await feed.description()).to.equal("ALT-USD feed 1");
    });

    it("the TWAP adapter answers for the current block's round only", async () => {
      const { alt } = await loadFixture(exchangeFixture);
      const feed = alt.twapFeed;
      // The round is the block a call runs in.
      const latest = await feed.latestRoundData();
      const round = await feed.getRoundData(latest[0]);
      expect(round).to.deep.equal(latest);
      expect(round[1]).to.equal(wad(2));
      await expect(feed.getRoundData(latest[0] - 1n))
        .to.be.revertedWithCustomError(feed, "RoundNotAvailable")
        .withArgs(latest[0] - 1n);
      expect(await feed.description()).to.equal("spot pool TWAP");
      expect(await feed.version()).to.equal(1n);
      expect(await feed.decimals()).to.equal(18n);
    });

    it("the strategies name themselves", async () => {
      const [deployer] = await ethers.getSigners();
      expect(await (await new PremiumFundingModel__factory(deployer).deploy()).name()).to.equal("premium-index");
    });
  });

  describe("the vault against a buggy operator or pool", () => {
    async function rogueFixture() {
      const f = await exchangeFixture();
      const [, , , , , rogue] = await ethers.getSigners();
      await (await f.ex.vault.grantRole(await f.ex.vault.OPERATOR_ROLE(), rogue.address)).wait();
      await (await f.ex.vault.grantRole(await f.ex.vault.POOL_ROLE(), rogue.address)).wait();
      return { ...f, rogue };
    }
    const none = {
      account: ethers.ZeroAddress,
      accountDelta: 0n,
      counterparty: ethers.ZeroAddress,
      counterpartyDelta: 0n,
      marginDelta: 0n,
      escrowDelta: 0n,
      poolDelta: 0n,
      insuranceDelta: 0n,
    };

    it("refuses settlements that do not sum to zero, overdraw a balance or a ledger", async () => {
      const { ex, rogue, traders, accounts } = await loadFixture(rogueFixture);
      const vault = ex.vault.connect(rogue);
      const trader = traders[0].address;
      const free = await ex.vault.freeBalance(trader);
      await expect(vault.settle({ ...none, account: trader, accountDelta: 1n }))
        .to.be.revertedWithCustomError(vault, "SettlementNotBalanced")
        .withArgs(1n);
      await expect(vault.settle({ ...none, account: trader, accountDelta: -(free + 1n), poolDelta: free + 1n }))
        .to.be.revertedWithCustomError(vault, "InsufficientBalance")
        .withArgs(trader, free, free + 1n);
      const margin = await ex.vault.totalMargin();
      await expect(vault.settle({ ...none, marginDelta: -(margin + 1n), poolDelta: margin + 1n }))
        .to.be.revertedWithCustomError(vault, "InsufficientLedger")
        .withArgs(1, margin, margin + 1n);
      await expect(vault.settle({ ...none, escrowDelta: -1n, insuranceDelta: 1n }))
        .to.be.revertedWithCustomError(vault, "InsufficientLedger")
        .withArgs(2, 0n, 1n);
      const insurance = await ex.vault.insuranceFund();
      await expect(vault.settle({ ...none, insuranceDelta: -(insurance + 1n), escrowDelta: insurance + 1n }))
        .to.be.revertedWithCustomError(vault, "InsufficientLedger")
        .withArgs(4, insurance, insurance + 1n);
      // A balanced settlement between two free balances goes through, and moves exactly them.
      const other = traders[1].address;
      const [before, otherBefore] = [await ex.vault.freeBalance(trader), await ex.vault.freeBalance(other)];
      await (
        await vault.settle({ ...none, account: trader, accountDelta: -5n, counterparty: other, counterpartyDelta: 5n })
      ).wait();
      expect(await ex.vault.freeBalance(trader)).to.equal(before - 5n);
      expect(await ex.vault.freeBalance(other)).to.equal(otherBefore + 5n);
      await expectConservation(ex, [], accounts);
    });

    it("lets the first operator granted (the engine) settle without the role lookup only while it holds the role", async () => {
      const { ex, rogue, traders, alt } = await loadFixture(rogueFixture);
      const engine = await ex.engine.getAddress();
      const role = await ex.vault.OPERATOR_ROLE();
      expect(await ex.vault.fastOperator(), "the engine, granted first by deploySystem").to.equal(engine);
      expect(await ex.vault.hasRole(role, rogue.address)).to.equal(true);
      await (await ex.vault.revokeRole(role, engine)).wait();
      expect(await ex.vault.fastOperator(), "cleared with the engine's role").to.equal(ethers.ZeroAddress);
      // 100 ALT at $2 on $50 of margin: the engine's settlement is refused by the vault.
      await expect(
        ex.engine.connect(traders[0]).increasePosition(alt.marketId, wad(100), wad(50), wad(3)),
      ).to.be.revertedWithCustomError(ex.vault, "AccessControlUnauthorizedAccount");
      await (await ex.vault.revokeRole(role, rogue.address)).wait();
      await (await ex.vault.grantRole(role, engine)).wait();
      expect(await ex.vault.fastOperator(), "the next operator granted").to.equal(engine);
    });

    it("refuses a pool credit with no tokens behind it, and a payout above the pool", async () => {
      const { ex, rogue, accounts } = await loadFixture(rogueFixture);
      const vault = ex.vault.connect(rogue);
      const held = (await ex.collateral.balanceOf(await ex.vault.getAddress())) * USD6_TO_WAD;
      const owed = await ex.vault.totalOwed();
      await expect(vault.creditPool(1n))
        .to.be.revertedWithCustomError(vault, "UnbackedCredit")
        .withArgs(held, owed + USD6_TO_WAD);
      const pool = await ex.vault.poolAssets();
      const tooMuch = pool / USD6_TO_WAD + 1n;
      await expect(vault.payFromPool(rogue.address, tooMuch))
        .to.be.revertedWithCustomError(vault, "InsufficientLedger")
        .withArgs(3, pool, tooMuch * USD6_TO_WAD);
      await expectConservation(ex, [], accounts);
    });

    it("refuses zero deposits, withdrawals and donations", async () => {
      const { ex, traders } = await loadFixture(exchangeFixture);
      const vault = ex.vault.connect(traders[0]);
      for (const call of [vault.deposit(0), vault.withdraw(0, traders[0].address), vault.fundInsurance(0)]) {
        await expect(call).to.be.revertedWithCustomError(vault, "ZeroAmount");
      }
    });
  });

  describe("the spot pool and the faucet", () => {
    it("takes liquidity only at the pool's price, refuses zero amounts, an empty pool and a short minimum out", async () => {
      const { ex, deployer, alt } = await loadFixture(exchangeFixture);
      const pool = alt.spotPool.connect(deployer);
      await (await alt.coin.mint(deployer.address, wad(1_000))).wait();
      await (await alt.coin.approve(pool, wad(1_000))).wait();
      await (await ex.collateral.faucet(deployer.address, usd6(10_000))).wait();
      await (await ex.collateral.approve(pool, usd6(10_000))).wait();
      // 1,000 ALT at 2 USD needs 2,000 USD (rounded up); 1,999.999999 is refused.
      await expect(pool.addLiquidity(wad(1_000), usd6("1999.999999")))
        .to.be.revertedWithCustomError(pool, "UsdAmountTooHigh")
        .withArgs(usd6(2_000), usd6("1999.999999"));
      await expect(pool.addLiquidity(wad(1_000), usd6(2_000))).to.emit(pool, "LiquidityAdded");
      expect(await pool.spotPrice()).to.equal(wad(2));
      await expect(pool.addLiquidity(0, 1)).to.be.revertedWithCustomError(pool, "ZeroAmount");
      await expect(pool.swap(true, 0, 0, deployer.address)).to.be.revertedWithCustomError(pool, "ZeroAmount");
      const quote = await pool.quote(true, usd6(100));
      await expect(pool.swap(true, usd6(100), quote + 1n, deployer.address))
        .to.be.revertedWithCustomError(pool, "SlippageExceeded")
        .withArgs(quote, quote + 1n);

      const empty = await new SpotPool__factory(deployer).deploy(alt.coin, ex.collateral);
      await expect(empty.spotPrice()).to.be.revertedWithCustomError(empty, "EmptyPool");
      await expect(empty.swap(true, 1, 0, deployer.address)).to.be.revertedWithCustomError(empty, "EmptyPool");
    });

    it("reads a TWAP across many observations, exactly, by interpolating between them", async () => {
      const { ex, deployer, alt } = await loadFixture(exchangeFixture);
      const pool = alt.spotPool.connect(deployer);
      const window = 550n;
      const feed = await new SpotTwapFeed__factory(deployer).deploy(pool, Number(window));
      await (await ex.collateral.faucet(deployer.address, usd6(100_000))).wait();
      await (await ex.collateral.approve(pool, usd6(100_000))).wait();
      // Ten buys 100 s apart: the price steps up ten times; the pool holds an observation at each.
      const steps: { t: bigint; price: bigint }[] = [];
      for (let i = 0; i < 10; i++) {
        const receipt = (await (await pool.swap(true, usd6(1_000), 0n, deployer.address)).wait())!;
        steps.push({ t: BigInt((await receipt.getBlock()).timestamp), price: await pool.spotPrice() });
        await ethers.provider.send("evm_increaseTime", [99]);
      }
      await ethers.provider.send("evm_mine", []);
      // The adapter reports the time it read the pool at: the TWAP is over the 550 s before it.
      const [, answer, , now] = await feed.latestRoundData();
      const from = now - window;
      let area = 0n;
      for (let i = 0; i < steps.length; i++) {
        const start = steps[i].t > from ? steps[i].t : from;
        const end = i + 1 < steps.length ? steps[i + 1].t : now;
        if (end > start) area += steps[i].price * (end - start);
      }
      // The step before the window's start held from `from` to the first step inside it.
      const before = steps.filter((s) => s.t <= from).pop()!;
      expect(before).to.not.equal(undefined);
      expect(answer).to.equal(area / window);
    });

    it("the faucet refuses more than 1,000,000 tokens at once", async () => {
      const { ex, traders } = await loadFixture(exchangeFixture);
      const limit = await ex.collateral.FAUCET_LIMIT();
      await expect(ex.collateral.faucet(traders[0].address, limit + 1n))
        .to.be.revertedWithCustomError(ex.collateral, "FaucetAmountTooLarge")
        .withArgs(limit + 1n, limit);
    });
  });

  describe("the lens at its corners", () => {
    it("shows liquidation price 0 for a 1x long (its margin covers a fall to zero) and lists every market", async () => {
      const { ex, traders, alt, btc, accounts } = await loadFixture(exchangeFixture);
      const opened = await openSize(ex, traders[0], alt.marketId, wad(1_000), wad(2_100));
      const v = await ex.lens.position(opened.id);
      expect(v.liquidationPrice).to.equal(0n);
      expect(v.liquidatable).to.equal(false);
      const markets = await ex.lens.markets();
      expect(markets.map((m) => m.marketId)).to.deep.equal([alt.marketId, btc.marketId]);
      const unknown = await ex.lens.position(12345n);
      expect([unknown.id, unknown.size]).to.deep.equal([12345n, 0n]);
      await expectConservation(ex, [opened.id], accounts);
    });

    it("scores a winning position for ADL by pnl% * leverage, and a losing one at 0", async () => {
      const { ex, deployer, traders, accounts } = await loadFixture(exchangeFixture);
      const m = await createControlledMarket(ex, deployer, {
        symbol: "ALT-ADL",
        initialPrice: "2",
        markModel: "index",
      });
      const winner = await openSize(ex, traders[0], m.marketId, wad(10_000), wad(2_000));
      const loser = await openSize(ex, traders[1], m.marketId, wad(-10_000), wad(2_000));
      await (await m.feed.setPrice(wad("2.1"))).wait();
      const v = await ex.lens.position(winner.id);
      const [pnlPercent, leverage, score] = await ex.lens.adlScore(winner.id);
      expect(pnlPercent).to.equal(((v.unrealizedPnl - v.pendingFunding) * WAD) / v.margin);
      expect(leverage).to.equal(v.leverage);
      expect(score).to.equal((pnlPercent * BigInt(leverage)) / WAD);
      expect(pnlPercent > 0n).to.equal(true);
      const [lp] = await ex.lens.adlScore(loser.id);
      expect(lp < 0n).to.equal(true);
      // Closed, and never opened: nothing to rank.
      await closeAll(ex, traders[0], m.marketId);
      expect(await ex.lens.adlScore(winner.id)).to.deep.equal([0n, 0n, 0n]);
      expect(await ex.lens.adlScore(12345n)).to.deep.equal([0n, 0n, 0n]);
      await expectConservation(ex, [winner.id, loser.id], accounts);
    });

    it("answers closed ids in a batch with empty entries, and ranks a position under water at 0", async () => {
      const { ex, deployer, traders, accounts } = await loadFixture(exchangeFixture);
      const m = await createControlledMarket(ex, deployer, {
        symbol: "ALT-LENS",
        initialPrice: "2",
        markModel: "index",
      });
      const open = await openSize(ex, traders[0], m.marketId, wad(1_000), wad(100));
      const never = await ex.admin.positionId(traders[1].address, m.marketId);
      const views = await ex.lens.positions([never, open.id]);
      expect([views[0].id, views[0].size, views[0].owner]).to.deep.equal([never, 0n, ethers.ZeroAddress]);
      expect([views[1].id, views[1].size]).to.deep.equal([open.id, wad(1_000)]);
      expect([...(await ex.lens.liquidatable([never, open.id]))]).to.deep.equal([false, false]);
      // At 1.8 the long has lost about 200 on a margin of 100: liquidatable, under water, nothing to rank.
      await (await m.feed.setPrice(wad("1.8"))).wait();
      const [under] = await ex.lens.positions([open.id]);
      expect(under.equity < 0n).to.equal(true);
      expect([...(await ex.lens.liquidatable([open.id, never]))]).to.deep.equal([true, false]);
      expect(await ex.lens.adlScore(open.id)).to.deep.equal([0n, 0n, 0n]);
      await expectConservation(ex, [open.id], accounts);
    });

    it("with no smoothing (half-life 0) the basis EMA is the basis at once", async () => {
      const { ex, deployer, traders, accounts } = await loadFixture(exchangeFixture);
      const m = await createControlledMarket(ex, deployer, {
        symbol: "ALT-RAW",
        initialPrice: "2",
        markModel: "median",
        emaHalfLifeSeconds: 0,
      });
      const opened = await openSize(ex, traders[0], m.marketId, wad(500_000), wad(300_000));
      await ethers.provider.send("evm_mine", []);
      const view = await ex.lens.market(m.marketId);
      // P2 = index + (last - index) = last; P1 = index; median(P1, last, last) = last.
      expect(view.markPrice).to.equal(view.lastPrice);
      expect(view.lastPrice).to.equal(wad("2.2"));
      await expectConservation(ex, [opened.id], accounts);
    });
  });

  it("the pool shows nothing to redeem while its assets are all reserved", async () => {
    const [deployer, trader] = await ethers.getSigners();
    const ex = await deploySystem(deployer, { markets: [ALT_USD], lpDepositUsd: "100000", insuranceFundUsd: "0" });
    await fund(ex, trader, 200_000n);
    // Reserve = 150,000 ALT * 2 * 0.5 = 150,000 USD > the pool's 100,000.
    const opened = await openSize(ex, trader, 1n, wad(150_000), wad(60_000));
    expect(await ex.admin.reservedAssets()).to.be.greaterThan(await ex.vault.poolAssets());
    expect(await ex.pool.availableAssets()).to.equal(0n);
    expect(await ex.pool.maxWithdraw(deployer.address)).to.equal(0n);
    expect(await ex.pool.maxRedeem(deployer.address)).to.equal(0n);
    await expectConservation(ex, [opened.id], [deployer.address, trader.address]);
  });
});
