"""TP4 — compare multimodal models on the same inputs: the graded tests and the public self-checks.

The parts: SigLIP's sigmoid loss (Zhai et al. 2023, Algorithm 1), CLIP's zero-shot classifier from
class prompts with prompt ensembling (Radford et al. 2021, Sections 3.1.2 and 3.1.4), per-class
precision/recall/F1 equal to scikit-learn's, and recall@K for retrieval. The probes use a stand-in
text encoder and tokenizer defined here, so no course model is needed inside the sandbox.
"""
from __future__ import annotations

import math

import numpy as np

from .judge import check, close, error_of
from .spec import Assignment, Check, ProbeError, Test, WrittenItem, as_array, as_number, attempt

F64 = np.float64
WORDS = ("a", "photo", "of", "the", "small", "big", "red", "blue", "green", "circle", "square", "cross", "ring",
         "drawing", "picture", "dark")


class StandTokenizer:
    """Words -> ids (0 is padding): `tokenizer(list_of_texts)` -> (B, T) int64, as the course's WordTokenizer."""

    def __init__(self, words=WORDS, context_length=8):
        self.index = {w: i + 1 for i, w in enumerate(words)}
        self.context_length = context_length

    def __call__(self, texts):
        import torch
        if isinstance(texts, str):
            texts = [texts]
        ids = torch.zeros(len(texts), self.context_length, dtype=torch.int64)
        for i, text in enumerate(texts):
            words = str(text).replace(".", " ").split()
            toks = [self.index[w] for w in words if w in self.index][: self.context_length]
            ids[i, : len(toks)] = torch.tensor(toks, dtype=torch.int64)
        return ids


class StandModel:
    """A text tower stand-in: `encode_text(ids)` -> (B, E), a fixed random bag of words (not normalised)."""

    def __init__(self, dim=6, seed=0):
        import torch
        g = torch.Generator().manual_seed(seed)
        self.table = torch.randn(len(WORDS) + 1, dim, generator=g)
        self.table[0] = 0
        self.scale = 0.5 + torch.rand(len(WORDS) + 1, generator=g) * 3     # words of very different norms

    def encode_text(self, ids):
        import torch
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2:
            raise ProbeError("encode_text expects the (B, T) tensor of ids the tokenizer returns")
        return (self.table[ids] * self.scale[ids, None]).sum(dim=1) + 0.1        # (B, E)


# --- siglip_loss ----------------------------------------------------------------------------------

def siglip_inputs(rng, ref):
    return {"img": rng.normal(size=(6, 5)), "txt": rng.normal(size=(6, 5)), "t": 0.7, "b": -2.5,
            "img3": rng.normal(size=(3, 4)), "txt3": rng.normal(size=(3, 4))}


def siglip_probe(ns, inputs):
    import torch
    f, out = ns["siglip_loss"], {}
    img, txt = (torch.tensor(inputs[k], dtype=torch.float64) for k in ("img", "txt"))

    def value(i, t, s, b):
        r = f(i, t, s, b)
        if not isinstance(r, torch.Tensor) or r.numel() != 1:
            raise ProbeError(f"siglip_loss should return a scalar tensor, got {type(r).__name__}")
        if r.dtype != torch.float64:
            raise ProbeError(f"siglip_loss turned float64 features into {r.dtype}: compute in the features' dtype")
        return r

    attempt(out, "value", lambda: as_number(value(img, txt, inputs["t"], inputs["b"]), "siglip_loss(...)"))
    attempt(out, "scaled", lambda: as_number(value(img * 3.0, txt * 0.25, inputs["t"], inputs["b"]), "loss"))
    attempt(out, "shuffled", lambda: as_number(value(img, txt.flip(0), inputs["t"], inputs["b"]), "loss"))
    attempt(out, "paper", lambda: as_number(value(torch.tensor(inputs["img3"]), torch.tensor(inputs["txt3"]),
                                                  math.log(10), -10.0), "loss"))

    def grads():
        i = img.clone().requires_grad_(True)
        t = torch.tensor(inputs["t"], dtype=torch.float64, requires_grad=True)
        b = torch.tensor(inputs["b"], dtype=torch.float64, requires_grad=True)
        r = value(i, txt, t, b)
        if not r.requires_grad:
            raise ProbeError("no gradient flows through siglip_loss (detached, or computed with floats or numpy)")
        gi, gt, gb = torch.autograd.grad(r.reshape(()), (i, t, b), allow_unused=True)
        missing = [n for n, g in (("image_features", gi), ("logit_scale", gt), ("logit_bias", gb)) if g is None]
        if missing:
            raise ProbeError(f"the loss does not depend on {missing} through torch operations")
        return {"img": as_array(gi, "grad"), "t": as_number(gt, "grad"), "b": as_number(gb, "grad")}
    attempt(out, "grads", grads)
    return out


