#!/usr/bin/env python3
"""Write tokenizer goldens for SmolLM2 from HF `tokenizers`.

Outputs (in the tokenizer directory, next to tokenizer.json):
  tokenizer_cases.json  encode cases (text, ids with and without special tokens, decode of
                        those ids with and without skipping special tokens) and decode-only
                        cases (random id sequences, including ids that form partial UTF-8)
  added_tokens/tokenizer.json  a small byte-level BPE (SmolLM2's first 3000 tokens and the
                        merges among them) with added tokens that use lstrip, rstrip,
                        single_word, normalized matching and ids past the model vocabulary;
                        its encode cases go into tokenizer_cases.json as "added_tokens"
  hf_char_classes.json  for every Unicode code point, the classes HF's pre-tokenizers see:
                        numeric (Digits, Rust char::is_numeric), letter / number / space
                        (ByteLevel regex \\p{L}, \\p{N}, \\s under Oniguruma), as code point
                        ranges. The C++ regex tables are checked against these.

Usage (reference venv, offline):
  HF_HUB_OFFLINE=1 /tmp/refvenv/bin/python tools/make_tokenizer_goldens.py tests/data/smollm2
"""

import argparse
import json
import os
import random
import unicodedata

import tokenizers
from tokenizers import AddedToken, Tokenizer, models
from tokenizers import pre_tokenizers

SEED = 20240601


