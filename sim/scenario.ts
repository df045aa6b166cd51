/**
 * Scenario files (scenarios/*.json): the schema, the cross-field checks and `loadScenario`.
 *
 * The JSON holds human numbers: USD amounts, prices, base-unit sizes, fractions (0.005 = 0.5%),
 * leverage, hours and minutes; decimals may be JSON numbers or decimal strings. The parsed
 * `Scenario` holds what the runner feeds the chain: WAD bigints (read exactly, never through float
 * arithmetic) for every price, size, USD amount, fraction and leverage; integer seconds for every
 * time, in fields renamed to say so (`durationHours` -> `durationSec`, `atHours` -> `atSec`);
 * plain integers for counts, blocks and basis points.
 *
 * Every problem is reported with the file and the JSON path of the field, e.g.
 * `scenarios/x.json: markets[0].tiers[1].mmr: must be > tiers[0].mmr (0.02) (got 0.015)`.
 */
import fs from "node:fs";
import { z } from "zod";
import { DecimalError, formatWad, toWad, WAD } from "./decimal";
import { marketMakerDeposit } from "./agents/market-maker";
import { ALT_USD } from "../lib/markets";

const SECONDS_PER_MINUTE = 60n;
const SECONDS_PER_HOUR = 3600n;
const BPS_PER_UNIT = 10_000;
/** Upper bound on steps per run, so a slip in stepMinutes cannot start a run of hours. */
export const MAX_STEPS = 50_000;
const MAX_PUSHED_FEEDS = 16;
const MAX_LATENCY_BLOCKS = 1_000;
/**
 * Upper bounds, so that no value can start a run that never ends or overflows a contract's storage.
 * USD amounts are minted by a faucet that gives 1,000,000 per call: a billion is a thousand calls.
 */
const MAX_USD = 1_000_000_000n * WAD;
/** Prices from 1e-8 USD (the feeds' 8 decimals: below it a feed reads 0) to a billion USD. */
const MIN_PRICE = WAD / 100_000_000n;
const MAX_PRICE = 1_000_000_000n * WAD;
/** Base-unit sizes (skew scale, open interest) and tier notionals. */
const MAX_SIZE = 10n ** 15n * WAD;
const MAX_LEVERAGE = 1_000n * WAD;
/** A take profit of at most +10,000%. */
const MAX_MOVE = 100n * WAD;
/** Ten years: the longest run (its timestamps stay far inside the contracts' uint40 seconds). */
const MAX_DURATION_HOURS = 87_600n;
const MAX_FUNDING_INTERVAL_HOURS = 24n * 30n;
/**
 * Spot venues whose prices the index takes the median of: the oracle holds at most 7 sources
 * (Oracle.MAX_SOURCES), and the deployment registers the spot-TWAP adapter beside the venues'
 * reporters before the reporters alone replace them.
 */
const MAX_VENUES = 6;
/** A week: TWAP windows and funding intervals far beyond it say nothing a scenario can show. */
const MAX_TWAP_WINDOW_SECONDS = 7 * 24 * 3600;

/** One problem: the JSON path of the field ("" for the whole file) and what is wrong. */
export interface ScenarioIssue {
  path: string;
  message: string;
}

/** Bad scenario input; the message has one line per issue, each naming the file and the field. */
export class ScenarioError extends Error {
  override name = "ScenarioError";

  constructor(
    readonly source: string,
    readonly issues: readonly ScenarioIssue[],
  ) {
    super(
      issues.map((issue) => [source, issue.path, issue.message].filter((part) => part !== "").join(": ")).join("\n"),
    );
  }
}

/* FIELD BUILDERS */

/** Inclusive (gte/lte) or exclusive (gt/lt) bounds, in WAD of the human unit. */
interface Bounds {
  gt?: bigint;
  gte?: bigint;
  lt?: bigint;
  lte?: bigint;
}

type Checked<T> = { ok: true; value: T } | { ok: false; message: string };

function boundsProblem(value: bigint, bounds: Bounds): string | undefined {
  const got = ` (got ${formatWad(value)})`;
  if (bounds.gt !== undefined && value <= bounds.gt) return `must be > ${formatWad(bounds.gt)}${got}`;
  if (bounds.gte !== undefined && value < bounds.gte) return `must be >= ${formatWad(bounds.gte)}${got}`;
  if (bounds.lt !== undefined && value >= bounds.lt) return `must be < ${formatWad(bounds.lt)}${got}`;
  if (bounds.lte !== undefined && value > bounds.lte) return `must be <= ${formatWad(bounds.lte)}${got}`;
  return undefined;
}

function readDecimal(input: unknown, bounds: Bounds): Checked<bigint> {
  if (input === undefined) return { ok: false, message: "is required" };
  if (typeof input !== "number" && typeof input !== "string") {
    return {
      ok: false,
      message: `must be a number or a decimal string (got ${input === null ? "null" : typeof input})`,
    };
  }
  let value: bigint;
  try {
    value = toWad(input);
  } catch (error) {
    if (error instanceof DecimalError) return { ok: false, message: error.message };
    throw error;
  }
  const problem = boundsProblem(value, bounds);
  return problem === undefined ? { ok: true, value } : { ok: false, message: problem };
}

/** A decimal field: read exactly, checked against bounds, then converted. */
function decimalField<T>(bounds: Bounds, convert: (value: bigint) => Checked<T>) {
  return z.unknown().transform((input, ctx): T => {
    const read = readDecimal(input, bounds);
    const converted = read.ok ? convert(read.value) : read;
    if (converted.ok) return converted.value;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: converted.message, fatal: true });
    return z.NEVER;
  });
}

