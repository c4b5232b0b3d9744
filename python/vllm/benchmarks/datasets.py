"""Benchmark datasets made locally: random token ids, and ShareGPT-style conversations.

A ShareGPT file is a JSON list of {"id": str, "conversations": [{"from": "human" | "gpt",
"value": str}, ...]}. As in vLLM, a conversation's first turn is the prompt and the second
turn's length in tokens is the expected output length. `sample_sharegpt_conversations`
writes such conversations from a fixed word list, so benchmarks never download the real
ShareGPT file (any file of that layout can still be passed with --dataset-path).
"""

from __future__ import annotations

import argparse
import json
import math
import random
from dataclasses import dataclass
from typing import Callable, Optional, Union

# Token ids below this bound include the default model's special tokens (SmolLM2 uses
# 0-16), so random prompts stay above it and contain ordinary text tokens only.
MIN_RANDOM_TOKEN_ID = 100

# vLLM's ShareGPT filters: prompts or outputs shorter than this are dropped, and so are
# prompts longer than the first bound or pairs longer than the second (tokens).
SHAREGPT_MIN_LEN = 4
SHAREGPT_MAX_PROMPT_LEN = 1024
SHAREGPT_MAX_TOTAL_LEN = 2048

DATASET_NAMES = ("random", "sharegpt")


@dataclass
class SampleRequest:
    """One benchmark request: a text or token-id prompt and its expected output length."""

    prompt: Union[str, list[int]]
    prompt_len: int
    expected_output_len: int


def add_dataset_args(parser: argparse.ArgumentParser, add_seed: bool = True) -> None:
    """Add vLLM's dataset options (random and ShareGPT) to a bench subcommand.

    Pass add_seed=False where the engine options already define --seed, which then seeds
    the dataset too, as in vLLM.
    """
    group = parser.add_argument_group("dataset options")
    group.add_argument("--dataset-name", choices=DATASET_NAMES, default="random",
                       help="Requests to send: random token ids, or ShareGPT-style "
                            "conversations (default: %(default)s)")
    group.add_argument("--dataset-path", default=None,
                       help="ShareGPT-style JSON file; with --dataset-name sharegpt and no "
                            "path, a sample is generated locally")
    group.add_argument("--save-dataset", default=None, metavar="PATH",
                       help="Write the generated ShareGPT-style sample to PATH as JSON")
    group.add_argument("--num-prompts", type=int, default=1000,
                       help="Number of prompts to process (default: %(default)s)")
    if add_seed:
        group.add_argument("--seed", type=int, default=0,
                           help="Seed of the dataset sampling (default: %(default)s)")
    group.add_argument("--random-input-len", type=int, default=1024,
                       help="Prompt length in tokens of the random dataset "
                            "(default: %(default)s)")
    group.add_argument("--random-output-len", type=int, default=128,
                       help="Output length in tokens of the random dataset "
                            "(default: %(default)s)")
    group.add_argument("--random-range-ratio", type=float, default=0.0,
                       help="Random lengths are drawn uniformly from [len * (1 - r), "
                            "len * (1 + r)]; r in [0, 1) (default: %(default)s)")
    group.add_argument("--random-prefix-len", type=int, default=0,
                       help="Tokens of one random prefix shared by every random prompt, "
                            "before the random part (default: %(default)s)")
    group.add_argument("--sharegpt-output-len", type=int, default=None,
                       help="Output length of every ShareGPT request instead of the "
                            "length of the conversation's reply")


def validate_dataset_args(args: argparse.Namespace) -> None:
    """Raise ValueError naming the first invalid dataset option."""
    if args.num_prompts < 1:
        raise ValueError(f"--num-prompts must be at least 1, got {args.num_prompts}.")
    if not 0.0 <= args.random_range_ratio < 1.0:
        raise ValueError(
            f"--random-range-ratio must be in [0, 1), got {args.random_range_ratio}.")
    if args.random_input_len < 1 or args.random_output_len < 1:
        raise ValueError(
            "--random-input-len and --random-output-len must be at least 1, got "
            f"{args.random_input_len} and {args.random_output_len}.")
    if args.random_prefix_len < 0:
        raise ValueError(f"--random-prefix-len must be >= 0, got {args.random_prefix_len}.")
    if args.sharegpt_output_len is not None and args.sharegpt_output_len < 1:
        raise ValueError(
            f"--sharegpt-output-len must be at least 1, got {args.sharegpt_output_len}.")
    if args.dataset_path is not None and args.dataset_name != "sharegpt":
        raise ValueError("--dataset-path is read only with --dataset-name sharegpt.")


def length_range(length: int, range_ratio: float) -> tuple[int, int]:
    """Return the inclusive [low, high] range of a random length, low at least 1."""
    low = max(1, math.floor(length * (1.0 - range_ratio)))
    high = max(low, math.ceil(length * (1.0 + range_ratio)))
    return low, high


def random_token_ids(rng: random.Random, count: int, vocab_size: int) -> list[int]:
    return [rng.randrange(MIN_RANDOM_TOKEN_ID, vocab_size) for _ in range(count)]


def random_requests(
    num_requests: int,
    input_len: int,
    output_len: int,
    vocab_size: int,
    range_ratio: float = 0.0,
    prefix_len: int = 0,
    seed: int = 0,
) -> list[SampleRequest]:
    """Return requests whose prompts are random token ids.

    Each prompt is `prefix_len` shared tokens followed by a random part whose length, like
    the output length, is drawn uniformly from length_range(len, range_ratio).
    """
    if vocab_size <= MIN_RANDOM_TOKEN_ID:
        raise ValueError(
            f"vocab_size must exceed {MIN_RANDOM_TOKEN_ID} for random prompts, got "
            f"{vocab_size}.")
    rng = random.Random(seed)
    prefix = random_token_ids(rng, prefix_len, vocab_size)
    input_low, input_high = length_range(input_len, range_ratio)
    output_low, output_high = length_range(output_len, range_ratio)
    requests = []
    for _ in range(num_requests):
        prompt = prefix + random_token_ids(rng, rng.randint(input_low, input_high), vocab_size)
        requests.append(SampleRequest(prompt=prompt, prompt_len=len(prompt),
                                      expected_output_len=rng.randint(output_low, output_high)))
    return requests