def siglip_judge(expected, got, inputs):
    def number(key, what):
        g = got.get(key)
        if error_of(g) or not isinstance(g, float):
            return False, f"{what}: {error_of(g) or 'no result'}"
        return close(np.asarray(expected[key]), np.asarray(g), what, atol=0, rtol=1e-10)
    value, paper = number("value", "loss (float64, t = 0.7, b = -2.5)"), number("paper", "loss at t = ln 10, b = -10")
    both = (value[0] and paper[0], value[1] or paper[1])
    if not both[0]:
        both = (False, both[1] + " — -1/B sum_ij log sigmoid(z_ij (exp(t) x_i.y_j + b)), z = +1 on the diagonal, "
                "-1 elsewhere; t is the LOG of the scale")
    own = [got.get(k) for k in ("value", "scaled", "shuffled")]
    if not all(isinstance(v, float) and math.isfinite(v) for v in own):
        invariant = (False, f"siglip_loss: {next((error_of(v) for v in own if error_of(v)), 'no finite value')}")
    elif abs(own[1] - own[0]) > 1e-9 * max(1.0, abs(own[0])):
        invariant = (False, f"multiplying the features by 3 and 0.25 changed your loss from {own[0]:.6g} to "
                            f"{own[1]:.6g}: L2-normalise each row first")
    else:
        invariant = (abs(own[2] - own[0]) > 1e-9, "your loss does not change when the captions are shuffled: it must "
                                                 "depend on which caption goes with which image")
    g = got.get("grads")
    ok = isinstance(g, dict) and not error_of(g) and all(isinstance(g.get(k), float) and math.isfinite(g[k]) and g[k]
                                                         for k in ("t", "b")) and \
        isinstance(g.get("img"), np.ndarray) and g["img"].shape == expected["grads"]["img"].shape and \
        np.isfinite(g["img"]).all() and np.abs(g["img"]).any()
    grads = (ok, "" if ok else f"gradients: {error_of(g) or 'missing, zero or not finite for the features, t or b'}")
    return [check("value in float64", 0.5, both),
            check("features L2-normalised", 0.2, invariant),
            check("gradients to t, b and the features", 0.3, grads)]


# --- zero_shot_classifier / zero_shot_predict -------------------------------------------------------

CLASSES = ("red circle", "blue square", "green cross", "red ring")
TEMPLATES = ("a photo of a {}", "a small {}", "a drawing of the big {}")


def zs_inputs(rng, ref):
    return {"images": rng.normal(size=(12, 6)) * rng.uniform(0.2, 5, size=(12, 1)),
            "classifier": rng.normal(size=(4, 6)) * np.array([[0.1], [4.0], [1.0], [9.0]])}


def zs_probe(ns, inputs):
    import torch
    out = {}
    model, tok = StandModel(), StandTokenizer()

    def weights(templates):
        w = ns["zero_shot_classifier"](model, tok, list(CLASSES), templates)
        return as_array(w, "zero_shot_classifier(...)").astype(F64)
    attempt(out, "ensemble", lambda: weights(list(TEMPLATES)))
    attempt(out, "single", lambda: weights(["{}"]))

    def predict():
        r = ns["zero_shot_predict"](torch.tensor(inputs["images"], dtype=torch.float32),
                                    torch.tensor(inputs["classifier"], dtype=torch.float32))
        return as_array(torch.as_tensor(r), "zero_shot_predict(...)").astype(np.int64)
    attempt(out, "predict", predict)
    return out


