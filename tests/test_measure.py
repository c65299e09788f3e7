"""vitcourse.measure: timing, peak memory, power-law fits and token counts."""
import math
import random
import time

import pytest
import torch

from vitcourse.measure import PowerLaw, fit_power_law, measure_scaling, peak_memory, time_callable, token_costs


def test_time_callable_calls_warmup_plus_repeat_and_reports_the_median():
    calls = []
    t = time_callable(lambda: calls.append(1), warmup=2, repeat=5)
    assert len(calls) == 7 and len(t.times) == 5
    assert t.median == sorted(t.times)[2] and t.best == min(t.times)


def test_time_callable_measures_real_time():
    t = time_callable(lambda: time.sleep(0.01), warmup=0, repeat=3)
    assert 0.009 <= t.median < 0.5


@pytest.mark.parametrize("kw", [{"repeat": 0}, {"warmup": -1}])
def test_time_callable_rejects_bad_counts(kw):
    with pytest.raises(ValueError, match="repeat"):
        time_callable(lambda: None, **kw)


def test_peak_memory_counts_one_allocation_exactly():
    assert peak_memory(lambda: torch.empty(1000, 250)) == 1000 * 250 * 4


def test_peak_memory_sees_a_temporary_that_is_freed_before_the_end():
    def two_alive_then_one():
        a = torch.ones(1000, 1000)           # 4 MB
        b = a * 2                            # 8 MB alive: the peak
        del a
        return b + 1                         # 8 MB again (b and the result)
    assert peak_memory(two_alive_then_one) == pytest.approx(8e6, rel=1e-3)


def test_peak_memory_of_explicit_attention_is_two_score_matrices():
    n = 512
    q = k = v = torch.randn(1, 1, n, 16)
    def naive():
        w = (q @ k.transpose(-2, -1)).softmax(-1)    # scores and weights: 2 N^2 floats alive
        return w @ v
    assert peak_memory(naive) == pytest.approx(2 * n * n * 4, rel=0.01)


def test_peak_memory_rejects_other_devices():
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        peak_memory(lambda: None, "meta")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_peak_memory_on_cuda():
    assert peak_memory(lambda: torch.empty(1024, 1024, device="cuda"), "cuda") >= 4 * 1024 * 1024


@pytest.mark.parametrize("exponent,coefficient", [(2.0, 3.0), (1.0, 1e-6), (0.5, 7.0), (-1.5, 2.0)])
def test_fit_power_law_recovers_a_known_law(exponent, coefficient):
    x = [2 ** i for i in range(4, 12)]
    law = fit_power_law(x, [coefficient * v ** exponent for v in x])
    assert law.exponent == pytest.approx(exponent, abs=1e-9)
    assert law.coefficient == pytest.approx(coefficient, rel=1e-9)
    assert law.r2 == pytest.approx(1.0)
    assert law(10.0) == pytest.approx(coefficient * 10 ** exponent)


def test_fit_power_law_with_noise_stays_close():
    rng = random.Random(0)
    x = [2 ** i for i in range(6, 14)]
    y = [1e-9 * v ** 2 * math.exp(rng.gauss(0, 0.1)) for v in x]
    law = fit_power_law(x, y)
    assert abs(law.exponent - 2) < 0.1 and 0.95 < law.r2 <= 1


@pytest.mark.parametrize("x,y,msg", [([1, 2], [1], "equal length"), ([1], [1], "two or more"),
                                     ([0, 1], [1, 2], "positive"), ([1, 2], [-1, 2], "positive"),
                                     ([3, 3], [1, 2], "undefined")])
def test_fit_power_law_rejects_bad_input(x, y, msg):
    with pytest.raises(ValueError, match=msg):
        fit_power_law(x, y)


def test_measure_scaling_finds_the_quadratic_memory_of_an_n_by_n_matrix():
    out = measure_scaling(lambda n: (lambda: torch.zeros(n, n)), [64, 128, 256, 512], repeat=2)
    assert out["size"] == [64, 128, 256, 512] and len(out["seconds"]) == 4
    assert out["peak_bytes"] == [4 * n * n for n in out["size"]]
    assert fit_power_law(out["size"], out["peak_bytes"]).exponent == pytest.approx(2.0)


def test_measure_scaling_without_memory():
    out = measure_scaling(lambda n: (lambda: None), [1, 2], memory=False, repeat=1)
    assert set(out) == {"size", "seconds"}


def test_measure_scaling_best_is_the_fastest_call():
    def make(n):
        delays = iter([0.03, 0.001, 0.03])
        return lambda: time.sleep(next(delays))
    best = measure_scaling(make, [1], warmup=0, repeat=3, memory=False, stat="best")["seconds"][0]
    assert 0.0009 <= best < 0.02
    with pytest.raises(ValueError, match="'median' or 'best'"):
        measure_scaling(make, [1], stat="mean")


@pytest.mark.parametrize("image_size,p,d,c", [(224, 16, 768, 3), (224, 14, 1280, 3), ((48, 64), 8, 32, 1)])
def test_token_costs_match_the_closed_forms(image_size, p, d, c):
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    k = token_costs(image_size, p, d, c)
    n = h * w // (p * p)
    assert k["tokens"] == n and k["grid"] == (h // p, w // p)
    assert k["attention_entries"] == n * n
    assert k["patch_values"] == p * p * c
    assert k["embed_params"] == p * p * c * d + d


def test_token_costs_vit_b16():
    assert token_costs(224, 16, 768)["tokens"] == 196


def test_token_costs_reject_a_patch_that_does_not_divide():
    with pytest.raises(ValueError, match="not divisible by patch_size=16"):
        token_costs(100, 16, 64)


def test_power_law_is_a_plain_dataclass():
    assert PowerLaw(2.0, 1.0, 1.0)(3.0) == 9.0


def test_load_average_is_a_number_or_none_where_the_os_keeps_none(monkeypatch):
    from vitcourse import measure
    load = measure.load_average()
    assert load is None or load >= 0
    monkeypatch.delattr(measure.os, "getloadavg", raising=False)        # as on Windows
    assert measure.load_average() is None and measure.describe_load() == "not available on this system"
    monkeypatch.setattr(measure.os, "getloadavg", lambda: (1.234, 0.0, 0.0), raising=False)
    assert measure.describe_load() == "1.2"


def test_peak_memory_refuses_mps_and_says_to_measure_on_the_cpu():
    with pytest.raises(ValueError, match="no peak-allocation counter.*device='cpu'"):
        peak_memory(lambda: None, "mps")


def test_time_callable_synchronises_mps_around_each_call(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.mps, "synchronize", lambda: calls.append("sync"))
    time_callable(lambda: calls.append("call"), warmup=1, repeat=2, device="mps")
    assert calls == ["call", "sync", "call", "sync", "call", "sync"]
