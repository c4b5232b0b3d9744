"""The tokenizer that `LLM.get_tokenizer()` returns, with the names of HF tokenizers."""

from typing import Any, Optional, Union


class Tokenizer:
    """Wraps the engine's C++ tokenizer (`vllm._C.Tokenizer`) with HF-style methods.

    Results equal HF `tokenizers` for the formats the C++ tokenizer supports. The wrapper
    keeps the engine alive while it exists.
    """

    def __init__(self, engine_tokenizer: Any) -> None:
        self._tokenizer = engine_tokenizer

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return self._tokenizer.encode(text, add_special_tokens)

    def decode(self, token_ids: Union[int, list[int]], skip_special_tokens: bool = False) -> str:
        if isinstance(token_ids, int):
            token_ids = [token_ids]
        return self._tokenizer.decode(list(token_ids), skip_special_tokens)

    def __call__(self, text: str, add_special_tokens: bool = True) -> dict[str, list[int]]:
        return {"input_ids": self.encode(text, add_special_tokens)}

    def convert_ids_to_tokens(self, ids: Union[int, list[int]]) -> Union[str, list[str]]:
        if isinstance(ids, int):
            return self._tokenizer.id_to_token(ids)
        return [self._tokenizer.id_to_token(i) for i in ids]

    def convert_tokens_to_ids(
        self, tokens: Union[str, list[str]]
    ) -> Union[Optional[int], list[Optional[int]]]:
        if isinstance(tokens, str):
            return self._tokenizer.token_to_id(tokens)
        return [self._tokenizer.token_to_id(t) for t in tokens]

    def apply_chat_template(
        self,
        conversation: list[dict[str, Any]],
        chat_template: Optional[str] = None,
        add_generation_prompt: bool = False,
        tokenize: bool = True,
        **kwargs: Any,
    ) -> Union[str, list[int]]:
        """Render `conversation` with the model's chat template, as HF tokenizers do.

        Extra keyword arguments become template variables (HF's chat_template_kwargs).
        """
        import json

        from vllm import _C

        source = chat_template if chat_template is not None else self._tokenizer.chat_template
        if not source:
            raise ValueError(
                "As of transformers v4.44, default chat template is no longer allowed, so "
                "you must provide a chat template if the tokenizer does not define one."
            )
        context: dict[str, Any] = {}
        if self.bos_token_id is not None:
            context["bos_token"] = self._tokenizer.id_to_token(self.bos_token_id)
        if self.eos_token_id is not None:
            context["eos_token"] = self._tokenizer.id_to_token(self.eos_token_id)
        context.update(kwargs)
        text = _C.render_chat_template(
            source, json.dumps(conversation), add_generation_prompt, json.dumps(context)
        )
        if not tokenize:
            return text
        return self._tokenizer.encode(text, False)

    @property
    def bos_token_id(self) -> Optional[int]:
        return self._tokenizer.bos_token_id

    @property
    def eos_token_id(self) -> Optional[int]:
        return self._tokenizer.eos_token_id

    @property
    def vocab_size(self) -> int:
        return self._tokenizer.vocab_size

    @property
    def max_token_id(self) -> int:
        return self._tokenizer.vocab_size - 1

    @property
    def chat_template(self) -> Optional[str]:
        return self._tokenizer.chat_template or None

    def __len__(self) -> int:
        return self._tokenizer.vocab_size
