/**
 * Turns a reverted call or transaction into a sentence a trader can act on. Decodes the custom error
 * from the revert data with every perpsim contract's ABI (an error raised by the vault inside an engine
 * call is decoded too), then phrases the errors a user meets through the CLI with their amounts in
 * human units; any other error prints as Name(param=value, ...).
 */
import { ErrorFragment, Interface, id as keccakId, isHexString, type InterfaceAbi } from "ethers";
import {
  CoinToken__factory,
  CollateralToken__factory,
  LiquidityPool__factory,
  Oracle__factory,
  OrderBook__factory,
  PerpEngineAdmin__factory,
  PerpEngine__factory,
  PerpLens__factory,
  PushPriceFeed__factory,
  SpotPool__factory,
  SpotTwapFeed__factory,
  Vault__factory,
} from "../typechain-types";
import { leverage, price, size, usd, usd6 } from "./format";

export interface DecodedRevert {
  /** The error's name, e.g. "LeverageTooHigh"; "Error" for a reason string, "Panic" for a panic code. */
  name: string;
  /** Arguments by name (and position), as decoded by ethers. */
  args: Record<string, unknown>;
  /** A sentence in human units. */
  message: string;
}

const PROJECT_ABIS: InterfaceAbi[] = [
  PerpEngine__factory.abi,
  PerpEngineAdmin__factory.abi,
  OrderBook__factory.abi,
  PerpLens__factory.abi,
  Vault__factory.abi,
  LiquidityPool__factory.abi,
  Oracle__factory.abi,
  PushPriceFeed__factory.abi,
  SpotTwapFeed__factory.abi,
  SpotPool__factory.abi,
  CollateralToken__factory.abi,
  CoinToken__factory.abi,
];

const ROLE_NAMES = new Map<string, string>(
  ["ORACLE_ROLE", "MINTER_ROLE", "CONFIG_ROLE", "EXECUTOR_ROLE", "OPERATOR_ROLE", "POOL_ROLE"].map((r) => [
    keccakId(r),
    r,
  ]),
);
ROLE_NAMES.set("0x" + "00".repeat(32), "DEFAULT_ADMIN_ROLE");

type Args = Record<string, unknown>;
const big = (a: Args, key: string) => a[key] as bigint;

/**
 * Phrasings of the errors the CLI's own calls can meet. SpotPool's SlippageExceeded(amountOut, minOut)
 * shares its selector with the engine's SlippageExceeded(fillPrice, acceptablePrice): it is decoded by
 * the engine's names, so the spot task checks its minimum output before it sends.
 */
const PHRASES: Record<string, (a: Args) => string> = {
  InsufficientBalance: (a) =>
    `the free balance is ${usd(big(a, "balance"))}, ${usd(big(a, "needed"))} is needed (deposit with perp:deposit)`,
  LeverageTooHigh: (a) =>
    big(a, "leverage") === (1n << 256n) - 1n
      ? "the position would have no equity left"
      : `leverage ${leverage(big(a, "leverage"))} is above the ${leverage(
          big(a, "maxLeverage"),
        )} allowed at this notional`,
  MarginTooLow: (a) => `margin ${usd(big(a, "margin"))} is below the market's minimum ${usd(big(a, "minMargin"))}`,
  PositionTooLarge: (a) =>
    `notional ${usd(big(a, "notional"))} is above the largest tier's cap ${usd(big(a, "maxNotional"))}`,
  OpenInterestCapExceeded: (a) =>
    `${a.isLong ? "long" : "short"} open interest would be ${size(big(a, "openInterest"))}, above the cap ${size(
      big(a, "cap"),
    )}`,
  SlippageExceeded: (a) =>
    `the fill price ${price(big(a, "fillPrice"))} is worse than the acceptable price ${price(
      big(a, "acceptablePrice"),
    )} (raise --slippage)`,
  NoFreshPrice: (a) => `market ${a.marketId} has no fresh oracle price (push one with perp:price)`,
  MarketIsPaused: (a) => `market ${a.marketId} is paused`,
  UnknownMarket: (a) => `market ${a.marketId} does not exist`,
  SideMismatch: (a) =>
    `the account holds a ${
      big(a, "size") > 0n ? "long" : "short"
    } on this market; close it before trading the other side`,
  NoPosition: (a) => `${a.account} has no open position on market ${a.marketId}`,
  PositionNotFound: (a) => `position ${a.id} is not open`,
  PositionHealthy: (a) => `position ${a.id} is healthy at mark ${price(big(a, "markPrice"))}`,
  WouldBeLiquidatable: () => "the change would leave the position liquidatable",
  SizeExceedsPosition: (a) =>
    `size ${size(big(a, "size"))} is more than the position's ${size(big(a, "positionSize"))}`,
  ZeroSize: () => "the size rounds to zero",
  ZeroAmount: () => "the amount is zero",
  AccessControlUnauthorizedAccount: (a) =>
    `${a.account} lacks ${ROLE_NAMES.get(String(a.neededRole)) ?? `role ${a.neededRole}`}`,
  FaucetOnlyOnLocalChain: (a) => `the faucet works only on chain 31337, this is chain ${a.chainId}`,
  FaucetAmountTooLarge: (a) => `one faucet call mints at most ${usd6(big(a, "limit"))}`,
  DeviationTooLarge: (a) =>
    `the feed refuses a move from ${a.previous} to ${a.answer} (8 decimals): above its max deviation`,
  AdlNotActive: (a) => `auto-deleveraging is not active on market ${a.marketId}`,
};

