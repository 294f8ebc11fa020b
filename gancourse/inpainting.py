"""A paired image-to-image task built from MNIST: complete a digit from which a square was cut (notebook 06).

Each pair is ``(input, target)``. The target is an MNIST digit padded to 32x32 (a size a U-Net can halve four
times); the input is the same digit with a ``HOLE`` x ``HOLE`` square set to ``HOLE_VALUE`` = 0, a mid-grey that
MNIST itself almost never has (paper is -1, ink +1), so the hole marks itself. The hole always lies inside the
20x20 box that holds MNIST's digits, so it usually hides strokes. Held-out pairs are 2,000 test-split digits with
fixed holes, the same whichever splits are on disk; the model trains on the training split, or offline on the
other 8,000 test-split digits, with a fresh hole every time it sees a digit.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import torch
import torch.nn.functional as F

from gancourse.data import Batches, has_split, load_mnist, to_model_range
from gancourse.metrics import classify, feature_statistics, frechet_distance, gaussian_fit

IMAGE_SIZE = 32
HOLE = 14
HOLE_VALUE = 0.0
HELD_OUT = 2000
_PAD = (IMAGE_SIZE - 28) // 2
_DIGIT_BOX = (_PAD + 4, _PAD + 24)  # rows (and columns) 4 to 23 of a 28x28 MNIST image hold the digit
_GREY = 0.8  # pixels strictly between -0.8 and 0.8 count as grey: neither paper nor ink


def pad_digits(images: torch.Tensor) -> torch.Tensor:
    """MNIST digits (N, 1, 28, 28), uint8 or in [-1, 1] -> float (N, 1, 32, 32) in [-1, 1], padded with paper."""
    if not isinstance(images, torch.Tensor) or images.shape[1:] != (1, 28, 28):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected MNIST digits of shape (N, 1, 28, 28), got {shape}")
    if images.dtype != torch.uint8 and not images.is_floating_point():
        raise TypeError(f"expected uint8 pixels or float images in [-1, 1], got {images.dtype}")
    images = to_model_range(images) if images.dtype == torch.uint8 else images.float()
    return F.pad(images, (_PAD,) * 4, value=-1.0)


def crop_digits(images: torch.Tensor) -> torch.Tensor:
    """The inverse of `pad_digits`: (N, 1, 32, 32) -> the central (N, 1, 28, 28), for MNIST's classifier."""
    if not isinstance(images, torch.Tensor) or images.shape[1:] != (1, IMAGE_SIZE, IMAGE_SIZE):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected images of shape (N, 1, {IMAGE_SIZE}, {IMAGE_SIZE}), got {shape}")
    return images[:, :, _PAD:-_PAD, _PAD:-_PAD]


def random_holes(n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None,
                 hole: int = HOLE) -> torch.Tensor:
    """Boolean masks (n, 1, 32, 32), True on one `hole` x `hole` square per image, inside the digit box."""
    low, high = _DIGIT_BOX
    if not isinstance(hole, int) or isinstance(hole, bool) or not 1 <= hole <= high - low:
        raise ValueError(f"hole must be an int between 1 and {high - low} pixels, got {hole!r}")
    corners = torch.randint(low, high - hole + 1, (2, n, 1, 1), generator=generator).to(device)
    rows = torch.arange(IMAGE_SIZE, device=device).view(1, -1, 1)
    cols = torch.arange(IMAGE_SIZE, device=device).view(1, 1, -1)
    inside_rows = (rows >= corners[0]) & (rows < corners[0] + hole)
    inside_cols = (cols >= corners[1]) & (cols < corners[1] + hole)
    return (inside_rows & inside_cols).unsqueeze(1)


