import pytest

from {{ cookiecutter.package_name }}.evaluate import classification_metrics


def test_metrics_on_a_hand_computed_case():
    # true 0 0 1 1 2 2, predicted 0 1 1 1 2 0:
    # precision per class 1/2, 2/3, 1/1; recall 1/2, 2/2, 1/2; F1 1/2, 4/5, 2/3
    m = classification_metrics([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 2, 0], num_classes=3)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision_macro"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["recall_macro"] == pytest.approx((1 / 2 + 1 + 1 / 2) / 3)
    assert m["f1_macro"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_a_class_absent_from_the_batch_still_has_a_row():
    m = classification_metrics([0, 0], [0, 0], num_classes=3)
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 0, 0], [0, 0, 0]] and m["accuracy"] == 1.0


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        classification_metrics([0, 1, 1], [0, 1], num_classes=2)
