"""Training a line reader for a fixed number of steps, with its convergence measured.

AdamW with linear warm-up and cosine decay (`vitcourse.train.warmup_cosine`), batches drawn from
pre-rendered lines (a new random order each pass), and every `eval_every` steps the CER of
greedy reading on an evaluation set: the curve that says how fast each reader learns to read.
"""
from __future__ import annotations

import time

import torch

from ..train import warmup_cosine
from .charset import OCRTokenizer
from .metrics import cer
from .reader import read, reader_loss


def train_reader(model, tokenizer: OCRTokenizer, images: torch.Tensor, texts, *, steps: int, batch_size: int = 32,
                 lr: float = 1e-3, weight_decay: float = 0.01, warmup: int = 20, grad_clip: float = 1.0,
                 eval_every: int | None = None, eval_set=None, seed: int = 0) -> dict:
    """Train `model` (CTCReader or ImageToText) on (images (N, 1, H, W), texts) for `steps` steps.

    Returns {'step', 'loss' (per step), 'eval_step', 'eval_cer' (greedy CER on `eval_set` =
    (images, texts) every `eval_every` steps and at the end), 'seconds' (wall), 'cpu_seconds'}."""
    texts = list(texts)
    if images.shape[0] != len(texts) or not texts:
        raise ValueError(f"{images.shape[0]} images but {len(texts)} texts: one text per line image, at least one")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got {steps} and {batch_size}")
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, steps, warmup))
    history = {"step": [], "loss": [], "eval_step": [], "eval_cer": []}
    order, pos = torch.randperm(len(texts), generator=g), 0
    start, cpu_start = time.perf_counter(), time.process_time()

    def evaluate(step):
        history["eval_step"].append(step)
        history["eval_cer"].append(cer(eval_set[1], read(model, eval_set[0], tokenizer)))

    for step in range(1, steps + 1):
        if pos + batch_size > len(texts):
            order, pos = torch.randperm(len(texts), generator=g), 0
        idx = order[pos: pos + batch_size]
        pos += batch_size
        model.train()
        loss = reader_loss(model, images[idx], [texts[i] for i in idx.tolist()], tokenizer)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        sched.step()
        history["step"].append(step)
        history["loss"].append(loss.item())
        if eval_set is not None and eval_every and (step % eval_every == 0 or step == steps):
            evaluate(step)
    history["seconds"] = time.perf_counter() - start
    history["cpu_seconds"] = time.process_time() - cpu_start      # this process's CPU time: what an idle core needs
    model.eval()
    return history
