"""Zero-shot classifier (prompt ensembling), retrieval and recall@K: definitions, scikit-learn
cross-check, several positives per query, bad inputs."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vitcourse.tokenizer import WordTokenizer
from vitcourse.zeroshot import recall_at_k, retrieve, similarity, zero_shot_classifier, zero_shot_predict

sklearn_metrics = pytest.importorskip("sklearn.metrics")
CLASSES = ["red circle", "blue square", "green ring"]
TEMPLATES = ["a {}", "a photo of a {}", "a small {} on the left"]


class BagOfWords(nn.Module):
    """A text encoder for the tests: the sum of word embeddings (any encode_text works)."""

    def __init__(self, vocab_size, dim=8, seed=0):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        nn.init.normal_(self.embed.weight, generator=torch.Generator().manual_seed(seed))

    def encode_text(self, ids):
        return self.embed(ids).sum(dim=1)                                       # (B, E)


def setup():
    tok = WordTokenizer([t.format(c) for c in CLASSES for t in TEMPLATES])
    return BagOfWords(tok.vocab_size), tok


def test_classifier_is_the_renormalised_mean_of_normalised_template_embeddings():
    model, tok = setup()
    W = zero_shot_classifier(model, tok, CLASSES, TEMPLATES)
    assert W.shape == (3, 8)
    for c, name in enumerate(CLASSES):
        emb = F.normalize(model.encode_text(tok([t.format(name) for t in TEMPLATES])), dim=-1)   # (M, E)
        expected = F.normalize(emb.mean(dim=0), dim=-1)
        assert torch.allclose(W[c], expected, atol=1e-6)
        raw = F.normalize(model.encode_text(tok([t.format(name) for t in TEMPLATES])).mean(0), dim=-1)
        assert not torch.allclose(W[c], raw, atol=1e-4)                         # normalise *before* averaging
    assert torch.allclose(W.norm(dim=1), torch.ones(3))


def test_single_template_and_batching():
    model, tok = setup()
    one = zero_shot_classifier(model, tok, CLASSES, "a photo of a {}")
    assert torch.allclose(one, F.normalize(model.encode_text(tok([f"a photo of a {c}" for c in CLASSES])), dim=-1))
    assert torch.allclose(zero_shot_classifier(model, tok, CLASSES, TEMPLATES, batch_size=2),
                          zero_shot_classifier(model, tok, CLASSES, TEMPLATES), atol=1e-6)


def test_predict_picks_the_largest_cosine():
    W = F.normalize(torch.randn(4, 6, generator=torch.Generator().manual_seed(0)), dim=-1)
    images = torch.stack([3 * W[2], 0.5 * W[0] + 0.01, W[3]])
    assert zero_shot_predict(images, W).tolist() == [2, 0, 3]


def test_retrieve_returns_the_k_nearest_by_cosine():
    g = torch.Generator().manual_seed(1)
    q, gal = torch.randn(4, 5, generator=g), torch.randn(20, 5, generator=g)
    scores, idx = retrieve(q, gal, k=3)
    sims = F.normalize(q, dim=-1) @ F.normalize(gal, dim=-1).T
    assert torch.equal(idx, sims.argsort(dim=1, descending=True)[:, :3])
    assert torch.allclose(scores, sims.gather(1, idx)) and (scores[:, :-1] >= scores[:, 1:]).all()
    assert torch.equal(retrieve(q, 7 * gal, k=3)[1], idx)                         # cosine: scale-free


def test_recall_at_k_equals_sklearn_top_k_accuracy_for_one_positive():
    g = torch.Generator().manual_seed(2)
    q, gal = torch.randn(50, 6, generator=g), torch.randn(12, 6, generator=g)
    target = torch.randint(0, 12, (50,), generator=g)
    sims = similarity(q, gal).numpy()
    rec = recall_at_k(q, gal, target, ks=(1, 3, 5))
    for k in (1, 3, 5):
        expected = sklearn_metrics.top_k_accuracy_score(target.numpy(), sims, k=k, labels=list(range(12)))
        assert rec[k] == pytest.approx(expected, abs=1e-12)
    assert rec[1] <= rec[3] <= rec[5]
    assert recall_at_k(q, gal, target, ks=12)[12] == 1.0


def test_several_positives_per_query_both_directions():
    # 3 images, 5 captions; image 0 fits captions 0 and 3, image 1 caption 1, image 2 captions 2 and 4
    img = torch.eye(3)
    txt = torch.tensor([[1, 0, 0], [0, 0.9, 0.6], [0, 0, 1], [0.9, 0.1, 0], [0, 1, 0.2]])
    same = torch.tensor([[1, 0, 0, 1, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 1]], dtype=torch.bool)
    # image 1's nearest caption is 4 (cos 0.98, image 2's), its own caption 1 (cos 0.83) comes second
    rec = recall_at_k(img, txt, same, ks=(1, 2))
    assert rec[1] == pytest.approx(2 / 3) and rec[2] == 1.0
    assert recall_at_k(img, txt, [{0, 3}, {1}, [2, 4]], ks=(1, 2)) == rec               # lists of indices
    t2i = recall_at_k(txt, img, same.T, ks=(1, 2))                                      # text -> image
    assert t2i == {1: pytest.approx(4 / 5), 2: 1.0}                                     # caption 4 finds image 1 first


def test_bad_inputs():
    q, gal = torch.randn(3, 4), torch.randn(6, 4)
    with pytest.raises(ValueError, match="k must be an integer in \\[1, gallery size 6\\]"):
        retrieve(q, gal, k=7)
    with pytest.raises(ValueError, match="same model"):
        retrieve(q, torch.randn(6, 5))
    with pytest.raises(ValueError, match="\\(N, D\\) tensor"):
        similarity(q[0], gal)
    with pytest.raises(ValueError, match="NaN or infinite"):
        similarity(q, gal.clone().fill_(float("nan")))
    with pytest.raises(ValueError, match="queries \\[1\\] have no correct gallery item"):
        recall_at_k(q, gal, torch.tensor([[1, 0, 0, 0, 0, 0], [0] * 6, [0, 0, 1, 0, 0, 0]], dtype=torch.bool))
    with pytest.raises(ValueError, match="positive indices must lie in \\[0, 6\\)"):
        recall_at_k(q, gal, torch.tensor([0, 1, 6]))
    with pytest.raises(ValueError, match="positives must be"):
        recall_at_k(q, gal, torch.zeros(3, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="positive integer"):
        recall_at_k(q, gal, torch.tensor([0, 1, 2]), ks=(0,))
    model, tok = setup()
    with pytest.raises(ValueError, match="needs a '\\{\\}'"):
        zero_shot_classifier(model, tok, CLASSES, ["a photo"])
    with pytest.raises(ValueError, match="at least one class name"):
        zero_shot_classifier(model, tok, [], TEMPLATES)
    with pytest.raises(ValueError, match="width"):
        zero_shot_predict(torch.randn(2, 3), torch.randn(4, 5))
