"""What IPython would run, as plain Python with the same line numbers (IPython's own transformation).

`%time f()` runs `f()`; other line magics, `!shell` and `obj?` do nothing (`pass`); a cell whose
first line is `%%time` or `%%capture` runs its body; other cell magics (`%%bash`, `%%html`, ...)
run no Python; `%%writefile name` cells are files (`writefile`). A byte-order mark and CRLF or CR
line ends are accepted.
"""
from __future__ import annotations

import ast
import re
import threading

# CPython 3.11 keeps the AST converter's recursion counter in shared module state: two threads
# parsing at once (the grader grades submissions in a thread pool) can fail with "SystemError: AST
# constructor recursion depth mismatch". Every parse of the grading process goes through this lock.
AST_LOCK = threading.RLock()


def parse(source: str, **kwargs) -> ast.Module:
    """`ast.parse` under the grader's AST lock (thread-safe on CPython 3.11)."""
    with AST_LOCK:
        return ast.parse(source, **kwargs)

_MAGIC = re.compile(r"^\s*(%|!|\?)|^\s*\w[\w.]*\?\??\s*$")


def normalise(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


_RUN_CODE = {"time", "capture"}                      # cell magics whose body IPython runs as Python
_LINE = re.compile(r"^(\s*)get_ipython\(\)\.(run_line_magic|system|run_cell_magic)\((.*)\)\s*$")


def _line_magic(match) -> str:
    indent, kind, args = match.groups()
    if kind == "run_line_magic":
        try:
            with AST_LOCK:
                name, arg = ast.literal_eval(f"({args})")
        except (ValueError, SyntaxError):
            return indent + "pass"
        if name == "time" and arg.strip():
            return indent + arg.strip()
    return indent + "pass"


def strip_magics(source: str) -> str:
    """What IPython would run, as plain Python, keeping line numbers: `%time f()` -> `f()`, other line
    magics and `!shell` -> `pass`, `obj?` -> `pass`; cell magics other than %%time/%%capture -> nothing."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        if lines[first].split()[0][2:] not in _RUN_CODE:
            return "\n" * (len(lines) - 1)
        lines[first] = ""
        source = "\n".join(lines)
    try:
        from IPython.core.inputtransformer2 import TransformerManager
    except ImportError:                                   # without IPython: blank the obvious magic lines
        return "\n".join("" if _MAGIC.match(line) else line for line in source.split("\n"))
    out = TransformerManager().transform_cell(source)
    out_lines = out.split("\n")
    if out.endswith("\n") and not source.endswith("\n"):
        out_lines = out_lines[:-1]
    if len(out_lines) != len(source.split("\n")):       # a transformation that moved lines: the safe way
        return "\n".join("" if _MAGIC.match(line) else line for line in source.split("\n"))
    return "\n".join(_LINE.sub(_line_magic, line) for line in out_lines)


def writefile(source: str):
    """(file name, text, append?) of a `%%writefile [-a] name` cell, else None."""
    lines = source.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].lstrip().startswith(("%%writefile", "%%file")):
        return None
    words = lines[first].split()[1:]
    append = bool(words) and words[0] in ("-a", "--append")
    name = " ".join(words[1:] if append else words).strip("'\"")
    return (name, "\n".join(lines[first + 1:]), append) if name else None
