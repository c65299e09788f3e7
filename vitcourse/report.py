"""Evaluating a classifier: confusion matrix, per-class precision / recall / F1 and their macro
averages, and the figures a report needs (confusion matrix, learning curves, predictions).

precision_k = TP_k / (TP_k + FP_k),  recall_k = TP_k / (TP_k + FN_k),  F1_k = 2 P R / (P + R);
a class never predicted (or never present) gets 0 where the ratio is 0/0, as scikit-learn's
`zero_division=0`. matplotlib is imported inside the plotting functions.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .viz import _plt, heatmap, show_images


def _as_labels(x, name) -> np.ndarray:
    x = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of class indices, got shape {x.shape}")
    if x.size and (x.min() < 0 or not np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"{name} must hold non-negative integer class indices, got dtype {x.dtype}, min {x.min()}")
    return x.astype(np.int64)


def confusion_matrix(labels, preds, num_classes: int | None = None) -> np.ndarray:
    """(K, K) counts: row = true class, column = predicted class."""
    y, p = _as_labels(labels, "labels"), _as_labels(preds, "preds")
    if y.shape != p.shape:
        raise ValueError(f"labels and preds must have the same length, got {len(y)} and {len(p)}")
    k = num_classes if num_classes is not None else int(max(y.max(initial=-1), p.max(initial=-1)) + 1)
    if y.size and max(y.max(), p.max()) >= k:
        raise ValueError(f"a class index reaches {max(y.max(), p.max())} but num_classes={k}")
    return np.bincount(y * k + p, minlength=k * k).reshape(k, k)


def _ratio(num, den):
    return np.divide(num, den, out=np.zeros(len(num), dtype=float), where=den > 0)


@dataclass
class ClassificationReport:
    confusion: np.ndarray        # (K, K), rows = true class
    precision: np.ndarray        # (K,)
    recall: np.ndarray           # (K,)
    f1: np.ndarray               # (K,)
    support: np.ndarray          # (K,) true examples per class
    class_names: list

    @property
    def accuracy(self) -> float:
        return float(np.trace(self.confusion) / max(1, self.confusion.sum()))

    def macro(self) -> dict:
        """Unweighted means over classes (every class counts the same)."""
        return {"precision": float(self.precision.mean()), "recall": float(self.recall.mean()),
                "f1": float(self.f1.mean())}

    def to_markdown(self, digits: int = 3) -> str:
        rows = ["| class | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        for name, p, r, f, s in zip(self.class_names, self.precision, self.recall, self.f1, self.support):
            rows.append(f"| {name} | {p:.{digits}f} | {r:.{digits}f} | {f:.{digits}f} | {s} |")
        m = self.macro()
        rows.append(f"| **macro avg** | {m['precision']:.{digits}f} | {m['recall']:.{digits}f} | "
                    f"{m['f1']:.{digits}f} | {self.support.sum()} |")
        rows.append(f"| **accuracy** | | | {self.accuracy:.{digits}f} | {self.support.sum()} |")
        return "\n".join(rows)


def classification_report(labels, preds, num_classes: int | None = None, class_names=None) -> ClassificationReport:
    """Per-class precision, recall, F1 and support, from the confusion matrix."""
    cm = confusion_matrix(labels, preds, num_classes)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(0), cm.sum(1)
    precision, recall = _ratio(tp, predicted), _ratio(tp, actual)
    f1 = _ratio(2 * precision * recall, precision + recall)
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(cm))]
    if len(names) != len(cm):
        raise ValueError(f"{len(names)} class names for {len(cm)} classes")
    return ClassificationReport(cm, precision, recall, f1, actual, names)


def plot_confusion_matrix(cm, class_names=None, ax=None, normalize: bool = False, title="confusion matrix"):
    """Counts (or row-normalised rates) with true classes down and predictions across."""
    cm = np.asarray(cm)
    values = cm / np.maximum(cm.sum(1, keepdims=True), 1) if normalize else cm
    names = [str(n) for n in (class_names if class_names is not None else range(len(cm)))]
    ax = heatmap(values, ax, title=title, xlabel="predicted", ylabel="true", cmap="Blues", annotate=True,
                 fmt=".2f" if normalize else ".0f", xticklabels=names, yticklabels=names, colorbar=False)
    return ax


def plot_history(history: dict, axes=None, train_label: str = "train"):
    """Learning curves from `vitcourse.fit`'s history: loss and accuracy per epoch, train and val.

    `train_label` names the training curve, e.g. "train (augmented, label-smoothed)": its loss is measured on
    the batches as trained on, so it is not comparable with the validation loss when those differ."""
    if axes is None:
        _, axes = _plt().subplots(1, 2, figsize=(9, 3.2), layout="constrained")
    for ax, key in zip(axes, ("loss", "accuracy")):
        for split in ("train", "val"):
            values = history.get(f"{split}_{key}", [])
            if len(values):
                ax.plot(range(1, len(values) + 1), values, label=train_label if split == "train" else split)
        ax.set_xlabel("epoch"), ax.set_ylabel(key), ax.set_title(key), ax.legend()
        ax.grid(alpha=0.3)
    return axes


def plot_predictions(images, labels, preds, class_names=None, errors_only: bool = False, max_images: int = 18,
                     ncols: int = 9, size: float = 1.3):
    """A grid of images titled 'true→predicted'; with `errors_only`, only the misclassified ones."""
    y, p = _as_labels(labels, "labels"), _as_labels(preds, "preds")
    if len(images) != len(y) or len(y) != len(p):
        raise ValueError(f"images, labels and preds must have the same length, got {len(images)}, {len(y)}, {len(p)}")
    idx = np.flatnonzero(y != p) if errors_only else np.arange(len(y))
    if len(idx) == 0:
        raise ValueError("no images to show" + (" (no misclassified examples)" if errors_only else ""))
    idx = idx[:max_images]
    name = (lambda i: class_names[i]) if class_names is not None else str
    titles = [f"{name(y[i])}→{name(p[i])}" for i in idx]
    return show_images([images[i] for i in idx], titles=titles, ncols=min(ncols, len(idx)), size=size)