def hand_written_cases():
    return [
        "", " ", "  ", "\n", "\t", "\r\n", "Hello", "Hello world", " Hello world",
        "Hello world ", "Hello  world", "Hello\tworld", "Hello\nworld", "Hello\r\nworld\r\n",
        "line1\n\nline2\n\n\nline3", "   leading spaces", "trailing spaces   ",
        "\n\n\n", " \n \n ", "a \t b", "tabs\t\t\tand spaces   \t",
        # contractions, in several cases
        "I'm", "you're", "we've", "they'll", "she'd", "it's", "don't", "I'M", "YOU'RE",
        "WE'VE", "They'Ll", "SHE'D", "IT'S", "DON'T", "'s'", "''s", "'re're", "rock'n'roll",
        "y'all'd've", "O'Neil's", "’s curly apostrophe", "l'homme", "  's", "'ll'll'll",
        # digits and numbers
        "0", "1234567890", "3.14159", "1,000,000", "12:30pm", "+1 (555) 123-4567",
        "2024-06-01T12:34:56Z", "v1.2.3", "0x1F600", "1e-10", "-42", "99.9%", "$1,234.56",
        "1st 2nd 3rd 4th", "ten 10 twenty 20", "123456789012345678901234567890",
        "3 000 000", "٣٤٥ arabic-indic", "१२३ devanagari", "½ ¾ ² ³ Ⅻ", "① ② ③",
        "𝟘𝟙𝟚 math digits", "4\u20e3 keycap",
        # scripts
        "你好，世界！", "日本語のテキストです。", "한국어 텍스트", "中文 English 混合",
        "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "Привет, мир!",
        "Γειά σου Κόσμε", "Ελληνικά: αβγδε ΑΒΓΔΕ", "Ünïcödé tëxt", "ß ẞ ǅ ﬁ ﬀ",
        "ภาษาไทยไม่มีช่องว่าง", "العربية 123 عربي", "עברית עם ניקוד: שָׁלוֹם",
        "Tiếng Việt có dấu", "ქართული", "Հայերեն", "አማርኛ", "ᏣᎳᎩ", "ꦗꦮ",
        # emoji
        "😀", "😀😃😄", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸🇫🇷🇯🇵", "❤️", "👩🏿‍💻",
        "🧑‍🤝‍🧑", "I ❤️ NY 🗽", "emoji😀inside", "🤖 robot 🤖robot", "#️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
        # combining marks, normalization forms
        "e\u0301", "\u00e9", "cafe\u0301", "caf\u00e9", "n\u0303", "a\u0308o\u0308u\u0308",
        "\u1100\u1161\u11a8", "\uac01", "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d",
        "\u0301 leading combining", "x\u200dy", "x\u200cy", "zero\u200bwidth",
        # special and odd characters
        "\ufffd", "a\ufffdb", "\ufeffBOM", "\u00a0nbsp\u00a0", "\u3000ideographic space",
        "\u2028line sep\u2029para sep", "x\u0085y next line", "\u000b\u000c", "\x00null\x00",
        "\x01\x02\x03\x1f", "\x7f", "\u180e mongolian", "\u200b", "\u2060word joiner",
        "\U0010ffff", "\U000e0001", "\U0001f9d1", "\ue000 private use",
        # special tokens in text
        "<|im_start|>user\nhi<|im_end|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
        "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n"
        "<|im_start|>assistant\n", "<|im_sta", "<|im_start", "im_start|>", "<|im_start|",
        "<|im_start|><|im_end|>", "<|im_start|><|im_start|>", "x<|endoftext|>y",
        " <|im_end|> ", "<|im_end|>\n\n", "<<|im_start|>>", "<|<|im_end|>|>",
        "<repo_name>foo<file_sep>bar.py<filename>", "<gh_stars>100", "<jupyter_code>print(1)",
        "<empty_output>", "<|IM_START|>", "< |im_start| >", "<|im_start|>" * 5,
        # code
        "def foo(x):\n    return x * 2\n", "int main() {\n\treturn 0;\n}\n",
        "for (int i = 0; i < n; ++i) { sum += a[i]; }", "console.log(`Hello ${name}!`);",
        "SELECT * FROM users WHERE id = 42;", "fn main() { println!(\"hi\"); }",
        "#include <stdio.h>", "if x != y && z >= 10 || !w:", "x = [1, 2, 3]  # list",
        "    indented\n        more\n", "def f(self, *args, **kwargs) -> None: ...",
        "<div class=\"a\">text</div>", "{\"key\": \"value\", \"n\": [1, 2.5, null]}",
        "$ ls -la | grep foo > out.txt 2>&1", "a->b; c::d; e=>f; g<=h", "/* comment */ // line",
        "```python\nprint('x')\n```", "λx. x + 1", "∀x∈ℝ: x² ≥ 0", "\\begin{equation} E=mc^2",
        # punctuation runs and mixed
        "!!!???...", "...", "—–-", "«quoted» „German“ “English”", "hello,world;foo:bar",
        "a.b.c.d", "(((nested)))", "@user #hashtag", "https://example.com/path?q=1&r=2",
        "email@example.com", "C:\\Windows\\System32", "~/.config/file", "____init____",
        "ALLCAPS WORDS HERE", "camelCaseWord", "snake_case_word", "kebab-case-word",
        "MiXeD CaSe 123 aBc", "word" * 50, "x" * 1000, "ab" * 500, "😀" * 40,
        " " * 100, "\n" * 50, "\t" * 30, "!" * 200, "1" * 300, " 1" * 100,
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
        "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!",
        "Supercalifragilisticexpialidocious antidisestablishmentarianism",
        "pneumonoultramicroscopicsilicovolcanoconiosis",
    ]


