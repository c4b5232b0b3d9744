"""Shared fixtures of the Python tests: the real default model, loaded once."""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

def model_path() -> str:
    """Return the real default model.

    $VLLM_TEST_MODEL, when set, must name an existing file (the test command sets it, so
    a missing model fails there); otherwise the vLLM cache is used, where
    `python -m vllm.fetch_model` puts the model, and the tests skip when it is absent.
    """
    configured = os.environ.get("VLLM_TEST_MODEL", "")
    if configured:
        if not Path(configured).is_file():
            pytest.fail(f"VLLM_TEST_MODEL names a missing file: {configured}")
        return configured

    from vllm.fetch_model import default_model_path

    path = default_model_path()
    if not path.is_file():
        pytest.skip(
            "default model not found; fetch it with `python -m vllm.fetch_model` or set "
            "VLLM_TEST_MODEL to a .gguf file"
        )
    return str(path)


def vllm_command() -> str:
    """Return the installed `vllm` command: beside the interpreter in a venv, else on PATH."""
    beside = Path(sys.executable).parent / "vllm"
    if beside.is_file():
        return str(beside)
    found = shutil.which("vllm")
    if found is None:
        pytest.skip("the vllm command is not installed")
    return found


@pytest.fixture(scope="session")
def model() -> str:
    return model_path()


@pytest.fixture(scope="session")
def llm(model):
    from vllm import LLM

    # A small context and KV cache keep the tests fast and their memory use low.
    return LLM(model=model, max_model_len=512, kv_cache_memory_bytes=64 << 20, seed=0)


def hf_model_dir(tmp_path, generation_config: dict) -> str:
    """Return a copy of the bf16 HF export whose generation_config.json is replaced.

    The weights are linked, not copied, to keep the tests fast. Skips when the export
    (made by tests/unit/hf_model_test) is absent.
    """
    cache = os.environ.get("VLLM_CACHE_ROOT", os.path.expanduser("~/.cache/vllm"))
    source = os.path.join(cache, "models", "SmolLM2-135M-Instruct-bf16")
    if not os.path.isfile(os.path.join(source, "model.safetensors")):
        pytest.skip(f"bf16 HF export not found at {source}")
    target = tmp_path / "smollm2-bf16"
    target.mkdir()
    for name in os.listdir(source):
        if name == "model.safetensors":
            os.symlink(os.path.join(source, name), target / name)
        elif name != "generation_config.json":
            shutil.copy(os.path.join(source, name), target / name)
    (target / "generation_config.json").write_text(json.dumps(generation_config))
    return str(target)
