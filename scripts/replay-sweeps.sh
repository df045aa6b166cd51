#!/usr/bin/env bash
# The protection sweeps of the replays (SPEC 9.4): one one-axis sweep per protection and replay, one
# seed each, into reports/replays/<replay>/<protection>/; then the table (scripts/replay-table.ts).
# About ten minutes with --workers 2. Usage: scripts/replay-sweeps.sh [WORKERS]
set -euo pipefail
workers="${1:-2}"
sweep() {
  local replay="$1" name="$2" vary="$3"
  CI=true npx hardhat sweep --scenario "scenarios/$replay.json" --vary "$vary" --seeds 1 \
    --workers "$workers" --out "reports/replays/$replay/$name"
}
for replay in replay-mango-2022 replay-jelly-2025; do
  sweep "$replay" pnl-cap markets.0.protections.maxPnlFactor=0.5,0.1,0.02,0.01
  sweep "$replay" oi-cap markets.0.protections.oiCap=0,100000000,20000000
  sweep "$replay" price-band markets.0.protections.priceBand=0,0.05
  sweep "$replay" twap-window markets.0.protections.twapWindowSeconds=0,600,1800
  sweep "$replay" max-deviation markets.0.protections.maxPriceDeviationPerUpdate=0,0.05,0.01
  sweep "$replay" liquidation markets.0.mechanisms.liquidation=partial,full
done
sweep replay-mango-2022 venues markets.0.venues.count=3,5,6
sweep replay-jelly-2025 venues markets.0.venues.count=1,3
# Where the first pass left the attack still paying: tighter caps.
for replay in replay-mango-2022 replay-jelly-2025; do
  sweep "$replay" pnl-cap-low markets.0.protections.maxPnlFactor=0.005,0.002
  sweep "$replay" oi-cap-low markets.0.protections.oiCap=10000000,5000000
done
npx ts-node --transpile-only scripts/replay-table.ts reports/replays > reports/replays/protections.md
