"""train_reader: a fixed number of steps, the loss recorded per step, greedy CER measured every
eval_every steps and at the end, deterministic from the seed, clear errors."""
import pytest
import torch

from vitcourse.ocr import OCRTokenizer, as_batch, ctc_reader, render_lines, train_reader

TEXTS = ["ab", "ba", "aab", "bba"]


def setup():
    tok = OCRTokenizer("ab")
    x = as_batch(render_lines(TEXTS, ["DejaVuSans"], seed=0, height=16, width=64, size=12, jitter=False)[0])
    return tok, x


def run(seed=0):
    torch.manual_seed(0)
    tok, x = setup()
    model = ctc_reader((16, 64), tok.vocab_size, dim=16, depth=1, num_heads=2, mlp_dim=32)
    return train_reader(model, tok, x, TEXTS, steps=6, batch_size=2, eval_every=4, eval_set=(x, TEXTS), seed=seed)


def test_history_and_determinism():
    h = run()
    assert h["step"] == list(range(1, 7)) and len(h["loss"]) == 6 and h["eval_step"] == [4, 6]
    assert all(c >= 0 for c in h["eval_cer"]) and h["seconds"] > 0 and h["cpu_seconds"] > 0
    assert run()["loss"] == h["loss"] and run(seed=1)["loss"] != h["loss"]   # the seed orders the batches


def test_clear_errors():
    tok, x = setup()
    model = ctc_reader((16, 64), tok.vocab_size, dim=16, depth=1, num_heads=2, mlp_dim=32)
    with pytest.raises(ValueError, match="4 images but 3 texts"):
        train_reader(model, tok, x, TEXTS[:3], steps=1)
    with pytest.raises(ValueError, match="steps and batch_size must be positive"):
        train_reader(model, tok, x, TEXTS, steps=0)
