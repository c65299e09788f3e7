"""Command line: `python -m vitcourse exercises | grade | final` (see `--help`)."""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

from .config import CourseConfig, load_config, load_rubric, load_times, parse_time
from .isolation import MODES, UNSAFE


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
    for key in ("timeout", "memory_mb", "cpu_s", "image"):
        if getattr(args, key) is not None:
            box[key] = getattr(args, key)
    if args.sandbox:
        box["isolate"] = args.sandbox
    if args.unsafe_no_sandbox:
        box["isolate"] = UNSAFE
        print("WARNING: --unsafe-no-sandbox: the submissions run WITHOUT a sandbox (only a process, rlimits and "
              "an audit hook); they can read and change anything this user can. Trusted code only.", file=sys.stderr)
    limits = Limits(**box)
    for flag, path, what in (("submissions", args.submissions, "a folder of submissions (one notebook or folder per student)"),
                             ("--rubric", args.rubric, "a CSV (student, W1, ..., comment) or YAML file"),
                             ("--times", args.times, "a CSV file with columns student, submitted_at")):
        if path is not None and not Path(path).exists():
            raise ValueError(f"{flag} {path}: no such file or folder (expected {what})")
        if path is not None and flag != "submissions" and Path(path).is_dir():
            raise ValueError(f"{flag} {path}: is a folder (expected {what})")
    rubric = load_rubric(args.rubric, {w.id: w.points for w in a.written}) if args.rubric else None
    times = load_times(args.times) if args.times else None
    deadline = parse_time(args.deadline, "--deadline") if args.deadline else None
    start, skipped = time.perf_counter(), []
    results = grade_all(a.name, args.submissions, args.out, solutions=args.solutions, limits=limits,
                        workers=workers, seed=args.seed, skipped=skipped,
                        progress=lambda r: print(f"  graded {r.student}", file=sys.stderr) if args.verbose else None)
    book = write_reports(args.out, results, a.name, config, rubric=rubric, times=times, deadline=deadline)
    out = Path(args.out)
    if rubric is None:
        with open(out / "rubric_template.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["student"] + [i.id for i in a.written] + ["comment"])
            w.writerows([[r["student"]] + [""] * len(a.written) + [""] for r in book])
    with open(out / "skipped.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([("entry", "reason"), *skipped])
    elapsed = time.perf_counter() - start
    print(f"{a.name}: graded {len(book)} submission{'s' if len(book) != 1 else ''} in {elapsed:.1f} s ({elapsed / max(1, len(book)):.1f} s each) "
          f"-> {out / 'gradebook.csv'}, {out / 'feedback'}/")
    print(f"  isolation: {results[0].isolation}")
    print(f"  code points: median {statistics.median(r['code'] for r in book):g} / {a.code_points:g}")
    for entry, reason in skipped:
        print(f"  no row: {entry}: {reason}")
    unknown = sorted(set(rubric or {}) - {r["student"] for r in book})
    if unknown:
        print(f"  WARNING: rubric rows for students without a submission: {unknown}")
    for r in results:
        for w in r.warnings:
            print(f"  warning: {r.student}: {w}")
        if r.flags:
            print(f"  flagged: {r.student}: {'; '.join(r.flags)}")
    return 0


def cmd_final(args) -> int:
    """Course grade per student from course.yml's formula, with every input checked."""
    from .final import course_grades, write
    config = _config(args.config)
    rows, names = course_grades(args.exercises, args.project, config)
    write(args.out, rows, names)
    print(f"wrote {args.out} ({len(rows)} students; {config.weights['exercises']:g} x mean({', '.join(names)}) + "
          f"{config.weights['project']:g} x project)")
    for r in rows:
        if r["notes"]:
            print(f"  note: {r['student']}: {r['notes']}")
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
    g.add_argument("tp", help="tp1, tp2, tp3 or tp4")
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
    g.add_argument("--sandbox", choices=[m for m in MODES if m != UNSAFE], default=None,
                   help="auto (default: bubblewrap, else a container when --image is given), bwrap, docker, podman")
    g.add_argument("--image", default=None, help="container image for --sandbox docker/podman (Python + requirements)")
    g.add_argument("--unsafe-no-sandbox", action="store_true",
                   help="grade WITHOUT a sandbox (trusted code only: the submissions can do anything you can)")
    g.add_argument("-v", "--verbose", action="store_true")
    g.set_defaults(func=cmd_grade)
    f = sub.add_parser("final", help="course grade: 0.4 x mean of the TPs + 0.6 x project (weights from course.yml)")
    f.add_argument("--exercises", nargs="+", required=True, help="gradebook.csv of each TP (each TP once)")
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
