"""Shared fixtures of the Python tests: the real default model, loaded once."""

import os
from pathlib import Path

import pytest

# The default model: $VLLM_TEST_MODEL, else the vLLM cache (where
# `python -m vllm.fetch_model` puts it), else the development machines' copy.
_CANDIDATES = [
    os.environ.get("VLLM_TEST_MODEL", ""),
    None,  # the cache path, filled in by model_path()
    "/work/cache/SmolLM2-135M-Instruct.Q4_1.gguf",
]


def model_path() -> str:
    from vllm.fetch_model import default_model_path

    for candidate in _CANDIDATES:
        path = Path(candidate) if candidate is not None else default_model_path()
        if candidate != "" and path.is_file():
            return str(path)
    pytest.skip(
        "default model not found; fetch it with `python -m vllm.fetch_model` or set "
        "VLLM_TEST_MODEL to a .gguf file"
    )


@pytest.fixture(scope="session")
def model() -> str:
    return model_path()


@pytest.fixture(scope="session")
def llm(model):
    from vllm import LLM

    # A small context and KV cache keep the tests fast and their memory use low.
    return LLM(model=model, max_model_len=512, kv_cache_memory_bytes=64 << 20, seed=0)
