"""Datasets: scikit-learn's digits and sample photos (offline), and real MNIST / CIFAR-10 loaders.

Every `load_*` returns (train, val, test) DataLoaders of float32 images in [0, 1] and int64 labels;
`augment=True` augments the training batches only.
"""
from .cifar import cifar10_arrays, load_cifar10
from .digits import digits_arrays, load_digits
from .files import ChecksumError
from .images import SAMPLE_IMAGES, sample_image
from .mnist import load_mnist, mnist_arrays

__all__ = ["load_digits", "digits_arrays", "sample_image", "SAMPLE_IMAGES", "load_mnist",
           "mnist_arrays", "load_cifar10", "cifar10_arrays", "ChecksumError"]
from . import shapes  # noqa: E402,F401  (the scenes world of classes 5-7: vitcourse.data.shapes)
