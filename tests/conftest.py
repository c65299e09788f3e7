"""Shared test settings: a fixed seed per test, few hypothesis examples (the unit suite runs in
seconds), derandomized so CI and a laptop draw the same cases."""
import os

import pytest
import torch
from hypothesis import HealthCheck, settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")   # no test may touch the network

# The unit tests use tiny tensors: one thread is faster than several, and on a shared 2-core
# machine extra threads spin against other processes (measured: fit on a toy problem 2.9 s with
# torch's default threads under load, 0.1 s with one). VITCOURSE_TEST_THREADS overrides.
torch.set_num_threads(int(os.environ.get("VITCOURSE_TEST_THREADS", "1")))

settings.register_profile("vitcourse", max_examples=15, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "vitcourse"))


@pytest.fixture(autouse=True)
def _seed():
    """Every test starts from the same torch RNG state."""
    torch.manual_seed(0)
    yield

