#!/usr/bin/env python3
"""Record transformers goldens for Gemma 3 270M Q4_K_M with tools/make_goldens.py.

It runs make_goldens.py's main() with Gemma defaults: the model file that
tools/fetch_gemma3.sh writes, tests/data/goldens/gemma3_270m_q4_k_m.json as output, and
the prompt token ids of the tokenizer transformers builds from the GGUF metadata (there is
no tokenizer.json to cross-check). The GGUF file contains no chat template, so the "chat"
prompt is written out in Gemma's turn format, and the tokenizer splits its control tokens
out of the text. The long prompt is 620 tokens, longer than the 512-token sliding window.
Arguments are passed on to make_goldens.py.

    HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tools/make_gemma3_goldens.py --threads 2
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_goldens  # noqa: E402

GEMMA_CHAT_PROMPT = ("<start_of_turn>user\n"
                     + make_goldens.CHAT_MESSAGES[0]["content"]
                     + "<end_of_turn>\n<start_of_turn>model\n")


def main() -> None:
    make_goldens.MODEL_FILE_NAME = "gemma-3-270m-q4_k_m.gguf"
    make_goldens.DEFAULT_OUTPUT = (make_goldens.REPO_ROOT / "tests" / "data" / "goldens"
                                   / "gemma3_270m_q4_k_m.json")
    # A path that does not exist makes make_goldens.py use the GGUF tokenizer.
    make_goldens.DEFAULT_TOKENIZER_JSON = make_goldens.REPO_ROOT / "no-tokenizer.json"
    make_goldens.PROMPTS = [
        ("chat", GEMMA_CHAT_PROMPT, False) if use_template else (name, text, use_template)
        for name, text, use_template in make_goldens.PROMPTS
    ]
    make_goldens.main()


if __name__ == "__main__":
    main()
