#!/usr/bin/env python3
"""Write the hand-made seed inputs of every fuzz target into fuzz/corpus/TARGET/.

Seeds are small real inputs cut down from tests/data plus edge cases (truncated files,
oversized counts and lengths, deep nesting). Files are named seed-<what>; inputs found by
the fuzzer are kept beside them under libFuzzer's hash names, and crash regression inputs
as crash-<what>. Rerunning this script rewrites only the seed- files. Python standard
library only.

Usage: python3 fuzz/make_seed_corpora.py
"""

import json
import struct
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
CORPUS = ROOT / "fuzz" / "corpus"


def write_seed(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    (folder / f"seed-{name}").write_bytes(data)


# ---- GGUF -----------------------------------------------------------------------------

GGUF_UINT32, GGUF_INT32, GGUF_FLOAT32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY, GGUF_UINT64 = (
    4, 5, 6, 7, 8, 9, 10)
GGML_F32, GGML_Q4_1, GGML_Q8_0 = 0, 3, 8


def gguf_string(text):
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def gguf_value(value_type, value):
    if value_type == GGUF_UINT32:
        return struct.pack("<I", value)
    if value_type == GGUF_INT32:
        return struct.pack("<i", value)
    if value_type == GGUF_UINT64:
        return struct.pack("<Q", value)
    if value_type == GGUF_FLOAT32:
        return struct.pack("<f", value)
    if value_type == GGUF_BOOL:
        return struct.pack("<B", 1 if value else 0)
    if value_type == GGUF_STRING:
        return gguf_string(value)
    element_type, elements = value
    out = struct.pack("<IQ", element_type, len(elements))
    for element in elements:
        out += gguf_value(element_type, element)
    return out


def gguf_file(metadata, tensors=(), alignment=32, version=3):
    """metadata: [(key, type, value)]; tensors: [(name, dims, ggml_type, data_bytes)]."""
    out = struct.pack("<IIQQ", 0x46554747, version, len(tensors), len(metadata))
    for key, value_type, value in metadata:
        out += gguf_string(key) + struct.pack("<I", value_type) + gguf_value(value_type, value)
    offset = 0
    placed = []
    for name, dims, ggml_type, data in tensors:
        offset = (offset + alignment - 1) // alignment * alignment
        out += gguf_string(name) + struct.pack("<I", len(dims))
        out += b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", ggml_type, offset)
        placed.append((offset, data))
        offset += len(data)
    out += b"\0" * ((-len(out)) % alignment)
    data_start = len(out)
    for offset, data in placed:
        out += b"\0" * (data_start + offset - len(out)) + data
    return out


def small_vocab(limit):
    """The first `limit` SmolLM2 tokens and the merges that stay inside them."""
    tokenizer = json.loads((DATA / "smollm2" / "tokenizer.json").read_text())
    vocab = {token: i for token, i in tokenizer["model"]["vocab"].items() if i < limit}
    merges = []
    for left, right in tokenizer["model"]["merges"]:
        if left in vocab and right in vocab and left + right in vocab:
            merges.append(f"{left} {right}")
    tokens = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    return tokenizer, tokens, merges


def gguf_seeds():
    _, tokens, merges = small_vocab(400)
    token_types = [3 if t.startswith("<") and t.endswith(">") else 1 for t in tokens]
    tokenizer_metadata = [
        ("general.architecture", GGUF_STRING, "llama"),
        ("tokenizer.ggml.model", GGUF_STRING, "gpt2"),
        ("tokenizer.ggml.pre", GGUF_STRING, "smollm"),
        ("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, tokens)),
        ("tokenizer.ggml.token_type", GGUF_ARRAY, (GGUF_INT32, token_types)),
        ("tokenizer.ggml.merges", GGUF_ARRAY, (GGUF_STRING, merges)),
        ("tokenizer.ggml.bos_token_id", GGUF_UINT32, 1),
        ("tokenizer.ggml.eos_token_id", GGUF_UINT32, 2),
        ("tokenizer.ggml.add_bos_token", GGUF_BOOL, False),
    ]
    write_seed("gguf", "tokenizer-smollm2-400", gguf_file(tokenizer_metadata))

    hidden, layers, vocab = 8, 1, 16
    llama_metadata = [
        ("general.architecture", GGUF_STRING, "llama"),
        ("general.alignment", GGUF_UINT32, 32),
        ("llama.context_length", GGUF_UINT32, 64),
        ("llama.embedding_length", GGUF_UINT32, hidden),
        ("llama.feed_forward_length", GGUF_UINT32, 16),
        ("llama.block_count", GGUF_UINT32, layers),
        ("llama.attention.head_count", GGUF_UINT32, 2),
        ("llama.attention.head_count_kv", GGUF_UINT32, 1),
        ("llama.attention.layer_norm_rms_epsilon", GGUF_FLOAT32, 1e-5),
        ("llama.rope.freq_base", GGUF_FLOAT32, 10000.0),
        ("llama.rope.dimension_count", GGUF_UINT32, 4),
        ("llama.vocab_size", GGUF_UINT32, vocab),
        ("tokenizer.ggml.tokens", GGUF_ARRAY, (GGUF_STRING, tokens[:vocab])),
    ]
    q8_block = struct.pack("<e", 0.5) + bytes(range(32))        # 32 weights
    q4_1_block = struct.pack("<ee", 0.25, -1.0) + bytes(range(16))  # 32 weights
    tensors = [
        ("token_embd.weight", [hidden, vocab], GGML_F32, struct.pack("<f", 0.5) * hidden * vocab),
        ("output_norm.weight", [hidden], GGML_F32, struct.pack("<f", 1.0) * hidden),
        ("blk.0.attn_q.weight", [32, 1], GGML_Q8_0, q8_block),
        ("blk.0.attn_k.weight", [32, 1], GGML_Q4_1, q4_1_block),
    ]
    llama = gguf_file(llama_metadata, tensors)
    write_seed("gguf", "llama-tiny", llama)
    write_seed("gguf", "llama-tiny-v2", gguf_file(llama_metadata, tensors, version=2))
    write_seed("gguf", "llama-tiny-truncated", llama[: len(llama) - 40])
    write_seed("gguf", "llama-tiny-align64", gguf_file(
        [("general.alignment", GGUF_UINT32, 64)] + llama_metadata[:1] + llama_metadata[2:],
        tensors, alignment=64))
    write_seed("gguf", "bad-pre", (DATA / "smollm2" / "bad_pre.gguf").read_bytes())
    write_seed("gguf", "empty", b"")
    write_seed("gguf", "magic-only", b"GGUF")
    write_seed("gguf", "version-99", struct.pack("<IIQQ", 0x46554747, 99, 0, 0))
    write_seed("gguf", "huge-tensor-count", struct.pack("<IIQQ", 0x46554747, 3, 1 << 62, 0))
    write_seed("gguf", "huge-kv-count", struct.pack("<IIQQ", 0x46554747, 3, 0, 1 << 62))
    write_seed("gguf", "huge-string-length",
               struct.pack("<IIQQ", 0x46554747, 3, 0, 1) + struct.pack("<Q", 1 << 40) + b"k")
    nested = (GGUF_ARRAY, [(GGUF_ARRAY, [(GGUF_UINT32, [1, 2])])])
    write_seed("gguf", "nested-arrays", gguf_file([("x.nested", GGUF_ARRAY, nested)]))
    write_seed("gguf", "all-scalar-types", gguf_file([
        ("a.u32", GGUF_UINT32, 7), ("a.i32", GGUF_INT32, -7), ("a.u64", GGUF_UINT64, 1 << 40),
        ("a.f32", GGUF_FLOAT32, 1.5), ("a.bool", GGUF_BOOL, True), ("a.str", GGUF_STRING, "é"),
        ("general.alignment", GGUF_UINT32, 3)]))


# ---- tokenizer.json ---------------------------------------------------------------------

def tokenizer_json_seeds():
    full, tokens, merges = small_vocab(300)
    small = dict(full)
    small["model"] = dict(full["model"])
    small["model"]["vocab"] = {token: i for i, token in enumerate(tokens)}
    small["model"]["merges"] = [m.split(" ") for m in merges]
    small["added_tokens"] = [t for t in full["added_tokens"] if t["id"] < 300]
    write_seed("tokenizer_json", "smollm2-300", json.dumps(small))

    legacy = dict(small)
    legacy["model"] = dict(small["model"], merges=merges)  # "a b" strings, the old form
    write_seed("tokenizer_json", "merges-as-strings", json.dumps(legacy))

    variants = {
        "no-pre-tokenizer": {"pre_tokenizer": None},
        "split-regex": {"pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re)|\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"},
             "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": False}]}},
        "split-string": {"pre_tokenizer": {"type": "Split", "pattern": {"String": " "},
                                           "behavior": "Isolated", "invert": False}},
        "template-processing": {"post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "<|im_end|>", "type_id": 0}}],
            "pair": [],
            "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]},
                               "<|im_end|>": {"id": "<|im_end|>", "ids": [2], "tokens": ["<|im_end|>"]}}}},
        "roberta-processing": {"post_processor": {"type": "RobertaProcessing",
                                                  "sep": ["<|im_end|>", 2], "cls": ["<|im_start|>", 1]}},
        "unsupported-model": {"model": {"type": "Unigram", "vocab": [["a", 0.0]]}},
        "added-token-out-of-range": {"added_tokens": [{"id": 100000, "content": "<x>", "special": True}]},
    }
    for name, change in variants.items():
        variant = dict(small)
        variant.update(change)
        write_seed("tokenizer_json", name, json.dumps(variant))
    write_seed("tokenizer_json", "not-json", "{\"model\": ")
    write_seed("tokenizer_json", "empty-object", "{}")
    write_seed("tokenizer_json", "deep-nesting", "[" * 3000 + "]" * 3000)
    pipeline_tokenizer_seeds()


