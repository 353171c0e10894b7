#!/bin/sh
# bench/tftp/flood.sh [BENCH_DIR]: our TFTP server (bench/Kraken.Tftp.Bench, built in BENCH_DIR, default this
# tree) on 127.0.0.1:6969 under a flood of read requests that never acknowledge (flood.py: 3,000 loopback
# addresses x 4 ports, 4,000 requests a second for 20 s), while tftp-hpa fetches a 1 MiB file. Prints the
# fetch's result and time, the server's descriptors (idle, highest during the flood) and its counters.
# Loopback only. FLOOD="ADDRESSES PORTS SECONDS RATE" overrides the flood.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tree=${1:-$here/../..}
dll=$(ls "$tree"/bench/Kraken.Tftp.Bench/bin/Release/net*/Kraken.Tftp.Bench.dll | head -n 1)
work=$(mktemp -d)
server=""
flood=""
cleanup() {
    [ -n "$flood" ] && kill "$flood" 2>/dev/null || true
    [ -n "$server" ] && kill "$server" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
mkdir "$work/root"
head -c 1048576 /dev/urandom > "$work/root/f.bin"
dotnet "$dll" "$work/root" 127.0.0.1:6969 > "$work/server.out" 2>&1 &
server=$!
sleep 3
idle=$(ls /proc/$server/fd | wc -l)
set -- ${FLOOD:-3000 4 20 4000}
python3 "$here/flood.py" 6969 f.bin "$1" "$2" "$3" "$4" > "$work/flood.out" &
flood=$!
( peak=0; while kill -0 "$flood" 2>/dev/null; do
      n=$(ls /proc/$server/fd 2>/dev/null | wc -l); [ "$n" -gt "$peak" ] && peak=$n; echo "$peak" > "$work/peak"; sleep 0.2
  done ) &
sleep 5
t0=$(date +%s.%N)
if (cd "$work" && timeout 60 tftp -m binary 127.0.0.1 6969 -c get f.bin got.bin) > "$work/fetch.out" 2>&1 \
    && cmp -s "$work/root/f.bin" "$work/got.bin"; then
    result="fetched, identical"
else
    result="FAILED: $(tr '\n' ' ' < "$work/fetch.out")"
fi
t1=$(date +%s.%N)
wait "$flood"; flood=""
kill -TERM "$server"; wait "$server" || true; server=""
echo "legitimate fetch during the flood: $result in $(echo "$t1 - $t0" | bc) s"
echo "server descriptors: $idle idle, $(cat "$work/peak") highest during the flood"
cat "$work/flood.out"
tail -n 1 "$work/server.out"
