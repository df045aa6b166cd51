/**
 * Prints the replays' protection table (markdown) from reports/replays/<replay>/<protection>/runs.csv.
 * Usage: npx ts-node --transpile-only scripts/replay-table.ts [DIR]   (DIR defaults to reports/replays)
 */
import fs from "node:fs";
import path from "node:path";
import { parseCsv } from "../sim/sweep/csv";
import { protectionRuns, replayTable, type ProtectionRun } from "../sim/replay-table";

/** The protections in the table's order, each a sweep folder. */
const PROTECTIONS = [
  "pnl-cap",
  "pnl-cap-low",
  "oi-cap",
  "oi-cap-low",
  "price-band",
  "twap-window",
  "max-deviation",
  "venues",
  "liquidation",
];

function main(dir: string): void {
  const replays = fs
    .readdirSync(dir)
    .filter((d) => fs.statSync(path.join(dir, d)).isDirectory())
    .sort();
  const out: string[] = [];
  for (const replay of replays) {
    const runs: ProtectionRun[] = [];
    for (const protection of PROTECTIONS) {
      const file = path.join(dir, replay, protection, "runs.csv");
      if (!fs.existsSync(file)) continue;
      runs.push(...protectionRuns(protection, parseCsv(fs.readFileSync(file, "utf8"), file)));
    }
    const baseline = runs.find((r) => r.protection === "pnl-cap" && r.value === "0.5");
    if (baseline === undefined) throw new Error(`${replay}: no pnl-cap run at 0.5 (the scenario as written)`);
    out.push(replayTable(replay, runs, baseline), "");
  }
  process.stdout.write(out.join("\n"));
}

main(process.argv[2] ?? "reports/replays");
