"""Repeated runs over seeds, one seed per process with one thread each.

    from vitcourse.seeds import run_seeds
    def experiment(seed):                  # may be defined in a notebook
        ...                                # train, evaluate
        return {"accuracy": acc}           # anything picklable
    results = run_seeds(experiment, [0, 1, 2])          # [experiment(0), experiment(1), experiment(2)]
    results = run_seeds(experiment, [0, 1, 2], processes=1)   # the same, one after another

Why processes: the course's tiny models are overhead-bound, so one seed runs about as fast on 1
thread as on 2, while two 1-thread processes use both cores (issue 17: two runs side by side took
4.0 s each against 4.7 s for one alone); stacking seeds with `torch.func.vmap` was no faster than a
loop. The pool is joblib's loky backend (it ships with scikit-learn): it pickles notebook-defined
functions with cloudpickle, keeps its workers alive between calls (the second call does not pay
for starting Python and importing torch again) and caps each worker's BLAS/OpenMP threads.

Reproducible: before each call, in the worker or in this process alike, torch gets
`threads_per_process` threads and `seed_everything(seed)` is called, so a seed gives the same result
in parallel and sequentially (a thread count changes floating-point sums, so it is part of the
recipe). Results come back in seed order. An exception in `fn(seed)` is re-raised as `SeedError`
naming the seed, chained to the original (its traceback is in the message).
"""
from __future__ import annotations

import pickle
import traceback

import torch

from .train import seed_everything


class SeedError(RuntimeError):
    """fn(seed) raised; `.seed` is the seed, `__cause__` the original exception when it pickles."""

    def __init__(self, seed, message):
        super().__init__(message)
        self.seed = seed


def _call(fn, seed, threads, kwargs):
    # runs in the worker (or in this process with processes=1)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        seed_everything(seed)
        return True, fn(seed, **kwargs)
    except Exception as exc:  # noqa: BLE001 -- sent back to the parent with the seed named
        summary, tb = f"{type(exc).__name__}: {exc}", traceback.format_exc()
        try:
            pickle.dumps(exc)
        except Exception:  # noqa: BLE001 -- an exception that does not pickle comes back as text only
            exc = None
        return False, (exc, summary, tb)
    finally:
        torch.set_num_threads(saved)


def default_processes(n_seeds: int) -> int:
    """One process per seed, up to twice the CPU cores this process may use (cgroup/affinity aware).

    With one thread each, more seeds than cores share the cores evenly: 3 equal seeds on 2 cores
    end after about 1.5 runs' time, where 2 processes would leave the third seed to run alone (2 runs).
    """
    from joblib import cpu_count
    return max(1, min(n_seeds, 2 * cpu_count(only_physical_cores=False)))


def run_seeds(fn, seeds, processes: int | None = None, threads_per_process: int = 1, **kwargs) -> list:
    """[fn(seed, **kwargs) for seed in seeds], one seed per process (joblib loky), in seed order.

    processes: None = `default_processes(len(seeds))`; 1 = sequential in this process (no pickling,
    handy for debugging). More processes than cores is allowed (the seeds then share the cores).
    threads_per_process: torch threads for each call (1: these small models gain nothing from more).
    """
    seeds = list(seeds)
    if not seeds or any(isinstance(s, bool) or int(s) != s for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct (a repeated seed repeats the same run), got {seeds}")
    if not callable(fn):
        raise ValueError(f"fn must be a function of the seed, got {type(fn).__name__}")
    processes = default_processes(len(seeds)) if processes is None else processes
    if int(processes) != processes or processes < 1 or int(threads_per_process) != threads_per_process \
            or threads_per_process < 1:
        raise ValueError(f"processes and threads_per_process must be positive integers, got "
                         f"{processes} and {threads_per_process}")
    seeds = [int(s) for s in seeds]
    if processes == 1:
        outcomes = [_call(fn, s, threads_per_process, kwargs) for s in seeds]
    else:
        from joblib import Parallel, delayed, parallel_config
        with parallel_config(backend="loky", inner_max_num_threads=threads_per_process):
            outcomes = Parallel(n_jobs=min(processes, len(seeds)))(
                delayed(_call)(fn, s, threads_per_process, kwargs) for s in seeds)
    for seed, (ok, value) in zip(seeds, outcomes):
        if not ok:
            exc, summary, tb = value
            raise SeedError(seed, f"fn(seed={seed}) failed with {summary}\n\n{tb}") from exc
    return [value for _, value in outcomes]

