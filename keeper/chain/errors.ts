/**
 * What an error from the chain means, which decides what the keeper does next:
 *   - a transport fault (the RPC is unreachable, reset, timed out, or answered 5xx): retry later;
 *   - a revert (the contract refused): never retried; its custom error says why;
 *   - a nonce error (our local nonce is wrong): resync the nonce from the chain.
 *
 * Errors arrive wrapped (ethers puts the cause in `error`, `info.error` or `cause`), so each test
 * looks down the chain of causes. A revert anywhere in the chain wins over everything else.
 */
import { isCallException } from "ethers";
import type { Interface } from "ethers";

const TRANSPORT_SYSCALL_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);
/** ethers' codes for a request that did not get a usable answer. */
const TRANSPORT_ETHERS_CODES = new Set(["NETWORK_ERROR", "SERVER_ERROR", "TIMEOUT"]);
const TRANSPORT_MESSAGE = /fetch failed|socket hang up|network error|connection (?:refused|reset|closed)/i;

const NONCE_ETHERS_CODES = new Set(["NONCE_EXPIRED", "REPLACEMENT_UNDERPRICED"]);
const NONCE_MESSAGE =
  /nonce too (?:low|high)|nonce has already been used|invalid nonce|replacement (?:transaction underpriced|fee too low)/i;
const ALREADY_KNOWN_MESSAGE = /already known|known transaction|already imported/i;

/** Hardhat's wording for a revert, where no ethers CALL_EXCEPTION wraps it. */
const HARDHAT_REVERT_MESSAGE =
  /reverted with (?:custom error|reason string|panic code)|execution reverted|VM Exception|Transaction reverted|out of gas/i;
const HARDHAT_CUSTOM_ERROR = /reverted with custom error '([A-Za-z_$][\w$]*)\(/;

const MAX_CAUSE_DEPTH = 8;

interface ErrorFields {
  code?: unknown;
  name?: unknown;
  message?: unknown;
  cause?: unknown;
  error?: unknown;
  info?: { error?: unknown };
}

/** The error, then what it wraps, outermost first. */
function causeChain(error: unknown): ErrorFields[] {
  const chain: ErrorFields[] = [];
  const queue: unknown[] = [error];
  while (queue.length > 0 && chain.length < MAX_CAUSE_DEPTH) {
    const next = queue.shift();
    if (next === null || typeof next !== "object" || chain.includes(next as ErrorFields)) continue;
    const fields = next as ErrorFields;
    chain.push(fields);
    queue.push(fields.error, fields.info?.error, fields.cause);
  }
  return chain;
}

function messageOf(fields: ErrorFields): string {
  return typeof fields.message === "string" ? fields.message : "";
}

/** True when the contract refused: an ethers CALL_EXCEPTION or a node's revert message. */
export function isRevert(error: unknown): boolean {
  return causeChain(error).some((fields) => isCallException(fields) || HARDHAT_REVERT_MESSAGE.test(messageOf(fields)));
}

/** True when the RPC could not be reached or gave no usable answer: worth retrying. */
export function isRpcTransportError(error: unknown): boolean {
  if (isRevert(error)) return false;
  return causeChain(error).some(
    (fields) =>
      TRANSPORT_SYSCALL_CODES.has(String(fields.code)) ||
      TRANSPORT_ETHERS_CODES.has(String(fields.code)) ||
      fields.name === "TimeoutError" ||
      TRANSPORT_MESSAGE.test(messageOf(fields)),
  );
}

/** True when the node refused a transaction because of its nonce: the local count is wrong. */
export function isNonceError(error: unknown): boolean {
  return causeChain(error).some(
    (fields) => NONCE_ETHERS_CODES.has(String(fields.code)) || NONCE_MESSAGE.test(messageOf(fields)),
  );
}

/** True when the node already holds this exact signed transaction. */
export function isAlreadyKnown(error: unknown): boolean {
  return causeChain(error).some((fields) => ALREADY_KNOWN_MESSAGE.test(messageOf(fields)));
}

export interface RevertInfo {
  /** The custom error's name (or "Error" / "Panic" for the built-ins), when it could be decoded. */
  errorName?: string;
  /** A readable account: the error with its arguments, the reason string, or the raw data. */
  reason: string;
  /** The raw revert data, when the node returned it. */
  data?: string;
}

/**
 * Decodes a revert, using `errors` (an Interface holding the contracts' custom errors) for data
 * ethers could not decode by itself. Undefined when `error` is not a revert.
 */
export function revertInfo(error: unknown, errors?: Interface): RevertInfo | undefined {
  const chain = causeChain(error);
  const exception = chain.find((fields) => isCallException(fields));
  if (exception !== undefined && isCallException(exception)) {
    const data = exception.data ?? undefined;
    const decoded = data !== undefined && errors !== undefined ? errors.parseError(data) : null;
    if (decoded !== null) {
      const args = decoded.args.map((arg: unknown) => String(arg)).join(", ");
      return { errorName: decoded.name, reason: `${decoded.name}(${args})`, data };
    }
    if (exception.revert !== null) {
      return { errorName: exception.revert.name, reason: exception.reason ?? exception.revert.signature, data };
    }
    return {
      reason: exception.reason ?? (data === undefined ? "reverted without data" : `reverted with ${data}`),
      data,
    };
  }
  const hardhat = chain.map(messageOf).find((message) => HARDHAT_REVERT_MESSAGE.test(message));
  if (hardhat === undefined) return undefined;
  const errorName = HARDHAT_CUSTOM_ERROR.exec(hardhat)?.[1];
  return errorName === undefined ? { reason: hardhat } : { errorName, reason: hardhat };
}
