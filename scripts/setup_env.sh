#!/usr/bin/env bash
# Shared set-up for the README's commands: Debian build packages, the project venv (.venv),
# the package built and installed from this checkout, and the default model in the cache.
# Sourced, not executed: it exports VENV and BUILD_DIR for the caller.
#
# The package is built once, in a persistent build folder (BUILD_DIR). The same CMake build
# also produces the C++ unit tests, so tests and wheel share one compilation.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VLLM_VENV:-$ROOT/.venv}"
export BUILD_DIR="$ROOT/build/release"

stage_start() { STAGE_NAME="$1"; STAGE_T0=$(date +%s); echo "==> $1"; }
stage_end() { echo "==> $STAGE_NAME took $(( $(date +%s) - STAGE_T0 )) s"; }

stage_start "Debian build packages"
"$ROOT/scripts/install_deps.sh"
stage_end

stage_start "Python venv at $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r "$ROOT/requirements-build.txt"
stage_end

stage_start "Build and install the vllm package (shared build in $BUILD_DIR)"
VLLM_BUILD_TESTS="${VLLM_BUILD_TESTS:-OFF}"
"$VENV/bin/python" -m pip install -q --no-build-isolation \
  -Cbuild-dir="$BUILD_DIR" \
  -Ccmake.define.VLLM_BUILD_TESTS="$VLLM_BUILD_TESTS" \
  "$ROOT"
stage_end

stage_start "Default model"
VLLM_DEFAULT_MODEL="$("$ROOT/tools/fetch_default_model.sh" | tail -n 1)"
export VLLM_DEFAULT_MODEL
stage_end
