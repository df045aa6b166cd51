/** Renders the bench's results as Markdown (bench/results.md). */
import type { Figure, Results } from "./figures";

const number = (v: number, unit: string): string => {
  if (unit === "gas") return Math.round(v).toLocaleString("en-US");
  if (unit === "ms") return v < 1 ? v.toFixed(3) : v.toFixed(2);
  if (unit === "s") return v.toFixed(2);
  if (unit === "x" || unit === "ratio") return v.toFixed(2);
  if (unit === "%") return v.toFixed(2);
  return Number.isInteger(v) ? v.toLocaleString("en-US") : v.toFixed(1);
};

const withUnit = (v: number, unit: string): string => {
  const n = number(v, unit);
  if (unit === "x") return `${n}x`;
  if (unit === "ratio" || unit === "") return n;
  if (unit === "%") return `${n}%`;
  return `${n} ${unit}`;
};

const goalText = (f: Figure): string => (f.goal ? `${f.goal.op} ${withUnit(f.goal.value, f.unit)}` : "");
const metText = (f: Figure): string => (f.met === null ? "" : f.met ? "met" : "**not met**");

function table(header: string[], rows: string[][]): string {
  const esc = (c: string) => c.replace(/\|/g, "\\|");
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ].join("\n");
}

/** The figures table and the SPEC section 10 comparison, as printed at the end of a run. */
export function summaryTables(r: Results): string {
  return [figuresTable(r), "", referencesTable(r)].join("\n");
}

function figuresTable(r: Results): string {
  return table(
    ["figure", "value", "goal", "met"],
    r.figures.map((f) => [
      f.label + (f.note ? ` (${f.note})` : ""),
      withUnit(f.value, f.unit),
      goalText(f),
      metText(f),
    ]),
  );
}

function referencesTable(r: Results): string {
  const byId = new Map(r.figures.map((f) => [f.id, f]));
  return table(
    [
      "operation",
      "GMX v1 (direct Vault call)",
      "Perp v2 Curie (behind proxies)",
      "GMX v2 (create + keeper execute)",
      "perpsim",
      "goal",
    ],
    r.references.map((ref) => [
      ref.operation,
      ref.gmxV1,
      ref.perpV2,
      ref.gmxV2,
      ref.ours
        .map((id) => byId.get(id))
        .filter((f): f is Figure => f !== undefined)
        .map((f) => `${withUnit(f.value, f.unit)} (${f.label})`)
        .join("; "),
      ref.goal,
    ]),
  );
}

export function renderMarkdown(r: Results): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`# perpsim benchmarks`);
  out.push("");
  out.push(
    `Written by \`${r.command}\` on ${r.generatedAt} (${r.mode} mode, ${r.durationSec.toFixed(0)} s). ` +
      "Every figure was measured in this run; the references beside them were measured in the same run where the " +
      "issue asks for a ratio, so the machine's load affects both.",
  );
  out.push("");
  out.push(
    `**Machine:** ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; Hardhat ${m.hardhat} ` +
      `(EDR, hardfork ${m.hardfork}, block gas limit ${m.blockGasLimit.toLocaleString("en-US")}); load average at start ` +
      `${m.loadAverage.join(", ")} (the machine is shared).`,
  );
  out.push("");
  out.push("## Figures");
  out.push("");
  out.push(figuresTable(r));
  out.push("");
  out.push("## Beside SPEC section 10 (receipt gasUsed, steady state)");
  out.push("");
  out.push(referencesTable(r));
  if (r.breakdowns.length > 0) {
    out.push("");
    out.push("## Where the gas goes (debug_traceTransaction)");
    out.push("");
    out.push(
      "Each operation's receipt gas split by the struct-log trace of EDR's debug_traceTransaction: the engine's own storage " +
        "reads (cold 2,100, warm 100) and writes by variable, its events, each external call with everything below it (the " +
        "caller's cost of the call, cold account access included), the engine's remaining computation, the intrinsic cost and " +
        "the refund. The parts add up to the receipt's gasUsed (per position for a batch).",
    );
    for (const b of r.breakdowns) {
      out.push("");
      const per = b.perPosition > 1 ? `, per position (${b.perPosition} in the batch)` : "";
      out.push(`### ${b.label}: ${Math.round(b.gasUsed / b.perPosition).toLocaleString("en-US")} gas${per}`);
      out.push("");
      if (b.gap) out.push(b.gap, "");
      out.push(
        table(
          ["part", "gas", "detail"],
          b.parts.map((p) => [p.part, p.gas.toLocaleString("en-US"), p.detail ?? ""]),
        ),
      );
      out.push("");
      out.push(b.summary);
      if (b.fixes.length > 0) {
        out.push("");
        out.push("What would make it cheaper:");
        out.push("");
        for (const f of b.fixes) out.push(`- ${f}`);
      }
    }
  }
  if (r.profiles.length > 0) {
    out.push("");
    out.push("## Where the time goes (JSON-RPC calls by method)");
    for (const p of r.profiles) {
      out.push("");
      out.push(`### ${p.label}: ${p.seconds.toFixed(2)} s`);
      out.push("");
      out.push(
        table(
          ["method", "calls", "ms"],
          p.methods.slice(0, 10).map((x) => [x.method, String(x.calls), String(x.ms)]),
        ),
      );
    }
  }
  if (r.notes.length > 0) {
    out.push("");
    out.push("## Method and notes");
    out.push("");
    for (const n of r.notes) out.push(`- ${n}`);
  }
  out.push("");
  return out.join("\n");
}
