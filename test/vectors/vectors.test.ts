/**
 * The shared math vectors: every committed vector (test/vectors/*.json, expected values computed by the
 * contracts when scripts/gen-vectors.ts wrote them) must be reproduced both by lib/math.ts and by the
 * contracts as they are now, so a drift on either side fails. Then random inputs (fast-check) compare
 * lib/math.ts with the contracts directly on the functions the keeper leans on.
 */
import { expect } from "chai";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import fc from "fast-check";
import {
  Ema,
  MarginMath,
  MarketLib,
  Pricing,
  WAD,
  type MarketConfig,
  type MarketState,
  type Tier,
} from "../../lib/math";
import { argsOf, decode, encode, type Args, type VectorFile } from "./codec";
import { deployMathContracts, evaluateMirror, evaluateOnChain, FUNCTIONS, type MathContracts } from "./functions";

const VECTOR_DIR = __dirname;
const RUNS = 150;

interface LoadedVector {
  name: string;
  fn: string;
  args: Args;
  expected: unknown;
}

function loadVectorFiles(): { file: string; library: string; vectors: LoadedVector[] }[] {
  return readdirSync(VECTOR_DIR)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => {
      const parsed = JSON.parse(readFileSync(path.join(VECTOR_DIR, file), "utf8")) as VectorFile;
      const vectors = parsed.vectors.map((v) => ({ ...v, args: decode(v.args) as Args }));
      return { file, library: parsed.library, vectors };
    });
}

/** "name: expected X, got Y" for every vector whose evaluation differs from its expected value. */
function mismatches(vectors: LoadedVector[], results: unknown[]): string[] {
  return vectors.flatMap((v, i) => {
    const got = encode(results[i]);
    if (isDeepStrictEqual(got, v.expected)) return [];
    return [`${v.fn} "${v.name}": expected ${JSON.stringify(v.expected)}, got ${JSON.stringify(got)}`];
  });
}

async function mathFixture(): Promise<MathContracts> {
  const [signer] = await ethers.getSigners();
  return deployMathContracts(signer);
}

describe("shared math vectors", () => {
  const files = loadVectorFiles();

  it("cover every function of lib/math.ts's vector table, and every harness function", async () => {
    const covered = new Set(files.flatMap((f) => f.vectors.map((v) => v.fn)));
    expect([...covered].sort()).to.deep.equal(Object.keys(FUNCTIONS).sort());
    const { harness } = await loadFixture(mathFixture);
    const harnessFunctions = harness.interface.fragments.filter((f) => f.type === "function").length;
    const viaHarness = Object.keys(FUNCTIONS).filter((fn) => !/^(PremiumFundingModel|VelocityFundingModel)\./.test(fn));
    expect(viaHarness.length).to.equal(harnessFunctions);
  });

  for (const { file, library, vectors } of files) {
    describe(`${file} (${library})`, () => {
      it(`lib/math.ts reproduces all ${vectors.length} vectors`, () => {
        const results = vectors.map((v) => evaluateMirror(v.fn, v.args));
        expect(mismatches(vectors, results)).to.deep.equal([]);
      });

      it(`the contracts reproduce all ${vectors.length} vectors`, async () => {
        const contracts = await loadFixture(mathFixture);
        const results = await Promise.all(vectors.map((v) => evaluateOnChain(contracts, v.fn, v.args)));
        expect(mismatches(vectors, results)).to.deep.equal([]);
      });
    });
  }
});

/* ------------------------------------------------------------------ random inputs */

const HALF_LIFE = 300n;
const INTERVAL = 8n * 3600n;

const wadOf = (units: bigint, decimals: bigint) => (units * WAD) / 10n ** decimals;

/** A few exchange-style bracket sets: increasing caps and mmrs, amounts derived as the engine does. */
const arbTiers: fc.Arbitrary<Tier[]> = fc
  .array(fc.tuple(fc.bigInt(1n, 5_000_000n), fc.bigInt(20n, 500n)), { minLength: 1, maxLength: 5 })
  .map((steps) => {
    let cap = 0n;
    let mmrBps = 0n;
    const raw = steps.map(([capStep, mmrStepTenthBps]) => {
      cap += capStep * 1000n;
      mmrBps += mmrStepTenthBps; // tenths of a basis point
      const mmr = wadOf(mmrBps, 5n);
      return { notionalCap: cap * WAD, maintenanceAmount: 0n, mmr, maxLeverage: (WAD * WAD) / (2n * mmr) };
    });
    return MarginMath.deriveMaintenanceAmounts(raw.filter((t) => t.mmr < WAD));
  })
  .filter((t) => t.length > 0);

