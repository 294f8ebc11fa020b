"""gancourse.metrics: the Fréchet distance (against scipy), the classifier-space FD, calibration and digit summary."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import torch

from gancourse.classifier import load_classifier
from gancourse.data import to_model_range
from gancourse.metrics import (
    DigitSummary,
    calibration,
    digit_summary,
    feature_statistics,
    frechet_distance,
    mnist_fd,
)


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


def test_calibration_orders_real_then_blurred_then_noise(real):
    reference = calibration(real[:500], n=250)
    assert list(reference) == ["real vs other real", "real vs blurred real", "real vs uniform noise"]
    values = list(reference.values())
    assert 0 < values[0] < values[1] < values[2]


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


def test_digit_summary_of_noise_draws_few_classes():
    noise = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    assert digit_summary(noise).classes_drawn < 10


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
    from gancourse.metrics import DigitScorer

    scorer = DigitScorer(real, n=500)
    assert scorer.n == 500
    good, noise = scorer(real[500:]), scorer(torch.rand(500, 1, 28, 28) * 2 - 1)
    assert set(good) == {"FD", "digits drawn"}
    assert good["digits drawn"] == 10 and noise["FD"] > 50 * good["FD"]
