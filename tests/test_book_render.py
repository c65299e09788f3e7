"""The rendered book as a reader sees it: walk the built HTML of `make test-book` (or `make book`).

`make test-book` builds into _build/test and runs this file with BOOK_HTML=_build/test/_build/html
(`make check-book` checks _build/html). Without BOOK_HTML, e.g. in the unit run, every test is
skipped. The checks: Markdown that code cells printed must be rendered (no pipe tables, no raw
$...$), no absolute paths of the machine that ran the notebooks, relative links and anchors that
resolve, maths served from the book itself (offline), no test markers or placeholders in what a
reader sees. Where a headless Chromium is installed, a few pages are opened and MathJax must have
typeset their formulas.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

bs4 = pytest.importorskip("bs4")

BOOK = os.environ.get("BOOK_HTML")
pytestmark = pytest.mark.skipif(
    not BOOK, reason="BOOK_HTML is not set: `make test-book` builds the book and runs this check")

# Machine paths that must never reach a reader (tracebacks, temp folders, virtual environments).
MACHINE_PATH = re.compile(r"(?<![\w.~-])(/tmp/|/home/|/root/|/work/|/Users/)|[\w.-]*/\.venv/|site-packages/|"
                          r"[A-Z]:\\Users\\")
# A Markdown table's separator row, with or without smart dashes: | --- | :-: | or |—|—|
PIPE_TABLE = re.compile(r"\|\s*:?(?:-{3,}|[—–]+)\s*:?\s*\|")
# Unrendered inline maths: $x$ with no space just inside the dollars
RAW_DOLLAR_MATH = re.compile(r"(?<![\\$])\$(?=\S)[^$\n]{1,200}(?<=\S)\$(?!\$)")
TEST_MARKERS = re.compile(r"NBVAL_[A-Z_]+|<repository-url>|nbval-(check|ignore)-output")
EXTERNAL = ("http:", "https:", "mailto:", "data:", "javascript:", "//")
CODE_TAGS = ("pre", "code", "script", "style", "textarea")


@functools.cache
def root() -> Path:
    path = Path(BOOK)
    if not (path / "index.html").is_file():
        pytest.fail(f"BOOK_HTML={BOOK} holds no index.html: build the book first (`make test-book`)")
    return path


@functools.cache
def pages() -> tuple[Path, ...]:
    """The pages a reader opens: every .html outside the theme's _static and the _sources copies."""
    return tuple(sorted(p for p in root().rglob("*.html")
                        if not {"_static", "_sources", "_images"} & set(p.relative_to(root()).parts)))


@functools.cache
def soup(page: Path):
    return bs4.BeautifulSoup(page.read_text(encoding="utf-8"), "html.parser")


