"""vitcourse.data: digits splits and augmentation, sample photos, and the MNIST / CIFAR-10 loaders on
small files written here in the exact standard formats (IDX + gzip; pickles in a tar.gz)."""
import gzip
import io
import math
import pickle
import shutil
import struct
import tarfile
import urllib.error
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vitcourse.data import (ChecksumError, SAMPLE_IMAGES, cifar10_arrays, digits_arrays, load_cifar10,
                            load_digits, load_mnist, mnist_arrays, sample_image)
from vitcourse.data import cifar, files, mnist
from vitcourse.data.augment import random_affine, random_crop_flip


def batches(loader):
    return [(x.clone(), y.clone()) for x, y in loader]


def same(a, b):
    return len(a) == len(b) and all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(a, b))


# ----------------------------------------------------------------------------------------- digits

def test_digits_split_sizes_follow_sklearn_rounding_and_are_stratified():
    from sklearn.datasets import load_digits as sk_load_digits
    y_all = sk_load_digits().target
    n = len(y_all)
    n_test = math.ceil(0.2 * n)                      # train_test_split rounds the test share up
    n_val = math.ceil(0.1 * (n - n_test))
    sizes = {"train": n - n_test - n_val, "val": n_val, "test": n_test}
    arrays = digits_arrays()
    assert {k: len(v[1]) for k, v in arrays.items()} == sizes == {"train": 1293, "val": 144, "test": 360}
    share = np.bincount(y_all, minlength=10) / n
    for split, (x, y) in arrays.items():
        assert x.shape == (sizes[split], 1, 8, 8) and x.dtype == np.float32 and y.dtype == np.int64
        assert np.abs(np.bincount(y, minlength=10) - share * len(y)).max() <= 1   # stratified


def test_digits_splits_partition_the_dataset():
    from sklearn.datasets import load_digits as sk_load_digits
    d = sk_load_digits()
    original = np.concatenate([(d.images / 16.0).reshape(len(d.target), -1), d.target[:, None]], 1)
    arrays = digits_arrays(seed=3)
    ours = np.concatenate([np.concatenate([x.reshape(len(y), -1), y[:, None]], 1) for x, y in arrays.values()])
    key = lambda a: a[np.lexsort(a.T[::-1])]                                            # noqa: E731
    np.testing.assert_allclose(key(ours), key(original), atol=1e-7)
    assert 0.0 == min(x.min() for x, _ in arrays.values()) and max(x.max() for x, _ in arrays.values()) == 1.0


@pytest.mark.parametrize("image_size", [8, 16, 20])
def test_load_digits_resizes_bilinearly(image_size):
    train, val, test = load_digits(image_size=image_size, batch_size=50)
    x, y = next(iter(test))
    assert x.shape == (50, 1, image_size, image_size) and x.dtype == torch.float32 and y.dtype == torch.int64
    x_np, y_np = digits_arrays()["test"]
    expected = torch.from_numpy(x_np[:50])
    if image_size != 8:
        expected = F.interpolate(expected, size=(image_size, image_size), mode="bilinear", align_corners=False)
    torch.testing.assert_close(x, expected)
    assert torch.equal(y, torch.from_numpy(y_np[:50]))
    assert [len(dl.dataset) for dl in (train, val, test)] == [1293, 144, 360]
    assert 0 <= x.min() and x.max() <= 1


def test_digits_augmentation_is_training_only_seeded_and_fresh_each_epoch():
    plain = [batches(dl) for dl in load_digits(16, augment=False, seed=0)]
    aug_loaders = load_digits(16, augment=True, seed=0)
    aug = [batches(dl) for dl in aug_loaders]
    assert same(aug[1], plain[1]) and same(aug[2], plain[2])      # val and test never augmented
    assert all(torch.equal(ya, yp) for (_, ya), (_, yp) in zip(aug[0], plain[0]))   # same shuffle
    changed = [not torch.allclose(xa, xp) for (xa, _), (xp, _) in zip(aug[0], plain[0])]
    assert all(changed)
    assert all(0 <= x.min() and x.max() <= 1 for x, _ in aug[0])
    assert same(batches(load_digits(16, augment=True, seed=0)[0]), aug[0])       # reproducible
    assert not same(batches(load_digits(16, augment=True, seed=1)[0]), aug[0])   # seed matters
    assert not same(batches(aug_loaders[0]), aug[0])                            # new epoch, new draws


