"""vitcourse.stats (summary, compare, resample): summaries over seeds, paired tests (t-test, McNemar) checked against closed forms,
Holm's adjustment, bootstrap intervals, few-label sampling and the sentences of the noise rule."""
import math

import numpy as np
import pytest
from scipy import stats as st

from vitcourse.stats import (Comparison, Summary, accuracy_se, bootstrap_ci, errorbar, few_labels, holm, mcnemar,
                             paired_seeds, pairwise, summarize, summary_table)


def test_summary_mean_sd_se_and_repr():
    s = summarize([0.90, 0.93, 0.96], "fine-tuning")
    assert s.n == 3 and s.mean == pytest.approx(0.93)
    assert s.sd == pytest.approx(0.03)                                   # ddof=1, not 0.0245 (ddof=0)
    assert s.se == pytest.approx(0.03 / math.sqrt(3))
    assert str(s) == "0.930 ± 0.030" and "fine-tuning" in repr(s) and "n = 3" in repr(s)
    assert "| fine-tuning | 0.930 ± 0.030 | 0.017 | 3 | 0.900, 0.930, 0.960 |" in s.table()
    assert math.isnan(summarize([0.5]).sd)


def test_summary_table_and_bad_values():
    table = summary_table({"A": [1.0, 2.0], "B": np.array([3.0, 3.0, 3.0])}, digits=1)
    assert table.splitlines()[2] == "| A | 1.5 ± 0.7 | 0.5 | 2 | 1.0, 2.0 |"
    assert "| B | 3.0 ± 0.0 | 0.0 | 3 |" in table
    for bad in ([], [0.5, float("nan")]):
        with pytest.raises(ValueError, match="finite"):
            summarize(bad, "accuracy")


def test_accuracy_se():
    assert accuracy_se(0.9, 360) == pytest.approx(math.sqrt(0.09 / 360))
    with pytest.raises(ValueError, match="accuracy 0 <= p <= 1"):
        accuracy_se(1.2, 10)


def test_paired_seeds_matches_scipy_and_speaks():
    a, b = [0.80, 0.85, 0.83], [0.70, 0.74, 0.71]
    c = paired_seeds(a, b, names=("fine-tuning", "scratch"))
    d = np.subtract(a, b)
    assert c.diff == pytest.approx(d.mean()) and c.se == pytest.approx(d.std(ddof=1) / math.sqrt(3))
    assert c.p == pytest.approx(st.ttest_rel(a, b).pvalue) and c.resolved
    assert c.sentence() == f"fine-tuning beats scratch by 0.110 ± {c.se:.3f} (paired t-test over 3 seeds, p = {c.p:.2g})."
    assert "resolved" in repr(c) and "| fine-tuning | scratch | +0.110" in c.table()
    noisy = paired_seeds([0.6, 0.8, 0.7], [0.7, 0.6, 0.72], names=("window", "linear"))
    assert not noisy.resolved and noisy.sentence().startswith("window vs linear: not resolved at this scale")