# Words of the generated ShareGPT sample; any fixed list would do, these read as prose.
_WORDS = (
    "the model reads a prompt and writes an answer one token at a time while the server "
    "keeps many requests in flight so that every step of the engine fills the processor "
    "with useful work memory holds the keys and values of earlier tokens in blocks that "
    "requests share when their prompts begin with the same text a scheduler decides which "
    "requests run in each step and how many prompt tokens it may process before the "
    "decoding requests get their next token latency is the time a user waits throughput "
    "is the work done per second and both depend on the batch size the length of prompts "
    "and the speed of matrix products on this machine"
).split()

_TOPICS = (
    "caching", "scheduling", "tokenizers", "quantization", "attention", "sampling",
    "batching", "memory", "latency", "throughput", "servers", "benchmarks",
)

_QUESTIONS = (
    "Can you explain how {topic} works in an inference engine?",
    "What are the trade-offs of {topic} when many users send requests at once?",
    "Write a short note about {topic} for a new engineer on the team.",
    "Why does {topic} matter for the speed of a language model on a CPU?",
    "Summarize the main ideas behind {topic} in a few paragraphs.",
)


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
    return " ".join(words).capitalize() + "."


def _paragraphs(rng: random.Random, num_words: int) -> str:
    sentences: list[str] = []
    count = 0
    while count < num_words:
        sentence = _sentence(rng)
        sentences.append(sentence)
        count += sentence.count(" ") + 1
    return " ".join(sentences)


def sample_sharegpt_conversations(num_conversations: int, seed: int = 0) -> list[dict]:
    """Return generated ShareGPT-style conversations of two turns each.

    Prompts run from a one-line question to a few hundred words of context before it, and
    replies from a few words to a few hundred, so that lengths vary as in real chats.
    """
    rng = random.Random(seed)
    conversations = []
    for index in range(num_conversations):
        question = rng.choice(_QUESTIONS).format(topic=rng.choice(_TOPICS))
        context_words = int(rng.expovariate(1.0 / 80.0))
        prompt = (_paragraphs(rng, context_words) + "\n\n" + question
                  if context_words else question)
        reply = _paragraphs(rng, max(4, int(rng.expovariate(1.0 / 120.0))))
        conversations.append({
            "id": f"sample-{index}",
            "conversations": [{"from": "human", "value": prompt},
                              {"from": "gpt", "value": reply}],
        })
    return conversations


def write_sharegpt(path: str, conversations: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as file:
        json.dump(conversations, file, indent=1)
        file.write("\n")


def load_sharegpt(path: str) -> list[dict]:
    """Read a ShareGPT-style JSON file; raise ValueError when its layout is not one."""
    with open(path, encoding="utf-8") as file:
        data = json.load(file)
    if not isinstance(data, list):
        raise ValueError(f"{path}: invalid ShareGPT file: expected a JSON list, got "
                         f"{type(data).__name__}.")
    return data


def sharegpt_requests(
    conversations: list[dict],
    num_requests: int,
    count_tokens: Callable[[str], int],
    output_len: Optional[int] = None,
    seed: int = 0,
) -> list[SampleRequest]:
    """Return up to `num_requests` requests from shuffled conversations, filtered as vLLM does.

    `count_tokens` gives a text's length in the model's tokens. Conversations with fewer
    than two turns are skipped; so are pairs outside the SHAREGPT_* bounds, except that a
    fixed `output_len` is never filtered.
    """
    usable = [c for c in conversations
              if isinstance(c, dict) and len(c.get("conversations", [])) >= 2]
    random.Random(seed).shuffle(usable)
    requests = []
    for conversation in usable:
        if len(requests) == num_requests:
            break
        prompt = conversation["conversations"][0]["value"]
        completion = conversation["conversations"][1]["value"]
        prompt_len = count_tokens(prompt)
        expected = output_len if output_len is not None else count_tokens(completion)
        if output_len is None and (prompt_len < SHAREGPT_MIN_LEN or expected < SHAREGPT_MIN_LEN):
            continue
        if output_len is None and (prompt_len > SHAREGPT_MAX_PROMPT_LEN
                                   or prompt_len + expected > SHAREGPT_MAX_TOTAL_LEN):
            continue
        requests.append(SampleRequest(prompt=prompt, prompt_len=prompt_len,
                                      expected_output_len=expected))
    return requests


def sharegpt_conversations_for(args: argparse.Namespace) -> list[dict]:
    """Return the conversations named by --dataset-path, or a generated sample.

    The sample contains twice --num-prompts conversations, so that enough survive the length
    filters; --save-dataset writes it.
    """
    if args.dataset_path is not None:
        conversations = load_sharegpt(args.dataset_path)
    else:
        conversations = sample_sharegpt_conversations(2 * args.num_prompts, args.seed)
    if args.save_dataset:
        write_sharegpt(args.save_dataset, conversations)
        print(f"Wrote {len(conversations)} conversations to {args.save_dataset}")
    return conversations


def check_request_count(requests: list[SampleRequest], num_prompts: int) -> None:
    if len(requests) < num_prompts:
        raise ValueError(
            f"The dataset yields {len(requests)} usable requests, fewer than --num-prompts "
            f"{num_prompts}; lower --num-prompts or give a larger --dataset-path.")
