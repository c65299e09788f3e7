"""Shared fixtures: a tiny configuration that trains in about a second on a CPU."""
from pathlib import Path

import pytest
import yaml

from {{ cookiecutter.package_name }}.config import config_from_dict

PROJECT = Path(__file__).resolve().parents[1]


def tiny_values(tmp_path: Path, model: str = "vit") -> dict:
    return {"name": "tiny", "output_dir": str(tmp_path / "runs"),
            "data": {"image_size": 8, "batch_size": 128},
            "model": {"name": model, "patch_size": 4, "dim": 16, "depth": 1, "num_heads": 2, "mlp_dim": 32,
                      "width": 8},
            "train": {"epochs": 2, "lr": 0.01, "warmup_epochs": 0, "seed": 0, "device": "cpu"}}


@pytest.fixture
def tiny_config(tmp_path):
    return config_from_dict(tiny_values(tmp_path))


@pytest.fixture
def tiny_yaml(tmp_path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_values(tmp_path)))
    return path
