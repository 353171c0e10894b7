#!/usr/bin/env bash
# DHCP server benchmark: perfdhcp against our server (bench/Kraken.Dhcp.Bench on a real raw link), dnsmasq and
# kea-dhcp4 in turn, on one namespace topology, with the same clients (a MAC list every server has a static
# address for). For each server: the highest DORA/s with at most 1% drops over a rate ramp, and the server's CPU
# seconds (utime+stime from /proc/PID/stat) per 10,000 leases at a fixed rate all of them sustain.
#
#   bench/dhcp/run.sh [CLIENTS=10000] [SECONDS=10] [FIXED_RATE=1000] [RATES="1000 2000 4000 8000 12000 16000"]
#   KIND=afpacket bench/dhcp/run.sh ...     # our server on AF_PACKET instead of libpcap
#   SERVERS="kraken kea" bench/dhcp/run.sh   # a subset
#   BENCH_LOG_DIR=/tmp/dhcp-logs bench/dhcp/run.sh   # keep the perfdhcp and server logs
#
# Needs root, perfdhcp (kea-admin), kea-dhcp4 (kea-dhcp4-server), dnsmasq (dnsmasq-base), libpcap0.8.
# Addresses: 198.18.0.0/15 only, inside two namespaces created and removed here.
set -euo pipefail

CLIENTS=${1:-10000}
SECONDS_PER_RUN=${2:-10}
FIXED_RATE=${3:-1000}
RATES=${4:-"1000 2000 4000 8000 12000 16000"}
KIND=${KIND:-pcap}
SERVERS=${SERVERS:-"kraken dnsmasq kea"}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

ID=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
SRV=kdbs-$ID
CLI=kdbc-$ID
IF_S=kb${ID}s
IF_C=kb${ID}c
WORK=$(mktemp -d /tmp/kraken-dhcp-bench.XXXXXX)
SERVER_PID=""
CLK_TCK=$(getconf CLK_TCK)

