"""The `vllm` command: the console script that execs the C++ program."""

import json
import os
import subprocess

import pytest
from conftest import vllm_command

from vllm import SamplingParams




# A small context and KV cache keep each run fast and its memory use low.
SMALL_ENGINE = ("--max-model-len", "512", "--kv-cache-memory-bytes", str(64 << 20))


def run_vllm(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [vllm_command(), *args], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "VLLM_LOGGING_LEVEL": "WARNING"},
    )


def test_generate_prints_text(model):
    result = run_vllm("generate", "--model", model, *SMALL_ENGINE, "--max-tokens", "8", "Hello")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n")
    assert result.stdout.strip() != ""


def test_generate_matches_llm(model, llm):
    result = run_vllm(
        "generate", "--model", model, *SMALL_ENGINE, "--max-tokens", "8", "--temperature", "0",
        "The capital of France is",
    )
    assert result.returncode == 0, result.stderr
    params = SamplingParams(temperature=0.0, max_tokens=8)
    expected = llm.generate("The capital of France is", params, use_tqdm=False)[0]
    assert result.stdout == expected.outputs[0].text + "\n"


def test_bad_flag_exits_2():
    result = run_vllm("generate", "--no-such-flag", "1", "Hello")
    assert result.returncode == 2
    assert "--no-such-flag" in result.stderr


def test_invalid_value_exits_1(model):
    result = run_vllm("generate", "--model", model, *SMALL_ENGINE, "--temperature", "-1", "Hello")
    assert result.returncode == 1
    assert result.stderr.startswith("Error: temperature must be non-negative")


def test_missing_model_exits_1():
    result = run_vllm("generate", "--model", "/nonexistent/model.gguf", "Hello")
    assert result.returncode == 1
    assert "Error:" in result.stderr
    assert "/nonexistent/model.gguf" in result.stderr


def test_version():
    from vllm import __version__

    result = run_vllm("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == __version__


def test_help_lists_subcommands():
    result = run_vllm("--help")
    assert result.returncode == 0
    for name in ("generate", "serve", "chat", "complete", "bench"):
        assert name in result.stdout


@pytest.mark.parametrize("command", ["generate", "serve"])
def test_model_source_flags(command):
    result = run_vllm(command, "--help")
    assert result.returncode == 0, result.stderr
    for flag in ("--revision", "--dtype", "--generation-config", "--enable-chunked-prefill"):
        assert flag in result.stdout, flag


def test_bad_dtype_exits_2():
    result = run_vllm("generate", "--dtype", "int8", "Hello")
    assert result.returncode == 2
    assert "int8" in result.stderr


def test_generate_config_defaults(tmp_path):
    cache = os.environ.get("VLLM_CACHE_ROOT", os.path.expanduser("~/.cache/vllm"))
    source = os.path.join(cache, "models", "SmolLM2-135M-Instruct-bf16")
    if not os.path.isfile(os.path.join(source, "model.safetensors")):
        pytest.skip(f"bf16 HF export not found at {source}")
    config = tmp_path / "config"
    config.mkdir()
    (config / "generation_config.json").write_text(
        json.dumps({"temperature": 0.0, "max_new_tokens": 4}))
    engine = ("--model", source, *SMALL_ENGINE)
    # The config's greedy temperature and max_new_tokens give what the same flags give
    # under vLLM's defaults.
    from_config = run_vllm("generate", *engine, "--generation-config", str(config),
                           "Once upon a time")
    from_flags = run_vllm("generate", *engine, "--generation-config", "vllm",
                          "--temperature", "0", "--max-tokens", "4", "Once upon a time")
    assert from_config.returncode == 0, from_config.stderr
    assert from_flags.returncode == 0, from_flags.stderr
    assert from_config.stdout == from_flags.stdout