def zs_judge(expected, got, inputs):
    e = got.get("ensemble")
    shape_ok = isinstance(e, np.ndarray) and e.shape == expected["ensemble"].shape
    unit = shape_ok and np.allclose(np.linalg.norm(e, axis=1), 1, atol=1e-4)
    msg = "" if unit else (f"zero_shot_classifier: {error_of(e)}" if error_of(e) else
                           f"expected ({len(CLASSES)}, E) rows of norm 1, got "
                           f"{e.shape if isinstance(e, np.ndarray) else type(e).__name__}")
    single = close(expected["single"], got.get("single"), "one template '{}'", atol=1e-5, rtol=1e-4)
    ens = close(expected["ensemble"], e, "three templates", atol=1e-5, rtol=1e-4)
    ens_ok = single[0] and ens[0]
    ens_msg = "" if ens_ok else ((single[1] or ens[1]) + " — per class: normalise each template's embedding, "
                                 "average them, normalise again")
    p = got.get("predict")
    pred = isinstance(p, np.ndarray) and p.shape == expected["predict"].shape and np.array_equal(p, expected["predict"])
    why = error_of(p) or ("predicted classes differ: normalise the image features and the class weights, then take "
                          "the argmax of the cosines over the classes")
    return [Check("unit-norm class weights (C, E)", 0.3, bool(unit), msg),
            Check("prompt ensemble", 0.4, ens_ok, ens_msg),
            Check("largest cosine wins", 0.3, bool(pred), "" if pred else f"zero_shot_predict: {why}")]


# --- per_class_metrics -----------------------------------------------------------------------------

METRIC_KEYS = ("confusion", "precision", "recall", "f1", "support", "macro_precision", "macro_recall", "macro_f1",
               "accuracy")


def metrics_inputs(rng, ref):
    y = rng.choice([0, 1, 2, 4, 5], 60)                              # class 3 never occurs
    pred = np.where(rng.random(60) < 0.55, y, rng.choice([0, 1, 2, 3, 4], 60))   # class 5 never predicted
    return {"a": (y.astype(np.int64), pred.astype(np.int64), 6),
            "b": (np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 5)}            # classes 3 and 4 nowhere


def metrics_probe(ns, inputs):
    import torch
    out = {}
    for key in ("a", "b"):
        def run(key=key):
            y, p, c = inputs[key]
            if key == "b":                                            # tensors work too
                y, p = torch.as_tensor(np.asarray(y)), torch.as_tensor(np.asarray(p))
            r = ns["per_class_metrics"](y, p, c)
            if not isinstance(r, dict):
                raise ProbeError(f"per_class_metrics should return a dict, got {type(r).__name__}")
            missing = [k for k in METRIC_KEYS if k not in r]
            if missing:
                raise ProbeError(f"per_class_metrics result has no key(s) {missing}")
            res = {k: as_number(r[k], f"result[{k!r}]") for k in METRIC_KEYS[5:]}
            for k in METRIC_KEYS[:5]:
                v = r[k]
                res[k] = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=F64)
            return res
        attempt(out, key, run)
    return out


def metrics_judge(expected, got, inputs):
    def agree(keys, hint):
        for case in ("a", "b"):
            g = got.get(case)
            if not isinstance(g, dict) or error_of(g):
                return False, f"per_class_metrics: {error_of(g) or 'no result'}"
            for k in keys:
                ok, msg = close(np.asarray(expected[case][k]), np.asarray(g[k]), f"{k} (case {case})",
                                atol=1e-6, rtol=0)                  # float32 sums are fine
                if not ok:
                    return False, msg + hint
        return True, ""
    return [check("confusion matrix", 0.25, agree(("confusion",), " — rows true class, columns predicted, "
                                                  "num_classes x num_classes")),
            check("per-class precision and recall", 0.3, agree(("precision", "recall"), " — zero_division=0: a class "
                                                                "never predicted has precision 0")),
            check("per-class F1", 0.15, agree(("f1",), " — 2PR/(P+R), 0 when P + R = 0")),
            check("macro averages", 0.2, agree(("macro_precision", "macro_recall", "macro_f1"), " — the mean over "
                                               "all num_classes classes, absent ones included (scikit-learn's "
                                               "labels=range(num_classes))")),
            check("accuracy and support", 0.1, agree(("accuracy", "support"), ""))]


