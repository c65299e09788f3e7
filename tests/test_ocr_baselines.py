"""Tesseract and RapidOCR: used when present (they read a clean rendered line), skipped with a
plain message when not (the status says what to install)."""
import shutil

import pytest

from vitcourse.ocr import render_lines
from vitcourse.ocr import baselines
from vitcourse.ocr.baselines import available_baselines, rapidocr_status, tesseract_status

LINES = ["The quick brown fox", "jumps over 3 dogs."]


def images():
    return list(render_lines(LINES, ["DejaVuSans"], seed=0, jitter=False)[0])


def test_status_messages_say_what_to_install(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    ok, why = tesseract_status()
    assert not ok and "apt-get install tesseract-ocr" in why and "pip install pytesseract" in why
    monkeypatch.setattr(baselines.importlib.util, "find_spec", lambda name: None)
    ok, why = rapidocr_status()
    assert not ok and "pip install rapidocr onnxruntime" in why
    assert available_baselines(verbose=False) == {}


def test_available_baselines_prints_one_line_each(capsys):
    found = available_baselines()
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["Tesseract", "RapidOCR"]
    assert all(("used" in line) == (line.split(":")[0] in found) for line in out)


@pytest.mark.skipif(not tesseract_status()[0], reason="tesseract or pytesseract is not installed")
def test_tesseract_reads_clean_lines():
    assert baselines.tesseract_read(images()) == LINES


@pytest.mark.skipif(not rapidocr_status()[0], reason="rapidocr or onnxruntime is not installed")
def test_rapidocr_reads_clean_lines():
    assert [t.replace(" ", "") for t in baselines.rapidocr_read(images(), threads=1)] == [t.replace(" ", "") for t in LINES]


def test_lines_must_be_grey():
    with pytest.raises(ValueError, match=r"grey \(H, W\)"):
        baselines._uint8(images()[0][None])
