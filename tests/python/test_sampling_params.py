"""SamplingParams: vLLM's defaults, normalisations and validation messages (no model)."""

import pytest

from vllm import SamplingParams


def test_defaults():
    params = SamplingParams()
    assert params.n == 1
    assert params.temperature == 1.0
    assert params.top_p == 1.0
    assert params.top_k == 0
    assert params.min_p == 0.0
    assert params.seed is None
    assert params.max_tokens == 16
    assert params.min_tokens == 0
    assert params.stop_token_ids == []
    assert params.ignore_eos is False
    assert params.logprobs is None
    assert params.skip_special_tokens is True


def test_greedy_resets_filters():
    params = SamplingParams(temperature=0.0, top_p=0.5, top_k=5, min_p=0.2)
    assert params.top_p == 1.0
    assert params.top_k == 0
    assert params.min_p == 0.0


def test_seed_minus_one_is_none():
    assert SamplingParams(seed=-1).seed is None


def test_stop_token_ids_deduplicated():
    assert SamplingParams(stop_token_ids=[5, 3, 5]).stop_token_ids == [5, 3]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -1.0}, "temperature must be non-negative, got -1.0."),
        ({"temperature": 2.5}, "temperature must be in [0, 2], got 2.5."),
        ({"temperature": float("nan")}, "temperature must be a finite number, got nan."),
        ({"top_p": 0.0}, "top_p must be in (0, 1], got 0.0."),
        ({"top_p": 1.5}, "top_p must be in (0, 1], got 1.5."),
        ({"top_k": -2}, "top_k must be 0 (disable), or at least 1, got -2."),
        ({"min_p": 1.5}, "min_p must be in [0, 1], got 1.5."),
        ({"max_tokens": 0}, "max_tokens must be at least 1, got 0."),
        ({"n": 0}, "n must be at least 1, got 0."),
        ({"min_tokens": -1}, "min_tokens must be greater than or equal to 0, got -1."),
        ({"min_tokens": 5, "max_tokens": 4},
         "min_tokens must be less than or equal to max_tokens=4, got 5."),
        ({"logprobs": -2}, "logprobs must be non-negative or -1, got -2."),
        ({"n": 2, "temperature": 0.0}, "n must be 1 when using greedy sampling, got 2."),
        ({"presence_penalty": 2.5}, "presence_penalty must be in [-2, 2], got 2.5."),
        ({"frequency_penalty": -3.0}, "frequency_penalty must be in [-2, 2], got -3.0."),
        ({"repetition_penalty": 0.0},
         "repetition_penalty must be greater than zero, got 0.0."),
        ({"repetition_penalty": float("inf")},
         "repetition_penalty must be a finite number, got inf."),
        ({"stop": ["a", ""]}, "stop cannot contain an empty string."),
        ({"stop": "a", "detokenize": False},
         "stop strings are only supported when detokenize is True. "
         "Set detokenize=True to use stop."),
        ({"bad_words": ["x", ""]},
         "bad_words cannot contain an empty string. Got bad_words=['x', '']"),
        ({"prompt_logprobs": -2}, "prompt_logprobs must be non-negative or -1, got -2."),
        ({"allowed_token_ids": []}, "allowed_token_ids is not None and empty!"),
    ],
)
def test_invalid_value_message(kwargs, message):
    with pytest.raises(ValueError) as error:
        SamplingParams(**kwargs)
    assert str(error.value) == message


def test_unsupported_field_rejected():
    with pytest.raises(ValueError, match="thinking_token_budget=5 is not supported"):
        SamplingParams(thinking_token_budget=5)


def test_stop_string_normalized():
    params = SamplingParams(stop="###")
    assert params.stop == ["###"]
    assert params.output_text_buffer_length == 2
    assert SamplingParams(stop="###", include_stop_str_in_output=True).output_text_buffer_length == 0
    assert SamplingParams().stop == []


def test_bad_words_deduplicated():
    assert SamplingParams(bad_words=["a", "b", "a"]).bad_words == ["a", "b"]


