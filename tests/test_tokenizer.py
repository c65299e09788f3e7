"""WordTokenizer: vocabulary, id layout (EOS largest), padding, EOS positions, round trips, errors."""
import pytest
import torch

from vitcourse.tokenizer import WordTokenizer, eos_positions, split_words

CAPTIONS = ["a small red circle on the left", "a big blue square on the right", "A red circle left of a blue ring."]


def test_split_words_lowercases_and_keeps_punctuation():
    assert split_words("A red circle, left.") == ["a", "red", "circle", ",", "left", "."]


def test_vocabulary_is_sorted_words_with_specials_in_openai_layout():
    tok = WordTokenizer(CAPTIONS)
    words = sorted({w for c in CAPTIONS for w in split_words(c)})
    assert tok.itos == ["<pad>", "<unk>", *words, "<bos>", "<eos>"]
    assert (tok.pad_id, tok.unk_id) == (0, 1)
    assert (tok.bos_id, tok.eos_id) == (tok.vocab_size - 2, tok.vocab_size - 1)
    assert WordTokenizer(reversed(CAPTIONS)).itos == tok.itos          # order of the texts does not matter


def test_encode_and_batch_encode_pad_after_eos():
    tok = WordTokenizer(CAPTIONS)
    ids = tok.encode("a red circle")
    assert ids[0] == tok.bos_id and ids[-1] == tok.eos_id and len(ids) == 5
    batch = tok(["a red circle", "a big blue square on the right"], context_length=10)
    assert batch.shape == (2, 10) and batch.dtype == torch.int64
    assert batch[0, :5].tolist() == ids and (batch[0, 5:] == tok.pad_id).all()
    assert tok(CAPTIONS).shape == (3, tok.context_length)              # default: longest caption + 2
    assert tok.context_length == max(len(split_words(c)) for c in CAPTIONS) + 2


def test_eos_is_first_eos_and_argmax():
    tok = WordTokenizer(CAPTIONS)
    batch = tok(["a red circle", "a big blue square on the right", "ring"], context_length=12)
    pos = tok.eos_positions(batch)
    assert pos.tolist() == [4, 8, 2]
    assert torch.equal(pos, batch.argmax(dim=-1))                       # EOS is the largest id


def test_decode_round_trip_and_specials():
    tok = WordTokenizer(CAPTIONS)
    batch = tok(CAPTIONS, context_length=12)
    assert tok.batch_decode(batch) == [" ".join(split_words(c)) for c in CAPTIONS]
    raw = tok.decode(batch[0], skip_special_tokens=False).split()
    assert raw[0] == "<bos>" and "<eos>" in raw and raw[-1] == "<pad>"


def test_unknown_words_become_unk_or_raise_when_strict():
    tok = WordTokenizer(CAPTIONS)
    assert tok.encode("a green circle")[2] == tok.unk_id
    with pytest.raises(ValueError, match="unknown words \\['green'\\]"):
        tok.encode("a green circle", strict=True)
    with pytest.raises(ValueError, match="unknown words"):
        tok(["a green circle"], strict=True)


def test_too_long_raises_or_truncates_keeping_eos():
    tok = WordTokenizer(CAPTIONS)
    with pytest.raises(ValueError, match="longer than context_length=4"):
        tok(["a small red circle"], context_length=4)
    ids = tok(["a small red circle"], context_length=4, truncate=True)
    assert ids[0].tolist() == [tok.bos_id, tok.stoi["a"], tok.stoi["small"], tok.eos_id]


def test_from_vocabulary():
    tok = WordTokenizer.from_vocabulary(["red", "circle", "a"], context_length=6)
    assert tok.words == ["a", "circle", "red"] and tok.context_length == 6
    with pytest.raises(ValueError, match="single lower-case tokens"):
        WordTokenizer.from_vocabulary(["red circle"])
    built = WordTokenizer(CAPTIONS)                      # saving a tokenizer = saving words + context_length
    again = WordTokenizer.from_vocabulary(built.words, built.context_length)
    assert again.itos == built.itos and torch.equal(again(CAPTIONS), built(CAPTIONS))


def test_bad_inputs():
    with pytest.raises(TypeError, match="list of texts"):
        WordTokenizer("a red circle")
    with pytest.raises(ValueError, match="at least one text"):
        WordTokenizer(["", "  "])
    with pytest.raises(ValueError, match="context_length must be >= 3"):
        WordTokenizer(CAPTIONS, context_length=2)
    tok = WordTokenizer(CAPTIONS)
    with pytest.raises(ValueError, match="ids must be integers in"):
        tok.decode([0, tok.vocab_size])
    with pytest.raises(ValueError, match="rows \\[1\\] have no <eos>"):
        eos_positions(torch.tensor([[5, tok.eos_id], [5, 6]]), tok.eos_id)
    with pytest.raises(ValueError, match="\\(B, T\\)"):
        eos_positions(torch.tensor([1, 2]), 2)
