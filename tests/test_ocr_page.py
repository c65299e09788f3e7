"""scikit-image's photographed page: the transcription, the lines cut by the projection profile,
light flattening, height fitting and splitting at word gaps."""
import numpy as np
import pytest

from vitcourse.ocr.page import (binarize, fit_height, flatten_light, line_spans, page_image, page_lines, page_text,
                                split_width)


def test_transcription_and_the_six_scored_lines():
    assert page_text()[0] == "Region-based segmentation" and len(page_text()) == 6
    assert page_text(scored=False)[-1] == ">>> markers = np.zeros_like(coins)"
    image = page_image()
    assert image.shape == (191, 384) and image.dtype == np.float32
    spans = line_spans(image)
    assert len(spans) == len(page_text())                                    # one crop per scored line
    tops = [a for a, _ in spans]
    assert tops == sorted(tops) and tops[0] < 20 and all(b - a >= 10 for a, b in spans)
    assert len(page_lines()) == 6


def test_binarize_finds_ink_under_uneven_light():
    ink = binarize(page_image())
    assert 0.03 < ink.mean() < 0.3 and not ink[:10].any()                   # the top margin is paper


def test_flatten_fit_and_split():
    crop = page_lines()[1]                                                   # "Let us first determine ..."
    flat = flatten_light(crop)
    assert flat.max() == 1.0 and np.median(flat) > 0.9                       # paper white again
    line = fit_height(flat, 32, 20)
    assert line.shape[0] == 32 and line.shape[1] > crop.shape[1]            # scaled up: 20-px text
    pieces = split_width(line, 128)
    assert all(p.shape == (32, 128) for p in pieces) and 3 <= len(pieces) <= 8
    ink = sum(int((p < 0.5).sum()) for p in pieces)
    assert ink == pytest.approx(int((line < 0.5).sum()), rel=0.02)          # nothing lost or doubled


def test_clear_errors():
    with pytest.raises(ValueError, match=r"grey \(H, W\)"):
        binarize(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="no ink"):
        split_width(np.ones((32, 300), np.float32), 128)