const wad = (bounds: Bounds = {}) => decimalField(bounds, (value) => ({ ok: true, value }));

/**
 * The engine stores a market's trade rates (fees, the price band, the PnL cap) in units of 1e-7
 * (PerpEngineStorage.TRADE_RATE_UNIT) and refuses finer.
 */
const TRADE_RATE_UNIT = 10n ** 11n;

/** A field the engine stores in whole multiples of `unit` (WAD), refused otherwise with `must`. */
const multipleOf = (unit: bigint, must: string) => (bounds: Bounds) =>
  decimalField(bounds, (value): Checked<bigint> =>
    value % unit === 0n ? { ok: true, value } : { ok: false, message: `must ${must} (got ${formatWad(value)})` },
  );

/** A rate of the market's configuration: a fraction the engine's 1e-7 units hold exactly. */
const rate = multipleOf(TRADE_RATE_UNIT, "be a multiple of 0.0000001, the engine's rate unit");

/** A skew scale or an open-interest cap: whole base units, as the engine stores them (BASE_UNIT). */
const wholeUnits = multipleOf(WAD, "be a whole number of base units, as the engine stores it");

function wholeSeconds(secondsWad: bigint): Checked<number> {
  if (secondsWad % WAD !== 0n)
    return { ok: false, message: `must be a whole number of seconds (got ${formatWad(secondsWad)} s)` };
  return { ok: true, value: Number(secondsWad / WAD) };
}

const hoursAsSeconds = (bounds: Bounds) => decimalField(bounds, (hours) => wholeSeconds(hours * SECONDS_PER_HOUR));
const minutesAsSeconds = (bounds: Bounds) =>
  decimalField(bounds, (minutes) => wholeSeconds(minutes * SECONDS_PER_MINUTE));

const integer = (min: number, max: number) =>
  z.number().int("must be an integer").min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);

/** An object that refuses unknown keys, so a misspelt field is an error rather than a default. */
const strict = <T extends z.ZodRawShape>(shape: T) => z.object(shape).strict();

const fraction = wad({ gte: 0n, lt: WAD });
const usd = wad({ gt: 0n, lte: MAX_USD });
const size = wad({ gt: 0n, lte: MAX_SIZE });
const leverage = wad({ gte: WAD, lte: MAX_LEVERAGE });
const side = z.enum(["long", "short"]);
const symbol = z.string().regex(/^[A-Z0-9]+-USD$/, 'must look like "ALT-USD"');

function range(bound: ReturnType<typeof wad>) {
  return strict({ min: bound, max: bound }).superRefine((r, ctx) => {
    if (r.max < r.min)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["max"],
        message: `must be >= min (${formatWad(r.min)}) (got ${formatWad(r.max)})`,
      });
  });
}

/* MECHANISMS (SPEC 9.3) */

/** The largest maxFundingVelocity the engine stores (a uint64 WAD holds 18.44). */
const MAX_FUNDING_VELOCITY = 18n * WAD;

/**
 * The switches a protocol designer compares, one per market, so that a sweep can vary them
 * (`--vary markets.0.mechanisms.fundingModel=premium,velocity`). The whole block and each field are
 * optional; the defaults are the exchange's own methods. The protections with a number (TWAP window,
 * price band, max deviation per update, OI cap) sit in `protections`.
 */
const mechanismsSchema = strict({
  /** "median": median(P1, P2, last) as in SPEC 5; "index": the mark is the index. */
  markMethod: z.enum(["median", "index"]).default("median"),
  /** "premium": SPEC 5's premium-index rate; "velocity": Synthetix v3's drifting rate. */
  fundingModel: z.enum(["premium", "velocity"]).default("premium"),
  /** Velocity funding: the most the daily rate moves per day at full skew (skew = skewScale). */
  maxFundingVelocity: wad({ gt: 0n, lte: MAX_FUNDING_VELOCITY }).optional(),
  /** "partial": positions above the first tier are cut to a healthy size; "full": always closed whole. */
  liquidation: z.enum(["partial", "full"]).default("partial"),
})
  .superRefine((m, ctx) => {
    if (m.fundingModel === "velocity" && m.maxFundingVelocity === undefined)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["maxFundingVelocity"],
        message: 'is required when fundingModel is "velocity"',
      });
  })
  .transform(({ maxFundingVelocity, ...m }) => ({ ...m, maxFundingVelocity: maxFundingVelocity ?? 0n }))
  .default({});

/* MARKETS */

const tierSchema = strict({
  /** Largest position notional (USD) this tier holds; tier i holds (cap[i-1], cap[i]]. */
  notionalCap: size,
  mmr: wad({ gt: 0n, lt: WAD }),
  maxLeverage: leverage,
}).superRefine((tier, ctx) => {
  // Opening at max leverage must leave the position above maintenance: 1 / maxLeverage > mmr.
  if (tier.mmr * tier.maxLeverage >= WAD * WAD) {
    const limit = formatWad((WAD * WAD) / tier.maxLeverage);
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ["mmr"],
      message: `must be < 1 / maxLeverage (${limit}) (got ${formatWad(tier.mmr)})`,
    });
  }
});

type TierInput = z.output<typeof tierSchema>;

/** A maintenance tier with its derived maintenance amount: MM = notional * mmr - maintenanceAmount. */
export type Tier = TierInput & { maintenanceAmount: bigint };

/**
 * Maintenance amounts that make MM continuous at every cap:
 * amt[0] = 0, amt[i] = amt[i-1] + cap[i-1] * (mmr[i] - mmr[i-1]), rounded down (a smaller amount
 * is a larger maintenance margin: the protocol's side).
 */