# --- recall_at_k -----------------------------------------------------------------------------------

def recall_inputs(rng, ref):
    sims = rng.normal(size=(20, 15))
    one = rng.integers(0, 15, 20)
    many = rng.random((20, 15)) < 0.2
    many[np.arange(20), one] = True
    return {"sims": sims, "one": one, "many": many, "ks": [1, 3, 7]}


def recall_probe(ns, inputs):
    import torch
    f, out = ns["recall_at_k"], {}
    sims = torch.tensor(inputs["sims"], dtype=torch.float32)

    def run(positives):
        r = f(sims, positives, tuple(inputs["ks"]))
        if not isinstance(r, dict):
            raise ProbeError(f"recall_at_k should return a dict {{K: recall}}, got {type(r).__name__}")
        return [[int(k), as_number(v, f"recall@{k}")] for k, v in sorted(r.items())]
    one = torch.nn.functional.one_hot(torch.tensor(inputs["one"]), 15).bool()
    attempt(out, "one", lambda: run(one))
    attempt(out, "many", lambda: run(torch.tensor(inputs["many"])))
    return out


def recall_judge(expected, got, inputs):
    def agree(case, what):
        g = got.get(case)
        if error_of(g) or not isinstance(g, list):
            return False, f"recall_at_k: {error_of(g) or 'no result'}"
        if [k for k, _ in g] != [k for k, _ in expected[case]]:
            return False, f"recall_at_k: keys expected {[k for k, _ in expected[case]]}, got {[k for k, _ in g]}"
        return close(np.array([v for _, v in expected[case]]), np.array([v for _, v in g], dtype=F64), what,
                     atol=1e-6, rtol=0)                             # a float32 mean is fine
    keys = [[k for k, _ in (got.get(c) or [])] if isinstance(got.get(c), list) else None for c in ("one", "many")]
    keys_ok = all(k == list(inputs["ks"]) for k in keys)
    one, many = agree("one", "one correct item per query"), agree("many", "several correct items per query")
    return [Check("one key per K", 0.2, keys_ok, "" if keys_ok else f"expected the keys {inputs['ks']} (the ks asked "
                                                                    f"for), got {keys}"),
            check("one correct item per query", 0.4, (one[0], one[1] and one[1] + " — the fraction of queries whose "
                                                      "correct item is among the K most similar")),
            check("several correct items", 0.4, (many[0], many[1] and many[1] + " — a query counts when AT LEAST ONE "
                                                 "of its correct items is in its top K"))]


# --- public self-checks (in words; not the hidden values) -------------------------------------------

def _say(ok, message):
    if not ok:
        raise AssertionError(message)


def check_siglip_loss(siglip_loss):
    import torch
    x = torch.nn.functional.normalize(torch.randn(4, 3, dtype=torch.float64), dim=-1)
    same = siglip_loss(x, x, 0.0, 0.0)                                     # logits = cos: 1 on the diagonal
    cos = x @ x.T
    want = -(torch.nn.functional.logsigmoid(torch.where(torch.eye(4, dtype=torch.bool), cos, -cos))).sum() / 4
    _say(abs(same.item() - want.item()) < 1e-10, f"with t = 0, b = 0 the loss should be {want.item():.6f}, "
                                                  f"got {same.item():.6f}")
    _say(abs(siglip_loss(3 * x, x, 0.0, 0.0).item() - same.item()) < 1e-10, "the features are not normalised")
    ones = torch.ones(4, 3, dtype=torch.float64)
    flat = siglip_loss(ones, ones, math.log(10), -10.0)
    _say(abs(flat.item() - 4 * math.log(2)) < 1e-9, "equal features at t = ln 10, b = -10: every logit is 0 and the "
                                                     "loss B^2 ln 2 / B = 4 ln 2 (divide the sum by B, not B^2)")
    print("✓ siglip_loss: sigmoid of every pair, normalised features, divided by B")


