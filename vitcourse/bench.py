"""Throughput of `vitcourse.ViT` against Hugging Face's ViT, naive versus fused attention, and
seeds in parallel processes (`vitcourse.seeds.run_seeds`) against one seed alone.

    python -m vitcourse.bench [--quick] [--threads 2] [--device cpu] [--sections models attention seeds]

Both models get the same config and the same weights (`vit_to_hf`), float32, Hugging Face with
its default "sdpa" attention. Each number is the median of several timed repeats after warm-up,
ours and the reference interleaved so that a busy machine slows both alike. Timings depend on
the machine and its load: read the ratio, not the absolute numbers. On a machine shared with
other jobs, `--threads 1 --clock cpu` (CPU time of this process) removes most of the noise.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
import torch.nn.functional as F

from .attention import scaled_dot_product_attention
from .config import ViTConfig, tiny
from .measure import _sync, load_average
from .vit import ViT

CONFIGS = {  # name -> (config, batch)
    "tiny 16px (digits)": (tiny(), 64),
    "ViT-S/16 224px": (ViTConfig(image_size=224, patch_size=16, dim=384, depth=12, num_heads=6, mlp_dim=1536), 2),
}


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def time_many(fns: dict, repeats: int = 5, warmup: int = 1, device="cpu", clock: str = "wall") -> dict[str, float]:
    """Median seconds per call of each function, the functions interleaved in every repeat.

    clock "wall": elapsed time; "cpu": CPU time of this process, summed over its threads (use it
    with one thread on a busy machine: time spent waiting for a core is then not counted).
    """
    if clock not in CLOCKS:
        raise ValueError(f"clock={clock!r}: expected one of {tuple(CLOCKS)}")
    if clock == "cpu" and torch.device(device).type != "cpu":
        raise ValueError(f"clock='cpu' measures CPU work only; use clock='wall' on device {device!r}")
    device, times, now = torch.device(device), {name: [] for name in fns}, CLOCKS[clock]
    for r in range(warmup + repeats):
        for name, fn in fns.items():
            _sync(device)
            t0 = now()
            fn()
            _sync(device)
            if r >= warmup:
                times[name].append(now() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


def _forward(model, x, hf: bool):
    model.eval()

    @torch.no_grad()
    def step():
        return model(x).logits if hf else model(x)
    return step


def _train_step(model, x, y, hf: bool):
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(x).logits if hf else model(x)
        F.cross_entropy(logits, y).backward()
        opt.step()
    return step


def bench_models(configs: dict | None = None, repeats: int = 5, warmup: int = 1, device="cpu",
                 clock: str = "wall") -> list[dict]:
    """One row per (config, mode): images/s of ours and of Hugging Face's ViT, and ours / HF."""
    from .interop import vit_to_hf

    rows = []
    for name, (cfg, batch) in (configs or CONFIGS).items():
        torch.manual_seed(0)
        ours = ViT(cfg).to(device)
        ref = vit_to_hf(ours, attn_implementation="sdpa")
        x = torch.randn(batch, cfg.in_channels, cfg.image_size, cfg.image_size, device=device)
        y = torch.randint(0, max(cfg.num_classes, 1), (batch,), device=device)
        for mode in ("forward", "train step"):
            make = _forward if mode == "forward" else lambda m, x, hf: _train_step(m, x, y, hf)
            t = time_many({"ours": make(ours, x, False), "hf": make(ref, x, True)}, repeats, warmup, device, clock)
            rows.append({"config": name, "batch": batch, "mode": mode, "ours img/s": batch / t["ours"],
                         "HF img/s": batch / t["hf"], "ours/HF": t["hf"] / t["ours"]})
    return rows