export function withMaintenanceAmounts(tiers: readonly TierInput[]): Tier[] {
  let amount = 0n;
  return tiers.map((tier, i) => {
    const previous = tiers[i - 1];
    if (previous !== undefined) amount += (previous.notionalCap * (tier.mmr - previous.mmr)) / WAD;
    return { ...tier, maintenanceAmount: amount };
  });
}

const tiersSchema = z
  .array(tierSchema)
  .min(1, "must list at least one tier")
  .superRefine((tiers, ctx) => {
    tiers.forEach((tier, i) => {
      const previous = tiers[i - 1];
      if (previous === undefined) return;
      const issue = (field: keyof TierInput, relation: string, bound: bigint) =>
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: [i, field],
          message: `must be ${relation} tiers[${i - 1}].${field} (${formatWad(bound)}) (got ${formatWad(tier[field])})`,
        });
      if (tier.notionalCap <= previous.notionalCap) issue("notionalCap", ">", previous.notionalCap);
      if (tier.mmr <= previous.mmr) issue("mmr", ">", previous.mmr);
      if (tier.maxLeverage > previous.maxLeverage) issue("maxLeverage", "<=", previous.maxLeverage);
    });
  })
  .transform(withMaintenanceAmounts);

const feesSchema = strict({ taker: rate({ gte: 0n, lt: WAD }), maker: rate({ gte: 0n, lt: WAD }) }).superRefine(
  (fees, ctx) => {
    if (fees.maker > fees.taker) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["maker"],
        message: `must be <= taker (${formatWad(fees.taker)}) (got ${formatWad(fees.maker)})`,
      });
    }
  },
);

/** The PnL cap of SPEC 9.1 (GMX v2's PnL factor); see marketSchema's protections. */
const maxPnlFactor = rate({ gt: 0n, lte: WAD }).default(ALT_USD.maxPnlFactor);

const marketSchema = strict({
  symbol,
  /** "usd" (the default): margined in USD. A coin-margined market says "coin" (coinMarketSchema). */
  margin: z.literal("usd").optional(),
  /** USD per base unit at the start, for the spot pool, the feeds and the perp. */
  initialPrice: wad({ gte: MIN_PRICE, lte: MAX_PRICE }),
  /** USD on each side of the constant-product spot pool at the start. */
  spotLiquidityUsd: usd,
  /** Skew scale S, whole base units: P_last = index * (1 + K / S). */
  skewScale: wholeUnits({ gt: 0n, lte: MAX_SIZE }),
  /** Open-interest cap per side, whole base units. */
  maxOpenInterest: wholeUnits({ gt: 0n, lte: MAX_SIZE }),
  tiers: tiersSchema,
  fees: feesSchema,
  fundingIntervalHours: hoursAsSeconds({ gt: 0n, lte: MAX_FUNDING_INTERVAL_HOURS * WAD }),
  protections: strict({
    /** TWAP window of the spot adapter; 0 reads the spot price itself. */
    twapWindowSeconds: integer(0, MAX_TWAP_WINDOW_SECONDS),
    /** Mark clamped to index * (1 +/- band); 0 = off. */
    priceBand: rate({ gte: 0n, lt: WAD }),
    /** Largest index change one oracle update may make, as a fraction; 0 = off. */
    maxPriceDeviationPerUpdate: fraction,
    /** Tighter open-interest cap per side, whole base units, as a protection; 0 = off (maxOpenInterest applies). */
    oiCap: wholeUnits({ gte: 0n, lte: MAX_SIZE }),
    /**
     * The PnL cap of SPEC 9.1 (GMX v2's PnL factor): traders' net profit the pool counts and pays is at
     * most this share of the pool; above it closing profits are paid pro rata. In (0, 1]; default 0.5.
     */
    maxPnlFactor,
  }),
  /**
   * Spot venues (SPEC 9.4, Mango's three): the index is the median of one reporter per venue, each
   * following its own constant-product pool (its TWAP when the window is set), so an attacker must
   * push a majority of them. Venue 0 is the market's spot pool; `liquidityUsd` gives each venue's USD
   * per side (default: spotLiquidityUsd for every venue). Absent: one pool, `feeds` as described.
   */
  venues: strict({
    count: integer(1, MAX_VENUES),
    liquidityUsd: z.array(usd).optional(),
  }).optional(),
  feeds: strict({
    /** Pushed feeds (stand-ins for external exchanges) besides the spot-TWAP adapter. */
    pushed: integer(0, MAX_PUSHED_FEEDS),
    /** Whether the pushed feeds follow the spot pool (a market moved everywhere) or stay put. */
    followSpot: z.boolean(),
    /** Noise each pushed feed adds around its reference, basis points. */
    noiseBps: integer(0, BPS_PER_UNIT - 1),
  }),
  mechanisms: mechanismsSchema,
})
  .superRefine((market, ctx) => {
    const venues = market.venues;
    if (venues?.liquidityUsd !== undefined && venues.liquidityUsd.length !== venues.count)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["venues", "liquidityUsd"],
        message: `must list one depth per venue (venues.count = ${venues.count}) (got ${venues.liquidityUsd.length})`,
      });
    if (venues !== undefined && market.feeds.pushed !== 0)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["feeds", "pushed"],
        message: `must be 0 with venues: the index's sources are one reporter per venue (got ${market.feeds.pushed})`,
      });
    if (venues !== undefined && !market.feeds.followSpot)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["feeds", "followSpot"],
        message: "must be true with venues: each venue's reporter follows its pool (got false)",
      });
    if (market.protections.oiCap > market.maxOpenInterest) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["protections", "oiCap"],
        message: `must be <= maxOpenInterest (${formatWad(market.maxOpenInterest)}) (got ${formatWad(
          market.protections.oiCap,
        )})`,
      });
    }
  })
  .transform(
    ({
      fundingIntervalHours,
      protections: { twapWindowSeconds, ...protections },
      venues,
      margin: _usd,
      ...market
    }) => ({
      ...market,
      fundingIntervalSec: fundingIntervalHours,
      protections: { ...protections, twapWindowSec: twapWindowSeconds },
      /** Each venue's USD per side; one entry (the market's spot pool) without venues. */
      venueLiquidityUsd:
        venues === undefined
          ? [market.spotLiquidityUsd]
          : (venues.liquidityUsd ?? Array.from({ length: venues.count }, () => market.spotLiquidityUsd)),
      /** Whether the index is the median of per-venue reporters (the venues block is present). */
      venueOracle: venues !== undefined,
    }),
  );

