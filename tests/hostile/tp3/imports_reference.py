"""Uses the course's resize_pos_embed for interpolate_pos_embed (flagged, zero: vitcourse.pos_embed does
not exist in TP3's sandbox); the other three parts are honest and correct (full marks)."""
import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support
from torch import nn

from vitcourse.pos_embed import resize_pos_embed


def interpolate_pos_embed(pos_embed, new_grid):
    return resize_pos_embed(pos_embed, new_grid)


def replace_head(model, id2label):
    head = nn.Linear(model.classifier.in_features, len(id2label))
    nn.init.zeros_(head.weight)
    nn.init.zeros_(head.bias)
    model.classifier, model.num_labels = head, len(id2label)
    model.config.id2label = dict(id2label)
    model.config.label2id = {v: k for k, v in id2label.items()}
    return model


def freeze_backbone(model, trainable=("classifier",)):
    for name, p in model.named_parameters():
        p.requires_grad = any(name.startswith(t) for t in trainable)
    return model


def count_parameters(model):
    return (sum(p.numel() for p in model.parameters() if p.requires_grad), sum(p.numel() for p in model.parameters()))


def compute_metrics(eval_pred):
    logits, labels = eval_pred
    pred = np.argmax(logits, axis=-1)
    p, r, f, _ = precision_recall_fscore_support(labels, pred, average="macro", zero_division=0)
    return {"accuracy": accuracy_score(labels, pred), "precision": p, "recall": r, "f1": f}
