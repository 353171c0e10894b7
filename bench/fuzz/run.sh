#!/usr/bin/env bash
# Fuzzing campaigns: SharpFuzz-instrumented Kraken assemblies driven by libFuzzer (clang's -fsanitize=fuzzer).
#   run.sh                   lists the targets
#   run.sh TARGET SECONDS [EXECS]
#                            fuzzes TARGET from its corpus for SECONDS, or until EXECS inputs have run if that comes
#                            first; ends with "TARGET: N execs, M crashes"
#   run.sh seed              rewrites corpus/ from our encoders (and examples/ for state files)
# Needs clang and libclang-rt-14-dev (libFuzzer) and the SharpFuzz.CommandLine dotnet tool (installed on first use).
# The work corpus, crash inputs and logs go to bench/fuzz/out/ (not committed); a crash input is replayed with
#   dotnet bench/fuzz/out/bin/Kraken.Fuzz.dll TARGET out/crashes/TARGET/crash-...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="$here/out"
sharpfuzz_version=2.3.0

if [ $# -eq 0 ]; then
  ls "$here/corpus"
  exit 0
fi

build() {
  # Publish, then instrument our own assemblies in the copy (SharpFuzz rewrites them in place, once). The new copy
  # replaces the old one by rename, so a campaign still running keeps the files it opened.
  rm -rf "$out/bin.new"
  dotnet publish "$here/Kraken.Fuzz/Kraken.Fuzz.csproj" -c Release -o "$out/bin.new" -p:UseAppHost=false >"$out/build.log" 2>&1 \
    || { cat "$out/build.log"; exit 1; }
  local tool="$HOME/.dotnet/tools/sharpfuzz"
  if [ ! -x "$tool" ]; then
    dotnet tool install -g SharpFuzz.CommandLine --version "$sharpfuzz_version" >/dev/null
  fi
  # kraken.dll is Kraken.Daemon.
  for dll in Kraken.Net Kraken.Tree Kraken.Modules kraken; do
    "$tool" "$out/bin.new/$dll.dll" >/dev/null
  done
  rm -rf "$out/bin.old"
  [ ! -d "$out/bin" ] || mv "$out/bin" "$out/bin.old"
  mv "$out/bin.new" "$out/bin"
  clang -O2 -fsanitize=fuzzer -o "$out/driver.new" "$here/driver/dotnet-libfuzzer.c"
  mv "$out/driver.new" "$out/driver"
}

mkdir -p "$out"
if [ "$1" = seed ]; then
  dotnet run --project "$here/Kraken.Fuzz/Kraken.Fuzz.csproj" -c Release -- seed "$here/corpus" "$root/examples"
  exit 0
fi

target="$1"
seconds="${2:?usage: run.sh TARGET SECONDS [EXECS]}"
max_execs="${3:-0}"
[ -d "$here/corpus/$target" ] || { echo "unknown target '$target'; run.sh with no arguments lists them" >&2; exit 2; }

# Rebuild when any source is newer than the instrumented copy (KRAKEN_FUZZ_NO_BUILD=1 keeps the copy as it is,
# for campaigns running side by side while the sources change).
stale() {
  [ ! -f "$out/bin/Kraken.Fuzz.dll" ] || [ ! -x "$out/driver" ] \
    || [ -n "$(find "$root"/Kraken.Net "$root"/Kraken.Tree "$root"/Kraken.Modules "$root"/Kraken.Daemon "$here/Kraken.Fuzz" "$here/driver" \
          -newer "$out/bin/Kraken.Fuzz.dll" \( -name '*.cs' -o -name '*.c' -o -name '*.proto' -o -name '*.csproj' \) -print -quit)" ]
}
if [ "${KRAKEN_FUZZ_NO_BUILD:-0}" != 1 ] && stale; then
  build
fi

max_len="$(dotnet "$out/bin/Kraken.Fuzz.dll" list | awk -v t="$target" '$1 == t {print $2}')"
work="$out/corpus/$target"
crashes="$out/crashes/$target"
log="$out/logs/$target.log"
mkdir -p "$work" "$crashes" "$out/logs"
: >"$log"

export KRAKEN_FUZZ_CMD="dotnet $out/bin/Kraken.Fuzz.dll $target" KRAKEN_FUZZ_MAX_LEN="$max_len"
export DOTNET_TieredPGO=0 DOTNET_TC_QuickJitForLoops=1 DOTNET_gcServer=0

# libFuzzer stops at the first crash: keep the crash input and go on with the time left.
end=$(( $(date +%s) + seconds ))
execs=0
crash_count=0
timeout_count=0
while :; do
  left=$(( end - $(date +%s) ))
  [ "$left" -gt 0 ] || break
  runs=-1
  if [ "$max_execs" -gt 0 ]; then
    runs=$(( max_execs - execs ))
    [ "$runs" -gt 0 ] || break
  fi
  set +e
  "$out/driver" -max_total_time="$left" -runs="$runs" -max_len="$max_len" -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
    -artifact_prefix="$crashes/" "$work" "$here/corpus/$target" >"$log.run" 2>&1
  status=$?
  set -e
  cat "$log.run" >>"$log"
  # The driver's own count, printed at exit and on a crash; after a timeout (libFuzzer ends at once) the last
  # status line's count, which may be low by the inputs run since it was printed.
  n=$(grep -a '^kraken-fuzz: [0-9]* execs' "$log.run" | tail -1 | awk '{print $2}' || true)
  [ -n "$n" ] || n=$(grep -aoE '^#[0-9]+' "$log.run" | tail -1 | tr -d '#' || true)
  execs=$(( execs + ${n:-0} ))
  # Counted from what libFuzzer wrote in this run: the same input found again overwrites its file.
  new_crashes=$(grep -acE "Test unit written to $crashes/(crash|oom|leak)-" "$log.run" || true)
  new_timeouts=$(grep -acE "Test unit written to $crashes/(timeout|slow-unit)-" "$log.run" || true)
  # A timeout (an input that ran past -timeout) or a slow unit (past 10 s) is counted apart: replay it to tell a
  # hang from a stall of a loaded machine.
  timeout_count=$(( timeout_count + new_timeouts ))
  crash_count=$(( crash_count + new_crashes ))
  if [ "$status" -ne 0 ] && [ "$new_crashes" -eq 0 ] && [ "$new_timeouts" -eq 0 ]; then
    echo "libFuzzer failed (exit $status) without a crash input; see $log" >&2
    tail -20 "$log" >&2
    break
  fi
done

rm -f "$log.run"
# Coverage as libFuzzer last reported it (features count SharpFuzz's edge map as extra counters).
grep -aE '^#[0-9]+' "$log" | tail -1 | sed 's/^/last status: /' || true
[ "$timeout_count" -eq 0 ] || echo "timeouts and slow units: $timeout_count (inputs in $crashes)"
echo "$target: $execs execs, $crash_count crashes"
