"""TP3 — fine-tune a pre-trained ViT: the graded tests and the public self-checks.

The parts follow the ViT paper's fine-tuning recipe (Dosovitskiy et al. 2021, Section 3.2: remove
the pre-trained head, attach a zero-initialised D x K layer; at a higher resolution keep the patch
size and interpolate the pre-trained position embeddings in 2-D) and the Hugging Face names
(`classifier`, `config.id2label`, `Trainer`'s `compute_metrics(eval_pred)`). The probes build small
stand-in models with those names, so no `transformers` import is needed inside the sandbox.
"""
from __future__ import annotations

import math
import types

import numpy as np

from .judge import check, close, error_of
from .spec import Assignment, Check, ProbeError, Test, WrittenItem, as_array, as_number, attempt

F32 = np.float32
NEW_LABELS = {0: "six", 1: "seven", 2: "eight", 3: "nine", 4: "other"}


def _model(num_labels=3, dim=12):
    """A stand-in for `ViTForImageClassification`: `vit` (the backbone), `classifier`, `config`, `num_labels`."""
    import torch
    from torch import nn

    class Stand(nn.Module):
        def __init__(self):
            super().__init__()
            self.vit = nn.Sequential(nn.Linear(6, dim), nn.LayerNorm(dim))
            self.classifier = nn.Linear(dim, num_labels)
            self.num_labels = num_labels
            self.config = types.SimpleNamespace(num_labels=num_labels, id2label={i: f"LABEL_{i}" for i in range(num_labels)},
                                                label2id={f"LABEL_{i}": i for i in range(num_labels)})

        def forward(self, x):
            return self.classifier(self.vit(x))
    torch.manual_seed(0)
    return Stand()


# --- replace_head --------------------------------------------------------------------------------

def head_inputs(rng, ref):
    return {"x": rng.normal(size=(4, 6)).astype(F32)}


def head_probe(ns, inputs):
    import torch
    out = {}
    m = _model()
    before = {k: v.clone() for k, v in m.vit.state_dict().items()}

    def run():
        r = ns["replace_head"](m, dict(NEW_LABELS))
        if not isinstance(r, torch.nn.Module) or not isinstance(getattr(r, "classifier", None), torch.nn.Linear):
            raise ProbeError("replace_head should return the model, its `classifier` an nn.Linear")
        head = r.classifier
        cfg = getattr(r, "config", None)
        with torch.no_grad():
            logits = r(torch.from_numpy(inputs["x"]))
        return {"weight": as_array(head.weight, "classifier.weight"),
                "bias": as_array(head.bias, "classifier.bias") if head.bias is not None else {"error": "no bias"},
                "logits": as_array(logits, "model(x)"),
                "backbone_kept": int(all(torch.equal(before[k], v) for k, v in r.vit.state_dict().items())),
                "trainable": int(all(p.requires_grad for p in head.parameters())),
                "num_labels": int(getattr(r, "num_labels", -1)),
                "id2label": sorted([int(k), str(v)] for k, v in dict(getattr(cfg, "id2label", {})).items()),
                "label2id": sorted([str(k), int(v)] for k, v in dict(getattr(cfg, "label2id", {})).items())}
    attempt(out, "head", run)
    return out


def head_judge(expected, got, inputs):
    g, e = got.get("head"), expected["head"]
    if error_of(g) or not isinstance(g, dict):
        msg = f"replace_head: {error_of(g) or 'no result'}"
        return [Check(n, w, False, msg) for n, w in (("new head shape", 0.3), ("zero-initialised", 0.3),
                                                       ("labels in the config", 0.2), ("backbone untouched", 0.2))]
    shape_ok = isinstance(g.get("weight"), np.ndarray) and g["weight"].shape == e["weight"].shape and \
        isinstance(g.get("bias"), np.ndarray) and g["bias"].shape == e["bias"].shape
    zero = shape_ok and not np.abs(g["weight"]).any() and not np.abs(g["bias"]).any()
    labels = g.get("id2label") == e["id2label"] and g.get("label2id") == e["label2id"] and \
        g.get("num_labels") == e["num_labels"]
    return [Check("new head shape", 0.3, shape_ok and g.get("trainable") == 1, "" if shape_ok and g.get("trainable")
                  else f"classifier should be nn.Linear(in_features, {len(NEW_LABELS)}) with a bias, trainable"),
            Check("zero-initialised", 0.3, zero, "" if zero else "the new head's weight and bias should be all zeros "
                  "(ViT, Section 3.2): every class starts at the same logit"),
            Check("labels in the config", 0.2, labels, "" if labels else "set model.num_labels, config.id2label and "
                  "config.label2id (label2id is the inverse of id2label)"),
            Check("backbone untouched", 0.2, g.get("backbone_kept") == 1, "" if g.get("backbone_kept") == 1 else
                  "replace_head changed the pre-trained backbone's weights")]


# --- freeze_backbone / count_parameters ----------------------------------------------------------

