/**
 * Turns a traced transaction (bench/trace.ts) into the rows of results.md: what each part of the
 * operation costs, adding up to the receipt's gasUsed, and what would make the largest parts cheaper.
 * The suggestions are rules over the measured parts (a rule speaks only when its part is large), so
 * they follow the contracts as they change; the numbers in them are this run's.
 */
import { descendants, type Frame, type StorageUse, type TxBreakdown } from "./trace";
import type { Breakdown, GasPart } from "./figures";

const COLD_ACCOUNT = 2_600;
/** A rule speaks when its part costs at least this much per position. */
const WORTH_IT = 4_000;
/** Storage of the market rather than of the position: read and written once per call, whatever the batch. */
const MARKET_STORAGE = new Set(["config", "tiers", "state", "reentrancy guard", "marketCount"]);

const k = (gas: number): string => `${(gas / 1000).toFixed(1)}k`;
const fmtCount = (n: number): string => (Number.isInteger(n) ? String(n) : n.toFixed(1));

interface Group {
  name: string;
  calls: number;
  gas: number;
  frames: Frame[];
}

function groupCalls(frames: readonly Frame[]): Group[] {
  const groups = new Map<string, Group>();
  for (const f of frames) {
    const name = `${f.contract}.${f.fn || "?"}`;
    const g = groups.get(name) ?? { name, calls: 0, gas: 0, frames: [] };
    g.calls++;
    g.gas += f.gas;
    g.frames.push(f);
    groups.set(name, g);
  }
  return [...groups.values()].sort((a, b) => b.gas - a.gas);
}

function subtreeStorage(frames: readonly Frame[]): { cold: number; warm: number; readGas: number; writeGas: number } {
  let cold = 0;
  let warm = 0;
  let readGas = 0;
  let writeGas = 0;
  for (const f of frames.flatMap((x) => [x, ...descendants(x)])) {
    for (const s of f.storage) {
      cold += s.coldReads;
      warm += s.warmReads;
      readGas += s.readGas;
      writeGas += s.writeGas;
    }
  }
  return { cold, warm, readGas, writeGas };
}

function describeGroup(g: Group, per: number): string {
  const below = groupCalls(g.frames.flatMap((f) => f.children));
  const storage = subtreeStorage(g.frames);
  const parts: string[] = [];
  if (below.length > 0) {
    parts.push("calls " + below.map((b) => `${b.name} x${fmtCount(b.calls / per)} (${k(b.gas / per)})`).join(", "));
  }
  if (storage.cold + storage.warm > 0) {
    parts.push(
      `${fmtCount(storage.cold / per)} cold + ${fmtCount(storage.warm / per)} warm SLOADs (${k(storage.readGas / per)})`,
    );
  }
  if (storage.writeGas > 0) parts.push(`SSTOREs ${k(storage.writeGas / per)}`);
  return parts.join("; ");
}

function describeCompute(frame: Frame): string {
  const total = Object.values(frame.compute).reduce((a, b) => a + b, 0);
  return Object.entries(frame.compute)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([kind, gas]) => `${kind} ${Math.round((gas / total) * 100)}%`)
    .join(", ");
}

function storageDetail(s: StorageUse, per: number, write: boolean): string {
  if (write) return `${fmtCount(s.writes / per)} SSTOREs to ${fmtCount(s.slots / per)} slots`;
  return `${fmtCount(s.coldReads / per)} cold, ${fmtCount(s.warmReads / per)} warm`;
}