def strings(node, skip: tuple[str, ...], skip_maths: bool):
    """The text nodes under `node`, leaving out the subtrees of the `skip` tags (and of rendered maths)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, bs4.NavigableString):
            if type(item) is bs4.NavigableString:                    # not a comment, doctype, CDATA...
                yield item
        elif item.name not in skip and not (skip_maths and "math" in (item.get("class") or ())):
            stack.extend(reversed(item.contents))


def prose_strings(page: Path):
    """Visible text outside code blocks, scripts and rendered maths: where Markdown must be rendered."""
    return strings(soup(page), CODE_TAGS, skip_maths=True)


def visible_text(page: Path) -> str:
    body = soup(page).body or soup(page)                # index.html is only a redirect
    return "".join(strings(body, ("script", "style"), skip_maths=False))


def where(page: Path) -> str:
    return str(page.relative_to(root()))


def excerpt(text: str, match: re.Match, width: int = 60) -> str:
    return repr(text[max(0, match.start() - width): match.end() + width])


def test_the_book_has_its_pages():
    names = {where(p) for p in pages()}
    assert "index.html" in names and len(names) >= 10, sorted(names)
    assert any(n.startswith("notebooks/") for n in names), "no notebook pages were rendered"


def test_markdown_printed_by_code_cells_is_rendered():
    """Tables and $...$ from display(Markdown(...)) become <table>s and maths (nb_render_markdown_format: myst)."""
    problems = []
    for page in pages():
        for s in prose_strings(page):
            for pattern, what in ((PIPE_TABLE, "a Markdown table shown as text"),
                                  (RAW_DOLLAR_MATH, "maths shown as raw $...$")):
                m = pattern.search(s)
                if m:
                    problems.append(f"{where(page)}: {what}: {excerpt(str(s), m)}")
    assert not problems, "\n".join(problems)


def test_no_machine_paths():
    problems = []
    for page in pages():
        text = visible_text(page)
        found = list(MACHINE_PATH.finditer(text))
        if found:
            problems.append(f"{where(page)}: {len(found)} paths, e.g. {excerpt(text, found[0])}")
    assert not problems, ("absolute paths of the machine that ran the notebooks (fix the cell, then re-run "
                          "the notebook):\n" + "\n".join(problems))


def test_no_test_markers_or_placeholders_visible():
    problems = []
    for page in pages():
        text = visible_text(page)
        for m in TEST_MARKERS.finditer(text):
            problems.append(f"{where(page)}: {excerpt(text, m)}")
    assert not problems, "\n".join(problems)


@functools.cache
def ids(page: Path) -> set[str]:
    return {tag["id"] for tag in soup(page).find_all(id=True)} | \
           {tag["name"] for tag in soup(page).find_all("a", attrs={"name": True})}


def test_relative_links_and_anchors_resolve():
    problems = []
    for page in pages():
        for tag in soup(page).find_all(href=True) + soup(page).find_all(src=True):
            link = tag.get("href") or tag.get("src")
            if link and re.match(r"https?://[^/@\s]+@", link):
                problems.append(f"{where(page)}: a link carries credentials: {link.split('@')[-1]}")
            if not link or link.startswith(EXTERNAL) or "{{" in link:
                continue
            parts = urlsplit(link)
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                problems.append(f"{where(page)}: {link} -> missing file")
            elif parts.fragment and target.suffix == ".html" and unquote(parts.fragment) not in ids(target):
                problems.append(f"{where(page)}: {link} -> no anchor #{parts.fragment}")
    assert not problems, "\n".join(problems[:40])


def test_maths_is_served_by_the_book():
    """Every page that loads MathJax loads the book's own copy (_static/mathjax), so formulas typeset offline."""
    loaded = 0
    for page in pages():
        for script in soup(page).find_all("script", src=True):
            src = script["src"]
            if "mathjax" in src.lower() or "tex-" in src.lower():
                assert not src.startswith(EXTERNAL), f"{where(page)} loads maths from outside the book: {src}"
                assert (page.parent / urlsplit(src).path).is_file(), f"{where(page)}: {src} is missing"
                loaded += 1
    assert loaded > 0, "no page loads MathJax"
    fonts = list((root() / "_static" / "mathjax").rglob("*.woff"))
    assert fonts, "the book's MathJax has no fonts (_static/mathjax/output/chtml/fonts)"


# ---- in a real browser, where there is one ------------------------------------------------------

def browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def rendered_dom(page: Path) -> str:
    """The DOM after scripts ran (headless, offline: the page may only use what the book holds)."""
    command = [browser(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               "--virtual-time-budget=20000", "--dump-dom", page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def pages_with_maths(n: int = 3) -> list[Path]:
    chosen = []
    for wanted in ("book/class2.html", "notebooks/01_images_as_sequences.html", "notebooks/06_efficient_attention.html",
                   "book/syllabus.html"):
        page = root() / wanted
        if page.is_file() and soup(page).find(class_="math") is not None:
            chosen.append(page)
    return chosen[:n] or [p for p in pages() if soup(p).find(class_="math") is not None][:n]


@pytest.mark.skipif(browser() is None, reason="no headless Chromium here (Debian: apt-get install chromium): "
                                              "formulas not checked in a browser")
def test_formulas_are_typeset_in_a_browser():
    chosen = pages_with_maths()
    assert chosen, "no page with maths"
    for page in chosen:
        dom = bs4.BeautifulSoup(rendered_dom(page), "html.parser")
        spans = dom.find_all(class_="math")
        typeset = [s for s in spans if s.find("mjx-container") is not None]
        assert len(spans) > 0 and len(typeset) == len(spans), (
            f"{where(page)}: {len(typeset)} of {len(spans)} formulas typeset by MathJax; first raw one: "
            f"{next((s.get_text()[:80] for s in spans if s.find('mjx-container') is None), '')!r}")
