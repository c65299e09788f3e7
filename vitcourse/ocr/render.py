"""Text lines rendered with the TrueType fonts that ship inside matplotlib: SynthDoG's idea (Donut,
Kim et al. 2022, Section 2: synthetic documents teach reading) in miniature.

A line is a grey image (H, W), float32 in [0, 1], paper 1 and ink 0 (dark on light, as scanners
and Tesseract expect), drawn with Pillow at a fixed height. Optional jitter, font-size changes,
contrast, rotation, Gaussian blur and Gaussian noise make it harder. Everything is deterministic
from a seed. Fonts: DejaVu Sans/Serif/Mono, STIX and Computer Modern (matplotlib's `mpl-data/fonts/ttf`).
"""
from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

FONTS = {"DejaVuSans": "DejaVuSans.ttf", "DejaVuSerif": "DejaVuSerif.ttf", "DejaVuSansMono": "DejaVuSansMono.ttf",
         "DejaVuSerif-Italic": "DejaVuSerif-Italic.ttf", "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
         "STIXGeneral": "STIXGeneral.ttf", "STIXGeneral-Italic": "STIXGeneralItalic.ttf",
         "cmr10": "cmr10.ttf", "cmtt10": "cmtt10.ttf"}
TRAIN_FONTS = ("DejaVuSans", "DejaVuSerif")
HELD_OUT_FONTS = ("DejaVuSansMono", "cmtt10", "STIXGeneral-Italic")   # never seen in training


def font_path(font: str) -> Path:
    """The .ttf file of a font name in FONTS (or a path to any .ttf file)."""
    if not isinstance(font, (str, Path)):
        raise TypeError(f"font must be a font name or a .ttf path, got {type(font).__name__}")
    if str(font) in FONTS:
        import matplotlib
        return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / FONTS[str(font)]
    if Path(font).suffix.lower() in (".ttf", ".otf") and Path(font).is_file():
        return Path(font)
    raise ValueError(f"unknown font {str(font)!r}: expected one of {sorted(FONTS)} or the path of a .ttf file")


@functools.lru_cache(maxsize=64)
def _font(font: str, size: int):
    from PIL import ImageFont
    return ImageFont.truetype(str(font_path(font)), size)


@functools.lru_cache(maxsize=16)
def _glyphs(font: str):
    from matplotlib.ft2font import FT2Font
    return FT2Font(str(font_path(font)))


def text_width(text: str, font: str = "DejaVuSans", size: int = 20) -> float:
    """Width in pixels of `text` drawn in `font` at `size` px."""
    return _font(font, size).getlength(text)


def check_text(text: str, font: str = "DejaVuSans") -> None:
    """ValueError for an empty text, a line break, or a character the font has no glyph for."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text.strip():
        raise ValueError(f"text {text!r} is empty: a line needs at least one visible character")
    if "\n" in text or "\r" in text:
        raise ValueError(f"text {text!r:.40} holds a line break: render one line at a time")
    ft = _glyphs(str(font))
    missing = sorted({c for c in text if ft.get_char_index(ord(c)) == 0})
    if missing:
        raise ValueError(f"font {font!r} has no glyph for {''.join(missing)!r}: choose another font or text")


def render_line(text: str, font: str = "DejaVuSans", height: int = 32, width: int = 256, size: int = 20, *,
                x: float = 4.0, dy: float = 0.0, rotation: float = 0.0, contrast: float = 1.0, blur: float = 0.0,
                noise: float = 0.0, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """One line of text -> (height, width) float32 image in [0, 1] (paper 1, ink 1 - contrast).

    x: left margin (px); dy: vertical shift of the line's middle (px); rotation: degrees; blur: the
    Gaussian's sigma (px); noise: the standard deviation of Gaussian pixel noise (`rng` draws it).
    A text wider than the line (`width - x`) is an error: the reader has a fixed maximum width."""
    from PIL import Image, ImageDraw, ImageFilter

    check_text(text, font)
    w = text_width(text, font, size)
    if x + w > width:
        raise ValueError(f"{text!r:.60} is {w:.0f} px wide in {font} at size {size}, longer than the line: "
                         f"width={width} with a {x:g} px margin; shorten the text or raise width")
    if not 0 < contrast <= 1:
        raise ValueError(f"contrast must be in (0, 1] (1 = black ink on white), got {contrast}")
    image = Image.new("L", (width, height), 255)
    ImageDraw.Draw(image).text((x, height / 2 + dy), text, font=_font(font, size), fill=round(255 * (1 - contrast)),
                               anchor="lm")
    if rotation:
        image = image.rotate(rotation, resample=Image.BILINEAR, fillcolor=255)
    if blur > 0:
        image = image.filter(ImageFilter.GaussianBlur(blur))
    out = np.asarray(image, dtype=np.float32) / 255.0                      # (H, W)
    if noise > 0:
        out = out + noise * np.random.default_rng(rng).standard_normal(out.shape).astype(np.float32)
    return np.clip(out, 0.0, 1.0)


def render_lines(texts, fonts=TRAIN_FONTS, seed: int = 0, height: int = 32, width: int = 256, size: int = 20, *,
                 jitter: bool = True, noise: float = 0.0, blur: float = 0.0, noisy_fraction: float = 1.0,
                 rotation: float = 0.0) -> tuple[np.ndarray, list[str], list[str]]:
    """Render each text in a font drawn from `fonts`: (images (N, H, W), texts, fonts used).

    jitter: a random left margin (2-10 px, as room allows), vertical shift (+-2 px) and size (+-2 px);
    a `noisy_fraction` of the lines get `blur` and `noise`; rotation: up to +-`rotation` degrees."""
    texts = [texts] if isinstance(texts, str) else list(texts)
    fonts = [fonts] if isinstance(fonts, str) else list(fonts)
    if not texts or not fonts:
        raise ValueError("render_lines needs at least one text and one font")
    rng = np.random.default_rng(seed)
    images, used = np.empty((len(texts), height, width), np.float32), []
    for i, text in enumerate(texts):
        font = fonts[rng.integers(len(fonts))]
        s = size + (int(rng.integers(-2, 3)) if jitter else 0)
        while s > 6 and text_width(text, font, s) + 4 > width:                # a long text gets a smaller size
            s -= 1
        room = width - text_width(text, font, s) - 2
        x = float(rng.uniform(2, min(10, room))) if jitter and room > 2 else 2.0
        noisy = rng.random() < noisy_fraction
        images[i] = render_line(text, font, height, width, s, x=x, dy=float(rng.uniform(-2, 2)) if jitter else 0.0,
                                rotation=float(rng.uniform(-rotation, rotation)) if rotation else 0.0,
                                blur=blur if noisy else 0.0, noise=noise if noisy else 0.0, rng=rng)
        used.append(font)
    return images, texts, used


def corpus_lines(n: int, seed: int = 0, max_chars: int = 24, min_chars: int = 3, text: str | None = None) -> list[str]:
    """n lines of consecutive words from the course's corpus (`vitcourse/assets/small_tales.txt`),
    each at most `max_chars` characters: word spans starting at random places, deterministic from `seed`."""
    from ..text import load_text

    words = (text if text is not None else load_text()).split()
    if not words:
        raise ValueError("the text has no words")
    rng, lines = np.random.default_rng(seed), []
    while len(lines) < n:
        start, line = int(rng.integers(len(words))), ""
        take = int(rng.integers(1, 6))                       # 1 to 5 words
        for word in words[start: start + take]:
            if len(line) + len(word) + bool(line) > max_chars:
                break
            line = f"{line} {word}" if line else word
        if len(line) >= min_chars:
            lines.append(line)
    return lines
