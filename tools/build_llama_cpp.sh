#!/usr/bin/env bash
# Build llama.cpp's benchmark tools from the llama.cpp sources vendored in the PyPI source
# package llama-cpp-python, with native CPU flags, for benchmarks/compare_llama_cpp.py.
#
# Everything lives under the cache directory, never in the repository:
#   $CACHE/llama-cpp-python-$VERSION.tar.gz   the source package (pip download)
#   $CACHE/src/llama_cpp_python-$VERSION/      the unpacked package
#   $CACHE/build-$VERSION/bin/                 llama-bench, llama-batched-bench, ...
#   $CACHE/build-$VERSION/VERSION.txt          package version and llama.cpp commit
#
# Idempotent: a step whose output exists is skipped. Prints the bin directory last.
#
# Usage: tools/build_llama_cpp.sh [--jobs N]
# Environment: LLAMA_CPP_PYTHON_VERSION (default below), VLLM_LLAMA_CPP_CACHE
# (default ~/.cache/vllm/llama.cpp), PIP (default: pip of the active Python).
set -euo pipefail

VERSION="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
CACHE="${VLLM_LLAMA_CPP_CACHE:-$HOME/.cache/vllm/llama.cpp}"
PIP="${PIP:-python3 -m pip}"
JOBS=2
if [[ "${1:-}" == "--jobs" ]]; then
    JOBS="$2"
fi

# The comparison needs the first three; llama-server and llama-cli come last.
TARGETS=(llama-bench llama-batched-bench llama-quantize llama-server llama-cli)
SRC_ROOT="$CACHE/src/llama_cpp_python-$VERSION"
BUILD="$CACHE/build-$VERSION"
mkdir -p "$CACHE/src"

# Recorded in VERSION.txt; a build without it predates the patch below and is rebuilt.
PATCH_NOTE="patch: ggml AMX tile shapes kept (compiler barrier before _tile_loadconfig)"

all_built() {
    local target
    for target in "${TARGETS[@]}"; do
        [[ -x "$BUILD/bin/$target" || ( "$target" == llama-cli && -f "$BUILD/bin/.no-llama-cli" ) ]] || return 1
    done
    [[ -f "$BUILD/VERSION.txt" ]] && grep -qF "$PATCH_NOTE" "$BUILD/VERSION.txt"
}

if all_built; then
    echo "llama.cpp tools already built in $BUILD/bin" >&2
    echo "$BUILD/bin"
    exit 0
fi

# 1. Source package, never a wheel: the point is to compile for this CPU. Both lookups end in
# `|| true` because `ls` exits 2 when either spelling is missing, and pipefail would end the
# script there.
SDIST="$(ls "$CACHE"/llama_cpp_python-"$VERSION".tar.gz "$CACHE"/llama-cpp-python-"$VERSION".tar.gz 2>/dev/null | head -n 1 || true)"
if [[ -z "$SDIST" ]]; then
    $PIP download --no-deps --no-binary :all: --dest "$CACHE" "llama-cpp-python==$VERSION" >&2
    SDIST="$(ls "$CACHE"/llama_cpp_python-"$VERSION".tar.gz "$CACHE"/llama-cpp-python-"$VERSION".tar.gz 2>/dev/null | head -n 1 || true)"
    if [[ -z "$SDIST" ]]; then
        echo "error: llama-cpp-python $VERSION source package not found in $CACHE after" \
             "pip download; check that pip can reach PyPI" >&2
        exit 1
    fi
fi

# 2. Unpack.
if [[ ! -d "$SRC_ROOT/vendor/llama.cpp" ]]; then
    rm -rf "$SRC_ROOT"
    tar -xzf "$SDIST" -C "$CACHE/src"
    # The sdist directory name uses either spelling depending on the packaging tool.
    if [[ ! -d "$SRC_ROOT" && -d "$CACHE/src/llama-cpp-python-$VERSION" ]]; then
        mv "$CACHE/src/llama-cpp-python-$VERSION" "$SRC_ROOT"
    fi
fi
LLAMA_SRC="$SRC_ROOT/vendor/llama.cpp"
if [[ ! -f "$LLAMA_SRC/CMakeLists.txt" ]]; then
    echo "error: $LLAMA_SRC/CMakeLists.txt not found; the source package layout changed," \
         "set LLAMA_CPP_PYTHON_VERSION to a version that vendors llama.cpp" >&2
    exit 1
fi

# 2b. ggml's AMX kernels set their tile shapes with _tile_loadconfig on a local struct. GCC
# 12's version of that intrinsic names only the first 8 bytes of the struct as its operand,
# so the compiler drops the stores of the shapes. On a CPU with AMX the first tile load then
# dies with SIGILL (llama-bench pp512 on an AMX Xeon). A compiler barrier before the call
# keeps the stores. Without it, llama.cpp would run here only with AMX switched off, which
# is not its best.
MMQ="$LLAMA_SRC/ggml/src/ggml-cpu/amx/mmq.cpp"
if [[ -f "$MMQ" ]] && ! grep -q 'vllm-compare: keep the tile shapes' "$MMQ"; then
    sed -i 's|^\([[:space:]]*\)_tile_loadconfig(&tc);|\1asm volatile("" ::: "memory");  // vllm-compare: keep the tile shapes\n\1_tile_loadconfig(\&tc);|' "$MMQ"
    grep -q 'vllm-compare: keep the tile shapes' "$MMQ" || {
        echo "error: could not patch $MMQ; its _tile_loadconfig call changed" >&2
        exit 1
    }
fi

# 3. Configure and build only the tools the comparison needs.
GENERATOR=()
if command -v ninja >/dev/null; then
    GENERATOR=(-G Ninja)
fi
cmake -S "$LLAMA_SRC" -B "$BUILD" "${GENERATOR[@]}" \
    -DCMAKE_BUILD_TYPE=Release \
    -DGGML_NATIVE=ON \
    -DGGML_OPENMP=ON \
    -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF \
    -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_BUILD_TOOLS=ON \
    -DLLAMA_BUILD_SERVER=ON \
    -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF >&2

for target in "${TARGETS[@]}"; do
    if ! cmake --build "$BUILD" -j "$JOBS" --target "$target" >&2; then
        if [[ "$target" == "llama-cli" ]]; then
            echo "warning: llama-cli failed to build; the comparison does not need it" >&2
            touch "$BUILD/bin/.no-llama-cli"
            continue
        fi
        exit 1
    fi
done

# 4. Record what was built.
# llama-bench --version prints the commit llama.cpp embeds. The package's CHANGELOG names
# the upstream commit of each release too: its newest "update llama.cpp to
# ggml-org/llama.cpp@<commit>" line belongs to this release.
COMMIT="$(grep -o -m 1 'ggml-org/llama.cpp@[0-9a-f]*' "$SRC_ROOT/CHANGELOG.md" || echo unknown)"
{
    echo "llama-cpp-python $VERSION"
    echo "source: $SDIST"
    echo "llama.cpp sources: $LLAMA_SRC"
    "$BUILD/bin/llama-bench" --version 2>&1 | head -n 3 || true
    echo "llama.cpp commit: $COMMIT (from the package CHANGELOG)"
    echo "compiler: $(${CXX:-c++} --version | head -n 1)"
    echo "flags: Release, GGML_NATIVE=ON, GGML_OPENMP=ON"
    echo "$PATCH_NOTE"
} > "$BUILD/VERSION.txt"

echo "$BUILD/bin"
