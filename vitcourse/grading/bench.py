"""How long does grading a class take? `python -m vitcourse.grading.bench tp1 -n 30 [--workers 2]`.

Builds `n` typical submissions from the master notebook — the solution, the untouched exercise and
the solution with one common mistake each — grades them with the default limits and prints the
wall-clock time. Timings depend on the machine and its load: report them with both.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from ..measure import describe_load
from .assignments import get_assignment
from .grade import grade_all
from .notebook import cell_source, dumps_notebook, make_exercise, read_notebook
from .reference import master_path
from .sandbox import Limits

MUTATIONS = {
    "tp1": [("(c p1 p2) patch order", '-> b (h w) (p1 p2 c)"', '-> b (h w) (c p1 p2)"'),
            ("dot products instead of cosines", "unit = F.normalize(pos_embed, dim=-1)", "unit = pos_embed"),
            ("position table not counted", " + n * dim}", "}"),
            ("zero-initialised table (still correct)", "nn.init.trunc_normal_(self.pe, std=0.02)", "pass")],
    "tp2": [("no 1/sqrt(d_k)", " / math.sqrt(q.shape[-1])", ""),
            ("mean pooling instead of the class token", "self.norm(x)[:, 0]", "self.norm(x).mean(dim=1)"),
            ("LayerNorm eps 1e-5 (still correct)", "eps=1e-6", "eps=1e-5"),
            ("micro-averaged precision", "precision.mean().item()", "(tp.sum() / predicted.sum()).item()")],
    "tp3": [("randomly initialised head", "    nn.init.zeros_(head.weight)\n    nn.init.zeros_(head.bias)\n", ""),
            ("tensors counted instead of elements", "sum(p.numel() for p in params if p.requires_grad)",
             "sum(1 for p in params if p.requires_grad)"),
            ("micro averages", 'average="macro", zero_division=0)', 'average="micro", zero_division=0)'),
            ("bilinear position table", 'mode="bicubic", align_corners=False)',
             'mode="bilinear", align_corners=False)')],
    "tp4": [("SigLIP averaged over B^2 pairs", "return -F.logsigmoid(z * logits).sum() / B",
             "return -F.logsigmoid(z * logits).mean()"),
            ("unnormalised prompt ensemble", "F.normalize(model.encode_text(tokenizer(texts)), dim=-1)",
             "model.encode_text(tokenizer(texts))"),
            ("transposed confusion matrix", "np.add.at(cm, (y_true, y_pred), 1)", "np.add.at(cm, (y_pred, y_true), 1)"),
            ("ties counted against the query (still correct)", "rank = (similarity > best).sum(dim=1)",
             "rank = (similarity >= best).sum(dim=1) - 1")],
}


def _mutated(master: dict, old: str, new: str) -> dict:
    nb = json.loads(json.dumps(master))
    hits = 0
    for cell in nb["cells"]:
        src = cell_source(cell)
        if old in src:
            cell["source"], hits = src.replace(old, new), hits + 1
    if not hits:
        raise ValueError(f"mutation target {old!r} not found in the master notebook")
    return nb


def make_submissions(assignment_name: str, folder, n: int) -> list:
    """Write `n` submissions into `folder`; return what each one is."""
    master = read_notebook(master_path(assignment_name))
    kinds = [("solution", master), ("exercise", make_exercise(master))] + [
        (name, _mutated(master, old, new)) for name, old, new in MUTATIONS[assignment_name]]
    made = []
    for i in range(n):
        name, nb = kinds[i % len(kinds)]
        Path(folder, f"student{i:02d}.ipynb").write_text(dumps_notebook(nb), encoding="utf-8")
        made.append(name)
    return made


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tp", choices=sorted(MUTATIONS))
    p.add_argument("-n", type=int, default=30)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--sandbox", default="auto", help="auto, bwrap, docker, podman or unsafe-no-sandbox")
    args = p.parse_args(argv)
    a = get_assignment(args.tp)
    with tempfile.TemporaryDirectory() as tmp:
        subs, out = Path(tmp, "submissions"), Path(tmp, "grades")
        subs.mkdir()
        kinds = make_submissions(args.tp, subs, args.n)
        start = time.perf_counter()
        results = grade_all(args.tp, subs, out, limits=Limits(isolate=args.sandbox), workers=args.workers)
        elapsed = time.perf_counter() - start
    by_kind = {}
    for kind, r in zip(kinds, results):
        by_kind.setdefault(kind, set()).add(round(sum(t.points for t in r.tests.values()), 3))
    load = describe_load()
    print(f"{a.name}: {args.n} submissions graded in {elapsed:.1f} s with {args.workers} workers "
          f"({elapsed / args.n:.2f} s each; {os.cpu_count()} CPUs, load average {load}, "
          f"sandbox {results[0].isolation.split(' (')[0]})")
    print(f"  median code points {statistics.median(sum(t.points for t in r.tests.values()) for r in results):g} "
          f"/ {a.code_points:g}")
    for kind, points in by_kind.items():
        print(f"  {kind}: {sorted(points)}")


if __name__ == "__main__":
    main()
