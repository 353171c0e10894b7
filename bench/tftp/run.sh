#!/usr/bin/env bash
# TFTP throughput: our server, tftp-hpa's in.tftpd and atftpd, each serving a 64 MiB file over a veth pair
# between two network namespaces (198.18.77.1 -> 198.18.77.2, MTU 1500), fetched by tftp-hpa, atftp (blksize
# 1428, with and without windowsize 16, and 8192 x 16), busybox and curl. Prints MiB/s per server x client.
#
#   bench/tftp/run.sh [REPEAT]          # as root; REPEAT runs per cell, the best is kept (default 1)
#   SERVERS="kraken in.tftpd" CLIENTS="tftp-hpa atftp-1428-w16" bench/tftp/run.sh    # a subset
#
# Servers: kraken, kraken-nogso (one send per block, no UDP GSO), kraken-inline (inline socket completions),
# in.tftpd, atftpd. Clients beyond the default set: atftp-1428-w64, atftp-8192, atftp-65464.
#
# The server packages conflict in apt, so they are fetched with `apt-get download` and unpacked into a cache
# (KRAKEN_BENCH_CACHE, default ~/.cache/kraken-bench/tftp), never installed. Everything the script creates
# (namespaces, veth, temp files, server processes) is removed on exit, also on failure.
set -euo pipefail

REPEAT=${1:-1}
SIZE_MIB=64
REPO=$(cd "$(dirname "$0")/../.." && pwd)
CACHE=${KRAKEN_BENCH_CACHE:-$HOME/.cache/kraken-bench/tftp}
ID=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
SRV=kbt-srv-$ID
CLI=kbt-cli-$ID
SRV_IP=198.18.77.1
CLI_IP=198.18.77.2
WORK=$(mktemp -d /tmp/kraken-tftp-bench.XXXXXX)
SERVER_PID=

