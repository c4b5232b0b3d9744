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

    def apply_chat_template(self, *args: Any, **kwargs: Any) -> Any:
        # TODO(chat-template): render with the C++ Jinja renderer once it exists.
        raise NotImplementedError(
            "apply_chat_template is not supported yet by this vLLM build: the Jinja "
            "chat-template renderer does not exist yet."
        )

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
