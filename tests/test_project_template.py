"""The class 8 project template (project-template/, a cookiecutter template) renders into a project
whose own tests pass and whose command line trains from its YAML config, offline.

Each generated project runs in a subprocess with this environment's Python and the generated
`src/` on PYTHONPATH (nothing is installed): once with the template's defaults, once with
non-default variables (another name, the CNN family, a course repository address).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

cookiecutter = pytest.importorskip("cookiecutter.main").cookiecutter
from cookiecutter.exceptions import FailedHookException  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "project-template"
CUSTOM = {"project_name": "Leaf Disease ViT", "author_name": "Ada Lovelace", "model_family": "cnn",
          "course_repository_url": "https://example.org/course/vit-course"}


def render(output_dir: Path, **extra) -> Path:
    return Path(cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(output_dir), extra_context=extra))


def run(args, project: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(project / "src"), "PYTHONDONTWRITEBYTECODE": "1",
           "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1",
           "OMP_NUM_THREADS": os.environ.get("VITCOURSE_TEST_THREADS", "1")}
    return subprocess.run([sys.executable, *args], cwd=project, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def default_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def custom_project(tmp_path_factory) -> Path:
    return render(tmp_path_factory.mktemp("custom"), **CUSTOM)


def test_defaults_render_a_complete_project_without_template_syntax_left(default_project):
    assert default_project.name == "vit-project"
    expected = {"README.md", "pyproject.toml", ".gitignore", "configs/baseline.yaml", "tests/conftest.py"} | {
        f"src/vit_project/{m}.py" for m in ("__init__", "__main__", "cli", "config", "data", "model", "train",
                                            "evaluate", "visualize", "tracking", "logs")}
    files = {p.relative_to(default_project).as_posix() for p in default_project.rglob("*") if p.is_file()}
    assert expected <= files
    for name in files:
        text = (default_project / name).read_text(encoding="utf-8")
        assert not re.search(r"\{\{|\{%|cookiecutter\.", text), f"unrendered template syntax in {name}"
    assert "print(" not in "".join((default_project / n).read_text() for n in files if n.startswith("src/"))


@pytest.mark.parametrize("which", ["default", "custom"])
def test_pyproject_declares_the_console_script_and_the_optional_extras(which, request):
    project = request.getfixturevalue(f"{which}_project")
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    slug, package = project.name, project.name.replace("-", "_")
    assert meta["name"] == slug and meta["scripts"] == {slug: f"{package}.cli:main"}
    assert "mlflow" in meta["optional-dependencies"] and not any("mlflow" in d for d in meta["dependencies"])
    course = meta["optional-dependencies"].get("course")
    assert course == (["vitcourse @ git+" + CUSTOM["course_repository_url"]] if which == "custom" else None)


@pytest.mark.parametrize("which", ["default", "custom"])
def test_the_generated_projects_own_tests_pass(which, request):
    project = request.getfixturevalue(f"{which}_project")
    result = run(["-m", "pytest", "-q", "-p", "no:cacheprovider"], project)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\d+ passed", result.stdout) and "failed" not in result.stdout


def test_the_command_line_trains_from_yaml_and_writes_its_log_and_metrics(custom_project):
    config = yaml.safe_load((custom_project / "configs" / "baseline.yaml").read_text())
    assert config["model"]["name"] == "cnn" and config["tracking"]["experiment"] == "leaf-disease-vit"
    config["name"] = "smoke"
    config["data"]["image_size"] = 8
    config["model"]["width"] = 8
    config["train"].update(epochs=1, warmup_epochs=0, device="cpu")
    (custom_project / "configs" / "smoke.yaml").write_text(yaml.safe_dump(config))
    result = run(["-m", "leaf_disease_vit", "train", "--config", "configs/smoke.yaml"], custom_project)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = custom_project / "runs" / "smoke"                # relative to the project folder
    log = (run_dir / "train.log").read_text()
    assert re.search(r"INFO +leaf_disease_vit\.train: epoch 1/1: train loss", log)
    assert "DEBUG" in log and "INFO" in result.stderr          # the file gets DEBUG, the console INFO
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["model"] == "cnn" and 0.0 <= metrics["test"]["accuracy"] <= 1.0
    assert len(metrics["test"]["confusion_matrix"]) == 10 and (run_dir / "model.pt").is_file()


def test_a_bad_config_is_one_clear_message_and_exit_status_2(default_project):
    (default_project / "configs" / "typo.yaml").write_text("train:\n  epoch: 3\n")
    result = run(["-m", "vit_project", "train", "--config", "configs/typo.yaml"], default_project)
    assert result.returncode == 2
    assert "unknown key 'train.epoch' (did you mean 'epochs'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_names_that_would_break_the_project_are_refused(tmp_path):
    with pytest.raises(FailedHookException):
        render(tmp_path, project_name="x", package_name="class")
    assert not any(tmp_path.iterdir())


def test_the_book_build_leaves_the_template_out():
    excluded = yaml.safe_load((ROOT / "_config.yml").read_text())["exclude_patterns"]
    assert "project-template" in excluded and "project-template/**" in excluded
