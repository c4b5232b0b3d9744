#!/usr/bin/env python3
"""Write the tokenizer conformance data in tests/data/tokenizers from HF tokenizers.

Each tokenizer gets a folder with cases.json.gz. For every string of strings.json.gz (shared
by all tokenizers) it stores the ids with and without special tokens and HF's decode of those
ids with and without skip_special_tokens. It also lists HF's added tokens (id, special) and
the BOS/EOS ids.
Beside it, the files the C++ loaders read: tokenizer.json.gz (HF's own serialization of the
tokenizer) and/or vocab.gguf.gz (a llama.cpp vocabulary-only GGUF). The HF tokenizer of a
GGUF is the one transformers builds from it (AutoTokenizer with gguf_file).

Sources (see tests/data/tokenizers/SOURCES.md):
  --llama-cpp-models  vendor/llama.cpp/models of the llama-cpp-python 0.3.36 sdist
                      (ggml-vocab-gpt-2/llama-bpe/llama-spm/bert-bge.gguf)
  --mistral-wheel     mistral_common 1.13.1 wheel (data/tokenizer.model.v1)
  --gemma-gguf        gemma-3-270m-q4_k_m.gguf (cases only; the file is not copied), and
                      a 40k-token vocabulary cut from it (gemma3_small, committed)

Usage (reference venv, offline):
  HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tools/make_tokenizer_conformance.py \\
      --llama-cpp-models DIR --mistral-wheel WHL --gemma-gguf GGUF tests/data/tokenizers
"""

import argparse
import gzip
import importlib.util
import json
import os
import random
import shutil
import tempfile
import zipfile

from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers
from tokenizers import processors, trainers

SEED = 20241205
HERE = os.path.dirname(os.path.abspath(__file__))