cleanup() {
  set +e
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  ip netns del "$SRV" 2>/dev/null
  ip netns del "$CLI" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

[[ $(id -u) -eq 0 ]] || { echo "run as root (network namespaces)" >&2; exit 1; }
for tool in tftp atftp busybox curl ip sha256sum dotnet; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done

# The reference servers, unpacked from their Debian packages.
if [[ ! -x "$CACHE/root/usr/sbin/in.tftpd" || ! -x "$CACHE/root/usr/sbin/atftpd" ]]; then
  mkdir -p "$CACHE/root"
  (cd "$CACHE" && apt-get download tftpd-hpa atftpd >/dev/null 2>&1)
  for deb in "$CACHE"/*.deb; do dpkg -x "$deb" "$CACHE/root"; done
fi
IN_TFTPD=$CACHE/root/usr/sbin/in.tftpd
ATFTPD=$CACHE/root/usr/sbin/atftpd

dotnet build "$REPO/bench/Kraken.Tftp.Bench" -c Release -v q -nologo >/dev/null
OURS="$REPO/bench/Kraken.Tftp.Bench/bin/Release/net10.0/Kraken.Tftp.Bench.dll"

# Topology: two namespaces joined by a veth pair.
ip netns add "$SRV"
ip netns add "$CLI"
ip link add "kbs$ID" type veth peer name "kbc$ID"
ip link set "kbs$ID" netns "$SRV"
ip link set "kbc$ID" netns "$CLI"
ip -n "$SRV" addr add "$SRV_IP/24" dev "kbs$ID"
ip -n "$CLI" addr add "$CLI_IP/24" dev "kbc$ID"
for ns in "$SRV" "$CLI"; do ip -n "$ns" link set lo up; done
ip -n "$SRV" link set "kbs$ID" up
ip -n "$CLI" link set "kbc$ID" up

# The file, readable by the unprivileged users the reference servers drop to.
mkdir -p "$WORK/root" "$WORK/out"
chmod 755 "$WORK" "$WORK/root"
head -c $((SIZE_MIB << 20)) /dev/urandom > "$WORK/root/file.img"
chmod 644 "$WORK/root/file.img"
SHA=$(sha256sum < "$WORK/root/file.img" | cut -d' ' -f1)

start_server() {
  case $1 in
    kraken)  ip netns exec "$SRV" dotnet "$OURS" "$WORK/root" "$SRV_IP:69" > "$WORK/server.log" 2>&1 & ;;
    # One send per DATA block instead of one segmented (UDP GSO) send per window: the previous behaviour.
    kraken-nogso) ip netns exec "$SRV" env KRAKEN_TFTP_NO_GSO=1 dotnet "$OURS" "$WORK/root" "$SRV_IP:69" > "$WORK/server.log" 2>&1 & ;;
    # The same, with socket completions run on the epoll thread instead of the thread pool (see docs/tftp.md).
    kraken-inline) ip netns exec "$SRV" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet "$OURS" "$WORK/root" "$SRV_IP:69" > "$WORK/server.log" 2>&1 & ;;
    in.tftpd) ip netns exec "$SRV" "$IN_TFTPD" -L -s "$WORK/root" -a "$SRV_IP:69" > "$WORK/server.log" 2>&1 & ;;
    atftpd)  ip netns exec "$SRV" "$ATFTPD" --daemon --no-fork --logfile /dev/null --bind-address "$SRV_IP" --port 69 "$WORK/root" > "$WORK/server.log" 2>&1 & ;;
  esac
  SERVER_PID=$!
  for _ in $(seq 100); do
    if ip netns exec "$SRV" ss -lun | grep -q "$SRV_IP:69 "; then return 0; fi
    sleep 0.1
  done
  echo "server $1 did not start:" >&2; cat "$WORK/server.log" >&2; exit 1
}

stop_server() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

fetch() {   # CLIENT -> runs one fetch into $WORK/out/file
  local out=$WORK/out/file
  rm -f "$out"
  case $1 in
    tftp-hpa)        ip netns exec "$CLI" timeout 300 tftp -m binary "$SRV_IP" 69 -c get file.img "$out" ;;
    atftp-1428)      ip netns exec "$CLI" timeout 300 atftp --option "blksize 1428" -g -r file.img -l "$out" "$SRV_IP" 69 ;;
    atftp-1428-w16)  ip netns exec "$CLI" timeout 300 atftp --option "blksize 1428" --option "windowsize 16" -g -r file.img -l "$out" "$SRV_IP" 69 ;;
    atftp-8192-w16)  ip netns exec "$CLI" timeout 300 atftp --option "blksize 8192" --option "windowsize 16" -g -r file.img -l "$out" "$SRV_IP" 69 ;;
    # Not in the default set: the best configurations of each server for the same client (docs/performance.md).
    atftp-1428-w64)  ip netns exec "$CLI" timeout 300 atftp --option "blksize 1428" --option "windowsize 64" -g -r file.img -l "$out" "$SRV_IP" 69 ;;
    atftp-8192)      ip netns exec "$CLI" timeout 300 atftp --option "blksize 8192" -g -r file.img -l "$out" "$SRV_IP" 69 ;;
    atftp-65464)     ip netns exec "$CLI" timeout 300 atftp --option "blksize 65464" -g -r file.img -l "$out" "$SRV_IP" 69 ;;
    busybox-1428)    ip netns exec "$CLI" timeout 300 busybox tftp -g -b 1428 -r file.img -l "$out" "$SRV_IP" 69 ;;
    curl-1428)       ip netns exec "$CLI" timeout 300 curl -sS --tftp-blksize 1428 -o "$out" "tftp://$SRV_IP:69/file.img" ;;
  esac
}

read -r -a CLIENTS <<< "${CLIENTS:-tftp-hpa atftp-1428 atftp-1428-w16 atftp-8192-w16 busybox-1428 curl-1428}"
read -r -a SERVERS <<< "${SERVERS:-kraken kraken-inline in.tftpd atftpd}"
declare -A RESULT

# Servers take turns within each repetition, so a busy moment on the machine does not fall on one server only.
for rep in $(seq "$REPEAT"); do
  for server in "${SERVERS[@]}"; do
    start_server "$server"
    for client in "${CLIENTS[@]}"; do
      rate=failed
      t0=$(date +%s.%N)
      if fetch "$client" > "$WORK/client.log" 2>&1 && [[ $(sha256sum < "$WORK/out/file" | cut -d' ' -f1) == "$SHA" ]]; then
        t1=$(date +%s.%N)
        rate=$(awk -v s="$SIZE_MIB" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", s / (b - a) }')
      fi
      best=${RESULT[$server,$client]:-failed}
      if [[ $best == failed ]] || { [[ $rate != failed ]] && awk -v r="$rate" -v b="$best" 'BEGIN { exit !(r > b) }'; }; then
        RESULT[$server,$client]=$rate
      fi
      echo "run $rep: $server <- $client: $rate MiB/s" >&2
    done
    stop_server
    if [[ $server == kraken* ]]; then grep -h transfers "$WORK/server.log" >&2 || true; fi
  done
done

printf '| client |'; for s in "${SERVERS[@]}"; do printf ' %s |' "$s"; done; printf '\n|---|'
for _ in "${SERVERS[@]}"; do printf -- '---:|'; done; printf '\n'
for c in "${CLIENTS[@]}"; do
  printf '| %s |' "$c"
  for s in "${SERVERS[@]}"; do printf ' %s |' "${RESULT[$s,$c]}"; done
  printf '\n'
done
