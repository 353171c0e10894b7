#!/usr/bin/env bash
# HTTP boot throughput: `kraken serve` with Modules:Pxe on lo against busybox httpd, both serving the same file
# to curl on 127.0.0.1; one stream, then 4 at once. Usage: bench/httpboot/bench.sh [SIZE_MB] [RUNS]   (as root)
set -euo pipefail
size_mb=${1:-512}
runs=${2:-3}
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$(mktemp -d /tmp/kraken-httpbench-XXXXXX)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

dotnet build "$repo/Kraken.Daemon" -c Release -v q -nologo >/dev/null
kraken="$repo/Kraken.Daemon/bin/Release/net10.0/kraken.dll"
mkdir -p "$work/boot"
head -c "$((size_mb * 1024 * 1024))" /dev/urandom > "$work/boot/image"

cat > "$work/daemon.json" <<JSON
{
  "NodeId": "123e4567-e89b-12d3-a456-426655440000", "Role": "root",
  "Api": { "Url": "http://127.0.0.1:13141", "Token": "bench-token-0123456789" },
  "Sync": { "Bind": "127.0.0.1:13415", "JoinSecret": "bench-secret-0123456789" },
  "Store": { "Path": ":memory:" },
  "Modules": { "Pxe": { "Interface": "lo", "ServerAddress": "127.0.0.1", "BootRoot": "$work/boot", "HttpPort": 18080,
                        "RouterAdvertisements": false, "RequirePowerOn": false } },
  "Logging": { "LogLevel": { "Default": "Warning" } }
}
JSON
dotnet "$kraken" serve --config "$work/daemon.json" > "$work/daemon.log" 2>&1 & pids+=($!)
busybox httpd -f -p 127.0.0.1:18081 -h "$work/boot" & pids+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:13141/healthz && break; sleep 0.2; done

one() { curl -s -o /dev/null -w '%{speed_download}\n' "$1"; }
measure() {   # URL NAME
  local best=0 s
  for _ in $(seq "$runs"); do
    s=$(one "$1"); s=${s%.*}; [ "$s" -gt "$best" ] && best=$s
  done
  local start end
  start=$(date +%s.%N)
  local jobs=()
  for _ in 1 2 3 4; do one "$1" >/dev/null & jobs+=($!); done
  wait "${jobs[@]}"
  end=$(date +%s.%N)
  printf '%-22s one stream %6d MiB/s (best of %d)   4 streams %6.0f MiB/s total\n' "$2" $((best / 1048576)) "$runs" \
    "$(awk -v s="$start" -v e="$end" -v m="$size_mb" 'BEGIN { print 4 * m / (e - s) }')"
}
cmp <(curl -s http://127.0.0.1:18080/image) "$work/boot/image" && echo "kraken: byte-identical"
measure http://127.0.0.1:18080/image "kraken HttpBootServer"
measure http://127.0.0.1:18081/image "busybox httpd"