/** The parts of one traced transaction, divided by `per` (positions in a batch). */
export function partsOf(b: TxBreakdown, per = 1): GasPart[] {
  const root = b.root;
  const parts: GasPart[] = [];
  parts.push({ part: "intrinsic (21,000 + calldata)", gas: b.intrinsic / per });
  for (const s of root.storage.filter((x) => x.readGas > 0).sort((a, c) => c.readGas - a.readGas)) {
    parts.push({
      part: `${root.contract} storage reads: ${s.label}`,
      gas: s.readGas / per,
      detail: storageDetail(s, per, false),
    });
  }
  for (const s of root.storage.filter((x) => x.writeGas > 0).sort((a, c) => c.writeGas - a.writeGas)) {
    parts.push({
      part: `${root.contract} storage writes: ${s.label}`,
      gas: s.writeGas / per,
      detail: storageDetail(s, per, true),
    });
  }
  if (root.self.events > 0) {
    parts.push({
      part: `${root.contract} events`,
      gas: root.self.events / per,
      detail: `${fmtCount(root.self.eventCount / per)} logs`,
    });
  }
  for (const g of groupCalls(root.children)) {
    parts.push({ part: `call ${g.name} x${fmtCount(g.calls / per)}`, gas: g.gas / per, detail: describeGroup(g, per) });
  }
  parts.push({ part: `${root.contract} computation`, gas: root.self.other / per, detail: describeCompute(root) });
  if (b.refund > 0) parts.push({ part: "refund (storage cleared or restored)", gas: -b.refund / per });
  return parts.map((p) => ({ ...p, gas: Math.round(p.gas) }));
}

/** Gas paid once per call for the market (not per position): market storage, external calls, intrinsic base. */
export function perCallGas(b: TxBreakdown): number {
  const root = b.root;
  const storage = root.storage
    .filter((s) => MARKET_STORAGE.has(s.label))
    .reduce((n, s) => n + s.readGas + s.writeGas, 0);
  const marks = root.children.filter((c) => c.contract.includes("MarkModel"));
  const calls = root.children.filter((c) => !marks.includes(c)).reduce((n, c) => n + c.gas, 0);
  // the mark is computed once per call, and again after each liquidation (the cascade): the first is per call
  const firstMark = marks.length > 0 ? marks[0].gas : 0;
  return storage + calls + firstMark + 21_000;
}