let defaultInterface: Interface | undefined;

/** The project's errors, de-duplicated by selector, plus any extra ABIs (e.g. a contract added later). */
function errorInterface(extra: Interface[]): Interface {
  if (extra.length === 0 && defaultInterface) return defaultInterface;
  const bySelector = new Map<string, ErrorFragment>();
  const sources = [...PROJECT_ABIS.map((abi) => new Interface(abi)), ...extra];
  for (const iface of sources) {
    iface.forEachError((fragment) => {
      if (!bySelector.has(fragment.selector)) bySelector.set(fragment.selector, fragment);
    });
  }
  const iface = new Interface([...bySelector.values()]);
  if (extra.length === 0) defaultInterface = iface;
  return iface;
}

/** The revert data inside an error from ethers, hardhat-ethers or a JSON-RPC provider, if any. */
export function revertData(err: unknown, depth = 0): string | undefined {
  if (depth > 4 || err === null || typeof err !== "object") return undefined;
  const e = err as Record<string, unknown>;
  if (typeof e.data === "string" && isHexString(e.data) && e.data.length >= 10) return e.data;
  for (const key of ["data", "error", "info", "cause"]) {
    const found = revertData(e[key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** Decodes a revert, or returns undefined when `err` carries no revert data or reason. */
export function decodeRevert(err: unknown, ...extra: Interface[]): DecodedRevert | undefined {
  const data = revertData(err);
  if (data) {
    try {
      const parsed = errorInterface(extra).parseError(data);
      if (parsed) {
        const args: Args = {};
        parsed.fragment.inputs.forEach((input, i) => {
          args[i] = parsed.args[i];
          if (input.name) args[input.name] = parsed.args[i];
        });
        const phrase = PHRASES[parsed.name];
        const generic = `${parsed.name}(${parsed.fragment.inputs
          .map((input, i) => `${input.name || i}=${show(parsed.args[i], input.type)}`)
          .join(", ")})`;
        return { name: parsed.name, args, message: phrase ? phrase(args) : generic };
      }
    } catch {
      // unknown selector: fall through to the message
    }
  }
  const message = err instanceof Error ? err.message : String(err);
  const custom = /reverted with custom error '([^']+)'/.exec(message);
  if (custom) return { name: custom[1].split("(")[0], args: {}, message: custom[1] };
  const reason = /reverted with reason string '([^']*)'/.exec(message) ?? /execution reverted: (.+)$/m.exec(message);
  if (reason) return { name: "Error", args: { reason: reason[1] }, message: reason[1] };
  const panic = /reverted with panic code (0x[0-9a-f]+) \(([^)]+)\)/.exec(message);
  if (panic) return { name: "Panic", args: { code: panic[1] }, message: `panic ${panic[1]}: ${panic[2]}` };
  return undefined;
}

function show(value: unknown, type: string): string {
  if (type === "bytes32" && typeof value === "string") {
    const text = Buffer.from(value.slice(2), "hex").toString("utf8").replace(/\0+$/, "");
    if (/^[\x20-\x7e]+$/.test(text)) return JSON.stringify(text);
  }
  return String(value);
}
