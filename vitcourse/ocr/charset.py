"""Characters <-> ids for the two OCR readers, with the special tokens each one needs.

A CTC reader (Graves et al. 2006, Section 3) emits one label per frame from the characters plus a
*blank* ("no character here"); an autoregressive decoder (TrOCR, Li et al. 2021, Section 2.1)
needs a start token, an end token and padding. One vocabulary serves both:

    0 = <blank> (CTC),  1 = <pad>,  2 = <bos>,  3 = <eos>,  4 .. V-1 = the characters (sorted)

The characters default to the 95 printable ASCII characters (letters, digits, punctuation, space).
Like `vitcourse.text.CharTokenizer` (the GPT chapter's, which this extends) a character outside the
set is an error, never silently mapped to an "unknown" id.
"""
from __future__ import annotations

import string

import torch

from ..text import CharTokenizer

PRINTABLE = string.digits + string.ascii_letters + string.punctuation + " "   # 95 characters
SPECIALS = ("<blank>", "<pad>", "<bos>", "<eos>")


class OCRTokenizer(CharTokenizer):
    """`encode(text)` -> character ids; `__call__(texts)` -> decoder inputs and targets;
    `ctc_targets(texts)` -> CTC targets; `decode(ids)` -> text (specials dropped, stops at <eos>)."""

    blank_id, pad_id, bos_id, eos_id = 0, 1, 2, 3

    def __init__(self, charset: str = PRINTABLE):
        if not isinstance(charset, str) or not charset:
            raise ValueError(f"charset must be a non-empty string of characters, got {charset!r:.40}")
        if any(c in "\n\r\t\x0b\x0c" for c in charset):
            raise ValueError("charset must not hold line breaks or tabs: a text line is one line")
        super().__init__(charset)
        self.charset = "".join(self.chars)
        self.chars = [*SPECIALS, *self.chars]                       # ids 0..3 are the specials
        self.stoi = {ch: i for i, ch in enumerate(self.chars) if i >= len(SPECIALS)}

    def encode(self, text: str) -> torch.Tensor:
        """str -> (len(text),) int64 character ids (no specials); ValueError for an empty text."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            raise ValueError("text is empty: a text line needs at least one character")
        unknown = sorted(set(text) - self.stoi.keys())
        if unknown:
            raise ValueError(f"characters {''.join(unknown)!r} in {text!r:.60} are not in the charset of "
                             f"{len(self.charset)} characters: build OCRTokenizer(charset) with them")
        return torch.tensor([self.stoi[ch] for ch in text], dtype=torch.int64)

    def __call__(self, texts, max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Teacher forcing for the decoder: (inputs (B, T), targets (B, T)) with T = `max_length`.

        inputs = [<bos>, c1 .. cn, <eos>, <pad> ...]; targets = inputs shifted left by one, with
        IGNORE_INDEX (-100) after <eos>, so padding adds nothing to the loss."""
        from ..gpt import IGNORE_INDEX

        texts = [texts] if isinstance(texts, str) else list(texts)
        ids = torch.full((len(texts), max_length + 1), self.pad_id, dtype=torch.int64)    # (B, T + 1)
        targets = torch.full((len(texts), max_length), IGNORE_INDEX, dtype=torch.int64)
        for row, text in enumerate(texts):
            chars = self.encode(text)
            if len(chars) + 1 > max_length:
                raise ValueError(f"{text!r:.60} is {len(chars)} characters: with <bos> and <eos> it needs "
                                 f"max_length >= {len(chars) + 1}, got {max_length}")
            seq = torch.cat([torch.tensor([self.bos_id]), chars, torch.tensor([self.eos_id])])
            ids[row, : len(seq)] = seq
            targets[row, : len(seq) - 1] = seq[1:]
        return ids[:, :-1], targets

    def ctc_targets(self, texts) -> tuple[torch.Tensor, torch.Tensor]:
        """(targets (sum of lengths,), lengths (B,)): the concatenated form `F.ctc_loss` takes."""
        encoded = [self.encode(t) for t in ([texts] if isinstance(texts, str) else texts)]
        return torch.cat(encoded), torch.tensor([len(e) for e in encoded], dtype=torch.int64)

    def decode(self, ids) -> str:
        """A 1-D sequence of ids -> text: stops at the first <eos>, drops <blank>, <pad> and <bos>."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < self.vocab_size]
        if bad:
            raise ValueError(f"ids must be integers in [0, {self.vocab_size}) (a 1-D sequence), got {bad[:5]}")
        if self.eos_id in ids:
            ids = ids[: ids.index(self.eos_id)]
        return "".join(self.chars[i] for i in ids if i >= len(SPECIALS))

    def batch_decode(self, ids) -> list[str]:
        """(B, T) ids (or a list of id lists) -> B strings."""
        return [self.decode(row) for row in ids]
