"""Finding submissions, rubric and late penalty, the gradebook and feedback files, the CLI."""
import csv
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from vitcourse.grading.cli import main
from vitcourse.grading.config import CourseConfig, load_config, load_rubric, load_times, parse_time
from vitcourse.grading.grade import StudentResult, TestScore
from vitcourse.grading.submissions import file_name, find_submissions
from vitcourse.grading.report import columns, rows
from vitcourse.grading.spec import Check

from test_grading_generate import EXERCISES, SOLUTIONS
from test_grading_hostile import NEEDS_BWRAP


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
    touch(tmp_path / "ana" / "tp1.ipynb")                       # a second "ana": both keep their entry name
    subs, skipped = find_submissions(tmp_path, "tp1")
    subs = {s.student: s for s in subs}
    assert sorted(subs) == ["ana.ipynb", "ana/", "bo", "carla", "dan"]
    assert all("claimed by" in subs[k].warnings[0] for k in ("ana.ipynb", "ana/"))
    assert subs["carla"].path.name == "TP1_final_tp1.ipynb"
    assert subs["dan"].path is None and "no notebook" in subs["dan"].notes[0] and subs["dan"].warnings
    assert dict(skipped) == {".hidden.ipynb": "hidden (its name starts with a dot)",
                             "notes.txt": "neither a notebook (.ipynb), a script (.py) nor a folder"}
    with pytest.raises(ValueError, match="does not exist"):
        find_submissions(tmp_path / "nope", "tp1")


def test_naming_rule_and_every_file_name(tmp_path):
    """tpN_<name> is student <name> in every TP; underscores, upper-case extensions, long and odd names
    all get a row; a clash never takes another student's name."""
    long = "x" * 240                                           # the file system allows 255 bytes
    for name in ("tp1_ana.ipynb", "TP1-Bo.IPYNB", "_carla.py", f"{long}.ipynb", "tp2_dan.ipynb", "año ñ.py",
                 "bo.py", "tp1_bo.py"):
        touch(tmp_path / name)
    subs, skipped = find_submissions(tmp_path, "tp1")
    ids = [s.student for s in subs]
    assert len(subs) == 8 and not skipped and len(set(ids)) == 8
    assert {"ana", "Bo", "_carla", long, "dan", "año ñ"} <= set(ids) and {"bo.py", "tp1_bo.py"} <= set(ids)
    assert "graded as tp1" in next(s for s in subs if s.student == "dan").warnings[0]
    names = [file_name(i) for i in ids] + [file_name("ana_"), file_name("ANA"), file_name("Ana")]
    assert len(set(n.lower() for n in names)) == len(names) and max(map(len, names)) <= 93
    assert file_name("ana") == "ana"


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


@NEEDS_BWRAP
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


def gradebook(path, tp, finals: dict):
    cols = columns(tp)
    lines = [",".join(cols)] + [",".join(student if c == "student" else (str(v) if c == "final" else "")
                                         for c in cols) for student, v in finals.items()]
    return touch(path, "\n".join(lines) + "\n")


def test_cli_exercises_check_and_final(tmp_path, capsys):
    """tp1_ana and tp2_ana are one student (ids come from find_submissions); the formula is course.yml's."""
    assert main(["exercises", "--check"]) == 0
    g1 = gradebook(tmp_path / "g1.csv", "tp1", {"ana": 8, "bo": 6})
    g2 = gradebook(tmp_path / "g2.csv", "tp2", {"ana": 10})
    project = touch(tmp_path / "p.csv", "student,project\nana,9\nbo,7\n")
    out = tmp_path / "f.csv"
    assert main(["final", "--exercises", str(g1), str(g2), "--project", str(project), "--out", str(out)]) == 0
    assert "note: bo: no tp2 submission (0)" in capsys.readouterr().out
    with open(out) as f:
        final = {r["student"]: r for r in csv.DictReader(f)}
    assert set(final) == {"ana", "bo"}
    assert (final["ana"]["tp1"], final["ana"]["tp2"], final["ana"]["final"]) == ("8", "10", "9")
    assert final["bo"]["exercises"] == "3" and final["bo"]["final"] == "5.4"
    assert main(["grade", "tp9", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "unknown exercise 'tp9'" in capsys.readouterr().err



@pytest.mark.parametrize("flag", ["--rubric", "--times"])
def test_cli_grade_names_a_missing_rubric_or_times_file(tmp_path, capsys, flag):
    missing = tmp_path / "nowhere.csv"
    assert main(["grade", "tp1", str(tmp_path), "--out", str(tmp_path / "o"), flag, str(missing),
                 "--unsafe-no-sandbox"]) == 2
    err = capsys.readouterr().err
    assert f"error: {flag} {missing}: no such file or folder" in err and "Traceback" not in err
    assert main(["grade", "tp1", str(tmp_path / "no-folder"), "--out", str(tmp_path / "o"), "--unsafe-no-sandbox"]) == 2
    assert "submissions" in capsys.readouterr().err
    assert main(["grade", "tp1", str(tmp_path), "--out", str(tmp_path / "o"), flag, str(tmp_path),
                 "--unsafe-no-sandbox"]) == 2
    err = capsys.readouterr().err
    assert f"error: {flag} {tmp_path}: is a folder" in err and "Traceback" not in err


@pytest.mark.parametrize("case, words", [
    ("project above the maximum", r"ana project = 11 is outside \[0, 10\]"),
    ("unknown student", r"students with no row in any gradebook: \['anna'\]"),
    ("duplicate row", "student 'ana' appears twice"),
    ("same TP twice", "two gradebooks of tp1"),
    ("missing file", "does not exist"),
    ("missing column", r"has no column\(s\) \['project'\]"),
    ("not a number", "'eight' is not a number"),
])
def test_final_refuses_bad_inputs(tmp_path, capsys, case, words):
    g1 = gradebook(tmp_path / "g1.csv", "tp1", {"ana": 8, "bo": 6})
    project = "student,project\nana,9\nbo,7\n"
    books = [g1]
    if case == "project above the maximum":
        project = "student,project\nana,11\n"
    elif case == "unknown student":
        project += "anna,8\n"
    elif case == "duplicate row":
        books = [gradebook(tmp_path / "g3.csv", "tp1", {"ana": 8})]
        books[0].write_text(books[0].read_text() + books[0].read_text().splitlines()[1] + "\n")
    elif case == "same TP twice":
        books = [g1, g1]
    elif case == "missing file":
        books = [tmp_path / "nope.csv"]
    elif case == "missing column":
        project = "student,score\nana,9\n"
    elif case == "not a number":
        books = [gradebook(tmp_path / "g4.csv", "tp1", {"ana": "eight"})]
    p = touch(tmp_path / "p.csv", project)
    assert main(["final", "--exercises", *map(str, books), "--project", str(p), "--out", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err
    assert re.search(words, err), err


@NEEDS_BWRAP
def test_grading_the_wrong_tp_says_so(tmp_path, capsys):
    subs = touch(tmp_path / "subs" / "part.py", "def token_stats(image_size, patch_size, dim, in_channels=1):\n"
                                                "    return {}\n").parent
    out = tmp_path / "grades"
    assert main(["grade", "tp2", str(subs), "--out", str(out), "--timeout", "20"]) == 0
    feedback = (out / "feedback" / "part.md").read_text()
    assert "none of the functions TP2 grades" in feedback and "is this a TP2 submission" in feedback
    capsys.readouterr()

