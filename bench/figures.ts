/**
 * The bench's results: every figure with its unit, its goal (if the issue sets one) and whether it was
 * met, plus the context a reader needs to trust or act on them (machine, method notes, gas breakdowns,
 * RPC profiles). Written as bench/results.json and rendered as bench/results.md.
 */
import os from "node:os";
import fs from "node:fs";

export type Comparison = "<=" | ">=";

export interface Goal {
  op: Comparison;
  value: number;
}

export interface Figure {
  id: string;
  group: "gas" | "keeper" | "simulator";
  label: string;
  value: number;
  unit: string;
  goal: Goal | null;
  /** null when there is no goal */
  met: boolean | null;
  note?: string;
}

export interface GasPart {
  part: string;
  gas: number;
  detail?: string;
}

export interface Breakdown {
  id: string;
  label: string;
  gasUsed: number;
  /** the parts are per position for a batch */
  perPosition: number;
  parts: GasPart[];
  fixes: string[];
  /** what is paid once per call and what per position */
  summary: string;
  /** how far above its goal, when it misses one */
  gap?: string;
}

export interface Profile {
  label: string;
  seconds: number;
  methods: { method: string; calls: number; ms: number }[];
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  loadAverage: number[];
  hardhat: string;
  hardfork: string;
  blockGasLimit: number;
}

export interface Results {
  generatedAt: string;
  mode: "full" | "quick";
  command: string;
  durationSec: number;
  machine: Machine;
  figures: Figure[];
  references: ReferenceRow[];
  breakdowns: Breakdown[];
  profiles: Profile[];
  notes: string[];
}

export interface ReferenceRow {
  operation: string;
  gmxV1: string;
  perpV2: string;
  gmxV2: string;
  goal: string;
  /** figure ids whose values stand for perpsim in this row */
  ours: string[];
}

/** SPEC section 10: receipt gasUsed of the same operations elsewhere, steady state. */
export const REFERENCES: ReferenceRow[] = [
  {
    operation: "open a 10x position",
    gmxV1: "319k long / 327k short",
    perpV2: "893k / 977k",
    gmxV2: "3.55M",
    goal: "<= 150k",
    ours: ["gas.open.long", "gas.open.short"],
  },
  {
    operation: "close it",
    gmxV1: "194k / 207k",
    perpV2: "618k",
    gmxV2: "3.45M",
    goal: "<= 120k",
    ours: ["gas.close.long", "gas.close.short"],
  },
  {
    operation: "liquidate it",
    gmxV1: "195k / 210k",
    perpV2: "1.50M",
    gmxV2: "2.85M",
    goal: "<= 110k; <= 70k each in a batch",
    ours: ["gas.liquidate.full", "gas.liquidateMany.50"],
  },
];

export function figure(
  group: Figure["group"],
  id: string,
  label: string,
  value: number,
  unit: string,
  goal: Goal | null = null,
  note?: string,
): Figure {
  const met = goal === null ? null : goal.op === "<=" ? value <= goal.value : value >= goal.value;
  return { id, group, label, value, unit, goal, met, ...(note ? { note } : {}) };
}

export function describeMachine(hardhatVersion: string, hardfork: string, blockGasLimit: number): Machine {
  let cpu = os.cpus()[0]?.model ?? "unknown";
  try {
    const line = fs
      .readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    if (line) cpu = line.split(":")[1].trim();
  } catch {
    /* not Linux: os.cpus() has the model */
  }
  return {
    cpu,
    cores: os.cpus().length,
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    loadAverage: os.loadavg().map((l) => Math.round(l * 100) / 100),
    hardhat: hardhatVersion,
    hardfork,
    blockGasLimit,
  };
}
