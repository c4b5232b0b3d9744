"""Time this project's engine (the installed `vllm` package) for the comparison script.

Runs in the engine's Python environment as a long-lived child of compare_llama_cpp.py, so
that the model is loaded once while repetitions alternate with llama.cpp. It loads the
model, writes one JSON line, then replies to each JSON command line with one JSON line:

  {"op": "pp", "tokens": 512}        prompt processing: a request of `tokens` random prompt
                                     tokens and max_tokens=1; tokens / time
  {"op": "tg", "tokens": 128}        generation after a 1-token prompt: `tokens` / (time of
                                     max_tokens=tokens+1 minus time of max_tokens=1)
  {"op": "batch", "num_prompts": 64, "input_len": 128, "output_len": 128}
                                     one generate() call; (prompt + output tokens) / time
  {"op": "quit"}

Sampling is greedy with ignore_eos, so every request produces exactly the requested
tokens. Prompts are fresh random token ids each time, so the prefix cache never hits.
Engine logs go to stderr; only the JSON lines go to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time

# Token ids below this bound are special tokens in the models compared; prompts stay above.
MIN_PROMPT_TOKEN_ID = 100


def read_status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not found in /proc/self/status")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="path of the .gguf file")
    parser.add_argument("--kv-cache-memory-bytes", type=int, required=True)
    parser.add_argument("--max-num-seqs", type=int, required=True)
    parser.add_argument("--max-model-len", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    # Keep stdout for the JSON lines: anything the engine prints goes to stderr.
    reply = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())

    def send(obj: dict) -> None:
        reply.write(json.dumps(obj) + "\n")

    try:
        from vllm import LLM, SamplingParams
    except ImportError as error:
        send({"event": "error", "message": f"ImportError: {error}"})
        return
    # Measured after the import: the baseline includes the library, not the model.
    rss_before_kib = read_status_kib("VmRSS")
    start = time.perf_counter()
    try:
        llm = LLM(model=args.model, kv_cache_memory_bytes=args.kv_cache_memory_bytes,
                  max_num_seqs=args.max_num_seqs, max_model_len=args.max_model_len,
                  seed=args.seed)
    except Exception as error:  # any load failure means "unsupported" to the caller
        send({"event": "error", "message": f"{type(error).__name__}: {error}"})
        return
    send({"event": "loaded", "load_seconds": time.perf_counter() - start,
          "rss_before_kib": rss_before_kib, "rss_after_load_kib": read_status_kib("VmRSS"),
          "threads": os.cpu_count()})

    vocab_size = int(llm.model_config.vocab_size)
    rng = random.Random(args.seed)

    def random_prompt(length: int) -> dict:
        ids = [rng.randrange(MIN_PROMPT_TOKEN_ID, vocab_size) for _ in range(length)]
        return {"prompt_token_ids": ids}

    def timed_generate(prompts: list, max_tokens: int) -> tuple[float, list]:
        params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
        begin = time.perf_counter()
        outputs = llm.generate(prompts, params, use_tqdm=False)
        seconds = time.perf_counter() - begin
        for output in outputs:
            produced = len(output.outputs[0].token_ids)
            if produced != max_tokens:
                raise RuntimeError(f"a request produced {produced} tokens, expected {max_tokens}")
        return seconds, outputs

    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        try:
            if op == "quit":
                break
            if op == "pp":
                seconds, _ = timed_generate([random_prompt(command["tokens"])], 1)
                send({"op": op, "seconds": seconds, "tokens_per_s": command["tokens"] / seconds})
            elif op == "tg":
                first, _ = timed_generate([random_prompt(1)], 1)
                full, _ = timed_generate([random_prompt(1)], command["tokens"] + 1)
                send({"op": op, "seconds": full - first,
                      "tokens_per_s": command["tokens"] / (full - first)})
            elif op == "batch":
                prompts = [random_prompt(command["input_len"])
                           for _ in range(command["num_prompts"])]
                seconds, _ = timed_generate(prompts, command["output_len"])
                total = command["num_prompts"] * (command["input_len"] + command["output_len"])
                send({"op": op, "seconds": seconds, "tokens_per_s": total / seconds,
                      "rss_kib": read_status_kib("VmRSS"),
                      "rss_peak_kib": read_status_kib("VmHWM")})
            else:
                send({"op": op, "error": f"unknown op '{op}'"})
        except Exception as error:  # reported per command so that other rows still run
            send({"op": op, "error": f"{type(error).__name__}: {error}"})
    reply.close()


if __name__ == "__main__":
    main()
