#!/usr/bin/env python3
"""Build tiny random models of each supported architecture and record their goldens.

For every entry of FAMILIES the script builds a transformers model from a small config
(hidden 64, 2 layers), seeds it, initialises the weights with a standard deviation large
enough that the logits are not flat, and writes tests/data/tiny_models/<family>/:

  config.json, model.safetensors (float32), generation_config.json when transformers
  writes one, tokenizer.json and tokenizer_config.json (one small byte-level BPE tokenizer
  trained with HF `tokenizers` on TOKENIZER_TEXT and the story prompt of
  tools/make_goldens.py, shared by every family), and
  goldens.json in the schema of tests/data/goldens/smollm2_q4_1.json: for each prompt
  (token ids drawn from a seeded generator) the greedy continuation and the top-5
  logprobs of every step, recorded in float32 with a KV cache, plus "full_logits", the
  float32 logits of every vocabulary entry at the last prompt position of one prompt.

The families of GGUF_FAMILIES are also converted to GGUF F32 by llama.cpp's converter
(<family>/gguf/model-f32.gguf). tests/unit/tiny_models_test.cpp replays the goldens through
the engine, from the HF directory and from the GGUF file.

Run it with the reference venv (transformers 5.25.0, torch 2.15.0):

    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tools/make_tiny_models.py [FAMILY ...]

With no FAMILY every family is rebuilt. Families with sliding windows get a window shorter
than most prompts, so that the window changes the outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
OUTPUT_ROOT = REPO_ROOT / "tests" / "data" / "tiny_models"

SEED = 1234
# The tokenizer is trained to at most this size; every model's vocab_size is the size it
# reaches (VOCAB_SIZE below, set by train_tokenizer).
MAX_VOCAB_SIZE = 1000
VOCAB_SIZE = 0
MAX_TOKENS = 16
NUM_TOP_LOGPROBS = 5
PROMPT_LENGTHS = [5, 9, 14, 20, 27, 33, 40, 48]
FULL_LOGITS_PROMPT = 3  # index into the prompts
SLIDING_WINDOW = 8

# Original text written for these tests; the tokenizer only needs ordinary English and code.
TOKENIZER_TEXT = """\
The river ran past the mill and under the old stone bridge, where the children of the
village gathered every evening to watch the boats come home. A lantern hung from the
keeper's window, and its light fell in long yellow lines across the water. In winter the
river froze at the edges, and the miller broke the ice each morning with a wooden pole.
def count_words(text: str) -> int:
    return len(text.split())
for i in range(10):
    print(i * i, "squares", i + 1)