/* COIN-MARGINED MARKETS (SPEC 9.2) */

/** A contract's face: from a cent to a million USD. */
const MIN_FACE_USD = WAD / 100n;
const MAX_FACE_USD = 1_000_000n * WAD;
const coinSymbol = z.string().regex(/^[A-Z0-9]+USD-INV$/, 'must look like "ALTUSD-INV"');
/** Coins: what the deployer mints for the coin engine's LP pool and insurance fund. */
const coins = (bounds: Bounds) => wad({ ...bounds, lte: MAX_SIZE });

/**
 * A coin-margined (inverse) market: the coin twin of the scenario's USD market `underlying`, deployed as
 * a coin engine of its own (lib/deploy.ts deployCoinMargined). The underlying gives it its coin, spot
 * pool and feeds: its index is 1/index of the underlying, so the market maker's spot pushes move both.
 * The engine runs a trader's N contracts of `faceUsd` as a position of N * faceUsd on the other side
 * (lib/coin-margined.ts). Units: `skewScale`, `maxOpenInterest` and `protections.oiCap` are USD face
 * (the engine's size); tier `notionalCap`s, `lpDepositCoin` and `insuranceFundCoin` are in the coin. The
 * engine's minimums (margin, position notional, liquidation fee) are the USD market's, in the coin at
 * the underlying's initial price. Retail groups on it give `marginUsd` as on any market: each trader
 * deposits coins worth that much at the underlying's initial price.
 */
const coinMarketSchema = strict({
  symbol: coinSymbol,
  margin: z.literal("coin"),
  underlying: symbol,
  faceUsd: wad({ gte: MIN_FACE_USD, lte: MAX_FACE_USD }),
  skewScale: wholeUnits({ gt: 0n, lte: MAX_SIZE }),
  maxOpenInterest: wholeUnits({ gt: 0n, lte: MAX_SIZE }),
  tiers: tiersSchema,
  fees: feesSchema,
  fundingIntervalHours: hoursAsSeconds({ gt: 0n, lte: MAX_FUNDING_INTERVAL_HOURS * WAD }),
  protections: strict({
    priceBand: rate({ gte: 0n, lt: WAD }),
    oiCap: wholeUnits({ gte: 0n, lte: MAX_SIZE }),
    maxPnlFactor,
  }),
  mechanisms: mechanismsSchema,
  lpDepositCoin: coins({ gt: 0n }),
  insuranceFundCoin: coins({ gte: 0n }),
})
  .superRefine((market, ctx) => {
    if (market.protections.oiCap > market.maxOpenInterest)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["protections", "oiCap"],
        message: `must be <= maxOpenInterest (${formatWad(market.maxOpenInterest)}) (got ${formatWad(
          market.protections.oiCap,
        )})`,
      });
  })
  .transform(({ fundingIntervalHours, ...market }) => ({ ...market, fundingIntervalSec: fundingIntervalHours }));

/**
 * One entry of `markets`: coin-margined when its `margin` is "coin", USD-margined otherwise, each checked
 * by its own schema (so an error names the field of the kind of market it is).
 */
const anyMarketSchema = z.unknown().transform((input, ctx) => {
  const margin = typeof input === "object" && input !== null ? (input as { margin?: unknown }).margin : undefined;
  if (margin !== undefined && margin !== "usd" && margin !== "coin") {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      path: ["margin"],
      message: `must be "usd" or "coin" (got ${JSON.stringify(margin)})`,
      fatal: true,
    });
    return z.NEVER;
  }
  const result =
    margin === "coin" ? coinMarketSchema.safeParse(input, { errorMap }) : marketSchema.safeParse(input, { errorMap });
  if (result.success) return result.data;
  for (const issue of result.error.issues) ctx.addIssue({ ...issue, fatal: true });
  return z.NEVER;
});

/* AGENTS */

/** A retail group's market: USD-margined ("ALT-USD") or coin-margined ("ALTUSD-INV"). */
const anyMarketSymbol = z
  .string()
  .regex(/^[A-Z0-9]+(-USD|USD-INV)$/, 'must look like "ALT-USD" or, coin-margined, "ALTUSD-INV"');

/** Retail groups per scenario (a bound, so that sameDrawsAs is one). */
const MAX_RETAIL_GROUPS = 1_000;

