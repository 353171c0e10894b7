#!/usr/bin/env bash
# kill -9 durability run of the root's Cfg store: starts a root daemon process, writes through the API with four
# concurrent clients, kills it with SIGKILL (by its recorded PID) at a random moment, restarts it on the same
# database and checks that every acknowledged write is there; repeats for CYCLES cycles.
# Usage: bench/durability/kill9.sh [CYCLES] [SEED]    (defaults: 200 cycles, a time-based seed)
set -euo pipefail
cd "$(dirname "$0")/../.."
cycles="${1:-200}"
report="$(mktemp)"
export KRAKEN_KILL_CYCLES="$cycles"
export KRAKEN_KILL_REPORT="$report"
if [[ -n "${2:-}" ]]; then export KRAKEN_KILL_SEED="$2"; fi
dotnet build tests/Kraken.Daemon.Tests -c Release -v q -nologo >/dev/null
dotnet test tests/Kraken.Daemon.Tests -c Release --no-build -nologo \
  --filter "FullyQualifiedName~KillDurabilityTests" -- RunConfiguration.TestSessionTimeout=7200000 >/dev/null || status=$?
cat "$report"
rm -f "$report"
exit "${status:-0}"
