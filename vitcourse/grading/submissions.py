"""Who handed in what: a folder of submissions -> one `Submission` per student, or a listed reason.

Student identifiers follow the statements' naming rule: `tpN_<name>.ipynb` (or `.py`, any case of
the extension) and a folder `<name>/` or `tpN_<name>/` all belong to student `<name>`, so the same
student has the same identifier in every TP. Identifiers are injective: when two entries claim one
name, neither is silently renamed into another student's name — both keep their own entry name
(`ana.ipynb`, `ana/`) and a warning says so. Hidden files and files that are neither a notebook
nor a script get no row but are listed, with the reason, in `skipped`.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

SUFFIXES = (".ipynb", ".py")
_RULE = re.compile(r"^tp(\d+)[_\-. ]+(.+)$", re.IGNORECASE)


@dataclass
class Submission:
    student: str
    path: Path | None                # the notebook or script graded
    entry: Path | None = None        # what the student handed in (that file, or their folder)
    notes: list = field(default_factory=list)
    warnings: list = field(default_factory=list)


def student_id(name: str, assignment_name: str) -> tuple[str, list]:
    """(identifier, warnings) from a file stem or folder name: `tp1_ana` -> `ana`."""
    m = _RULE.match(name.strip())
    if not m:
        return name.strip(), []
    warnings = [] if f"tp{int(m.group(1))}" == assignment_name.lower() else [
        f"named tp{m.group(1)}_... but graded as {assignment_name}: is it the right TP?"]
    return m.group(2).strip(), warnings


def _candidate(p: Path, base: Path) -> bool:
    return p.suffix.lower() in SUFFIXES and not any(
        part.startswith(".") or part == "__pycache__" for part in p.relative_to(base).parts)


def _pick(folder: Path, assignment_name: str):
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _candidate(p, folder))
    notebooks = [p for p in files if p.suffix.lower() == ".ipynb"] or files
    named = [p for p in notebooks if assignment_name in p.name.lower()]
    pool = named or notebooks
    if not pool:
        return None, [], [f"no notebook (.ipynb) or script (.py) found in the folder {folder.name}/"]
    path = max(pool, key=lambda p: (p.stat().st_mtime, str(p)))
    notes = [f"several candidate files; graded {path.relative_to(folder)}"] if len(pool) > 1 else []
    return path, notes, []


def find_submissions(folder, assignment_name: str) -> tuple[list, list]:
    """([Submission], [(entry name, reason it has no row)]) for a folder of submissions."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"submissions folder {folder} does not exist or is not a folder")
    found, skipped = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            skipped.append((entry.name, "hidden (its name starts with a dot)"))
        elif entry.is_file() and entry.suffix.lower() in SUFFIXES:
            sid, warnings = student_id(entry.name[: -len(entry.suffix)], assignment_name)
            found.append(Submission(sid, entry, entry, [], warnings))
        elif entry.is_dir():
            sid, warnings = student_id(entry.name, assignment_name)
            path, notes, problems = _pick(entry, assignment_name)
            found.append(Submission(sid, path, entry, notes + problems, warnings + problems))
        else:
            skipped.append((entry.name, "neither a notebook (.ipynb), a script (.py) nor a folder"))
    while True:                                        # injective: clashing names keep their entry name
        counts = Counter(s.student for s in found)
        clash = [s for s in found if counts[s.student] > 1]
        if not clash:
            break
        for s in clash:
            own = s.entry.name + ("/" if s.entry.is_dir() else "")
            others = ", ".join(sorted(o.entry.name for o in clash if o.student == s.student and o is not s))
            s.warnings.append(f"student name {s.student!r} is claimed by {own} and {others}: "
                              f"kept apart as {own!r}; rename the entries and grade again")
            s.student = own
    return found, skipped


def file_name(student: str) -> str:
    """A file name for a student's feedback, one per student: readable, short, and injective."""
    safe = re.sub(r"[^\w.-]+", "_", student).strip("._")[:80] or "student"
    if safe == student and student == student.lower() and len(student) <= 80:   # case-blind file systems
        return safe
    return f"{safe}-{hashlib.sha256(student.encode()).hexdigest()[:12]}"