const retailSchema = strict({
  market: anyMarketSymbol,
  side,
  count: integer(1, 10_000),
  leverage: range(leverage),
  marginUsd: range(usd),
  /** Traders enter at times drawn uniformly in [from, to]. */
  entryWindowHours: strict({ from: hoursAsSeconds({ gte: 0n }), to: hoursAsSeconds({ gte: 0n }) }),
  /** Take profit at this price move in the trader's favour from entry, as a fraction. */
  takeProfitPct: wad({ gt: 0n, lte: MAX_MOVE }).optional(),
  /** Stop loss at this price move against the trader from entry, as a fraction. */
  stopLossPct: wad({ gt: 0n, lte: MAX_MOVE }).optional(),
  /** Share of the group, as a fraction, that adds margin when close to liquidation. */
  addMarginBelowPct: wad({ gte: 0n, lte: WAD }).optional(),
  /**
   * An earlier group (its index) whose traders this group's repeat: the same draws of margin, leverage,
   * entry time and who adds margin, so that two groups differing in their market (a USD market and its
   * coin twin) hold the same traders. Count, ranges, window and addMarginBelowPct must be that group's.
   */
  sameDrawsAs: integer(0, MAX_RETAIL_GROUPS - 1).optional(),
})
  .superRefine((group, ctx) => {
    if (group.entryWindowHours.to < group.entryWindowHours.from) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ["entryWindowHours", "to"],
        message: `must be >= from (${hours(group.entryWindowHours.from)}) (got ${hours(group.entryWindowHours.to)})`,
      });
    }
    // A price can fall by less than 100%: a short's take profit and a long's stop loss are below 1.
    const falling = group.side === "short" ? "takeProfitPct" : "stopLossPct";
    const move = group[falling];
    if (move !== undefined && move >= WAD) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [falling],
        message: `must be < 1 for a ${group.side} (got ${formatWad(move)})`,
      });
    }
  })
  .transform(({ entryWindowHours, ...group }) => ({ ...group, entryWindowSec: entryWindowHours }));

const pushSchema = strict({
  atHours: hoursAsSeconds({ gte: 0n }),
  side: z.enum(["buy", "sell"]),
  /** USD bought, or the USD value of the coins sold at the spot price of the moment. */
  usd,
}).transform(({ atHours, ...push }) => ({ ...push, atSec: atHours }));

const perpPositionSchema = strict({
  side,
  marginUsd: usd,
  leverage,
  atHours: hoursAsSeconds({ gte: 0n }),
}).transform(({ atHours, ...position }) => ({ ...position, atSec: atHours }));

const marketMakerSchema = strict({
  market: symbol,
  /** USD available for spot buys and the perp position's margin. */
  budgetUsd: usd,
  pushes: z.array(pushSchema),
  perpPosition: perpPositionSchema.optional(),
});

const arbitrageurSchema = strict({
  market: symbol,
  enabled: z.boolean(),
  /** Largest perp position the arbitrageur holds, USD notional. */
  maxNotionalUsd: usd,
  /** Trades when |last - index| / index exceeds this, basis points. */
  thresholdBps: integer(0, BPS_PER_UNIT - 1),
});

/* THE ATTACKER (SPEC 9.4) */

const accountName = z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "must be lower-case words joined by '-'");
const venueList = z.array(integer(0, MAX_VENUES - 1)).min(1, "must name at least one venue");

/**
 * One step of the attacker's plan, at its time. `open`: a market order on the account's own position
 * (size in base units, or a USD notional at the index), with its margin; `removeMargin`: margin taken
 * out down to this leverage at mark (the tier's initial margin is the floor the engine keeps), so the
 * position is liquidated sooner; `close`: the whole position; `spotBuy`: USD split evenly over the
 * venues; `spotSell`: this share of the coins held, split evenly over the venues.
 */
const attackStepSchema = z.discriminatedUnion("do", [
  strict({
    do: z.literal("open"),
    atMinutes: minutesAsSeconds({ gte: 0n }),
    account: accountName,
    side,
    size: size.optional(),
    notionalUsd: usd.optional(),
    marginUsd: usd,
  }),
  strict({
    do: z.literal("removeMargin"),
    atMinutes: minutesAsSeconds({ gte: 0n }),
    account: accountName,
    toLeverage: leverage,
  }),
  strict({ do: z.literal("close"), atMinutes: minutesAsSeconds({ gte: 0n }), account: accountName }),
  strict({ do: z.literal("spotBuy"), atMinutes: minutesAsSeconds({ gte: 0n }), usd, venues: venueList }),
  strict({
    do: z.literal("spotSell"),
    atMinutes: minutesAsSeconds({ gte: 0n }),
    share: wad({ gt: 0n, lte: WAD }),
    venues: venueList,
  }),
]);

const attackerSchema = strict({
  market: symbol,
  /** Perp accounts, each one position on the market, each funded with its deposit at the start. */
  accounts: z.array(strict({ name: accountName, depositUsd: usd })).min(1, "must list at least one account"),
  /** USD in the attacker's spot wallet for the pumps. */
  spotBudgetUsd: usd,
  steps: z.array(attackStepSchema).min(1, "must list at least one step"),
}).transform(({ steps, ...attacker }) => ({
  ...attacker,
  steps: steps.map(({ atMinutes, ...step }) => ({ ...step, atSec: atMinutes })),
}));

/* WHERE THE NUMBERS COME FROM (replays, SPEC 9.4) */

/** A fact taken from a public report: what, its value as reported, and where it comes from. */
const sourceSchema = strict({ fact: z.string().min(1), value: z.string().min(1), from: z.string().min(1) });
/** A number the replay chose: the scenario field, its value, and why (what it was calibrated to). */
const calibratedSchema = strict({ field: z.string().min(1), value: z.string().min(1), why: z.string().min(1) });

/* SCENARIO */

