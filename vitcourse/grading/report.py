"""The gradebook (one CSV row per student) and one feedback file per student.

Columns: student, submission, submitted_at, one per test, code, one per written item, written,
total, late, late_penalty, final, flags, status (warnings: unreadable notebook, name clash, a
process that kept crashing, written part pending, ...), isolation (the sandbox used). Late
submissions lose the course's penalty (2 points) from the total, never going below zero. Feedback
files are named by `submissions.file_name`: one per student, whatever the name's length or characters.
"""
from __future__ import annotations

import csv
from pathlib import Path

from .assignments import get_assignment
from .config import CourseConfig, mtime
from .submissions import file_name


def _fmt(x) -> str:
    return "" if x is None else f"{x:g}"


def rows(results, assignment_name: str, config: CourseConfig, *, rubric=None, times=None, deadline=None) -> list:
    """One dict per student (the gradebook row), with the numbers the feedback file uses."""
    a = get_assignment(assignment_name)
    rubric, times = rubric or {}, times or {}
    deadline = deadline if deadline is not None else config.deadlines.get(a.name)
    out = []
    for r in results:
        row = {"student": r.student, "submission": r.submission}
        at = times.get(r.student) or (mtime(r.entry) if r.entry is not None and r.entry.exists() else None)
        row["submitted_at"] = at.isoformat(timespec="seconds") if at else ""
        for t in a.tests:
            row[t.name] = r.tests[t.name].points
        row["code"] = round(sum(r.tests[t.name].points for t in a.tests), 4)
        marks = rubric.get(r.student, {})
        for w in a.written:
            row[w.id] = marks.get(w.id)
        pending = [w.id for w in a.written if marks.get(w.id) is None]
        row["written"] = round(sum(marks.get(w.id) or 0.0 for w in a.written), 4)
        row["total"] = round(row["code"] + row["written"], 4)
        late = bool(deadline and at and at > deadline)
        row["late"] = "yes" if late else ("" if deadline and at else "unknown")
        row["late_penalty"] = config.late_penalty if late else 0.0
        row["final"] = round(max(0.0, row["total"] - row["late_penalty"]), 4)
        row["flags"] = "; ".join(r.flags)
        status = list(getattr(r, "warnings", []))
        if pending:
            status.append(f"written part not graded yet ({', '.join(pending)})")
        if not deadline:
            status.append("no deadline configured: late penalty not applied")
        row["status"] = "; ".join(status) or "complete"
        row["isolation"] = r.isolation
        row["_comment"] = marks.get("comment", "")
        out.append(row)
    return out


def columns(assignment_name: str) -> list:
    a = get_assignment(assignment_name)
    return (["student", "submission", "submitted_at"] + [t.name for t in a.tests] + ["code"]
            + [w.id for w in a.written] + ["written", "total", "late", "late_penalty", "final", "flags", "status",
                                              "isolation"])


def write_gradebook(path, gradebook_rows: list, assignment_name: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=columns(assignment_name), extrasaction="ignore")
        writer.writeheader()
        for row in gradebook_rows:
            writer.writerow({k: (_fmt(v) if isinstance(v, float) else v) for k, v in row.items()})


def feedback_text(result, row: dict, assignment_name: str) -> str:
    a = get_assignment(assignment_name)
    lines = [f"# {a.title} — feedback for {result.student}", "",
             f"Submission: {result.submission or '(none)'}" + (f", submitted {row['submitted_at']}" if row["submitted_at"]
                                                               else ""), "",
             f"## Code ({row['code']:g} / {a.code_points:g} points)", ""]
    for t in a.tests:
        tr = result.tests[t.name]
        mark = "✓" if tr.points >= t.points - 1e-9 else ("✗" if tr.points == 0 else "~")
        lines.append(f"- {mark} **{t.name}** ({t.what}): {tr.points:g} / {t.points:g}")
        for f in tr.flagged:
            lines.append(f"  - FLAGGED: {f} — graded code must be your own, not the course's reference "
                         f"implementation (helpers such as data loading and training are fine)")
        total_w = sum(c.weight for c in tr.checks) or 1
        for c in tr.checks:
            if not c.passed:
                lines.append(f"  - {c.name} ({c.weight / total_w * t.points:.2g} pt): {c.message or 'not met'}")
            elif c.message:
                lines.append(f"  - note: {c.message}")
    lines += ["", f"## Written parts ({row['written']:g} / {a.written_points:g} points)", ""]
    for w in a.written:
        lines.append(f"- {w.id} ({w.points:g} pt, {w.criteria}): " + (f"{row[w.id]:g}" if row[w.id] is not None
                                                                       else "not graded yet"))
    if row["_comment"]:
        lines.append(f"- comment: {row['_comment']}")
    lines += ["", "## Total", "", f"- total: {row['total']:g} / {a.total_points:g}"]
    if row["late"] == "yes":
        lines.append(f"- late submission: -{row['late_penalty']:g} points (course rule)")
    lines.append(f"- final: {row['final']:g}")
    if result.notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in result.notes]
    return "\n".join(lines) + "\n"


def write_reports(out, results, assignment_name: str, config: CourseConfig, **kw) -> list:
    """Write out/gradebook.csv and out/feedback/<student>.md; return the gradebook rows."""
    out = Path(out)
    (out / "feedback").mkdir(parents=True, exist_ok=True)
    book = rows(results, assignment_name, config, **kw)
    write_gradebook(out / "gradebook.csv", book, assignment_name)
    names = [file_name(r.student) for r in results]
    if len(set(names)) != len(names):
        raise RuntimeError(f"two students would share a feedback file: {names}")      # cannot happen: a bug
    for result, row, name in zip(results, book, names):
        (out / "feedback" / f"{name}.md").write_text(
            feedback_text(result, row, assignment_name), encoding="utf-8")
    return book
