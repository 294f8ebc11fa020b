"""gancourse.metrics: the Fréchet distance (against scipy), the classifier-space FD, calibration, digit summary and
class accuracy."""
from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.linalg
import torch
from torch import nn

from gancourse import classifier
from gancourse.classifier import load_classifier
from gancourse.data import to_model_range
from gancourse.metrics import (
    Calibration,
    ClassAccuracy,
    DigitScorer,
    DigitSummary,
    _blobs,
    _blur,
    calibration,
    class_accuracy,
    digit_summary,
    feature_statistics,
    frechet_distance,
    mnist_fd,
)

# The digit summary of the 2,000 held-out digits before the digit check existed: 97.2% confident (p >= 0.9).
CONFIDENT_BEFORE_THE_DIGIT_CHECK = 0.972


def random_spd(d: int, rng: np.random.Generator) -> np.ndarray:
    a = rng.standard_normal((d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def reference_fd(mu1, cov1, mu2, cov2) -> float:
    """The textbook formula with scipy's general matrix square root (its tiny imaginary part dropped)."""
    cross = scipy.linalg.sqrtm(cov1 @ cov2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * np.trace(cross))


# --- frechet_distance ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("d", [2, 10, 64, 128])
@pytest.mark.parametrize("seed", [0, 1])
def test_frechet_distance_matches_scipy_sqrtm(d, seed):
    rng = np.random.default_rng(seed)
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    cov1, cov2 = random_spd(d, rng), random_spd(d, rng)
    assert frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(reference_fd(mu1, cov1, mu2, cov2), rel=1e-6)


def test_frechet_distance_matches_scipy_for_equal_means():
    rng = np.random.default_rng(5)
    mu, cov1, cov2 = np.zeros(16), random_spd(16, rng), random_spd(16, rng)
    assert frechet_distance(mu, cov1, mu, cov2) == pytest.approx(reference_fd(mu, cov1, mu, cov2), rel=1e-6)


@pytest.mark.parametrize("d", [1, 8, 128])
def test_frechet_distance_is_zero_for_identical_gaussians(d):
    rng = np.random.default_rng(d)
    mu, cov = rng.standard_normal(d) * 10, random_spd(d, rng) * 100
    distance = frechet_distance(mu, cov, mu, cov)
    assert distance >= 0.0
    assert distance == pytest.approx(0.0, abs=1e-8 * np.trace(cov))


def test_frechet_distance_of_a_singular_covariance_with_itself_is_zero():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((10, 3))
    cov = a @ a.T  # rank 3: tiny negative eigenvalues must not produce NaN
    assert frechet_distance(np.zeros(10), cov, np.zeros(10), cov) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize(("mu1", "s1", "mu2", "s2"), [(0.0, 1.0, 0.0, 1.0), (1.0, 2.0, -3.0, 0.5), (5.0, 0.1, 5.0, 3.0)])
def test_frechet_distance_in_one_dimension_has_the_closed_form(mu1, s1, mu2, s2):
    expected = (mu1 - mu2) ** 2 + (s1 - s2) ** 2
    assert frechet_distance(mu1, s1**2, mu2, s2**2) == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert frechet_distance(np.array([mu1]), np.array([[s1**2]]), np.array([mu2]), np.array([[s2**2]])) == pytest.approx(
        expected, rel=1e-9, abs=1e-12
    )


def test_frechet_distance_of_shifted_means_is_the_squared_shift():
    rng = np.random.default_rng(3)
    mu, cov, shift = rng.standard_normal(6), random_spd(6, rng), rng.standard_normal(6)
    assert frechet_distance(mu, cov, mu + shift, cov) == pytest.approx((shift**2).sum(), rel=1e-6)


def test_frechet_distance_is_symmetric():
    rng = np.random.default_rng(11)
    mu1, mu2 = rng.standard_normal(20), rng.standard_normal(20)
    cov1, cov2 = random_spd(20, rng), random_spd(20, rng)
    assert frechet_distance(mu1, cov1, mu2, cov2) == pytest.approx(frechet_distance(mu2, cov2, mu1, cov1), rel=1e-9)


def test_frechet_distance_returns_a_python_float():
    assert type(frechet_distance(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))) is float


@pytest.mark.parametrize(
    ("mu1", "cov1", "mu2", "cov2"),
    [
        (np.zeros(3), np.eye(3), np.zeros(4), np.eye(3)),  # means differ
        (np.zeros(3), np.eye(3), np.zeros(3), np.eye(4)),  # covariances differ
        (np.zeros(3), np.eye(4), np.zeros(3), np.eye(4)),  # covariance does not fit the mean
        (np.zeros(3), np.ones((3, 2)), np.zeros(3), np.ones((3, 2))),  # not square
    ],
    ids=["means", "covariances", "mean-vs-covariance", "non-square"],
)
def test_frechet_distance_rejects_mismatched_shapes(mu1, cov1, mu2, cov2):
    with pytest.raises(ValueError, match="shape mismatch"):
        frechet_distance(mu1, cov1, mu2, cov2)


# --- images through the classifier --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real(mnist_test) -> torch.Tensor:
    """1,000 real test digits in [-1, 1]."""
    return to_model_range(mnist_test[0][:1000])


@pytest.fixture(scope="module")
def real_labels(mnist_test) -> torch.Tensor:
    return mnist_test[1][:1000]


@pytest.fixture(scope="module")
def held_out(mnist_test) -> torch.Tensor:
    """The 2,000 test-split digits that the classifier and its digit check never trained on (classifier.train)."""
    order = torch.randperm(10000, generator=torch.Generator().manual_seed(0))
    return to_model_range(mnist_test[0][order[:2000]])


def test_feature_statistics_are_a_128_dimensional_mean_and_covariance(real):
    mu, cov = feature_statistics(real[:50])
    assert mu.shape == (128,) and cov.shape == (128, 128)
    assert mu.dtype == np.float64 and cov.dtype == np.float64
    np.testing.assert_allclose(cov, cov.T)
    assert np.linalg.eigvalsh(cov).min() > -1e-8


def test_mnist_fd_of_real_digits_with_themselves_is_zero(real):
    assert mnist_fd(real[:300], real[:300]) == pytest.approx(0.0, abs=1e-6)


def test_mnist_fd_separates_noise_from_other_real_digits(real):
    a, b = real[:300], real[300:600]
    noise = torch.rand(a.shape, generator=torch.Generator().manual_seed(0)) * 2 - 1
    real_vs_real = mnist_fd(a, b)
    real_vs_noise = mnist_fd(a, noise)
    assert 0 < real_vs_real
    assert real_vs_noise > 50 * real_vs_real


ROWS = ["real vs other real", "real vs blurred real", "real vs Gaussian blobs", "real vs uniform noise"]


@pytest.fixture(scope="module")
def small_calibration(real) -> Calibration:
    return calibration(real[:500], n=250)


def test_calibration_orders_real_then_blurred_and_blobs_then_noise(small_calibration):
    assert small_calibration.n == 250
    assert list(small_calibration.rows) == ROWS
    fd = {name: row["FD"] for name, row in small_calibration.rows.items()}
    assert 0 < fd["real vs other real"] < fd["real vs blurred real"] < fd["real vs uniform noise"]
    assert fd["real vs other real"] < fd["real vs Gaussian blobs"] < fd["real vs uniform noise"]


def test_calibration_shows_the_digit_summary_beside_the_fd(small_calibration):
    rows = small_calibration.rows
    assert all(set(row) == {"FD", "digits drawn", "confident", "not digits"} for row in rows.values())
    assert rows["real vs other real"]["digits drawn"] == 10
    assert rows["real vs other real"]["confident"] > 0.9 and rows["real vs other real"]["not digits"] < 0.03
    for name in ROWS[1:]:
        assert rows[name]["digits drawn"] == 0, f"{name} must draw no digit class: {rows[name]}"
        assert rows[name]["confident"] == 0.0 and rows[name]["not digits"] > 0.95, rows[name]


def test_calibration_prints_an_aligned_table(small_calibration):
    lines = str(small_calibration).splitlines()
    assert "250" in lines[0]
    assert lines[1].split() == ["FD", "digits", "drawn", "confident", "not", "digits"]
    assert [line.split("  ")[1].strip() for line in lines[2:]] == ROWS
    assert len({len(line) for line in lines[1:]}) == 1, "columns line up"
    assert "10/10" in lines[2] and all(" 0/10" in line and "100%" in line for line in lines[3:])
    assert f"{small_calibration.rows['real vs uniform noise']['FD']:.1f}" in lines[5]


def test_calibration_is_reproducible_for_a_seed(real):
    assert calibration(real[:40], n=20, seed=3) == calibration(real[:40], n=20, seed=3)


def test_calibration_needs_twice_n_images(real):
    with pytest.raises(ValueError, match="at least 200 real images, got 199"):
        calibration(real[:199], n=100)


def test_feature_statistics_needs_two_images(real):
    with pytest.raises(ValueError, match="at least 2 images"):
        feature_statistics(real[:1])


def test_digit_summary_of_real_digits_draws_all_ten_confidently(real, real_labels):
    summary = digit_summary(real[:500])
    assert isinstance(summary, DigitSummary)
    assert summary.classes_drawn == 10
    assert summary.confidence > 0.95
    assert summary.confident_fraction > 0.9
    assert summary.not_digit_fraction < 0.02
    assert len(summary.class_share) == 10
    assert sum(summary.class_share) == pytest.approx(summary.confident_fraction, abs=1e-3)
    true_share = torch.bincount(real_labels[:500], minlength=10).double() / 500
    np.testing.assert_allclose(summary.class_share, true_share.numpy(), atol=0.03)
    assert str(summary).startswith("10/10 digits drawn")


def test_digit_summary_of_one_repeated_digit_draws_one_class(real):
    with torch.no_grad():
        confidence, label = load_classifier()(real[:50]).softmax(1).max(1)
    best = int(confidence.argmax())  # a clearly drawn digit
    summary = digit_summary(real[best : best + 1].repeat(40, 1, 1, 1))
    assert summary.classes_drawn == 1
    assert summary.class_share[int(label[best])] == 1.0
    assert summary.confident_fraction == 1.0
    assert str(summary).startswith("1/10 digits drawn")


def test_digit_summary_threshold_and_min_share(real):
    digits = real[:100]
    assert digit_summary(digits, threshold=1.01).classes_drawn == 0, "nothing is more than certain"
    assert digit_summary(digits, min_share=0.5).classes_drawn == 0, "no digit is half of 100 real digits"
    noise = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    assert digit_summary(noise, threshold=0.0).confident_fraction == 0.0, "a non-digit never counts, whatever p"


def test_digit_summary_of_the_held_out_digits_keeps_all_ten_and_its_confident_fraction(held_out):
    summary = digit_summary(held_out)
    assert summary.classes_drawn == 10
    assert summary.not_digit_fraction <= 0.01, "the digit check should pass about 99.5% of held-out digits"
    assert summary.confident_fraction >= CONFIDENT_BEFORE_THE_DIGIT_CHECK - 0.02
    card = json.loads(classifier.CARD.read_text())["digit_check"]
    assert summary.confident_fraction == pytest.approx(card["held_out_confident_digits"], abs=0.002)
    assert 1 - summary.not_digit_fraction == pytest.approx(card["held_out_pass_rate"], abs=0.002)


# --- what is not a digit draws no digit class: 1,000 images of each kind --------------------------------------

def untrained_mlp_generator(n: int) -> torch.Tensor:
    """Samples of notebook 01's MLP generator (64-256-512-1024-784) straight after initialisation."""
    torch.manual_seed(0)
    widths, layers = [64, 256, 512, 1024], []
    for n_in, n_out in zip(widths, widths[1:]):
        layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.LeakyReLU(0.2)]
    generator = nn.Sequential(*layers, nn.Linear(1024, 784), nn.Tanh()).eval()
    with torch.no_grad():
        return generator(torch.randn(n, 64)).view(n, 1, 28, 28)