@pytest.mark.parametrize("kwargs, word", [({"image_size": 4}, "image_size"), ({"image_size": 7}, "8x8"),
                                          ({"image_size": 16.0}, "image_size"), ({"image_size": True}, "image_size"),
                                          ({"batch_size": 0}, "batch_size"), ({"seed": -1}, "seed")])
def test_load_digits_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=word):
        load_digits(**kwargs)


# ------------------------------------------------------------------------------------ augmentation

def test_random_affine_identity_range_and_generator():
    x = torch.rand(6, 1, 16, 16)
    torch.testing.assert_close(random_affine(x, torch.Generator().manual_seed(0), 0.0, 0.0), x)
    a = random_affine(x, torch.Generator().manual_seed(0))
    b = random_affine(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and not torch.allclose(a, x) and a.min() >= 0 and a.max() <= 1
    with pytest.raises(ValueError, match="max_shift"):
        random_affine(x, torch.Generator(), max_shift=1.5)


def test_random_crop_flip_returns_a_crop_of_the_padded_image_or_its_mirror():
    x = torch.rand(8, 3, 12, 12)
    out = random_crop_flip(x, torch.Generator().manual_seed(0), padding=2)
    padded = F.pad(x, (2, 2, 2, 2))
    found = []
    for i in range(len(x)):
        hits = {(dy, dx, flip) for dy in range(5) for dx in range(5) for flip in (False, True)
                if torch.equal(out[i], (lambda c: c.flip(-1) if flip else c)(padded[i, :, dy:dy + 12, dx:dx + 12]))}
        assert hits, f"image {i} is not a crop of its padded input"
        found.append(hits)
    assert any(any(f for _, _, f in h) for h in found) and any(any(not f for _, _, f in h) for h in found)
    assert torch.equal(random_crop_flip(x, torch.Generator(), padding=0, flip_prob=0.0), x)
    assert torch.equal(random_crop_flip(x, torch.Generator(), padding=0, flip_prob=1.0), x.flip(-1))
    with pytest.raises(ValueError, match="flip_prob"):
        random_crop_flip(x, torch.Generator(), flip_prob=2.0)


# ------------------------------------------------------------------------------------------ photos

@pytest.mark.parametrize("name", SAMPLE_IMAGES)
def test_sample_image_shapes_and_range(name):
    img = sample_image(name)
    assert img.dtype == torch.float32 and img.dim() == 3 and img.shape[0] == 3
    assert img.shape[1:] == {"china": (427, 640), "flower": (427, 640), "grace_hopper": (600, 512)}[name]
    assert 0 <= img.min() < 0.2 and 0.8 < img.max() <= 1
    assert sample_image(name, 64).shape == (3, 64, 64)
    assert sample_image(name, (30, 50)).shape == (3, 30, 50)
    small = sample_image(name, 32)
    assert 0 <= small.min() and small.max() <= 1


def test_sample_image_int_size_is_the_centre_square():
    full = sample_image("china")                                    # (3, 427, 640)
    left = (640 - 427) // 2
    torch.testing.assert_close(sample_image("china", 427), full[:, :, left:left + 427])
    full[:] = 0                                                     # the cache is not shared
    assert sample_image("china").max() > 0


@pytest.mark.parametrize("size", [0, -3, 2.5, True, (1, 2, 3), (0, 5), "big"])
def test_sample_image_bad_size(size):
    with pytest.raises(ValueError, match="size"):
        sample_image("flower", size)


def test_sample_image_unknown_name():
    with pytest.raises(ValueError, match="grace_hopper"):
        sample_image("lena")


# ------------------------------------------------------------------------------------------- MNIST

def write_idx(path, array):
    """IDX as LeCun's page documents it: 0, 0, type 0x08 (ubyte), ndim; big-endian sizes; data; gzip."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    assert int.from_bytes(header[:4], "big") == {3: 2051, 1: 2049}[array.ndim]
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def mnist_data(tmp_path, monkeypatch):
    """A 100 + 20 image MNIST in the standard files, with CHECKSUMS patched to their sha256."""
    rng = np.random.default_rng(0)
    data = {"train": (rng.integers(0, 256, (100, 28, 28), dtype=np.uint8), np.repeat(np.arange(10), 10)),
            "test": (rng.integers(0, 256, (20, 28, 28), dtype=np.uint8), np.tile(np.arange(10), 2))}
    root = tmp_path / "mnist"
    root.mkdir()
    for split, (images, labels) in data.items():
        write_idx(root / mnist.FILES[split][0], images)
        write_idx(root / mnist.FILES[split][1], labels)
    published = dict(mnist.CHECKSUMS)
    for name in published:
        monkeypatch.setitem(mnist.CHECKSUMS, name, ("sha256", files.file_digest(root / name)))
    return root, data, published


def test_mnist_arrays_round_trip(mnist_data):
    root, data, _ = mnist_data
    for split, (images, labels) in data.items():
        x, y = mnist_arrays(root, split)
        assert x.shape == (len(labels), 1, 28, 28) and x.dtype == np.uint8 and y.dtype == np.int64
        np.testing.assert_array_equal(x[:, 0], images)
        np.testing.assert_array_equal(y, labels)
    with pytest.raises(ValueError, match="'val'"):
        mnist_arrays(root, "val")


def test_load_mnist_splits_scaling_and_train_only_augmentation(mnist_data):
    root, data, _ = mnist_data
    train, val, test = load_mnist(root, batch_size=16, val_fraction=0.2)
    assert (len(train.dataset), len(val.dataset), len(test.dataset)) == (80, 20, 20)
    assert torch.equal(torch.bincount(val.dataset.tensors[1]), torch.full((10,), 2))   # stratified
    x, y = torch.cat([b[0] for b in test]), torch.cat([b[1] for b in test])
    torch.testing.assert_close(x, torch.from_numpy(data["test"][0][:, None]).float() / 255)
    assert torch.equal(y, torch.from_numpy(data["test"][1]))
    aug = load_mnist(root, batch_size=16, val_fraction=0.2, augment=True)
    assert same(batches(aug[1]), batches(val)) and same(batches(aug[2]), batches(test))
    assert not same(batches(aug[0]), batches(train))
    small = load_mnist(root, image_size=14, val_fraction=0)
    assert small[1] is None and next(iter(small[0]))[0].shape == (64, 1, 14, 14)
    for bad in [{"val_fraction": 1.0}, {"val_fraction": -0.1}, {"image_size": 0}]:
        with pytest.raises(ValueError):
            load_mnist(root, **bad)


def test_mnist_checksum_mismatch_is_a_clear_error(mnist_data, monkeypatch):
    root, _, published = mnist_data
    monkeypatch.setattr(mnist, "CHECKSUMS", published)             # the real, published sha256s
    with pytest.raises(ChecksumError, match="sha256 of .*train-images-idx3-ubyte.gz.*440fcabf"):
        mnist_arrays(root, "train")


def test_mnist_missing_files_error_names_folder_files_and_download(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_mnist(tmp_path)
    msg = str(err.value)
    assert str(tmp_path) in msg and "download=True" in msg
    assert all(name in msg for name in mnist.CHECKSUMS)


def fake_downloader(source_dir, calls, fail=()):
    def download_url(url, path, timeout=60.0):
        calls.append(url)
        if any(url.startswith(prefix) for prefix in fail):
            raise urllib.error.URLError("offline")
        shutil.copy(source_dir / url.rsplit("/", 1)[-1], path)
    return download_url


def test_mnist_download_uses_the_mirrors(mnist_data, tmp_path, monkeypatch):
    source, data, _ = mnist_data
    calls = []
    monkeypatch.setattr(files, "download_url", fake_downloader(source, calls, fail=[mnist.MIRRORS[0]]))
    root = tmp_path / "fresh"
    x, y = mnist_arrays(root, "test", download=True)
    names = mnist.FILES["test"]
    assert calls == [m + n for n in names for m in mnist.MIRRORS]    # first mirror fails, second answers
    np.testing.assert_array_equal(y, data["test"][1])
    calls.clear()
    mnist_arrays(root, "test", download=True)
    assert calls == []                                              # present and verified: no download


def test_mnist_download_offline_and_corrupt(mnist_data, tmp_path, monkeypatch):
    source, _, _ = mnist_data
    calls = []
    monkeypatch.setattr(files, "download_url", fake_downloader(source, calls, fail=mnist.MIRRORS))
    with pytest.raises(ConnectionError, match="no network"):
        mnist_arrays(tmp_path / "a", "train", download=True)
    monkeypatch.setitem(mnist.CHECKSUMS, "train-images-idx3-ubyte.gz", ("sha256", "0" * 64))
    monkeypatch.setattr(files, "download_url", fake_downloader(source, calls))
    with pytest.raises(ChecksumError):
        mnist_arrays(tmp_path / "b", "train", download=True)
    assert not (tmp_path / "b" / "train-images-idx3-ubyte.gz").exists()    # bad download removed


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x01\x02\x08\x01" + b"\x00" * 8))
    with pytest.raises(ValueError, match="not an IDX file"):
        mnist.read_idx(tmp_path / "bad.gz")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + struct.pack(">I", 10) + b"\x00" * 9)
    with pytest.raises(ValueError, match="10 bytes"):
        mnist.read_idx(tmp_path / "short")


def test_download_url_writes_the_file(tmp_path):
    (tmp_path / "src.bin").write_bytes(b"abc" * 1000)
    files.download_url((tmp_path / "src.bin").as_uri(), tmp_path / "dst.bin")
    assert (tmp_path / "dst.bin").read_bytes() == b"abc" * 1000
    assert not list(tmp_path.glob("*.part"))


# ---------------------------------------------------------------------------------------- CIFAR-10

def cifar_batch(images, labels, bytes_keys=False):
    """A CIFAR-10 batch dict: rows of 1024 red, 1024 green, 1024 blue values (row-major 32x32)."""
    rows = np.stack([np.concatenate([im[0].ravel(), im[1].ravel(), im[2].ravel()]) for im in images])
    d = {"batch_label": "a test batch", "labels": [int(v) for v in labels], "data": rows,
         "filenames": [f"img_{i}.png" for i in range(len(labels))]}
    return {k.encode(): v for k, v in d.items()} if bytes_keys else d


@pytest.fixture
def cifar_data(tmp_path, monkeypatch):
    """A 100 + 20 image CIFAR-10 as cifar-10-python.tar.gz and as the extracted folder, checksums patched."""
    rng = np.random.default_rng(1)
    train = (rng.integers(0, 256, (100, 3, 32, 32), dtype=np.uint8), np.repeat(np.arange(10), 10))
    test = (rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8), np.tile(np.arange(10), 2))
    blobs = {f"data_batch_{i + 1}": pickle.dumps(cifar_batch(train[0][20 * i:20 * i + 20], train[1][20 * i:20 * i + 20]),
                                                 protocol=2) for i in range(5)}
    blobs["test_batch"] = pickle.dumps(cifar_batch(*test, bytes_keys=True), protocol=2)
    blobs["batches.meta"] = pickle.dumps({"num_cases_per_batch": 20, "label_names": list(cifar.CLASSES),
                                          "num_vis": 3072}, protocol=2)
    archive_root, folder_root = tmp_path / "archive", tmp_path / "folder"
    (folder_root / cifar.FOLDER).mkdir(parents=True)
    archive_root.mkdir()
    with tarfile.open(archive_root / cifar.ARCHIVE, "w:gz") as tar:
        for name, blob in {"readme.html": b"<html></html>", **blobs}.items():
            info = tarfile.TarInfo(f"{cifar.FOLDER}/{name}")
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    for name, blob in blobs.items():
        (folder_root / cifar.FOLDER / name).write_bytes(blob)
    published = dict(cifar.CHECKSUMS)
    monkeypatch.setitem(cifar.CHECKSUMS, cifar.ARCHIVE, ("sha256", files.file_digest(archive_root / cifar.ARCHIVE)))
    for name in blobs:
        monkeypatch.setitem(cifar.CHECKSUMS, f"{cifar.FOLDER}/{name}",
                            ("md5", files.file_digest(folder_root / cifar.FOLDER / name, "md5")))
    return archive_root, folder_root, {"train": train, "test": test}, published


@pytest.mark.parametrize("layout", ["archive", "folder"])
def test_cifar10_arrays_round_trip(cifar_data, layout):
    archive_root, folder_root, data, _ = cifar_data
    root = archive_root if layout == "archive" else folder_root
    for split, (images, labels) in data.items():
        x, y = cifar10_arrays(root, split)
        assert x.shape == (len(labels), 3, 32, 32) and x.dtype == np.uint8 and y.dtype == np.int64
        np.testing.assert_array_equal(x, images)
        np.testing.assert_array_equal(y, labels)
    with pytest.raises(ValueError, match="'train', 'test'"):
        cifar10_arrays(root, "validation")


def test_load_cifar10_splits_and_train_only_augmentation(cifar_data):
    root, _, data, _ = cifar_data
    train, val, test = load_cifar10(root, batch_size=32, val_fraction=0.2)
    assert (len(train.dataset), len(val.dataset), len(test.dataset)) == (80, 20, 20)
    x = torch.cat([b[0] for b in test])
    assert x.shape == (20, 3, 32, 32)
    torch.testing.assert_close(x, torch.from_numpy(data["test"][0]).float() / 255)
    aug = load_cifar10(root, batch_size=32, val_fraction=0.2, augment=True)
    assert same(batches(aug[1]), batches(val)) and same(batches(aug[2]), batches(test))
    first_epoch = batches(aug[0])
    assert not same(first_epoch, batches(train))
    assert same(batches(load_cifar10(root, batch_size=32, val_fraction=0.2, augment=True)[0]), first_epoch)
    assert next(iter(load_cifar10(root, image_size=16, val_fraction=0)[2]))[0].shape == (20, 3, 16, 16)


def test_cifar10_checksum_mismatch_and_missing_files(cifar_data, tmp_path, monkeypatch):
    archive_root, folder_root, _, published = cifar_data
    monkeypatch.setattr(cifar, "CHECKSUMS", published)             # the published sha256 / md5s
    with pytest.raises(ChecksumError, match="sha256 of .*cifar-10-python.tar.gz.*6d958be0"):
        cifar10_arrays(archive_root, "test")
    with pytest.raises(ChecksumError, match="md5 of .*test_batch.*40351d58"):
        cifar10_arrays(folder_root, "test")
    with pytest.raises(FileNotFoundError) as err:
        load_cifar10(tmp_path / "empty")
    assert all(s in str(err.value) for s in (str(tmp_path / "empty"), cifar.ARCHIVE, "download=True"))


def test_cifar10_download(cifar_data, tmp_path, monkeypatch):
    archive_root, _, data, _ = cifar_data
    calls = []
    monkeypatch.setattr(files, "download_url", fake_downloader(archive_root, calls))
    x, y = cifar10_arrays(tmp_path / "fresh", "test", download=True)
    assert calls == [cifar.URL] == ["https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"]
    np.testing.assert_array_equal(x, data["test"][0])


def test_cifar10_refuses_pickles_that_build_other_objects(cifar_data, monkeypatch):
    _, folder_root, _, _ = cifar_data
    path = folder_root / cifar.FOLDER / "test_batch"
    path.write_bytes(pickle.dumps({"data": OrderedDict(), "labels": []}, protocol=2))
    monkeypatch.setitem(cifar.CHECKSUMS, f"{cifar.FOLDER}/test_batch", ("md5", files.file_digest(path, "md5")))
    with pytest.raises(pickle.UnpicklingError, match="collections.OrderedDict"):
        cifar10_arrays(folder_root, "test")
