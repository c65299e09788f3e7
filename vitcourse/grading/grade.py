"""Grade a folder of submissions: one notebook (or .py) per student, or one folder per student.

For each submission: take its definitions (`extract`), run them with the probes in a sandboxed
process (`sandbox`), judge the plain data that comes back against the reference (`reference`),
flag graded code that uses the course's reference implementation, then add the written parts from
the rubric and the late penalty. Submissions run in parallel worker threads, each driving its
own process; one submission cannot affect another's row.
"""
from __future__ import annotations

import ast
import concurrent.futures
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import codec
from .assignments import get_assignment
from .extract import extract_file
from .flags import is_allowed, vitcourse_uses
from .reference import default_solutions_dir, master_path, reference_data
from .sandbox import Limits, run_submission
from .spec import Check, score

PRELOADABLE = ("matplotlib", "sklearn", "einops", "scipy", "pandas", "tqdm", "IPython")


@dataclass
class Submission:
    student: str
    path: Path | None                # the notebook or script graded
    entry: Path | None = None        # what the student handed in (that file, or their folder)
    notes: list = field(default_factory=list)


@dataclass
class TestScore:
    __test__ = False                 # not a pytest test class
    points: float
    checks: list
    flagged: list = field(default_factory=list)


@dataclass
class StudentResult:
    student: str
    submission: str
    tests: dict                      # test name -> TestScore
    notes: list                      # lines for the feedback file
    flags: list
    printed: int = 0
    isolation: str = ""
    entry: Path | None = None        # for the submission time


def _is_candidate(p: Path) -> bool:
    return p.suffix in (".ipynb", ".py") and not any(part.startswith(".") or part == "__pycache__" for part in p.parts)


