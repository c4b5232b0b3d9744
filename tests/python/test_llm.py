"""LLM.generate on the real default model: inputs, outputs, determinism and errors."""

import json
import os
import threading
import time

import pytest

from conftest import hf_model_dir
from vllm import LLM, CompletionOutput, Logprob, RequestOutput, SamplingParams

GREEDY = SamplingParams(temperature=0.0, max_tokens=8)


def test_generate_str(llm):
    outputs = llm.generate("Hello, my name is", GREEDY, use_tqdm=False)
    assert len(outputs) == 1
    assert isinstance(outputs[0], RequestOutput)
    assert outputs[0].prompt == "Hello, my name is"
    assert len(outputs[0].outputs[0].token_ids) > 0


def test_output_fields(llm):
    output = llm.generate("The capital of France is", GREEDY, use_tqdm=False)[0]
    assert isinstance(output.request_id, str)
    assert output.prompt_token_ids == llm.get_tokenizer().encode("The capital of France is")
    assert output.prompt_logprobs is None
    assert isinstance(output.num_cached_tokens, int)
    assert output.finished is True
    assert len(output.outputs) == 1
    completion = output.outputs[0]
    assert isinstance(completion, CompletionOutput)
    assert completion.index == 0
    assert isinstance(completion.text, str)
    assert all(isinstance(t, int) for t in completion.token_ids)
    assert completion.cumulative_logprob is None
    assert completion.logprobs is None
    assert completion.finish_reason in ("stop", "length")
    assert completion.stop_reason is None


def test_text_is_decoded_tokens(llm):
    completion = llm.generate("Once upon a time", GREEDY, use_tqdm=False)[0].outputs[0]
    decoded = llm.get_tokenizer().decode(completion.token_ids, skip_special_tokens=True)
    assert completion.text == decoded


def test_generate_list_keeps_order(llm):
    prompts = ["One", "Two plus two is", "The sky is", "Python is a"]
    outputs = llm.generate(prompts, GREEDY, use_tqdm=False)
    assert [o.prompt for o in outputs] == prompts
    assert [int(o.request_id) for o in outputs] == sorted(int(o.request_id) for o in outputs)


def test_token_ids_prompt_matches_text(llm):
    text = "The quick brown fox"
    token_ids = llm.get_tokenizer().encode(text)
    from_text = llm.generate(text, GREEDY, use_tqdm=False)[0]
    from_dict = llm.generate({"prompt_token_ids": token_ids}, GREEDY, use_tqdm=False)[0]
    from_list = llm.generate([token_ids], GREEDY, use_tqdm=False)[0]
    assert from_dict.prompt is None
    assert from_dict.prompt_token_ids == token_ids
    assert from_dict.outputs[0].token_ids == from_text.outputs[0].token_ids
    assert from_list.outputs[0].token_ids == from_text.outputs[0].token_ids


def test_dict_text_prompt(llm):
    output = llm.generate({"prompt": "Hello"}, GREEDY, use_tqdm=False)[0]
    assert output.prompt == "Hello"


def test_params_per_prompt(llm):
    params = [
        SamplingParams(temperature=0.0, max_tokens=3, ignore_eos=True),
        SamplingParams(temperature=0.0, max_tokens=6, ignore_eos=True),
    ]
    outputs = llm.generate(["Hello", "Hello"], params, use_tqdm=False)
    assert len(outputs[0].outputs[0].token_ids) == 3
    assert len(outputs[1].outputs[0].token_ids) == 6


def test_length_finish_reason(llm):
    params = SamplingParams(temperature=0.0, max_tokens=5, ignore_eos=True)
    completion = llm.generate("Count: 1, 2, 3,", params, use_tqdm=False)[0].outputs[0]
    assert len(completion.token_ids) == 5
    assert completion.finish_reason == "length"


def test_greedy_deterministic(llm):
    params = SamplingParams(temperature=0.0, max_tokens=16)
    first = llm.generate("The meaning of life is", params, use_tqdm=False)[0]
    second = llm.generate("The meaning of life is", params, use_tqdm=False)[0]
    assert first.outputs[0].token_ids == second.outputs[0].token_ids


def test_seed_same_alone_or_batched(llm):
    seeded = SamplingParams(temperature=0.9, seed=1234, max_tokens=12, ignore_eos=True)
    other = SamplingParams(temperature=1.0, max_tokens=14, ignore_eos=True)
    alone = llm.generate("Tell me a story", seeded, use_tqdm=False)[0]
    batch = llm.generate(
        ["Write a poem", "Tell me a story", "List three colors"],
        [other, seeded, other],
        use_tqdm=False,
    )
    assert batch[1].outputs[0].token_ids == alone.outputs[0].token_ids
    assert batch[1].outputs[0].text == alone.outputs[0].text


