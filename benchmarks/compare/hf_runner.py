"""Time HF transformers batched generation for the comparison script.

Runs in the reference environment (torch, transformers, gguf) as a long-lived child of
compare_llama_cpp.py. Loads the GGUF file through transformers, which dequantizes every
tensor to float32, sets torch to the requested thread count, writes one JSON line, then
replies to JSON commands, one per line:

  {"op": "batch", "num_prompts": 64, "input_len": 128, "output_len": 128}
      one generate() call on a [num_prompts, input_len] batch of random token ids, greedy,
      exactly output_len new tokens each; (prompt + output tokens) / time
  {"op": "quit"}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

MIN_PROMPT_TOKEN_ID = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="path of the .gguf file")
    parser.add_argument("--threads", type=int, required=True, help="torch intra-op threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    reply = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def send(obj: dict) -> None:
        reply.write(json.dumps(obj) + "\n")

    start = time.perf_counter()
    try:
        import torch
        from transformers import AutoModelForCausalLM

        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(1)
        model = AutoModelForCausalLM.from_pretrained(
            os.path.dirname(os.path.abspath(args.model)),
            gguf_file=os.path.basename(args.model), dtype=torch.float32)
        model.eval()
    except Exception as error:  # any load failure means "unsupported" to the caller
        send({"event": "error", "message": f"{type(error).__name__}: {error}"})
        return
    send({"event": "loaded", "load_seconds": time.perf_counter() - start,
          "torch": torch.__version__, "threads": torch.get_num_threads()})

    generator = torch.Generator().manual_seed(args.seed)
    vocab_size = int(model.config.vocab_size)
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "quit":
            break
        if op != "batch":
            send({"op": op, "error": f"unknown op '{op}'"})
            continue
        try:
            num_prompts, input_len = command["num_prompts"], command["input_len"]
            output_len = command["output_len"]
            input_ids = torch.randint(MIN_PROMPT_TOKEN_ID, vocab_size, (num_prompts, input_len),
                                      generator=generator)
            begin = time.perf_counter()
            with torch.inference_mode():
                output = model.generate(
                    input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                    do_sample=False, max_new_tokens=output_len, min_new_tokens=output_len,
                    pad_token_id=0)
            seconds = time.perf_counter() - begin
            produced = output.shape[1] - input_len
            if produced != output_len:
                raise RuntimeError(f"generated {produced} tokens, expected {output_len}")
            total = num_prompts * (input_len + output_len)
            send({"op": op, "seconds": seconds, "tokens_per_s": total / seconds})
        except Exception as error:  # reported per command so that other rows still run
            send({"op": op, "error": f"{type(error).__name__}: {error}"})
    reply.close()


if __name__ == "__main__":
    main()
