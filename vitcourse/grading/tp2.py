"""TP2 — build and train a Vision Transformer: the graded tests.

Attention as in Vaswani et al. (2017), Sections 3.2.1-3.2.2; the pre-norm block and the ViT as in
Dosovitskiy et al. (2021), Eq. 1-4, with timm's parameter names. Every model is batch-first:
one image's output must never depend on the other images of its batch.
"""
from __future__ import annotations

import numpy as np

from .judge import check, close, error_of, same_shape
from .spec import (Assignment, Check, ProbeError, Test, WrittenItem, as_array, as_number, attempt, load_weights,
                   random_state)

F32 = np.float32


# --- scaled_dot_product_attention ----------------------------------------------------------------

def sdpa_inputs(rng, ref):
    mask = rng.random((5, 7)) < 0.6
    mask[:, 0] = True                                     # every query may attend to at least one key
    return {"q": rng.normal(size=(2, 3, 5, 4)).astype(F32), "k": rng.normal(size=(2, 3, 7, 4)).astype(F32),
            "v": rng.normal(size=(2, 3, 7, 6)).astype(F32), "mask": mask}


def _pair(r, what):
    if not isinstance(r, (tuple, list)) or len(r) != 2:
        raise ProbeError(f"{what} should return (output, weights), got {type(r).__name__}"
                         + (f" of length {len(r)}" if isinstance(r, (tuple, list)) else ""))
    return {"out": as_array(r[0], f"{what}[0] (output)"), "weights": as_array(r[1], f"{what}[1] (weights)")}


def sdpa_probe(ns, inputs):
    import torch
    f, out = ns["scaled_dot_product_attention"], {}
    q, k, v = (torch.from_numpy(inputs[n]) for n in "qkv")
    attempt(out, "plain", lambda: _pair(f(q, k, v), "scaled_dot_product_attention(q, k, v)"))
    attempt(out, "masked", lambda: _pair(f(q, k, v, mask=torch.from_numpy(inputs["mask"])),
                                         "scaled_dot_product_attention(q, k, v, mask)"))
    return out


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _part(got, key, sub):
    g = got.get(key)
    return g if error_of(g) else (g.get(sub) if isinstance(g, dict) else None)


def sdpa_judge(expected, got, inputs):
    q, k = inputs["q"].astype(np.float64), inputs["k"].astype(np.float64)
    shapes = [same_shape(expected[key][s], _part(got, key, s), f"{key} {s}") for key in ("plain", "masked")
              for s in ("out", "weights")]
    w = _part(got, "plain", "weights")
    rows = isinstance(w, np.ndarray) and w.shape == expected["plain"]["weights"].shape
    sums = w.sum(-1) if rows else None
    rows_ok = rows and np.allclose(sums, 1, atol=1e-4)
    row_msg = ""
    if rows and not rows_ok:
        idx = tuple(int(i) for i in np.argwhere(~np.isclose(sums, 1, atol=1e-4))[0])
        row_msg = (f"row {idx} of the attention weights sums to {sums[idx]:.4g}, not 1: apply the softmax over the "
                   f"last dimension (the keys)")
    plain = [close(expected["plain"][s], _part(got, "plain", s), f"{s} without a mask") for s in ("out", "weights")]
    msg = next((m for ok, m in plain if not ok), "")
    if msg and rows and np.allclose(w, _softmax(q @ k.swapaxes(-1, -2)), atol=1e-4):
        msg += " — the scores were not divided by sqrt(d_k)"
    masked = [close(expected["masked"][s], _part(got, "masked", s), f"{s} with a mask") for s in ("out", "weights")]
    mmsg = next((m for ok, m in masked if not ok), "")
    wm = _part(got, "masked", "weights")
    if mmsg and isinstance(wm, np.ndarray) and wm.shape == expected["masked"]["weights"].shape and \
            (wm[..., ~inputs["mask"]] > 1e-6).any():
        mmsg += " — positions where mask is False must get weight 0 (True = may attend)"
    return [Check("shapes", 0.2, all(ok for ok, _ in shapes), next((m for ok, m in shapes if not ok), "")),
            Check("weight rows sum to one", 0.1, rows_ok, row_msg or ("" if rows else "no weights to check")),
            Check("values without a mask", 0.4, all(ok for ok, _ in plain), msg),
            Check("values with a mask", 0.3, all(ok for ok, _ in masked), mmsg)]


