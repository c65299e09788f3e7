import numpy as np
import pytest
import torch
from PIL import Image

from {{ cookiecutter.package_name }}.config import DataConfig
from {{ cookiecutter.package_name }}.data import load_data, random_shift


def test_digits_batches_have_the_documented_shapes():
    data = load_data(DataConfig(image_size=16, batch_size=32), seed=0)
    images, labels = next(iter(data.train))
    assert images.shape == (32, 1, 16, 16) and images.dtype == torch.float32
    assert labels.shape == (32,) and labels.dtype == torch.int64
    assert 0.0 <= images.min() and images.max() <= 1.0
    sizes = [len(loader.dataset) for loader in (data.train, data.val, data.test)]
    assert sizes == [1293, 144, 360] and data.class_names == [str(c) for c in range(10)]


def test_the_split_is_fixed_by_the_seed_and_the_test_set_is_not_shuffled():
    a, b = load_data(DataConfig(), seed=1), load_data(DataConfig(), seed=1)
    assert torch.equal(next(iter(a.train))[0], next(iter(b.train))[0])
    first, second = [torch.cat([y for _, y in a.test]) for _ in range(2)]
    assert torch.equal(first, second)
    other = load_data(DataConfig(), seed=2)
    assert not torch.equal(torch.cat([y for _, y in other.test]), first)


def test_random_shift_moves_each_image_by_at_most_one_pixel():
    images = torch.zeros(64, 1, 8, 8)
    images[:, 0, 4, 4] = 1.0
    shifted = random_shift(images, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape and torch.all(shifted.sum(dim=(1, 2, 3)) == 1.0)
    rows, cols = shifted[:, 0].nonzero()[:, 1], shifted[:, 0].nonzero()[:, 2]
    assert rows.sub(4).abs().max() <= 1 and cols.sub(4).abs().max() <= 1
    assert len({(r, c) for r, c in zip(rows.tolist(), cols.tolist())}) > 1


def _write_folder(root, classes=("cat", "dog"), per_class=10):
    rng = np.random.default_rng(0)
    for name in classes:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:03d}.png")


def test_an_image_folder_becomes_resized_rgb_batches(tmp_path):
    _write_folder(tmp_path / "images")
    data = load_data(DataConfig(name="imagefolder", root=str(tmp_path / "images"), channels=3, image_size=8))
    images, labels = next(iter(data.test))
    assert images.shape[1:] == (3, 8, 8) and data.class_names == ["cat", "dog"]
    assert sum(len(loader.dataset) for loader in (data.train, data.val, data.test)) == 20


def test_image_folder_errors_say_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_data(DataConfig(name="imagefolder", root=str(tmp_path / "missing")))
    _write_folder(tmp_path / "one", classes=("cat",))
    with pytest.raises(ValueError, match="expected at least 2"):
        load_data(DataConfig(name="imagefolder", root=str(tmp_path / "one")))
    (tmp_path / "broken" / "a").mkdir(parents=True)
    (tmp_path / "broken" / "b").mkdir()
    for name in ("a", "b"):
        (tmp_path / "broken" / name / "x.png").write_text("not an image")
    with pytest.raises(ValueError, match="cannot read image"):
        load_data(DataConfig(name="imagefolder", root=str(tmp_path / "broken")))
