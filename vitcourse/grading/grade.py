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
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from . import codec
from .assignments import get_assignment
from .extract import extract_file
from .flags import is_allowed, vitcourse_uses
from .reference import default_solutions_dir, master_path, reference_data
from .isolation import SandboxUnavailable, describe
from .sandbox import Limits, run_submission
from .submissions import Submission, find_submissions
from .spec import Check, score

PRELOADABLE = ("matplotlib", "sklearn", "einops", "scipy", "pandas", "tqdm", "IPython")


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
    warnings: list = field(default_factory=list)   # for the gradebook's status column and the console


def _flag_reasons(uses: dict, origins: dict, allowed: tuple) -> dict:
    flagged = {name: [f"uses {p}" for p in paths] for name, paths in uses.items()}
    for name, modules in origins.items():
        bad = [m for m in modules if m.split(".")[0] == "vitcourse" and not is_allowed(m, allowed)]
        if bad:
            flagged.setdefault(name, []).append(f"comes from {bad[0]}")
    return flagged


def _job(a, ext, data, limits, protected, mpl_dir, tree, allowed, tests, phase="main") -> dict:
    imported = set()
    for s in ext.statements:
        for node in ast.walk(s.node):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module.split(".")[0])
    preload = [m for m in a.preload if m != "vitcourse"] + [m for m in PRELOADABLE if m in imported] + (
        ["matplotlib.pyplot"] if "matplotlib" in imported else [])
    return {"assignment": a.name, "protected": [str(p) for p in protected], "mpl_dir": mpl_dir, "tree": str(tree),
            "allowed": list(allowed), "phase": phase, "preload": preload, "files": ext.files,
            "limits": {"memory_mb": limits.memory_mb, "cpu_s": limits.cpu_s, "fsize_mb": limits.fsize_mb},
            "statements": [{"cell": s.cell, "line": s.line, "source": s.source} for s in ext.statements],
            "tests": [{"name": t.name, "graded": list(t.graded), "inputs": codec.encode(data[t.name]["inputs"])}
                      for t in tests]}


def grade_submission(sub: Submission, assignment_name: str, data: dict, limits: Limits, protected: list,
                     mpl_dir: str | None = None, trees: dict | None = None) -> StudentResult:
    """Grade one submission (never raises for anything the submission does).

    `trees`: {"main": the sandbox's package folder, "rescue": the same with the parts a "builds on"
    rescue substitutes}; built by `grade_all` once per run.
    """
    a = get_assignment(assignment_name)
    notes, flags, warnings = list(sub.notes), [], list(sub.warnings)
    zero = {t.name: TestScore(0.0, [Check("submitted", 1, False, "no gradable code")]) for t in a.tests}
    if sub.path is None:
        return StudentResult(sub.student, "", zero, notes, flags, entry=sub.entry, warnings=warnings)
    graded_names = tuple(n for t in a.tests for n in t.graded)
    try:
        ext = extract_file(sub.path, roots=graded_names)
    except (ValueError, OSError) as e:
        return StudentResult(sub.student, sub.path.name, zero, notes + [str(e)], flags, entry=sub.entry,
                             warnings=warnings + [str(e)])
    notes += ext.problems
    warnings += ext.problems
    if not {n for s in ext.statements for n in s.names} & set(graded_names):
        msg = (f"none of the functions {a.name.upper()} grades ({', '.join(sorted(set(graded_names)))}) is defined "
               f"in {sub.path.name}: is this a {a.name.upper()} submission, and was the right TP asked for?")
        notes.append(msg)
        warnings.append(f"none of the graded functions is defined: is this a {a.name.upper()} submission?")
    trees = trees or {}
    job = _job(a, ext, data, limits, protected, mpl_dir, trees["main"], trees.get("main_modules", ()), a.tests)
    outcome = run_submission(job, limits)
    for index, error in sorted(outcome.loads.items()):
        st = ext.statements[index]
        notes.append(f"cell {st.cell}, line {st.line} ({st.kind} {', '.join(st.names)}) could not run: {error}")
    notes += outcome.notes
    warnings += outcome.notes
    if outcome.blocked:
        notes.append("blocked by the sandbox: " + "; ".join(outcome.blocked[:5]))
        flags.append("blocked operations")
        if any(b.startswith("reading") for b in outcome.blocked):
            flags.append("tried to read files outside its sandbox")
    if outcome.printed:
        notes.append(f"your code printed {outcome.printed} characters while being graded; printed output is ignored")
    reasons = _flag_reasons(vitcourse_uses(ext, graded_names, a.allowed_vitcourse), outcome.origins,
                            a.allowed_vitcourse)
    tests = {t.name: _judge(t, outcome.results.get(t.name, {}), data[t.name]) for t in a.tests}
    again = [t for t in a.tests if t.rescue and tests[t.name].points < t.points - 1e-9 and
             isinstance(outcome.results.get(t.name, {}).get("output"), dict) and
             "__error__" not in outcome.results[t.name]["output"]]
    if again and "rescue" in trees:                      # the "builds on" rescue, in a sandbox of its own
        rescued = run_submission(_job(a, ext, data, limits, protected, mpl_dir, trees["rescue"],
                                      trees.get("rescue_modules", ()), again, "rescue"), limits)
        for t in again:
            extra = rescued.results.get(t.name, {}).get("output")
            if isinstance(extra, dict) and "__error__" not in extra:
                merged = dict(outcome.results[t.name]["output"], **{k: v for k, v in extra.items()
                                                                     if k.endswith("_given_parts")})
                tests[t.name] = _judge(t, {"output": merged}, data[t.name])
    for t in a.tests:
        bad = sorted({r for n in t.graded for r in reasons.get(n, [])})
        if bad:
            tests[t.name] = TestScore(0.0, tests[t.name].checks, [f"{t.name} {r}" for r in bad])
            flags.append(f"{t.name}: course reference implementation ({'; '.join(bad)})")
    return StudentResult(sub.student, sub.path.name, tests, notes, flags, outcome.printed,
                         describe(outcome.isolation), sub.entry, warnings)


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
    d = Path(tempfile.gettempdir()) / f"vitcourse-grader-mpl-{os.getuid()}"
    if not any(re.search(r"\bmatplotlib\b", s.path.read_text(errors="replace")) for s in subs if s.path):
        return None
    if not any(d.glob("fontlist*.json")):
        d.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-I", "-c", "import matplotlib.pyplot"], env={"MPLCONFIGDIR": str(d),
                       "MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"}, capture_output=True, timeout=300)
    return str(d)


