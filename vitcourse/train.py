"""Training utilities: device choice, seeding, a small `fit` loop (AdamW, linear warm-up then
cosine decay, as used to train ViTs in Dosovitskiy et al. 2021, Appendix B.1) and evaluation."""
from __future__ import annotations

import math
import os
import random

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._checks import check_device, check_labels, check_loader


def get_device(prefer: str | torch.device | None = None) -> torch.device:
    """cuda if available, then Apple's mps, then cpu. `prefer` ("cpu", "cuda", "cuda:1", "mps") overrides.

    A preferred device that this machine does not have raises a RuntimeError now, rather than an
    error at the first `.to(device)`; an unknown name raises a ValueError.
    """
    if prefer:
        return check_device(prefer)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and all GPUs)."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Learning-rate factor: linear warm-up over `warmup` steps, then cosine decay to 0."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _progress(iterable, enabled: bool, **kw):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm
    return tqdm(iterable, **kw)


def fit(model: nn.Module, train_loader, val_loader=None, *, epochs: int, lr: float,
        weight_decay: float = 0.0, device=None, progress: bool = True, warmup_epochs: float = 0.0,
        label_smoothing: float = 0.0, grad_clip: float | None = None, loss_fn=None,
        restore_best: bool = False) -> dict:
    """Train `model` with AdamW and a warm-up + cosine schedule; return the history.

    History: lists per epoch of train_loss, train_accuracy, val_loss, val_accuracy (when a
    validation loader is given) and lr (after the epoch's last step).
    `loss_fn(model, batch) -> (loss, logits|None, targets|None)` replaces the default
    cross-entropy on (images, labels) batches; train_accuracy is NaN when it gives no logits.

    `restore_best=True` is validation-selected early stopping without the early stop: the schedule
    runs to its end, then the model gets back the weights of the epoch with the highest validation
    accuracy (the first such epoch on a tie), and the history's `best_epoch` (0-based) says which.
    A comparison that selects each contender's stopping point the same way is not confounded by one
    model peaking earlier than another.
    """
    if epochs <= 0 or lr <= 0:
        raise ValueError(f"epochs and lr must be positive, got epochs={epochs}, lr={lr}")
    check_loader(train_loader, "train_loader")
    if val_loader is not None:
        check_loader(val_loader, "val_loader")
    if len(train_loader) == 0:
        raise ValueError("train_loader is empty: it yields no batches")
    if restore_best and (val_loader is None or loss_fn is not None):
        raise ValueError("restore_best=True selects the epoch by validation accuracy: it needs a val_loader "
                         "and the default cross-entropy loss (loss_fn=None)")
    device = check_device(device) if device is not None else get_device()
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    total = epochs * len(train_loader)
    warmup = int(warmup_epochs * len(train_loader))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: warmup_cosine(s, total, warmup))
    history = {"train_loss": [], "train_accuracy": [], "val_loss": [], "val_accuracy": [], "lr": []}
    best_state, best_accuracy = None, -1.0
    bar = _progress(range(epochs), progress, desc="epochs", unit="epoch")
    for epoch in bar:
        model.train()
        loss_sum = correct = seen = counted = 0
        for batch in train_loader:
            batch = [t.to(device) for t in batch]
            if loss_fn is None:
                logits = model(batch[0])
                targets = batch[1]
                check_labels(targets, logits.shape[-1])
                loss = F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
            else:
                loss, logits, targets = loss_fn(model, batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
            schedule.step()
            n = batch[0].shape[0]
            loss_sum += loss.item() * n
            seen += n
            if logits is not None:
                correct += (logits.argmax(-1) == targets).sum().item()
                counted += n
        history["train_loss"].append(loss_sum / seen)
        history["train_accuracy"].append(correct / counted if counted else float("nan"))
        history["lr"].append(optimizer.param_groups[0]["lr"])
        postfix = {"loss": f"{loss_sum / seen:.3f}"}
        if val_loader is not None and loss_fn is None:
            val = evaluate(model, val_loader, device)
            history["val_loss"].append(val["loss"])
            history["val_accuracy"].append(val["accuracy"])
            postfix["val_acc"] = f"{val['accuracy']:.3f}"
            if restore_best and val["accuracy"] > best_accuracy:
                best_accuracy, history["best_epoch"] = val["accuracy"], epoch
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if progress:
            bar.set_postfix(postfix)
    if restore_best:
        model.load_state_dict(best_state)
    return history


@torch.no_grad()
def predict(model: nn.Module, loader, device=None):
    """(labels, predicted labels, logits) over a loader of (images, labels), as CPU tensors."""
    check_loader(loader, "loader")
    device = check_device(device) if device is not None else next(model.parameters()).device
    model.to(device).eval()
    labels, logits = [], []
    for images, y in loader:
        logits.append(model(images.to(device)).float().cpu())
        labels.append(y)
    logits = torch.cat(logits)
    return torch.cat(labels), logits.argmax(-1), logits


def evaluate(model: nn.Module, loader, device=None) -> dict:
    """{'accuracy': ..., 'loss': ...} (mean cross-entropy) over a loader of (images, labels)."""
    labels, preds, logits = predict(model, loader, device)
    check_labels(labels, logits.shape[-1])
    return {"accuracy": (preds == labels).float().mean().item(),
            "loss": F.cross_entropy(logits, labels).item()}


def linear_classifier(max_iter: int = 3000):
    """Standardise each feature, then multinomial logistic regression (scikit-learn).

    The linear probe of the self-supervised papers: MAE (He et al. 2022, Appendix A.1) puts a
    BatchNorm without affine parameters before the linear layer, i.e. a per-feature
    standardisation; ImageGPT (Chen et al. 2020, Section 2.4) fits a logistic regression on
    frozen features. Returns an unfitted scikit-learn pipeline.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=max_iter))


def _as_2d_and_labels(features, labels, name: str):
    x = features.detach().cpu().numpy() if isinstance(features, torch.Tensor) else np.asarray(features)
    y = labels.detach().cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    if x.ndim != 2:
        raise ValueError(f"{name} features must be 2-D (samples, features), got shape {x.shape}; "
                         f"flatten images first, e.g. images.reshape(len(images), -1)")
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(f"{name} labels must be 1-D with one label per sample: {len(x)} samples, "
                         f"labels of shape {y.shape}")
    return x, y


def linear_probe(train_features, train_labels, test_features, test_labels, max_iter: int = 3000) -> float:
    """Fit `linear_classifier()` on frozen train features and return its test accuracy.

    Features are (n, d) arrays or tensors (flatten images first); labels are (n,).
    """
    x_tr, y_tr = _as_2d_and_labels(train_features, train_labels, "train")
    x_te, y_te = _as_2d_and_labels(test_features, test_labels, "test")
    if x_tr.shape[1] != x_te.shape[1]:
        raise ValueError(f"train and test features must have the same width, got {x_tr.shape[1]} and {x_te.shape[1]}")
    return float(linear_classifier(max_iter).fit(x_tr, y_tr).score(x_te, y_te))
