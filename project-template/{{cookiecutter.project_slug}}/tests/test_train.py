import json

import pytest
import torch

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import config_from_dict
from {{ cookiecutter.package_name }}.train import lr_factor, train

from conftest import tiny_values


def test_a_tiny_run_trains_saves_and_scores(tiny_config):
    result = train(tiny_config)
    run = tiny_config.run_dir
    assert {p.name for p in run.iterdir()} >= {"config.yaml", "model.pt", "metrics.json"}
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["test"]["accuracy"] == result["test"]["accuracy"]
    assert len(saved["history"]["train_loss"]) == 2
    assert saved["history"]["train_loss"][1] < saved["history"]["train_loss"][0]
    assert result["test"]["accuracy"] > 0.2                                # chance is 0.1


def test_the_same_seed_gives_the_same_run(tmp_path):
    a = train(config_from_dict(tiny_values(tmp_path / "a", model="cnn")))
    b = train(config_from_dict(tiny_values(tmp_path / "b", model="cnn")))
    assert a["history"] == b["history"]


def test_warmup_then_cosine():
    assert [lr_factor(s, 10, 2) for s in (0, 1)] == [0.5, 1.0]
    assert lr_factor(2, 10, 2) == 1.0 and lr_factor(10, 10, 2) == pytest.approx(0.0)


def test_the_command_line_trains_logs_and_evaluates(tiny_yaml, tmp_path):
    assert main(["train", "--config", str(tiny_yaml)]) == 0
    run = tmp_path / "runs" / "tiny"
    log = (run / "train.log").read_text()
    assert "INFO" in log and "epoch 2/2" in log and "DEBUG" in log        # the file keeps DEBUG records
    assert main(["evaluate", "--config", str(tiny_yaml)]) == 0
    scores = json.loads((run / "evaluate_test.json").read_text())
    trained = json.loads((run / "metrics.json").read_text())["test"]
    assert scores["accuracy"] == pytest.approx(trained["accuracy"])
    assert scores["confusion_matrix"] == trained["confusion_matrix"]


def test_command_line_errors_are_messages_with_an_exit_status(tmp_path, tiny_yaml, capsys):
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["evaluate", "--config", str(tiny_yaml)]) == 2             # nothing trained yet
    assert "train first" in capsys.readouterr().err


def test_a_checkpoint_from_another_model_is_refused(tmp_path, tiny_config):
    tiny_config.run_dir.mkdir(parents=True)
    torch.save({"model": {}, "class_names": list("0123456789")}, tiny_config.run_dir / "model.pt")
    from {{ cookiecutter.package_name }}.evaluate import evaluate_checkpoint
    with pytest.raises(ValueError, match="does not fit the model of this config"):
        evaluate_checkpoint(tiny_config, tiny_config.run_dir / "model.pt", torch.device("cpu"))
