#!/usr/bin/env bash
# Sanitizer stages of CI. Builds without the Python extension, in their own build folders,
# through ccache when it is installed:
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer build of vllm_core, the `vllm` CLI,
#         every C++ unit test and the fuzz corpus replays. Runs them with leak detection,
#         then a short greedy generation with the real model through the sanitized CLI.
#   tsan  ThreadSanitizer build of the engine, scheduler and HTTP server tests; runs them.
# Any sanitizer report fails the stage: UBSan is built with -fno-sanitize-recover=all, and
# ASan and TSan exit non-zero on their first report.
#
# Usage: scripts/run_sanitizers.sh [asan|tsan|all]   (default: all)
# Expects the Debian build packages (scripts/install_deps.sh); fetches the default model
# when VLLM_TEST_MODEL is not set.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WHAT="${1:-all}"
ASAN_DIR="${VLLM_ASAN_BUILD_DIR:-$ROOT/build/asan}"
TSAN_DIR="${VLLM_TSAN_BUILD_DIR:-$ROOT/build/tsan}"
JOBS="${VLLM_BUILD_JOBS:-2}"

# Checkouts of the same sources in different folders (a CI clone, a developer's tree) share
# ccache entries: paths inside the checkout are hashed relative to it, and the build
# folder is not hashed. Debug info then names the folder of the build that filled the entry.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$ROOT}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

# The same stage timers as scripts/setup_env.sh, which this script does not source because
# that would also build the Python package.
stage_start() { STAGE_NAME="$1"; STAGE_T0=$(date +%s); echo "==> $1"; }
stage_end() { echo "==> $STAGE_NAME took $(( $(date +%s) - STAGE_T0 )) s"; }

# Tests of the engine loop, the scheduler and the HTTP server: the code that runs on more
# than one thread.
TSAN_TESTS=(engine_test engine_prefix_test scheduler_test scheduler_policy_test
            hostile_input_test thread_pool_test kernels_test)

# -O1 -g1 compiles much faster than RelWithDebInfo's -O2 -g and still gives sanitizer
# reports exact stacks with file and line.
configure() {
  local dir="$1"; shift
  cmake -S "$ROOT" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DVLLM_BUILD_PYTHON=OFF -DVLLM_BUILD_TESTS=ON "$@" > "$dir/configure.log" ||
    { cat "$dir/configure.log"; return 1; }
}

model_path() {
  if [[ -n "${VLLM_TEST_MODEL:-}" ]]; then
    echo "$VLLM_TEST_MODEL"
  else
    "$ROOT/tools/fetch_default_model.sh" | tail -n 1
  fi
}

run_asan() {
  stage_start "ASan+UBSan build (vllm_core, vllm CLI, C++ unit tests) in $ASAN_DIR"
  mkdir -p "$ASAN_DIR"
  configure "$ASAN_DIR" -DVLLM_SANITIZE=ON -DVLLM_TSAN=OFF
  # Only the CLI, the unit tests and the fuzz corpus replays, which CTest runs. Benchmarks
  # and other tools are left out to save time.
  local targets=(vllm_cli)
  local source
  for source in "$ROOT"/tests/unit/*_test.cpp; do
    targets+=("$(basename "$source" .cpp)")
  done
  for source in "$ROOT"/fuzz/*_fuzzer.cpp; do
    if [[ -e "$source" ]]; then
      targets+=("fuzz_replay_$(basename "$source" _fuzzer.cpp)")
    fi
  done
  cmake --build "$ASAN_DIR" -j "$JOBS" --target "${targets[@]}"
  stage_end

  local model
  model="$(model_path)"
  # detect_leaks: a leak fails the test binary at exit. abort_on_error gives a core-style
  # stack in the log. The real-model tests read VLLM_TEST_MODEL and fail if it is missing.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export VLLM_TEST_MODEL="$model"

  stage_start "ASan+UBSan C++ unit tests (ctest)"
  # The real-model tests (goldens, prefix caching on the model, memory flatness, the HF
  # export) take minutes each when sanitized, and the main test stage runs them anyway.
  # An empty model cache makes them skip here. The generation below covers the model code.
  local empty_cache
  empty_cache="$(mktemp -d)"
  # The memory test's fake-model run is cut from 50 s to 10 s: under ASan it checks the
  # aborts, preemptions and freed blocks but not resident memory (the quarantine keeps freed
  # memory resident), and LeakSanitizer checks for leaks.
  VLLM_TEST_MODEL="" VLLM_CACHE_ROOT="$empty_cache" HF_HUB_CACHE="$empty_cache" \
    VLLM_MEMORY_TEST_SECONDS=10 ctest --test-dir "$ASAN_DIR" --output-on-failure -j "$JOBS" --timeout 900
  rm -rf "$empty_cache"
  stage_end

  stage_start "ASan+UBSan end-to-end generation (vllm generate, real model)"
  local text
  text="$("$ASAN_DIR/vllm" generate --model "$model" --max-tokens 8 --temperature 0 \
          "The capital of France is")"
  echo "generated: $text"
  if [[ -z "${text//[[:space:]]/}" ]]; then
    echo "the sanitized vllm generate printed no text" >&2
    return 1
  fi
  stage_end
}

run_tsan() {
  stage_start "TSan build (engine, scheduler and server tests) in $TSAN_DIR"
  mkdir -p "$TSAN_DIR"
  configure "$TSAN_DIR" -DVLLM_TSAN=ON -DVLLM_SANITIZE=OFF
  cmake --build "$TSAN_DIR" -j "$JOBS" --target "${TSAN_TESTS[@]}"
  stage_end

  stage_start "TSan tests"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
  local status=0
  for test in "${TSAN_TESTS[@]}"; do
    echo "--- $test"
    "$TSAN_DIR/$test" --gtest_brief=1 || status=1
  done
  stage_end
  return "$status"
}

case "$WHAT" in
  asan) run_asan ;;
  tsan) run_tsan ;;
  all) run_asan; run_tsan ;;
  *) echo "unknown stage '$WHAT'; expected asan, tsan or all" >&2; exit 2 ;;
esac