def test_unseeded_runs_differ(llm):
    params = SamplingParams(temperature=1.0, max_tokens=8, ignore_eos=True)
    first = llm.generate("My favourite food is", params, use_tqdm=False)[0]
    second = llm.generate("My favourite food is", params, use_tqdm=False)[0]
    assert first.outputs[0].token_ids != second.outputs[0].token_ids


def test_parallel_samples(llm):
    params = SamplingParams(n=2, temperature=1.0, seed=7, max_tokens=8, ignore_eos=True)
    output = llm.generate("Hello", params, use_tqdm=False)[0]
    assert [c.index for c in output.outputs] == [0, 1]


def test_logprobs(llm):
    params = SamplingParams(temperature=0.0, max_tokens=4, ignore_eos=True, logprobs=2)
    completion = llm.generate("Hello", params, use_tqdm=False)[0].outputs[0]
    assert completion.logprobs is not None
    assert len(completion.logprobs) == len(completion.token_ids)
    total = 0.0
    for token_id, position in zip(completion.token_ids, completion.logprobs):
        assert token_id in position
        assert all(isinstance(entry, Logprob) for entry in position.values())
        total += position[token_id].logprob
    assert completion.cumulative_logprob == pytest.approx(total, abs=1e-4)


def test_logprobs_order_like_vllm(llm):
    # vLLM's sampler gathers the sampled token's logprob first, then the top ones, so its
    # dicts list the sampled token first. At temperature 1.5 the draw often falls outside
    # the top 2, where an order by token id would put it elsewhere.
    params = SamplingParams(temperature=1.5, seed=3, max_tokens=16, ignore_eos=True, logprobs=2)
    completion = llm.generate("Hello", params, use_tqdm=False)[0].outputs[0]
    for token_id, position in zip(completion.token_ids, completion.logprobs):
        keys = list(position)
        assert keys[0] == token_id
        ranks = [position[key].rank for key in keys[1:]]
        assert ranks == sorted(ranks)


def test_greedy_same_with_and_without_logprobs(llm):
    # Without logprobs, the LM head of a step whose rows are all greedy computes only the
    # logits that may be the largest. With logprobs it computes every logit, and so does a
    # batch of both kinds.
    prompts = ["The capital of France is", "def fibonacci(n):", "1, 2, 3, 5, 8,", "Once upon"]
    plain = SamplingParams(temperature=0.0, max_tokens=24, ignore_eos=True)
    scored = SamplingParams(temperature=0.0, max_tokens=24, ignore_eos=True, logprobs=0)
    fast = llm.generate(prompts, plain, use_tqdm=False)
    full = llm.generate(prompts, scored, use_tqdm=False)
    mixed = llm.generate(prompts + prompts, [plain] * 4 + [scored] * 4, use_tqdm=False)
    for i in range(4):
        assert fast[i].outputs[0].logprobs is None
        assert full[i].outputs[0].logprobs is not None
        assert fast[i].outputs[0].token_ids == full[i].outputs[0].token_ids
        assert mixed[i].outputs[0].token_ids == full[i].outputs[0].token_ids
        assert mixed[i + 4].outputs[0].token_ids == full[i].outputs[0].token_ids


def test_default_params_max_16(llm):
    completion = llm.generate("Hello", use_tqdm=False)[0].outputs[0]
    assert len(completion.token_ids) <= 16


def test_empty_prompt_list(llm):
    assert llm.generate([], GREEDY, use_tqdm=False) == []


@pytest.mark.parametrize(
    "make_params, message",
    [
        (lambda: SamplingParams(temperature=-0.5), "temperature must be non-negative, got -0.5"),
        (lambda: SamplingParams(top_p=0.0), r"top_p must be in \(0, 1\], got 0.0"),
        (lambda: SamplingParams(top_p=1.5), r"top_p must be in \(0, 1\], got 1.5"),
        (lambda: SamplingParams(max_tokens=0), "max_tokens must be at least 1, got 0"),
        (lambda: SamplingParams(n=0), "n must be at least 1, got 0"),
    ],
)
def test_invalid_params_raise(make_params, message):
    with pytest.raises(ValueError, match=message):
        make_params()


