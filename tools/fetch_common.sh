# Shared by the tools/fetch_*.sh scripts, which source it after setting LOG_PREFIX.
# Sets models_dir to $VLLM_CACHE_ROOT/models (default ~/.cache/vllm/models, or
# $XDG_CACHE_HOME/vllm/models) and defines log and sha256_of.

if [[ -n "${VLLM_CACHE_ROOT:-}" ]]; then
  cache_root="$VLLM_CACHE_ROOT"
elif [[ -n "${XDG_CACHE_HOME:-}" ]]; then
  cache_root="$XDG_CACHE_HOME/vllm"
else
  cache_root="$HOME/.cache/vllm"
fi
models_dir="$cache_root/models"

# Writes a progress or error line to stderr; stdout carries only the model path.
log() { echo "$LOG_PREFIX: $*" >&2; }

# Prints the SHA-256 of file $1, with Python where sha256sum is missing.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sha256sum "$1" | cut -d' ' -f1
  else
    python3 -c 'import hashlib, sys
h = hashlib.sha256()
with open(sys.argv[1], "rb") as f:
    for chunk in iter(lambda: f.read(1 << 20), b""):
        h.update(chunk)
print(h.hexdigest())' "$1"
  fi
}
