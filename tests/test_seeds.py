"""vitcourse.seeds.run_seeds: seed order, same results in parallel and sequentially, one thread per
worker, notebook-defined functions, errors naming the seed. One loky pool (2 workers) is shared."""
import os

import pytest
import torch

from vitcourse.seeds import SeedError, default_processes, run_seeds

NOTEBOOK_CELL = '''
import os
import torch

def experiment(seed, scale=1.0):
    # trains nothing: draws from torch's generator (seeded by run_seeds) and reports where it ran
    w = torch.nn.Linear(8, 2).weight.detach()
    return {"seed": seed, "draw": (scale * torch.randn(3) + w.sum()).tolist(),
            "threads": torch.get_num_threads(), "pid": os.getpid()}

def fails_on_two(seed):
    if seed == 2:
        raise KeyError("no such label")
    return seed
'''


@pytest.fixture(scope="module")
def cell():
    ns = {"__name__": "__main__"}       # as in a notebook: functions of __main__ are pickled by value
    exec(NOTEBOOK_CELL, ns)
    return ns


def test_parallel_equals_sequential_in_seed_order(cell):
    par = run_seeds(cell["experiment"], [3, 1, 2], processes=2, scale=2.0)
    seq = run_seeds(cell["experiment"], [3, 1, 2], processes=1, scale=2.0)
    assert [r["seed"] for r in par] == [3, 1, 2]
    assert [r["draw"] for r in par] == [r["draw"] for r in seq]
    assert par[0]["draw"] != par[1]["draw"]
    assert {r["threads"] for r in par + seq} == {1}
    assert os.getpid() not in {r["pid"] for r in par} and {r["pid"] for r in seq} == {os.getpid()}


def test_sequential_restores_threads_and_honours_threads_per_process(cell):
    before = torch.get_num_threads()
    out = run_seeds(cell["experiment"], [0], processes=1, threads_per_process=2)
    assert out[0]["threads"] == 2 and torch.get_num_threads() == before


def test_errors_name_the_seed(cell):
    for processes in (2, 1):
        with pytest.raises(SeedError, match=r"fn\(seed=2\) failed with KeyError: 'no such label'") as info:
            run_seeds(cell["fails_on_two"], [0, 1, 2], processes=processes)
        assert info.value.seed == 2 and isinstance(info.value.__cause__, KeyError)
        assert "Traceback" in str(info.value)


def test_bad_arguments(cell):
    f = cell["experiment"]
    for seeds, match in (([], "non-empty"), ([0, 0], "distinct"), ([0.5], "integers"), ([True], "integers")):
        with pytest.raises(ValueError, match=match):
            run_seeds(f, seeds)
    with pytest.raises(ValueError, match="positive integers"):
        run_seeds(f, [0], processes=0)
    with pytest.raises(ValueError, match="function of the seed"):
        run_seeds(42, [0])


def test_default_processes():
    assert default_processes(1) == 1
    assert default_processes(3) == 3 or (os.cpu_count() or 1) == 1        # 3 seeds on 2 cores: 3 processes
    assert 1 <= default_processes(64) <= 2 * (os.cpu_count() or 1)
