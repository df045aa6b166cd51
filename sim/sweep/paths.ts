/**
 * `--vary PATH=V1,V2,...`: a dotted path into the scenario JSON, with array indexes as numeric
 * segments (`markets.0.protections.oiCap`), and the values it takes.
 *
 * Pure: parsing, reading and writing a path in a JSON value. A value that reads back as the same
 * JSON number (`1800`, `0.25`) is a number, `true`/`false` are booleans, anything else a string
 * (`median`, or a decimal too long for a double, which the scenario schema reads exactly).
 * Every refusal is one line naming the argument, the value and what is allowed.
 */
import { SweepError } from "./errors";

/** One segment of a path: an object key, or an array index. */
export type Segment = string | number;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A varied path and the values it takes, in the order given. */
export interface Axis {
  /** The path as written: `markets.0.protections.oiCap`. */
  path: string;
  segments: Segment[];
  values: JsonValue[];
}

/** A bad --vary argument or a path the scenario does not have. */
export class VaryError extends SweepError {
  override name = "VaryError";
}

const SEGMENT = /^(0|[1-9][0-9]*|[A-Za-z_][A-Za-z0-9_]*)$/;

/** `markets.0.protections.oiCap` -> ["markets", 0, "protections", "oiCap"]. */
export function parsePath(path: string): Segment[] {
  if (path === "") throw new VaryError(`--vary: the path is empty; expected e.g. markets.0.protections.oiCap`);
  return path.split(".").map((part) => {
    if (!SEGMENT.test(part)) {
      throw new VaryError(
        `--vary ${path}: segment "${part}" is neither a field name (letters, digits, _) nor an array index`,
      );
    }
    return /^[0-9]/.test(part) ? Number(part) : part;
  });
}

/** "1800" -> 1800, "true" -> true, "median" -> "median", "0.1000000000000000001" -> the string. */
export function parseValue(text: string): JsonValue {
  if (text === "true") return true;
  if (text === "false") return false;
  if (/^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/.test(text)) {
    const number = Number(text);
    if (Number.isSafeInteger(number) || (!Number.isInteger(number) && String(number) === text)) return number;
  }
  return text;
}

/** `PATH=V1,V2,...` -> an axis; values must be distinct and non-empty. */
export function parseVary(arg: string): Axis {
  const eq = arg.indexOf("=");
  if (eq <= 0)
    throw new VaryError(`--vary ${arg}: expected PATH=V1,V2,... (e.g. markets.0.protections.oiCap=0,500000)`);
  const path = arg.slice(0, eq);
  const texts = arg.slice(eq + 1).split(",");
  if (texts.some((text) => text === "")) throw new VaryError(`--vary ${arg}: a value is empty`);
  const seen = new Set<string>();
  for (const text of texts) {
    if (seen.has(text)) throw new VaryError(`--vary ${arg}: value ${text} is listed twice`);
    seen.add(text);
  }
  return { path, segments: parsePath(path), values: texts.map(parseValue) };
}

/** Several --vary arguments; a path may appear once. */
export function parseVaries(args: readonly string[]): Axis[] {
  const axes = args.map(parseVary);
  axes.forEach((axis, i) => {
    if (axes.findIndex((other) => other.path === axis.path) !== i)
      throw new VaryError(`--vary ${axis.path}: the path is varied twice; list all its values in one --vary`);
  });
  return axes;
}

function describe(value: JsonValue | undefined): string {
  if (value === undefined) return "nothing";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return value === null ? "null" : typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/**
 * A copy of `json` with `value` at `segments`. An array index must fall inside its array; a missing
 * object key is added, with empty objects on the way (`markets.0.mechanisms.fundingModel` on a
 * scenario without a mechanisms block). A misspelt key then reaches the scenario schema, which
 * refuses unknown fields by name.
 */
export function setAt(json: JsonValue, segments: readonly Segment[], value: JsonValue, path: string): JsonValue {
  return setFrom(json, segments, 0, value, path);
}

function setFrom(
  json: JsonValue,
  segments: readonly Segment[],
  depth: number,
  value: JsonValue,
  path: string,
): JsonValue {
  const head = segments[depth];
  if (head === undefined) return value;
  const at = depth === 0 ? "the scenario" : segments.slice(0, depth).join(".");
  const last = depth === segments.length - 1;
  if (typeof head === "number") {
    if (!Array.isArray(json)) throw new VaryError(`--vary ${path}: ${at} is ${describe(json)}, not an array`);
    if (head >= json.length)
      throw new VaryError(`--vary ${path}: index ${head} is out of range; ${at} has ${json.length} element(s)`);
    const copy = [...json];
    copy[head] = setFrom(json[head]!, segments, depth + 1, value, path);
    return copy;
  }
  if (json === null || typeof json !== "object" || Array.isArray(json))
    throw new VaryError(`--vary ${path}: ${at} is ${describe(json)}, not an object`);
  const child = json[head] ?? (typeof segments[depth + 1] === "string" ? {} : undefined);
  if (child === undefined && !last) throw new VaryError(`--vary ${path}: ${at} has no field "${head}" to index into`);
  return { ...json, [head]: last ? value : setFrom(child!, segments, depth + 1, value, path) };
}

/** The value at `segments`, or undefined when the path does not reach one. */
export function getAt(json: JsonValue, segments: readonly Segment[]): JsonValue | undefined {
  let node: JsonValue | undefined = json;
  for (const segment of segments) {
    if (node === null || typeof node !== "object") return undefined;
    node = Array.isArray(node)
      ? typeof segment === "number"
        ? node[segment]
        : undefined
      : typeof segment === "string"
        ? node[segment]
        : undefined;
  }
  return node;
}
