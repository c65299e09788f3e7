"""Smoke tests for `python -m vitcourse.bench`: the functions run and the tables have the right shape.
No timing assertions (performance claims live in the benchmark's output, not in tests)."""
import math

import pytest

from vitcourse import ViTConfig
from vitcourse.bench import bench_attention, bench_models, format_table, main, time_many

SMALL = {"small": (ViTConfig(image_size=8, patch_size=4, in_channels=1, num_classes=3, dim=16, depth=1,
                             num_heads=2, mlp_dim=32), 2)}


def test_time_many_interleaves_and_counts():
    calls = []
    t = time_many({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, repeats=3, warmup=2)
    assert calls == ["a", "b"] * 5
    assert set(t) == {"a", "b"} and all(v >= 0 for v in t.values())


def test_time_many_clocks_and_errors():
    assert set(time_many({"a": lambda: sum(range(1000))}, repeats=2, warmup=0, clock="cpu")) == {"a"}
    with pytest.raises(ValueError, match="clock='gpu': expected one of"):
        time_many({"a": lambda: None}, clock="gpu")


def test_bench_models_rows():
    pytest.importorskip("transformers")
    rows = bench_models(SMALL, repeats=1, warmup=0)
    assert [(r["config"], r["mode"], r["batch"]) for r in rows] == [("small", "forward", 2), ("small", "train step", 2)]
    for r in rows:
        assert list(r) == ["config", "batch", "mode", "ours img/s", "HF img/s", "ours/HF"]
        assert all(math.isfinite(r[k]) and r[k] > 0 for k in ("ours img/s", "HF img/s", "ours/HF"))
        assert r["ours/HF"] == pytest.approx(r["ours img/s"] / r["HF img/s"])


def test_bench_attention_rows():
    rows = bench_attention([8, 32], heads=2, head_dim=4, repeats=1, warmup=0)
    assert [r["tokens N"] for r in rows] == [8, 32]
    assert list(rows[0]) == ["tokens N", "naive ms", "fused ms", "naive/fused", "weights MB"]
    assert rows[1]["weights MB"] == pytest.approx(2 * 32 * 32 * 4 / 2**20)
    assert all(r["naive/fused"] == pytest.approx(r["naive ms"] / r["fused ms"]) for r in rows)


def test_format_table():
    table = format_table([{"name": "a", "x/y": 1.234, "v img/s": 12345.6}, {"name": "bb", "x/y": 0.5, "v img/s": 0.01234}])
    lines = table.splitlines()
    assert len(lines) == 4 and lines[1].startswith("|--")
    assert len({len(line) for line in lines}) == 1                          # aligned columns
    assert "1.23" in lines[2] and "12346" in lines[2] and "0.50" in lines[3] and "0.0123" in lines[3]
    assert format_table([]) == "(no rows)"


def test_main_quick_prints_both_tables(capsys):
    pytest.importorskip("transformers")
    out = main(["--quick", "--repeats", "1", "--seq-lens", "8", "16", "--clock", "cpu"])
    text = capsys.readouterr().out
    assert "ours/HF" in text and "naive/fused" in text and "cpu-clock median of 1" in text
    assert [r["mode"] for r in out["models"]] == ["forward", "train step"]
    assert [r["tokens N"] for r in out["attention"]] == [8, 16]


def test_train_digits_returns_an_accuracy():
    from vitcourse import tiny
    from vitcourse.bench import train_digits
    acc = train_digits(0, epochs=1, config=tiny(dim=8, depth=1, num_heads=1, mlp_dim=8), batch=512)
    assert 0.0 <= acc <= 1.0


def test_bench_seeds_rows():
    from vitcourse import tiny
    from vitcourse.bench import bench_seeds
    rows = bench_seeds(2, epochs=1, config=tiny(dim=8, depth=1, num_heads=1, mlp_dim=8), processes=(2,), repeats=1)
    assert [r["run"] for r in rows] == ["one seed alone", "one seed alone, 1 thread", "2 seeds one after another",
                                        "start the worker processes", "2 seeds in parallel",
                                        "same accuracies in parallel as sequential"]
    assert [r["seeds"] for r in rows] == [1, 1, 2, 0, 2, 2] and rows[4]["processes"] == 2
    assert min(rows[0]["time/one"], rows[1]["time/one"]) == pytest.approx(1.0)
    assert rows[4]["time/one"] == pytest.approx(rows[4]["wall s"] / min(rows[0]["wall s"], rows[1]["wall s"]))
    assert rows[-1]["time/one"] == 1.0                                     # seeds reproducible in processes
    assert "same accuracies" in format_table(rows)


def test_main_sections_seeds_only(capsys):
    out = main(["--quick", "--sections", "seeds"])
    text = capsys.readouterr().out
    assert list(out) == ["seeds"] and "seeds in parallel" in text and "ours/HF" not in text


def test_load_warning_warns_only_on_a_busy_machine():
    from vitcourse.bench import load_warning
    assert load_warning(0.2, 2) == "machine load 0.2 on 2 core(s)"
    assert load_warning(1.8, 2).startswith("WARNING: machine load 1.8 on 2 core(s)")
    assert "not available" in load_warning(None, 2)
