"""Text for the generative-pre-training chapter: the corpus that ships with the package and a
character-level tokenizer (one token per character, as in Karpathy's char-rnn and nanoGPT's
shakespeare_char; GPT-2 uses byte-pair encoding instead, Radford et al. 2019, Section 2.2).

The corpus, "Small tales for small models" (`vitcourse/assets/small_tales.txt`, about 21 KB), was
written for this course and is dedicated to the public domain (CC0).
"""
from __future__ import annotations

from importlib import resources

import torch

CORPORA = ("small_tales",)


def load_text(name: str = "small_tales") -> str:
    """The text of a corpus that ships with the package (offline)."""
    if name not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; available: {', '.join(CORPORA)}")
    return resources.files("vitcourse").joinpath("assets", f"{name}.txt").read_text(encoding="utf-8")


class CharTokenizer:
    """Characters <-> integer ids; the vocabulary is the sorted set of characters of `text`."""

    def __init__(self, text: str):
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharTokenizer needs a non-empty string to build its vocabulary, got {text!r:.40}")
        self.chars = sorted(set(text))
        self.stoi = {ch: i for i, ch in enumerate(self.chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """str -> (len(text),) int64 ids."""
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters {''.join(unknown)!r} are not in the vocabulary of {self.vocab_size} "
                             f"characters this tokenizer was built from")
        return torch.tensor([self.stoi[ch] for ch in text], dtype=torch.int64)

    def decode(self, ids) -> str:
        """A 1-D sequence of ids (tensor or list) -> str."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"ids must be integers in [0, {self.vocab_size}) (a 1-D sequence), got {bad[:5]}")
        return "".join(self.chars[i] for i in ids)


def next_token_pairs(data: torch.Tensor, block_size: int, stride: int = 1):
    """Every window of `block_size` + 1 consecutive ids, `stride` apart, as next-token examples:
    data (N,) -> (x (W, T), y (W, T)) with y[:, t] = x[:, t + 1] (y is x shifted left by one)."""
    if not isinstance(data, torch.Tensor) or data.dim() != 1:
        raise ValueError(f"data must be a 1-D tensor of token ids, got {getattr(data, 'shape', type(data).__name__)}")
    if block_size < 1 or stride < 1 or len(data) < block_size + 1:
        raise ValueError(f"need block_size >= 1, stride >= 1 and at least block_size + 1 = {block_size + 1} "
                         f"tokens, got block_size={block_size}, stride={stride}, {len(data)} tokens")
    windows = data.unfold(0, block_size + 1, stride)                         # (W, T + 1)
    return windows[:, :-1], windows[:, 1:]
