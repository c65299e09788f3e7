"""CER/WER through jiwer against hand-computed edit counts; whitespace normalisation; errors."""
import pytest

from vitcourse.ocr import cer, error_rates, line_cers, normalize, wer


def test_hand_computed_rates():
    # "the cat" -> "tha ca": 1 substitution (e->a) + 1 deletion (t) over 7 characters
    assert cer(["the cat"], ["tha ca"]) == pytest.approx(2 / 7)
    # corpus rate: edits summed over lines / characters summed over lines = (2 + 1) / (7 + 3)
    assert cer(["the cat", "dog"], ["tha ca", "dg"]) == pytest.approx(3 / 10)
    # words: "the cat sat" -> "the bat": 1 substitution + 1 deletion over 3 words
    assert wer(["the cat sat"], ["the bat"]) == pytest.approx(2 / 3)
    assert cer(["ab"], ["abxyz"]) == pytest.approx(3 / 2)          # insertions can push CER above 1
    assert line_cers(["ab", "cd"], ["ab", "c"]) == [0.0, 0.5]


def test_whitespace_normalised_and_the_space_free_variant():
    assert normalize("  the   cat \t sat ") == "the cat sat"
    assert cer(["the cat"], ["the    cat  "]) == 0.0
    # a reader that drops the space: 1 deletion over 7 characters, none once spaces are removed
    r = error_rates(["the cat"], ["thecat"])
    assert r["cer"] == pytest.approx(1 / 7) and r["cer_no_spaces"] == 0.0 and r["wer"] == pytest.approx(1.0)


def test_empty_reading_is_all_deletions():
    assert cer(["abc"], [""]) == 1.0 and wer(["a b"], [""]) == 1.0


def test_clear_errors():
    with pytest.raises(ValueError, match="2 references but 1 hypotheses"):
        cer(["a", "b"], ["a"])
    with pytest.raises(ValueError, match=r"references \[1\] are empty"):
        cer(["a", "  "], ["a", "b"])
    with pytest.raises(ValueError, match="no lines"):
        wer([], [])
