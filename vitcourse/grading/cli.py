"""Command line: `python -m vitcourse exercises | grade | final` (see `--help`)."""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

from .config import CourseConfig, load_config, load_rubric, load_times, parse_time


def _repo() -> Path:
    return Path(__file__).resolve().parents[2]


def _config(path) -> CourseConfig:
    path = Path(path) if path else _repo() / "solutions" / "course.yml"
    return load_config(path) if path.is_file() else CourseConfig()


def cmd_exercises(args) -> int:
    from .notebook import out_of_sync, write_exercises
    if args.check:
        stale = out_of_sync(args.solutions, args.out)
        if stale:
            print(f"out of date in {args.out}: {', '.join(stale)} — run `make exercises`", file=sys.stderr)
            return 1
        print(f"{args.out} is in sync with {args.solutions}")
        return 0
    written = write_exercises(args.solutions, args.out)
    print(f"wrote {', '.join(written)}" if written else f"{args.out} already up to date")
    return 0


def cmd_grade(args) -> int:
    from .assignments import get_assignment
    from .grade import grade_all
    from .report import write_reports
    from .sandbox import Limits
    a = get_assignment(args.tp)
    config = _config(args.config)
    box = dict(config.sandbox)
    workers = args.workers or box.pop("workers", None)
    box.pop("workers", None)
    for key in ("timeout", "memory_mb", "cpu_s"):
        if getattr(args, key) is not None:
            box[key] = getattr(args, key)
    if args.no_isolation:
        box["isolate"] = "none"
    limits = Limits(**box)
    rubric = load_rubric(args.rubric, {w.id: w.points for w in a.written}) if args.rubric else None
    times = load_times(args.times) if args.times else None
    deadline = parse_time(args.deadline, "--deadline") if args.deadline else None
    start = time.perf_counter()
    results = grade_all(a.name, args.submissions, args.out, solutions=args.solutions, limits=limits,
                        workers=workers, seed=args.seed,
                        progress=lambda r: print(f"  graded {r.student}", file=sys.stderr) if args.verbose else None)
    book = write_reports(args.out, results, a.name, config, rubric=rubric, times=times, deadline=deadline)
    out = Path(args.out)
    if rubric is None:
        with open(out / "rubric_template.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["student"] + [i.id for i in a.written] + ["comment"])
            w.writerows([[r["student"]] + [""] * len(a.written) + [""] for r in book])
    unknown = sorted(set(rubric or {}) - {r["student"] for r in book})
    if unknown:
        print(f"warning: rubric rows for students without a submission: {unknown}", file=sys.stderr)
    elapsed = time.perf_counter() - start
    print(f"{a.name}: graded {len(book)} submissions in {elapsed:.1f} s -> {out / 'gradebook.csv'}, {out / 'feedback'}/")
    if results:
        print(f"  isolation: {next((r.isolation for r in results if r.isolation), 'none (no submission ran)')}")
    if book:
        print(f"  code points: median {statistics.median(r['code'] for r in book):g} / {a.code_points:g}")
    return 0


def cmd_final(args) -> int:
    """Course grade per student: w_ex x mean(TP finals) + w_proj x project."""
    config = _config(args.config)
    finals = []
    for path in args.exercises:
        with open(path, newline="", encoding="utf-8") as f:
            finals.append({row["student"]: float(row["final"] or 0) for row in csv.DictReader(f)})
    with open(args.project, newline="", encoding="utf-8") as f:
        project = {row["student"]: float(row["project"]) for row in csv.DictReader(f)}
    students = sorted(set(project).union(*finals))
    with open(args.out, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["student", "exercises", "project", "final"])
        for s in students:
            ex = sum(tp.get(s, 0.0) for tp in finals) / max(1, len(finals))
            w.writerow([s, f"{ex:g}", f"{project.get(s, 0.0):g}", f"{config.final_grade(ex, project.get(s, 0.0)):g}"])
    print(f"wrote {args.out} ({len(students)} students; {config.weights['exercises']:g} x exercises + "
          f"{config.weights['project']:g} x project)")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m vitcourse", description="The course's exercise tools.")
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("exercises", help="regenerate exercises/ (student notebooks) from solutions/")
    e.add_argument("--solutions", default=str(_repo() / "solutions"))
    e.add_argument("--out", default=str(_repo() / "exercises"))
    e.add_argument("--check", action="store_true", help="only check that exercises/ is up to date")
    e.set_defaults(func=cmd_exercises)
    g = sub.add_parser("grade", help="grade a folder of submissions (one notebook or folder per student)")
    g.add_argument("tp", help="tp1 or tp2")
    g.add_argument("submissions")
    g.add_argument("--out", required=True, help="folder for gradebook.csv and feedback/")
    g.add_argument("--solutions", default=None, help="master notebooks (default: the repository's solutions/)")
    g.add_argument("--config", default=None, help="course.yml (default: solutions/course.yml)")
    g.add_argument("--rubric", default=None, help="written-part scores: CSV (student, W1, ..., comment) or YAML")
    g.add_argument("--times", default=None, help="CSV student, submitted_at (default: file modification times)")
    g.add_argument("--deadline", default=None, help="ISO 8601 deadline (overrides course.yml)")
    g.add_argument("--workers", type=int, default=None, help="parallel submissions (default: CPU count)")
    g.add_argument("--timeout", type=float, default=None, help="seconds per statement or test")
    g.add_argument("--memory-mb", dest="memory_mb", type=float, default=None)
    g.add_argument("--cpu-s", dest="cpu_s", type=float, default=None)
    g.add_argument("--seed", type=int, default=0, help="seed of the hidden inputs")
    g.add_argument("--no-isolation", action="store_true", help="do not use Linux namespaces even if available")
    g.add_argument("-v", "--verbose", action="store_true")
    g.set_defaults(func=cmd_grade)
    f = sub.add_parser("final", help="course grade: 0.4 x exercises + 0.6 x project (weights from course.yml)")
    f.add_argument("--exercises", nargs="+", required=True, help="gradebook.csv of each TP")
    f.add_argument("--project", required=True, help="CSV with columns student, project")
    f.add_argument("--out", required=True)
    f.add_argument("--config", default=None)
    f.set_defaults(func=cmd_final)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