# --- modules: shared probe and judge -------------------------------------------------------------

def _module_inputs(cls_name, kwargs, x_shape):
    def make(rng, ref):
        x = rng.random(x_shape, dtype=F32) if len(x_shape) == 4 else rng.normal(size=x_shape).astype(F32)
        others = rng.random(x_shape, dtype=F32) if len(x_shape) == 4 else rng.normal(size=x_shape).astype(F32)
        return {"x": x, "others": others, "weights": random_state(ref[cls_name](**kwargs), rng)}
    return make


def _substitutes(names):
    """Correct stand-ins (the course package's) for the graded parts a module builds on."""
    from vitcourse.attention import MultiHeadAttention, scaled_dot_product_attention
    from vitcourse.blocks import Block
    made = {"scaled_dot_product_attention": scaled_dot_product_attention,
            "MultiHeadSelfAttention": lambda dim, num_heads: MultiHeadAttention(dim, num_heads),
            "TransformerBlock": lambda dim, num_heads, mlp_dim: Block(dim, num_heads, mlp_dim)}
    return {n: made[n] for n in names}


def _module_rescue(cls_name, kwargs, conv_as_linear=(), builds_on=()):
    """The values once more with correct versions of the parts the module builds on, so one mistake
    is not charged in every test. Runs in a second sandbox (the only one holding those parts), after
    the main results are in: whatever the submission does with them, it cannot change those."""
    def rescue(ns, inputs):
        import torch
        parts = [n for n in builds_on if n in ns]
        if not parts:
            return {}
        ns.update(_substitutes(parts))
        m = ns[cls_name](**kwargs)
        load_weights(m, inputs["weights"], conv_as_linear)
        with torch.no_grad():
            return {"values_given_parts": as_array(m.eval()(torch.from_numpy(inputs["x"])), f"{cls_name}(...)(x)")}
    return rescue


def _module_probe(cls_name, kwargs, conv_as_linear=(), gradients=False):
    """Shape, batch independence, gradients and values with given weights."""
    def probe(ns, inputs):
        import torch
        out = {}
        m = ns[cls_name](**kwargs)
        if not isinstance(m, torch.nn.Module):
            raise ProbeError(f"{cls_name}(...) should be a torch.nn.Module, got {type(m).__name__}")
        m.eval()
        x, others = torch.from_numpy(inputs["x"]), torch.from_numpy(inputs["others"])
        swapped = torch.cat([others[:1], x[1:2], others[2:]])        # sample 1 kept, the others replaced
        what = f"{cls_name}(...)(x)"
        with torch.no_grad():
            attempt(out, "own", lambda: as_array(m(x), what))
            attempt(out, "alone", lambda: as_array(m(x[1:2]), what + " on one sample"))
            attempt(out, "swapped", lambda: as_array(m(swapped), what + " with other samples"))
        if gradients:
            def grads():
                m.zero_grad()
                y = m(x)
                if not isinstance(y, torch.Tensor):
                    raise ProbeError(f"{what} should return a torch.Tensor, got {type(y).__name__}")
                y.float().square().sum().backward()
                return [n for n, p in m.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0][:8]
            attempt(out, "no_grad", grads)

        def given():
            load_weights(m, inputs["weights"], conv_as_linear)
            with torch.no_grad():
                return as_array(m.eval()(x), what + " with the grader's weights")
        attempt(out, "values", given)
        return out
    return probe


