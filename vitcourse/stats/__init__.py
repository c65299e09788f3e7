"""Is a difference a result? Repeated runs over seeds, paired tests, bootstrap intervals, few labels.

`book/project.md`: "a difference smaller than that spread is not a result". One rule for every
notebook: a comparison becomes a sentence ("A beats B by x ± y (…, p = …)") only when its paired
test gives p < alpha; otherwise it reads "not resolved at this scale".

    s = summarize([0.91, 0.93, 0.90])        # Summary: mean ± sd (ddof=1), s.e. = sd/√n, n
    summary_table({"A": a, "B": b})          # Markdown: mean ± sd, s.e., n and every value
    c = paired_seeds(a, b, names=("A", "B")) # paired t-test over seeds (scipy.stats.ttest_rel)
    c = mcnemar(correct_a, correct_b)        # two classifiers, one test set (per-example correctness)
    c.resolved, c.sentence(), c.table()      # Comparison: diff (A − B), se, p
    pairwise({"A": a, "B": b, "C": c})       # every pair, Holm-adjusted; .sentence(), .table()
    holm([c1, c2, c3])                       # Holm-adjust the claims made in one place
    bootstrap_ci(correct.astype(float))      # Interval via scipy.stats.bootstrap (BCa)
    few_labels(y, k=5, seed=0)               # indices: k random examples of every class
    errorbar(results, ax)                    # mean ± sd with every seed's value as a dot

Caveats. With n = 3 seeds the t-test has 2 degrees of freedom (critical |t| = 4.30 at 0.05):
only large, consistent differences resolve, and "not resolved" never means "equal". The t-test
assumes roughly normal differences; McNemar (McNemar 1947; exact binomial when fewer than 25
examples are discordant) assumes nothing but tests one trained pair on one test set, so it
ignores seed-to-seed variation. Bootstrap over test examples (hundreds), not over 3 seeds.

Several tests in one place: when a notebook *chooses* among many options (a ranking, the best layer,
the best masking ratio), adjust with `pairwise` / `holm`; a few distinct questions stated before the
run are each tested at alpha; "A beats B at every budget" holds when each budget's test is resolved
(an intersection-union test needs no adjustment).
"""
from .compare import Comparison, Comparisons, holm, mcnemar, paired_seeds, pairwise
from .resample import Interval, bootstrap_ci, few_labels
from .summary import Summary, accuracy_se, errorbar, summarize, summary_table

__all__ = ["Comparison", "Comparisons", "holm", "mcnemar", "paired_seeds", "pairwise", "Interval", "bootstrap_ci",
           "few_labels", "Summary", "accuracy_se", "errorbar", "summarize", "summary_table"]