def untrained_conv_generator(n: int) -> torch.Tensor:
    """Samples of a small DCGAN-like transposed-convolution generator straight after initialisation."""
    torch.manual_seed(0)
    generator = nn.Sequential(
        nn.Unflatten(1, (64, 1, 1)),
        nn.ConvTranspose2d(64, 128, 7), nn.BatchNorm2d(128), nn.ReLU(),
        nn.ConvTranspose2d(128, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.ReLU(),
        nn.ConvTranspose2d(64, 1, 4, 2, 1), nn.Tanh(),
    ).eval()
    with torch.no_grad():
        return generator(torch.randn(n, 64))


NOT_DIGITS = {
    "uniform noise": lambda held_out: torch.rand(1000, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1,
    "Gaussian blobs": lambda held_out: _blobs(1000, torch.Generator().manual_seed(2)),
    "blank": lambda held_out: torch.full((1000, 1, 28, 28), -1.0),
    "saturated": lambda held_out: torch.full((1000, 1, 28, 28), 1.0),
    "untrained MLP generator": lambda held_out: untrained_mlp_generator(1000),
    "untrained conv generator": lambda held_out: untrained_conv_generator(1000),
    "blurred digits sigma 1.5": lambda held_out: _blur(held_out[:1000], sigma=1.5),
    "blurred digits sigma 2.5": lambda held_out: _blur(held_out[:1000], sigma=2.5),
}


@pytest.mark.parametrize("kind", NOT_DIGITS)
def test_digit_summary_of_non_digits_draws_no_class(kind, held_out):
    images = NOT_DIGITS[kind](held_out)
    assert images.shape == (1000, 1, 28, 28) and images.min() >= -1 and images.max() <= 1
    summary = digit_summary(images)
    assert summary.classes_drawn == 0, f"{kind} is no digit, but the summary says {summary}"
    assert summary.not_digit_fraction > 0.95
    assert summary.confident_fraction < 0.01 and summary.confidence < 0.05
    assert str(summary).startswith("0/10 digits drawn") and "% not digits" in str(summary)


def test_digit_summary_counts_the_non_digits_of_a_mixed_batch(held_out):
    digits = held_out[:500]
    noise = torch.rand(500, 1, 28, 28, generator=torch.Generator().manual_seed(4)) * 2 - 1
    alone, mixed = digit_summary(digits), digit_summary(torch.cat([digits, noise]))
    assert mixed.classes_drawn == 10
    assert mixed.not_digit_fraction == pytest.approx(0.5 + alone.not_digit_fraction / 2, abs=1e-9)
    assert mixed.confident_fraction == pytest.approx(alone.confident_fraction / 2, abs=1e-9)
    assert mixed.confidence == pytest.approx(alone.confidence / 2, abs=1e-6), "non-digits count as confidence 0"
    np.testing.assert_allclose(mixed.class_share, np.array(alone.class_share) / 2, atol=1e-4)


# --- input checks -------------------------------------------------------------------------------------------

BAD_SHAPES = [torch.zeros(4, 28, 28), torch.zeros(4, 3, 28, 28), torch.zeros(4, 1, 32, 32), torch.zeros(784)]


@pytest.mark.parametrize("images", BAD_SHAPES, ids=["no-channel", "rgb", "32px", "flat"])
@pytest.mark.parametrize("metric", [feature_statistics, digit_summary, lambda x: mnist_fd(x, x), calibration])
def test_metrics_reject_images_of_the_wrong_shape(metric, images):
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\).*got \(" ):
        metric(images)


def test_metrics_reject_non_tensors():
    with pytest.raises(ValueError, match="got ndarray"):
        digit_summary(np.zeros((4, 1, 28, 28), dtype=np.float32))


@pytest.mark.parametrize("metric", [feature_statistics, digit_summary, calibration])
def test_metrics_reject_uint8_pixels_and_point_to_to_model_range(metric):
    with pytest.raises(TypeError, match="to_model_range"):
        metric(torch.zeros(4, 1, 28, 28, dtype=torch.uint8))


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("metric", [feature_statistics, digit_summary, lambda x: mnist_fd(x, x)])
def test_metrics_reject_nan_and_infinity(metric, bad):
    images = torch.zeros(4, 1, 28, 28)
    images[2, 0, 5, 5] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        metric(images)


def test_metrics_accept_images_that_require_grad(real):
    fake = real[:20].clone().requires_grad_(True)
    assert digit_summary(fake).classes_drawn >= 1


def test_digit_scorer_scores_against_fixed_real_statistics(real):
    scorer = DigitScorer(real, n=500)
    assert scorer.n == 500
    good, noise = scorer(real[500:]), scorer(torch.rand(500, 1, 28, 28) * 2 - 1)
    assert set(good) == {"FD", "digits drawn"}
    assert good["digits drawn"] == 10 and noise["FD"] > 50 * good["FD"]
    assert noise["digits drawn"] == 0, "noise draws no digit class"


# --- class_accuracy -------------------------------------------------------------------------------------------

def test_class_accuracy_of_held_out_digits_asked_for_their_own_labels_is_high_for_every_digit(mnist_test):
    order = torch.randperm(10000, generator=torch.Generator().manual_seed(0))[:2000]  # the held-out digits
    images, labels = to_model_range(mnist_test[0][order]), mnist_test[1][order]
    accuracy = class_accuracy(images, labels)
    assert isinstance(accuracy, ClassAccuracy) and accuracy.per_class.shape == (10,)
    assert accuracy.per_class.min() > 0.9 and accuracy.mean > 0.95
    assert accuracy.mean == pytest.approx(accuracy.per_class.mean().item())
    argmax_only = class_accuracy(images, labels, threshold=0.0)
    assert (argmax_only.per_class >= accuracy.per_class).all(), "a lower threshold never counts fewer samples"


def test_class_accuracy_is_zero_when_every_digit_was_asked_for_as_the_next_one(real, real_labels):
    accuracy = class_accuracy(real[:300], (real_labels[:300] + 1) % 10)
    assert accuracy.mean < 0.02 and accuracy.per_class.max() < 0.1


def test_class_accuracy_counts_no_noise_as_a_digit_whatever_the_softmax_says():
    noise = torch.rand(100, 1, 28, 28, generator=torch.Generator().manual_seed(3)) * 2 - 1
    assert class_accuracy(noise, torch.arange(100) % 10, threshold=0.0).mean == 0.0


def test_class_accuracy_weighs_every_digit_the_same(real):
    """A clear 0 asked for as 0 ten times, and as 1 to 9 ninety-eight times: the mean over the ten digits is
    1/10, not the pooled 10/108."""
    with torch.no_grad():
        confidence, label = load_classifier()(real[:400]).softmax(1).max(1)
    zero = int(((label == 0) & (confidence > 0.99)).nonzero()[0])
    requested = torch.tensor([0] * 10 + [1] * 90 + list(range(2, 10)))
    accuracy = class_accuracy(real[zero:zero + 1].repeat(len(requested), 1, 1, 1), requested)
    assert accuracy.per_class[0] == 1.0 and accuracy.per_class[1:].max() == 0.0
    assert accuracy.mean == pytest.approx(0.1)


@pytest.mark.parametrize("requested, error, message", [
    (torch.arange(10).float(), TypeError, "integer digit labels"),
    (torch.arange(10).view(2, 5), ValueError, "1-D tensor of 10 digit labels"),
    (torch.arange(9), ValueError, "1-D tensor of 10 digit labels"),
    (torch.arange(10) + 1, ValueError, "digits 0-9, got values from 1 to 10"),
    (torch.arange(10) - 1, ValueError, "digits 0-9, got values from -1 to 8"),
    (torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 8]), ValueError, "no image was requested for digit(s) 9"),
    ([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], ValueError, "got list"),
])
def test_class_accuracy_rejects_bad_labels_with_a_message_that_says_what_to_pass(real, requested, error, message):
    with pytest.raises(error, match=re.escape(message)):
        class_accuracy(real[:10], requested)
