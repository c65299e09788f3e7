"""OCRTokenizer: the specials' ids, teacher-forcing pairs, CTC targets, decoding, clear errors."""
import pytest
import torch

from vitcourse.gpt import IGNORE_INDEX
from vitcourse.ocr import PRINTABLE, OCRTokenizer


def test_layout_specials_first_then_sorted_characters():
    tok = OCRTokenizer()
    assert len(PRINTABLE) == 95 and tok.vocab_size == 99
    assert (tok.blank_id, tok.pad_id, tok.bos_id, tok.eos_id) == (0, 1, 2, 3)
    assert tok.chars[4:] == sorted(PRINTABLE) and tok.encode(" ").tolist() == [4]   # space sorts first
    assert tok.decode(tok.encode("Hello, world!")) == "Hello, world!"


def test_teacher_forcing_pairs():
    tok = OCRTokenizer("abc")
    ids, targets = tok(["ab", "c"], max_length=5)
    a, b, c = tok.encode("abc").tolist()
    assert ids.tolist() == [[2, a, b, 3, 1], [2, c, 3, 1, 1]]
    assert targets.tolist() == [[a, b, 3, IGNORE_INDEX, IGNORE_INDEX], [c, 3, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]]
    assert (ids[:, 1:] == targets[:, :-1]).logical_or(targets[:, :-1] == IGNORE_INDEX).all()


def test_ctc_targets_concatenated_with_lengths():
    tok = OCRTokenizer("abc")
    targets, lengths = tok.ctc_targets(["abc", "b"])
    assert targets.tolist() == [4, 5, 6, 5] and lengths.tolist() == [3, 1]


def test_decode_stops_at_eos_and_drops_specials():
    tok = OCRTokenizer("ab")
    assert tok.decode([2, 4, 0, 1, 5, 3, 4, 4]) == "ab"
    assert tok.batch_decode(torch.tensor([[4, 3, 5], [5, 5, 3]])) == ["a", "bb"]


def test_clear_errors():
    tok = OCRTokenizer()
    with pytest.raises(ValueError, match=r"characters 'é€' in .* not in the charset of 95 characters"):
        tok.encode("café €")
    with pytest.raises(ValueError, match="text is empty"):
        tok.encode("")
    with pytest.raises(ValueError, match=r"needs max_length >= 6, got 4"):
        tok(["hello"], max_length=4)
    with pytest.raises(ValueError, match=r"ids must be integers in \[0, 99\)"):
        tok.decode([120])
    with pytest.raises(ValueError, match="line breaks or tabs"):
        OCRTokenizer("ab\n")
    with pytest.raises(ValueError, match="non-empty string"):
        OCRTokenizer("")