FREEZE_CASES = {"head": ("classifier",), "head_and_norm": ("classifier", "vit.1")}


def freeze_inputs(rng, ref):
    return {"cases": list(FREEZE_CASES)}


def freeze_probe(ns, inputs):
    out = {}
    for case in inputs["cases"]:
        def run(case=case):
            m = _model()
            r = ns["freeze_backbone"](m, FREEZE_CASES[case])
            m = r if r is not None else m
            return {"flags": [[n, int(p.requires_grad)] for n, p in m.named_parameters()]}
        attempt(out, case, run)

    def count():
        m = _model()
        for p in m.vit.parameters():
            p.requires_grad_(False)
        r = ns["count_parameters"](m)
        if not isinstance(r, (tuple, list)) or len(r) != 2:
            raise ProbeError("count_parameters should return (trainable, total)")
        return [as_number(r[0], "trainable"), as_number(r[1], "total")]
    attempt(out, "count", count)
    return out


def freeze_judge(expected, got, inputs):
    bad = ""
    for case, prefixes in FREEZE_CASES.items():
        g = got.get(case)
        if error_of(g) or not isinstance(g, dict):
            bad = f"freeze_backbone(model, {prefixes}): {error_of(g) or 'no result'}"
            break
        wrong = [n for n, f in expected[case]["flags"] if [n, f] not in g.get("flags", [])]
        if wrong:
            bad = (f"freeze_backbone(model, {prefixes}): requires_grad is wrong for {wrong[:4]} (only parameters whose "
                   f"name starts with one of the prefixes train)")
            break
    cnt, want = got.get("count"), tuple(expected["count"])
    ok = isinstance(cnt, list) and tuple(float(v) for v in cnt) == want
    msg = "" if ok else f"count_parameters: {error_of(cnt) or f'expected (trainable, total) numbers of elements {want}'}"
    return [Check("only the named parameters train", 0.6, not bad, bad), Check("count_parameters", 0.4, ok, msg)]


# --- compute_metrics -----------------------------------------------------------------------------

def metrics_inputs(rng, ref):
    labels = rng.integers(0, 4, 50)
    logits = rng.normal(size=(50, 5)).astype(F32)
    logits[np.arange(50), labels] += np.where(rng.random(50) < 0.6, 3.0, 0.0)
    logits[:, 3] -= 10                                     # class 3 is never predicted; class 4 never occurs
    return {"a": (logits, labels.astype(np.int64)), "b": (np.eye(3, dtype=F32)[[0, 1, 2, 1]], np.array([0, 1, 2, 1]))}


def metrics_probe(ns, inputs):
    out = {}
    for key in ("a", "b"):
        def run(key=key):
            logits, labels = inputs[key]
            r = ns["compute_metrics"]((np.array(logits), np.array(labels)))
            if not isinstance(r, dict):
                raise ProbeError(f"compute_metrics should return a dict, got {type(r).__name__}")
            missing = [k for k in ("accuracy", "precision", "recall", "f1") if k not in r]
            if missing:
                raise ProbeError(f"compute_metrics result has no key(s) {missing}")
            return {k: as_number(r[k], f"result[{k!r}]") for k in ("accuracy", "precision", "recall", "f1")}
        attempt(out, key, run)
    return out


def metrics_judge(expected, got, inputs):
    def agree(keys):
        for case in ("a", "b"):
            g = got.get(case)
            if not isinstance(g, dict) or error_of(g):
                return False, f"compute_metrics: {error_of(g) or 'no result'}"
            for k in keys:
                ok, msg = close(np.asarray(expected[case][k]), np.asarray(g[k]), f"{k} (case {case})", atol=1e-6, rtol=0)
                if not ok:
                    return False, msg + " — macro average over the classes present in labels or predictions, zero_division=0"
        return True, ""
    return [check("accuracy", 0.3, agree(("accuracy",))), check("macro precision and recall", 0.4,
            agree(("precision", "recall"))), check("macro F1", 0.3, agree(("f1",)))]


# --- interpolate_pos_embed -----------------------------------------------------------------------

def pos_inputs(rng, ref):
    return {"table": rng.normal(size=(1, 1 + 16, 6)).astype(F32), "grid": [6, 5]}


def pos_probe(ns, inputs):
    import torch
    f, t, out = ns["interpolate_pos_embed"], torch.from_numpy(inputs["table"]), {}
    attempt(out, "resized", lambda: as_array(f(t.clone(), tuple(inputs["grid"])), "interpolate_pos_embed(...)"))
    attempt(out, "same", lambda: as_array(f(t.clone(), (4, 4)), "interpolate_pos_embed(table, (4, 4))"))
    return out


