"""A word tokenizer for short captions (CLIP's text side, Radford et al. 2021, Section 2.4).

CLIP tokenizes with byte-pair encoding and brackets every caption with [SOS] and [EOS]; the
text feature is the top layer's activation at the [EOS] token. Our captions come from a small
grammar, so whole words are enough: the vocabulary is the sorted set of words of the texts it
is built from, and lower-cased words and punctuation marks are the tokens.

Ids follow OpenAI's layout, where the start and end tokens are the two *largest* ids:

    0 = <pad>,  1 = <unk>,  2 .. V-3 = words (sorted),  V-2 = <bos>,  V-1 = <eos>

so the end of a caption is both its first EOS and its largest id: pooling at `ids.argmax(-1)`
(OpenAI's code, and Hugging Face's legacy path when `eos_token_id == 2`) and pooling at the
first EOS pick the same position.
"""
from __future__ import annotations

import re

import torch

SPECIALS = ("<pad>", "<unk>")
_TOKEN = re.compile(r"[\w']+|[^\w\s]")


def split_words(text: str) -> list[str]:
    """'A red circle, left.' -> ['a', 'red', 'circle', ',', 'left', '.']."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


class WordTokenizer:
    """Words <-> ids, built from example texts (`WordTokenizer(captions)`) or a word list
    (`WordTokenizer.from_vocabulary(words)`). `tok(texts, context_length)` -> (B, T) int64 ids."""

    def __init__(self, texts, context_length: int | None = None):
        if isinstance(texts, str):
            raise TypeError("WordTokenizer takes a list of texts, got one str (wrap it in a list)")
        texts = list(texts)
        words = sorted({w for t in texts for w in split_words(t)} - set(SPECIALS) - {"<bos>", "<eos>"})
        if not words:
            raise ValueError("WordTokenizer needs at least one text with a word in it to build its vocabulary")
        self.words = words
        self.itos = [*SPECIALS, *words, "<bos>", "<eos>"]
        self.stoi = {w: i for i, w in enumerate(self.itos)}
        self.pad_id, self.unk_id = 0, 1
        self.bos_id, self.eos_id = len(self.itos) - 2, len(self.itos) - 1
        longest = max(len(split_words(t)) for t in texts) + 2
        self.context_length = longest if context_length is None else int(context_length)
        if self.context_length < 3:
            raise ValueError(f"context_length must be >= 3 (<bos>, one word, <eos>), got {context_length}")

    @classmethod
    def from_vocabulary(cls, words, context_length: int = 16) -> "WordTokenizer":
        """A tokenizer whose vocabulary is exactly `words` (each must be a single token)."""
        bad = [w for w in words if split_words(w) != [w]]
        if bad:
            raise ValueError(f"vocabulary entries must be single lower-case tokens, got {bad[:5]}")
        return cls(list(words), context_length=context_length)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    def encode(self, text: str, strict: bool = False, add_special_tokens: bool = True) -> list[int]:
        """A caption -> [bos, word ids..., eos]. Unknown words become <unk>, or, if `strict`, a ValueError."""
        words = split_words(text)
        unknown = [w for w in words if w not in self.stoi]
        if strict and unknown:
            raise ValueError(f"unknown words {sorted(set(unknown))} in {text!r}: the vocabulary has "
                             f"{len(self.words)} words (build the tokenizer from texts that contain them)")
        ids = [self.stoi.get(w, self.unk_id) for w in words]
        return [self.bos_id, *ids, self.eos_id] if add_special_tokens else ids

    def __call__(self, texts, context_length: int | None = None, strict: bool = False,
                 truncate: bool = False) -> torch.Tensor:
        """Texts -> (B, T) int64 ids, padded with <pad> after <eos> to T = `context_length`.

        A caption longer than T is an error, unless `truncate` (then its last kept token is <eos>)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        T = self.context_length if context_length is None else int(context_length)
        if T < 3:
            raise ValueError(f"context_length must be >= 3 (<bos>, one word, <eos>), got {T}")
        out = torch.full((len(texts), T), self.pad_id, dtype=torch.int64)        # (B, T)
        for row, text in enumerate(texts):
            ids = self.encode(text, strict=strict)
            if len(ids) > T:
                if not truncate:
                    raise ValueError(f"{text!r} is {len(ids)} tokens with <bos> and <eos>, longer than "
                                     f"context_length={T}: raise context_length or pass truncate=True")
                ids = ids[: T - 1] + [self.eos_id]
            out[row, : len(ids)] = torch.tensor(ids)
        return out

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        """A 1-D sequence of ids -> the words joined by spaces (stops at the first <eos>)."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"ids must be integers in [0, {self.vocab_size}) (a 1-D sequence), got {bad[:5]}")
        if skip_special_tokens and self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        words = [self.itos[i] for i in ids
                 if not (skip_special_tokens and i in (self.pad_id, self.bos_id, self.eos_id))]
        return " ".join(words)

    def batch_decode(self, ids, skip_special_tokens: bool = True) -> list[str]:
        """(B, T) ids -> B strings."""
        return [self.decode(row, skip_special_tokens) for row in ids]

    def eos_positions(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B,) position of each row's first <eos>, where CLIP reads the text feature."""
        return eos_positions(ids, self.eos_id)


def eos_positions(ids: torch.Tensor, eos_id: int) -> torch.Tensor:
    """(B, T) ids -> (B,) index of the first `eos_id` in each row; ValueError for a row without one."""
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
        raise ValueError(f"ids must be a (B, T) tensor, got {getattr(ids, 'shape', type(ids).__name__)}")
    is_eos = ids == eos_id                                                     # (B, T)
    missing = (~is_eos.any(dim=1)).nonzero().flatten().tolist()
    if missing:
        raise ValueError(f"rows {missing[:5]} have no <eos> (id {eos_id}): the text feature is read at <eos>, "
                         f"so every caption needs one (encode with add_special_tokens=True, or truncate=True)")
    return is_eos.int().argmax(dim=1)                                          # first True
