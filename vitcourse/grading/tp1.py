"""TP1 — patch embeddings and positional encodings: the graded tests.

Patches follow Dosovitskiy et al. (2021), Section 3.1 (Eq. 1): raster order, (p1 p2 c) inside a
patch; the learned 1-D position table is the ViT default (Appendix D.4).
"""
from __future__ import annotations

import numpy as np

from .judge import check, close, error_of, same_shape
from .spec import (Assignment, Check, ProbeError, Test, WrittenItem, as_array, as_number, attempt, load_weights,
                   random_state)

F32 = np.float32


def _raises(fn) -> str:
    """What calling fn() did: 'ValueError: ...', or that it returned normally."""
    try:
        fn()
    except Exception as e:                                   # noqa: BLE001
        return f"{type(e).__name__}: {str(e)[:200]}"
    return "returned without raising an error"


def _error_check(name, weight, got, expected_type="ValueError") -> Check:
    if error_of(got) or not isinstance(got, str):
        return Check(name, weight, False, error_of(got) or "no answer")
    ok = got.startswith(expected_type + ":")
    return Check(name, weight, ok, "" if ok else f"expected a {expected_type} with a clear message, got: {got}")


# --- patchify ------------------------------------------------------------------------------------

PATCHIFY_CASES = {"a": ((2, 3, 8, 8), 4), "b": ((1, 1, 16, 16), 2), "c": ((2, 2, 8, 12), 4)}


def patchify_inputs(rng, ref):
    inputs = {k: rng.random(shape, dtype=F32) for k, (shape, _) in PATCHIFY_CASES.items()}
    inputs["bad"] = rng.random((1, 1, 7, 7), dtype=F32)
    return inputs


def patchify_probe(ns, inputs):
    import torch
    f, out = ns["patchify"], {}
    for k, (_, p) in PATCHIFY_CASES.items():
        attempt(out, k, lambda: as_array(f(torch.from_numpy(inputs[k]), p), "patchify(images, patch_size)"))
    attempt(out, "bad", lambda: _raises(lambda: f(torch.from_numpy(inputs["bad"]), 4)))
    return out


