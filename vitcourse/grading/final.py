"""The course grade: `python -m vitcourse final --exercises GRADEBOOK... --project project.csv`.

The formula comes from `course.yml` (FIUBA: 0.4 x the mean of the TP finals + 0.6 x the project).
The optional TPs (`assignments.OPTIONAL`: TP3, TP4) never lower a grade: each one a student handed in
replaces that student's lowest required TP grade (TP1, TP2) when it is higher, and the mean is over
the required TPs given; with only optional gradebooks, the mean is over those.
Every input is checked before anything is computed: missing files or columns, a gradebook given
twice, a student listed twice in one file, a score that is not a number or lies outside
[0, scale], and project rows for students who appear in no gradebook (a typo in a name would
otherwise give one student two rows) are errors that say what to fix. A student missing from one
TP's gradebook gets 0 for it and a note.
"""
from __future__ import annotations

import csv
from pathlib import Path

from .assignments import ASSIGNMENTS, OPTIONAL, get_assignment
from .config import CourseConfig


def _read(path, needed: tuple, what: str) -> tuple[list, list]:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {path} does not exist")
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in needed if c not in header]
        if missing:
            raise ValueError(f"{what} {path} has no column(s) {missing}; its columns are {header}")
        rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    return header, rows


def _scores(rows, column: str, path, scale: float) -> dict:
    out = {}
    for i, row in enumerate(rows, start=2):
        student = row["student"]
        if not student:
            raise ValueError(f"{path}, line {i}: a row without a student")
        if student in out:
            raise ValueError(f"{path}: student {student!r} appears twice; keep one row per student")
        try:
            value = float(row[column])
        except ValueError:
            raise ValueError(f"{path}, line {i}: {student} {column} = {row[column]!r} is not a number") from None
        if not 0 <= value <= scale:
            raise ValueError(f"{path}, line {i}: {student} {column} = {value:g} is outside [0, {scale:g}]")
        out[student] = value
    return out


def _which_tp(header: list, path) -> str:
    for name in ASSIGNMENTS:
        if all(t.name in header for t in get_assignment(name).tests):
            return name
    return Path(path).parent.name or Path(path).stem


def course_grades(exercises: list, project, config: CourseConfig) -> tuple[list, list]:
    """(rows: student, one column per TP, exercises, project, final, notes; the TP names)."""
    finals, names = {}, []
    for path in exercises:
        header, rows = _read(path, ("student", "final"), "gradebook")
        tp = _which_tp(header, path)
        if tp in finals:
            raise ValueError(f"two gradebooks of {tp} given ({path}): pass each TP's gradebook once")
        finals[tp] = _scores(rows, "final", path, config.scale)
        names.append(tp)
    _, rows = _read(project, ("student", "project"), "project scores")
    projects = _scores(rows, "project", project, config.scale)
    known = set().union(*finals.values()) if finals else set()
    unknown = sorted(set(projects) - known)
    if unknown:
        raise ValueError(f"{project}: students with no row in any gradebook: {unknown} (a typo, or a name that "
                         f"differs from the submissions'?); gradebook students are {sorted(known)[:20]}")
    out = []
    for s in sorted(known):
        required = [tp for tp in names if tp not in OPTIONAL] or names
        notes = [f"no {tp} submission (0)" for tp in required if s not in finals[tp]]
        if s not in projects:
            notes.append("no project score yet (0)")
        ex, replaced = _exercises(s, finals, required, [tp for tp in names if tp not in required])
        notes += replaced
        pr = projects.get(s, 0.0)
        row = {"student": s, **{tp: finals[tp].get(s, 0.0) for tp in names}, "exercises": round(ex, 4),
               "project": pr, "final": config.final_grade(ex, pr), "notes": "; ".join(notes)}
        out.append(row)
    return out, names


def _exercises(student, finals, required, optional) -> tuple[float, list]:
    """The mean of the required TPs after each optional TP replaced the lowest one it beats."""
    scores = {tp: finals[tp].get(student, 0.0) for tp in required}
    notes = []
    for tp in sorted((t for t in optional if student in finals[t]), key=lambda t: -finals[t][student]):
        low = min(scores, key=scores.get)
        if finals[tp][student] > scores[low]:
            notes.append(f"{tp} ({finals[tp][student]:g}) replaces {low.split(' ')[0]} ({scores[low]:g})")
            scores[f"{low} <- {tp}"] = finals[tp][student]
            del scores[low]
    return round(sum(scores.values()) / max(1, len(scores)), 4), notes


def write(path, rows: list, names: list) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["student", *names, "exercises", "project", "final", "notes"])
        w.writeheader()
        for row in rows:
            w.writerow({k: (f"{v:g}" if isinstance(v, float) else v) for k, v in row.items()})