def grade_all(assignment_name: str, submissions, out, *, solutions=None, limits: Limits | None = None,
              workers: int | None = None, seed: int = 0, progress=None, skipped: list | None = None) -> list:
    """Grade every submission in `submissions`; return their `StudentResult`s (in student order).

    Raises ValueError when the folder holds no submission, and `SandboxUnavailable` when no sandbox
    can run (before anything is graded). Entries without a row are appended to `skipped`.
    """
    from . import pkgtree
    from .isolation import choose
    a = get_assignment(assignment_name)
    solutions = Path(solutions or default_solutions_dir())
    master_path(assignment_name, solutions)
    subs, left_out = find_submissions(submissions, assignment_name)
    if skipped is not None:
        skipped.extend(left_out)
    if not subs:
        raise ValueError(f"no submissions in {submissions}: expected one notebook (.ipynb) or script (.py) per "
                         f"student, or one folder per student" + (f"; skipped {left_out}" if left_out else ""))
    limits = limits or Limits()
    choose(limits.isolate, limits.image)                       # refuse now, not once per student
    data = reference_data(assignment_name, solutions, seed)
    Path(out).mkdir(parents=True, exist_ok=True)
    protected = protected_paths(submissions, out, solutions)
    mpl_dir = _mpl_cache_dir(subs)
    workers = max(1, workers or min(len(subs), os.cpu_count() or 1) or 1)
    with tempfile.TemporaryDirectory(prefix="vitcourse-tree-") as d:
        trees = {"main": pkgtree.build(Path(d) / "main", a.allowed_vitcourse).parent}
        if a.rescue_modules:
            trees["rescue"] = pkgtree.build(Path(d) / "rescue", a.allowed_vitcourse, a.rescue_modules).parent
        for k in list(trees):
            trees[k + "_modules"] = pkgtree.modules(trees[k] / "vitcourse")
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(grade_submission, s, assignment_name, data, limits, protected, mpl_dir, trees): s
                       for s in subs}
            results = {}
            for f in concurrent.futures.as_completed(futures):
                s = futures[f]
                try:
                    results[s.student] = f.result()
                except SandboxUnavailable:
                    raise
                except Exception as e:                           # noqa: BLE001 - a grader bug must not lose the row
                    results[s.student] = StudentResult(s.student, s.path.name if s.path else "", {
                        t.name: TestScore(0.0, [Check("graded", 1, False, "grader error")]) for t in a.tests},
                        [f"grader error: {type(e).__name__}: {e}"], ["grader error"], entry=s.entry,
                        warnings=[f"grader error: {type(e).__name__}: {e}"])
                if progress:
                    progress(results[s.student])
    return [results[s.student] for s in subs]
