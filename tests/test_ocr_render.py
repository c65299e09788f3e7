"""The line renderer: deterministic from a seed, draws exactly the string asked for (the font's own
glyph mask, at the asked place), options change what they say, clear errors."""
import numpy as np
import pytest

from vitcourse.ocr import FONTS, HELD_OUT_FONTS, TRAIN_FONTS, corpus_lines, font_path, render_line, render_lines
from vitcourse.ocr.render import _font


def test_every_font_ships_with_matplotlib():
    assert set(TRAIN_FONTS) | set(HELD_OUT_FONTS) <= set(FONTS) and not set(TRAIN_FONTS) & set(HELD_OUT_FONTS)
    for name in FONTS:
        assert font_path(name).is_file()


def test_deterministic_from_the_seed():
    texts = corpus_lines(6, seed=3)
    assert texts == corpus_lines(6, seed=3) and texts != corpus_lines(6, seed=4)
    a, _, fa = render_lines(texts, TRAIN_FONTS, seed=1, noise=0.2, blur=1.0)
    b, _, fb = render_lines(texts, TRAIN_FONTS, seed=1, noise=0.2, blur=1.0)
    c, _, _ = render_lines(texts, TRAIN_FONTS, seed=2, noise=0.2, blur=1.0)
    assert np.array_equal(a, b) and fa == fb and not np.array_equal(a, c)
    assert a.shape == (6, 32, 256) and a.dtype == np.float32 and 0 <= a.min() and a.max() <= 1


@pytest.mark.parametrize("text, font", [("Hello, world!", "DejaVuSans"), ("quiet fox", "cmtt10"),
                                        ("Tale 0", "STIXGeneral-Italic")])
def test_draws_the_string_asked_for(text, font):
    # the ink is the font's own glyph mask of `text`, placed at the margin: nothing more, nothing less
    image = render_line(text, font, height=40, width=300, size=20, x=5)
    f = _font(font, 20)
    mask = np.asarray(f.getmask(text, anchor="lm"), dtype=np.uint8).reshape(f.getmask(text, anchor="lm").size[::-1])
    left, top = f.getbbox(text, anchor="lm")[:2]
    expected = np.zeros((40, 300), np.float32)
    expected[20 + top: 20 + top + mask.shape[0], 5 + left: 5 + left + mask.shape[1]] = mask / 255
    assert np.abs((1 - image) - expected).max() < 1.5 / 255
    assert not np.array_equal(image, render_line(text[:-1] + "#", font, height=40, width=300, size=20, x=5))


def test_options_do_what_they_say():
    clean = render_line("abc", "DejaVuSerif")
    assert clean.max() == 1.0 and clean.min() == 0.0                   # white paper, black ink
    assert render_line("abc", "DejaVuSerif", contrast=0.5).min() == pytest.approx(128 / 255, abs=1 / 255)
    blurred = render_line("abc", "DejaVuSerif", blur=1.5)
    assert blurred.min() > clean.min() and np.abs(blurred - clean).mean() > 0
    noisy = render_line("abc", "DejaVuSerif", noise=0.25, rng=0)
    assert np.array_equal(noisy, render_line("abc", "DejaVuSerif", noise=0.25, rng=0))
    assert 0.05 < np.abs(noisy - clean).mean() < 0.25
    shifted = render_line("abc", "DejaVuSerif", x=20)
    assert np.argmin(shifted.min(0)) > np.argmin(clean.min(0)) + 10


def test_noisy_fraction():
    texts = ["abc"] * 20
    images, _, _ = render_lines(texts, ["DejaVuSans"], seed=0, jitter=False, noise=0.3, noisy_fraction=0.5)
    noisy = [(img.std() > 0.2) for img in images]
    assert 3 <= sum(noisy) <= 17


def test_clear_errors():
    with pytest.raises(ValueError, match=r"unknown font 'Comic Sans'.*expected one of"):
        render_line("abc", "Comic Sans")
    with pytest.raises(ValueError, match="is empty"):
        render_line("   ")
    with pytest.raises(ValueError, match="line break"):
        render_line("a\nb")
    with pytest.raises(ValueError, match=r"font 'DejaVuSans' has no glyph for '漢'"):
        render_line("kanji 漢")
    with pytest.raises(ValueError, match=r"px wide in DejaVuSans at size 20, longer than the line: width=64"):
        render_line("a much longer line than fits", width=64)
    with pytest.raises(ValueError, match="contrast must be in"):
        render_line("abc", contrast=0)
