"""Stacked MNIST: three MNIST digits as the three channels of one image, so 10 x 10 x 10 = 1,000 modes.

The benchmark of VEEGAN (Srivastava et al. 2017), Unrolled GANs (Metz et al. 2017) and PacGAN (Lin et al. 2018):
each channel is an independently drawn MNIST digit, and the mode of an image is ``100 * d0 + 10 * d1 + d2``
for the digits d0, d1, d2 of its channels 0, 1, 2. Real stacked images are drawn on the fly from whatever split
`load_mnist` finds (offline: the 10,000 test images), so the three-digit combinations never repeat a fixed set.

Modes of generated images are counted as in PacGAN's code: the course's MNIST classifier
(``gancourse.classifier``) labels each channel with its most likely digit, and every sample counts. That rule
lets any smudge count as a digit; ``count_modes(..., digits_only=True)`` leaves out the samples with a channel
that fails the classifier's digit check (``gancourse.metrics``), the stacked analogue of counting only
high-quality samples on the 2D mixtures.
"""
from __future__ import annotations

from collections.abc import Iterator

import torch

from gancourse.data import load_mnist, to_model_range
from gancourse.metrics import classify

MODES = 1000  # 10 digits in each of 3 channels
EVAL_SAMPLES = 10_000  # generated samples scored per evaluation (PacGAN scores 25,600 or 26,000)
RANGE_TOLERANCE = 1e-3  # how far outside [-1, 1] a value may be before it is refused (half-precision rounding)
_PLACE_VALUES = torch.tensor([100, 10, 1])


def _digit_images(images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Check MNIST images (N, 1, 28, 28), uint8 or float in [-1, 1], and return them as float32 (N, 28, 28)."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected MNIST images of shape (N, 1, 28, 28) as load_mnist returns them, got {shape}")
    if len(images) == 0:
        raise ValueError("need at least one MNIST image to draw from")
    if labels is not None and (labels.shape != images.shape[:1] or labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"expected one digit label 0-9 per image ({len(images)}), got labels of shape "
                         f"{tuple(labels.shape)}")
    digits = to_model_range(images) if images.dtype == torch.uint8 else _checked_range(images.float())
    return digits[:, 0]


def _checked_range(images: torch.Tensor) -> torch.Tensor:
    """Refuse NaN, infinity and values outside [-1, 1] (beyond RANGE_TOLERANCE); return `images`."""
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or infinity")
    low, high = images.min().item(), images.max().item()
    if low < -1 - RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        raise ValueError(f"expected values in [-1, 1] (the range of a tanh generator), got [{low:.3g}, {high:.3g}]; "
                         "map pixels in [0, 1] with x * 2 - 1 and uint8 pixels with data.to_model_range")
    return images


def stack_digits(
    images: torch.Tensor, labels: torch.Tensor, n: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """n stacked images (n, 3, 28, 28) float32 in [-1, 1] and their modes (n,) int64, from MNIST (images, labels).

    Each channel is an independently drawn image (with replacement); the mode is 100 * d0 + 10 * d1 + d2.
    """
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"the number of stacked images must be a positive integer, got {n!r}")
    digits = _digit_images(images, labels)
    index = torch.randint(len(digits), (n, 3), generator=generator)
    return digits[index], (labels[index].long().cpu() * _PLACE_VALUES).sum(dim=1)


def load_stacked_mnist(
    n: int, generator: torch.Generator | None = None, split: str = "train"
) -> tuple[torch.Tensor, torch.Tensor]:
    """`stack_digits` from ``load_mnist(split)`` (offline, "train" falls back to the test split with a warning)."""
    images, labels = load_mnist(split)
    return stack_digits(images, labels, n, generator)


class StackedBatches(Iterator):
    """Endless minibatches (B, 3, 28, 28) of freshly stacked digits in [-1, 1], already on the training device.

    Every batch draws 3 * B new digit indices (as the papers do), so no combination of digits is a fixed
    training set. The digits are converted once and kept on `device`.
    """

    def __init__(
        self, images: torch.Tensor, batch_size: int, *, device: torch.device | str | None = None, seed: int = 0
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.digits = _digit_images(images).to(device)
        self.batch_size = batch_size
        self._generator = torch.Generator().manual_seed(seed)

    def __next__(self) -> torch.Tensor:
        index = torch.randint(len(self.digits), (self.batch_size, 3), generator=self._generator)
        return self.digits[index.to(self.digits.device)]


def _stacked_images(images: torch.Tensor) -> torch.Tensor:
    """Check generated stacked images: a float tensor (N, 3, 28, 28) in [-1, 1]."""
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1:] != (3, 28, 28):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        hint = " (3 channels, one digit each)" if isinstance(images, torch.Tensor) and images.ndim == 4 else ""
        raise ValueError(f"expected stacked MNIST images of shape (N, 3, 28, 28){hint}, got {shape}")
    if len(images) == 0:
        raise ValueError("no images to count modes in")
    if not images.is_floating_point():
        raise TypeError(f"expected float images in [-1, 1], got {images.dtype}")
    return _checked_range(images.detach().float())


def count_modes(images: torch.Tensor, *, digits_only: bool = False) -> torch.Tensor:
    """How many of `images` (N, 3, 28, 28) in [-1, 1] fall into each of the 1,000 modes: int64 (1000,) on the CPU.

    Each channel is read as the classifier's most likely digit (the papers' rule; every sample counts). With
    `digits_only`, a sample counts only if all three channels pass the digit check, so the counts may sum to
    fewer than N.
    """
    images = _stacked_images(images)
    classified = classify(images.reshape(-1, 1, 28, 28))
    digits = classified.probabilities.argmax(dim=1).view(-1, 3)
    modes = (digits * _PLACE_VALUES).sum(dim=1)
    if digits_only:
        modes = modes[classified.is_digit.view(-1, 3).all(dim=1)]
    return torch.bincount(modes, minlength=MODES)