def bench_attention(seq_lens=(64, 256, 1024, 4096), heads: int = 6, head_dim: int = 64, batch: int = 1,
                    repeats: int = 5, warmup: int = 1, device="cpu", clock: str = "wall") -> list[dict]:
    """Explicit softmax(QK^T/sqrt(d))V (materialises the N x N weights) versus torch's fused kernel."""
    rows = []
    for n in seq_lens:
        q, k, v = torch.randn(3, batch, heads, n, head_dim, device=device).unbind(0)
        with torch.no_grad():
            t = time_many({"naive": lambda: scaled_dot_product_attention(q, k, v),
                           "fused": lambda: F.scaled_dot_product_attention(q, k, v)}, repeats, warmup, device, clock)
        rows.append({"tokens N": n, "naive ms": 1e3 * t["naive"], "fused ms": 1e3 * t["fused"],
                     "naive/fused": t["naive"] / t["fused"],
                     "weights MB": batch * heads * n * n * 4 / 2**20})
    return rows


def train_digits(seed: int, epochs: int = 3, config: ViTConfig | None = None, batch: int = 64) -> float:
    """One seed of the notebooks' digits ViT (`tiny()`, 16 px, patch 4): fit, then test accuracy."""
    from .data.digits import load_digits
    from .train import evaluate, fit, seed_everything

    seed_everything(seed)
    cfg = config or tiny()
    train, _, test = load_digits(cfg.image_size, batch, seed=seed)
    model = ViT(cfg)
    fit(model, train, epochs=epochs, lr=3e-3, weight_decay=0.05, warmup_epochs=0.5, device="cpu", progress=False)
    return evaluate(model, test, "cpu")["accuracy"]


def _ready(seed: int) -> int:
    """Warms a worker (or this process): Python started, torch imported, the digits loaded, one step."""
    train_digits(seed, 1, tiny(dim=8, depth=1, num_heads=1, mlp_dim=8), batch=1024)
    return seed


def bench_seeds(n_seeds: int = 3, epochs: int = 3, config: ViTConfig | None = None, processes=(2, 3),
                repeats: int = 3) -> list[dict]:
    """Wall time of one seed alone (torch's default threads, and 1 thread) against `n_seeds` seeds one
    after another and in parallel processes of 1 thread each (joblib loky workers; their start-up is
    its own row). Medians of `repeats` interleaved runs after a warm-up. "time/one" divides by the
    faster of the two one-seed rows; the last row is 1 when every seed's accuracy is identical in
    parallel and sequentially."""
    from .seeds import run_seeds

    seeds, acc, rows = list(range(n_seeds)), {}, []
    kw = dict(epochs=epochs, config=config)

    def keep(key, fn):
        return lambda: acc.__setitem__(key, fn())

    single = {"one seed alone": lambda: train_digits(0, **kw),
              "one seed alone, 1 thread": lambda: run_seeds(train_digits, [0], 1, 1, **kw),
              f"{n_seeds} seeds one after another": keep(1, lambda: run_seeds(train_digits, seeds, 1, 1, **kw))}
    t = time_many(single, repeats, warmup=1)
    for (name, sec), (procs, threads) in zip(t.items(), [(1, torch.get_num_threads()), (1, 1), (1, 1)]):
        rows.append({"run": name, "seeds": 1 if "one seed" in name else n_seeds, "processes": procs,
                     "threads each": threads, "wall s": sec})
    for p in processes:
        start = time.perf_counter()
        run_seeds(_ready, list(range(p)), p)
        rows.append({"run": "start the worker processes", "seeds": 0, "processes": p, "threads each": 1,
                     "wall s": time.perf_counter() - start})
        t = time_many({"par": keep(p, lambda: run_seeds(train_digits, seeds, p, 1, **kw))}, repeats, warmup=0)
        rows.append({"run": f"{n_seeds} seeds in parallel", "seeds": n_seeds, "processes": p, "threads each": 1,
                     "wall s": t["par"]})
    one = min(rows[0]["wall s"], rows[1]["wall s"])
    for r in rows:
        r["time/one"] = r["wall s"] / one
    rows.append({"run": "same accuracies in parallel as sequential", "seeds": n_seeds, "processes": "-",
                 "threads each": 1, "wall s": float("nan"),
                 "time/one": float(all(acc[p] == acc[1] for p in processes))})
    return rows