const baseSchema = strict({
  name: z
    .string()
    .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "must be lower-case words joined by '-' (it names the report folder)"),
  description: z.string().min(1, "must not be empty"),
  seed: integer(0, Number.MAX_SAFE_INTEGER),
  durationHours: hoursAsSeconds({ gt: 0n, lte: MAX_DURATION_HOURS * WAD }),
  stepMinutes: minutesAsSeconds({ gt: 0n }),
  keeper: strict({ enabled: z.boolean(), latencyBlocks: integer(0, MAX_LATENCY_BLOCKS) }),
  markets: z.array(anyMarketSchema).min(1, "must list at least one market"),
  lp: strict({ depositUsd: usd }),
  insuranceFundUsd: wad({ gte: 0n, lte: MAX_USD }),
  agents: strict({
    retail: z.array(retailSchema).max(MAX_RETAIL_GROUPS, `must list at most ${MAX_RETAIL_GROUPS} groups`),
    marketMaker: marketMakerSchema.optional(),
    arbitrageur: arbitrageurSchema.optional(),
    attacker: attackerSchema.optional(),
  }),
  /** Replays: the reported facts the scenario rests on, and the numbers it chose to match them. */
  sources: z.array(sourceSchema).optional(),
  calibrated: z.array(calibratedSchema).optional(),
}).transform(({ durationHours, stepMinutes, ...scenario }) => ({
  ...scenario,
  durationSec: durationHours,
  stepSec: stepMinutes,
}));

type ParsedScenario = z.output<typeof baseSchema>;
type AnyMarket = ParsedScenario["markets"][number];
type Market = z.output<typeof marketSchema>;
type CoinMarket = z.output<typeof coinMarketSchema>;

function isCoinMarket(market: AnyMarket): market is CoinMarket {
  return "margin" in market && market.margin === "coin";
}

function hours(seconds: number): string {
  return formatWad((BigInt(seconds) * WAD) / SECONDS_PER_HOUR);
}

function minutes(seconds: number): string {
  return formatWad((BigInt(seconds) * WAD) / SECONDS_PER_MINUTE);
}

function tierFor(tiers: readonly Tier[], notional: bigint): Tier | undefined {
  return tiers.find((tier) => notional <= tier.notionalCap);
}

/**
 * The problem with a position of this margin and leverage on this market, if any. On a coin-margined
 * market the notional is in the coin, at the underlying's initial price (`coinPrice`), as its tiers are.
 */
function leverageProblem(
  market: AnyMarket,
  marketIndex: number,
  marginUsd: bigint,
  lev: bigint,
  coinPrice?: bigint,
): string | undefined {
  const notionalUsd = (marginUsd * lev) / WAD;
  const notional = coinPrice === undefined ? notionalUsd : (notionalUsd * WAD) / coinPrice;
  const tier = tierFor(market.tiers, notional);
  const tiersPath = `markets[${marketIndex}].tiers`;
  if (tier === undefined) {
    const cap = market.tiers[market.tiers.length - 1]!.notionalCap;
    const size =
      coinPrice === undefined
        ? `${formatWad(notional)} USD`
        : `${formatWad(notional)} coin (${formatWad(notionalUsd)} USD at the underlying's initialPrice)`;
    return `a ${size} position exceeds the last ${tiersPath} notionalCap (${formatWad(cap)})`;
  }
  if (lev > tier.maxLeverage) {
    return `${formatWad(lev)}x on ${formatWad(marginUsd)} USD falls in ${tiersPath}[${market.tiers.indexOf(
      tier,
    )}], which allows at most ${formatWad(tier.maxLeverage)}x`;
  }
  return undefined;
}

