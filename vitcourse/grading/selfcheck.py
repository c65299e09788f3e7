"""Public self-checks for the TPs: run them in your notebook; they say in words what is wrong.

They test properties (shapes, patch order on a hand-made image, rows that sum to one, one image's
output not depending on the rest of its batch, residual connections, ...), not the hidden values:
passing them does not guarantee full marks, failing one points at a real mistake.
"""
from __future__ import annotations

import math

import torch
from torch import nn


class SelfCheckError(AssertionError):
    pass


def _fail(message: str):
    raise SelfCheckError(message)


def _ok(message: str):
    print(f"✓ {message}")


def _tensor(x, what: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        _fail(f"{what} should return a torch.Tensor, got {type(x).__name__}")
    return x


def _shape(x, expected, what: str):
    x = _tensor(x, what)
    if tuple(x.shape) != tuple(expected):
        _fail(f"{what}: shape expected {tuple(expected)}, got {tuple(x.shape)}")
    return x


def _expect_error(fn, error, what: str):
    try:
        fn()
    except error:
        return
    except Exception as e:                                       # noqa: BLE001
        _fail(f"{what} should raise {error.__name__} with a clear message, but raised {type(e).__name__}: {e}")
    _fail(f"{what} should raise {error.__name__}, but it returned normally")


def check_batch_independence(model: nn.Module, x: torch.Tensor, what: str = "the model"):
    """Sample 0's output must not change when the other samples of the batch change."""
    model.eval()
    with torch.no_grad():
        full = _tensor(model(x), what)
        alone = _tensor(model(x[:1]), what)
        other = _tensor(model(torch.cat([x[:1], torch.rand_like(x[1:]) * 2 - 0.5])), what)
    change = max((full[0] - alone[0]).abs().max().item(), (full[0] - other[0]).abs().max().item())
    if change > 1e-4 * max(1.0, full[0].abs().max().item()):
        _fail(f"{what}: the output for image 0 changes by up to {change:.3g} when the other images of the batch "
              f"change — your model mixes the images of a batch. nn.MultiheadAttention and "
              f"nn.TransformerEncoderLayer expect (N, B, D) unless batch_first=True; here every tensor is (B, N, D)")


# --- TP1 -----------------------------------------------------------------------------------------

def check_patchify(patchify):
    x = torch.rand(2, 3, 8, 8)
    _shape(patchify(x, 4), (2, 4, 48), "patchify(images of shape (2, 3, 8, 8), patch_size=4) [(B, N, P*P*C)]")
    img = torch.arange(16.0).reshape(1, 1, 4, 4)                    # pixel value = 4 * row + column
    got = _shape(patchify(img, 2), (1, 4, 4), "patchify of a 1x1x4x4 image, patch_size=2")
    if not torch.equal(got[0, 0], torch.tensor([0.0, 1, 4, 5])):
        _fail(f"the first patch of [[0,1,2,3],[4,5,6,7],...] with P=2 should be [0, 1, 4, 5] (row by row), "
              f"got {got[0, 0].tolist()}")
    if not torch.equal(got[0, 1], torch.tensor([2.0, 3, 6, 7])):
        _fail(f"patches go left to right, then top to bottom: patch 1 should be [2, 3, 6, 7], got {got[0, 1].tolist()}")
    rgb = torch.stack([img, img + 100], dim=2).reshape(1, 2, 4, 4)  # channel 1 = channel 0 + 100
    got = patchify(rgb, 2)[0, 0]
    if not torch.equal(got[:2], torch.tensor([0.0, 100.0])):
        _fail(f"inside a patch the order is (p1 p2 c): pixel (0,0) channel 0, pixel (0,0) channel 1, ...; "
              f"got {got.tolist()} for a 2-channel image whose channel 1 = channel 0 + 100")
    _expect_error(lambda: patchify(torch.rand(1, 1, 7, 7), 4), ValueError, "patchify(7x7 images, patch_size=4)")
    _ok("patchify: shape, patch order, pixel order inside a patch and the error for a bad size")


def check_patch_embedding(PatchEmbedding):
    m = PatchEmbedding(image_size=16, patch_size=4, in_channels=1, dim=32)
    if getattr(m, "num_patches", None) != 16:
        _fail(f"PatchEmbedding(16, 4, 1, 32).num_patches should be 16, got {getattr(m, 'num_patches', None)}")
    _shape(m(torch.rand(3, 1, 16, 16)), (3, 16, 32), "PatchEmbedding(16, 4, 1, 32)(images (3, 1, 16, 16))")
    n = sum(p.numel() for p in m.parameters())
    if n != 4 * 4 * 1 * 32 + 32:
        _fail(f"PatchEmbedding(16, 4, 1, 32) should have P*P*C*D + D = {4 * 4 * 32 + 32} parameters, has {n}")
    if not isinstance(getattr(m, "proj", None), (nn.Conv2d, nn.Linear)):
        _fail("the projection should be an attribute named `proj` (nn.Conv2d with kernel = stride = P)")
    _ok("PatchEmbedding: shape, num_patches, parameter count, `proj`")


def check_positional_encoding_learned(PositionalEncodingLearned):
    m = PositionalEncodingLearned(dim=8, max_len=10)
    trainable = sum(p.numel() for p in m.parameters() if p.requires_grad)
    if trainable != 80:
        _fail(f"PositionalEncodingLearned(dim=8, max_len=10) should have one trainable 10x8 table (80 values), "
              f"has {trainable} trainable values")
    x = torch.randn(2, 6, 8)
    y = _shape(m(x), (2, 6, 8), "PositionalEncodingLearned(8, 10)(x of shape (2, 6, 8))")
    if not torch.allclose(y[0] - x[0], y[1] - x[1], atol=1e-6):
        _fail("the same position vectors must be added to every sample of the batch (output - input differs)")
    if y.requires_grad:
        y.square().sum().backward()
    if not y.requires_grad or any(p.grad is None for p in m.parameters() if p.requires_grad):
        _fail("the table got no gradient: use it in forward (not a detached copy or a buffer)")
    _expect_error(lambda: m(torch.randn(1, 11, 8)), ValueError, "a sequence of 11 > max_len=10 tokens")
    _ok("PositionalEncodingLearned: one trainable table, added to every sample, gets gradients, checks the length")


def check_token_stats(token_stats):
    r = token_stats(image_size=16, patch_size=4, dim=64, in_channels=1)
    expected = {"num_tokens": 16, "attention_entries": 256, "embed_params": 4 * 4 * 64 + 64 + 16 * 64}
    if not isinstance(r, dict):
        _fail(f"token_stats should return a dict, got {type(r).__name__}")
    for k, v in expected.items():
        if r.get(k) != v:
            _fail(f"token_stats(16, 4, 64, 1)[{k!r}]: expected {v}, got {r.get(k)}")
    _ok("token_stats on one configuration")


def check_position_similarity(position_similarity):
    pe = torch.randn(9, 5)
    s = _shape(position_similarity(pe), (9, 9), "position_similarity of a (9, 5) table")
    if not torch.allclose(s.diagonal(), torch.ones(9), atol=1e-5):
        _fail(f"every position is identical to itself: the diagonal should be 1, got {s.diagonal()[:3].tolist()}...")
    if not torch.allclose(s, s.T, atol=1e-6):
        _fail("the similarity matrix should be symmetric")
    if not torch.allclose(position_similarity(pe * 7), s, atol=1e-5):
        _fail("cosine similarity does not change when the vectors are scaled (normalise them first)")
    _ok("position_similarity: diagonal of ones, symmetric, scale-free")


# --- TP2 -----------------------------------------------------------------------------------------

def check_attention(scaled_dot_product_attention):
    q, k, v = torch.randn(2, 3, 5, 4), torch.randn(2, 3, 7, 4), torch.randn(2, 3, 7, 6)
    r = scaled_dot_product_attention(q, k, v)
    if not isinstance(r, (tuple, list)) or len(r) != 2:
        _fail("scaled_dot_product_attention should return (output, weights)")
    out, w = r
    _shape(out, (2, 3, 5, 6), "output for q (2,3,5,4), k (2,3,7,4), v (2,3,7,6)")
    _shape(w, (2, 3, 5, 7), "weights (..., queries, keys)")
    sums = w.sum(-1)
    if not torch.allclose(sums, torch.ones_like(sums), atol=1e-5):
        i = tuple(torch.nonzero(~torch.isclose(sums, torch.ones_like(sums), atol=1e-5))[0].tolist())
        _fail(f"row {i} of the weights sums to {sums[i]:.4g}, not 1: apply the softmax over the last dimension (keys)")
    if not torch.allclose(out, w @ v, atol=1e-5):
        _fail("the output should be weights @ v")
    k1 = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    _, w1 = scaled_dot_product_attention(torch.tensor([[1.0, 0.0]]), k1, torch.eye(2))
    want = torch.softmax(torch.tensor([2.0, 0.0]) / math.sqrt(2), -1)
    if not torch.allclose(w1[0], want, atol=1e-5):
        _fail(f"scores must be divided by sqrt(d_k): for q=[1,0], keys [2,0] and [0,0] (d_k=2) the weights should "
              f"be {want.tolist()}, got {w1[0].tolist()}")
    mask = torch.tensor([[True, False], [True, True]])
    _, wm = scaled_dot_product_attention(torch.randn(2, 2), torch.randn(2, 2), torch.randn(2, 2), mask=mask)
    if wm[0, 1].abs() > 1e-6:
        _fail("where the mask is False the weight must be 0 (True = may attend)")
    _ok("scaled_dot_product_attention: shapes, rows sum to one, scaling by sqrt(d_k), mask")


def _seq_module_checks(module, name, dim, children):
    missing = [c for c in children if not hasattr(module, c.split(".")[0])]
    if missing:
        _fail(f"{name} should have the sub-modules {children} (timm's names); missing {missing}")
    x = torch.randn(3, 5, dim)
    _shape(module.eval()(x), (3, 5, dim), f"{name} on x of shape (3, 5, {dim})")
    check_batch_independence(module, x, name)
    perm = torch.tensor([2, 0, 4, 1, 3])
    with torch.no_grad():
        if not torch.allclose(module(x)[:, perm], module(x[:, perm]), atol=1e-5):
            _fail(f"{name} without positions should be permutation-equivariant: permuting the tokens should "
                  f"permute the outputs the same way")


def check_multi_head_attention(MultiHeadSelfAttention):
    m = MultiHeadSelfAttention(dim=12, num_heads=3)
    if not isinstance(getattr(m, "qkv", None), nn.Linear) or m.qkv.out_features != 36:
        _fail("MultiHeadSelfAttention(12, 3) should have `qkv = nn.Linear(12, 36)` (queries, keys, values at once)")
    _seq_module_checks(m, "MultiHeadSelfAttention", 12, ["qkv", "proj"])
    _ok("MultiHeadSelfAttention: shape, names, batch independence, permutation equivariance")


def check_transformer_block(TransformerBlock):
    m = TransformerBlock(dim=12, num_heads=3, mlp_dim=24)
    _seq_module_checks(m, "TransformerBlock", 12, ["norm1", "attn", "norm2", "mlp"])
    with torch.no_grad():
        for n, p in m.named_parameters():
            if "norm" not in n:
                p.zero_()
        x = torch.randn(2, 4, 12)
        if not torch.allclose(m(x), x, atol=1e-6):
            _fail("with every linear weight and bias set to zero a pre-norm block returns its input unchanged "
                  "(x + 0 + 0); yours does not — are both residual connections `x = x + ...` there?")
    _ok("TransformerBlock: shape, names, batch independence, residual connections")


def check_vision_transformer(VisionTransformer):
    kw = dict(image_size=16, patch_size=4, in_channels=1, num_classes=10, dim=32, depth=2, num_heads=4, mlp_dim=64)
    m = VisionTransformer(**kw)
    x = torch.rand(4, 1, 16, 16)
    _shape(m.eval()(x), (4, 10), "VisionTransformer(...)(images (4, 1, 16, 16)) [(B, num_classes)]")
    check_batch_independence(m, x, "VisionTransformer")
    shapes = {n: tuple(p.shape) for n, p in m.named_parameters()}
    for name, shape in (("cls_token", (1, 1, 32)), ("pos_embed", (1, 17, 32))):
        if shapes.get(name) != shape:
            _fail(f"VisionTransformer should have `{name}` of shape {shape} (16 patches + the class token), "
                  f"got {shapes.get(name)}")
    m.train()
    m(x).square().sum().backward()
    none = [n for n, p in m.named_parameters() if p.grad is None]
    if none:
        _fail(f"parameters that get no gradient (unused in forward?): {none[:5]}")
    _ok("VisionTransformer: logits shape, batch independence, cls_token and pos_embed, gradients everywhere")


def check_classification_metrics(classification_metrics):
    y = torch.tensor([0, 1, 2, 2, 1, 0, 0])
    p = torch.tensor([0, 2, 2, 2, 1, 0, 1])
    r = classification_metrics(y, p, num_classes=3)
    try:
        from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
    except ImportError:                                           # pragma: no cover - sklearn is a course dependency
        _fail("scikit-learn is needed for this check")
    prec, rec, f1, _ = precision_recall_fscore_support(y, p, labels=[0, 1, 2], average="macro", zero_division=0)
    want = {"accuracy": 5 / 7, "precision": prec, "recall": rec, "f1": f1}
    for k, v in want.items():
        if not isinstance(r, dict) or k not in r or abs(float(r[k]) - v) > 1e-6:
            _fail(f"classification_metrics(...)[{k!r}] should be {v:.4f} here (macro average), "
                  f"got {r.get(k) if isinstance(r, dict) else r}")
    conf = torch.as_tensor(r["confusion"])
    if conf.tolist() != confusion_matrix(y, p, labels=[0, 1, 2]).tolist():
        _fail(f"the confusion matrix should count true classes by row, predictions by column; got {conf.tolist()}")
    _ok("classification_metrics agrees with scikit-learn on a small case")
