"""Evaluation: predictions over a loader, classification metrics, and a saved model's test scores.

The metrics come from scikit-learn: accuracy, macro precision/recall/F1 (each class counts the
same, whatever its size) and the confusion matrix (rows: true class, columns: predicted class).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import Config
from .data import load_data
from .model import build_model

logger = logging.getLogger(__name__)


def classification_metrics(y_true, y_pred, num_classes: int) -> dict:
    """{"accuracy", "precision_macro", "recall_macro", "f1_macro", "confusion_matrix"} for labels 0..K-1."""
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1 or len(y_true) == 0:
        raise ValueError(f"y_true and y_pred must be non-empty 1-D arrays of the same length, "
                         f"got shapes {y_true.shape} and {y_pred.shape}")
    labels = list(range(num_classes))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "precision_macro": float(precision),
            "recall_macro": float(recall), "f1_macro": float(f1),
            "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist()}


@torch.no_grad()
def predict(model: nn.Module, loader, device: torch.device) -> tuple[np.ndarray, np.ndarray, float]:
    """(true labels, predicted labels, mean cross-entropy) over a loader of (images, labels)."""
    model.to(device).eval()
    labels, preds, loss_sum = [], [], 0.0
    for images, y in loader:
        logits = model(images.to(device))                                      # (B, K)
        loss_sum += nn.functional.cross_entropy(logits, y.to(device), reduction="sum").item()
        labels.append(y.numpy())
        preds.append(logits.argmax(-1).cpu().numpy())
    y_true = np.concatenate(labels)
    return y_true, np.concatenate(preds), loss_sum / len(y_true)


def evaluate_model(model: nn.Module, loader, num_classes: int, device: torch.device) -> dict:
    """`classification_metrics` plus the mean loss over a loader."""
    y_true, y_pred, loss = predict(model, loader, device)
    return {**classification_metrics(y_true, y_pred, num_classes), "loss": loss}


def load_checkpoint(path: str | Path, cfg: Config, device: torch.device) -> tuple[nn.Module, list[str]]:
    """The model saved by `train` (weights, class names) rebuilt from the config."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {str(path)!r} not found: train first (train --config ...) "
                                f"or pass --checkpoint")
    state = torch.load(path, map_location=device, weights_only=True)
    names = state["class_names"]
    model = build_model(cfg.model, cfg.data.image_size, cfg.data.channels, len(names))
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as err:
        raise ValueError(f"checkpoint {path} does not fit the model of this config (model.name="
                         f"{cfg.model.name!r}): was it trained with another config? {err}") from err
    return model, names


def evaluate_checkpoint(cfg: Config, checkpoint: str | Path, device: torch.device, split: str = "test") -> dict:
    """Scores of a saved model on one split ("val" or "test") of the config's data."""
    if split not in ("val", "test"):
        raise ValueError(f"split={split!r}: expected 'val' or 'test'")
    model, names = load_checkpoint(checkpoint, cfg, device)
    data = load_data(cfg.data, cfg.train.seed)
    metrics = evaluate_model(model, getattr(data, split), len(names), device)
    logger.info("%s: accuracy %.4f, macro-F1 %.4f", split, metrics["accuracy"], metrics["f1_macro"])
    return metrics