def generated_cases(rng):
    """Random strings drawn from pools of hard characters and fragments."""
    pools = [
        list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"),
        list("0123456789"), list(" \t\n\r"), list(".,;:!?'\"()[]{}<>-_+=*/\\|@#$%^&~`"),
        list("你好世界日本語한국어"), list("مرحباשלוםनमस्तेสวัสดี"), list("ПриветΓειά"),
        ["😀", "👍🏽", "👨‍👩‍👧", "🇯🇵", "❤️", "\u0301", "\u200d", "\ufffd", "\u00a0", "\u3000"],
        ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL"],
        ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_", "|>", "<file_sep>"],
        ["½", "²", "٣", "१", "Ⅻ", "①", "\U00011f50", "\U0001d2c0", "\U00031350", "\U00010d4a"],
        ["\u0085", "\u180e", "\u2028", "\u200b", "\x0b", "\x1c"],
    ]
    cases = []
    for _ in range(200):
        num_parts = rng.randint(1, 30)
        parts = []
        for _ in range(num_parts):
            pool = rng.choice(pools)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 6))))
        cases.append("".join(parts))
    # Every Unicode class boundary that the pre-tokenizers care about, a few code points
    # at a time, in contexts that show which class each code point fell into.
    probe_points = [0x85, 0xa0, 0x180e, 0x1680, 0x2000, 0x200a, 0x200b, 0x2028, 0x202f,
                    0x205f, 0x3000, 0xfeff, 0x1c89, 0xa7cb, 0x105c0, 0x10d40, 0x116d0,
                    0x11bf0, 0x11de0, 0x11f50, 0x16130, 0x16d70, 0x16ff4, 0x1ccf0, 0x1d2c0,
                    0x1e4f0, 0x1e5f1, 0x2ebf0, 0x31350, 0x13460, 0x1e030]
    for cp in probe_points:
        ch = chr(cp)
        cases.append(f"x{ch}y 5{ch}6 {ch}{ch}! \t{ch}")
    return cases


def decode_only_cases(tokenizer, rng):
    vocab_size = tokenizer.get_vocab_size()
    vocab = tokenizer.get_vocab()
    # Tokens whose bytes are not complete UTF-8: single bytes >= 0x80 and pieces of
    # multi-byte characters, found by decoding each token alone.
    partial = [i for tok, i in vocab.items()
               if "\ufffd" in tokenizer.decode([i], skip_special_tokens=False)]
    partial.sort()
    special = list(range(17))
    cases = []
    for n in range(120):
        length = rng.randint(1, 40)
        ids = []
        for _ in range(length):
            r = rng.random()
            if r < 0.45:
                ids.append(rng.choice(partial))
            elif r < 0.55:
                ids.append(rng.choice(special))
            else:
                ids.append(rng.randrange(vocab_size))
        cases.append(ids)
    # Multi-byte characters split at every byte boundary, in order and out of order.
    for text in ["😀", "你好", "👨‍👩‍👧‍👦", "é", "𝟘", "ภาษา"]:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        cases.append(ids)
        cases.append(list(reversed(ids)))
    return cases


def encode_case(tokenizer, text):
    with_special = tokenizer.encode(text, add_special_tokens=True).ids
    without_special = tokenizer.encode(text, add_special_tokens=False).ids
    return {
        "text": text,
        "ids": with_special,
        "ids_no_special": without_special,
        "decoded": tokenizer.decode(with_special, skip_special_tokens=False),
        "decoded_skip_special": tokenizer.decode(with_special, skip_special_tokens=True),
    }


def make_added_tokens_tokenizer(base, out_dir):
    """Build a small tokenizer with every kind of added token; save it to out_dir."""
    base_json = json.loads(base.to_str())
    num_kept = 3000
    vocab = {tok: i for tok, i in base_json["model"]["vocab"].items() if i < num_kept}
    merges = []
    for merge in base_json["model"]["merges"]:
        left, right = merge if isinstance(merge, list) else merge.split(" ", 1)
        if left in vocab and right in vocab and left + right in vocab:
            merges.append((left, right))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=None,
                                     fuse_unk=False, byte_fallback=False))
    tokenizer.pre_tokenizer = base.pre_tokenizer
    tokenizer.decoder = base.decoder
    tokenizer.post_processor = base.post_processor
    tokenizer.add_special_tokens([
        AddedToken("<|im_start|>", special=True, normalized=False),
        AddedToken("<|im_end|>", special=True, normalized=False),
        AddedToken("<mask>", special=True, normalized=False, lstrip=True),
        AddedToken("[R]", special=True, normalized=False, rstrip=True),
        AddedToken("<both>", special=True, normalized=False, lstrip=True, rstrip=True),
    ])
    tokenizer.add_tokens([
        AddedToken("word", special=False, normalized=True, single_word=True),
        AddedToken("héllo wörld", special=False, normalized=True),
        AddedToken("<|im", special=False, normalized=True),
        AddedToken("end|>", special=False, normalized=False),
        AddedToken("ab", special=False, normalized=True),
        AddedToken("abc", special=False, normalized=True),
    ])
    os.makedirs(out_dir, exist_ok=True)
    tokenizer.save(os.path.join(out_dir, "tokenizer.json"), pretty=False)
    return tokenizer