def check_zero_shot(zero_shot_classifier, zero_shot_predict):
    import torch
    w = zero_shot_classifier(StandModel(seed=1), StandTokenizer(), ["red circle", "blue square"], ["a {}", "the {}"])
    _say(tuple(w.shape) == (2, 6), f"class weights should be (2 classes, 6), got {tuple(w.shape)}")
    _say(torch.allclose(w.norm(dim=-1), torch.ones(2), atol=1e-5), "the class weights should have norm 1")
    pred = zero_shot_predict(torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[10.0, 10.0], [0.0, 1.0]]))
    _say(torch.as_tensor(pred).tolist() == [0, 1], f"cosines, not dot products: expected [0, 1], got {pred}")
    print("✓ zero_shot_classifier / zero_shot_predict")


def check_per_class_metrics(per_class_metrics):
    r = per_class_metrics(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), 4)
    _say(np.asarray(r["confusion"]).tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]],
         f"confusion (rows true, columns predicted) wrong: {np.asarray(r['confusion']).tolist()}")
    _say(np.allclose(r["recall"], [0.5, 1, 0, 0]) and np.allclose(r["precision"], [1, 1 / 3, 0, 0]),
         f"precision {r['precision']} / recall {r['recall']} wrong")
    _say(abs(r["accuracy"] - 0.5) < 1e-12, f"accuracy should be 0.5, got {r['accuracy']}")
    print("✓ per_class_metrics: confusion, per-class and macro precision/recall/F1")


def check_recall_at_k(recall_at_k):
    import torch
    sims = torch.tensor([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8]])
    pos = torch.tensor([[False, False, True], [True, False, False]])
    r = recall_at_k(sims, pos, (1, 2, 3))
    _say(sorted(r) == [1, 2, 3], f"keys should be the ks (1, 2, 3), got {sorted(r)}")
    _say([round(float(r[k]), 6) for k in (1, 2, 3)] == [0.0, 0.5, 1.0], f"expected {{1: 0, 2: 0.5, 3: 1}}, got {r}")
    print("✓ recall_at_k")


ASSIGNMENT = Assignment(
    name="tp4", title="TP4 — Compare multimodal models (optional)", notebook="tp4_multimodal_comparison.ipynb",
    due="before class 8",
    tests=[Test("siglip_loss", 1.5, ("siglip_loss",),
                "siglip_loss(image_features, text_features, logit_scale, logit_bias) -> scalar (Zhai et al. 2023)",
                siglip_inputs, siglip_probe, siglip_judge),
           Test("zero_shot", 1.5, ("zero_shot_classifier", "zero_shot_predict"),
                "zero_shot_classifier(model, tokenizer, classnames, templates) -> (C, E); zero_shot_predict -> (N,)",
                zs_inputs, zs_probe, zs_judge),
           Test("per_class_metrics", 1.5, ("per_class_metrics",),
                "per_class_metrics(y_true, y_pred, num_classes) -> confusion, per-class and macro P/R/F1",
                metrics_inputs, metrics_probe, metrics_judge),
           Test("recall_at_k", 1.5, ("recall_at_k",), "recall_at_k(similarity (Q, G), positives (Q, G), ks) -> {K: r}",
                recall_inputs, recall_probe, recall_judge)],
    written=[WrittenItem("W1", 1.0, "The models and the inputs: what each model is, how it was trained, why the "
                                    "test set is the same for all, and what each one can and cannot predict"),
             WrittenItem("W2", 1.0, "Per-class precision/recall/F1 and the confusion matrices read: which classes "
                                    "each model confuses, macro vs accuracy"),
             WrittenItem("W3", 1.0, "The paired comparisons (seeds, McNemar, bootstrap): which differences are "
                                    "resolved, quoting the generated sentences"),
             WrittenItem("W4", 1.0, "Conclusion: which model for which use (closed set, open vocabulary, retrieval), "
                                    "the limits of this scale, what the Hub models change")],
    allowed_vitcourse=("vitcourse.data", "vitcourse.train", "vitcourse.viz", "vitcourse.hub", "vitcourse.seeds",
                       "vitcourse.stats", "vitcourse.grading.tp4"),
    preload=("torch", "numpy", "sklearn.metrics"),
)
