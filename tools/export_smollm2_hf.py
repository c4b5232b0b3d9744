#!/usr/bin/env python3
"""Record transformers goldens for SmolLM2-135M-Instruct as a bfloat16 safetensors directory.

The directory ($VLLM_CACHE_ROOT/models/SmolLM2-135M-Instruct-bf16, never committed) is made
by our own C++ export (tests/unit/hf_export.h), which hf_model_test runs when the directory
is absent: it dequantizes the default Q4_1 GGUF with our kernels, rounds every tensor to
bfloat16 and writes the HF layout. Build and run that test once before this script:

    cmake --build build --target hf_model_test && build/hf_model_test \
        --gtest_filter=HfModel.ExportedDirectory

This script then
  1. checks that transformers' own GGUF loader, rounded to bfloat16, gives bit-identical
     tensors, so that the directory is "SmolLM2 exported by transformers" in content;
  2. checks that the directory's tokenizer encodes the prompts of tools/make_goldens.py to the
     ids recorded in tests/data/goldens/smollm2_q4_1.json;
  3. loads the directory with transformers in float32 and records, twice, the greedy
     continuation and the top-5 logprobs of every prompt (exiting if the runs differ);
  4. writes tests/data/goldens/smollm2_bf16_hf.json with the SHA-256 of model.safetensors,
     so that the test can tell when its directory differs from this one.

Run it with the reference venv, offline:

    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tools/export_smollm2_hf.py
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_goldens  # noqa: E402  (prompt generation and golden formatting are shared)

REPO_ROOT = make_goldens.REPO_ROOT
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "data" / "goldens" / "smollm2_bf16_hf.json"
PROMPT_SOURCE = REPO_ROOT / "tests" / "data" / "goldens" / "smollm2_q4_1.json"
EXPORT_NAME = "SmolLM2-135M-Instruct-bf16"


def parse_args() -> argparse.Namespace:
    cache_root = os.environ.get("VLLM_CACHE_ROOT", os.path.expanduser("~/.cache/vllm"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path,
                        default=Path(cache_root) / "models" / EXPORT_NAME,
                        help="exported HF directory (default: %(default)s)")
    parser.add_argument("--gguf", type=Path,
                        default=Path(cache_root) / "models" / make_goldens.MODEL_FILE_NAME,
                        help="GGUF file the directory was exported from (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="golden JSON file to write (default: %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=32,
                        help="number of greedy tokens per prompt (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads; 0 keeps torch's default")
    return parser.parse_args()


def check_against_transformers_gguf(model_dir: Path, gguf_path: Path) -> int:
    """Compare every exported tensor with transformers' GGUF dequantization rounded to bf16.

    Returns the number of tensors compared; exits on the first difference.
    """
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    exported = load_file(str(model_dir / "model.safetensors"))
    reference = AutoModelForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32)
    state = reference.state_dict()
    for name, tensor in sorted(exported.items()):
        if name not in state:
            sys.exit(f"error: exported tensor {name} is not a parameter of transformers' model")
        expected = state[name].to(torch.bfloat16)
        if tensor.dtype != torch.bfloat16 or tuple(tensor.shape) != tuple(expected.shape):
            sys.exit(f"error: {name} is {tensor.dtype} {tuple(tensor.shape)}, transformers has "
                     f"bfloat16 {tuple(expected.shape)}")
        if not torch.equal(tensor.view(torch.int16), expected.view(torch.int16)):
            num_diff = int((tensor.view(torch.int16) != expected.view(torch.int16)).sum())
            sys.exit(f"error: {name}: {num_diff} of {tensor.numel()} bfloat16 values differ "
                     f"from transformers' GGUF loading")
    missing = sorted(set(state) - set(exported) - {"lm_head.weight"})
    if missing:
        sys.exit(f"error: transformers' model has parameters the export lacks: {missing[:5]}")
    return len(exported)


def load_prompts(model_dir: Path) -> tuple[list[dict], object]:
    """Return the GGUF golden file's prompts, checked with the directory's tokenizer, and that tokenizer."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    with open(PROMPT_SOURCE, encoding="utf-8") as f:
        source = json.load(f)
    records = []
    for prompt in source["prompts"]:
        ids = tokenizer(prompt["text"], add_special_tokens=True)["input_ids"]
        if ids != prompt["prompt_token_ids"]:
            sys.exit(f"error: prompt '{prompt['name']}' tokenizes differently with the "
                     f"exported directory's tokenizer and in {PROMPT_SOURCE.name}")
        records.append({"name": prompt["name"], "text": prompt["text"],
                        "prompt_token_ids": ids})
    return records, tokenizer


def main() -> None:
    args = parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    safetensors_path = args.model_dir / "model.safetensors"
    if not safetensors_path.is_file():
        sys.exit(f"error: {safetensors_path} not found; run hf_model_test "
                 f"(--gtest_filter=HfModel.ExportedDirectory) to export it first")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    num_checked = check_against_transformers_gguf(args.model_dir, args.gguf)
    print(f"{num_checked} tensors equal transformers' GGUF loading rounded to bfloat16")

    records, tokenizer = load_prompts(args.model_dir)
    model = AutoModelForCausalLM.from_pretrained(str(args.model_dir), dtype=torch.float32)
    model.eval()
    for record in records:
        first = make_goldens.greedy_generate(model, record["prompt_token_ids"], args.max_tokens)
        second = make_goldens.greedy_generate(model, record["prompt_token_ids"], args.max_tokens)
        if first != second:
            sys.exit(f"error: the reference is not deterministic on prompt "
                     f"'{record['name']}'")
        record["output_token_ids"], top_logprobs = first
        # Logprobs are rounded to 1e-6, far below the test's tolerance.
        record["top_logprobs"] = [[[i, round(v, 6)] for i, v in step] for step in top_logprobs]
        record["output_text"] = tokenizer.decode(record["output_token_ids"])
        print(f"{record['name']:>12}: {len(record['prompt_token_ids']):4d} prompt tokens -> "
              f"{record['output_text']!r}")

    golden = {
        "metadata": {
            "model_dir": EXPORT_NAME,
            "safetensors_sha256": make_goldens.sha256_of(safetensors_path),
            "exported_from": args.gguf.name,
            "exported_from_sha256": make_goldens.sha256_of(args.gguf),
            "reference": "HF transformers on the exported bfloat16 safetensors directory, "
                         "weights widened to float32, float32 activations, greedy argmax "
                         "with KV cache",
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
            "python_version": platform.python_version(),
            "torch_num_threads": torch.get_num_threads(),
            "max_tokens": args.max_tokens,
            "num_top_logprobs": make_goldens.NUM_TOP_LOGPROBS,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        },
        "prompts": records,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(make_goldens.format_golden(golden))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
