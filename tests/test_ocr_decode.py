"""CTC decoding (Graves et al. 2006, Section 3.2): the collapsing map, best path on a one-hot
alignment (a perfect reader), prefix beam search against brute-force enumeration of every path."""
import itertools
import math
from collections import defaultdict

import pytest
import torch

from vitcourse.ocr import OCRTokenizer, ctc_collapse, ctc_greedy_decode, ctc_labelling_log_prob, ctc_prefix_beam_search


def test_collapse_merges_repeats_then_drops_blanks():
    assert ctc_collapse([1, 1, 0, 1, 2, 2, 0, 0, 3]) == [1, 1, 2, 3]      # "aa-abb--c" -> "aabc"
    assert ctc_collapse([0, 0, 0]) == [] and ctc_collapse([2, 2, 2]) == [2]
    assert ctc_collapse(torch.tensor([5, 0, 5])) == [5, 5]


def alignment(tok, text, frames):
    """A one-hot frame alignment of `text`: each character for 2 frames, a blank between repeats."""
    path = []
    for i, c in enumerate(tok.encode(text).tolist()):
        if path and path[-1] == c:
            path.append(tok.blank_id)
        path += [c, c]
    path += [tok.blank_id] * (frames - len(path))
    return torch.nn.functional.one_hot(torch.tensor(path), tok.vocab_size).double().clamp_min(1e-9).log()


@pytest.mark.parametrize("text", ["hello", "Mississippi", "a", "  x  ", "book keeper!"])
def test_greedy_decoding_of_a_one_hot_alignment_gives_back_the_text(text):
    tok = OCRTokenizer()
    lp = alignment(tok, text, 40)
    assert tok.decode(ctc_greedy_decode(lp, tok.blank_id)[0]) == text
    assert tok.decode(ctc_prefix_beam_search(lp, 4, tok.blank_id)[0][0]) == text


def brute_force(lp):
    totals = defaultdict(float)
    for path in itertools.product(range(lp.shape[1]), repeat=lp.shape[0]):
        totals[tuple(ctc_collapse(path))] += math.exp(sum(lp[t, c].item() for t, c in enumerate(path)))
    return sorted(totals.items(), key=lambda kv: -kv[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_prefix_beam_search_is_exact_with_a_wide_beam(seed):
    lp = torch.randn(5, 3, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).log_softmax(-1)
    exact = brute_force(lp)
    beam = ctc_prefix_beam_search(lp, beam_width=200, prune=None)
    assert [tuple(k) for k, _ in beam[:4]] == [k for k, _ in exact[:4]]
    for (labels, logp), (_, p) in zip(beam[:4], exact[:4]):
        assert math.exp(logp) == pytest.approx(p, rel=1e-12)
        assert ctc_labelling_log_prob(lp, labels) == pytest.approx(math.log(p), rel=1e-10)   # F.ctc_loss agrees


def test_best_path_is_not_always_the_best_labelling():
    # frames: P(a)=0.4, P(blank)=0.6 twice. Best path "--" (0.36) -> ""; but "a" gets
    # a-, -a, aa = 0.24 + 0.24 + 0.16 = 0.64: greedy reads "", the beam reads "a"
    lp = torch.tensor([[0.6, 0.4], [0.6, 0.4]], dtype=torch.float64).log()
    assert ctc_greedy_decode(lp)[0] == []
    (labels, logp), *_ = ctc_prefix_beam_search(lp, 4, prune=None)
    assert labels == [1] and math.exp(logp) == pytest.approx(0.64)


def test_clear_errors():
    with pytest.raises(ValueError, match=r"decodes one line: log_probs \(T, V\)"):
        ctc_prefix_beam_search(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="beam_width must be a positive integer"):
        ctc_prefix_beam_search(torch.zeros(3, 4), beam_width=0)
    with pytest.raises(ValueError, match=r"float frames"):
        ctc_greedy_decode(torch.zeros(3, dtype=torch.long))
