"""vitcourse.report: metrics against scikit-learn, and the figures build."""
import matplotlib
import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from vitcourse.report import (classification_report, confusion_matrix, plot_confusion_matrix, plot_history,
                              plot_predictions)

matplotlib.use("Agg")


@pytest.fixture
def labels_preds():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 200)
    p = np.where(rng.random(200) < 0.7, y, rng.integers(0, 5, 200))
    p[p == 4] = 3                                    # class 4 is never predicted: 0/0 precision
    return y, p


def test_confusion_matrix_matches_sklearn(labels_preds):
    y, p = labels_preds
    np.testing.assert_array_equal(confusion_matrix(y, p, 5), skm.confusion_matrix(y, p, labels=range(5)))
    assert confusion_matrix(torch.tensor(y), torch.tensor(p)).sum() == 200


def test_per_class_and_macro_metrics_match_sklearn(labels_preds):
    y, p = labels_preds
    r = classification_report(y, p, num_classes=5)
    P, R, F, S = skm.precision_recall_fscore_support(y, p, labels=range(5), zero_division=0)
    np.testing.assert_allclose(r.precision, P)
    np.testing.assert_allclose(r.recall, R)
    np.testing.assert_allclose(r.f1, F)
    np.testing.assert_array_equal(r.support, S)
    assert r.precision[4] == 0 and r.f1[4] == 0
    assert r.accuracy == pytest.approx(skm.accuracy_score(y, p))
    assert r.macro()["f1"] == pytest.approx(skm.f1_score(y, p, average="macro", zero_division=0))


def test_perfect_predictions_give_ones():
    y = np.arange(10) % 3
    r = classification_report(y, y)
    assert r.accuracy == 1 and np.all(r.f1 == 1) and "macro avg" in r.to_markdown()


@pytest.mark.parametrize("labels, preds, match", [
    (np.zeros((2, 2), int), np.zeros((2, 2), int), "1-D"),
    ([0, 1], [0], "same length"),
    ([0, -1], [0, 1], "non-negative"),
    ([0.5, 1.0], [0, 1], "integer"),
])
def test_bad_labels_are_rejected(labels, preds, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix(labels, preds)


def test_class_index_beyond_num_classes():
    with pytest.raises(ValueError, match="num_classes=2"):
        confusion_matrix([0, 2], [0, 1], num_classes=2)


def test_figures_build(labels_preds):
    y, p = labels_preds
    ax = plot_confusion_matrix(confusion_matrix(y, p, 5), class_names=list("abcde"))
    assert [t.get_text() for t in ax.get_xticklabels()] == list("abcde")
    assert len(ax.texts) == 25
    axes = plot_history({"train_loss": [2, 1], "val_loss": [2.1, 1.2], "train_accuracy": [.3, .6],
                         "val_accuracy": [.2, .5]})
    assert len(axes[0].lines) == 2
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["train", "val"]
    axes = plot_history({"train_loss": [2, 1], "val_loss": [2.1, 1.2]}, train_label="train (augmented)")
    assert [t.get_text() for t in axes[0].get_legend().get_texts()] == ["train (augmented)", "val"]
    images = torch.rand(6, 1, 8, 8)
    fig = plot_predictions(images, [0, 1, 2, 3, 4, 5], [0, 1, 0, 3, 0, 5], errors_only=True)
    titles = [a.get_title() for a in fig.axes if a.get_title()]
    assert titles == ["2→0", "4→0"]
    with pytest.raises(ValueError, match="no misclassified"):
        plot_predictions(images, [0] * 6, [0] * 6, errors_only=True)
