#!/usr/bin/env bash
# The README's test command: sets everything up on a fresh machine, then runs the C++ unit
# tests (CTest) and the Python tests (pytest) against the one shared build.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VLLM_BUILD_TESTS=ON source "$ROOT/scripts/setup_env.sh"

stage_start "C++ unit tests (ctest)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j2 --timeout 600
stage_end

stage_start "Python tests (pytest)"
"$VENV/bin/python" -m pytest -q "$ROOT/tests/python"
stage_end
