"""gancourse.stacked_mnist: stacking digits into 1,000 modes, batches of them, and counting the modes of images."""
from __future__ import annotations

import math

import pytest
import torch

from gancourse import data
from gancourse.data import to_model_range
from gancourse.stacked_mnist import (
    MODES,
    StackedBatches,
    count_modes,
    load_stacked_mnist,
    stack_digits,
)


def numbered_digits(n: int = 200, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n constant uint8 images whose pixel value is their index, and random labels: a channel names its source."""
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 1, 28, 28).clone()
    return images, torch.randint(10, (n,), generator=torch.Generator().manual_seed(seed))


def source_index(stacked: torch.Tensor) -> torch.Tensor:
    """The source image of each channel of `stacked` (N, 3, 28, 28) built from `numbered_digits`."""
    return ((stacked[:, :, 0, 0] + 1) * 127.5).round().long()


def reverse_kl_to_uniform(counts: torch.Tensor) -> float:
    """KL(p || uniform over the 1,000 modes), for the tests only (the notebook computes its own)."""
    p = counts.double() / counts.sum()
    p = p[p > 0]
    return (p * (p * MODES).log()).sum().item()


REAL = 3000  # real stacked images counted: 9,000 classifier passes (10,000 would take 10-60 s on a shared 2-core CPU)


@pytest.fixture(scope="module")
def real_stacks(mnist_test) -> tuple[torch.Tensor, torch.Tensor]:
    """REAL real stacked images and their modes, drawn from the test split."""
    return stack_digits(*mnist_test, REAL, torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def real_counts(real_stacks) -> torch.Tensor:
    return count_modes(real_stacks[0])


# --- stack_digits, load_stacked_mnist ------------------------------------------------------------------------

def test_stacked_images_are_three_drawn_digits_in_the_model_range_and_modes_name_them():
    images, labels = numbered_digits()
    stacked, modes = stack_digits(images, labels, 500, torch.Generator().manual_seed(1))
    assert stacked.shape == (500, 3, 28, 28) and stacked.dtype == torch.float32
    assert modes.shape == (500,) and modes.dtype == torch.int64
    assert stacked.min() >= -1 and stacked.max() <= 1
    source = source_index(stacked)
    assert torch.equal(stacked, to_model_range(images)[source][:, :, 0]), "each channel is one whole source image"
    digits = labels[source]
    assert torch.equal(modes, 100 * digits[:, 0] + 10 * digits[:, 1] + digits[:, 2])
    assert len(source.unique()) > 180, "the channels are drawn from the whole set"
    same_digit_in_all_channels = (source[:, 0] == source[:, 1]) & (source[:, 1] == source[:, 2])
    assert same_digit_in_all_channels.float().mean() < 0.01, "the three channels are drawn independently"


def test_stack_digits_is_reproducible_with_a_generator():
    images, labels = numbered_digits()
    a = stack_digits(images, labels, 64, torch.Generator().manual_seed(5))
    b = stack_digits(images, labels, 64, torch.Generator().manual_seed(5))
    c = stack_digits(images, labels, 64, torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


def test_stack_digits_accepts_float_images_in_the_model_range():
    images, labels = numbered_digits()
    as_floats = stack_digits(to_model_range(images), labels, 10, torch.Generator().manual_seed(2))
    as_uint8 = stack_digits(images, labels, 10, torch.Generator().manual_seed(2))
    assert torch.equal(as_floats[0], as_uint8[0]) and torch.equal(as_floats[1], as_uint8[1])


def test_real_stacks_cover_the_modes_evenly(real_stacks):
    _, modes = real_stacks
    assert modes.min() >= 0 and modes.max() < MODES
    digits = torch.stack([modes // 100, modes // 10 % 10, modes % 10], dim=1)
    for channel in range(3):
        share = torch.bincount(digits[:, channel], minlength=10).double() / len(modes)
        assert share.min() > 0.075 and share.max() < 0.13, "each channel draws digits at MNIST's frequencies"
    expected = MODES * (1 - math.exp(-REAL / MODES))  # modes hit by REAL uniform draws: 950.2 for 3,000
    assert abs((torch.bincount(modes, minlength=MODES) > 0).sum() - expected) < 25  # about 4 standard deviations


def test_load_stacked_mnist_uses_the_training_split_or_falls_back_to_the_test_split(monkeypatch, mnist_root):
    monkeypatch.setenv("GANCOURSE_DATA", str(mnist_root))

    def offline(root=None):
        raise OSError("no network")

    monkeypatch.setattr(data, "download_mnist", offline)
    stacked, modes = load_stacked_mnist(8, torch.Generator().manual_seed(0))
    assert stacked.shape == (8, 3, 28, 28) and modes.shape == (8,)
    test_stacked, _ = load_stacked_mnist(8, torch.Generator().manual_seed(0), split="test")
    if not data.has_split("train", mnist_root):
        assert torch.equal(stacked, test_stacked), "offline, the training split is the test split"


@pytest.mark.parametrize(
    ("images", "labels", "n", "match"),
    [
        (torch.zeros(5, 28, 28, dtype=torch.uint8), torch.zeros(5), 3, r"shape \(N, 1, 28, 28\)"),
        (torch.zeros(5, 3, 28, 28, dtype=torch.uint8), torch.zeros(5), 3, r"shape \(N, 1, 28, 28\)"),
        (torch.zeros(0, 1, 28, 28, dtype=torch.uint8), torch.zeros(0), 3, "at least one"),
        (torch.zeros(5, 1, 28, 28, dtype=torch.uint8), torch.zeros(4), 3, "one digit label"),
        (torch.zeros(5, 1, 28, 28, dtype=torch.uint8), torch.full((5,), 10), 3, "one digit label"),
        (torch.zeros(5, 1, 28, 28), torch.zeros(5), 3.0, "positive integer"),
        (torch.zeros(5, 1, 28, 28), torch.zeros(5), 0, "positive integer"),
        (torch.full((5, 1, 28, 28), 255.0), torch.zeros(5), 3, r"values in \[-1, 1\]"),
    ],
    ids=["no-channel", "three-channels", "empty", "label-count", "label-10", "float-n", "zero-n", "float-0-255"],
)
def test_stack_digits_refuses_bad_input(images, labels, n, match):
    with pytest.raises(ValueError, match=match):
        stack_digits(images, labels.long(), n)


# --- StackedBatches -------------------------------------------------------------------------------------------

def test_stacked_batches_are_endless_fresh_and_reproducible():
    images, _ = numbered_digits()
    batches = StackedBatches(images, 32, seed=3, device="cpu")
    first = [next(batches) for _ in range(20)]  # more draws than 200 images / 32 per batch: no epoch ends
    assert all(b.shape == (32, 3, 28, 28) and b.dtype == torch.float32 for b in first)
    assert all(b.min() >= -1 and b.max() <= 1 for b in first)
    assert len({tuple(source_index(b).flatten().tolist()) for b in first}) == 20, "every batch is a new draw"
    again = StackedBatches(images, 32, seed=3)
    assert all(torch.equal(b, next(again)) for b in first)
    assert not torch.equal(next(StackedBatches(images, 32, seed=4)), first[0])


@pytest.mark.parametrize("batch_size", [0, 2.0, True])
def test_stacked_batches_refuse_a_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size"):
        StackedBatches(numbered_digits()[0], batch_size)


# --- count_modes -----------------------------------------------------------------------------------------------

def test_counted_real_stacks_cover_the_modes_their_labels_cover(real_stacks, real_counts):
    _, modes = real_stacks
    assert real_counts.shape == (MODES,) and real_counts.dtype == torch.int64
    assert real_counts.sum() == REAL
    true_counts = torch.bincount(modes, minlength=MODES)
    assert (real_counts - true_counts).abs().sum() < 2 * 0.03 * REAL, "the classifier reads nearly every channel"
    assert abs((real_counts > 0).sum() - (true_counts > 0).sum()) <= 10
    # Sampling noise alone gives about (1000 - 1) / (2 * 3,000) = 0.17 for a perfectly uniform distribution.
    assert reverse_kl_to_uniform(real_counts) < 0.25
    assert reverse_kl_to_uniform(real_counts) == pytest.approx(reverse_kl_to_uniform(true_counts), abs=0.02)


def test_a_collapsed_generator_covers_one_mode(mnist_test):
    images, labels = mnist_test
    first = to_model_range(images[:3])[:, 0]  # the well-known first test digits 7, 2, 1
    counts = count_modes(first.unsqueeze(0).expand(50, 3, 28, 28))
    assert labels[:3].tolist() == [7, 2, 1]
    assert (counts > 0).sum() == 1 and counts[721] == 50


def test_digits_only_leaves_out_samples_with_a_channel_that_is_no_digit(real_stacks):
    stacked = real_stacks[0][:300].clone()
    noise = torch.rand(100, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    stacked[:100, 1] = noise  # one noisy channel in the first 100 samples
    everything, digits_only = count_modes(stacked), count_modes(stacked, digits_only=True)
    assert everything.sum() == 300, "the papers' rule counts every sample, noise included"
    assert 190 <= digits_only.sum() <= 200, "the 200 real samples nearly all pass, the 100 noisy ones do not"
    assert (digits_only <= everything).all()


def test_count_modes_is_deterministic_and_accepts_channels_last_and_half_precision(real_stacks):
    stacked = real_stacks[0][:200]
    counts = count_modes(stacked)
    assert torch.equal(count_modes(stacked), counts)
    assert torch.equal(count_modes(stacked.contiguous(memory_format=torch.channels_last)), counts)
    assert (count_modes(stacked.half()) - counts).abs().sum() <= 4
    assert torch.equal(count_modes((stacked * (1 + 5e-4)).clamp(-1.0005, 1.0005)), counts)


@pytest.mark.parametrize(
    ("images", "error", "match"),
    [
        (torch.zeros(4, 1, 28, 28), ValueError, r"\(N, 3, 28, 28\) \(3 channels"),
        (torch.zeros(4, 6, 28, 28), ValueError, r"\(N, 3, 28, 28\) \(3 channels"),
        (torch.zeros(4, 3, 32, 32), ValueError, r"\(N, 3, 28, 28\)"),
        (torch.zeros(3, 28, 28), ValueError, r"\(N, 3, 28, 28\), got \(3, 28, 28\)"),
        (torch.zeros(0, 3, 28, 28), ValueError, "no images"),
        (torch.zeros(4, 3, 28, 28, dtype=torch.uint8), TypeError, "float images"),
        (torch.full((4, 3, 28, 28), 255.0), ValueError, r"values in \[-1, 1\].*got \[255, 255\]"),
        (torch.full((4, 3, 28, 28), -1.01), ValueError, r"values in \[-1, 1\]"),
        (torch.full((4, 3, 28, 28), float("nan")), ValueError, "NaN"),
        ([[0.0]], ValueError, "got list"),
    ],
    ids=["one-channel", "packed-pairs", "32x32", "no-batch", "empty", "uint8", "0-255", "below-minus-one", "nan", "list"],
)
def test_count_modes_refuses_bad_input(images, error, match):
    with pytest.raises(error, match=match):
        count_modes(images)