def _cp1p2_order(x, p):
    b, c, h, w = x.shape
    return x.reshape(b, c, h // p, p, w // p, p).transpose(0, 2, 4, 1, 3, 5).reshape(b, (h // p) * (w // p), -1)


def patchify_judge(expected, got, inputs):
    shapes = [same_shape(expected[k], got.get(k), f"patchify on images of shape {inputs[k].shape}, "
                                                 f"patch_size={p}") for k, (_, p) in PATCHIFY_CASES.items()]
    values = [close(expected[k], got.get(k), f"patchify on images of shape {inputs[k].shape}", atol=1e-6, rtol=0)
              for k in PATCHIFY_CASES]
    msg = next((m for ok, m in values if not ok), "")
    if msg and isinstance(got.get("a"), np.ndarray) and got["a"].shape == expected["a"].shape and \
            np.allclose(got["a"], _cp1p2_order(inputs["a"], 4)):
        msg += " — your patches are flattened in (c p1 p2) order; the exercise asks for (p1 p2 c): row, column, channel"
    first_bad_shape = next((m for ok, m in shapes if not ok), "")
    return [Check("shape (B, N, P*P*C)", 0.2, all(ok for ok, _ in shapes), first_bad_shape),
            Check("values and patch order", 0.6, all(ok for ok, _ in values), msg),
            _error_check("ValueError when the size is not divisible by patch_size", 0.2, got.get("bad"))]


# --- PatchEmbedding ------------------------------------------------------------------------------

EMBED_KW = dict(image_size=8, patch_size=4, in_channels=3, dim=6)


def embed_inputs(rng, ref):
    return {"images": rng.random((2, 3, 8, 8), dtype=F32), "weights": random_state(ref["PatchEmbedding"](**EMBED_KW), rng)}


def embed_probe(ns, inputs):
    import torch
    out = {}
    m = ns["PatchEmbedding"](**EMBED_KW)
    x = torch.from_numpy(inputs["images"])
    attempt(out, "num_patches", lambda: as_number(getattr(m, "num_patches"), "PatchEmbedding.num_patches"))
    with torch.no_grad():
        attempt(out, "own", lambda: as_array(m.eval()(x), "PatchEmbedding(...)(images)"))

        def given():
            load_weights(m, inputs["weights"], conv_as_linear=("proj.weight",))
            return as_array(m.eval()(x), "PatchEmbedding(...)(images)")
        attempt(out, "values", given)
    return out


def embed_judge(expected, got, inputs):
    n = got.get("num_patches")
    return [check("output shape (B, N, D)", 0.25, same_shape(expected["own"], got.get("own"), "PatchEmbedding output")),
            Check("num_patches", 0.15, n == expected["num_patches"],
                  "" if n == expected["num_patches"] else
                  f"num_patches: expected {expected['num_patches']:g}, got {error_of(n) or n}"),
            check("values with the given weights (proj)", 0.6,
                  close(expected["values"], got.get("values"), "PatchEmbedding with the grader's weights"))]


# --- PositionalEncodingLearned ------------------------------------------------------------------

POS_DIM, POS_LEN, POS_N = 8, 10, 6


def pos_inputs(rng, ref):
    return {"x": rng.normal(size=(2, POS_N, POS_DIM)).astype(F32), "table": rng.normal(size=(POS_LEN, POS_DIM)).astype(F32),
            "upstream": rng.normal(size=(2, POS_N, POS_DIM)).astype(F32), "long": np.zeros((1, POS_LEN + 1, POS_DIM), F32)}


def _the_table(m):
    tables = [p for p in m.parameters() if p.requires_grad and p.numel() == POS_LEN * POS_DIM]
    if len(tables) != 1:
        raise ProbeError(f"expected one trainable table of max_len x dim = {POS_LEN}x{POS_DIM} values, "
                         f"found {len(tables)}")
    return tables[0]


def pos_probe(ns, inputs):
    import torch
    out = {}
    m = ns["PositionalEncodingLearned"](dim=POS_DIM, max_len=POS_LEN)
    if not isinstance(m, torch.nn.Module):
        raise ProbeError(f"PositionalEncodingLearned(...) should be a torch.nn.Module, got {type(m).__name__}")
    m.eval()
    x = torch.from_numpy(inputs["x"])
    attempt(out, "trainable", lambda: sum(p.numel() for p in m.parameters() if p.requires_grad))

    def with_table():
        with torch.no_grad():
            table = _the_table(m)
            table.copy_(torch.from_numpy(inputs["table"]).reshape(table.shape))
            return as_array(m(x), "PositionalEncodingLearned(...)(x)")
    attempt(out, "values", with_table)

    def grad():
        table = _the_table(m)
        m.zero_grad()
        (as_tensor(m(x)) * torch.from_numpy(inputs["upstream"])).sum().backward()
        if table.grad is None:
            raise ProbeError("the table got no gradient: is it used in forward (and not detached)?")
        return table.grad.detach().reshape(POS_LEN, POS_DIM).numpy().copy()
    attempt(out, "grad", grad)
    attempt(out, "long", lambda: _raises(lambda: m(torch.from_numpy(inputs["long"]))))
    return out


def as_tensor(y):
    import torch
    if not isinstance(y, torch.Tensor):
        raise ProbeError(f"forward should return a torch.Tensor, got {type(y).__name__}")
    return y


def pos_judge(expected, got, inputs):
    n = got.get("trainable")
    delta = got.get("values") - inputs["x"] if isinstance(got.get("values"), np.ndarray) and \
        got["values"].shape == inputs["x"].shape else None
    additive = delta is not None and np.allclose(delta[0], delta[1], atol=1e-5) and np.abs(delta).max() > 1e-3
    return [Check("one learnable max_len x dim table", 0.25, n == POS_LEN * POS_DIM,
                  "" if n == POS_LEN * POS_DIM else f"trainable parameters: expected {POS_LEN * POS_DIM} "
                  f"(max_len={POS_LEN} x dim={POS_DIM}), got {error_of(n) or n}"),
            Check("adds a position vector, the same for every sample", 0.2, additive,
                  "" if additive else "the output minus the input should be the same position vectors for "
                  f"every sample of the batch ({error_of(got.get('values')) or 'it is not'})"),
            check("values with a given table", 0.3, close(expected["values"], got.get("values"),
                                                          "x + table[:N] with the grader's table")),
            check("the gradient reaches the table", 0.15, close(expected["grad"], got.get("grad"),
                                                                "gradient of the table", atol=1e-4)),
            _error_check("ValueError when N > max_len", 0.1, got.get("long"))]


# --- token_stats ---------------------------------------------------------------------------------

STATS_KEYS = ("num_tokens", "attention_entries", "embed_params")
STATS_CASES = [dict(image_size=16, patch_size=2, dim=32, in_channels=1), dict(image_size=32, patch_size=8, dim=48,
               in_channels=3), dict(image_size=28, patch_size=7, dim=10, in_channels=1)]


def stats_probe(ns, inputs):
    f, out = ns["token_stats"], {}
    for i, kw in enumerate(STATS_CASES):
        def one(kw=kw):
            r = f(**kw)
            if not isinstance(r, dict):
                raise ProbeError(f"token_stats should return a dict, got {type(r).__name__}")
            missing = [k for k in STATS_KEYS if k not in r]
            if missing:
                raise ProbeError(f"token_stats result has no key(s) {missing}")
            return {k: as_number(r[k], f"token_stats(...)[{k!r}]") for k in STATS_KEYS}
        attempt(out, str(i), one)
    return out


def stats_judge(expected, got, inputs):
    checks = []
    for key in STATS_KEYS:
        wrong = []
        for i, kw in enumerate(STATS_CASES):
            g = got.get(str(i))
            if error_of(g) or not isinstance(g, dict) or g.get(key) != expected[str(i)][key]:
                value = error_of(g) or (g.get(key) if isinstance(g, dict) else g)
                wrong.append(f"{key} for {kw}: expected {expected[str(i)][key]:g}, got {value}")
        checks.append(Check(key, 1 / 3, not wrong, wrong[0] if wrong else ""))
    return checks


# --- position_similarity -------------------------------------------------------------------------

def sim_inputs(rng, ref):
    return {"a": rng.normal(size=(9, 5)).astype(F32), "b": (rng.normal(size=(16, 8)) * 3).astype(F32)}


def sim_probe(ns, inputs):
    import torch
    f, out = ns["position_similarity"], {}
    for k in ("a", "b"):
        attempt(out, k, lambda k=k: as_array(f(torch.from_numpy(inputs[k])), "position_similarity(pos_embed)"))
    return out


def sim_judge(expected, got, inputs):
    shapes = [same_shape(expected[k], got.get(k), f"position_similarity of a {inputs[k].shape} table") for k in "ab"]
    values = [close(expected[k], got.get(k), f"position_similarity of a {inputs[k].shape} table") for k in "ab"]
    msg = next((m for ok, m in values if not ok), "")
    b = got.get("b")
    if msg and isinstance(b, np.ndarray) and b.shape == (16, 16) and np.allclose(b, inputs["b"] @ inputs["b"].T, rtol=1e-3):
        msg += " — these are dot products: normalise each position vector first (cosine similarity)"
    return [Check("shape (N, N)", 0.3, all(ok for ok, _ in shapes), next((m for ok, m in shapes if not ok), "")),
            Check("cosine similarity values", 0.7, all(ok for ok, _ in values), msg)]


ASSIGNMENT = Assignment(
    name="tp1", title="TP1 — Patch embeddings and positional encodings", notebook="tp1_patch_embeddings.ipynb",
    due="before class 3",
    tests=[Test("patchify", 1.5, ("patchify",), "patchify(images, patch_size) -> (B, N, P*P*C)",
                patchify_inputs, patchify_probe, patchify_judge),
           Test("PatchEmbedding", 1.5, ("PatchEmbedding",), "PatchEmbedding(image_size, patch_size, in_channels, dim)",
                embed_inputs, embed_probe, embed_judge),
           Test("PositionalEncodingLearned", 2.0, ("PositionalEncodingLearned",),
                "PositionalEncodingLearned(dim, max_len): a learned table added to the tokens",
                pos_inputs, pos_probe, pos_judge),
           Test("token_stats", 1.0, ("token_stats",), "token_stats(image_size, patch_size, dim, in_channels)",
                lambda rng, ref: {}, stats_probe, stats_judge),
           Test("position_similarity", 1.0, ("position_similarity",), "position_similarity(pos_embed) -> (N, N)",
                sim_inputs, sim_probe, sim_judge)],
    written=[WrittenItem("W1", 2.0, "More or fewer patches, more or fewer dimensions: advantages and disadvantages, "
                                    "each claim citing a number of the measured table (N, N², parameters, time, accuracy)"),
             WrittenItem("W2", 1.0, "The learned embedding after training and its position-similarity heat-map: "
                                    "what structure it learned, compared with the sinusoidal table")],
    allowed_vitcourse=("vitcourse.data", "vitcourse.train", "vitcourse.viz", "vitcourse.measure.time_callable",
                       "vitcourse.grading.selfcheck"),
)
