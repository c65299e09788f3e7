import pytest

from {{ cookiecutter.package_name }}.config import ConfigError, config_from_dict, load_config

from conftest import PROJECT


def test_the_baseline_config_loads():
    cfg = load_config(PROJECT / "configs" / "baseline.yaml")
    assert cfg.name == "baseline"
    assert cfg.model.name == "{{ cookiecutter.model_family }}"
    assert cfg.data.image_size % cfg.model.patch_size == 0


def test_missing_keys_take_their_defaults():
    cfg = config_from_dict({"train": {"epochs": 3}})
    assert cfg.train.epochs == 3 and cfg.train.lr == 3e-3 and cfg.data.name == "digits"


def test_a_missing_file_says_where_it_looked(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_invalid_yaml_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train: [epochs: 3\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)


@pytest.mark.parametrize("values, message", [
    ({"train": {"epoch": 3}}, "unknown key 'train.epoch' \\(did you mean 'epochs'\\?\\)"),
    ({"train": {"epochs": "ten"}}, "train.epochs='ten' has type str, expected int"),
    ({"train": {"epochs": 0}}, "train.epochs=0: expected a positive integer"),
    ({"data": {"augment": "yes"}}, "data.augment='yes' has type str, expected bool"),
    ({"model": {"name": "resnet"}}, "model.name='resnet': expected one of"),
    ({"model": {"dim": 30, "num_heads": 4}}, "not divisible by model.num_heads=4"),
    ({"data": {"image_size": 18}, "model": {"patch_size": 4}}, "image_size=18 is not divisible by model.patch_size=4"),
    ({"data": {"name": "imagefolder"}}, "data.root is empty"),
    ({"train": {"device": "gpu"}}, "train.device='gpu': expected one of"),
    ({"data": [1, 2]}, "data must be a mapping"),
])
def test_bad_values_give_clear_messages(values, message):
    with pytest.raises(ConfigError, match=message):
        config_from_dict(values)


def test_the_file_name_is_part_of_the_message(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text("model:\n  depht: 2\n")
    with pytest.raises(ConfigError, match="exp.yaml: unknown key 'model.depht' \\(did you mean 'depth'\\?\\)"):
        load_config(path)
