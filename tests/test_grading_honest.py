"""Valid code is graded as valid: honest but unusual submissions get full marks, and a near miss
beside each loses exactly the points of its one mistake (once, not in every test that builds on it).

Each case is the correct code written in an unusual but valid way: a byte-order mark and CRLF line
ends, IPython magics (inside functions too), `%%writefile` modules, `%%capture` and `%%bash` cells,
a dataclass and a NamedTuple without the grader's `__future__` flags, definitions inside
`try/except ImportError` and `if`, a config dict filled by item assignment, a lazy scikit-learn
import, extra buffers, differently named sub-layers; for TP3 a head zeroed in place, sklearn's separate
metric functions and a reshape/permute interpolation; for TP4 a SigLIP loss with einsum and
torch.where, per-class prompt loops, ranks from argsort and float32 recalls. All run in one batch per TP, under
bubblewrap (skipped where it is not installed; CI installs it).
"""
import csv
import json
from pathlib import Path

import pytest

from vitcourse.grading.config import CourseConfig
from vitcourse.grading.grade import grade_all
from vitcourse.grading.report import write_reports
from vitcourse.grading.sandbox import Limits

from test_grading_hostile import NEEDS_BWRAP

LIMITS = Limits(timeout=20, memory_mb=768, cpu_s=60, total_timeout=300)
pytestmark = NEEDS_BWRAP

TP1 = '''import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def patchify(images, patch_size):
    h, w = images.shape[-2:]
    if h % patch_size or w % patch_size:
        raise ValueError(f"{h}x{w} is not divisible by {patch_size}")
    return rearrange(images, "b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch_size, p2=patch_size)


class PatchEmbedding(nn.Module):
    def __init__(self, image_size, patch_size, in_channels, dim):
        super().__init__()
        self.num_patches = (image_size // patch_size) ** 2
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images):
        return rearrange(self.proj(images), "b d h w -> b (h w) d")


class PositionalEncodingLearned(nn.Module):
    def __init__(self, dim, max_len=1000):
        super().__init__()
        self.pe = nn.Parameter(torch.randn(max_len, dim) * 0.02)

    def forward(self, x):
        if x.shape[1] > self.pe.shape[0]:
            raise ValueError("too many tokens")
        return x + self.pe[: x.shape[1]]


def token_stats(image_size, patch_size, dim, in_channels=1):
    n = (image_size // patch_size) ** 2
    return {"num_tokens": n, "attention_entries": n * n,
            "embed_params": patch_size * patch_size * in_channels * dim + dim + n * dim}


def position_similarity(pos_embed):
    unit = F.normalize(pos_embed, dim=-1)
    return unit @ unit.T
'''