def pipeline_tokenizer_seeds():
    """Small tokenizers for the component pipeline: WordPiece, Unigram, SentencePiece BPE."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    words = ["hello", "world", "it", "s", "caf", "##e", "##s", "##lo", "he", "##l", ",", "!",
             "'", ":", "2", "0", "##2", "##4", "日", "本", "語"]
    wordpiece_vocab = {token: i for i, token in enumerate(specials + words)}
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(specials)]
    bert = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True,
                       "handle_chinese_chars": True, "strip_accents": None,
                       "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": wordpiece_vocab},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
    }
    write_seed("tokenizer_json", "wordpiece-bert", json.dumps(bert))

    mixed = dict(bert)
    mixed["normalizer"] = {"type": "Sequence", "normalizers": [
        {"type": "NFD"}, {"type": "Lowercase"}, {"type": "StripAccents"},
        {"type": "Strip", "strip_left": True, "strip_right": True}]}
    mixed["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Digits", "individual_digits": True},
        {"type": "Punctuation", "behavior": "Isolated"}]}
    mixed["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                   {"Sequence": {"id": "A", "type_id": 0}},
                   {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
        "pair": [],
        "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]},
                           "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}}
    write_seed("tokenizer_json", "wordpiece-sequences", json.dumps(mixed))

    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    pieces = ["\u2581", "\u2581h", "ello", "\u2581w", "orld", "\u2581caf", "\u00e9", "s", ","]
    unigram = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": 0, "content": "<unk>", "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": {"type": "NFKC"},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581",
                          "prepend_scheme": "always", "split": True},
        "model": {"type": "Unigram", "unk_id": 0, "byte_fallback": True,
                  "vocab": [["<unk>", 0.0]] + [[t, -10.0] for t in byte_tokens]
                           + [[p, -1.0 - i * 0.5] for i, p in enumerate(pieces)]},
        "post_processor": None,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "ByteFallback"},
            {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
             "split": True}]},
    }
    write_seed("tokenizer_json", "unigram-metaspace", json.dumps(unigram))

    bpe_tokens = (["<unk>", "<s>", "</s>"] + byte_tokens + pieces + list("helowrdcaf")
                  + ["\u2581h", "el", "ll"])
    spm_bpe = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}
                         for i, t in enumerate(["<unk>", "<s>", "</s>"])],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "\u2581"},
            {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
        "pre_tokenizer": None,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": {t: i for i, t in enumerate(dict.fromkeys(bpe_tokens))},
                  "merges": [["\u2581", "h"], ["e", "l"], ["l", "l"]]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    }
    write_seed("tokenizer_json", "spm-bpe-byte-fallback", json.dumps(spm_bpe))


# ---- tokenizer round trip ------------------------------------------------------------

def tokenizer_roundtrip_seeds():
    cases = json.loads((DATA / "smollm2" / "tokenizer_cases.json").read_text())["encode"]
    texts = [case["text"] for case in cases if len(case["text"].encode("utf-8")) <= 400]
    chosen = texts[:: max(1, len(texts) // 40)][:40]
    for i, text in enumerate(chosen):
        write_seed("tokenizer_roundtrip", f"case-{i:02d}", bytes([i % 4]) + text.encode("utf-8"))
    write_seed("tokenizer_roundtrip", "invalid-utf8", b"\x00abc\xff\xfe\xc3")
    write_seed("tokenizer_roundtrip", "specials", b"\x00<|im_start|>user\nhi<|im_end|><|endoftext|>")
    write_seed("tokenizer_roundtrip", "emoji-zwj", "\x00👩‍👩‍👧 🇫🇷 e\u0301".encode("utf-8"))


# ---- chat templates ---------------------------------------------------------------------

REAL_TEMPLATES = [  # the order of kTemplateFiles in chat_template_fuzzer.cpp
    "smollm2-instruct.jinja", "llama-3.2-instruct.jinja", "qwen3.jinja",
    "hermes-3-llama-3.1-tool-use.jinja", "mistral-7b-instruct-v0.3.jinja", "gemma-3-it.jinja",
]


def chat_template_seeds():
    folder = DATA / "chat_templates"
    for path in sorted(folder.glob("*.jinja")):
        write_seed("chat_template", f"template-{path.stem}", b"\x00" + path.read_bytes())
    cases = json.loads((folder / "cases.json").read_text())
    for i, case in enumerate(cases["language"][::4]):
        write_seed("chat_template", f"language-{i:02d}", b"\x00" + case["template"].encode("utf-8"))
    write_seed("chat_template", "macro-recursion",
               b"\x00{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}")
    write_seed("chat_template", "loop-output",
               b"\x00{% for i in range(100000) %}{{ 'xxxxxxxxxx' * 100 }}{% endfor %}")
    write_seed("chat_template", "unclosed-block", b"\x00{% if messages %}{{ messages[0].content }}")

    written = 0
    for case in cases["cases"]:
        if case["template"] not in REAL_TEMPLATES or written >= 40:
            continue
        choice = REAL_TEMPLATES.index(case["template"])
        if case.get("add_generation_prompt"):
            choice |= 0x80
        request = {"messages": case["messages"]}
        request.update(case.get("context", {}))
        text = json.dumps(request, ensure_ascii=False).encode("utf-8")
        if len(text) > 4000:
            continue
        write_seed("chat_template", f"messages-{written:02d}", b"\x01" + bytes([choice]) + text)
        written += 1
    write_seed("chat_template", "messages-deep-json", b"\x01\x00" + b"[" * 5000 + b"]" * 5000)
    write_seed("chat_template", "messages-not-array", b"\x01\x02{\"messages\": 5}")


# ---- HTTP requests ----------------------------------------------------------------------

def http_request(path, body, extra_headers=""):
    body = body.encode("utf-8") if isinstance(body, str) else body
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n"
            f"Content-Type: application/json\r\n{extra_headers}Content-Length: {len(body)}\r\n\r\n")
    return head.encode("ascii") + body


def http_request_seeds():
    completions = [
        {"prompt": "hi"},
        {"model": "m", "prompt": ["a", "b"], "max_tokens": 5, "temperature": 0.7, "top_p": 0.9,
         "top_k": 40, "min_p": 0.05, "seed": 1, "stop": ["\n", "END"], "n": 2, "echo": True},
        {"prompt": [[1, 2, 3], [4]], "logprobs": 2, "stream": True,
         "stream_options": {"include_usage": True}, "presence_penalty": 0.5,
         "frequency_penalty": -0.5, "repetition_penalty": 1.1, "logit_bias": {"5": -100}},
        {"prompt": "x", "max_tokens": 0},
        {"prompt": "x", "temperature": "warm"},
        {"prompt": "x", "truncate_prompt_tokens": 3, "ignore_eos": True, "min_tokens": 2,
         "skip_special_tokens": False, "stop_token_ids": [2], "cache_salt": "s"},
    ]
    for i, body in enumerate(completions):
        write_seed("http_request", f"completions-{i}", http_request("/v1/completions", json.dumps(body)))
    chats = [
        {"messages": [{"role": "user", "content": "Hello!"}]},
        {"model": "m", "messages": [{"role": "system", "content": "Be brief."},
                                     {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
         "max_completion_tokens": 8, "logprobs": True, "top_logprobs": 3, "stream": True},
        {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {
            "name": "f", "parameters": {"type": "object"}}}], "tool_choice": "auto",
         "chat_template_kwargs": {"enable_thinking": False}, "add_generation_prompt": False,
         "continue_final_message": True},
        {"messages": [{"role": "assistant", "content": "partial"}], "echo": True,
         "chat_template": "{{ messages[0].content }}"},
        {"messages": "not a list"},
    ]
    for i, body in enumerate(chats):
        write_seed("http_request", f"chat-{i}", http_request("/v1/chat/completions", json.dumps(body)))
    write_seed("http_request", "query-string",
               http_request("/v1/completions?x=1", json.dumps({"prompt": "q"})))
    write_seed("http_request", "keep-alive-header",
               http_request("/v1/completions", "{\"prompt\": \"k\"}", "Connection: keep-alive\r\n"))
    chunked_body = b"7\r\n{\"promp\r\n9\r\nt\": \"hi\"}\r\n0\r\n\r\n"
    write_seed("http_request", "chunked",
               b"POST /v1/completions HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunked_body)
    write_seed("http_request", "get-models", b"GET /v1/models HTTP/1.1\r\nHost: h\r\n\r\n")
    write_seed("http_request", "content-length-1gb",
               b"POST /v1/completions HTTP/1.1\r\nHost: h\r\nContent-Length: 1073741824\r\n\r\n{}")
    write_seed("http_request", "header-too-large",
               b"POST /v1/completions HTTP/1.1\r\nHost: h\r\nX-Big: " + b"a" * 17000 + b"\r\n\r\n")
    write_seed("http_request", "body-deep-json",
               http_request("/v1/chat/completions", "[" * 2000 + "]" * 2000))
    write_seed("http_request", "body-not-json", http_request("/v1/completions", "{\"prompt\": "))
    write_seed("http_request", "http10", b"POST /v1/completions HTTP/1.0\r\nContent-Length: 2\r\n\r\n{}")
    write_seed("http_request", "garbage", b"\x00\x01 / HTTP/9.9\r\n\r\n")


# ---- safetensors ------------------------------------------------------------------------

def safetensors_file(header, data, pad_to=8):
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((-len(text)) % pad_to)
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds():
    header = {
        "__metadata__": {"format": "pt"},
        "model.embed_tokens.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
        "model.norm.weight": {"dtype": "BF16", "shape": [2], "data_offsets": [16, 20]},
        "lm_head.weight": {"dtype": "F16", "shape": [2, 1], "data_offsets": [20, 24]},
    }
    write_seed("safetensors_header", "three-tensors", safetensors_file(header, bytes(24)))
    write_seed("safetensors_header", "all-dtypes", safetensors_file({
        name: {"dtype": name, "shape": [1], "data_offsets": [i * 8, i * 8 + size]}
        for i, (name, size) in enumerate([("F64", 8), ("F32", 4), ("F16", 2), ("BF16", 2), ("I64", 8),
                                          ("I32", 4), ("I16", 2), ("I8", 1), ("U8", 1), ("BOOL", 1),
                                          ("F8_E4M3", 1), ("U64", 8)])}, bytes(96)))
    write_seed("safetensors_header", "empty-header", safetensors_file({}, b""))
    write_seed("safetensors_header", "scalar-and-zero-size", safetensors_file({
        "s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]},
        "z": {"dtype": "F32", "shape": [0, 5], "data_offsets": [4, 4]}}, bytes(4)))
    write_seed("safetensors_header", "overlapping", safetensors_file({
        "a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
        "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)))
    write_seed("safetensors_header", "out-of-range", safetensors_file({
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, bytes(8)))
    write_seed("safetensors_header", "size-mismatch", safetensors_file({
        "a": {"dtype": "F16", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)))
    write_seed("safetensors_header", "huge-shape", safetensors_file({
        "a": {"dtype": "F32", "shape": [1 << 62, 1 << 62], "data_offsets": [0, 0]}}, b""))
    write_seed("safetensors_header", "header-length-too-large", struct.pack("<Q", 1 << 60) + b"{}")
    write_seed("safetensors_header", "short", b"\x02\x00\x00")
    write_seed("safetensors_header", "deep-json", struct.pack("<Q", 6000) + b"[" * 3000 + b"]" * 3000)


# ---- config.json ------------------------------------------------------------------------

def hf_config_seeds():
    smollm2 = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152,
        "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "max_position_embeddings": 8192,
        "rms_norm_eps": 1e-5, "rope_theta": 100000, "tie_word_embeddings": True,
        "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
        "torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2, "rope_scaling": None,
    }
    write_seed("hf_config", "smollm2", json.dumps(smollm2, indent=2))
    llama3 = dict(smollm2, head_dim=64, rope_scaling={
        "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
        "original_max_position_embeddings": 8192})
    write_seed("hf_config", "llama3-rope-scaling", json.dumps(llama3))
    write_seed("hf_config", "rope-parameters", json.dumps(dict(
        smollm2, rope_parameters={"rope_type": "default", "rope_theta": 500000.0})))
    write_seed("hf_config", "unknown-architecture", json.dumps(dict(smollm2, architectures=["Foo"])))
    write_seed("hf_config", "bad-kv-heads", json.dumps(dict(smollm2, num_key_value_heads=4)))
    write_seed("hf_config", "generation-config", json.dumps(
        {"temperature": 0.6, "top_p": 0.9, "top_k": 50, "min_p": 0.0, "repetition_penalty": 1.1,
         "max_new_tokens": 256, "do_sample": True, "bos_token_id": 1}))
    write_seed("hf_config", "not-object", "[1, 2]")
    write_seed("hf_config", "truncated", json.dumps(smollm2)[:120])
    write_seed("hf_config", "deep-nesting", "{\"a\": " + "[" * 5000 + "]" * 5000 + "}")


def main():
    gguf_seeds()
    tokenizer_json_seeds()
    tokenizer_roundtrip_seeds()
    chat_template_seeds()
    http_request_seeds()
    safetensors_seeds()
    hf_config_seeds()
    for folder in sorted(CORPUS.iterdir()):
        files = list(folder.iterdir())
        size = sum(f.stat().st_size for f in files)
        print(f"{folder.name}: {len(files)} files, {size} bytes")


if __name__ == "__main__":
    main()