/** Suggestions for the parts that cost the most; numbers per position. */
export function fixesFor(b: TxBreakdown, per = 1): string[] {
  const root = b.root;
  const fixes: string[] = [];
  const find = (label: string) => root.storage.find((s) => s.label === label);
  const config = find("config");
  if (config && config.readGas / per >= WORTH_IT) {
    fixes.push(
      `MarketConfig: ${fmtCount(config.coldReads / per)} cold slots (${k(config.readGas / per)}): the two words every trade reads ` +
        "(skew scale and cap in whole base units with the three minimums; eight rates in 1e-7 with the funding clock, mark method and tier count), " +
        "and the funding words when a boundary is due. What is left: the config as immutables of a per-market contract.",
    );
  }
  const tiers = find("tiers");
  if (tiers && tiers.readGas / per >= WORTH_IT) {
    fixes.push(
      `Tiers: ${fmtCount(tiers.coldReads / per)} cold slots (${k(tiers.readGas / per)}): one slot per tier up to the one that holds the notional (the count is in the config). ` +
        "What is left: the first tier (where most positions sit) in the config's slots.",
    );
  }
  const state = find("state");
  if (state && (state.readGas + state.writeGas) / per >= WORTH_IT) {
    const repeats = state.writes > state.slots;
    fixes.push(
      `MarketState: ${fmtCount(state.coldReads / per)} cold + ${fmtCount(state.warmReads / per)} warm reads (${k(state.readGas / per)}) and ` +
        `${fmtCount(state.writes / per)} SSTOREs (${k(state.writeGas / per)}) to ${fmtCount(state.slots / per)} slots: ` +
        (repeats
          ? "packed members written one at a time (a read-modify-write per member). Writing each slot once, as a whole word, saves the repeats."
          : "each slot read and written once, as a whole word, and a trade changes only its own side's word (open interest and exact entry sum). Five words: the two sides, the funding clock, the premium sample and the snapshot sum with the sample clock; what is left is the premium word, which only the premium sampling and the basis EMA move."),
    );
  }
  const position = root.storage.find((s) => s.label === "position" && s.writeGas > 0);
  // One slot (size, margin, and the entry and snapshot to nine digits; owner and market in the id) is the floor.
  if (position && position.writeGas / per >= 3 * WORTH_IT && position.slots / per > 1) {
    fixes.push(
      `Position: ${fmtCount(position.writes / per)} SSTOREs to ${fmtCount(position.slots / per)} slots (${k(position.writeGas / per)}); a new slot costs 20,000. ` +
        "Owner and market are implied by the id and are in the events, and the entry price and funding snapshot need nine significant " +
        "digits (DecimalFloat), so the struct fits one slot: 20k less per open.",
    );
  }
  // In a batch the external calls are paid once for all positions (the summary says how much).
  for (const g of per > 1 ? [] : groupCalls(root.children)) {
    const gas = g.gas / per;
    if (gas < WORTH_IT) continue;
    const storage = subtreeStorage(g.frames);
    const below = g.frames.flatMap((f) => descendants(f)).length / per;
    if (g.name.startsWith("Oracle.indexPrice")) {
      fixes.push(
        `oracle.indexPrice: ${k(gas)} per ${fmtCount(g.calls / per)} call: ${fmtCount(below)} external calls below it (a cold account is ${COLD_ACCOUNT.toLocaleString("en-US")} ` +
          `each) and ${fmtCount(storage.cold / per)} cold SLOADs: one slot per source (a pushed feed connected to the oracle has its round in its slot), ` +
          "and the spot pool's price slot behind the TWAP source, which the oracle reads from the pool directly (its observations only when it " +
          "traded inside the window). What is left is the two cold accounts and a slot per source; the median itself is cheap.",
      );
    } else if (g.name.includes("MarkModel.markPrice")) {
      fixes.push(
        `Mark model: ${k(gas)} for ${fmtCount(g.calls / per)} external calls to the strategy contract. The median as an internal library function ` +
          "chosen by an enum in the config keeps the choice per market without the call.",
      );
    } else if (g.name.startsWith("Vault.settle")) {
      fixes.push(
        `vault.settle: ${k(gas)}: the call (cold account ${COLD_ACCOUNT.toLocaleString("en-US")}), the free balance and ledger slots ` +
          `(${fmtCount(storage.cold / per)} cold SLOADs; the engine's operator check reads the margin word it writes), SSTOREs ` +
          `${k(storage.writeGas / per)} (the operator's own event logs the movement). Keeping the engine's ledgers (margin, pool, insurance) in the engine would save the call.`,
      );
    } else {
      fixes.push(`${g.name}: ${k(gas)} (${fmtCount(g.calls / per)} calls; ${describeGroup(g, per)}).`);
    }
  }
  if (root.self.events / per >= WORTH_IT && root.self.eventCount / per > 1) {
    fixes.push(
      `Events: ${k(root.self.events / per)} for ${fmtCount(root.self.eventCount / per)} logs per position; PositionUpdated carries the full state and ` +
        "another event the change: one per change would do (Trade and Liquidation already carry the state; keeper/indexer.ts reads them).",
    );
  }
  if (root.self.other / per >= WORTH_IT * 3) {
    fixes.push(
      `Engine computation: ${k(root.self.other / per)} (${describeCompute(root)}), the Solidity code's own stack, jump and memory work, ` +
        "which grows with the memory structs copied per call (Ctx holds the config, state and tiers). The engine already compiles through the IR pipeline " +
        "at 2,000 runs (hardhat.config.ts); what is left is fewer and smaller memory structs per call.",
    );
  }
  return fixes;
}

export function breakdownOf(id: string, label: string, b: TxBreakdown, per = 1): Breakdown {
  const fixed = perCallGas(b);
  const perPosition = (b.gasUsed - fixed) / per;
  const hasPosition = b.root.storage.some((s) => s.label === "position");
  const rest = hasPosition
    ? "calldata, the position's slots, events, computation, refund"
    : "calldata, events, computation, refund";
  const summary =
    "Paid once per call (the 21,000 base, the market's config, tiers and state, the reentrancy guard, the external calls, " +
    `one mark): ${k(fixed)}; the rest, ${k(b.gasUsed - fixed)}` +
    (per > 1 ? `, is ${k(perPosition)} per position (${rest}).` : ` (${rest}).`);
  return { id, label, gasUsed: b.gasUsed, perPosition: per, parts: partsOf(b, per), fixes: fixesFor(b, per), summary };
}