cleanup() {
  set +e
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID"; sleep 0.5; kill -9 "$SERVER_PID" 2>/dev/null
  fi
  ip netns delete "$SRV" 2>/dev/null
  ip netns delete "$CLI" 2>/dev/null
  if [ -n "${BENCH_LOG_DIR:-}" ]; then mkdir -p "$BENCH_LOG_DIR" && cp "$WORK"/*.log "$WORK"/*.txt "$WORK"/*.out "$BENCH_LOG_DIR"/ 2>/dev/null; fi
  rm -rf "/etc/netns/$CLI" "/etc/netns/$SRV" "$WORK"
}
trap cleanup EXIT INT TERM

for tool in perfdhcp kea-dhcp4 dnsmasq; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

echo "building the bench host..." >&2
dotnet build "$ROOT/bench/Kraken.Dhcp.Bench" -c Release -o "$WORK/bin" >"$WORK/build.log" 2>&1 || { cat "$WORK/build.log" >&2; exit 1; }

# Topology: server namespace 198.18.0.1/15 <-veth-> client namespace 198.18.0.2/15 (perfdhcp).
ip netns add "$SRV"
ip netns add "$CLI"
mkdir -p "/etc/netns/$CLI" "/etc/netns/$SRV"
touch "/etc/netns/$CLI/resolv.conf" "/etc/netns/$SRV/resolv.conf"
ip link add "$IF_S" netns "$SRV" type veth peer name "$IF_C" netns "$CLI"
ip -n "$SRV" addr add 198.18.0.1/15 dev "$IF_S"
ip -n "$CLI" addr add 198.18.0.2/15 dev "$IF_C"
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" link set "$IF_S" up
ip -n "$CLI" link set "$IF_C" up
sleep 1

# Clients: CLIENTS MACs; client i gets 198.18.1.0 + i from every server.
python3 - "$CLIENTS" "$WORK" <<'PY'
import ipaddress, json, sys
n, work = int(sys.argv[1]), sys.argv[2]
first = ipaddress.IPv4Address("198.18.1.0")
macs = ["02:00:%02x:%02x:%02x:%02x" % ((i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255) for i in range(1, n + 1)]
open(f"{work}/macs.txt", "w").write("\n".join(macs) + "\n")
open(f"{work}/dnsmasq.hosts", "w").write("".join(f"{m},{first + i}\n" for i, m in enumerate(macs)))
json.dump({"reservations": [{"hw-address": m, "ip-address": str(first + i)} for i, m in enumerate(macs)]},
          open(f"{work}/reservations.json", "w"))
PY

python3 - "$WORK" "$IF_S" <<'PY'
import json, sys
work, iface = sys.argv[1], sys.argv[2]
reservations = json.load(open(f"{work}/reservations.json"))["reservations"]
config = {"Dhcp4": {
    "interfaces-config": {"interfaces": [iface], "dhcp-socket-type": "raw"},
    "lease-database": {"type": "memfile", "persist": False, "lfc-interval": 0},
    "valid-lifetime": 3600, "renew-timer": 1800, "rebind-timer": 3150,
    "host-reservation-identifiers": ["hw-address"],
    "reservations-global": False, "reservations-in-subnet": True, "reservations-out-of-pool": True,
    "subnet4": [{"id": 1, "subnet": "198.18.0.0/15", "reservations": reservations}],
    "loggers": [{"name": "kea-dhcp4", "severity": "WARN", "output_options": [{"output": f"{work}/kea.log"}]}],
}}
json.dump(config, open(f"{work}/kea.json", "w"))
PY

start_server() {
  case "$1" in
    kraken)
      ip netns exec "$SRV" "$WORK/bin/Kraken.Dhcp.Bench" --interface "$IF_S" --kind "$KIND" --server-ip 198.18.0.1 \
        --macs "$WORK/macs.txt" --first-ip 198.18.1.0 --prefix 15 >"$WORK/kraken.log" 2>&1 &
      SERVER_PID=$!
      for _ in $(seq 100); do grep -q ready "$WORK/kraken.log" && break; sleep 0.1; done ;;
    dnsmasq)
      ip netns exec "$SRV" dnsmasq --no-daemon --conf-file=/dev/null --port=0 --interface="$IF_S" --bind-interfaces \
        --dhcp-range=198.18.0.0,static,255.254.0.0 --dhcp-hostsfile="$WORK/dnsmasq.hosts" --leasefile-ro \
        --dhcp-lease-max=1000000 --dhcp-authoritative --quiet-dhcp --log-facility="$WORK/dnsmasq.log" \
        --pid-file="$WORK/dnsmasq.pid" >"$WORK/dnsmasq.out" 2>&1 &
      SERVER_PID=$!
      sleep 1 ;;
    kea)
      KEA_PIDFILE_DIR="$WORK" KEA_LOCKFILE_DIR="$WORK" ip netns exec "$SRV" kea-dhcp4 -c "$WORK/kea.json" >"$WORK/kea.out" 2>&1 &
      SERVER_PID=$!
      sleep 2 ;;
  esac
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "$1 did not start" >&2; cat "$WORK/$1".* >&2; exit 1; }
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One perfdhcp run at RATE; prints "achieved_rate drop_percent acks cpu_seconds". Drops: DISCOVERs sent that
# did not end in an ACK (lost OFFERs, REQUESTs or ACKs).
measure() {
  local rate=$1 before after out
  before=$(cpu_ticks "$SERVER_PID")
  out=$(ip netns exec "$CLI" perfdhcp -4 -l "$IF_C" -r "$rate" -M "$WORK/macs.txt" -p "$SECONDS_PER_RUN" -W 1000000 all 2>&1 || true)
  after=$(cpu_ticks "$SERVER_PID")
  echo "$out" >>"$WORK/perfdhcp.log"
  python3 - "$before" "$after" "$CLK_TCK" <<PY
import re, sys
out = """$out"""
before, after, tck = map(int, sys.argv[1:])
sent = [int(x) for x in re.findall(r"sent packets: (\d+)", out)]
received = [int(x) for x in re.findall(r"received packets: (\d+)", out)]
drops = 100.0 * (1 - received[1] / sent[0]) if len(sent) > 1 and sent[0] else 100.0
acks = received[1] if len(received) > 1 else 0
# DORA/s over the sending period (perfdhcp's own "Rate" also divides by its exit wait).
print(f"{acks / $SECONDS_PER_RUN:.0f} {drops:.2f} {acks} {(after - before) / tck:.2f}")
PY
}

printf "%-8s %10s %10s %8s %10s %16s\n" server offered DORA/s drops% leases "cpu-s/10k-leases" | tee "$WORK/results.txt"
declare -A BEST CPU
for server in $SERVERS; do
  start_server "$server"
  measure "$FIXED_RATE" >/dev/null    # warm-up: JIT tiers, caches, first leases
  read -r got drops acks cpu <<<"$(measure "$FIXED_RATE")"
  per10k=$(python3 -c "print(f'{$cpu * 10000 / $acks:.3f}' if $acks else 'n/a')")
  CPU[$server]=$per10k
  printf "%-8s %10s %10s %8s %10s %16s\n" "$server" "$FIXED_RATE" "$got" "$drops" "$acks" "$per10k" | tee -a "$WORK/results.txt"
  best=0
  if python3 -c "import sys; sys.exit(0 if $drops <= 1.0 else 1)"; then best=$got; fi
  for rate in $RATES; do
    read -r got drops acks cpu <<<"$(measure "$rate")"
    printf "%-8s %10s %10s %8s %10s %16s\n" "$server" "$rate" "$got" "$drops" "$acks" \
      "$(python3 -c "print(f'{$cpu * 10000 / $acks:.3f}' if $acks else 'n/a')")" | tee -a "$WORK/results.txt"
    if python3 -c "import sys; sys.exit(0 if $drops <= 1.0 else 1)"; then
      best=$(python3 -c "print(max($best, $got))")
    else
      break
    fi
  done
  BEST[$server]=$best
  stop_server
done

echo
echo "summary ($CLIENTS clients, ${SECONDS_PER_RUN}s per run, our link: $KIND)"
printf "%-8s %22s %26s\n" server "max DORA/s (<=1% drop)" "cpu-s per 10k leases @$FIXED_RATE/s"
for server in $SERVERS; do
  printf "%-8s %22s %26s\n" "$server" "${BEST[$server]}" "${CPU[$server]}"
done
