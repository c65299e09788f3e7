"""The course's grading rules (`solutions/course.yml`), rubric scores and submission times.

Course rules (FIUBA "Vision Transformers"): each TP is out of 10 points; a late submission loses
2 points; the final grade is 0.4 x exercises + 0.6 x project.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path


@dataclass
class CourseConfig:
    late_penalty: float = 2.0
    weights: dict = field(default_factory=lambda: {"exercises": 0.4, "project": 0.6})
    deadlines: dict = field(default_factory=dict)        # tp name -> aware datetime or None
    sandbox: dict = field(default_factory=dict)          # Limits fields and "workers"
    scale: float = 10.0                                  # every TP, the project and the course grade are out of this

    def __post_init__(self):
        if self.late_penalty < 0:
            raise ValueError(f"late_penalty must be >= 0, got {self.late_penalty}")
        if set(self.weights) != {"exercises", "project"} or abs(sum(self.weights.values()) - 1) > 1e-9:
            raise ValueError(f"weights must be {{exercises, project}} summing to 1, got {self.weights}")
        if not self.scale > 0:
            raise ValueError(f"scale must be positive, got {self.scale}")

    def final_grade(self, exercises: float, project: float) -> float:
        """The course formula: weights['exercises'] x exercises + weights['project'] x project."""
        return round(self.weights["exercises"] * exercises + self.weights["project"] * project, 2)


def parse_time(text: str, what: str = "time") -> datetime:
    """ISO 8601 -> an aware datetime (a time without an offset is read as this machine's local time)."""
    try:
        t = datetime.fromisoformat(str(text).strip())
    except ValueError:
        raise ValueError(f"{what}: {text!r} is not an ISO 8601 date-time such as 2025-09-11T18:00:00-03:00") from None
    return t.astimezone() if t.tzinfo is None else t


def load_config(path) -> CourseConfig:
    import yaml
    path = Path(path)
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    known = {"late_penalty", "weights", "assignments", "sandbox", "scale"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path}: unknown keys {sorted(unknown)}; expected some of {sorted(known)}")
    deadlines = {}
    for name, entry in (data.get("assignments") or {}).items():
        d = (entry or {}).get("deadline")
        deadlines[name] = None if d is None else parse_time(d if isinstance(d, str) else d.isoformat(),
                                                               f"{path}: assignments.{name}.deadline")
    return CourseConfig(late_penalty=float(data.get("late_penalty", 2.0)),
                        weights=dict(data.get("weights") or {"exercises": 0.4, "project": 0.6}),
                        deadlines=deadlines, sandbox=dict(data.get("sandbox") or {}),
                        scale=float(data.get("scale", 10.0)))


def load_rubric(path, items: dict) -> dict:
    """{student: {item id: points, "comment": str}} from a CSV (student, W1, ..., comment) or YAML.

    `items` maps item id -> maximum points; a score outside [0, max] or an unknown column is an error.
    """
    path = Path(path)
    if path.suffix in (".yml", ".yaml"):
        import yaml
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        rows = [dict(student=str(s), **(v or {})) for s, v in raw.items()]
    else:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    rubric = {}
    for row in rows:
        student = str(row.pop("student", "") or "").strip()
        if not student:
            raise ValueError(f"{path}: a row without a student: {row}")
        unknown = set(row) - set(items) - {"comment"}
        if unknown:
            raise ValueError(f"{path}: unknown rubric items {sorted(unknown)}; expected {sorted(items)} and 'comment'")
        entry = {"comment": str(row.get("comment") or "").strip()}
        for item, top in items.items():
            value = row.get(item)
            if value is None or str(value).strip() == "":
                continue
            try:
                points = float(value)
            except ValueError:
                raise ValueError(f"{path}: {student} {item} = {value!r} is not a number") from None
            if not 0 <= points <= top:
                raise ValueError(f"{path}: {student} {item} = {points:g} is outside [0, {top:g}]")
            entry[item] = points
        rubric[student] = entry
    return rubric


def load_times(path) -> dict:
    """{student: aware datetime} from a CSV with columns student, submitted_at (ISO 8601)."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"student", "submitted_at"} <= set(reader.fieldnames or []):
            raise ValueError(f"{path}: needs columns student, submitted_at; got {reader.fieldnames}")
        return {row["student"].strip(): parse_time(row["submitted_at"], f"{path}: {row['student']}") for row in reader}


def mtime(path) -> datetime:
    """When a file (or the newest file in a folder) was last modified, as an aware datetime."""
    path = Path(path)
    stamps = [p.stat().st_mtime for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file()]
    return datetime.fromtimestamp(max(stamps) if stamps else path.stat().st_mtime, tz=timezone.utc)
