#!/usr/bin/env bash
# Creates tools/.venv-ref with the pinned reference packages of tools/requirements-ref.txt
# (torch, transformers, tokenizers, gguf, ...), used only to record goldens. Safe to run
# again: it does nothing when the venv already matches the requirements file.
#
# Usage: tools/setup_ref_venv.sh [PYTHON]   (PYTHON defaults to python3; 3.10 or newer)
# The PyPI build of torch comes with its CUDA wheels, a download of several GiB; the
# reference itself runs on the CPU.
set -euo pipefail

TOOLS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$TOOLS_DIR/.venv-ref"
REQUIREMENTS="$TOOLS_DIR/requirements-ref.txt"
PYTHON="${1:-python3}"
# The stamp stores the checksum of the requirements file the venv was last synced with.
STAMP="$VENV/.requirements-ref.sha256"

if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating $VENV with $("$PYTHON" --version)"
  "$PYTHON" -m venv "$VENV"
fi

wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
  echo "$VENV is up to date with $REQUIREMENTS"
  exit 0
fi

"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -r "$REQUIREMENTS"
echo "$wanted" > "$STAMP"
echo "Installed the reference packages into $VENV; run the tools with HF_HUB_OFFLINE=1 set."
