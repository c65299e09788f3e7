import sys
import types

from {{ cookiecutter.package_name }}.logs import setup_logging
from {{ cookiecutter.package_name }}.tracking import Tracker


def test_mlflow_receives_parameters_metrics_and_files_when_installed(monkeypatch, tmp_path):
    calls = []
    fake = types.SimpleNamespace(**{name: (lambda *a, _n=name, **k: calls.append((_n, a, k))) for name in
                                    ("set_experiment", "start_run", "end_run", "log_params", "log_metrics",
                                     "log_artifact")})
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    with Tracker(True, "exp", "run") as tracker:
        tracker.log_params({"train": {"lr": 0.1}})
        tracker.log_metrics({"loss": 1, "matrix": [[1]]}, step=2)
        tracker.log_artifact(tmp_path / "metrics.json")
    names = [c[0] for c in calls]
    assert names == ["set_experiment", "start_run", "log_params", "log_metrics", "log_artifact", "end_run"]
    assert calls[2][1] == ({"train.lr": 0.1},) and calls[3][1] == ({"loss": 1.0},)
    assert calls[-1][2] == {"status": "FINISHED"}


def test_without_mlflow_the_run_goes_on_with_a_warning(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "mlflow", None)                  # `import mlflow` raises ImportError
    setup_logging(tmp_path / "run.log")
    with Tracker(True, "exp", "run") as tracker:
        tracker.log_metrics({"loss": 1.0})
    assert tracker.mlflow is None
    assert "WARNING" in (tmp_path / "run.log").read_text() and "mlflow is not installed" in \
        (tmp_path / "run.log").read_text()
