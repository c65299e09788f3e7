"""Measuring cost: wall-clock time, peak memory, power-law fits and token counts.

Used to check claims such as "self-attention costs O(N^2) in the number of tokens"
(Vaswani et al. 2017, Section 4, Table 1) by measurement instead of by assertion.
Timings taken on a shared machine are noisy: report them with the machine and thread count.
"""
from __future__ import annotations

import math
import os
import statistics
import time
from dataclasses import dataclass

import torch


def load_average() -> float | None:
    """The system's load average over the last minute, or None where the OS keeps none (Windows):
    a time measured at a load well above the core count is the machine's, not the code's."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def describe_load() -> str:
    """`load_average()` for a sentence: "1.3", or "not available on this system"."""
    load = load_average()
    return "not available on this system" if load is None else f"{load:.1f}"


@dataclass
class Timing:
    """Wall-clock seconds of `repeat` calls after warm-up; `median` is the number to report."""
    median: float
    times: list

    @property
    def best(self) -> float:
        return min(self.times)


def _sync(device) -> None:
    """Wait for the accelerator's queued work, so that a timer measures it (CUDA and MPS run asynchronously)."""
    kind = None if device is None else torch.device(device).type
    if kind == "cuda":
        torch.cuda.synchronize(device)
    elif kind == "mps":
        torch.mps.synchronize()


def time_callable(fn, *, warmup: int = 1, repeat: int = 5, device=None) -> Timing:
    """Call `fn()` `warmup` times, then time `repeat` calls; on CUDA or MPS synchronise around each call."""
    if warmup < 0 or repeat < 1:
        raise ValueError(f"need warmup >= 0 and repeat >= 1, got warmup={warmup}, repeat={repeat}")
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), times)


def _cpu_peak_bytes(fn) -> int:
    # The profiler records every allocation and free ("[memory]" events, signed sizes); the peak is
    # the largest running sum. Its start/stop banner goes to fd 2, so it is silenced just there.
    import os
    from torch.profiler import ProfilerActivity, profile

    def quiet(action):
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as null:
                os.dup2(null.fileno(), 2)
                action()
        finally:
            os.dup2(saved, 2)
            os.close(saved)

    prof = profile(activities=[ProfilerActivity.CPU], profile_memory=True)
    quiet(prof.__enter__)
    try:
        fn()
    finally:
        quiet(lambda: prof.__exit__(None, None, None))
    results = getattr(prof.profiler, "kineto_results", None)
    if results is None:
        raise RuntimeError("this torch build's profiler gives no allocation events; cannot measure CPU memory")
    events = sorted((e for e in results.events() if e.name() == "[memory]"), key=lambda e: e.start_ns())
    running = peak = 0
    for e in events:
        running += e.nbytes()
        peak = max(peak, running)
    return peak


def peak_memory(fn, device="cpu") -> int:
    """Peak bytes allocated by torch while `fn()` runs, above what was allocated before.

    CPU: from the profiler's allocation events; CUDA: `torch.cuda.max_memory_allocated`. Apple's MPS
    keeps no peak counter (`torch.mps` reports only what is allocated now), so it is refused with a
    ValueError that says to measure on the CPU, rather than answered with a number that is not a peak.
    """
    device = torch.device(device)
    if device.type == "cpu":
        return _cpu_peak_bytes(fn)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        fn()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - base
    if device.type == "mps":
        raise ValueError("peak_memory cannot measure 'mps': Apple's MPS backend keeps no peak-allocation counter "
                         "(torch.mps reports only the memory allocated now); measure memory with device='cpu'")
    raise ValueError(f"peak_memory measures 'cpu' or 'cuda' devices, got {device}")


@dataclass
class PowerLaw:
    """y ~ coefficient * x ** exponent, fitted by least squares on (log x, log y)."""
    exponent: float
    coefficient: float
    r2: float

    def __call__(self, x):
        return self.coefficient * x ** self.exponent


def fit_power_law(x, y) -> PowerLaw:
    """Least-squares line through (log x, log y): its slope is the exponent."""
    x, y = [float(v) for v in x], [float(v) for v in y]
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"need two or more (x, y) pairs of equal length, got {len(x)} x and {len(y)} y")
    if min(x) <= 0 or min(y) <= 0:
        raise ValueError(f"a log-log fit needs positive values, got min x={min(x)}, min y={min(y)}")
    lx, ly = [math.log(v) for v in x], [math.log(v) for v in y]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    if sxx == 0:
        raise ValueError(f"all x are equal ({x[0]}): the exponent is undefined")
    slope = sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sxx
    intercept = my - slope * mx
    ss_res = sum((b - (intercept + slope * a)) ** 2 for a, b in zip(lx, ly))
    ss_tot = sum((b - my) ** 2 for b in ly)
    return PowerLaw(slope, math.exp(intercept), 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0)


def measure_scaling(make_fn, sizes, *, warmup: int = 1, repeat: int = 5, memory: bool = True,
                    device="cpu", stat: str = "median") -> dict:
    """Time (and optionally peak memory) of `make_fn(n)()` for each n in `sizes`.

    `make_fn(n)` builds the inputs and returns the callable to measure, so building is not timed.
    `stat`: "median" of the timed calls, or "best" (their minimum: steadier on a busy machine).
    Returns {'size': [...], 'seconds': [...], 'peak_bytes': [...] (when memory)}.
    """
    if stat not in ("median", "best"):
        raise ValueError(f"stat must be 'median' or 'best', got {stat!r}")
    out = {"size": [], "seconds": []} | ({"peak_bytes": []} if memory else {})
    for n in sizes:
        fn = make_fn(n)
        out["size"].append(n)
        out["seconds"].append(getattr(time_callable(fn, warmup=warmup, repeat=repeat, device=device), stat))
        if memory:
            out["peak_bytes"].append(peak_memory(fn, device))
    return out


def token_costs(image_size, patch_size: int, dim: int, channels: int = 3) -> dict:
    """What a patch size costs: grid, tokens N = HW/P^2, attention entries N^2 per head and layer,
    and the patch-embedding parameters (counted on a `PatchEmbed` built on the meta device)."""
    from .patches import PatchEmbed

    with torch.device("meta"):
        embed = PatchEmbed(image_size, patch_size, channels, dim)
    n = embed.num_patches
    return {"patch_size": patch_size, "dim": dim, "grid": embed.grid_size, "tokens": n,
            "attention_entries": n * n, "patch_values": patch_size * patch_size * channels,
            "embed_params": sum(p.numel() for p in embed.parameters())}