def _independent(got, what) -> Check:
    own, alone, swapped = got.get("own"), got.get("alone"), got.get("swapped")
    name = "batch independence"
    for g in (own, alone, swapped):
        if not isinstance(g, np.ndarray):
            return Check(name, 0, False, f"{name}: {error_of(g) or 'no output'}")
    if own.shape[0] < 3 or alone.shape[0] != 1 or swapped.shape != own.shape or not np.isfinite(own).all():
        return Check(name, 0, False, f"{name}: outputs have unexpected shapes or non-finite values")
    change = max(np.abs(own[1] - alone[0]).max(), np.abs(own[1] - swapped[1]).max())
    if change > 1e-4 * max(1.0, np.abs(own[1]).max()):
        return Check(name, 0, False, (
            f"{what}: the output for one sample changes (by up to {change:.3g}) when the other samples of the "
            f"batch change — your model mixes the images of a batch. If you used nn.MultiheadAttention or "
            f"nn.TransformerEncoderLayer, they expect (N, B, D) unless batch_first=True; every tensor here is "
            f"(B, N, D)"))
    if np.allclose(own[0], own[1], atol=1e-6):
        return Check(name, 0, False, f"{what}: different inputs give the same output; the check needs a model "
                                     f"that uses its input")
    return Check(name, 0, True, "")


def _module_judge(what, weights):
    w_shape, w_ind, w_grad, w_val = weights

    def judge(expected, got, inputs):
        checks = [check("output shape", w_shape, same_shape(expected["own"], got.get("own"), f"{what} output"))]
        ind = _independent(got, what)
        ind.weight = w_ind
        checks.append(ind)
        if w_grad:
            bad = got.get("no_grad")
            ok = isinstance(bad, list) and not bad
            checks.append(Check("every parameter gets a gradient", w_grad, ok, "" if ok else (
                f"{what}: parameters without a gradient: {bad}" if isinstance(bad, list) else
                f"{what} backward: {error_of(bad) or 'not run'}")))
        ok, msg = close(expected["values"], got.get("values"), f"{what} with the grader's weights")
        if not ok and isinstance(got.get("values_given_parts"), np.ndarray) and \
                close(expected["values"], got["values_given_parts"], what)[0]:
            ok, msg = True, (f"{what} gives the right values once the parts it builds on are right: their "
                             f"mistakes count in their own tests only")
        checks.append(Check("values with the given weights", w_val, ok, msg))
        return checks
    return judge


MHSA_KW = dict(dim=12, num_heads=3)
BLOCK_KW = dict(dim=12, num_heads=3, mlp_dim=20)
VIT_KW = dict(image_size=8, patch_size=4, in_channels=1, num_classes=5, dim=12, depth=2, num_heads=3, mlp_dim=16)


# --- classification_metrics ----------------------------------------------------------------------

METRIC_KEYS = ("accuracy", "precision", "recall", "f1")


def metrics_inputs(rng, ref):
    y_true = rng.integers(0, 4, 60)                        # class 4 never occurs
    y_pred = np.where(rng.random(60) < 0.6, y_true, rng.integers(0, 5, 60))
    y_pred[y_pred == 3] = 2                                # class 3 is never predicted
    return {"a": (y_true.astype(np.int64), y_pred.astype(np.int64), 5),
            "b": (np.array([0, 1, 2, 2, 1, 0]), np.array([0, 1, 2, 2, 1, 0]), 3)}


def metrics_probe(ns, inputs):
    import torch
    f, out = ns["classification_metrics"], {}
    for key in ("a", "b"):
        y_true, y_pred, k = inputs[key]

        def one():
            r = f(torch.as_tensor(y_true), torch.as_tensor(y_pred), num_classes=int(k))
            if not isinstance(r, dict):
                raise ProbeError(f"classification_metrics should return a dict, got {type(r).__name__}")
            missing = [name for name in METRIC_KEYS + ("confusion",) if name not in r]
            if missing:
                raise ProbeError(f"classification_metrics result has no key(s) {missing}")
            res = {name: as_number(r[name], f"result[{name!r}]") for name in METRIC_KEYS}
            c = r["confusion"]
            res["confusion"] = np.array(c, dtype=np.float64) if isinstance(c, np.ndarray) else \
                as_array(c, "result['confusion']").astype(np.float64)
            return res
        attempt(out, key, one)
    return out