def cut_holes(targets: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """The inputs of the task: `targets` with the pixels under `masks` set to `HOLE_VALUE`."""
    return targets.masked_fill(masks, HOLE_VALUE)


class InpaintingBatches(Iterator):
    """Endless shuffled ``(inputs, targets)`` minibatches, (B, 1, 32, 32) each, with a fresh hole every time."""

    def __init__(self, images: torch.Tensor, batch_size: int, *, device: torch.device | str | None = None,
                 seed: int = 0) -> None:
        self._digits = Batches(pad_digits(images), batch_size, device=device, seed=seed)
        self._generator = torch.Generator().manual_seed(seed + 1)

    def __len__(self) -> int:
        """Number of full batches in one epoch."""
        return len(self._digits)

    def __next__(self) -> tuple[torch.Tensor, torch.Tensor]:
        targets = next(self._digits)
        masks = random_holes(len(targets), self._generator, targets.device)
        return cut_holes(targets, masks), targets


class InpaintingData(NamedTuple):
    """The digits to train on (uint8, 28x28) and the held-out pairs with their fixed holes and labels."""

    train_images: torch.Tensor
    inputs: torch.Tensor
    targets: torch.Tensor
    masks: torch.Tensor
    labels: torch.Tensor
    trained_on: str

    def head(self, n: int) -> InpaintingData:
        """The same data with only the first `n` held-out pairs (a quicker evaluation)."""
        if not isinstance(n, int) or isinstance(n, bool) or not 2 <= n <= len(self.targets):
            raise ValueError(f"n must be an int between 2 and {len(self.targets)}, got {n!r}")
        return self._replace(inputs=self.inputs[:n], targets=self.targets[:n], masks=self.masks[:n],
                             labels=self.labels[:n])


def inpainting_data() -> InpaintingData:
    """The training digits and 2,000 held-out pairs: test-split digits, the same whichever splits are on disk."""
    test_images, test_labels = load_mnist("test")
    held_out = torch.randperm(len(test_images), generator=torch.Generator().manual_seed(0))
    train_images, _ = load_mnist("train")  # offline, this warns and falls back to the test split
    if has_split("train"):
        trained_on = f"the MNIST training split ({len(train_images):,} digits)"
    else:
        train_images = test_images[held_out[HELD_OUT:]]
        trained_on = f"{len(train_images):,} digits of the MNIST test split (the other {HELD_OUT:,} are held out)"
    targets = pad_digits(test_images[held_out[:HELD_OUT]])
    masks = random_holes(HELD_OUT, torch.Generator().manual_seed(1))
    return InpaintingData(train_images, cut_holes(targets, masks), targets, masks,
                          test_labels[held_out[:HELD_OUT]], trained_on)


def psnr(outputs: torch.Tensor, targets: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of images in [-1, 1] (peak-to-peak 2): 10 log10(2^2 / mean squared error)."""
    if outputs.shape != targets.shape:
        raise ValueError(f"outputs {tuple(outputs.shape)} and targets {tuple(targets.shape)} differ in shape")
    mse = (outputs.detach().float() - targets.float()).square().mean().item()
    return math.inf if mse == 0 else 10 * math.log10(4 / mse)


def grey_share(images: torch.Tensor, masks: torch.Tensor) -> float:
    """Share of the pixels under `masks` that are grey (strictly between -0.8 and 0.8): blur, not paper or ink."""
    values = images.detach()[masks]
    return ((values > -_GREY) & (values < _GREY)).float().mean().item()


class InpaintingScores(NamedTuple):
    """How close completions are to the truth (L1, PSNR), how sharp (grey share) and how digit-like (accuracy, FD)."""

    l1: float
    psnr: float
    hole_l1: float
    grey_share: float
    digit_accuracy: float
    fd: float


def score(outputs: torch.Tensor, data: InpaintingData) -> InpaintingScores:
    """Score completions of ``data.inputs`` against the held-out truth (two passes of the classifier)."""
    if outputs.shape != data.targets.shape:
        raise ValueError(f"expected completions of shape {tuple(data.targets.shape)}, got {tuple(outputs.shape)}")
    outputs, targets, masks = outputs.detach().float().cpu(), data.targets, data.masks
    errors = (outputs - targets).abs()
    readings = classify(crop_digits(outputs))
    correct = (readings.probabilities.argmax(dim=1) == data.labels) & readings.is_digit
    return InpaintingScores(
        l1=errors.mean().item(), psnr=psnr(outputs, targets), hole_l1=errors[masks].mean().item(),
        grey_share=grey_share(outputs, masks), digit_accuracy=correct.float().mean().item(),
        fd=frechet_distance(*feature_statistics(crop_digits(targets)), *gaussian_fit(readings.features)),
    )