/** Checks between sections: time grid, references to markets, plans inside the run, budgets, tiers. */
function checkAcrossFields(s: ParsedScenario, ctx: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) =>
    ctx.addIssue({ code: z.ZodIssueCode.custom, path, message });
  const duration = hours(s.durationSec);

  if (s.stepSec > s.durationSec)
    issue(["stepMinutes"], `must be <= durationHours (${duration} h) (got ${minutes(s.stepSec)} min)`);
  else if (s.durationSec % s.stepSec !== 0)
    issue(
      ["stepMinutes"],
      `must divide durationHours (${duration} h) into whole steps (got ${minutes(s.stepSec)} min)`,
    );
  else if (s.durationSec / s.stepSec > MAX_STEPS)
    issue(["stepMinutes"], `gives ${s.durationSec / s.stepSec} steps over ${duration} h; at most ${MAX_STEPS}`);

  const marketIndex = new Map<string, number>();
  s.markets.forEach((market, i) => {
    const first = marketIndex.get(market.symbol);
    if (first !== undefined) issue(["markets", i, "symbol"], `duplicates markets[${first}].symbol (${market.symbol})`);
    else marketIndex.set(market.symbol, i);
  });
  const known = [...marketIndex.keys()].join(", ");
  const anyMarketOf = (path: (string | number)[], symbolName: string): [AnyMarket, number] | undefined => {
    const i = marketIndex.get(symbolName);
    if (i === undefined) {
      issue(path, `names no market in markets (${known}) (got ${symbolName})`);
      return undefined;
    }
    return [s.markets[i]!, i];
  };
  /** Spot, feeds and the market maker's, the arbitrageur's and the attacker's plans are USD markets'. */
  const marketOf = (path: (string | number)[], symbolName: string): [Market, number] | undefined => {
    const found = anyMarketOf(path, symbolName);
    if (found === undefined) return undefined;
    const [market, i] = found;
    if (!isCoinMarket(market)) return [market, i];
    issue(path, `must name a USD-margined market (markets[${i}], ${symbolName}, is coin-margined)`);
    return undefined;
  };
  const coinPriceOf = (market: AnyMarket): bigint | undefined => {
    if (!isCoinMarket(market)) return undefined;
    const underlying = marketIndex.get(market.underlying);
    const u = underlying === undefined ? undefined : s.markets[underlying];
    return u === undefined || isCoinMarket(u) ? undefined : u.initialPrice;
  };
  checkCoinMarkets(s.markets, marketIndex, issue);
  const withinRun = (path: (string | number)[], atSec: number, inclusive: boolean) => {
    if (inclusive ? atSec > s.durationSec : atSec >= s.durationSec) {
      issue(path, `must be ${inclusive ? "<=" : "<"} durationHours (${duration}) (got ${hours(atSec)})`);
    }
  };

  s.agents.retail.forEach((group, i) => {
    const path = ["agents", "retail", i];
    withinRun([...path, "entryWindowHours", "to"], group.entryWindowSec.to, true);
    const found = anyMarketOf([...path, "market"], group.market);
    if (found === undefined) return;
    const coinPrice = coinPriceOf(found[0]);
    if (isCoinMarket(found[0]) && coinPrice === undefined) return; // its underlying's issue is reported
    const problem = leverageProblem(found[0], found[1], group.marginUsd.max, group.leverage.max, coinPrice);
    if (problem !== undefined) issue([...path, "leverage", "max"], `${problem} (at marginUsd.max)`);
    const draws = sameDrawsProblem(s.agents.retail, i);
    if (draws !== undefined) issue([...path, "sameDrawsAs"], draws);
  });

  const mm = s.agents.marketMaker;
  if (mm !== undefined) {
    const path = ["agents", "marketMaker"];
    const found = marketOf([...path, "market"], mm.market);
    mm.pushes.forEach((push, i) => {
      withinRun([...path, "pushes", i, "atHours"], push.atSec, false);
      const previous = mm.pushes[i - 1];
      if (previous !== undefined && push.atSec < previous.atSec) {
        issue(
          [...path, "pushes", i, "atHours"],
          `must be >= pushes[${i - 1}].atHours (${hours(previous.atSec)}) (got ${hours(push.atSec)})`,
        );
      }
    });
    const perp = mm.perpPosition;
    if (perp !== undefined) {
      withinRun([...path, "perpPosition", "atHours"], perp.atSec, false);
      const problem =
        found === undefined ? undefined : leverageProblem(found[0], found[1], perp.marginUsd, perp.leverage);
      if (problem !== undefined) issue([...path, "perpPosition", "leverage"], problem);
    }
    const buys = mm.pushes.filter((push) => push.side === "buy").reduce((sum, push) => sum + push.usd, 0n);
    const deposit = found === undefined ? (perp?.marginUsd ?? 0n) : marketMakerDeposit(mm, found[0].fees.taker);
    if (buys + deposit > mm.budgetUsd) {
      issue(
        [...path, "budgetUsd"],
        `must cover the buys (${formatWad(buys)}) and the perp margin with its opening fee (${formatWad(
          deposit,
        )}): ${formatWad(buys + deposit)} (got ${formatWad(mm.budgetUsd)})`,
      );
    }
  }

  const arb = s.agents.arbitrageur;
  if (arb !== undefined) marketOf(["agents", "arbitrageur", "market"], arb.market);

  const attacker = s.agents.attacker;
  if (attacker !== undefined) {
    const found = marketOf(["agents", "attacker", "market"], attacker.market);
    checkAttacker(attacker, found?.[0], s.durationSec, (path, message) =>
      issue(["agents", "attacker", ...path], message),
    );
  }
}

type RetailInput = ParsedScenario["agents"]["retail"][number];

/** What keeps group `i` from repeating the draws of the group its sameDrawsAs names, if anything. */
function sameDrawsProblem(groups: readonly RetailInput[], i: number): string | undefined {
  const group = groups[i]!;
  const j = group.sameDrawsAs;
  if (j === undefined) return undefined;
  if (j >= i) return `must name an earlier group (< ${i}) (got ${j})`;
  const other = groups[j]!;
  if (other.sameDrawsAs !== undefined)
    return `must name a group that draws its own traders (agents.retail[${j}] has sameDrawsAs ${other.sameDrawsAs})`;
  const same = (a: { min: bigint; max: bigint }, b: { min: bigint; max: bigint }) => a.min === b.min && a.max === b.max;
  const differing = [
    group.count === other.count ? undefined : "count",
    same(group.leverage, other.leverage) ? undefined : "leverage",
    same(group.marginUsd, other.marginUsd) ? undefined : "marginUsd",
    group.entryWindowSec.from === other.entryWindowSec.from && group.entryWindowSec.to === other.entryWindowSec.to
      ? undefined
      : "entryWindowHours",
    group.addMarginBelowPct === other.addMarginBelowPct ? undefined : "addMarginBelowPct",
  ].filter((field) => field !== undefined);
  if (differing.length === 0) return undefined;
  return `names agents.retail[${j}], which differs from this group in ${differing.join(", ")}: its draws are not this group's traders`;
}

/** Each coin-margined market's underlying: a USD market of the scenario, twinned once. */
function checkCoinMarkets(
  markets: readonly AnyMarket[],
  marketIndex: ReadonlyMap<string, number>,
  issue: (path: (string | number)[], message: string) => void,
): void {
  const twinOf = new Map<string, number>();
  markets.forEach((market, i) => {
    if (!isCoinMarket(market)) return;
    const path = ["markets", i, "underlying"];
    const u = marketIndex.get(market.underlying);
    const usdSymbols = markets.filter((m) => !isCoinMarket(m)).map((m) => m.symbol);
    if (u === undefined || isCoinMarket(markets[u]!)) {
      issue(path, `must name a USD-margined market in markets (${usdSymbols.join(", ")}) (got ${market.underlying})`);
      return;
    }
    const twin = twinOf.get(market.underlying);
    if (twin !== undefined) issue(path, `duplicates markets[${twin}].underlying (${market.underlying})`);
    else twinOf.set(market.underlying, i);
  });
}