def test_paired_seeds_lower_is_better_constant_and_errors():
    c = paired_seeds([0.2, 0.25, 0.3], [0.3, 0.36, 0.41], names=("50%", "75%"), higher_is_better=False)
    assert c.sentence().startswith("50% beats 75%")                      # a lower loss wins
    assert paired_seeds([1, 2, 3], [0, 1, 2]).p == 0.0                    # identical differences
    assert paired_seeds([1, 2, 3], [1, 2, 3]).p == 1.0
    with pytest.raises(ValueError, match="one value per seed"):
        paired_seeds([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="at least 2"):
        paired_seeds([1], [2])


def test_mcnemar_exact_against_the_binomial_sum():
    a = np.array([True] * 10 + [False] * 2 + [True] * 50 + [False] * 8)   # 10 only A right, 2 only B right
    b = np.array([False] * 10 + [True] * 2 + [True] * 50 + [False] * 8)
    c = mcnemar(a, b, names=("A", "B"))
    assert c.p == pytest.approx(2 * (math.comb(12, 10) + math.comb(12, 11) + 1) / 2 ** 12)
    assert c.diff == pytest.approx(8 / 70) and "exact, 12 of 70 discordant" in c.test
    assert c.se == pytest.approx(math.sqrt(12 - 64 / 70) / 70)
    assert c.resolved and c.sentence().startswith("A beats B by 0.114")


def test_mcnemar_chi2_and_edge_cases():
    a = np.array([True] * 40 + [False] * 20 + [True] * 300)
    b = np.array([False] * 40 + [True] * 20 + [True] * 300)
    c = mcnemar(a, b)
    assert "χ²" in c.test and c.p == pytest.approx(math.erfc(math.sqrt(19 ** 2 / 60 / 2)))
    assert mcnemar(a, a).p == 1.0 and not mcnemar(a, a).resolved
    with pytest.raises(ValueError, match="boolean arrays"):
        mcnemar(a.astype(int), b)
    with pytest.raises(ValueError, match="equal length"):
        mcnemar(a, b[:-1])


def test_pairwise_orders_best_first_and_holm_adjusts():
    results = {"low": [0.50, 0.52, 0.51], "high": [0.90, 0.93, 0.91], "mid": [0.70, 0.75, 0.69]}
    raw = pairwise(results, correction=None)
    holm = pairwise(results)
    assert [c.names for c in holm] == [("high", "mid"), ("high", "low"), ("mid", "low")]
    p = sorted(c.p for c in raw)
    expected = sorted([min(1, 3 * p[0]), min(1, max(3 * p[0], 2 * p[1])), min(1, max(3 * p[0], 2 * p[1], p[2]))])
    assert sorted(c.p for c in holm) == pytest.approx(expected)
    assert all("Holm over 3" in c.test for c in holm)
    assert holm.sentence().count(".") >= 3 and holm.table().count("\n") == 4
    with pytest.raises(ValueError, match="'holm' or None"):
        pairwise(results, correction="bonferroni")


def test_bootstrap_ci_of_an_accuracy_and_a_paired_difference():
    rng = np.random.default_rng(0)
    correct = rng.random(360) < 0.9
    ci = bootstrap_ci(correct.astype(float), n_resamples=2000)
    assert ci.low < correct.mean() < ci.high and ci.estimate == pytest.approx(correct.mean())
    se = accuracy_se(correct.mean(), 360)
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * se, rel=0.2)     # the normal approximation
    diff = bootstrap_ci(correct.astype(float) - np.roll(correct, 1).astype(float), n_resamples=2000)
    assert diff.low < 0 < diff.high and "95% BCa bootstrap" in repr(diff)
    assert bootstrap_ci(np.ones(10)).low == 1.0
    with pytest.raises(ValueError, match="at least 8"):
        bootstrap_ci([0.9, 0.91, 0.92])


def test_few_labels():
    y = np.repeat(np.arange(4), 30)
    idx = few_labels(y, 5, seed=1)
    assert len(idx) == 20 and len(set(idx)) == 20 and (np.bincount(y[idx]) == 5).all()
    assert (few_labels(y, 5, seed=1) == idx).all() and not (few_labels(y, 5, seed=2) == idx).all()
    assert set(y[few_labels(y, 3, classes=[2, 0])]) == {0, 2}
    with pytest.raises(ValueError, match="class 0 has 30 examples, fewer than k=31"):
        few_labels(y, 31)
    with pytest.raises(ValueError, match="positive integer"):
        few_labels(y, 0)


def test_errorbar_draws_means_and_seeds():
    import matplotlib
    matplotlib.use("Agg")
    ax = errorbar({"A": [1.0, 2.0, 3.0], "B": [2.0, 2.0, 2.0]})
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B"]
    dots = [line for line in ax.lines if line.get_marker() == "."]
    assert sorted(np.concatenate([d.get_ydata() for d in dots]).tolist()) == [1, 2, 2, 2, 2, 3]
    ax2 = errorbar({"25%": [0.1, 0.2], "50%": [0.3, 0.4]}, x=[0.25, 0.5], label="probe", dots=False)
    assert ax2.lines[0].get_xdata().tolist() == [0.25, 0.5] and ax2.lines[0].get_linestyle() == "-"
    assert ax.lines[0].get_linestyle() == "None"                        # categories: no line between them


def test_result_objects_are_plain_dataclasses():
    c = Comparison(("A", "B"), 0.01, 0.02, 0.6, "test")
    assert not c.resolved and "not resolved" in c.sentence()
    assert isinstance(summarize([1, 2]), Summary)


def test_holm_on_chosen_claims():
    claims = [Comparison(("A", "B"), 0.1, 0.01, 0.01, "t"), Comparison(("C", "D"), 0.1, 0.01, 0.04, "t"),
              Comparison(("E", "F"), 0.1, 0.01, 0.03, "t")]
    adjusted = holm(claims)
    assert [c.p for c in adjusted] == pytest.approx([0.03, 0.06, 0.06])  # 3 x 0.01, max(0.03, 2 x 0.03), then 0.04 -> 0.06
    assert [c.resolved for c in adjusted] == [True, False, False] and "Holm over 3" in adjusted[0].test
    assert holm([Comparison(("A", "B"), 0.1, 0.01, 0.04, "t")])[0].p == 0.04


def test_sentence_p_value_never_reads_as_alpha_beside_a_verdict():
    c = Comparison(("A", "B"), 0.05, 0.01, 0.0497, "paired t-test")
    assert c.resolved and "p = 0.0497" in c.sentence()
    assert "p = 0.051" in Comparison(("A", "B"), 0.05, 0.01, 0.0512, "t").sentence()
