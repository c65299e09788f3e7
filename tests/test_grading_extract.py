"""Taking a submission's definitions (and only those), and flagging use of the reference implementation."""
import json

import pytest

from vitcourse.grading.extract import extract_definitions, extract_file, strip_magics
from vitcourse.grading.flags import vitcourse_uses

ALLOWED = ("vitcourse.data", "vitcourse.train")


def kept(*cells, roots=None):
    ext = extract_definitions(list(enumerate(cells, start=1)), roots)
    return [(s.kind, s.names) for s in ext.statements], ext.problems


def test_definitions_kept_experiments_dropped():
    got, problems = kept("""
import torch
from torch import nn as tnn
PATCH = 4
SIZES = (2, 4, PATCH)
DTYPE = torch.float32

def f(x):
    return x * PATCH

class M(tnn.Module):
    pass

model = M()
history = fit(model)
for epoch in range(100):
    train()
print("accuracy", 0.99)
if __name__ == "__main__":
    f(1)
""")
    assert got == [("import", ("torch",)), ("import", ("tnn",)), ("constant", ("PATCH",)), ("constant", ("SIZES",)),
                   ("constant", ("DTYPE",)), ("def", ("f",)), ("class", ("M",))]
    assert problems == []


def test_computed_assignment_kept_only_when_graded_code_needs_it():
    cells = ["from pathlib import Path\nROOT = Path('.').resolve()\nCACHE = ROOT / 'x'\nother = Path('y')",
             "def graded():\n    return CACHE\n\ndef helper():\n    return other\n"]
    got, _ = kept(*cells, roots=["graded"])
    assert ("computed", ("ROOT",)) in got and ("constant", ("CACHE",)) in got
    assert ("computed", ("other",)) not in got
    got, _ = kept(*cells)                                     # default roots: every function and class
    assert ("computed", ("other",)) in got


def test_local_names_do_not_pull_in_experiments():
    got, _ = kept("x = train_forever()\n", "def f(images):\n    x = images + 1\n    return x\n", roots=["f"])
    assert ("computed", ("x",)) not in got


def test_constant_reading_an_unkept_name_is_dropped():
    got, _ = kept("by = {r: 1 for r in range(3)}\na = by[0]\nb = 2\n")
    assert got == [("constant", ("b",))]


def test_syntax_error_skips_only_that_cell():
    got, problems = kept("def ok():\n    return 1", "def broken(:\n    pass", "def also_ok():\n    return 2")
    assert [n for _, n in got] == [("ok",), ("also_ok",)]
    assert problems == ["cell 2 has a syntax error (line 1: invalid syntax); its definitions were not graded"]


def test_magics_blanked_keeping_line_numbers():
    src = "%matplotlib inline\n!pip install x\nimport os\nos?\ndef f():\n    return 1"
    assert strip_magics(src).split("\n") == ["pass", "pass", "import os", "pass", "def f():", "    return 1"]
    got, problems = kept(src)
    assert [k for k, _ in got] == ["import", "def"] and not problems
    ext = extract_definitions([(3, src)])
    assert ext.statements[1].line == 5 and ext.statements[1].cell == 3


def test_decorated_function_keeps_its_decorator_and_line():
    ext = extract_definitions([(1, "import torch\n\n@torch.no_grad()\ndef f(x):\n    return x\n")])
    assert ext.statements[1].source.startswith("@torch.no_grad()") and ext.statements[1].line == 3


def test_notebook_reading_skips_markdown_and_instructor_cells(tmp_path):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "def not_code(): pass"},
             {"cell_type": "code", "metadata": {}, "source": ["def a():\n", "    return 1\n"]},
             {"cell_type": "code", "metadata": {"tags": ["instructor"]}, "source": "def hidden(): pass"}]
    path = tmp_path / "s.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    ext = extract_file(path)
    assert [s.names for s in ext.statements] == [("a",)]
    bad = tmp_path / "bad.ipynb"
    bad.write_text("not json")
    with pytest.raises(ValueError, match="not a readable notebook"):
        extract_file(bad)


@pytest.mark.parametrize("source, flagged", [
    ("from vitcourse.patches import patchify", {"patchify": ["vitcourse.patches.patchify"]}),
    ("from vitcourse import patchify as p\ndef patchify(x, s):\n    return p(x, s)",
     {"patchify": ["vitcourse.patchify"]}),
    ("import vitcourse.patches as vp\ndef _h(x, s):\n    return vp.patchify(x, s)\ndef patchify(x, s):\n    return _h(x, s)",
     {"patchify": ["vitcourse.patches.patchify"]}),
    ("import vitcourse\nclass PatchEmbedding(vitcourse.patches.PatchEmbed):\n    pass",
     {"PatchEmbedding": ["vitcourse.patches.PatchEmbed"]}),
    ("import vitcourse\ndef patchify(x, s):\n    return getattr(vitcourse, 'patchify')(x, s)",
     {"patchify": ["vitcourse"]}),
    ("import importlib\ndef patchify(x, s):\n    return importlib.import_module('vitcourse.patches').patchify(x, s)",
     {"patchify": ["vitcourse.patches (named in a string: a dynamic import?)"]}),
    ("import vitcourse\npatchify = vitcourse.patches.patchify", {"patchify": ["vitcourse.patches.patchify"]}),
])
def test_reference_implementation_flagged(source, flagged):
    assert vitcourse_uses(extract_definitions([(1, source)]), ("patchify", "PatchEmbedding"), ALLOWED) == flagged


@pytest.mark.parametrize("source", [
    "from vitcourse.data import load_digits\ndef patchify(x, s):\n    load_digits\n    return x",
    "import vitcourse\ndef patchify(x, s):\n    vitcourse.train.fit\n    return x",
    "import vitcourse\nfrom pathlib import Path\nROOT = Path(vitcourse.__file__)\ndef patchify(x, s):\n    return ROOT",
    "from vitcourse.patches import patchify as ref\ndef patchify(x, s):\n    return x\ndef compare():\n    return ref",
    "def patchify(x, s):\n    return open('/tmp/vitcourse_cache.txt')",
])
def test_allowed_uses_not_flagged(source):
    assert vitcourse_uses(extract_definitions([(1, source)]), ("patchify",), ALLOWED) == {}


def test_parsing_in_many_threads_at_once_is_safe():
    """CPython 3.11 shares the AST converter's recursion counter between threads; the grader's
    thread pool must not see 'AST constructor recursion depth mismatch' (a real CI failure)."""
    import concurrent.futures
    from vitcourse.grading.magics import parse
    deep = "x = " + "(" * 40 + "1" + ")" * 40 + "\n" + "def f(a):\n    return [[[[a]]]]\n" * 50
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        trees = list(pool.map(lambda _: parse(deep), range(64)))
    assert all(len(t.body) == 51 for t in trees)