def metrics_judge(expected, got, inputs):
    def agree(keys, tol=1e-6):
        for case in ("a", "b"):
            g, e = got.get(case), expected[case]
            if error_of(g) or not isinstance(g, dict):
                return False, f"classification_metrics: {error_of(g) or 'no result'}"
            for name in keys:
                ok, msg = close(np.asarray(e[name]), np.asarray(g.get(name)), f"{name} (case {case})", atol=tol, rtol=0) \
                    if isinstance(g.get(name), (float, int, np.ndarray)) else (False, f"{name}: no value")
                if not ok:
                    return False, msg
        return True, ""
    return [check("accuracy", 0.2, agree(("accuracy",))), check("macro precision and recall", 0.3,
            agree(("precision", "recall"))), check("macro F1", 0.2, agree(("f1",))),
            check("confusion matrix (rows: true class)", 0.3, agree(("confusion",)))]


ASSIGNMENT = Assignment(
    name="tp2", title="TP2 — Build and train a Vision Transformer", notebook="tp2_vision_transformer.ipynb",
    due="before class 4",
    tests=[Test("scaled_dot_product_attention", 1.5, ("scaled_dot_product_attention",),
                "scaled_dot_product_attention(q, k, v, mask=None) -> (output, weights)",
                sdpa_inputs, sdpa_probe, sdpa_judge),
           Test("MultiHeadSelfAttention", 1.5, ("MultiHeadSelfAttention",), "MultiHeadSelfAttention(dim, num_heads)",
                _module_inputs("MultiHeadSelfAttention", MHSA_KW, (3, 5, 12)),
                _module_probe("MultiHeadSelfAttention", MHSA_KW),
                _module_judge("MultiHeadSelfAttention", (0.2, 0.2, 0, 0.6)),
                _module_rescue("MultiHeadSelfAttention", MHSA_KW, builds_on=("scaled_dot_product_attention",))),
           Test("TransformerBlock", 1.0, ("TransformerBlock",), "TransformerBlock(dim, num_heads, mlp_dim), pre-norm",
                _module_inputs("TransformerBlock", BLOCK_KW, (3, 5, 12)),
                _module_probe("TransformerBlock", BLOCK_KW),
                _module_judge("TransformerBlock", (0.2, 0.2, 0, 0.6)),
                _module_rescue("TransformerBlock", BLOCK_KW,
                               builds_on=("scaled_dot_product_attention", "MultiHeadSelfAttention"))),
           Test("VisionTransformer", 2.0, ("VisionTransformer",), "VisionTransformer(...) -> logits (B, num_classes)",
                _module_inputs("VisionTransformer", VIT_KW, (4, 1, 8, 8)),
                _module_probe("VisionTransformer", VIT_KW, conv_as_linear=("patch_embed.proj.weight",), gradients=True),
                _module_judge("VisionTransformer", (0.15, 0.35, 0.1, 0.4)),
                _module_rescue("VisionTransformer", VIT_KW, conv_as_linear=("patch_embed.proj.weight",),
                               builds_on=("scaled_dot_product_attention", "MultiHeadSelfAttention",
                                          "TransformerBlock"))),
           Test("classification_metrics", 1.0, ("classification_metrics",),
                "classification_metrics(y_true, y_pred, num_classes) -> accuracy, macro P/R/F1, confusion",
                metrics_inputs, metrics_probe, metrics_judge)],
    written=[WrittenItem("W1", 1.0, "Tuning: the configurations tried, their validation accuracy, the choice "
                                    "and why (validation set, never the test set)"),
             WrittenItem("W2", 1.0, "Data augmentation: the variants compared on the same budget, what helped "
                                    "and why; the test set is never augmented"),
             WrittenItem("W3", 1.0, "Evaluation: accuracy, precision, recall, F1, confusion matrix and a grid of "
                                    "predictions on the test set, with the mistakes discussed")],
    allowed_vitcourse=("vitcourse.data", "vitcourse.train", "vitcourse.viz", "vitcourse.measure.time_callable",
                       "vitcourse.grading.selfcheck", "vitcourse.patches"),
    rescue_modules=("vitcourse.attention", "vitcourse.blocks"),
)