def test_unknown_keyword_type_error():
    with pytest.raises(TypeError):
        SamplingParams(no_such_field=1)


def test_repr_names_fields():
    text = repr(SamplingParams(temperature=0.5, max_tokens=7))
    assert text.startswith("SamplingParams(n=1, ")
    assert "temperature=0.5" in text
    assert "max_tokens=7" in text


def test_engine_params_match():
    engine_params = SamplingParams(
        n=2, temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, seed=3, max_tokens=9,
        min_tokens=1, stop_token_ids=[2], ignore_eos=True, logprobs=3,
        skip_special_tokens=False,
    )._to_engine()
    assert engine_params.n == 2
    assert engine_params.temperature == pytest.approx(0.7)
    assert engine_params.top_p == pytest.approx(0.9)
    assert engine_params.top_k == 40
    assert engine_params.min_p == pytest.approx(0.05)
    assert engine_params.seed == 3
    assert engine_params.max_tokens == 9
    assert engine_params.min_tokens == 1
    assert engine_params.stop_token_ids == [2]
    assert engine_params.ignore_eos is True
    assert engine_params.logprobs == 3
    assert engine_params.skip_special_tokens is False
    engine_params.validate()  # the C++ rules accept what Python accepted


def test_engine_params_new_fields():
    engine_params = SamplingParams(
        presence_penalty=0.5, frequency_penalty=-0.25, repetition_penalty=1.2,
        stop=["\n\n", "###"], bad_words=["foo"], include_stop_str_in_output=True,
        prompt_logprobs=2, logit_bias={"7": 1.5}, allowed_token_ids=[1, 2, 7],
        truncate_prompt_tokens=5,
    )._to_engine()
    assert engine_params.presence_penalty == pytest.approx(0.5)
    assert engine_params.frequency_penalty == pytest.approx(-0.25)
    assert engine_params.repetition_penalty == pytest.approx(1.2)
    assert engine_params.stop == ["\n\n", "###"]
    assert engine_params.bad_words == ["foo"]
    assert engine_params.include_stop_str_in_output is True
    assert engine_params.prompt_logprobs == 2
    assert engine_params.logit_bias == {7: 1.5}
    assert engine_params.allowed_token_ids == [1, 2, 7]
    assert engine_params.truncate_prompt_tokens == 5
    engine_params.validate()


def test_engine_validate_penalty_message():
    from vllm import _C

    engine_params = _C.SamplingParams()
    engine_params.presence_penalty = 2.5
    with pytest.raises(ValueError, match=r"presence_penalty must be in \[-2, 2\], got 2.5."):
        engine_params.validate()


def test_engine_validate_message():
    from vllm import _C

    engine_params = _C.SamplingParams()
    engine_params.top_p = 1.5
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\], got 1.5."):
        engine_params.validate()


def test_llm_stop_string(llm):
    prompt = "The capital of France is"
    free = llm.generate([prompt], SamplingParams(temperature=0.0, max_tokens=8))[0]
    text = free.outputs[0].text
    assert len(text) >= 6
    stop = text[3:6]
    stopped = llm.generate(
        [prompt], SamplingParams(temperature=0.0, max_tokens=8, stop=[stop])
    )[0].outputs[0]
    assert stopped.text == text[: text.find(stop)]
    assert stopped.finish_reason == "stop"
    assert stopped.stop_reason == stop


def test_llm_prompt_logprobs(llm):
    output = llm.generate(
        ["The capital of France is"], SamplingParams(max_tokens=1, prompt_logprobs=1)
    )[0]
    assert output.prompt_logprobs is not None
    assert len(output.prompt_logprobs) == len(output.prompt_token_ids)
    assert output.prompt_logprobs[0] is None
    for token_id, entry in zip(output.prompt_token_ids[1:], output.prompt_logprobs[1:]):
        assert token_id in entry
        assert entry[token_id].logprob <= 0.0
        # As in vLLM: the prompt token first, then the top tokens by rank.
        assert list(entry)[0] == token_id
