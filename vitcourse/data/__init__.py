"""Offline datasets: scikit-learn's digits, sample photos, and real MNIST / CIFAR-10 loaders."""
from .digits import load_digits, digits_arrays
from .images import sample_image, SAMPLE_IMAGES

__all__ = ["load_digits", "digits_arrays", "sample_image", "SAMPLE_IMAGES"]
