"""Character and word error rates, computed by jiwer (Levenshtein alignment).

    CER = (S + D + I) / N    over characters;   WER: the same over words,

with S substitutions, D deletions, I insertions and N the characters (words) of the references,
summed over all lines (a corpus rate, as jiwer and most OCR papers report it; TrOCR's Table 4 uses
the "case-sensitive CER"). CER can exceed 1 when a reader inserts a lot. Both texts are
whitespace-normalised first (runs of spaces become one space, ends stripped). `spaces=False` drops
the spaces altogether: some engines (RapidOCR on a page) lose inter-word spaces, and this variant
says how much of their CER that is.
"""
from __future__ import annotations

import re


def normalize(text: str) -> str:
    """Runs of whitespace -> one space; leading and trailing whitespace removed."""
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    return re.sub(r"\s+", " ", text).strip()


def _pair(references, hypotheses, spaces: bool = True) -> tuple[list[str], list[str]]:
    refs = [references] if isinstance(references, str) else list(references)
    hyps = [hypotheses] if isinstance(hypotheses, str) else list(hypotheses)
    if len(refs) != len(hyps):
        raise ValueError(f"{len(refs)} references but {len(hyps)} hypotheses: one reading per reference line")
    if not refs:
        raise ValueError("no lines to score")
    refs, hyps = [normalize(r) for r in refs], [normalize(h) for h in hyps]
    if not spaces:
        refs, hyps = [r.replace(" ", "") for r in refs], [h.replace(" ", "") for h in hyps]
    empty = [i for i, r in enumerate(refs) if not r]
    if empty:
        raise ValueError(f"references {empty[:5]} are empty after normalisation: a rate needs reference text")
    return refs, hyps


def cer(references, hypotheses, spaces: bool = True) -> float:
    """Character error rate over all lines (jiwer.cer); `spaces=False`: with every space removed."""
    import jiwer

    refs, hyps = _pair(references, hypotheses, spaces)
    return float(jiwer.cer(refs, hyps))


def wer(references, hypotheses) -> float:
    """Word error rate over all lines (jiwer.wer); an empty reading counts every word deleted."""
    import jiwer

    refs, hyps = _pair(references, hypotheses)
    return float(jiwer.wer(refs, hyps))


def line_cers(references, hypotheses) -> list[float]:
    """The CER of each line on its own (for showing the worst lines)."""
    refs, hyps = _pair(references, hypotheses)
    return [cer(r, h) for r, h in zip(refs, hyps)]


def error_rates(references, hypotheses) -> dict[str, float]:
    """{'cer', 'cer_no_spaces', 'wer'} of one reader on one set of lines."""
    return {"cer": cer(references, hypotheses), "cer_no_spaces": cer(references, hypotheses, spaces=False),
            "wer": wer(references, hypotheses)}