def nb(*cells) -> str:
    return json.dumps({"cells": [{"cell_type": "code", "metadata": {}, "source": c, "outputs": [],
                                  "execution_count": None} for c in cells],
                       "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def swap(text, old, new):
    assert old in text, old
    return text.replace(old, new)


TP1_CASES = {   # file name: (contents, points per test)
    "bom_crlf.py": (("\ufeff" + TP1.replace("\n", "\r\n")).encode(), (1.5, 1.5, 2, 1, 1)),
    "magics.ipynb": (nb("%matplotlib inline\n!echo hello\nimport torch\n", swap(swap(
        TP1, "    unit = F.normalize", "    %time unit = F.normalize"), "def token_stats", "patchify?\n\ndef token_stats"),
        "%%capture\nextra = 1\n", "%%bash\nthis is not python; ls -l\n"), (1.5, 1.5, 2, 1, 1)),
    "writefile.ipynb": (nb("%%writefile tp1_parts.py\n" + TP1, "from tp1_parts import (patchify, PatchEmbedding, "
                           "PositionalEncodingLearned,\n    token_stats, position_similarity)\n"), (1.5, 1.5, 2, 1, 1)),
    # several unusual features in one file (one sandbox run): a dataclass and a NamedTuple that need
    # real annotations (no __future__ flags leaking in), definitions inside try/except ImportError and
    # if, a config dict filled by item assignment, a lazy scikit-learn import, extra buffers
    "unusual_python.py": (swap(swap(swap(swap(swap(swap(TP1, "def token_stats", '''from dataclasses import dataclass
from typing import NamedTuple


@dataclass
class Costs:
    tokens: int


class Stats(NamedTuple):
    num_tokens: int
    attention_entries: int
    embed_params: int


def token_stats(image_size, patch_size, dim, in_channels=1):
    assert Costs.__annotations__["tokens"] is int, "annotations must not be strings here"
    n = Costs((image_size // patch_size) ** 2).tokens
    return Stats(n, n * n, patch_size * patch_size * in_channels * dim + dim + n * dim)._asdict()


def token_stats_unused'''), "from einops import rearrange\n", '''try:
    from einops import rearrange
except ImportError:
    rearrange = None
if torch.cuda.is_available():
    DEVICE = "cuda"
else:
    DEVICE = "cpu"
CONFIG = {}
CONFIG["pattern"] = "b c (h p1) (w p2) -> b (h w) (p1 p2 c)"
'''), '    h, w = images.shape[-2:]', '    images = images.to(DEVICE)\n    h, w = images.shape[-2:]'),
        '"b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1', 'CONFIG["pattern"], p1'), '''    unit = F.normalize(pos_embed, dim=-1)
    return unit @ unit.T''', '''    from sklearn.metrics.pairwise import cosine_similarity
    return torch.from_numpy(cosine_similarity(pos_embed.detach().double().numpy())).float()'''),
        "        self.proj = nn.Conv2d", '        self.register_buffer("scale", torch.ones(1))\n        self.proj = nn.Conv2d')
        .replace("        self.pe = nn.Parameter", '        self.register_buffer("index", torch.arange(max_len))\n'
                                                  '        self.pe = nn.Parameter'), (1.5, 1.5, 2, 1, 1)),
    # near misses: one mistake each, charged once
    "near_miss_bom_patch_order.py": (("\ufeff" + swap(TP1, "(p1 p2 c)", "(c p1 p2)").replace("\n", "\r\n")).encode(),
                                     (0.6, 1.5, 2, 1, 1)),
    "near_miss_magic_dot_products.ipynb": (nb(swap(TP1, "    unit = F.normalize(pos_embed, dim=-1)",
                                                   "    %time unit = pos_embed")), (1.5, 1.5, 2, 1, 0.3)),
    "near_miss_renamed_proj.py": (TP1.replace("self.proj", "self.projection"), (1.5, 0.6, 2, 1, 1)),
}

TP2 = '''import math

import torch
from einops import rearrange
from torch import nn
from vitcourse.patches import PatchEmbed


def scaled_dot_product_attention(q, k, v, mask=None):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, dim, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q, k, v = (rearrange(t, "b n (h d) -> b h n d", h=self.num_heads) for t in (q, k, v))
        out, _ = scaled_dot_product_attention(q, k, v)
        return self.proj(rearrange(out, "b h n d -> b n (h d)"))


class MLP(nn.Module):
    def __init__(self, dim, hidden_dim):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class TransformerBlock(nn.Module):
    def __init__(self, dim, num_heads, mlp_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = MultiHeadSelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = MLP(dim, mlp_dim)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, image_size, patch_size, in_channels, num_classes, dim, depth, num_heads, mlp_dim):
        super().__init__()
        self.patch_embed = PatchEmbed(image_size, patch_size, in_channels, dim)
        self.cls_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.pos_embed = nn.Parameter(torch.randn(1, self.patch_embed.num_patches + 1, dim) * 0.02)
        self.blocks = nn.ModuleList(TransformerBlock(dim, num_heads, mlp_dim) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, images):
        x = self.patch_embed(images)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])


def classification_metrics(y_true, y_pred, num_classes):
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
    y_true, y_pred = torch.as_tensor(y_true).numpy(), torch.as_tensor(y_pred).numpy()
    labels = list(range(num_classes))
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    return {"accuracy": float((y_true == y_pred).mean()), "precision": p, "recall": r, "f1": f,
            "confusion": torch.as_tensor(confusion_matrix(y_true, y_pred, labels=labels))}
'''

TP2_CASES = {
    "extra_buffer.py": (swap(TP2, "        self.head = nn.Linear(dim, num_classes)",
                             '        self.head = nn.Linear(dim, num_classes)\n'
                             '        self.register_buffer("class_weights", torch.ones(num_classes))'), (1.5, 1.5, 1, 2, 1)),
    # the attention's sub-layers named differently: charged in MultiHeadSelfAttention only (the block and
    # the ViT are graded again with correct attention in the rescue sandbox)
    "renamed_attention_layers.py": (TP2.replace("self.qkv", "self.to_qkv").replace("self.proj", "self.to_out"),
                                    (1.5, 0.6, 1, 2, 1)),
    "near_miss_renamed_head.py": (TP2.replace("self.head", "self.classifier"), (1.5, 1.5, 1, 1.2, 1)),
}


TP3 = '''import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def replace_head(model, id2label):
    old = model.classifier
    setattr(model, "classifier", nn.Linear(old.in_features, len(id2label)))
    with torch.no_grad():
        for p in model.classifier.parameters():
            p.fill_(0.0)
    model.num_labels = len(id2label)
    model.config.id2label = {int(k): v for k, v in id2label.items()}
    model.config.label2id = {v: int(k) for k, v in id2label.items()}
    return model


def freeze_backbone(model, trainable=("classifier",)):
    for name, p in model.named_parameters():
        p.requires_grad = any(name == t or name.startswith(t + ".") or name.startswith(t) for t in trainable)
    return model


def count_parameters(model):
    trainable = total = 0
    for p in model.parameters():
        total += p.numel()
        trainable += p.numel() if p.requires_grad else 0
    return trainable, total


def compute_metrics(eval_pred):
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score
    logits, labels = eval_pred
    pred = logits.argmax(axis=1)
    kw = dict(average="macro", zero_division=0)
    return {"accuracy": accuracy_score(labels, pred), "precision": precision_score(labels, pred, **kw),
            "recall": recall_score(labels, pred, **kw), "f1": f1_score(labels, pred, **kw)}


def interpolate_pos_embed(pos_embed, new_grid):
    n = pos_embed.shape[1] - 1
    side = int(round(n ** 0.5))
    grid = pos_embed[0, 1:].reshape(side, side, -1).permute(2, 0, 1).unsqueeze(0)
    grid = F.interpolate(grid, size=new_grid, mode="bicubic", align_corners=False)
    return torch.cat([pos_embed[:, :1], grid.squeeze(0).permute(1, 2, 0).reshape(1, -1, pos_embed.shape[2])], dim=1)
'''

TP3_CASES = {
    "bom_crlf.py": (("\ufeff" + TP3.replace("\n", "\r\n")).encode(), (1.5, 1.5, 1.5, 1.5)),
    "magics.ipynb": (nb("%load_ext autoreload\n%autoreload 2\nimport numpy as np\n", "!nvidia-smi\n",
                        swap(TP3, "    pred = logits.argmax(axis=1)", "    %time pred = logits.argmax(axis=1)")),
                     (1.5, 1.5, 1.5, 1.5)),
    # one mistake each: PyTorch's default (random) head init, bilinear instead of bicubic
    "near_miss_random_head.py": (swap(TP3, "            p.fill_(0.0)", "            pass"), (1.05, 1.5, 1.5, 1.5)),
    "near_miss_bilinear.py": (swap(TP3, 'mode="bicubic"', 'mode="bilinear"'), (1.5, 1.5, 1.5, 0.9)),
}

TP4 = '''import numpy as np
import torch
import torch.nn.functional as F


def siglip_loss(image_features, text_features, logit_scale, logit_bias, positives=None):
    x = image_features / image_features.norm(dim=1, keepdim=True)
    y = text_features / text_features.norm(dim=1, keepdim=True)
    logits = torch.einsum("id,jd->ij", x, y) * torch.as_tensor(logit_scale, dtype=x.dtype).exp() + logit_bias
    match = torch.eye(len(x), dtype=torch.bool) if positives is None else positives
    return -torch.where(match, F.logsigmoid(logits), F.logsigmoid(-logits)).sum() / len(x)


def zero_shot_classifier(model, tokenizer, classnames, templates):
    weights = []
    for name in classnames:
        with torch.no_grad():
            e = model.encode_text(tokenizer([t.format(name) for t in templates]))
        e = e / e.norm(dim=-1, keepdim=True)
        weights.append(F.normalize(e.mean(0), dim=0))
    return torch.stack(weights)


def zero_shot_predict(image_features, classifier):
    cos = F.cosine_similarity(image_features[:, None, :], classifier[None, :, :], dim=-1)
    return torch.argmax(cos, dim=1)


def per_class_metrics(y_true, y_pred, num_classes):
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = np.arange(num_classes)
    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    return dict(confusion=confusion_matrix(y_true, y_pred, labels=labels), precision=p, recall=r, f1=f, support=n,
                macro_precision=p.mean(), macro_recall=r.mean(), macro_f1=f.mean(),
                accuracy=accuracy_score(y_true, y_pred))


def recall_at_k(similarity, positives, ks=(1, 5, 10)):
    order = similarity.argsort(dim=1, descending=True)
    first = positives.gather(1, order).float().argmax(dim=1)         # rank of the best-ranked correct item
    return {k: float((first < k).float().mean()) for k in ks}
'''

TP4_CASES = {
    "bom_crlf.py": (("\ufeff" + TP4.replace("\n", "\r\n")).encode(), (1.5, 1.5, 1.5, 1.5)),
    "magics.ipynb": (nb("%matplotlib inline\nimport torch\n", "%%capture\nprint('training...')\n",
                        swap(TP4, "    order = similarity.argsort", "    %time order = similarity.argsort")),
                     (1.5, 1.5, 1.5, 1.5)),
    # one mistake each, charged once: the loss on unnormalised features, macro averages over the classes present
    "near_miss_unnormalised_siglip.py": (swap(TP4, "    x = image_features / image_features.norm(dim=1, keepdim=True)\n"
                                              "    y = text_features / text_features.norm(dim=1, keepdim=True)\n",
                                              "    x, y = image_features, text_features\n"), (0.45, 1.5, 1.5, 1.5)),
    "near_miss_macro_present.py": (swap(TP4, "macro_precision=p.mean(), macro_recall=r.mean(), macro_f1=f.mean(),",
                                        "**dict(zip(('macro_precision', 'macro_recall', 'macro_f1'), "
                                        "precision_recall_fscore_support(y_true, y_pred, average='macro', "
                                        "zero_division=0)[:3])),"), (1.5, 1.5, 1.2, 1.5)),
}


def grade(tp, cases, tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    for name, (content, _) in cases.items():
        (subs / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out"
    results = grade_all(tp, subs, out, limits=LIMITS, workers=2)
    write_reports(out, results, tp, CourseConfig())
    with open(out / "gradebook.csv") as f:
        book = {r["student"]: r for r in csv.DictReader(f)}
    return book, {r.student: r for r in results}


@pytest.fixture(scope="module")
def tp1(tmp_path_factory):
    return grade("tp1", TP1_CASES, tmp_path_factory.mktemp("honest_tp1"))


@pytest.fixture(scope="module")
def tp2(tmp_path_factory):
    return grade("tp2", TP2_CASES, tmp_path_factory.mktemp("honest_tp2"))


def _check(graded, cases, case):
    book, results = graded
    student = Path(case).stem
    tests = list(results[student].tests)
    got = tuple(float(book[student][t]) for t in tests)
    detail = {t: [(c.name, c.message) for c in results[student].tests[t].checks if not c.passed] for t in tests}
    assert got == pytest.approx(cases[case][1]), (detail, results[student].notes)
    assert book[student]["flags"] == "", book[student]["flags"]


@pytest.mark.parametrize("case", sorted(TP1_CASES))
def test_tp1_unusual_but_valid(tp1, case):
    _check(tp1, TP1_CASES, case)


@pytest.mark.parametrize("case", sorted(TP2_CASES))
def test_tp2_unusual_but_valid(tp2, case):
    _check(tp2, TP2_CASES, case)


@pytest.fixture(scope="module")
def tp4(tmp_path_factory):
    return grade("tp4", TP4_CASES, tmp_path_factory.mktemp("honest_tp4"))


@pytest.mark.parametrize("case", sorted(TP4_CASES))
def test_tp4_unusual_but_valid(tp4, case):
    _check(tp4, TP4_CASES, case)


@pytest.fixture(scope="module")
def tp3(tmp_path_factory):
    return grade("tp3", TP3_CASES, tmp_path_factory.mktemp("honest_tp3"))


@pytest.mark.parametrize("case", sorted(TP3_CASES))
def test_tp3_unusual_but_valid(tp3, case):
    _check(tp3, TP3_CASES, case)
