/**
 * Every function the shared vectors cover, evaluated two ways from the same named arguments: by
 * lib/math.ts (`mirror`) and by the contracts (`onChain`: MathHarness, or the strategy contracts
 * themselves). Both return plain values (bigint, boolean, objects with the Solidity names) or a
 * `Reverted`, so a vector's expected value compares with either after `encode`.
 */
import { AbiCoder, dataSlice, isHexString, type Signer } from "ethers";
import {
  DecimalFloat,
  Ema,
  MarginMath,
  MARK_METHOD,
  MarketLib,
  MedianMarkModel,
  PositionLib,
  PremiumFundingModel,
  Pricing,
  VelocityFundingModel,
  SkewBeyondScale,
  WadMath,
  fundingResultFromChain,
  marketStateFromChain,
  positionFromChain,
  tiersFromChain,
  type FundingModel,
  type MarketConfig,
} from "../../lib/math";
import {
  MathHarness__factory,
  PremiumFundingModel__factory,
  VelocityFundingModel__factory,
  type MathHarness,
  type PremiumFundingModel as PremiumFundingModelContract,
  type VelocityFundingModel as VelocityFundingModelContract,
} from "../../typechain-types";
import { big, bool, config, position, state, str, tiers, type Args, type Reverted } from "./codec";

export interface MathContracts {
  harness: MathHarness;
  premium: PremiumFundingModelContract;
  velocity: VelocityFundingModelContract;
  fundingModels: Record<FundingModel, string>;
}

export async function deployMathContracts(signer: Signer): Promise<MathContracts> {
  const harness = await new MathHarness__factory(signer).deploy();
  const premium = await new PremiumFundingModel__factory(signer).deploy();
  const velocity = await new VelocityFundingModel__factory(signer).deploy();
  return {
    harness,
    premium,
    velocity,
    fundingModels: { premium: await premium.getAddress(), velocity: await velocity.getAddress() },
  };
}

/** The config as the contracts take it: the mark method by number, the funding model by address. */
export function chainConfig(c: MathContracts, cfg: MarketConfig) {
  return { ...cfg, markModel: MARK_METHOD[cfg.markModel], fundingModel: c.fundingModels[cfg.fundingModel] };
}

interface VectorFunction {
  mirror(a: Args): unknown;
  onChain(c: MathContracts, a: Args): Promise<unknown>;
}

const markInputs = (a: Args) => ({
  index: big(a, "index"),
  lastPrice: big(a, "lastPrice"),
  emaBasis: big(a, "emaBasis"),
  lastFundingRate: big(a, "lastFundingRate"),
  timeToNextFunding: big(a, "timeToNextFunding"),
  fundingInterval: big(a, "fundingInterval"),
});

/** The velocity model's inputs are 0 in vectors written before it (the premium model ignores them). */
const optionalBig = (a: Args, key: string) => (a[key] === undefined ? 0n : big(a, key));

const fundingInputs = (a: Args) => ({
  avgPremium: big(a, "avgPremium"),
  interestRate: big(a, "interestRate"),
  clampRate: big(a, "clampRate"),
  cap: big(a, "cap"),
  lastRate: optionalBig(a, "lastRate"),
  interval: optionalBig(a, "interval"),
  maxVelocity: optionalBig(a, "maxVelocity"),
});

