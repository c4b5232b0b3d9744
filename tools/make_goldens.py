#!/usr/bin/env python3
"""Record greedy continuations and top-5 logprobs of HF transformers for the golden test.

The reference loads the GGUF model with transformers, which dequantizes every tensor to
float32, and runs it in float32 on the CPU. For each prompt it records the prompt's token
ids, the greedy continuation of --max-tokens tokens and, at every step, the top-5 token ids
with their logprobs (log_softmax of the float32 logits). tests/unit/goldens_test.cpp
replays the same token ids through our engine and compares.

Run it with the reference venv (tools/setup_ref_venv.sh):

    HF_HUB_OFFLINE=1 tools/.venv-ref/bin/python tools/make_goldens.py

The script generates every prompt twice and exits with an error when the two runs differ,
so a golden file is never written from a nondeterministic reference.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "data" / "goldens" / "smollm2_q4_1.json"
DEFAULT_TOKENIZER_JSON = REPO_ROOT / "tests" / "data" / "smollm2" / "tokenizer.json"
MODEL_FILE_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
NUM_TOP_LOGPROBS = 5

# Original text written for this test; it only needs to be long (500+ tokens) and ordinary.
LONG_PROMPT = """\
The harbour town of Westmere was built on a narrow strip of land between the cliffs and \
the sea, and for most of its history the lighthouse on the northern headland was the \
tallest structure anyone in the town had ever seen. The first tower was made of timber \
and burned coal in an open iron basket. On clear nights sailors could see it from twelve \
miles away, but in fog or heavy rain the light disappeared long before a ship reached the \
rocks that had given the headland its grim local name. After a winter in which three \
fishing boats were lost within a single month, the town council wrote to the maritime \
authority in the capital and asked for a stone tower with a proper lantern.

The reply took two years to arrive. When it came, it promised money for the foundations \
but not for the tower itself, and the council had to raise the rest by taxing every \
barrel of salted herring that left the harbour. The merchants complained loudly, the \
fishermen complained quietly, and the work went ahead anyway. A young engineer named \
Ada Whitlock was sent from the capital to supervise the construction. She was twenty-six, \
had never lived by the sea, and arrived with a trunk full of drawings and a firm belief \
that the old keepers knew nothing worth learning.

She changed her mind within a week. The head keeper, a thin and patient man called Tobias \
Grell, took her out in a rowing boat at low tide and showed her the currents that curled \
around the base of the headland. He explained that the swell came from the north-west in \
winter but from the south in late summer, that the rock on the seaward side was softer \
than it looked, and that any foundation laid there would be undercut within a generation. \
Whitlock redrew the plans that evening. The new tower would stand forty metres further \
inland, on harder granite, and would be taller to make up for the distance.

Construction began the following spring. Granite blocks were cut in a quarry six miles up \
the valley and brought down on carts pulled by oxen, then lifted into place with a wooden \
crane that the town carpenter built from Whitlock's sketches. Each course of stone was \
dovetailed into the one below it, so that the whole tower would behave like a single \
piece of rock when the winter storms struck. The work stopped every autumn, when the \
weather made the scaffolding too dangerous, and started again each April.

