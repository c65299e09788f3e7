"""The shipped corpus, the character tokenizer and the next-token windows."""
import pytest
import torch

from vitcourse.text import CharTokenizer, load_text, next_token_pairs


def test_corpus_ships_with_the_package_and_is_small():
    text = load_text()
    assert 10_000 < len(text.encode("utf-8")) <= 100_000
    assert text.startswith("SMALL TALES FOR SMALL MODELS") and "public domain" in text
    assert text.isascii()


def test_tokenizer_round_trip_and_sorted_vocabulary():
    tok = CharTokenizer("hello world")
    assert tok.chars == sorted(set("hello world")) and tok.vocab_size == 8
    ids = tok.encode("world hello")
    assert ids.dtype == torch.int64 and ids.shape == (11,)
    assert tok.decode(ids) == "world hello" == tok.decode(ids.tolist())
    assert tok.encode(" ")[0] == 0                               # ' ' sorts first
    text = load_text()
    assert CharTokenizer(text).decode(CharTokenizer(text).encode(text)) == text


def test_next_token_pairs_are_shifted_by_one():
    data = torch.arange(10)
    x, y = next_token_pairs(data, 4)
    assert x.shape == y.shape == (6, 4)
    assert torch.equal(y, x + 1) and x[0].tolist() == [0, 1, 2, 3] and y[-1].tolist() == [6, 7, 8, 9]
    x, y = next_token_pairs(data, 4, stride=3)
    assert x[:, 0].tolist() == [0, 3]


def test_errors():
    tok = CharTokenizer("abc")
    with pytest.raises(ValueError, match="'z'"):
        tok.encode("abz")
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="non-empty"):
        CharTokenizer("")
    with pytest.raises(ValueError, match="unknown corpus 'shakespeare'"):
        load_text("shakespeare")
    with pytest.raises(ValueError, match="block_size \\+ 1 = 11"):
        next_token_pairs(torch.arange(10), 10)
    with pytest.raises(ValueError, match="1-D"):
        next_token_pairs(torch.zeros(2, 5, dtype=torch.long), 2)