/** Functions by "Library.function", the name a vector's `fn` carries. */
export const FUNCTIONS: Record<string, VectorFunction> = {
  "WadMath.mulDown": {
    mirror: (a) => WadMath.mulDown(big(a, "a"), big(a, "b")),
    onChain: (c, a) => c.harness.mulDown(big(a, "a"), big(a, "b")),
  },
  "WadMath.mulUp": {
    mirror: (a) => WadMath.mulUp(big(a, "a"), big(a, "b")),
    onChain: (c, a) => c.harness.mulUp(big(a, "a"), big(a, "b")),
  },
  "WadMath.divDown": {
    mirror: (a) => WadMath.divDown(big(a, "a"), big(a, "b")),
    onChain: (c, a) => c.harness.divDown(big(a, "a"), big(a, "b")),
  },
  "WadMath.divUp": {
    mirror: (a) => WadMath.divUp(big(a, "a"), big(a, "b")),
    onChain: (c, a) => c.harness.divUp(big(a, "a"), big(a, "b")),
  },
  "WadMath.divRoundUp": {
    mirror: (a) => WadMath.divRoundUp(big(a, "a"), big(a, "b")),
    onChain: (c, a) => c.harness.divRoundUp(big(a, "a"), big(a, "b")),
  },
  "WadMath.mulDownSigned": {
    mirror: (a) => WadMath.mulDownSigned(big(a, "a"), big(a, "b")),
    onChain: (c, a) => c.harness.mulDownSigned(big(a, "a"), big(a, "b")),
  },
  "WadMath.mulUpSigned": {
    mirror: (a) => WadMath.mulUpSigned(big(a, "a"), big(a, "b")),
    onChain: (c, a) => c.harness.mulUpSigned(big(a, "a"), big(a, "b")),
  },
  "WadMath.floorDiv": {
    mirror: (a) => WadMath.floorDiv(big(a, "a"), big(a, "b")),
    onChain: (c, a) => c.harness.floorDiv(big(a, "a"), big(a, "b")),
  },
  "WadMath.ceilDiv": {
    mirror: (a) => WadMath.ceilDiv(big(a, "a"), big(a, "b")),
    onChain: (c, a) => c.harness.ceilDiv(big(a, "a"), big(a, "b")),
  },
  "WadMath.clamp": {
    mirror: (a) => WadMath.clamp(big(a, "x"), big(a, "lo"), big(a, "hi")),
    onChain: (c, a) => c.harness.clamp(big(a, "x"), big(a, "lo"), big(a, "hi")),
  },
  "WadMath.median3": {
    mirror: (a) => WadMath.median3(big(a, "a"), big(a, "b"), big(a, "c")),
    onChain: (c, a) => c.harness.median3(big(a, "a"), big(a, "b"), big(a, "c")),
  },

  "Pricing.lastPrice": {
    mirror: (a) => Pricing.lastPrice(big(a, "index"), big(a, "skew"), big(a, "skewScale")),
    onChain: (c, a) => c.harness.lastPrice(big(a, "index"), big(a, "skew"), big(a, "skewScale")),
  },
  "Pricing.fillPrice": {
    mirror: (a) => Pricing.fillPrice(big(a, "index"), big(a, "skew"), big(a, "delta"), big(a, "skewScale")),
    onChain: (c, a) => c.harness.fillPrice(big(a, "index"), big(a, "skew"), big(a, "delta"), big(a, "skewScale")),
  },
  "Pricing.premium": {
    mirror: (a) => Pricing.premium(big(a, "last"), big(a, "index")),
    onChain: (c, a) => c.harness.premium(big(a, "last"), big(a, "index")),
  },
  "Pricing.fee": {
    mirror: (a) =>
      Pricing.fee(big(a, "skew"), big(a, "delta"), big(a, "fill"), big(a, "takerRate"), big(a, "makerRate")),
    onChain: (c, a) =>
      c.harness.fee(big(a, "skew"), big(a, "delta"), big(a, "fill"), big(a, "takerRate"), big(a, "makerRate")),
  },

  "Ema.decay": {
    mirror: (a) => Ema.decay(big(a, "dt"), big(a, "halfLife")),
    onChain: (c, a) => c.harness.decay(big(a, "dt"), big(a, "halfLife")),
  },
  "Ema.update": {
    mirror: (a) => Ema.update(big(a, "ema"), big(a, "sample"), big(a, "dt"), big(a, "halfLife")),
    onChain: (c, a) => c.harness.update(big(a, "ema"), big(a, "sample"), big(a, "dt"), big(a, "halfLife")),
  },

  "MarginMath.tierOf": {
    mirror: (a) => BigInt(MarginMath.tierOf(tiers(a), big(a, "absSize"), big(a, "price"))),
    onChain: (c, a) => c.harness.tierOf(tiers(a), big(a, "absSize"), big(a, "price")),
  },
  "MarginMath.aboveMaxTier": {
    mirror: (a) => MarginMath.aboveMaxTier(tiers(a), big(a, "notional")),
    onChain: (c, a) => c.harness.aboveMaxTier(tiers(a), big(a, "notional")),
  },
  "MarginMath.maintenanceMargin": {
    mirror: (a) => MarginMath.maintenanceMargin(tiers(a), big(a, "absSize"), big(a, "price")),
    onChain: (c, a) => c.harness.maintenanceMargin(tiers(a), big(a, "absSize"), big(a, "price")),
  },
  "MarginMath.health": {
    mirror: (a) => MarginMath.health(tiers(a), big(a, "size"), big(a, "entry"), big(a, "netMargin"), big(a, "price")),
    onChain: (c, a) =>
      c.harness.health(tiers(a), big(a, "size"), big(a, "entry"), big(a, "netMargin"), big(a, "price")),
  },
  "MarginMath.isLiquidatable": {
    mirror: (a) =>
      MarginMath.isLiquidatable(tiers(a), big(a, "size"), big(a, "entry"), big(a, "netMargin"), big(a, "price")),
    onChain: (c, a) =>
      c.harness.isLiquidatable(tiers(a), big(a, "size"), big(a, "entry"), big(a, "netMargin"), big(a, "price")),
  },
  "MarginMath.liquidationPrice": {
    mirror: (a) => MarginMath.liquidationPrice(tiers(a), big(a, "size"), big(a, "entry"), big(a, "netMargin")),
    onChain: (c, a) => c.harness.liquidationPrice(tiers(a), big(a, "size"), big(a, "entry"), big(a, "netMargin")),
  },
  "MarginMath.meetsInitialMargin": {
    mirror: (a) => MarginMath.meetsInitialMargin(tiers(a), big(a, "absSize"), big(a, "price"), big(a, "equity")),
    onChain: async (c, a) => {
      const [ok, leverage, maxLeverage] = await c.harness.meetsInitialMargin(
        tiers(a),
        big(a, "absSize"),
        big(a, "price"),
        big(a, "equity"),
      );
      return { ok, leverage, maxLeverage };
    },
  },
  "MarginMath.partialRemainder": {
    mirror: (a) =>
      MarginMath.partialRemainder(tiers(a), big(a, "notional"), big(a, "equity"), big(a, "feeRate"), big(a, "buffer")),
    onChain: (c, a) =>
      c.harness.partialRemainder(tiers(a), big(a, "notional"), big(a, "equity"), big(a, "feeRate"), big(a, "buffer")),
  },
  "MarginMath.deriveMaintenanceAmounts": {
    mirror: (a) => MarginMath.deriveMaintenanceAmounts(tiers(a)),
    onChain: async (c, a) => tiersFromChain(await c.harness.deriveMaintenanceAmounts(tiers(a))),
  },

  "PositionLib.id": {
    mirror: (a) => PositionLib.id(str(a, "owner"), big(a, "marketId")),
    onChain: (c, a) => c.harness.positionId(str(a, "owner"), big(a, "marketId")),
  },
  "PositionLib.pendingFunding": {
    mirror: (a) => PositionLib.pendingFunding(big(a, "size"), big(a, "snapshot"), big(a, "fundingIndex")),
    onChain: (c, a) => c.harness.pendingFunding(big(a, "size"), big(a, "snapshot"), big(a, "fundingIndex")),
  },
  "PositionLib.pnl": {
    mirror: (a) => PositionLib.pnl(big(a, "size"), big(a, "entry"), big(a, "price")),
    onChain: (c, a) => c.harness.pnl(big(a, "size"), big(a, "entry"), big(a, "price")),
  },
  "PositionLib.netMargin": {
    mirror: (a) => PositionLib.netMargin(position(a), big(a, "fundingIndex")),
    onChain: (c, a) => c.harness.netMargin(position(a), big(a, "fundingIndex")),
  },
  "PositionLib.update": {
    mirror: (a) => PositionLib.update(position(a), big(a, "fundingIndex"), big(a, "marginDelta"), bool(a, "long")),
    onChain: async (c, a) => {
      const [p, owed, margin] = await c.harness.positionUpdate(
        position(a),
        big(a, "fundingIndex"),
        big(a, "marginDelta"),
        bool(a, "long"),
      );
      return { position: positionFromChain(p), owed, margin };
    },
  },

  // The value a position stores is the rounded one: `stored` is its 36-bit code decoded back.
  "DecimalFloat.entry": {
    mirror: (a) => {
      const rounded = DecimalFloat.round(big(a, "value"), DecimalFloat.ENTRY_MANTISSA, bool(a, "up"));
      return { rounded, stored: rounded };
    },
    onChain: async (c, a) => {
      const [rounded, stored] = await c.harness.entryRound(big(a, "value"), bool(a, "up"));
      return { rounded, stored };
    },
  },
  "DecimalFloat.snapshot": {
    mirror: (a) => {
      const rounded = DecimalFloat.roundSigned(big(a, "value"), bool(a, "up"));
      return { rounded, stored: rounded };
    },
    onChain: async (c, a) => {
      const [rounded, stored] = await c.harness.snapshotRound(big(a, "value"), bool(a, "up"));
      return { rounded, stored };
    },
  },

  "MarketLib.skew": {
    mirror: (a) => MarketLib.skew(state(a)),
    onChain: (c, a) => c.harness.marketSkew(state(a)),
  },
  "MarketLib.lastPrice": {
    mirror: (a) => MarketLib.lastPrice(config(a), state(a), big(a, "index")),
    onChain: (c, a) => c.harness.marketLastPrice(chainConfig(c, config(a)), state(a), big(a, "index")),
  },
  "MarketLib.nextBoundary": {
    mirror: (a) => MarketLib.nextBoundary(big(a, "time"), big(a, "interval")),
    onChain: (c, a) => c.harness.nextBoundary(big(a, "time"), big(a, "interval")),
  },
  "MarketLib.sync": {
    mirror: (a) => MarketLib.sync(config(a), state(a), big(a, "index"), big(a, "nowTs")),
    onChain: async (c, a) => {
      const [st, funding] = await c.harness.sync(chainConfig(c, config(a)), state(a), big(a, "index"), big(a, "nowTs"));
      return { state: marketStateFromChain(st), funding: fundingResultFromChain(funding) };
    },
  },
  "MarketLib.asOfNow": {
    mirror: (a) => MarketLib.asOfNow(config(a), state(a), big(a, "index"), big(a, "nowTs")),
    onChain: async (c, a) => {
      const [st, funding, mark] = await c.harness.asOfNow(
        chainConfig(c, config(a)),
        state(a),
        big(a, "index"),
        big(a, "nowTs"),
      );
      return { state: marketStateFromChain(st), funding: fundingResultFromChain(funding), mark };
    },
  },
  "MarketLib.samplePremium": {
    mirror: (a) => MarketLib.samplePremium(config(a), state(a), big(a, "index")),
    onChain: async (c, a) =>
      marketStateFromChain(await c.harness.samplePremium(chainConfig(c, config(a)), state(a), big(a, "index"))),
  },
  "MarketLib.markPrice": {
    mirror: (a) => MarketLib.markPrice(config(a), state(a), big(a, "index"), big(a, "last"), big(a, "nowTs")),
    onChain: (c, a) =>
      c.harness.markPrice(chainConfig(c, config(a)), state(a), big(a, "index"), big(a, "last"), big(a, "nowTs")),
  },
  "MarketLib.predictedFundingRate": {
    mirror: (a) => MarketLib.predictedFundingRate(config(a), state(a), big(a, "nowTs")),
    onChain: (c, a) => c.harness.predictedFundingRate(chainConfig(c, config(a)), state(a), big(a, "nowTs")),
  },

  "MarketLib.aggregate": {
    mirror: (a) => MarketLib.aggregate(state(a), big(a, "size"), big(a, "entry"), big(a, "snapshot"), big(a, "sign")),
    onChain: async (c, a) =>
      marketStateFromChain(
        await c.harness.aggregate(state(a), big(a, "size"), big(a, "entry"), big(a, "snapshot"), big(a, "sign")),
      ),
  },
  "MarketLib.moveFundingSnapshot": {
    mirror: (a) =>
      MarketLib.moveFundingSnapshot(state(a), big(a, "size"), big(a, "from"), big(a, "to"), big(a, "sign")),
    onChain: async (c, a) =>
      marketStateFromChain(
        await c.harness.moveFundingSnapshot(state(a), big(a, "size"), big(a, "from"), big(a, "to"), big(a, "sign")),
      ),
  },
  "MarketLib.tradersPnl": {
    mirror: (a) => MarketLib.tradersPnl(state(a), big(a, "mark")),
    onChain: (c, a) => c.harness.tradersPnl(state(a), big(a, "mark")),
  },
  "MarketLib.sidePnl": {
    mirror: (a) => MarketLib.sidePnl(state(a), big(a, "mark"), big(a, "isLong") !== 0n),
    onChain: (c, a) => c.harness.sidePnl(state(a), big(a, "mark"), big(a, "isLong") !== 0n),
  },
  "MarketLib.tradersFundingOwed": {
    mirror: (a) => MarketLib.tradersFundingOwed(state(a)),
    onChain: (c, a) => c.harness.tradersFundingOwed(state(a)),
  },
  "MarketLib.adlActive": {
    mirror: (a) => MarketLib.adlActive(state(a), big(a, "mark"), big(a, "poolAssets"), big(a, "maxPnlFactor")),
    onChain: (c, a) => c.harness.adlActive(state(a), big(a, "mark"), big(a, "poolAssets"), big(a, "maxPnlFactor")),
  },
  "MarketLib.payableProfit": {
    mirror: (a) => MarketLib.payableProfit(big(a, "realized"), big(a, "traderPnl"), big(a, "cap")),
    onChain: (c, a) => c.harness.payableProfit(big(a, "realized"), big(a, "traderPnl"), big(a, "cap")),
  },
  "MarketLib.cappedTradersPnl": {
    mirror: (a) => MarketLib.cappedTradersPnl(big(a, "pnl"), big(a, "ledger"), big(a, "maxPnlFactor")),
    onChain: (c, a) => c.harness.cappedTradersPnl(big(a, "pnl"), big(a, "ledger"), big(a, "maxPnlFactor")),
  },

  "MedianMarkModel.markPrice": {
    mirror: (a) => MedianMarkModel.markPrice(markInputs(a)),
    onChain: (c, a) => c.harness.markPriceOf(MARK_METHOD.median, markInputs(a)),
  },
  "PremiumFundingModel.fundingRate": {
    mirror: (a) => PremiumFundingModel.fundingRate(fundingInputs(a)),
    onChain: (c, a) => c.premium.fundingRate(fundingInputs(a)),
  },
  "VelocityFundingModel.fundingRate": {
    mirror: (a) => VelocityFundingModel.fundingRate(fundingInputs(a)),
    onChain: (c, a) => c.velocity.fundingRate(fundingInputs(a)),
  },
};