/** A market config in the shape of the defaults, with the model, band and half-life drawn. */
const arbConfig: fc.Arbitrary<MarketConfig> = fc
  .record({
    skewScale: fc.bigInt(WAD, 10n ** 26n),
    markModel: fc.constantFrom<MarketConfig["markModel"]>("median", "index"),
    markBand: fc.constantFrom(0n, wadOf(1n, 3n), wadOf(5n, 2n)),
    emaHalfLife: fc.constantFrom(0n, 1n, HALF_LIFE, 3600n),
    fundingInterval: fc.constantFrom(3600n, INTERVAL),
    fundingCap: fc.bigInt(wadOf(1n, 3n), wadOf(5n, 2n)),
    fundingModel: fc.constantFrom<MarketConfig["fundingModel"]>("premium", "velocity"),
    maxFundingVelocity: fc.constantFrom(0n, WAD, 9n * WAD),
  })
  .map((c) => ({
    symbol: ethers.encodeBytes32String("PROP-USD"),
    maxOpenInterest: c.skewScale / 2n,
    takerFee: wadOf(5n, 4n),
    makerFee: wadOf(2n, 4n),
    liquidationFeeRate: wadOf(25n, 4n),
    insuranceFeeShare: wadOf(2n, 1n),
    minLiquidationFee: WAD,
    minMargin: 10n * WAD,
    fundingInterestRate: wadOf(1n, 4n),
    fundingClamp: wadOf(5n, 4n),
    reserveFactor: wadOf(5n, 1n),
    maxPnlFactor: wadOf(5n, 1n),
    partialLiquidationBuffer: wadOf(1n, 1n),
    minPositionNotional: 10n * WAD,
    oracleGracePeriod: 3600n,
    ...c,
  }));

/** A config with a state the engine can reach, the index and the time to sync to. */
const arbMarket = arbConfig.chain((cfg) =>
  fc
    .record({
      boundaries: fc.bigInt(1n, 100_000n),
      premiumOffset: fc.bigInt(0n, cfg.fundingInterval - 1n),
      sampleOffset: fc.bigInt(0n, cfg.fundingInterval - 1n),
      long: fc.bigInt(0n, (cfg.skewScale * 9n) / 10n),
      short: fc.bigInt(0n, (cfg.skewScale * 9n) / 10n),
      fundingIndex: fc.bigInt(-(10n ** 24n), 10n ** 24n),
      lastFundingRate: fc.bigInt(-cfg.fundingCap, cfg.fundingCap),
      lastPremium: fc.bigInt(-wadOf(5n, 2n), wadOf(5n, 2n)),
      cumNoise: fc.bigInt(-(10n ** 20n), 10n ** 20n),
      emaBasis: fc.bigInt(-(10n ** 22n), 10n ** 22n),
      index: fc.bigInt(10n ** 12n, 10n ** 24n),
      elapsed: fc.oneof(fc.constant(0n), fc.bigInt(1n, 3600n), fc.bigInt(1n, 300n * cfg.fundingInterval)),
    })
    .map((r) => {
      const lastFundingTime = r.boundaries * cfg.fundingInterval;
      const premiumStart = lastFundingTime + r.premiumOffset;
      const lastSampleTime = premiumStart + (r.sampleOffset % (cfg.fundingInterval - r.premiumOffset));
      const state: MarketState = {
        longOpenInterest: r.long,
        shortOpenInterest: r.short,
        longEntryNotional: 0n,
        shortEntryNotional: 0n,
        fundingIndex: r.fundingIndex,
        lastFundingRate: r.lastFundingRate,
        lastFundingTime,
        premiumCum: r.lastPremium * (lastSampleTime - premiumStart) + r.cumNoise,
        lastPremium: r.lastPremium,
        lastSampleTime,
        premiumStart,
        emaBasis: r.emaBasis,
        uncoveredBadDebt: 0n,
        paused: false,
        longEntryRemainder: 0n,
        fundingSnapshotSum: 0n,
        fundingSnapshotRemainder: 0n,
        shortEntryRemainder: 0n,
      };
      return { cfg, state, index: r.index, nowTs: lastSampleTime + r.elapsed };
    }),
);