def added_tokens_cases():
    return [
        "", "a <mask> b", "a   <mask>", "<mask>", "x<mask>y", "\t\n <mask>\n", "[R]  x",
        "a [R]\n\n b", "[R]", "a <both>  b", "  <both>  ", "word", "a word b", "words",
        "sword", "word_", "word9", "(word)", "é word é", "wordword", "word word",
        "héllo wörld", "say héllo wörld!", "héllo wörldwide", "<|im_start|>", "<|im", "<|im_",
        "<|im_end|>", "xend|>", "<|im_end|>end|>", "abc", "ab", "abcd", "aab", "abab",
        "<mask><mask>", " <mask> <mask> ", "[R] [R]", "x <both> <mask> [R] y", "<|im<|im_start|>",
        "wordé", "éword", "word́", "a <mask>", "a　<both>　b",
    ]


def char_class_ranges():
    digits = pre_tokenizers.Digits(individual_digits=True)
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    code_points = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]

    numeric = set()
    chunk = 50000
    for start in range(0, len(code_points), chunk):
        text = "\x01".join(chr(c) for c in code_points[start:start + chunk])
        for piece, _ in digits.pre_tokenize_str(text):
            if len(piece) == 1 and piece != "\x01":
                numeric.add(ord(piece))

    def joined_with(prefix):
        # prefix + c stays one piece exactly when c is in prefix's regex class.
        return {c for c in code_points
                if len(byte_level.pre_tokenize_str(prefix + chr(c))) == 1}

    classes = {"numeric": numeric, "letter": joined_with("x"), "number": joined_with("5"),
               "space": joined_with("\t")}

    def to_ranges(points):
        ranges = []
        for c in sorted(points):
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
        return ranges

    return {name: to_ranges(points) for name, points in classes.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tokenizer_dir")
    args = parser.parse_args()

    tokenizer = Tokenizer.from_file(os.path.join(args.tokenizer_dir, "tokenizer.json"))
    rng = random.Random(SEED)

    texts = hand_written_cases()
    texts += [unicodedata.normalize("NFD", t) for t in texts[60:90]]
    texts += generated_cases(rng)
    seen = set()
    unique_texts = []
    for t in texts:
        if t not in seen:
            seen.add(t)
            unique_texts.append(t)

    encode_cases = [encode_case(tokenizer, t) for t in unique_texts]
    decode_cases = []
    for ids in decode_only_cases(tokenizer, rng):
        decode_cases.append({
            "ids": ids,
            "decoded": tokenizer.decode(ids, skip_special_tokens=False),
            "decoded_skip_special": tokenizer.decode(ids, skip_special_tokens=True),
        })

    variant = make_added_tokens_tokenizer(tokenizer,
                                          os.path.join(args.tokenizer_dir, "added_tokens"))
    variant_cases = [encode_case(variant, t) for t in added_tokens_cases()]

    out = {
        "source": f"HF tokenizers {tokenizers.__version__}, tools/make_tokenizer_goldens.py",
        "encode": encode_cases,
        "decode": decode_cases,
        "added_tokens": variant_cases,
    }
    path = os.path.join(args.tokenizer_dir, "tokenizer_cases.json")
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
    print(f"{path}: {len(encode_cases)} encode cases, {len(decode_cases)} decode cases, "
          f"{os.path.getsize(path)} bytes")

    classes = char_class_ranges()
    classes["source"] = f"HF tokenizers {tokenizers.__version__}"
    path = os.path.join(args.tokenizer_dir, "hf_char_classes.json")
    with open(path, "w") as f:
        json.dump(classes, f, separators=(",", ":"))
    print(f"{path}: {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