def shared_goldens_module():
    spec = importlib.util.spec_from_file_location(
        "make_tokenizer_goldens", os.path.join(HERE, "make_tokenizer_goldens.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extra_cases():
    """Strings aimed at the SentencePiece, WordPiece and Unigram pipelines."""
    return [
        "<s>", "</s>", "<unk>", "<s>hello</s>", " <s> x", "x<s>y", "<s> <s>", "[CLS] hi [SEP]",
        "[MASK]", "[UNK]", "[PAD] [SEP]", "<bos>", "<eos>", "<pad>", "<mask>", "<bos>text",
        "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n",
        "<start_of_image>", "<|begin_of_text|>Hi<|eot_id|>",
        "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>",
        "<|im_start|>assistant\n", "<|endoftext|><|endoftext|>",
        "\u2581", "\u2581\u2581", " \u2581 ", "\u2581already\u2581has\u2581metaspace",
        "<0x41>", "<0x0A>", "<0xZZ>", "Ünïcödé ÀÉÎÕÜ àéîõü", "Straße İstanbul ǅ ΣΑΣ σς",
        "ﬁ ﬂ ① ㎏ ｶﾀｶﾅ ＡＢＣ", "Café naïve résumé façade", "  leading and trailing  ",
        "don't can't won't I'm you're", "Hello , world ! ? . ;", "a\u0300\u0301\u0302",
        "\u212b \u00c5 A\u030a", "\u1e9b\u0323", "한국어\u1100\u1161", "x\u00ady soft hyphen",
        "tab\tsep\tvalues", "   ", "\n\n", "\r", " a", "  a", "   a", "a ", "a  ", "a  b  c",
        "UPPER lower Title", "e-mail co-operate", "3.14 2,718 1e10 0xFF", "$100 €200 £300 ¥400",
        "北京大学 東京大学", "中文，标点。", "漢字かなカナ", "ภาษาไทย", "ትግርኛ",
        "Ελληνικά και Русский", "עִבְרִית", "ﷺ ﷽", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "🀄🃏", "🫠🫡🫶",
        "a\u00a0b\u2009c\u202fd", "zero\u200b\u200c\u200dwidth", "\u0000", "\u0007bell",
        "word\u0301", "ǆ ǅ Ǆ", "ΐ ΰ", "ﬀﬃ", "İi̇", "K\u212a", "Ω\u2126",
    ]


def all_strings():
    goldens = shared_goldens_module()
    rng = random.Random(SEED)
    strings = goldens.hand_written_cases() + goldens.generated_cases(rng) + extra_cases()
    seen = set()
    unique = []
    for s in strings:
        if s not in seen:
            seen.add(s)
            unique.append(s)
    return unique


def write_gz_json(path, value):
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def copy_gz(src, dst):
    with open(src, "rb") as f_in, gzip.GzipFile(dst, "wb", mtime=0, compresslevel=9) as f_out:
        shutil.copyfileobj(f_in, f_out)


def record(backend, strings, out_dir, bos=None, eos=None):
    """cases.json.gz from a tokenizers.Tokenizer."""
    cases = {"ids": [], "ids_no_special": [], "decoded": [], "decoded_skip_special": [],
             "decoded_no_special": []}
    for text in strings:
        ids = backend.encode(text, add_special_tokens=True).ids
        plain = backend.encode(text, add_special_tokens=False).ids
        cases["ids"].append(ids)
        cases["ids_no_special"].append(plain)
        cases["decoded"].append(backend.decode(ids, skip_special_tokens=False))
        cases["decoded_skip_special"].append(backend.decode(ids, skip_special_tokens=True))
        cases["decoded_no_special"].append(backend.decode(plain, skip_special_tokens=False))
    added = json.loads(backend.to_str())["added_tokens"]
    cases["added_tokens"] = [{"id": t["id"], "special": t["special"]} for t in added]
    cases["bos_token_id"] = bos
    cases["eos_token_id"] = eos
    os.makedirs(out_dir, exist_ok=True)
    write_gz_json(os.path.join(out_dir, "cases.json.gz"), cases)


def save_tokenizer_json(backend, out_dir, tok=None):
    """tokenizer.json.gz, and for a transformers tokenizer a tokenizer_config.json naming its
    BOS and EOS tokens (only those: add_bos_token would make the loader rebuild the
    post-processor, which tokenizer.json already has)."""
    os.makedirs(out_dir, exist_ok=True)
    with gzip.GzipFile(os.path.join(out_dir, "tokenizer.json.gz"), "wb", mtime=0,
                       compresslevel=9) as f:
        f.write(backend.to_str().encode("utf-8"))
    if tok is not None:
        config = {"bos_token": tok.bos_token, "eos_token": tok.eos_token}
        with open(os.path.join(out_dir, "tokenizer_config.json"), "w") as f:
            json.dump(config, f, indent=2, ensure_ascii=False)
            f.write("\n")


def from_gguf(path):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path))
    return tok


def describe(name, backend):
    j = json.loads(backend.to_str())
    model = {k: v for k, v in j["model"].items() if k not in ("vocab", "merges")}
    print(f"{name}: model {model}")
    for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        print(f"  {key}: {json.dumps(j[key])[:300]}")


def gguf_tokenizer(name, gguf_path, strings, out, save_json, save_gguf):
    tok = from_gguf(gguf_path)
    backend = tok.backend_tokenizer
    describe(name, backend)
    out_dir = os.path.join(out, name)
    record(backend, strings, out_dir, tok.bos_token_id, tok.eos_token_id)
    if save_json:
        save_tokenizer_json(backend, out_dir, tok)
    if save_gguf:
        copy_gz(gguf_path, os.path.join(out_dir, "vocab.gguf.gz"))


