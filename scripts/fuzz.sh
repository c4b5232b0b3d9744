#!/usr/bin/env bash
# Fuzzes one target of fuzz/ with libFuzzer for a set time, then saves its statistics to
# fuzz/stats/TARGET.txt and merges the inputs that add coverage into fuzz/corpus/TARGET.
#
# Usage: scripts/fuzz.sh TARGET SECONDS
#   TARGET is a fuzz/TARGET_fuzzer.cpp name: gguf, safetensors_header, hf_config,
#   tokenizer_json, tokenizer_roundtrip, chat_template, http_request.
# Environment:
#   VLLM_FUZZ_BUILD_DIR  clang build folder (default build-fuzz), configured when missing
#   VLLM_FUZZ_BUILD_JOBS parallel compile jobs (default 2)
#   VLLM_FUZZ_ARGS       extra libFuzzer flags, such as "-max_len=65536"
#   VLLM_FUZZ_SKIP_BUILD set to use the fuzzer already built (no ninja run in the folder)
#
# The fuzzer runs as one process (no -jobs or -workers). A crash, sanitizer report, timeout
# or out-of-memory input stops it; the input is saved under BUILD/fuzz-artifacts/TARGET/ and
# the script exits 1. Keep the input as fuzz/corpus/TARGET/crash-<what> once it is fixed.
# The committed corpus keeps every seed-* and crash-* file plus the merged, minimized inputs,
# trimmed to at most 200 files and 1 MiB per target.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 TARGET SECONDS" >&2
  exit 2
fi
target=$1
seconds=$2
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || (( seconds < 1 )); then
  echo "error: SECONDS must be a positive integer, got '$seconds'" >&2
  exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
if [[ ! -f "$root/fuzz/${target}_fuzzer.cpp" ]]; then
  echo "error: unknown target '$target': fuzz/${target}_fuzzer.cpp does not exist" >&2
  exit 2
fi
build=${VLLM_FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${VLLM_FUZZ_BUILD_JOBS:-2}
corpus=$root/fuzz/corpus/$target
max_corpus_files=200
max_corpus_bytes=$((1 << 20))

# ---- build -------------------------------------------------------------------------------
# -O1 with line tables only: sanitizer builds at -O2 -g take much longer to compile, and the
# stack traces keep file and line.
if [[ ! -f "$build/CMakeCache.txt" ]]; then
  CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DVLLM_FUZZ=ON \
    -DVLLM_BUILD_TESTS=OFF -DVLLM_BUILD_PYTHON=OFF \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only -DNDEBUG"
fi
if [[ -z "${VLLM_FUZZ_SKIP_BUILD:-}" ]]; then
  cmake --build "$build" -j "$jobs" --target "fuzz_$target"
fi
fuzzer=$build/fuzz_$target

# ---- fuzz --------------------------------------------------------------------------------
# libFuzzer adds new inputs to the first corpus folder, so it works on a copy.
work=$build/fuzz-work/$target
artifacts=$build/fuzz-artifacts/$target
logs=$build/fuzz-logs
rm -rf "$work"
mkdir -p "$work" "$artifacts" "$logs" "$corpus"
cp -r "$corpus/." "$work/"
log=$logs/$target.log

start_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
start_s=$(date +%s)
status=0
# -timeout: an input taking longer is a hang. -rss_limit_mb: more is a leak or a missing
# size limit. ASan's leak check at exit is on by default; detect_leaks=1 makes it explicit.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  "$fuzzer" "$work" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
  -rss_limit_mb=4096 -artifact_prefix="$artifacts/" ${VLLM_FUZZ_ARGS:-} \
  > "$log" 2>&1 || status=$?
elapsed_s=$(( $(date +%s) - start_s ))

# ---- statistics --------------------------------------------------------------------------
final_stat() { grep -m1 "^stat::$1:" "$log" | awk '{print $2}'; }
last_status_line=$(grep -E '^#[0-9]+' "$log" | tail -1 || true)
field_after() { sed -n "s/.* $1: \([^ ]*\).*/\1/p" <<<"$last_status_line"; }
result=ok
if (( status != 0 )); then
  result="failed (libFuzzer exit status $status; see $log and $artifacts)"
fi
cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
mkdir -p "$root/fuzz/stats"
stats=$root/fuzz/stats/$target.txt
{
  echo "target: $target"
  echo "result: $result"
  echo "date: $start_date"
  echo "time_s: $elapsed_s (requested $seconds)"
  echo "executions: $(final_stat number_of_executed_units)"
  echo "exec_per_s: $(final_stat average_exec_per_sec)"
  echo "coverage_cov: $(field_after cov)"
  echo "features_ft: $(field_after ft)"
  echo "corpus_at_end: $(field_after corp)"
  echo "new_units_added: $(final_stat new_units_added)"
  echo "slowest_unit_s: $(final_stat slowest_unit_time_sec)"
  echo "peak_rss_mb: $(final_stat peak_rss_mb)"
  echo "machine: $(nproc) cores ($cpu_model), $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), load average at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "compiler: $(clang++ --version | head -1)"
  echo "command: scripts/fuzz.sh $target $seconds"
} > "$stats"
cat "$stats"
if (( status != 0 )); then
  grep -E 'ERROR|SUMMARY|Test unit written|terminate called|what\(\)' "$log" | head -20 >&2 || true
  exit 1
fi

# ---- merge -------------------------------------------------------------------------------
# A minimized set that keeps every coverage feature of the old corpus and the new inputs.
merged=$(mktemp -d)
trap 'rm -rf "$merged"' EXIT
"$fuzzer" -merge=1 -timeout=10 -rss_limit_mb=4096 "$merged" "$corpus" "$work" \
  > "$logs/$target.merge.log" 2>&1

# Seeds and crash regression inputs always stay; merged inputs that repeat one are skipped.
declare -A kept_hashes=()
for file in "$corpus"/seed-* "$corpus"/crash-*; do
  [[ -f "$file" ]] && kept_hashes[$(sha1sum < "$file" | cut -d' ' -f1)]=1
done
find "$corpus" -maxdepth 1 -type f ! -name 'seed-*' ! -name 'crash-*' -delete
for file in "$merged"/*; do
  [[ -f "$file" ]] || continue
  hash=$(sha1sum < "$file" | cut -d' ' -f1)
  [[ -n "${kept_hashes[$hash]:-}" ]] || cp "$file" "$corpus/$hash"
done

# Trims the largest merged inputs until the folder fits the caps.
while true; do
  num_files=$(find "$corpus" -maxdepth 1 -type f | wc -l)
  num_bytes=$(find "$corpus" -maxdepth 1 -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
  (( num_files > max_corpus_files || num_bytes > max_corpus_bytes )) || break
  largest=$(find "$corpus" -maxdepth 1 -type f ! -name 'seed-*' ! -name 'crash-*' \
    -printf '%s %p\n' | sort -n | tail -1 | cut -d' ' -f2-)
  [[ -n "$largest" ]] || break  # only seeds and crash inputs are left
  rm -f "$largest"
done
echo "corpus_committed: $num_files files, $num_bytes bytes" | tee -a "$stats"
