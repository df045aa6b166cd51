/**
 * The sweep's plan: configurations (one value per varied path, every combination) times seeds.
 *
 * Pure. The order is fixed, so a plan, its run keys and the rows of runs.csv come out the same
 * whoever runs them: configurations in the odometer order of the --vary arguments (the last path
 * turns fastest), then seeds ascending within a configuration.
 */
import { SweepError } from "./errors";
import { setAt, type Axis, type JsonValue, type Segment } from "./paths";

/** Largest number of seeds or runs one sweep may plan, so a typo cannot queue a million runs. */
export const MAX_SEEDS = 10_000;
export const MAX_RUNS = 100_000;

export class PlanError extends SweepError {
  override name = "PlanError";
}

/** A point of the grid: the value each axis takes, and the writes that make its scenario. */
export interface Configuration {
  /** 0-based, in plan order. */
  index: number;
  /** Label per axis, in axis order: the value as written on the command line. */
  labels: string[];
  /** Path writes applied to the base scenario, in order. */
  writes: { path: string; segments: Segment[]; value: JsonValue }[];
}

/** One run: a configuration and a seed. */
export interface PlannedRun {
  config: number;
  seed: number;
  /** Identifies the run across reruns: the labels and the seed. */
  key: string;
}

/** `N` -> 1..N; `A..B` -> A..B inclusive. */
export function parseSeeds(text: string): number[] {
  const range = /^(0|[1-9][0-9]*)\.\.(0|[1-9][0-9]*)$/.exec(text);
  let from: number;
  let to: number;
  if (range) {
    from = Number(range[1]);
    to = Number(range[2]);
    if (to < from) throw new PlanError(`--seeds ${text}: the range ends before it starts; expected A..B with A <= B`);
  } else if (/^[1-9][0-9]*$/.test(text)) {
    from = 1;
    to = Number(text);
  } else {
    throw new PlanError(`--seeds ${text}: expected a count N (seeds 1..N) or a range A..B (e.g. 5..9)`);
  }
  if (!Number.isSafeInteger(to) || to - from + 1 > MAX_SEEDS)
    throw new PlanError(`--seeds ${text}: at most ${MAX_SEEDS} seeds per sweep`);
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

function label(value: JsonValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/** Every combination of the axes' values; one configuration (no writes) when nothing varies. */
export function expandGrid(axes: readonly Axis[]): Configuration[] {
  let points: { labels: string[]; writes: Configuration["writes"] }[] = [{ labels: [], writes: [] }];
  for (const axis of axes) {
    points = points.flatMap((point) =>
      axis.values.map((value) => ({
        labels: [...point.labels, label(value)],
        writes: [...point.writes, { path: axis.path, segments: axis.segments, value }],
      })),
    );
  }
  return points.map((point, index) => ({ index, ...point }));
}

/** The run key: labels and seed, joined so that no two runs of a plan share it. */
export function runKey(labels: readonly string[], seed: number): string {
  return JSON.stringify([...labels, seed]);
}

/** Configurations times seeds, in plan order. */
export function planRuns(configs: readonly Configuration[], seeds: readonly number[]): PlannedRun[] {
  if (configs.length * seeds.length > MAX_RUNS)
    throw new PlanError(
      `the sweep plans ${configs.length} configurations x ${seeds.length} seeds = ${configs.length * seeds.length} runs; at most ${MAX_RUNS}`,
    );
  return configs.flatMap((config) =>
    seeds.map((seed) => ({ config: config.index, seed, key: runKey(config.labels, seed) })),
  );
}

/** The scenario JSON of a configuration: the base with the configuration's writes applied. */
export function scenarioOf(base: JsonValue, config: Configuration): JsonValue {
  return config.writes.reduce((json, write) => setAt(json, write.segments, write.value, write.path), base);
}