def mistral_tokenizer(wheel, strings, out):
    """transformers' SentencePiece conversion (SentencePieceExtractor with LlamaTokenizer),
    read through the sentencepiece library because the reference venv has no protobuf:
    merges from generate_merges(vocab), CONTROL pieces as special added tokens, BOS added."""
    import sentencepiece
    from transformers import AddedToken as HfAddedToken
    from transformers import LlamaTokenizer
    from transformers.tokenization_utils_base import generate_merges
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tokenizer.model")
        with zipfile.ZipFile(wheel) as z:
            with z.open("mistral_common/data/tokenizer.model.v1") as f_in:
                with open(path, "wb") as f_out:
                    shutil.copyfileobj(f_in, f_out)
        sp = sentencepiece.SentencePieceProcessor(model_file=path)
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    control = [HfAddedToken(sp.id_to_piece(i), normalized=False, special=True)
               for i in range(sp.get_piece_size()) if sp.is_control(i)]
    tok = LlamaTokenizer(vocab=vocab, merges=generate_merges(vocab), add_bos_token=True,
                         additional_special_tokens=control)
    backend = tok.backend_tokenizer
    describe("mistral", backend)
    out_dir = os.path.join(out, "mistral")
    record(backend, strings, out_dir, tok.bos_token_id, tok.eos_token_id)
    save_tokenizer_json(backend, out_dir, tok)


def bert_tokenizer(gguf_path, strings, out):
    """BERT's tokenizer.json layout (bert-base-uncased) around the bge-small-en vocabulary."""
    from gguf import GGUFReader
    reader = GGUFReader(gguf_path)
    field = reader.fields["tokenizer.ggml.tokens"]
    tokens = [bytes(field.parts[i]).decode("utf-8") for i in field.data]
    # llama.cpp writes "##x" as "x" and word-initial "x" as "\u2581x". "[...]" tokens stay.
    vocab = {}
    for index, token in enumerate(tokens):
        if token.startswith("[") and token.endswith("]"):
            word = token
        elif token.startswith("\u2581"):
            word = token[1:]
        else:
            word = "##" + token
        vocab.setdefault(word, index)
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]", max_input_chars_per_word=100))
    tokenizer.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                      strip_accents=None, lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    tokenizer.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tokenizer.add_special_tokens([AddedToken(t, normalized=False, special=True)
                                  for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")])
    describe("bert", tokenizer)
    out_dir = os.path.join(out, "bert")
    record(tokenizer, strings, out_dir)
    save_tokenizer_json(tokenizer, out_dir)


def unigram_tokenizer(strings, out):
    """Train a small Unigram model (NFKC, Metaspace, byte fallback, Metaspace decoder),
    because no package we can use ships a Unigram tokenizer.json.

    The trainer gives a different model on each run (also with RAYON_NUM_THREADS=1), so a
    rerun rewrites this tokenizer.json and its cases together."""
    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Strip(left=False, right=True)])
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always")
    tokenizer.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="always")
    corpus = strings * 3 + ["The quick brown fox jumps over the lazy dog."] * 50
    trainer = trainers.UnigramTrainer(vocab_size=800, special_tokens=["<unk>", "<s>", "</s>"],
                                      unk_token="<unk>", shrinking_factor=0.75, max_piece_length=8)
    tokenizer.train_from_iterator(corpus, trainer)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 1), ("</s>", 2)])
    # Byte fallback: add the 256 byte tokens to the model vocabulary, as SentencePiece does.
    j = json.loads(tokenizer.to_str())
    have = {piece for piece, _ in j["model"]["vocab"]}
    for byte in range(256):
        name = f"<0x{byte:02X}>"
        if name not in have:
            j["model"]["vocab"].append([name, 0.0])
    j["model"]["byte_fallback"] = True
    tokenizer = Tokenizer.from_str(json.dumps(j))
    describe("unigram", tokenizer)
    out_dir = os.path.join(out, "unigram")
    record(tokenizer, strings, out_dir)
    save_tokenizer_json(tokenizer, out_dir)