def pos_judge(expected, got, inputs):
    r = got.get("resized")
    shape_ok = isinstance(r, np.ndarray) and r.shape == expected["resized"].shape
    cls_ok = shape_ok and np.allclose(r[:, 0], inputs["table"][:, 0], atol=1e-6)
    return [Check("shape (1, 1 + h*w, D)", 0.2, shape_ok, "" if shape_ok else
                  f"expected shape {expected['resized'].shape}: {error_of(r) or (r.shape if isinstance(r, np.ndarray) else r)}"),
            Check("class token kept", 0.2, cls_ok, "" if cls_ok else "the class token's row must be kept as it is"),
            check("same grid gives the same table", 0.2, close(expected["same"], got.get("same"), "same grid")),
            check("bicubic values", 0.4, close(expected["resized"], r, "resized table", atol=1e-5))]


# --- public self-checks (in words; not the hidden values) ----------------------------------------

def _say(ok, message):
    if not ok:
        raise AssertionError(message)


def check_replace_head(replace_head):
    m = replace_head(_model(), dict(NEW_LABELS))
    _say(m.classifier.out_features == len(NEW_LABELS), f"classifier should have {len(NEW_LABELS)} outputs")
    _say(not m.classifier.weight.abs().sum() and not m.classifier.bias.abs().sum(), "the new head is not all zeros")
    _say(m.config.id2label == NEW_LABELS and m.num_labels == len(NEW_LABELS), "num_labels / id2label not updated")
    print("✓ replace_head: a zero-initialised head with the new labels")


def check_freeze(freeze_backbone, count_parameters):
    m = _model()
    freeze_backbone(m, ("classifier",))
    names = [n for n, p in m.named_parameters() if p.requires_grad]
    _say(names == ["classifier.weight", "classifier.bias"], f"trainable after freezing: {names}")
    _say(tuple(count_parameters(m)) == (39, 39 + 6 * 12 + 12 + 24), f"count_parameters gave {count_parameters(m)}")
    print("✓ freeze_backbone / count_parameters")


def check_compute_metrics(compute_metrics):
    r = compute_metrics((np.eye(3)[[0, 1, 2, 2]], np.array([0, 1, 2, 1])))
    _say(abs(r["accuracy"] - 0.75) < 1e-9, f"accuracy of 3 right out of 4 should be 0.75, got {r['accuracy']}")
    _say(set(r) >= {"precision", "recall", "f1"}, "keys accuracy, precision, recall, f1 expected")
    print("✓ compute_metrics: accuracy and macro precision/recall/F1")


def check_interpolate_pos_embed(interpolate_pos_embed):
    import torch
    t = torch.randn(1, 17, 6)
    r = interpolate_pos_embed(t, (6, 6))
    _say(tuple(r.shape) == (1, 37, 6), f"shape expected (1, 37, 6), got {tuple(r.shape)}")
    _say(torch.allclose(r[:, 0], t[:, 0]), "the class token must be kept")
    _say(torch.allclose(interpolate_pos_embed(t, (4, 4)), t, atol=1e-5), "the same grid should give the same table")
    print("✓ interpolate_pos_embed: shape, class token, identity on the same grid")


ASSIGNMENT = Assignment(
    name="tp3", title="TP3 — Fine-tune a pre-trained ViT (optional)", notebook="tp3_fine_tuning.ipynb",
    due="before class 8",
    tests=[Test("replace_head", 1.5, ("replace_head",), "replace_head(model, id2label) -> model, zero-initialised head",
                head_inputs, head_probe, head_judge),
           Test("freeze_and_count", 1.5, ("freeze_backbone", "count_parameters"),
                "freeze_backbone(model, trainable_prefixes); count_parameters(model) -> (trainable, total)",
                freeze_inputs, freeze_probe, freeze_judge),
           Test("compute_metrics", 1.5, ("compute_metrics",), "compute_metrics((logits, labels)) -> accuracy, macro P/R/F1",
                metrics_inputs, metrics_probe, metrics_judge),
           Test("interpolate_pos_embed", 1.5, ("interpolate_pos_embed",),
                "interpolate_pos_embed(table (1, 1 + h*w, D), (H, W)) -> (1, 1 + H*W, D), bicubic",
                pos_inputs, pos_probe, pos_judge)],
    written=[WrittenItem("W1", 1.0, "Choices: the pre-trained model, the target data set and split, and why they fit"),
             WrittenItem("W2", 1.0, "Before/after: linear probe vs head-only vs full vs LoRA over seeds, with the "
                                    "paired tests' sentences, trainable parameters and time"),
             WrittenItem("W3", 1.0, "The ViT recipe (zero head, SGD + momentum, higher resolution with interpolated "
                                    "positions): what changed and what it measured"),
             WrittenItem("W4", 1.0, "Evaluation: macro P/R/F1 and the confusion matrix read; which classes are confused")],
    allowed_vitcourse=("vitcourse.data", "vitcourse.train", "vitcourse.viz", "vitcourse.hub", "vitcourse.seeds",
                       "vitcourse.stats", "vitcourse.grading.tp3"),
    preload=("torch", "numpy", "sklearn.metrics", "transformers.trainer", "datasets", "peft"),  # the master imports them
)
