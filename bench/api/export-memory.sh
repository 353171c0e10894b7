#!/usr/bin/env bash
# The root's memory under parallel exports: `kraken serve` holding a large cluster (STATE, a kraken-state/1 file
# such as `kraken-sim run --nodes 131000 --export-state FILE` writes), then CLIENTS curl clients asking for
# GET /api/v1/cfg/export at once. Prints the daemon's RSS before and its peak during the exports (sampled every
# 50 ms from /proc/PID/status), and how many answers were 200 and 503.
# Usage: bench/api/export-memory.sh STATE [CLIENTS] [KRAKEN_DLL]   (default 30 clients, this tree's Release build;
# PORT=N moves the API to 127.0.0.1:N and sync to N+1, so two runs can go side by side; MAX=N sets
# Api:MaxConcurrentExports, a key older builds do not have)
set -euo pipefail
state="$(realpath "$1")"
clients=${2:-30}
repo="$(cd "$(dirname "$0")/../.." && pwd)"
kraken="${3:-}"
port=${PORT:-13142}
api="http://127.0.0.1:$port"
work="$(mktemp -d /tmp/kraken-exportbench-XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

if [[ -z "$kraken" ]]; then
  dotnet build "$repo/Kraken.Daemon" -c Release -v q -nologo >/dev/null
  kraken="$repo/Kraken.Daemon/bin/Release/net10.0/kraken.dll"
fi

cat > "$work/daemon.json" <<JSON
{
  "NodeId": "123e4567-e89b-12d3-a456-426655440000", "Role": "root",
  "Api": { "Url": "$api", "Token": "bench-token-0123456789"${MAX:+, \"MaxConcurrentExports\": $MAX} },
  "Sync": { "Bind": "127.0.0.1:$((port + 1))", "JoinSecret": "bench-secret-0123456789" },
  "Store": { "Path": "$work/cfg.db", "Import": "$state" },
  "Reconcile": { "StartFrozen": true },
  "Modules": { "Pxe": { "Enabled": false }, "Power": { "Enabled": false } },
  "Logging": { "LogLevel": { "Default": "Warning" } }
}
JSON
dotnet "$kraken" serve --config "$work/daemon.json" > "$work/daemon.log" 2>&1 & daemon=$!; pids+=($daemon)
until curl -sf $api/healthz >/dev/null; do
  kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log"; exit 1; }
  sleep 0.5
done

rss() { awk '/^VmRSS/ { print $2 }' "/proc/$daemon/status" 2>/dev/null || echo 0; }
# One export first (the JIT, the first snapshot), then let the heap settle.
curl -sf -o "$work/first.json" $api/api/v1/cfg/export
bytes=$(stat -c %s "$work/first.json")
sleep 3
before=$(rss)

peak=$before
start=$(date +%s.%N)
for i in $(seq "$clients"); do
  curl -s -o /dev/null -w '%{http_code}\n' $api/api/v1/cfg/export > "$work/code.$i" & pids+=($!)
done
while [[ $(cat "$work"/code.* 2>/dev/null | wc -l) -lt $clients ]]; do
  if ! kill -0 "$daemon" 2>/dev/null; then
    echo "the daemon exited during the exports (peak so far $((peak / 1024)) MiB):"; tail -5 "$work/daemon.log"; exit 1
  fi
  now=$(rss); if (( now > peak )); then peak=$now; fi
  sleep 0.05
done
end=$(date +%s.%N)
ok=$(cat "$work"/code.* | grep -c '^200$' || true)
busy=$(cat "$work"/code.* | grep -c '^503$' || true)
printf 'export %d bytes; %d clients: RSS %d MiB before, peak %d MiB (+%d MiB); %d answered 200, %d 503; %.1f s\n' \
  "$bytes" "$clients" $((before / 1024)) $((peak / 1024)) $(((peak - before) / 1024)) "$ok" "$busy" "$(echo "$end - $start" | bc)"