def write_small_gemma_gguf(src, dst, num_normal=20000):
    """Write a vocabulary-only GGUF cut from the Gemma 3 one, small enough to commit.

    It keeps every token that is not NORMAL except the <unusedN> placeholders, every
    one-character NORMAL token and the first NORMAL tokens up to num_normal, all in file
    order because Gemma's merges follow file order."""
    import gguf
    reader = gguf.GGUFReader(src)

    def array(name):
        field = reader.fields[name]
        return [field.parts[i] for i in field.data]

    def scalar(name):
        field = reader.fields[name]
        return field.parts[field.data[0]][0]

    tokens = [bytes(p).decode("utf-8") for p in array("tokenizer.ggml.tokens")]
    scores = [float(p[0]) for p in array("tokenizer.ggml.scores")]
    types = [int(p[0]) for p in array("tokenizer.ggml.token_type")]
    keep = []
    normal = 0
    for index, (token, token_type) in enumerate(zip(tokens, types)):
        if token_type == 1:
            if len(token) == 1 or normal < num_normal:
                keep.append(index)
                normal += 1
        elif not token.startswith("<unused"):
            keep.append(index)
    new_id = {old: new for new, old in enumerate(keep)}
    writer = gguf.GGUFWriter(dst, arch="gemma3")
    for key in ("gemma3.context_length", "gemma3.embedding_length", "gemma3.block_count",
                "gemma3.feed_forward_length", "gemma3.attention.head_count",
                "gemma3.attention.head_count_kv", "gemma3.attention.key_length",
                "gemma3.attention.value_length", "gemma3.attention.layer_norm_rms_epsilon",
                "gemma3.rope.freq_base", "gemma3.attention.sliding_window"):
        if key in reader.fields:
            writer.add_key_value(key, scalar(key).item(), reader.fields[key].types[0])
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list([tokens[i] for i in keep])
    writer.add_token_scores([scores[i] for i in keep])
    writer.add_token_types([types[i] for i in keep])
    for key in ("tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id"):
        writer.add_uint32(key, new_id[int(scalar(key))])
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.add_bool("tokenizer.ggml.add_eos_token", False)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def gemma_small_tokenizer(gemma_gguf, strings, out):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "gemma3-small.gguf")
        write_small_gemma_gguf(gemma_gguf, path)
        gguf_tokenizer("gemma3_small", path, strings, out, False, True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--llama-cpp-models", required=True)
    parser.add_argument("--mistral-wheel", required=True)
    parser.add_argument("--gemma-gguf")
    parser.add_argument("--only", help="comma-separated tokenizer names")
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    os.makedirs(args.out_dir, exist_ok=True)
    strings = all_strings()
    write_gz_json(os.path.join(args.out_dir, "strings.json.gz"), strings)
    print(f"{len(strings)} strings")

    vocab = lambda name: os.path.join(args.llama_cpp_models, f"ggml-vocab-{name}.gguf")
    jobs = {
        "gpt2": lambda: gguf_tokenizer("gpt2", vocab("gpt-2"), strings, args.out_dir, True, True),
        "llama3": lambda: gguf_tokenizer("llama3", vocab("llama-bpe"), strings, args.out_dir,
                                         False, True),
        "llama2": lambda: gguf_tokenizer("llama2", vocab("llama-spm"), strings, args.out_dir,
                                         True, True),
        "mistral": lambda: mistral_tokenizer(args.mistral_wheel, strings, args.out_dir),
        "bert": lambda: bert_tokenizer(vocab("bert-bge"), strings, args.out_dir),
        "unigram": lambda: unigram_tokenizer(strings, args.out_dir),
    }
    if args.gemma_gguf:
        jobs["gemma3"] = lambda: gguf_tokenizer("gemma3", args.gemma_gguf, strings, args.out_dir,
                                                False, False)
        jobs["gemma3_small"] = lambda: gemma_small_tokenizer(args.gemma_gguf, strings,
                                                             args.out_dir)
    for name, job in jobs.items():
        if only is None or name in only:
            job()


if __name__ == "__main__":
    main()
