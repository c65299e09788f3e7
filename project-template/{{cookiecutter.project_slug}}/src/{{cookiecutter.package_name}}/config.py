"""Experiment configuration: one YAML file per experiment (configs/*.yaml), checked on load.

Every value the code uses lives here, with its default; the YAML file overrides some of them.
A wrong file fails now, with a `ConfigError` that names the key, the value and what is expected,
instead of a traceback in the middle of training.
"""
from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DATASETS = ("digits", "imagefolder")
MODELS = ("vit", "cnn", "vitcourse-vit")
DEVICES = ("auto", "cpu", "cuda", "mps")


class ConfigError(ValueError):
    """A configuration file or value that cannot be used; the message says what is expected."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


@dataclass
class DataConfig:
    name: str = "digits"          # "digits" (scikit-learn's 1797 8x8 digits, offline) or "imagefolder"
    root: str = ""                # imagefolder only: root/<class name>/<image files>, relative to the cwd
    channels: int = 1             # 1 (grey) or 3 (RGB); the digits are grey
    image_size: int = 16          # images are resized to image_size x image_size pixels
    batch_size: int = 64
    val_fraction: float = 0.1     # of the images left after the test split
    test_fraction: float = 0.2    # held out, never augmented, used once at the end
    augment: bool = False         # random shifts of the training images only

    def __post_init__(self):
        _require(self.name in DATASETS, f"data.name={self.name!r}: expected one of {DATASETS}")
        _require(self.name != "imagefolder" or bool(self.root),
                 "data.root is empty: data.name 'imagefolder' needs the folder holding one sub-folder per class")
        _require(self.channels in (1, 3), f"data.channels={self.channels}: expected 1 (grey) or 3 (RGB)")
        _require(self.name != "digits" or self.channels == 1, "data.channels must be 1 for the digits (grey images)")
        for key in ("image_size", "batch_size"):
            _require(getattr(self, key) > 0, f"data.{key}={getattr(self, key)}: expected a positive integer")
        for key in ("val_fraction", "test_fraction"):
            _require(0.0 < getattr(self, key) < 1.0, f"data.{key}={getattr(self, key)}: expected a fraction in (0, 1)")


@dataclass
class ModelConfig:
    name: str = "vit"             # "vit" (plain PyTorch), "cnn" (the baseline) or "vitcourse-vit"
    patch_size: int = 4           # ViT: P x P pixels per token; must divide data.image_size
    dim: int = 64                 # ViT: token width D
    depth: int = 4                # ViT: number of encoder blocks
    num_heads: int = 4            # ViT: attention heads (dim must divide by it)
    mlp_dim: int = 128            # ViT: hidden width of each block's MLP
    dropout: float = 0.0
    width: int = 32               # CNN: channels of the first stage (then 2x, 4x)

    def __post_init__(self):
        _require(self.name in MODELS, f"model.name={self.name!r}: expected one of {MODELS}")
        for key in ("patch_size", "dim", "depth", "num_heads", "mlp_dim", "width"):
            _require(getattr(self, key) > 0, f"model.{key}={getattr(self, key)}: expected a positive integer")
        _require(self.dim % self.num_heads == 0,
                 f"model.dim={self.dim} is not divisible by model.num_heads={self.num_heads}")
        _require(0.0 <= self.dropout < 1.0, f"model.dropout={self.dropout}: expected a value in [0, 1)")


@dataclass
class TrainConfig:
    epochs: int = 30
    lr: float = 3e-3              # AdamW peak learning rate, after a linear warm-up
    weight_decay: float = 0.05
    warmup_epochs: int = 2        # then cosine decay to 0
    seed: int = 0                 # fixes the split, the initialisation, the shuffling and the augmentation
    device: str = "auto"          # "auto": cuda, then mps, then cpu

    def __post_init__(self):
        _require(self.epochs > 0, f"train.epochs={self.epochs}: expected a positive integer")
        _require(self.lr > 0, f"train.lr={self.lr}: expected a positive number")
        _require(self.weight_decay >= 0 and self.warmup_epochs >= 0 and self.seed >= 0,
                 "train.weight_decay, train.warmup_epochs and train.seed must be >= 0")
        _require(self.device in DEVICES, f"train.device={self.device!r}: expected one of {DEVICES}")


@dataclass
class TrackingConfig:
    mlflow: bool = False          # log parameters, metrics and the model to MLflow (if it is installed)
    experiment: str = "default"   # the MLflow experiment name


@dataclass
class Config:
    name: str = "baseline"        # the run's name: outputs go to <output_dir>/<name>/
    output_dir: str = "runs"      # relative to the working directory
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def __post_init__(self):
        _require(bool(self.name) and "/" not in self.name, f"name={self.name!r}: expected a non-empty name without '/'")
        if self.model.name != "cnn":
            _require(self.data.image_size % self.model.patch_size == 0,
                     f"data.image_size={self.data.image_size} is not divisible by model.patch_size="
                     f"{self.model.patch_size}: pick a patch size that divides the image size")

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir) / self.name

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _check_type(where: str, value, default):
    """The YAML value must have the type of the default (an int is accepted where a float is)."""
    expected = type(default)
    ok = isinstance(value, expected) and (expected is bool or not isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    _require(ok, f"{where}={value!r} has type {type(value).__name__}, expected {expected.__name__}")
    return value


def _build(cls, values, where: str):
    if values is None:
        values = {}
    _require(isinstance(values, dict), f"{where or 'the file'} must be a mapping of keys to values, got {values!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"unknown key {path!r}{hint}; expected keys: {sorted(fields)}")
        f = fields[key]
        if dataclasses.is_dataclass(f.default_factory if f.default_factory is not dataclasses.MISSING else None):
            kwargs[key] = _build(f.default_factory, value, path)
        else:
            kwargs[key] = _check_type(path, value, f.default)
    return cls(**kwargs)


def config_from_dict(values: dict) -> Config:
    """A checked `Config` from nested dictionaries (missing keys take their defaults)."""
    return _build(Config, values, "")


def load_config(path: str | Path) -> Config:
    """Read and check a YAML experiment file; raise `ConfigError` with a clear message if it is wrong."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {str(path)!r} not found (run from the project folder, e.g. "
                          f"--config configs/baseline.yaml)")
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {err}") from err
    try:
        return config_from_dict(values)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