Tobias Grell kept the new light for another eleven years. When he retired, he wrote a \
short account of his life on the headland, and in the last chapter he described the \
evening the lantern was first lit. He did not mention the engineer by name, but he wrote \
that the best thing anyone from the capital had ever done for the town was to listen before \
deciding. Years later, when the lighthouse was converted to electricity and the keepers \
were no longer needed, the town placed a small plaque by the door. It records the dates of \
construction, the height of the tower and the range of the light. At the bottom, in \
smaller letters, it says:"""

CHAT_MESSAGES = [
    {"role": "user", "content": "What are three simple ways to save water at home?"},
]

# (name, text, whether the text is rendered through the model's chat template)
PROMPTS = [
    ("short", "The capital of France is", False),
    ("long", LONG_PROMPT, False),
    ("multilingual",
     "Traduction : « Le chat dort sur le canapé. »\n"
     "中文：猫在沙发上睡觉。\n"
     "Русский: Кошка спит на диване.\n"
     "Español:", False),
    ("emoji", "My favourite emojis are 😀🎉🚀 and my least favourite are", False),
    ("code",
     "def fibonacci(n: int) -> int:\n"
     '    """Return the n-th Fibonacci number."""\n'
     "    if n < 2:\n"
     "        return n\n", False),
    ("chat", None, True),
    ("digits", "Count by sevens: 7, 14, 21, 28, 35, 42,", False),
    ("whitespace",
     "Name\tAge\tCity\nAlice\t31\tLondon\nBob\t27\t  Paris  \n\n\n  Carol\t45\t", False),
]


def parse_args() -> argparse.Namespace:
    cache_root = os.environ.get("VLLM_CACHE_ROOT", os.path.expanduser("~/.cache/vllm"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?",
                        default=os.path.join(cache_root, "models", MODEL_FILE_NAME),
                        help="path of the GGUF model file (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help="golden JSON file to write (default: %(default)s)")
    parser.add_argument("--tokenizer-json", type=Path, default=DEFAULT_TOKENIZER_JSON,
                        help="HF tokenizer.json used for the prompt token ids when it "
                             "exists; otherwise the tokenizer transformers builds from the "
                             "GGUF file is used (default: %(default)s)")
    parser.add_argument("--max-tokens", type=int, default=32,
                        help="number of greedy tokens per prompt (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch intra-op threads; 0 keeps torch's default")
    parser.add_argument("--compare-fp64", action="store_true",
                        help="also run the recorded sequences through a float64 copy of "
                             "the model and print the largest logprob difference, which "
                             "shows the float32 rounding noise of the reference itself")
    return parser.parse_args()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def encode_prompts(args, hf_tokenizer) -> tuple[list[dict], str]:
    """Tokenize every prompt; return the prompt records and the name of the tokenizer used.

    When the reference tokenizer.json exists, its ids are used and must equal those of the
    tokenizer transformers builds from the GGUF metadata, so both sides see the same ids.
    """
    json_tokenizer = None
    if args.tokenizer_json.exists():
        import tokenizers
        json_tokenizer = tokenizers.Tokenizer.from_file(str(args.tokenizer_json))

    records = []
    for name, text, use_chat_template in PROMPTS:
        if use_chat_template:
            text = hf_tokenizer.apply_chat_template(
                CHAT_MESSAGES, tokenize=False, add_generation_prompt=True)
        gguf_ids = hf_tokenizer(text, add_special_tokens=True)["input_ids"]
        token_ids = gguf_ids
        if json_tokenizer is not None:
            token_ids = json_tokenizer.encode(text, add_special_tokens=True).ids
            if token_ids != gguf_ids:
                sys.exit(f"error: prompt '{name}' tokenizes differently with "
                         f"{args.tokenizer_json} and with the GGUF tokenizer of "
                         f"transformers; fix the tokenizer.json before recording goldens")
        records.append({"name": name, "text": text, "prompt_token_ids": token_ids})

    source = (f"tokenizers {args.tokenizer_json.relative_to(REPO_ROOT)}"
              if json_tokenizer is not None else "transformers GGUF tokenizer")
    return records, source


def greedy_generate(model, prompt_ids: list[int], max_tokens: int):
    """Return (output ids, top-k per step), by argmax over float32 logits with a KV cache."""
    import torch

    output_ids = []
    top_logprobs = []
    input_ids = torch.tensor([prompt_ids], dtype=torch.long)
    past_key_values = None
    with torch.no_grad():
        for _ in range(max_tokens):
            out = model(input_ids=input_ids, past_key_values=past_key_values, use_cache=True)
            past_key_values = out.past_key_values
            logits = out.logits[0, -1].to(torch.float32)  # [vocab_size]
            logprobs = torch.log_softmax(logits, dim=-1)
            values, indices = torch.topk(logprobs, NUM_TOP_LOGPROBS)
            # torch.argmax returns the first maximal index, as a greedy sampler should.
            next_id = int(torch.argmax(logits))
            output_ids.append(next_id)
            top_logprobs.append([[int(i), float(v)] for i, v in zip(indices, values)])
            input_ids = torch.tensor([[next_id]], dtype=torch.long)
    return output_ids, top_logprobs


def max_fp64_difference(model, records) -> float:
    """Return the largest |logprob| difference between float32 and float64 runs.

    Both runs are teacher-forced on the recorded float32 greedy sequence and compared on
    the recorded top-5 tokens at every step.
    """
    import copy
    import torch

    model64 = copy.deepcopy(model).to(torch.float64)
    max_diff = 0.0
    with torch.no_grad():
        for record in records:
            ids = record["prompt_token_ids"] + record["output_token_ids"]
            num_prompt = len(record["prompt_token_ids"])
            logits = model64(input_ids=torch.tensor([ids])).logits[0]  # [seq_len, vocab]
            logprobs = torch.log_softmax(logits, dim=-1)
            for step, top in enumerate(record["top_logprobs"]):
                row = logprobs[num_prompt - 1 + step]
                for token_id, value in top:
                    max_diff = max(max_diff, abs(float(row[token_id]) - value))
    return max_diff


def main() -> None:
    args = parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import gguf
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model_path = Path(args.model).resolve()
    if not model_path.is_file():
        sys.exit(f"error: model file not found: {model_path}; pass its path as the first "
                 f"argument")
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    hf_tokenizer = AutoTokenizer.from_pretrained(str(model_path.parent),
                                                 gguf_file=model_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(model_path.parent), gguf_file=model_path.name, dtype=torch.float32)
    model.eval()

    records, tokenizer_source = encode_prompts(args, hf_tokenizer)
    for record in records:
        first = greedy_generate(model, record["prompt_token_ids"], args.max_tokens)
        second = greedy_generate(model, record["prompt_token_ids"], args.max_tokens)
        if first != second:
            sys.exit(f"error: the reference is not deterministic on prompt "
                     f"'{record['name']}': two runs gave different tokens or logprobs")
        record["output_token_ids"], record["top_logprobs"] = first
        record["output_text"] = hf_tokenizer.decode(record["output_token_ids"])
        print(f"{record['name']:>12}: {len(record['prompt_token_ids']):4d} prompt tokens -> "
              f"{record['output_text']!r}")

    if args.compare_fp64:
        print(f"max |logprob(fp32) - logprob(fp64)| over top-5: "
              f"{max_fp64_difference(model, records):.3g}")

    # Logprobs are rounded to 1e-6, far below any tolerance the test may use.
    for record in records:
        record["top_logprobs"] = [[[i, round(v, 6)] for i, v in step]
                                  for step in record["top_logprobs"]]

    golden = {
        "metadata": {
            "model_file": model_path.name,
            "model_sha256": sha256_of(model_path),
            "reference": "HF transformers, GGUF weights dequantized to float32, float32 "
                         "activations, greedy argmax with KV cache",
            "torch_version": torch.__version__,
            "transformers_version": transformers.__version__,
            "gguf_version": getattr(gguf, "__version__", None)
                            or _distribution_version("gguf"),
            "tokenizers_version": _distribution_version("tokenizers"),
            "python_version": platform.python_version(),
            "torch_num_threads": torch.get_num_threads(),
            "prompt_tokenizer": tokenizer_source,
            "max_tokens": args.max_tokens,
            "num_top_logprobs": NUM_TOP_LOGPROBS,
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        },
        "prompts": records,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(format_golden(golden))
    print(f"wrote {args.output}")


def format_golden(golden: dict) -> str:
    """Format the golden file with one line per field and per step, for readable diffs."""
    def dump(value) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    lines = ["{", ' "metadata": ' + json.dumps(golden["metadata"], indent=2)
             .replace("\n", "\n ") + ",", ' "prompts": [']
    for index, record in enumerate(golden["prompts"]):
        fields = []
        for key, value in record.items():
            if key == "top_logprobs":
                steps = ",\n".join("    " + dump(step) for step in value)
                fields.append(f'   "{key}": [\n{steps}\n   ]')
            else:
                fields.append(f'   "{key}": {dump(value)}')
        closing = "  }," if index + 1 < len(golden["prompts"]) else "  }"
        lines += ["  {", ",\n".join(fields), closing]
    lines += [" ]", "}", ""]
    return "\n".join(lines)


def _distribution_version(name: str) -> str:
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    main()