type AttackerInput = NonNullable<ParsedScenario["agents"]["attacker"]>;

/** The attacker's plan: known accounts, steps in time order inside the run, venues that exist, budgets. */
function checkAttacker(
  attacker: AttackerInput,
  market: Market | undefined,
  durationSec: number,
  issue: (path: (string | number)[], message: string) => void,
): void {
  const deposits = new Map<string, bigint>();
  attacker.accounts.forEach((account, i) => {
    if (deposits.has(account.name)) issue(["accounts", i, "name"], `duplicates another account (${account.name})`);
    deposits.set(account.name, account.depositUsd);
  });
  const names = [...deposits.keys()].join(", ");
  const venues = market?.venueLiquidityUsd.length ?? 1;
  let bought = 0n;
  attacker.steps.forEach((step, i) => {
    const path = ["steps", i];
    if (step.atSec >= durationSec)
      issue(
        [...path, "atMinutes"],
        `must be < durationHours in minutes (${minutes(durationSec)}) (got ${minutes(step.atSec)})`,
      );
    const previous = attacker.steps[i - 1];
    if (previous !== undefined && step.atSec < previous.atSec)
      issue(
        [...path, "atMinutes"],
        `must be >= steps[${i - 1}].atMinutes (${minutes(previous.atSec)}) (got ${minutes(step.atSec)})`,
      );
    if ("account" in step && !deposits.has(step.account))
      issue([...path, "account"], `names no account in accounts (${names}) (got ${step.account})`);
    if ("venues" in step)
      step.venues.forEach((v, j) => {
        if (v >= venues) issue([...path, "venues", j], `must be < the market's venue count (${venues}) (got ${v})`);
      });
    if (step.do === "spotBuy") bought += step.usd;
    if (step.do === "open") {
      if ((step.size === undefined) === (step.notionalUsd === undefined))
        issue([...path, "size"], "give exactly one of size (base units) and notionalUsd");
      const deposit = deposits.get(step.account);
      if (deposit !== undefined && step.marginUsd > deposit)
        issue(
          [...path, "marginUsd"],
          `must be <= the account's depositUsd (${formatWad(deposit)}) (got ${formatWad(step.marginUsd)})`,
        );
    }
  });
  if (bought > attacker.spotBudgetUsd)
    issue(
      ["spotBudgetUsd"],
      `must cover the spot buys (${formatWad(bought)}) (got ${formatWad(attacker.spotBudgetUsd)})`,
    );
}

/**
 * `markets` holds the USD-margined markets, in file order (every field of theirs as before coin margin
 * came); `coinMarkets` the coin-margined ones (empty without).
 */
const scenarioSchema = baseSchema.superRefine(checkAcrossFields).transform(({ markets, ...scenario }) => ({
  ...scenario,
  markets: markets.filter((m): m is Market => !isCoinMarket(m)),
  coinMarkets: markets.filter(isCoinMarket),
}));

/** A validated scenario in chain units: WAD bigints, integer seconds. */
export type Scenario = z.output<typeof scenarioSchema>;
export type MarketConfig = Scenario["markets"][number];
/** A coin-margined market (coinMarketSchema), after its underlying USD market in `markets`. */
export type CoinMarketConfig = Scenario["coinMarkets"][number];
export type RetailGroup = Scenario["agents"]["retail"][number];
export type MarketMakerPlan = NonNullable<Scenario["agents"]["marketMaker"]>;
export type ArbitrageurPlan = NonNullable<Scenario["agents"]["arbitrageur"]>;
export type AttackerPlan = NonNullable<Scenario["agents"]["attacker"]>;
export type AttackStep = AttackerPlan["steps"][number];
export type Side = z.output<typeof side>;

/* ERRORS AND LOADING */

const errorMap: z.ZodErrorMap = (issue, ctx) => {
  if (issue.code === z.ZodIssueCode.invalid_type) {
    if (issue.received === "undefined") return { message: "is required" };
    const article = /^[aeiou]/.test(issue.expected) ? "an" : "a";
    return { message: `must be ${article} ${issue.expected} (got ${issue.received})` };
  }
  if (issue.code === z.ZodIssueCode.invalid_enum_value) {
    const options = issue.options.map((option) => JSON.stringify(option)).join(" or ");
    return { message: `must be ${options} (got ${JSON.stringify(issue.received)})` };
  }
  return { message: ctx.defaultError };
};

function formatPath(path: readonly (string | number)[]): string {
  return path.reduce<string>(
    (out, key) => (typeof key === "number" ? `${out}[${key}]` : out === "" ? key : `${out}.${key}`),
    "",
  );
}

function toIssues(error: z.ZodError): ScenarioIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === z.ZodIssueCode.unrecognized_keys
      ? issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: "is not a known field" }))
      : [{ path: formatPath(issue.path), message: issue.message }],
  );
}

/** Validates parsed JSON; `source` names the input in errors. Throws ScenarioError. */
export function parseScenario(json: unknown, source: string): Scenario {
  const result = scenarioSchema.safeParse(json, { errorMap });
  if (!result.success) throw new ScenarioError(source, toIssues(result.error));
  return result.data;
}

/** Reads and validates a scenario file. Throws ScenarioError naming the file and the field. */
export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (error) {
    throw new ScenarioError(file, [
      { path: "", message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? String(error)})` },
    ]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ScenarioError(file, [{ path: "", message: `is not valid JSON (${(error as Error).message})` }]);
  }
  return parseScenario(json, file);
}