def test_empty_prompt_raises(llm):
    with pytest.raises(ValueError, match="The decoder prompt cannot be empty"):
        llm.generate(["Hello", ""], GREEDY, use_tqdm=False)
    assert not llm.llm_engine.has_unfinished_requests()


def test_long_prompt_raises(llm):
    too_long = [100] * (llm.max_model_len + 1)
    with pytest.raises(ValueError, match=rf"\(length {llm.max_model_len + 1}\) is longer"):
        llm.generate(["Hello", {"prompt_token_ids": too_long}], GREEDY, use_tqdm=False)
    assert not llm.llm_engine.has_unfinished_requests()


def test_out_of_vocab_raises(llm):
    vocab_size = llm.get_tokenizer().vocab_size
    with pytest.raises(ValueError, match=f"Token id {vocab_size} is out of vocabulary"):
        llm.generate({"prompt_token_ids": [1, vocab_size]}, GREEDY, use_tqdm=False)


def test_params_length_mismatch_raises(llm):
    with pytest.raises(ValueError, match="The lengths of prompts and params must be the same"):
        llm.generate(["a", "b", "c"], [GREEDY, GREEDY], use_tqdm=False)


def test_usable_after_errors(llm):
    with pytest.raises(ValueError):
        llm.generate(["Hello", ""], GREEDY, use_tqdm=False)
    reference = llm.generate("Hello", GREEDY, use_tqdm=False)[0]
    assert reference.finished
    assert len(reference.outputs[0].token_ids) > 0
    assert not llm.llm_engine.has_unfinished_requests()


def test_tqdm_off(llm, capfd):
    llm.generate("Hello", GREEDY, use_tqdm=False)
    assert "Processed prompts" not in capfd.readouterr().err


def test_tqdm_on(llm, capfd):
    llm.generate("Hello", GREEDY, use_tqdm=True)
    err = capfd.readouterr().err
    assert "Processed prompts" in err
    assert "est. speed input" in err


def test_gil_released(llm):
    # A Python thread wakes every millisecond while generate runs. If generate held the
    # GIL, the thread could run only between engine calls, about every 100 ms.
    num_wakeups = 0
    stop = threading.Event()

    def tick():
        nonlocal num_wakeups
        while not stop.is_set():
            time.sleep(0.001)
            num_wakeups += 1

    params = SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True)
    thread = threading.Thread(target=tick)
    thread.start()
    start = time.perf_counter()
    llm.generate("Hello", params, use_tqdm=False)
    elapsed = time.perf_counter() - start
    stop.set()
    thread.join()
    assert num_wakeups / elapsed > 100, f"{num_wakeups} wake-ups in {elapsed:.2f} s"


def test_tokenizer_round_trip(llm):
    tokenizer = llm.get_tokenizer()
    ids = tokenizer.encode("Hello world")
    assert tokenizer.decode(ids, skip_special_tokens=True) == "Hello world"
    assert tokenizer.eos_token_id is not None


def test_unknown_kwarg_type_error(model):
    with pytest.raises(TypeError):
        LLM(model=model, no_such_argument=1)


def test_unsupported_engine_arg(model):
    with pytest.raises(ValueError, match="tensor_parallel_size=2 is not supported"):
        LLM(model=model, tensor_parallel_size=2)


def test_missing_model_raises():
    from vllm import _C

    with pytest.raises(ValueError, match="not found") as error:
        LLM(model="/nonexistent/model.gguf")
    assert isinstance(error.value, _C.ModelLoadError)


def test_missing_default_model_message(tmp_path, monkeypatch):
    monkeypatch.setenv("VLLM_CACHE_ROOT", str(tmp_path))
    with pytest.raises(ValueError, match="python -m vllm.fetch_model"):
        LLM()


def test_prefix_cache_hit_same_output(llm):
    from vllm import SamplingParams

    # Three full 16-token blocks of shared prefix, then a short different tail each time.
    prefix = "You are a helpful assistant who answers in one short sentence. " * 4
    params = SamplingParams(temperature=0.0, max_tokens=8)
    assert llm.reset_prefix_cache()

    first = llm.generate([prefix + "What is the capital of France?"], params,
                         use_tqdm=False)[0]
    again = llm.generate([prefix + "What is the capital of France?"], params,
                         use_tqdm=False)[0]

    assert first.num_cached_tokens == 0
    assert again.num_cached_tokens >= 32
    assert again.outputs[0].token_ids == first.outputs[0].token_ids


