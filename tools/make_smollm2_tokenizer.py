#!/usr/bin/env python3
"""Build SmolLM2's HF tokenizer.json from the tokenizer metadata of a GGUF file.

The GGUF stores the byte-level BPE vocabulary (tokens already in GPT-2's byte-to-unicode
form), the merges and the token types. This script rebuilds the tokenizer with HF
`tokenizers` the way SmolLM2's own tokenizer.json is laid out:

  model          BPE(vocab from tokenizer.ggml.tokens, merges), no unk token, no byte fallback
  pre_tokenizer  Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False)]
  decoder        ByteLevel
  post_processor ByteLevel (adds no BOS, as tokenizer.ggml.add_bos_token is False)
  added tokens   token_type 3 (CONTROL) as special tokens, 4 (USER_DEFINED) as non-special

transformers' own GGUF conversion is not used because it drops the digit split that the
GGUF's `tokenizer.ggml.pre = "smollm"` stands for.

It also writes tokenizer.gguf, a GGUF with only the tokenizer metadata copied from the
input (no tensors), so that tests can load the GGUF tokenizer path without the model, and
bad_pre.gguf, a two-token GGUF whose tokenizer.ggml.pre is unsupported.

Usage (reference venv, offline):
  HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tools/make_smollm2_tokenizer.py \
      /work/cache/SmolLM2-135M-Instruct.Q4_1.gguf tests/data/smollm2
"""

import argparse
import json
import os
import sys

import gguf
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

TOKEN_TYPE_NORMAL = 1
TOKEN_TYPE_CONTROL = 3
TOKEN_TYPE_USER_DEFINED = 4


def read_field(reader, key):
    field = reader.fields.get(key)
    if field is None:
        return None
    return field.contents()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gguf_path")
    parser.add_argument("out_dir")
    args = parser.parse_args()

    reader = gguf.GGUFReader(args.gguf_path)
    model_name = read_field(reader, "tokenizer.ggml.model")
    pre_name = read_field(reader, "tokenizer.ggml.pre")
    if model_name != "gpt2" or pre_name != "smollm":
        sys.exit(f"expected tokenizer.ggml.model 'gpt2' and .pre 'smollm', got "
                 f"{model_name!r} and {pre_name!r}")

    tokens = read_field(reader, "tokenizer.ggml.tokens")
    token_types = read_field(reader, "tokenizer.ggml.token_type")
    merges = read_field(reader, "tokenizer.ggml.merges")
    bos_id = read_field(reader, "tokenizer.ggml.bos_token_id")
    eos_id = read_field(reader, "tokenizer.ggml.eos_token_id")
    unk_id = read_field(reader, "tokenizer.ggml.unknown_token_id")
    pad_id = read_field(reader, "tokenizer.ggml.padding_token_id")
    add_bos = read_field(reader, "tokenizer.ggml.add_bos_token")
    chat_template = read_field(reader, "tokenizer.chat_template")

    known_types = {TOKEN_TYPE_NORMAL, TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED}
    unknown = sorted({t for t in token_types if t not in known_types})
    if unknown:
        sys.exit(f"token types {unknown} are not handled by this script")
    if add_bos:
        sys.exit("tokenizer.ggml.add_bos_token is true; this script builds no BOS processor")

    vocab = {token: i for i, token in enumerate(tokens)}
    if len(vocab) != len(tokens):
        sys.exit("duplicate tokens in tokenizer.ggml.tokens")
    merge_pairs = [tuple(m.split(" ", 1)) for m in merges]

    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merge_pairs, dropout=None,
                                     unk_token=None, fuse_unk=False, byte_fallback=False))
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)

    # Added tokens keep their vocabulary ids because each content is already in the vocab.
    special = [AddedToken(tokens[i], special=True, normalized=False)
               for i, t in enumerate(token_types) if t == TOKEN_TYPE_CONTROL]
    user_defined = [AddedToken(tokens[i], special=False, normalized=True)
                    for i, t in enumerate(token_types) if t == TOKEN_TYPE_USER_DEFINED]
    tokenizer.add_special_tokens(special)
    if user_defined:
        tokenizer.add_tokens(user_defined)
    for i, t in enumerate(token_types):
        if t in (TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED):
            assert tokenizer.token_to_id(tokens[i]) == i, tokens[i]
    print(f"{len(tokens)} tokens, {len(merge_pairs)} merges, {len(special)} special, "
          f"{len(user_defined)} user-defined")

    os.makedirs(args.out_dir, exist_ok=True)
    tokenizer.save(os.path.join(args.out_dir, "tokenizer.json"), pretty=False)

    def content(token_id):
        return tokens[token_id] if token_id is not None else None

    config = {
        "add_bos_token": bool(add_bos),
        "add_prefix_space": False,
        "bos_token": content(bos_id),
        "eos_token": content(eos_id),
        "unk_token": content(unk_id),
        "pad_token": content(pad_id),
        "chat_template": chat_template,
        "clean_up_tokenization_spaces": False,
        "tokenizer_class": "GPT2Tokenizer",
        "model_max_length": 8192,
    }
    with open(os.path.join(args.out_dir, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2, ensure_ascii=False)
        f.write("\n")
    write_tokenizer_gguf(reader, args.out_dir)


def write_tokenizer_gguf(reader, out_dir):
    """Copy every tokenizer.* key of the model GGUF into a tensor-free GGUF."""
    writer = gguf.GGUFWriter(os.path.join(out_dir, "tokenizer.gguf"), arch="llama")
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        value = field.contents()
        value_type = field.types[0]
        if value_type == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(key, value, value_type, sub_type=field.types[-1])
        else:
            writer.add_key_value(key, value, value_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    bad = gguf.GGUFWriter(os.path.join(out_dir, "bad_pre.gguf"), arch="llama")
    bad.add_tokenizer_model("gpt2")
    bad.add_tokenizer_pre("chatglm-bpe")
    bad.add_token_list(["a", "b"])
    bad.add_token_merges([])
    bad.write_header_to_file()
    bad.write_kv_data_to_file()
    bad.write_tensors_to_file()
    bad.close()


if __name__ == "__main__":
    main()
