"""The submission's process: plain data only, limits, the watchdog with resume, the audit hook."""
import textwrap

import numpy as np
import pytest

from vitcourse.grading import codec, pkgtree
from vitcourse.grading.assignments import get_assignment
from vitcourse.grading.extract import extract_definitions
from vitcourse.grading.isolation import UNSAFE
from vitcourse.grading.reference import reference_data
from vitcourse.grading.sandbox import Limits, run_submission

from test_grading_hostile import NEEDS_BWRAP

FAST = Limits(timeout=3.0, memory_mb=512, cpu_s=30, total_timeout=120, isolate=UNSAFE)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return pkgtree.build(tmp_path_factory.mktemp("tree"), get_assignment("tp1").allowed_vitcourse).parent


def job(tree, source: str, tests=("token_stats",), protected=()):
    a = get_assignment("tp1")
    data = reference_data("tp1")
    ext = extract_definitions([(1, textwrap.dedent(source))])
    return {"assignment": "tp1", "protected": [str(p) for p in protected], "mpl_dir": None, "tree": str(tree),
            "allowed": pkgtree.modules(tree / "vitcourse"), "files": ext.files,
            "preload": ["torch", "numpy"], "limits": {"memory_mb": 512, "cpu_s": 30, "fsize_mb": 4},
            "statements": [{"cell": s.cell, "line": s.line, "source": s.source} for s in ext.statements],
            "tests": [{"name": n, "graded": list(a.test(n).graded), "inputs": codec.encode(data[n]["inputs"])}
                      for n in tests]}


def stats(expr: str) -> str:
    """A token_stats whose three numbers are `expr` (evaluated in the submission's process)."""
    return f"def token_stats(image_size, patch_size, dim, in_channels=1):\n" \
           f"    v = {expr}\n    return {{'num_tokens': v, 'attention_entries': v, 'embed_params': v}}\n"


def values(outcome, test="token_stats"):
    return outcome.results[test]["output"]["0"]["num_tokens"]


# --- codec ---------------------------------------------------------------------------------------

def test_codec_round_trip():
    import torch
    data = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "t": torch.ones(2, dtype=torch.int64), "n": 1.5,
            "s": "text", "l": [True, None, {"nan": float("nan")}]}
    back = codec.loads(codec.dumps(data))
    assert back["a"].dtype == np.float32 and np.array_equal(back["a"], data["a"])
    assert back["t"].tolist() == [1, 1] and back["n"] == 1.5 and back["s"] == "text"
    assert back["l"][:2] == [True, None] and np.isnan(back["l"][2]["nan"])


@pytest.mark.parametrize("data, words", [
    ({"__array__": True, "dtype": "object", "shape": [1], "data": [1]}, "unsupported array dtype"),
    ({"__array__": True, "dtype": "float32", "shape": [3], "data": [1, 2]}, "needs 3 values"),
    ({"__array__": True, "dtype": "float32", "shape": [2], "data": ["1", 2]}, "must be numbers"),
    ({"__array__": True, "dtype": "bool", "shape": [1], "data": [1]}, "non-bool"),
    ({"__array__": True, "dtype": "float32", "shape": [10**7], "data": []}, "needs"),
    ([[[[[[[[[[1]]]]]]]]]], "nested too deeply"),
])
def test_codec_refuses_malformed_data(data, words):
    with pytest.raises(codec.DecodeError, match=words):
        codec.decode(data)


def test_codec_refuses_objects():
    with pytest.raises(ValueError, match="cannot send a object"):
        codec.encode(object())
    with pytest.raises(codec.DecodeError, match="not valid JSON"):
        codec.loads("{'a': 1}")


def test_limits_are_checked():
    with pytest.raises(ValueError, match="Limits.timeout must be positive"):
        Limits(timeout=0)
    with pytest.raises(ValueError, match="isolate"):
        Limits(isolate="chroot")


# --- the process ---------------------------------------------------------------------------------

def test_plain_run_in_a_fresh_directory_with_a_scrubbed_environment(monkeypatch, tree):
    monkeypatch.setenv("VITCOURSE_TEST_SECRET", "do-not-leak")
    src = "import os\n" + stats("len(os.environ.get('VITCOURSE_TEST_SECRET', '')) + 10 * len(os.listdir('.'))"
                                " + 100 * ('vitcourse-grade-' not in os.getcwd())")
    out = run_submission(job(tree, src), FAST)
    assert values(out) == 0 and out.processes == 1 and not out.loads and not out.blocked


def test_timeout_costs_only_its_own_test_and_resumes(tree):
    src = "def position_similarity(pe):\n    while True:\n        pass\n" + stats("64")
    out = run_submission(job(tree, src, tests=("position_similarity", "token_stats")), FAST)
    assert out.results["position_similarity"] == {"failure": "timed out after 3 s (an infinite loop, or far too slow)"}
    assert values(out) == 64 and out.processes == 2


def test_crash_while_loading_skips_that_statement(tree):
    src = "import os\nclass Boom:\n    os._exit(3)\n" + stats("7")
    out = run_submission(job(tree, src), FAST)
    assert out.loads == {1: "the process exited with status 3 (os._exit, or a crash)"}
    assert values(out) == 7 and out.processes == 2


def test_memory_limit_raises_memory_error_in_the_submission(tree):
    out = run_submission(job(tree, stats("len(bytearray(2 * 10**9))")), FAST)
    assert out.results["token_stats"]["output"]["0"] == {"error": "MemoryError (cell 1, line 2)"}


def test_writes_outside_and_reads_of_protected_paths_are_blocked(tmp_path, tree):
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "answers.txt").write_text("42")
    target = tmp_path / "written.txt"
    src = f"""
from pathlib import Path
def _try(fn):
    try:
        fn()
        return 1
    except PermissionError:
        return 0
    except OSError:
        return 0
""" + stats(f"_try(lambda: Path({str(target)!r}).write_text('x')) + 10 * _try(lambda: Path({str(secret)!r}, "
            f"'answers.txt').read_text()) + 100 * _try(lambda: Path('mine.txt').write_text('ok'))")
    out = run_submission(job(tree, src, protected=[secret]), FAST)
    assert values(out) == 100 and not target.exists()
    assert any(b.startswith("writing") for b in out.blocked)


def test_processes_sockets_and_ctypes_are_refused(tree):
    src = """
import socket, subprocess, ctypes
def _refused(fn):
    try:
        fn()
    except PermissionError:
        return 1
    except Exception:
        return 0
    return 0
""" + stats("_refused(lambda: subprocess.run(['true'])) + _refused(lambda: socket.socket()) "
            "+ _refused(lambda: ctypes.CDLL(None))")
    out = run_submission(job(tree, src), FAST)
    assert values(out) == 3


@NEEDS_BWRAP
def test_bwrap_sees_nothing_of_the_host(tmp_path, tree):
    """os.path.exists is not audited: the file is simply not there inside the sandbox."""
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / "a.txt").write_text("x")
    src = "import os\n" + stats(f"int(os.path.exists({str(tmp_path / 'hidden' / 'a.txt')!r})) + 10 * os.getuid()")
    out = run_submission(job(tree, src), Limits(timeout=5, isolate="bwrap"))
    assert out.isolation == "bwrap" and values(out) == 655340
    out = run_submission(job(tree, src), Limits(timeout=5, isolate=UNSAFE))
    assert values(out) % 10 == 1
