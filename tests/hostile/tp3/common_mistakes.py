"""Typical slips, one per part: a randomly initialised head (PyTorch's default init), leaving the
biases trainable and counting tensors instead of elements, micro instead of macro averages,
bilinear instead of bicubic interpolation. Each loses only its own mistake's share."""
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from torch import nn


def replace_head(model, id2label):
    model.classifier = nn.Linear(model.classifier.in_features, len(id2label))
    model.num_labels = len(id2label)
    model.config.id2label = dict(id2label)
    model.config.label2id = {v: k for k, v in id2label.items()}
    return model


def freeze_backbone(model, trainable=("classifier",)):
    for name, p in model.named_parameters():
        p.requires_grad = any(name.startswith(t) for t in trainable) or "bias" in name      # biases left on
    return model


def count_parameters(model):
    return sum(1 for p in model.parameters() if p.requires_grad), sum(1 for _ in model.parameters())


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    pred = np.argmax(logits, axis=-1)
    p, r, f, _ = precision_recall_fscore_support(labels, pred, average="micro", zero_division=0)
    return {"accuracy": accuracy_score(labels, pred), "precision": p, "recall": r, "f1": f}


def interpolate_pos_embed(pos_embed, new_grid):
    cls, grid = pos_embed[:, :1], pos_embed[:, 1:]
    side = int(grid.shape[1] ** 0.5)
    grid = grid.reshape(1, side, side, -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=tuple(new_grid), mode="bilinear", align_corners=False)
    return torch.cat([cls, grid.permute(0, 2, 3, 1).reshape(1, -1, grid.shape[1])], dim=1)