Numbers such as 3.14159, 2718 and 1,000,000 appear in tables; dates like 2024-05-17 too.
"""


def common_config() -> dict:
    return dict(
        vocab_size=VOCAB_SIZE,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        rms_norm_eps=1e-5,
        bos_token_id=0,
        eos_token_id=0,
    )


def llama_config():
    from transformers import LlamaConfig

    return LlamaConfig(**common_config(), tie_word_embeddings=False,
                       rope_parameters={"rope_type": "default", "rope_theta": 10000.0})


def llama3_rope_config():
    """Llama 3.1's rope scaling, with a short original context so that all three
    frequency bands (kept, blended, divided) occur for head_dim 16."""
    from transformers import LlamaConfig

    return LlamaConfig(**common_config(), tie_word_embeddings=True,
                       rope_parameters={"rope_type": "llama3", "rope_theta": 500000.0,
                                        "factor": 8.0, "low_freq_factor": 1.0,
                                        "high_freq_factor": 4.0,
                                        "original_max_position_embeddings": 64})


def llama_linear_rope_config():
    from transformers import LlamaConfig

    return LlamaConfig(**common_config(), tie_word_embeddings=True,
                       rope_parameters={"rope_type": "linear", "rope_theta": 10000.0,
                                        "factor": 4.0})


def mistral_config():
    from transformers import MistralConfig

    return MistralConfig(**common_config(), tie_word_embeddings=False,
                         sliding_window=SLIDING_WINDOW, rope_theta=10000.0)


def qwen2_config():
    """Tied head; layer 1 of 2 slides (max_window_layers=1), as Qwen2 configures it."""
    from transformers import Qwen2Config

    return Qwen2Config(**common_config(), tie_word_embeddings=True, use_sliding_window=True,
                       sliding_window=SLIDING_WINDOW, max_window_layers=1,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})


def qwen2_untied_config():
    from transformers import Qwen2Config

    return Qwen2Config(**common_config(), tie_word_embeddings=False, use_sliding_window=False,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})


def qwen3_config():
    """head_dim 32 differs from hidden / heads = 16."""
    from transformers import Qwen3Config

    return Qwen3Config(**common_config(), head_dim=32, tie_word_embeddings=True,
                       rope_parameters={"rope_type": "default", "rope_theta": 1000000.0})


def phi3_config():
    """longrope with original_max_position_embeddings 4, shorter than every prompt, so that
    transformers uses the long factors throughout; half of each head is rotated."""
    from transformers import Phi3Config

    rng = random.Random(SEED + 7)
    rotary_dim = 8  # head_dim 16 * partial_rotary_factor 0.5
    config = common_config()
    config.update(pad_token_id=0)
    return Phi3Config(
        **config,
        tie_word_embeddings=False,
        original_max_position_embeddings=4,
        rope_parameters={
            "rope_type": "longrope",
            "rope_theta": 10000.0,
            "partial_rotary_factor": 0.5,
            "short_factor": [round(1.0 + 0.1 * i, 3) for i in range(rotary_dim // 2)],
            "long_factor": [round(1.0 + rng.uniform(0.5, 6.0), 3) for _ in range(rotary_dim // 2)],
        },
    )


def gemma2_config():
    """Layer 0 slides, layer 1 attends to the full context. Both soft caps are small enough
    to change the outputs. query_pre_attn_scalar equals head_dim, as in Gemma 2 2B and 9B,
    because GGUF files do not record it (gemma3 covers a different value)."""
    from transformers import Gemma2Config

    return Gemma2Config(**common_config(), head_dim=16, query_pre_attn_scalar=16,
                        sliding_window=SLIDING_WINDOW, attn_logit_softcapping=5.0,
                        final_logit_softcapping=6.0, hidden_activation="gelu_pytorch_tanh",
                        tie_word_embeddings=True,
                        rope_parameters={"rope_type": "default", "rope_theta": 10000.0})


def gemma3_config():
    """Three layers, the middle one global. The global rope is linearly scaled and has a
    base frequency of its own; q_norm and k_norm are random like every other norm."""
    from transformers import Gemma3TextConfig

    config = common_config()
    config.update(num_hidden_layers=3)
    return Gemma3TextConfig(
        **config, head_dim=16, query_pre_attn_scalar=32, sliding_window=SLIDING_WINDOW,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        hidden_activation="gelu_pytorch_tanh", tie_word_embeddings=True,
        rope_parameters={
            "full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000000.0},
            "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0},
        })


def gpt2_config():
    """Field names as in openai-community/gpt2's config.json, whose n_ctx llama.cpp's
    converter reads. n_inner is left at its default, 4 * n_embd, the only MLP size the
    converter writes."""
    from transformers import GPT2Config

    return GPT2Config(vocab_size=VOCAB_SIZE, n_positions=256, n_ctx=256, n_embd=64, n_layer=2,
                      n_head=4, activation_function="gelu_new", layer_norm_epsilon=1e-5,
                      bos_token_id=0, eos_token_id=0, tie_word_embeddings=True)


# Family name -> function building the transformers config. Other architectures add their
# entries here; each becomes tests/data/tiny_models/<name>/.
FAMILIES: dict[str, Callable] = {
    "llama": llama_config,
    "llama3_rope": llama3_rope_config,
    "llama_linear_rope": llama_linear_rope_config,
    "mistral": mistral_config,
    "qwen2": qwen2_config,
    "qwen2_untied": qwen2_untied_config,
    "qwen3": qwen3_config,
    "phi3": phi3_config,
    "gemma2": gemma2_config,
    "gemma3": gemma3_config,
    "gpt2": gpt2_config,
}

# Families also converted to GGUF (F32) with llama.cpp's converter, into <family>/gguf/: the
# GGUF metadata paths of qwen2, qwen3, phi3 and llama with Llama 3.1 or linear rope scaling. A
# subdirectory, because a model directory holding one .gguf file resolves to that file.
# qwen2_untied stands for Qwen2: the converter writes no sliding window for qwen2, so the
# sliding "qwen2" family would not match its own goldens as GGUF.
GGUF_FAMILIES = ["llama3_rope", "llama_linear_rope", "qwen2_untied", "qwen3", "phi3", "gemma2", "gpt2"]
LLAMA_CPP_DIR = Path.home() / ".cache/vllm/llama.cpp/src/llama_cpp_python-0.3.36/vendor/llama.cpp"

# Standard deviation of the random weights per family, where the default does not give
# logits with clear winners.
WEIGHT_STD: dict[str, float] = {}
DEFAULT_WEIGHT_STD = 0.2
EMBEDDING_STD = 0.5
# Gemma multiplies the embeddings by sqrt(hidden_size) = 8, so with the default their rows
# outweigh every layer's normalized output and the greedy output repeats the last token.
EMBEDDING_STD_BY_FAMILY: dict[str, float] = {"gemma2": 0.1, "gemma3": 0.1}


def train_tokenizer(directory: Path) -> None:
    """Trains the shared tokenizer on TOKENIZER_TEXT and the long story prompt of
    tools/make_goldens.py, both fixed texts of this repository, and sets VOCAB_SIZE."""
    global VOCAB_SIZE
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    sys.path.insert(0, str(REPO_ROOT / "tools"))
    from make_goldens import LONG_PROMPT

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=MAX_VOCAB_SIZE,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # BPE training on a fixed text is deterministic.
    tokenizer.train_from_iterator([TOKENIZER_TEXT, LONG_PROMPT], trainer=trainer)
    VOCAB_SIZE = tokenizer.get_vocab_size()
    print(f"tokenizer: {VOCAB_SIZE} tokens")
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({
        # GPT2Tokenizer: llama.cpp's Phi3 converter reads a byte-level BPE vocabulary only
        # for this class.
        "tokenizer_class": "GPT2Tokenizer",
        "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>",
        "model_max_length": 256,
    }, indent=1) + "\n")


def init_weights(model, std: float, embedding_std: float = EMBEDDING_STD) -> None:
    import torch

    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            # GPT-2 names its embeddings wte and wpe and its LayerNorms ln_1, ln_2, ln_f.
            if "embed_tokens" in name or "lm_head" in name or ".wte." in name or ".wpe." in name:
                param.normal_(0.0, embedding_std, generator=generator)
            elif param.dim() >= 2:
                param.normal_(0.0, std, generator=generator)
            elif "norm" in name or (".ln_" in name and name.endswith(".weight")):
                param.copy_(1.0 + 0.2 * torch.randn(param.shape, generator=generator))
            else:  # biases
                param.normal_(0.0, 0.2, generator=generator)


def greedy_generate(model, prompt_ids: list[int]) -> dict:
    import torch

    output_ids: list[int] = []
    top_logprobs: list[list[list]] = []
    first_logits = None
    past = None
    next_input = torch.tensor([prompt_ids])
    with torch.no_grad():
        for _ in range(MAX_TOKENS):
            out = model(input_ids=next_input, past_key_values=past, use_cache=True)
            past = out.past_key_values
            logits = out.logits[0, -1].float()
            if first_logits is None:
                first_logits = logits.clone()
            logprobs = torch.log_softmax(logits, dim=-1)
            values, indices = torch.topk(logprobs, NUM_TOP_LOGPROBS)
            top_logprobs.append([[int(i), round(float(v), 6)] for i, v in zip(indices, values)])
            token = int(indices[0])
            output_ids.append(token)
            next_input = torch.tensor([[token]])
    return {"output_token_ids": output_ids, "top_logprobs": top_logprobs,
            "first_logits": first_logits}


def build_family(name: str, make_config: Callable, tokenizer_dir: Path) -> None:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    directory = OUTPUT_ROOT / name
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)

    torch.manual_seed(SEED)
    config = make_config()
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager",
                                             dtype=torch.float32)
    init_weights(model, WEIGHT_STD.get(name, DEFAULT_WEIGHT_STD),
                 EMBEDDING_STD_BY_FAMILY.get(name, EMBEDDING_STD))
    if config.tie_word_embeddings:
        model.tie_weights()
    model.eval()
    model.save_pretrained(directory, safe_serialization=True)
    for file in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tokenizer_dir / file, directory / file)

    rng = random.Random(SEED)
    prompts = []
    min_margin = float("inf")
    full_logits = None
    for index, length in enumerate(PROMPT_LENGTHS):
        prompt_ids = [rng.randrange(1, VOCAB_SIZE) for _ in range(length)]
        result = greedy_generate(model, prompt_ids)
        for step in result["top_logprobs"]:
            min_margin = min(min_margin, step[0][1] - step[1][1])
        prompts.append({
            "name": f"prompt_{index}_len_{length}",
            "prompt_token_ids": prompt_ids,
            "output_token_ids": result["output_token_ids"],
            "top_logprobs": result["top_logprobs"],
        })
        if index == FULL_LOGITS_PROMPT:
            full_logits = {"prompt": prompts[-1]["name"],
                           "logits": [round(float(x), 6) for x in result["first_logits"]]}

    goldens = {
        "metadata": {
            "family": name,
            "architecture": config.architectures[0] if config.architectures else
                            type(model).__name__,
            "reference": "HF transformers, float32 weights and activations, eager attention, "
                         "greedy argmax with KV cache",
            "seed": SEED,
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
            "python_version": platform.python_version(),
            "max_tokens": MAX_TOKENS,
            "num_top_logprobs": NUM_TOP_LOGPROBS,
            "min_top2_margin": round(min_margin, 6),
        },
        "prompts": prompts,
        "full_logits": full_logits,
    }
    with open(directory / "goldens.json", "w") as file:
        json.dump(goldens, file, indent=1)
        file.write("\n")
    size = sum(f.stat().st_size for f in directory.iterdir())
    print(f"{name}: {size / 1e6:.2f} MB, smallest top-1/top-2 logprob margin {min_margin:.4f}")


def convert_to_gguf(name: str) -> None:
    """Run llama.cpp's convert_hf_to_gguf.py on the family's directory.

    The converter rejects tokenizers whose pre-tokenizer hash is not in its table. The tiny
    tokenizer is a plain byte-level BPE, so its pre-tokenizer is declared "gpt2"."""
    import subprocess

    directory = OUTPUT_ROOT / name
    out_dir = directory / "gguf"
    out_dir.mkdir(exist_ok=True)
    wrapper = (
        "import runpy, sys\n"
        f"sys.path.insert(0, {str(LLAMA_CPP_DIR)!r})\n"
        f"sys.path.insert(1, {str(LLAMA_CPP_DIR / 'gguf-py')!r})\n"
        "import conversion.base as base\n"
        "base.TextModel.get_vocab_base_pre = lambda self, tokenizer: 'gpt2'\n"
        # Gemma 2's converter reads only SentencePiece tokenizer.model files.
        "import conversion.gemma as gemma\n"
        "gemma.Gemma2Model.set_vocab = base.TextModel._set_vocab_gpt2\n"
        f"sys.argv = ['convert_hf_to_gguf.py', {str(directory)!r}, '--outtype', 'f32',\n"
        f"            '--outfile', {str(out_dir / 'model-f32.gguf')!r}]\n"
        f"runpy.run_path({str(LLAMA_CPP_DIR / 'convert_hf_to_gguf.py')!r}, run_name='__main__')\n"
    )
    subprocess.run([sys.executable, "-c", wrapper], check=True, capture_output=True)
    size = (out_dir / "model-f32.gguf").stat().st_size
    print(f"{name}: gguf/model-f32.gguf {size / 1e6:.2f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("families", nargs="*", help=f"subset of {', '.join(FAMILIES)}")
    args = parser.parse_args()
    if os.environ.get("HF_HUB_OFFLINE") != "1":
        sys.exit("set HF_HUB_OFFLINE=1: the script must not reach the network")
    unknown = [f for f in args.families if f not in FAMILIES]
    if unknown:
        sys.exit(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")

    import torch

    torch.set_num_threads(1)
    OUTPUT_ROOT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tokenizer_dir:
        train_tokenizer(Path(tokenizer_dir))
        for name in args.families or FAMILIES:
            build_family(name, FAMILIES[name], Path(tokenizer_dir))
            if name in GGUF_FAMILIES:
                convert_to_gguf(name)


if __name__ == "__main__":
    main()
