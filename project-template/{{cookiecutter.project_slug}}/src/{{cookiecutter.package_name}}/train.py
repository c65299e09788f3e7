"""Training: seeds, AdamW with linear warm-up then cosine decay (Dosovitskiy et al. 2021, Appendix
B.1), per-epoch validation, then one evaluation on the held-out test split.

A run writes to <output_dir>/<name>/: config.yaml (the resolved config), model.pt (weights and
class names), metrics.json (history, validation and test scores) and train.log (see `cli`).
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
import yaml

from .config import Config
from .data import load_data, random_shift
from .evaluate import evaluate_model
from .model import build_model, count_parameters
from .tracking import Tracker

logger = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and GPUs); results still vary slightly with threads and devices."""
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def resolve_device(name: str) -> torch.device:
    """"auto": cuda, then mps, then cpu; a named device this machine lacks is an error."""
    has = {"cpu": True, "cuda": torch.cuda.is_available(),
           "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if name == "auto":
        return torch.device(next(d for d in ("cuda", "mps", "cpu") if has[d]))
    if not has.get(name, False):
        raise RuntimeError(f"train.device={name!r} is not available on this machine: use 'auto' or 'cpu'")
    return torch.device(name)


def lr_factor(step: int, total: int, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to 0 at `total`."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def train(cfg: Config) -> dict:
    """Train the configured model, save it and return {"history", "val", "test", ...} (also metrics.json)."""
    start = time.perf_counter()
    seed_everything(cfg.train.seed)
    device = resolve_device(cfg.train.device)
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
    data = load_data(cfg.data, cfg.train.seed)
    k = len(data.class_names)
    model = build_model(cfg.model, cfg.data.image_size, data.in_channels, k).to(device)
    logger.info("model %s: %d trainable parameters, device %s", cfg.model.name, count_parameters(model), device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    steps = cfg.train.epochs * len(data.train)
    warmup = cfg.train.warmup_epochs * len(data.train)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_factor(s, steps, warmup))
    augment_rng = torch.Generator().manual_seed(cfg.train.seed)
    history = {"train_loss": [], "val_loss": [], "val_accuracy": []}
    with Tracker(cfg.tracking.mlflow, cfg.tracking.experiment, cfg.name) as tracker:
        tracker.log_params(cfg.to_dict())
        for epoch in range(1, cfg.train.epochs + 1):
            model.train()
            loss_sum, seen = 0.0, 0
            for images, labels in data.train:
                if cfg.data.augment:
                    images = random_shift(images, augment_rng)                 # training images only
                images, labels = images.to(device), labels.to(device)
                loss = F.cross_entropy(model(images), labels)
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"the training loss is {loss.item()} at epoch {epoch}: "
                                             f"lower train.lr (now {cfg.train.lr})")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
                loss_sum, seen = loss_sum + loss.item() * len(labels), seen + len(labels)
            val = evaluate_model(model, data.val, k, device)
            history["train_loss"].append(loss_sum / seen)
            history["val_loss"].append(val["loss"])
            history["val_accuracy"].append(val["accuracy"])
            logger.info("epoch %d/%d: train loss %.4f, val loss %.4f, val accuracy %.4f",
                        epoch, cfg.train.epochs, loss_sum / seen, val["loss"], val["accuracy"])
            tracker.log_metrics({"train_loss": loss_sum / seen, "val_loss": val["loss"],
                                 "val_accuracy": val["accuracy"]}, step=epoch)
        test = evaluate_model(model, data.test, k, device)
        logger.info("test: accuracy %.4f, macro-F1 %.4f (%d images)", test["accuracy"], test["f1_macro"],
                    len(data.test.dataset))
        torch.save({"model": model.state_dict(), "class_names": data.class_names}, run_dir / "model.pt")
        result = {"name": cfg.name, "model": cfg.model.name, "seed": cfg.train.seed, "device": str(device),
                  "parameters": count_parameters(model), "class_names": data.class_names, "history": history,
                  "val": val, "test": test, "seconds": time.perf_counter() - start}
        (run_dir / "metrics.json").write_text(json.dumps(result, indent=2), encoding="utf-8")
        tracker.log_metrics({f"test_{key}": value for key, value in test.items()})
        for name in ("config.yaml", "metrics.json", "model.pt"):
            tracker.log_artifact(run_dir / name)
    logger.info("wrote %s in %.1f s", run_dir, result["seconds"])
    return result