function lookup(fn: string): VectorFunction {
  const f = FUNCTIONS[fn];
  if (!f) throw new Error(`no vector function "${fn}"; known: ${Object.keys(FUNCTIONS).join(", ")}`);
  return f;
}

/** lib/math.ts's result, or the name of the error it throws where the contract reverts. */
export function evaluateMirror(fn: string, args: Args): unknown {
  try {
    return lookup(fn).mirror(args);
  } catch (err) {
    if (err instanceof SkewBeyondScale) return reverted(err.name);
    if (err instanceof RangeError && /division by zero/i.test(err.message)) return reverted("DivisionByZero");
    throw err;
  }
}

const PANIC_SELECTOR = "0x4e487b71"; // Panic(uint256)
const PANIC_DIVISION_BY_ZERO = 0x12n;

function reverted(error: string): Reverted {
  return { error };
}

/** The contracts' result, or the name of the custom error (or DivisionByZero panic) they revert with. */
export async function evaluateOnChain(c: MathContracts, fn: string, args: Args): Promise<unknown> {
  try {
    return await lookup(fn).onChain(c, args);
  } catch (err) {
    const data = revertData(err);
    if (data === undefined) throw err;
    if (data.startsWith(PANIC_SELECTOR)) {
      const [code] = AbiCoder.defaultAbiCoder().decode(["uint256"], dataSlice(data, 4));
      if (code === PANIC_DIVISION_BY_ZERO) return reverted("DivisionByZero");
      throw err;
    }
    const parsed = c.harness.interface.parseError(data);
    if (parsed === null) throw err;
    return reverted(parsed.name);
  }
}

/** Revert data from an ethers CallException or from Hardhat's in-process SolidityError. */
function revertData(err: unknown): string | undefined {
  if (err === null || typeof err !== "object" || !("data" in err)) return undefined;
  return typeof err.data === "string" && isHexString(err.data) && err.data.length >= 10 ? err.data : undefined;
}