def format_table(rows: list[dict]) -> str:
    """A Markdown table; floats with 3 significant digits, ratios (columns "a/b") with 2 decimals."""
    if not rows:
        return "(no rows)"
    ratio = lambda k: "/" in k and " " not in k
    fmt = lambda k, v: (f"{v:.2f}" if ratio(k) else f"{v:.3g}" if v < 1000 else f"{v:.0f}") \
        if isinstance(v, float) else str(v)
    cells = [list(rows[0])] + [[fmt(k, r[k]) for k in rows[0]] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    line = lambda row: "| " + " | ".join(c.rjust(w) for c, w in zip(row, widths)) + " |"
    return "\n".join([line(cells[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in cells[1:]])


def load_warning(load: float | None, cores: int) -> str:
    """One line on the machine's load: a warning when other jobs already keep the cores busy."""
    if load is None:
        return "machine load: not available on this system (check that nothing else runs)"
    if load > 0.5 * cores:
        return (f"WARNING: machine load {load:.1f} on {cores} core(s): other jobs are running, so the wall-clock "
                f"times below are inflated (use --clock cpu --threads 1, or wait for an idle machine)")
    return f"machine load {load:.1f} on {cores} core(s)"


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(prog="python -m vitcourse.bench", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="tiny config only, attention up to N=1024")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, mps")
    p.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                   help="wall: elapsed time (default); cpu: this process's CPU time (with --threads 1 on a busy machine)")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per measurement (median)")
    p.add_argument("--seq-lens", type=int, nargs="+", default=None, help="attention sequence lengths")
    p.add_argument("--sections", nargs="+", choices=("models", "attention", "seeds"),
                   default=("models", "attention", "seeds"), help="which benchmarks to run (default: all)")
    p.add_argument("--seed-epochs", type=int, default=None, help="epochs per seed in the seeds benchmark")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = args.repeats or (3 if args.quick else 5)
    seq_lens = args.seq_lens or ((64, 256, 1024) if args.quick else (64, 256, 1024, 4096))
    configs = {k: v for k, v in CONFIGS.items() if not args.quick or k.startswith("tiny")}
    print(f"torch {torch.__version__}, device {args.device}, {torch.get_num_threads()} threads, "
          f"{args.clock}-clock median of {repeats} after 1 warm-up")
    print(load_warning(load_average(), os.cpu_count() or 1))
    out = {}
    try:
        import transformers
        if "models" in args.sections:
            print(f"\nvitcourse.ViT vs transformers {transformers.__version__} ViTForImageClassification (sdpa), float32")
            out["models"] = bench_models(configs, repeats, 1, args.device, args.clock)
            print(format_table(out["models"]))
    except ImportError:
        print("\n(transformers is not installed: model comparison skipped; pip install 'vitcourse[hf]')")
    if "attention" in args.sections:
        print("\nattention, naive (explicit, returns weights) vs fused (F.scaled_dot_product_attention), "
              "batch 1, 6 heads x 64")
        out["attention"] = bench_attention(seq_lens, repeats=repeats, device=args.device, clock=args.clock)
        print(format_table(out["attention"]))
    if "seeds" in args.sections:
        epochs = args.seed_epochs or (1 if args.quick else 3)
        model = "a 1-block, 16-wide ViT (--quick)" if args.quick else "the digits ViT (tiny(), 16 px, patch 4, batch 64)"
        print(f"\nseeds: {model}, {epochs} epoch(s) per seed, CPU, "
              f"wall-clock medians (other jobs on the machine inflate them); time/one: against the faster "
              f"one-seed row; last row: 1.00 when every seed's accuracy is identical in parallel and sequentially")
        quick = dict(config=tiny(dim=16, depth=1, num_heads=2, mlp_dim=32), processes=(2,), repeats=1)
        out["seeds"] = bench_seeds(3, epochs, **(quick if args.quick else {}))
        print(format_table(out["seeds"]))
    return out


if __name__ == "__main__":
    main()