def find_submissions(folder, assignment_name: str) -> list:
    """One `Submission` per student: files directly in `folder` (student = file stem) and sub-folders
    (student = folder name; the notebook inside whose name mentions the TP, else the only or newest one)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"submissions folder {folder} does not exist or is not a folder")
    subs, seen = [], set()
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_file() and _is_candidate(entry.relative_to(folder)):
            student, path, notes = entry.stem, entry, []
        elif entry.is_dir():
            files = sorted(p for p in entry.rglob("*") if p.is_file() and _is_candidate(p.relative_to(entry)))
            notebooks = [p for p in files if p.suffix == ".ipynb"] or files
            named = [p for p in notebooks if assignment_name in p.name.lower()]
            pool = named or notebooks
            path = max(pool, key=lambda p: p.stat().st_mtime) if pool else None
            student = entry.name
            notes = [f"several candidate files; graded {path.relative_to(entry)}"] if len(pool) > 1 else []
            if path is None:
                notes = [f"no notebook (.ipynb) or script (.py) found in the folder {entry.name}/"]
        else:
            continue
        base, k = student, 2
        while student in seen:
            student, k = f"{base}_{k}", k + 1
        seen.add(student)
        subs.append(Submission(student, path, entry, notes))
    return subs


def _flag_reasons(uses: dict, origins: dict, allowed: tuple) -> dict:
    flagged = {name: [f"uses {p}" for p in paths] for name, paths in uses.items()}
    for name, modules in origins.items():
        bad = [m for m in modules if m.split(".")[0] == "vitcourse" and not is_allowed(m, allowed)]
        if bad:
            flagged.setdefault(name, []).append(f"comes from {bad[0]}")
    return flagged


def grade_submission(sub: Submission, assignment_name: str, data: dict, limits: Limits, protected: list,
                     mpl_dir: str | None = None) -> StudentResult:
    """Grade one submission (never raises for anything the submission does)."""
    a = get_assignment(assignment_name)
    notes, flags = list(sub.notes), []
    zero = {t.name: TestScore(0.0, [Check("submitted", 1, False, "no gradable code")]) for t in a.tests}
    if sub.path is None:
        return StudentResult(sub.student, "", zero, notes, flags, entry=sub.entry)
    graded_names = tuple(n for t in a.tests for n in t.graded)
    try:
        ext = extract_file(sub.path, roots=graded_names)
    except (ValueError, OSError) as e:
        return StudentResult(sub.student, sub.path.name, zero, notes + [str(e)], flags, entry=sub.entry)
    notes += ext.problems
    if not {n for s in ext.statements for n in s.names} & set(graded_names):
        notes.append(f"none of the functions {a.name.upper()} grades ({', '.join(sorted(set(graded_names)))}) is defined "
                     f"in {sub.path.name}: is this a {a.name.upper()} submission, and was the right TP asked for?")
    imported = set()
    for s in ext.statements:
        if isinstance(s.node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in s.node.names}
        elif isinstance(s.node, ast.ImportFrom) and s.node.module:
            imported.add(s.node.module.split(".")[0])
    preload = list(a.preload) + [m for m in PRELOADABLE if m in imported] + (
        ["matplotlib.pyplot"] if "matplotlib" in imported else [])
    job = {"assignment": a.name, "protected": [str(p) for p in protected], "mpl_dir": mpl_dir,
           "read_roots": ["/usr/share", "/etc/localtime", "/sys/devices/system/cpu", "/sys/fs/cgroup"]
           + ([mpl_dir] if mpl_dir else []),
           "preload": preload, "limits": {"memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s,
                                          "fsize_mb": limits.fsize_mb},
           "statements": [{"cell": s.cell, "line": s.line, "source": s.source} for s in ext.statements],
           "tests": [{"name": t.name, "graded": list(t.graded), "inputs": codec.encode(data[t.name]["inputs"])}
                     for t in a.tests]}
    outcome = run_submission(job, limits)
    for index, error in sorted(outcome.loads.items()):
        st = ext.statements[index]
        notes.append(f"cell {st.cell}, line {st.line} ({st.kind} {', '.join(st.names)}) could not run: {error}")
    notes += outcome.notes
    if outcome.blocked:
        notes.append("blocked by the sandbox: " + "; ".join(outcome.blocked[:5]))
        flags.append("blocked operations")
        if any("reading" in b for b in outcome.blocked):
            flags.append("tried to read files outside its sandbox")
    if outcome.printed:
        notes.append(f"your code printed {outcome.printed} characters while being graded; printed output is ignored")
    reasons = _flag_reasons(vitcourse_uses(ext, graded_names, a.allowed_vitcourse), outcome.origins,
                            a.allowed_vitcourse)
    tests = {}
    for t in a.tests:
        tests[t.name] = _judge(t, outcome.results.get(t.name, {}), data[t.name])
        bad = sorted({r for n in t.graded for r in reasons.get(n, [])})
        if bad:
            tests[t.name] = TestScore(0.0, tests[t.name].checks, [f"{t.name} {r}" for r in bad])
            flags.append(f"{t.name}: course reference implementation ({'; '.join(bad)})")
    return StudentResult(sub.student, sub.path.name, tests, notes, flags, outcome.printed, outcome.isolation,
                         sub.entry)


def _judge(test, result: dict, data: dict) -> TestScore:
    if "missing" in result:
        names = ", ".join(f"`{n}`" for n in result["missing"])
        return TestScore(0.0, [Check("defined", 1, False, f"your notebook does not define {names} "
                                                           f"(a function or class with exactly that name)")])
    if "failure" in result:
        return TestScore(0.0, [Check("ran", 1, False, result["failure"])])
    got = result.get("output")
    if not isinstance(got, dict):
        return TestScore(0.0, [Check("ran", 1, False, "no result came back")])
    if "__error__" in got:
        return TestScore(0.0, [Check("ran", 1, False, str(got["__error__"]))])
    try:
        checks = test.judge(data["expected"], got, data["inputs"])
    except Exception as e:                                       # noqa: BLE001 - malformed data from the submission
        checks = [Check("result", 1, False, f"the result has an unexpected form ({type(e).__name__}: {e})")]
    return TestScore(score(test, checks), checks)


def protected_paths(submissions, out, solutions) -> list:
    paths = [Path(solutions), Path(submissions), Path(out)]
    repo_git = Path(__file__).resolve().parents[2] / ".git"
    if repo_git.exists():
        paths.append(repo_git)
    return [p.resolve() for p in paths]


def _mpl_cache_dir(subs) -> str | None:
    """A matplotlib config dir with a built font cache, shared read-only by the sandboxes."""
    import subprocess
    import tempfile
    d = Path(tempfile.gettempdir()) / f"vitcourse-grader-mpl-{os.getuid()}"
    if not any(re.search(r"\bmatplotlib\b", s.path.read_text(errors="replace")) for s in subs if s.path):
        return None
    if not any(d.glob("fontlist*.json")):
        d.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-I", "-c", "import matplotlib.pyplot"], env={"MPLCONFIGDIR": str(d),
                       "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}, capture_output=True, timeout=300)
    return str(d)


def grade_all(assignment_name: str, submissions, out, *, solutions=None, limits: Limits | None = None,
              workers: int | None = None, seed: int = 0, progress=None) -> list:
    """Grade every submission in `submissions`; return their `StudentResult`s (in student order)."""
    solutions = Path(solutions or default_solutions_dir())
    master_path(assignment_name, solutions)
    data = reference_data(assignment_name, solutions, seed)
    subs = find_submissions(submissions, assignment_name)
    Path(out).mkdir(parents=True, exist_ok=True)
    protected = protected_paths(submissions, out, solutions)
    limits = limits or Limits()
    mpl_dir = _mpl_cache_dir(subs)
    workers = max(1, workers or min(len(subs), os.cpu_count() or 1) or 1)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(grade_submission, s, assignment_name, data, limits, protected, mpl_dir): s for s in subs}
        results = {}
        for f in concurrent.futures.as_completed(futures):
            s = futures[f]
            try:
                results[s.student] = f.result()
            except Exception as e:                               # noqa: BLE001 - a grader bug must not lose the row
                results[s.student] = StudentResult(s.student, s.path.name if s.path else "", {
                    t.name: TestScore(0.0, [Check("graded", 1, False, "grader error")]) for t in
                    get_assignment(assignment_name).tests}, [f"grader error: {type(e).__name__}: {e}"], ["grader error"])
            if progress:
                progress(results[s.student])
    return [results[s.student] for s in subs]
