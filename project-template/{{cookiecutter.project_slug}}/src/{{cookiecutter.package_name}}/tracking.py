"""Optional experiment tracking with MLflow: used when `tracking.mlflow` is true AND mlflow imports.

MLflow is never required: without it a warning says so and the run goes on; the run folder
(config.yaml, metrics.json, model.pt, the log) holds the same information. MLflow stores its runs
in ./mlruns unless MLFLOW_TRACKING_URI says otherwise (`mlflow ui` shows them).
"""
from __future__ import annotations

import logging

logger = logging.getLogger(__name__)


def _flat(values: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


class Tracker:
    """Log parameters, per-epoch metrics and files to MLflow, or do nothing. Use it as a context manager."""

    def __init__(self, enabled: bool, experiment: str, run_name: str):
        self.mlflow = None
        if enabled:
            try:
                import mlflow
            except ImportError:
                logger.warning("tracking.mlflow is true but mlflow is not installed (pip install mlflow): "
                               "not tracking this run")
            else:
                self.mlflow = mlflow
        self.experiment, self.run_name = experiment, run_name

    def __enter__(self):
        if self.mlflow is not None:
            self.mlflow.set_experiment(self.experiment)
            self.mlflow.start_run(run_name=self.run_name)
            logger.info("MLflow run %r in experiment %r", self.run_name, self.experiment)
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.mlflow is not None:
            self.mlflow.end_run(status="FAILED" if exc_type else "FINISHED")
        return False

    def log_params(self, params: dict) -> None:
        if self.mlflow is not None:
            self.mlflow.log_params(_flat(params))

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        if self.mlflow is not None:
            numbers = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
            self.mlflow.log_metrics(numbers, step=step)

    def log_artifact(self, path) -> None:
        if self.mlflow is not None:
            self.mlflow.log_artifact(str(path))
