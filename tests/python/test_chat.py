"""LLM.chat and Tokenizer.apply_chat_template against Python jinja2's renderings.

The expected texts come from tests/data/chat_templates/cases.json, which
tools/make_chat_template_goldens.py wrote with jinja2 and HF's template settings.
"""

import json
from pathlib import Path

import pytest

CASES_PATH = Path(__file__).resolve().parents[1] / "data" / "chat_templates" / "cases.json"


def smollm2_cases() -> list[dict]:
    cases = json.loads(CASES_PATH.read_text())["cases"]
    selected = []
    for case in cases:
        if case["template"] != "smollm2-instruct.jinja" or "expected" not in case:
            continue
        context = case["context"]
        # Only the variables apply_chat_template sets itself: bos_token and eos_token.
        if set(context) - {"bos_token", "eos_token"}:
            continue
        selected.append(case)
    return selected


@pytest.mark.parametrize("case", smollm2_cases(), ids=lambda case: case["name"])
def test_apply_chat_template_matches_jinja2(llm, case):
    messages = case["messages"]
    add_generation_prompt = case["add_generation_prompt"]

    text = llm.get_tokenizer().apply_chat_template(
        messages, add_generation_prompt=add_generation_prompt, tokenize=False
    )

    assert text == case["expected"]


def test_chat_equals_generate_on_rendered_prompt(llm):
    from vllm import SamplingParams

    case = next(c for c in smollm2_cases() if c["name"] == "single_user_gen")
    messages = case["messages"]
    params = SamplingParams(temperature=0.0, max_tokens=8)
    tokenizer = llm.get_tokenizer()
    expected_ids = tokenizer.encode(case["expected"], add_special_tokens=False)

    chat_output = llm.chat(messages, params, use_tqdm=False)[0]
    generate_output = llm.generate({"prompt_token_ids": expected_ids}, params, use_tqdm=False)[0]

    assert chat_output.prompt_token_ids == expected_ids
    assert chat_output.outputs[0].token_ids == generate_output.outputs[0].token_ids


def test_chat_template_error_is_value_error(llm):
    with pytest.raises(ValueError):
        llm.get_tokenizer().apply_chat_template(
            [{"role": "user", "content": "hi"}], chat_template="{{ raise_exception('bad') }}"
        )


def test_chat_normalizes_message_content(llm):
    # As vLLM's LLM.chat: a list of text parts renders as its texts joined by newlines, and
    # null or absent content as "". The template concatenates, so a list or None reaching
    # it would raise.
    template = "{% for m in messages %}[{{ m['content'] + '|' }}]{% endfor %}"
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, "there"]},
        {"role": "assistant", "content": None},
        {"role": "assistant"},
    ]
    output = llm.chat(messages, chat_template=template, add_generation_prompt=False,
                      use_tqdm=False)[0]
    expected = llm.get_tokenizer().encode("[Hi\nthere|][|][|]", add_special_tokens=False)
    assert output.prompt_token_ids == expected


@pytest.mark.parametrize("part", [{"type": 5}, {"type": "image_url"}, {"type": "text"}, 7])
def test_chat_rejects_invalid_content_part(llm, part):
    with pytest.raises(ValueError, match=r"messages\[0\]\.content\[0\]"):
        llm.chat([{"role": "user", "content": [part]}], use_tqdm=False)