/** An isolated position: entry, signed size, net margin from a leverage (sometimes in the red). */
const arbPosition = fc
  .record({
    tiers: arbTiers,
    entry: fc.bigInt(10n ** 9n, 10n ** 24n),
    notional: fc.bigInt(10n ** 15n, 10n ** 28n),
    isLong: fc.boolean(),
    leverageTenths: fc.bigInt(10n, 1500n),
    underwater: fc.bigInt(0n, 10n),
  })
  .map((r) => {
    const absSize = (r.notional * WAD) / r.entry + 1n;
    const margin = (r.notional * 10n) / r.leverageTenths;
    // one draw in eleven owes funding beyond its margin, up to the whole notional
    const netMargin = r.underwater === 0n ? margin - (r.notional * r.leverageTenths) / 1500n : margin;
    return { tiers: r.tiers, size: r.isLong ? absSize : -absSize, entry: r.entry, netMargin };
  });

async function bothAgree(c: MathContracts, fn: string, values: object): Promise<unknown> {
  const args = argsOf(values);
  const mirror = encode(evaluateMirror(fn, args));
  const chain = encode(await evaluateOnChain(c, fn, args));
  expect(mirror, `${fn}(${JSON.stringify(encode(args))})`).to.deep.equal(chain);
  return mirror;
}

describe("lib/math.ts agrees with the contracts on random inputs", () => {
  it("fill price, including the reverts at the skew scale", async () => {
    const c = await loadFixture(mathFixture);
    const arb = fc
      .record({
        index: fc.bigInt(1n, 10n ** 30n),
        skewScale: fc.bigInt(1n, 10n ** 27n),
        skewPart: fc.bigInt(-1000n, 1000n),
        deltaPart: fc.bigInt(-2000n, 2000n),
        jitter: fc.bigInt(-3n, 3n),
      })
      .map((r) => ({
        index: r.index,
        skewScale: r.skewScale,
        skew: (r.skewScale * r.skewPart) / 1000n,
        delta: (r.skewScale * r.deltaPart) / 1000n + r.jitter,
      }));
    await fc.assert(
      fc.asyncProperty(arb, async (a) => {
        await bothAgree(c, "Pricing.fillPrice", a);
      }),
      { numRuns: RUNS },
    );
  });

  it("liquidation price: both sides agree, it is liquidatable there and healthy one unit on the safe side", async () => {
    const c = await loadFixture(mathFixture);
    await fc.assert(
      fc.asyncProperty(arbPosition, async (p) => {
        const price = (await bothAgree(c, "MarginMath.liquidationPrice", p)) as string;
        const liq = BigInt(price);
        const isLong = p.size > 0n;
        // a short owing more than its entry notional is liquidatable at every price: it has no safe side
        const everywhere = !isLong && MarginMath.isLiquidatable(p.tiers, p.size, p.entry, p.netMargin, 1n);
        if (liq === 0n || everywhere) return;
        expect(await bothAgree(c, "MarginMath.isLiquidatable", { ...p, price: liq })).to.equal(true);
        const safe = isLong ? liq + 1n : liq - 1n;
        if (safe > 0n) expect(await bothAgree(c, "MarginMath.isLiquidatable", { ...p, price: safe })).to.equal(false);
      }),
      { numRuns: RUNS },
    );
  });

  it("EMA update", async () => {
    const c = await loadFixture(mathFixture);
    const arb = fc.record({
      ema: fc.bigInt(-(10n ** 24n), 10n ** 24n),
      sample: fc.bigInt(-(10n ** 24n), 10n ** 24n),
      halfLife: fc.oneof(fc.constant(0n), fc.bigInt(1n, 1_000_000n)),
      halfLives: fc.bigInt(0n, 70_000n),
    });
    await fc.assert(
      fc.asyncProperty(arb, async (r) => {
        const dt = r.halfLife === 0n ? r.halfLives : (r.halfLife * r.halfLives) / 1000n;
        const args = { ema: r.ema, sample: r.sample, dt, halfLife: r.halfLife };
        const mirror = Ema.update(r.ema, r.sample, dt, r.halfLife);
        expect(await bothAgree(c, "Ema.update", args)).to.equal(mirror.toString());
      }),
      { numRuns: RUNS },
    );
  });

  it("market sync: EMA, funding boundaries with catch-up, premium accumulator", async () => {
    const c = await loadFixture(mathFixture);
    await fc.assert(
      fc.asyncProperty(arbMarket, async ({ cfg, state, index, nowTs }) => {
        const args = { config: cfg, state, index, nowTs };
        await bothAgree(c, "MarketLib.sync", args);
        // what the lens shows next: the mark on the synced state
        const { state: synced } = MarketLib.sync(cfg, state, index, nowTs);
        const last = Pricing.lastPrice(index, MarketLib.skew(synced), cfg.skewScale);
        await bothAgree(c, "MarketLib.markPrice", { config: cfg, state: synced, index, last, nowTs });
      }),
      { numRuns: RUNS },
    );
  });
});
