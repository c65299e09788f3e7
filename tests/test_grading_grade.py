"""Finding submissions, rubric and late penalty, the gradebook and feedback files, the CLI."""
import csv
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vitcourse.grading.cli import main
from vitcourse.grading.config import CourseConfig, load_config, load_rubric, load_times, parse_time
from vitcourse.grading.grade import StudentResult, TestScore, find_submissions
from vitcourse.grading.report import columns, rows
from vitcourse.grading.spec import Check

from test_grading_generate import EXERCISES, SOLUTIONS

TP1 = ("patchify", "PatchEmbedding", "PositionalEncodingLearned", "token_stats", "position_similarity")


def touch(path: Path, text="x", when=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if when:
        os.utime(path, (when.timestamp(), when.timestamp()))
    return path


def test_find_submissions_files_and_folders(tmp_path):
    touch(tmp_path / "ana.ipynb")
    touch(tmp_path / "bo.py")
    touch(tmp_path / "notes.txt")
    touch(tmp_path / ".hidden.ipynb")
    touch(tmp_path / "carla" / "scratch.ipynb")
    touch(tmp_path / "carla" / "TP1_final_tp1.ipynb")
    touch(tmp_path / "carla" / ".ipynb_checkpoints" / "tp1-checkpoint.ipynb")
    touch(tmp_path / "dan" / "readme.md")
    touch(tmp_path / "ana" / "tp1.ipynb")                       # a second "ana": kept apart
    subs = {s.student: s for s in find_submissions(tmp_path, "tp1")}
    assert sorted(subs) == ["ana", "ana_2", "bo", "carla", "dan"]
    assert subs["carla"].path.name == "TP1_final_tp1.ipynb"
    assert subs["dan"].path is None and "no notebook" in subs["dan"].notes[0]
    with pytest.raises(ValueError, match="does not exist"):
        find_submissions(tmp_path / "nope", "tp1")


def result(student, points, entry=None):
    return StudentResult(student, f"{student}.ipynb", {t: TestScore(p, [Check("c", 1, p > 0, "" if p else "wrong")])
                                                       for t, p in zip(TP1, points)}, [], [], entry=entry)


def test_rows_late_penalty_rubric_and_floor(tmp_path):
    deadline = parse_time("2025-09-11T18:00:00-03:00")
    on_time = touch(tmp_path / "a.ipynb", when=datetime(2025, 9, 11, 20, 0, tzinfo=timezone.utc))    # 17:00 -03
    late = touch(tmp_path / "b.ipynb", when=datetime(2025, 9, 12, 12, 0, tzinfo=timezone.utc))
    results = [result("a", (1.5, 1.5, 2, 1, 1), on_time), result("b", (1.5, 0, 0, 0, 0), late),
               result("c", (1.5, 1.5, 2, 1, 1), None)]
    rubric = {"a": {"W1": 2.0, "W2": 0.5, "comment": "good"}, "b": {"W1": 0.0}}
    times = {"c": parse_time("2025-09-13T10:00:00-03:00")}
    book = {r["student"]: r for r in rows(results, "tp1", CourseConfig(), rubric=rubric, times=times, deadline=deadline)}
    assert (book["a"]["total"], book["a"]["late"], book["a"]["final"]) == (9.5, "", 9.5)
    assert (book["b"]["total"], book["b"]["late"], book["b"]["late_penalty"], book["b"]["final"]) == (1.5, "yes", 2.0, 0.0)
    assert (book["c"]["late"], book["c"]["final"]) == ("yes", 5.0)
    assert "written part not graded yet (W2)" in book["b"]["status"] and book["a"]["status"] == "complete"
    nodeadline = rows(results, "tp1", CourseConfig())[0]
    assert nodeadline["late"] == "unknown" and "no deadline configured" in nodeadline["status"]
    assert list(book["a"])[: len(columns("tp1"))] == columns("tp1")


def test_rubric_csv_and_yaml(tmp_path):
    items = {"W1": 2.0, "W2": 1.0}
    csv_path = touch(tmp_path / "r.csv", "student,W1,W2,comment\nana,1.5,,cites the table\nbo,2,1,\n")
    assert load_rubric(csv_path, items) == {"ana": {"comment": "cites the table", "W1": 1.5},
                                            "bo": {"comment": "", "W1": 2.0, "W2": 1.0}}
    yml = touch(tmp_path / "r.yml", "ana: {W1: 1, comment: ok}\n")
    assert load_rubric(yml, items) == {"ana": {"comment": "ok", "W1": 1.0}}
    for text, words in (("student,W1\nana,3\n", r"ana W1 = 3 is outside \[0, 2\]"),
                        ("student,W9\nana,1\n", "unknown rubric items"),
                        ("student,W1\nana,lots\n", "is not a number"),
                        ("student,W1\n,1\n", "without a student")):
        with pytest.raises(ValueError, match=words):
            load_rubric(touch(tmp_path / "bad.csv", text), items)


def test_times_config_and_formula(tmp_path):
    times = load_times(touch(tmp_path / "t.csv", "student,submitted_at\nana,2025-09-11T17:59:00-03:00\n"))
    assert times["ana"] == parse_time("2025-09-11T20:59:00+00:00")
    with pytest.raises(ValueError, match="needs columns"):
        load_times(touch(tmp_path / "u.csv", "name,time\n"))
    with pytest.raises(ValueError, match="not an ISO 8601"):
        parse_time("next friday")
    config = load_config(SOLUTIONS / "course.yml")
    assert config.late_penalty == 2 and config.weights == {"exercises": 0.4, "project": 0.6}
    assert config.final_grade(8.0, 9.0) == 8.6
    with pytest.raises(ValueError, match="summing to 1"):
        CourseConfig(weights={"exercises": 0.5, "project": 0.6})
    with pytest.raises(ValueError, match="unknown keys"):
        load_config(touch(tmp_path / "c.yml", "penalty: 3\n"))


def test_cli_grade_end_to_end(tmp_path, capsys):
    """Solution (in a folder), untouched exercise and a partial .py: gradebook, feedback, rubric, late."""
    subs = tmp_path / "subs"
    shutil.copy(SOLUTIONS / "tp1_patch_embeddings.ipynb", touch(subs / "sol" / "tp1_mine.ipynb"))
    shutil.copy(EXERCISES / "tp1_patch_embeddings.ipynb", subs / "ex.ipynb")
    touch(subs / "part.py", "def token_stats(image_size, patch_size, dim, in_channels=1):\n"
                            "    n = (image_size // patch_size) ** 2\n"
                            "    return {'num_tokens': n, 'attention_entries': n * n, 'embed_params': 0}\n")
    rubric = touch(tmp_path / "rubric.csv", "student,W1,W2,comment\nsol,2,1,complete\n")
    times = touch(tmp_path / "times.csv", "student,submitted_at\nsol,2025-09-11T17:00:00-03:00\n"
                                          "ex,2025-09-11T17:00:00-03:00\npart,2025-09-12T09:00:00-03:00\n")
    out = tmp_path / "grades"
    assert main(["grade", "tp1", str(subs), "--out", str(out), "--rubric", str(rubric), "--times", str(times),
                 "--deadline", "2025-09-11T18:00:00-03:00", "--timeout", "20", "--workers", "2"]) == 0
    assert "graded 3 submissions" in capsys.readouterr().out
    with open(out / "gradebook.csv") as f:
        book = {r["student"]: r for r in csv.DictReader(f)}
    assert [book["sol"][t] for t in TP1] == ["1.5", "1.5", "2", "1", "1"]
    assert (book["sol"]["total"], book["sol"]["final"], book["sol"]["late"]) == ("10", "10", "")
    assert book["ex"]["code"] == "0" and book["ex"]["final"] == "0"
    assert book["part"]["token_stats"] == "0.6667" and book["part"]["late"] == "yes" and book["part"]["final"] == "0"
    feedback = (out / "feedback" / "part.md").read_text()
    assert "embed_params for {'image_size': 16, 'patch_size': 2, 'dim': 32, 'in_channels': 1}: expected 2208, got 0" \
        in feedback and "late submission: -2 points" in feedback
    assert "NotImplementedError" in (out / "feedback" / "ex.md").read_text()
    assert "- comment: complete" in (out / "feedback" / "sol.md").read_text()


def test_cli_exercises_check_and_final(tmp_path, capsys):
    assert main(["exercises", "--check"]) == 0
    g1 = touch(tmp_path / "g1.csv", "student,final\nana,8\nbo,6\n")
    g2 = touch(tmp_path / "g2.csv", "student,final\nana,10\n")
    project = touch(tmp_path / "p.csv", "student,project\nana,9\nbo,7\n")
    assert main(["final", "--exercises", str(g1), str(g2), "--project", str(project), "--out", str(tmp_path / "f.csv")]) == 0
    with open(tmp_path / "f.csv") as f:
        final = {r["student"]: r for r in csv.DictReader(f)}
    assert final["ana"]["final"] == "9" and final["bo"]["exercises"] == "3" and final["bo"]["final"] == "5.4"
    assert main(["grade", "tp9", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "unknown exercise 'tp9'" in capsys.readouterr().err


def test_grading_the_wrong_tp_says_so(tmp_path, capsys):
    subs = touch(tmp_path / "subs" / "part.py", "def token_stats(image_size, patch_size, dim, in_channels=1):\n"
                                                "    return {}\n").parent
    out = tmp_path / "grades"
    assert main(["grade", "tp2", str(subs), "--out", str(out), "--timeout", "20"]) == 0
    feedback = (out / "feedback" / "part.md").read_text()
    assert "none of the functions TP2 grades" in feedback and "is this a TP2 submission" in feedback
    capsys.readouterr()

