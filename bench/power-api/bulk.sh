#!/usr/bin/env bash
# Bulk power through the daemon, end to end: a root "kraken serve" process with the simulated driver holds NODES
# nodes (BMCS BMCs, one call per BMC at a time, LIMIT calls for the driver), then "kraken power on --all --wait"
# runs over its API. Prints the wall time of the verb and the operation's own elapsed time. The engine is started
# frozen, so every call is the bulk operation's. Loopback only; the daemon is stopped by its recorded PID.
# Usage: bench/power-api/bulk.sh [NODES] [ON_DELAY_MS] [LIMIT] [BMCS]     (defaults: 10000 0 64 NODES)
set -euo pipefail
cd "$(dirname "$0")/../.."
nodes="${1:-10000}"
delay_ms="${2:-0}"
limit="${3:-64}"
bmcs="${4:-$nodes}"
dotnet build Kraken.Daemon -c Release -v q -nologo >/dev/null
kraken="$PWD/Kraken.Daemon/bin/Release/net10.0/kraken"
dir="$(mktemp -d /tmp/kraken-power-bench-XXXXXX)"
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap cleanup EXIT

root=123e4567-e89b-12d3-a456-426655440000
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
python3 - "$dir/cluster.json" "$nodes" "$bmcs" "$root" <<'EOF'
import json, sys
path, n, bmcs, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
nodes = [{"id": root, "nodename": "root"}]
for i in range(1, n + 1):
    nodes.append({"id": f"00000000-0000-4000-a000-{i:012x}", "nodename": f"n{i}", "parentId": root,
                  "extensions": {"Power": {"driver": "sim", "address": f"bmc-{i % bmcs}"}}})
json.dump({"format": "kraken-state/1", "nodes": nodes}, open(path, "w"))
EOF
cat > "$dir/config.json" <<EOF
{
  "NodeId": "$root",
  "Api": { "Url": "http://127.0.0.1:$port", "Token": "bench-token-0123456789" },
  "Sync": { "Bind": "127.0.0.1:0", "JoinSecret": "bench-join-secret-0123456789" },
  "Store": { "Path": "$dir/cfg.db", "Import": "$dir/cluster.json" },
  "Reconcile": { "StartFrozen": true },
  "Modules": {
    "Power": {
      "Drivers": [ "sim" ], "PollInterval": "00:00:00", "DefaultDriverConcurrency": $limit, "BmcConcurrency": 1,
      "CallTimeout": "00:01:00", "StepTimeout": "00:01:00",
      "Sim": { "OnDelay": "$(python3 -c "print('00:00:%06.3f' % ($delay_ms / 1000))")" }
    }
  },
  "Logging": { "LogLevel": { "Default": "Warning" } }
}
EOF
"$kraken" serve --config "$dir/config.json" >"$dir/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do
  if curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; then break; fi
  sleep 0.1
done
export KRAKEN_SERVER="http://127.0.0.1:$port" KRAKEN_TOKEN="bench-token-0123456789"
start=$(date +%s.%N)
"$kraken" power on --filter /Extensions/Power/Driver=sim --wait --json --timeout 300 >"$dir/op.json"
end=$(date +%s.%N)
python3 - "$dir/op.json" "$start" "$end" "$nodes" "$delay_ms" "$limit" "$bmcs" <<'EOF'
import json, sys
op = json.load(open(sys.argv[1]))
wall = float(sys.argv[3]) - float(sys.argv[2])
n, delay, limit, bmcs = sys.argv[4:8]
print(f"nodes={n} on_delay_ms={delay} driver_limit={limit} bmcs={bmcs}: ok={op['ok']} failed={op['failed']} "
      f"timed_out={op['timedOut']} operation {op['elapsedSeconds']:.3f} s, verb wall time {wall:.3f} s, "
      f"{int(n) / op['elapsedSeconds']:.0f} nodes/s")
EOF