def test_reset_prefix_cache_drops_hits(llm):
    from vllm import SamplingParams

    prompt = "Tell me about the history of the printing press in Europe. " * 4
    params = SamplingParams(temperature=0.0, max_tokens=4)
    llm.generate([prompt], params, use_tqdm=False)

    assert llm.reset_prefix_cache()
    after_reset = llm.generate([prompt], params, use_tqdm=False)[0]

    assert after_reset.num_cached_tokens == 0


# --- Defaults from the model's generation_config.json -----------------------------------

GENERATION_CONFIG = {"temperature": 0.0, "max_new_tokens": 6}


@pytest.fixture(scope="module")
def hf_llm(tmp_path_factory):
    path = hf_model_dir(tmp_path_factory.mktemp("hf"), GENERATION_CONFIG)
    return LLM(model=path, max_model_len=256, kv_cache_memory_bytes=32 << 20)


def test_default_params_from_config(hf_llm):
    defaults = hf_llm.get_default_sampling_params()
    assert defaults.temperature == 0.0
    assert defaults.max_tokens == 6
    assert defaults.top_k == SamplingParams().top_k


def test_config_defaults_greedy(hf_llm):
    # Unseeded requests are deterministic only because the config makes them greedy.
    first = hf_llm.generate("Once upon a time", use_tqdm=False)[0].outputs[0]
    second = hf_llm.generate("Once upon a time", use_tqdm=False)[0].outputs[0]
    greedy = SamplingParams(temperature=0.0, max_tokens=6)
    expected = hf_llm.generate("Once upon a time", greedy, use_tqdm=False)[0].outputs[0]
    assert first.token_ids == expected.token_ids
    assert second.token_ids == expected.token_ids
    assert len(first.token_ids) <= 6


def test_chat_uses_config_defaults(hf_llm):
    messages = [{"role": "user", "content": "What is 2 + 2?"}]
    first = hf_llm.chat(messages, use_tqdm=False)[0].outputs[0]
    second = hf_llm.chat(messages, use_tqdm=False)[0].outputs[0]
    assert first.token_ids == second.token_ids
    assert len(first.token_ids) <= 6


def test_explicit_params_win(hf_llm):
    # Sampled with temperature 1, some seed gives other tokens than the greedy reply.
    greedy = hf_llm.generate("My favourite colour is", use_tqdm=False)[0].outputs[0].token_ids
    sampled = [
        hf_llm.generate("My favourite colour is", SamplingParams(temperature=1.0, seed=seed,
                                                           max_tokens=6),
                        use_tqdm=False)[0].outputs[0].token_ids
        for seed in range(3)
    ]
    assert any(tokens != greedy for tokens in sampled)


def test_generation_config_vllm(tmp_path):
    path = hf_model_dir(tmp_path, GENERATION_CONFIG)
    llm = LLM(model=path, max_model_len=256, kv_cache_memory_bytes=32 << 20,
              generation_config="vllm")
    assert llm.get_default_sampling_params() == SamplingParams()


def test_generation_config_folder(tmp_path):
    path = hf_model_dir(tmp_path, {})
    other = tmp_path / "other"
    other.mkdir()
    (other / "generation_config.json").write_text(json.dumps({"top_k": 7, "top_p": 0.5}))
    llm = LLM(model=path, max_model_len=256, kv_cache_memory_bytes=32 << 20,
              generation_config=str(other))
    defaults = llm.get_default_sampling_params()
    assert defaults.top_k == 7
    assert defaults.top_p == 0.5
    assert defaults.temperature == SamplingParams().temperature


def test_gguf_plain_defaults(llm):
    assert llm.get_default_sampling_params() == SamplingParams()


@pytest.mark.parametrize("dtype", ["auto", "float32", "float", "bfloat16", "float16", "half"])
def test_dtype_names_accepted(dtype):
    from vllm.engine.arg_utils import EngineArgs

    assert EngineArgs(model="m", dtype=dtype).dtype == dtype


def test_dtype_unknown_rejected():
    from vllm.engine.arg_utils import EngineArgs

    with pytest.raises(ValueError, match="dtype='int8'"):
        EngineArgs(model="m", dtype="int8")


def test_revision_reaches_engine():
    pytest.importorskip("vllm._C")
    from vllm.engine.arg_utils import EngineArgs

    args = EngineArgs(model="m", revision="v1", dtype="half",
                      generation_config="vllm", enable_chunked_prefill=False)
    engine_args = args.create_engine_args()
    assert engine_args.revision == "v1"
    assert engine_args.dtype == "float16"
    assert engine_args.generation_config == "vllm"
    assert engine_args.enable_chunked_prefill is False
