"""Real, pre-trained OCR engines as baselines, each used when present and skipped with a plain
message otherwise.

- Tesseract 5 (Smith 2007, "An Overview of the Tesseract OCR Engine"; since version 4 an LSTM line
  recogniser): the `tesseract-ocr` system package (`apt-get install tesseract-ocr tesseract-ocr-eng`,
  `brew install tesseract`) plus `pip install pytesseract`, reading each line in its single-line
  mode (`--psm 7`); a call is a process (about 0.25 s), so two run at a time.
- RapidOCR (`pip install rapidocr onnxruntime`): PaddleOCR's PP-OCR detector and CTC recogniser
  (Du et al. 2020, arXiv 2009.09941) exported to ONNX; its wheel carries the models, so it runs
  offline. Lines are read with the recogniser alone (`use_det=False`).

Both take lines as the renderer draws them: (N, H, W) float arrays in [0, 1], dark ink on white.
"""
from __future__ import annotations

import importlib.util
import shutil

import numpy as np

_ENGINES: dict = {}


def tesseract_status() -> tuple[bool, str]:
    """(available, why): needs the tesseract program and the pytesseract package."""
    if shutil.which("tesseract") is None:
        return False, ("Tesseract is not installed (the tesseract program is not on PATH): install it with "
                       "`apt-get install tesseract-ocr tesseract-ocr-eng` (Debian/Ubuntu) or `brew install tesseract`, "
                       "and `pip install pytesseract`")
    if importlib.util.find_spec("pytesseract") is None:
        return False, "the tesseract program is installed but pytesseract is not: `pip install pytesseract`"
    import pytesseract
    return True, f"Tesseract {pytesseract.get_tesseract_version()} (via pytesseract)"


def rapidocr_status() -> tuple[bool, str]:
    """(available, why): needs the rapidocr and onnxruntime packages."""
    missing = [m for m in ("rapidocr", "onnxruntime") if importlib.util.find_spec(m) is None]
    if missing:
        return False, f"RapidOCR is not installed ({', '.join(missing)} missing): `pip install rapidocr onnxruntime`"
    from importlib.metadata import version
    return True, f"RapidOCR {version('rapidocr')} (PP-OCR models bundled in its wheel, ONNX Runtime)"


def _uint8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"a line must be a grey (H, W) image, got shape {image.shape}")
    return (np.clip(image, 0, 1) * 255).round().astype(np.uint8) if image.dtype != np.uint8 else image


def tesseract_read(lines, psm: int = 7, workers: int = 2) -> list[str]:
    """Read each line with Tesseract in single-line mode (`--psm 7`): a list of strings, one per line.

    Each call is a tesseract process (about 0.25 s, mostly start-up), so `workers` of them run at
    once, each limited to one OpenMP thread (OMP_THREAD_LIMIT=1)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    import pytesseract
    from PIL import Image

    images = [Image.fromarray(_uint8(x)) for x in lines]
    saved = os.environ.get("OMP_THREAD_LIMIT")
    os.environ["OMP_THREAD_LIMIT"] = "1"                         # inherited by the tesseract processes
    try:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            texts = list(pool.map(lambda im: pytesseract.image_to_string(im, config=f"--psm {psm}"), images))
    finally:
        if saved is None:
            os.environ.pop("OMP_THREAD_LIMIT", None)
        else:
            os.environ["OMP_THREAD_LIMIT"] = saved
    return [" ".join(t.split()) for t in texts]


def _rapidocr(threads: int):
    if threads not in _ENGINES:
        from rapidocr import RapidOCR
        _ENGINES[threads] = RapidOCR(params={"Global.log_level": "error", "Global.text_score": 0.0,
                                             "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                                             "EngineConfig.onnxruntime.inter_op_num_threads": 1})
    return _ENGINES[threads]


def rapidocr_read(lines, threads: int = 2) -> list[str]:
    """Read each line with RapidOCR's recogniser (no detection): a list of strings, one per line."""
    engine, out = _rapidocr(threads), []
    for x in lines:
        rgb = np.repeat(_uint8(x)[:, :, None], 3, axis=2)
        result = engine(rgb, use_det=False, use_cls=False, use_rec=True)
        out.append(" ".join(t for t in (result.txts or ()) if t))
    return out


BASELINES = {"Tesseract": (tesseract_status, tesseract_read), "RapidOCR": (rapidocr_status, rapidocr_read)}


def available_baselines(verbose: bool = True) -> dict:
    """{name: read_function} for the engines installed here; prints one line per engine."""
    found = {}
    for name, (status, reader) in BASELINES.items():
        ok, why = status()
        if verbose:
            print(f"{name}: {'used' if ok else 'skipped'}: {why}")
        if ok:
            found[name] = reader
    return found
