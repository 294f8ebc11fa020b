"""gancourse.classifier: the shipped metric classifier, its digit check, its card, and its training script."""
from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import classifier
from gancourse.classifier import (
    CHECK_QUANTILE,
    DETECTOR_DIM,
    FEATURE_DIM,
    ClassGaussians,
    DigitCheck,
    MNISTClassifier,
    accuracy,
    load_classifier,
    load_digit_check,
)
from gancourse.data import SPLITS, raw_folder, to_model_range

CARD = json.loads(classifier.CARD.read_text())


@pytest.fixture(scope="module")
def held_out(mnist_test) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2,000 test-split images that the shipped weights never trained on (see classifier.train)."""
    images, labels = mnist_test
    order = torch.randperm(10000, generator=torch.Generator().manual_seed(0))
    return to_model_range(images[order[:2000]]), labels[order[:2000]]


# --- the shipped weights ------------------------------------------------------------------------------------

def test_shipped_weights_and_card_exist():
    assert classifier.WEIGHTS.is_file()
    assert classifier.CARD.is_file()
    assert classifier.DIGIT_CHECK.is_file()
    assert set(CARD) >= {"trained_on", "tested_on", "seed", "accuracy", "epochs", "parameters", "digit_check"}
    assert set(CARD["digit_check"]) >= {"rule", "held_out_pass_rate", "held_out_confident_digits"}


def test_card_counts_the_parameters_of_the_architecture():
    assert CARD["parameters"] == sum(p.numel() for p in MNISTClassifier().parameters())


def test_shipped_weights_load_in_eval_mode_without_gradients():
    model = load_classifier()
    assert isinstance(model, MNISTClassifier)
    assert not model.training
    assert all(not m.training for m in model.modules())
    assert not any(p.requires_grad for p in model.parameters())
    assert next(model.parameters()).device.type == "cpu"


def test_load_classifier_is_cached_per_device():
    assert load_classifier("cpu") is load_classifier("cpu")


def test_load_classifier_explains_missing_weights(monkeypatch, tmp_path):
    monkeypatch.setattr(classifier, "WEIGHTS", tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match="python -m gancourse.classifier"):
        load_classifier.__wrapped__("cpu")  # bypass the cache, which may hold the real weights


def test_shipped_weights_reach_the_card_accuracy_on_the_held_out_images(held_out):
    images, labels = held_out
    measured = accuracy(load_classifier(), images, labels)
    assert measured >= 0.98
    assert CARD["accuracy"] >= 0.98
    assert measured == pytest.approx(CARD["accuracy"], abs=0.005), "the card should describe these weights"


def test_features_are_128_dimensional_and_feed_the_head(held_out):
    model = load_classifier()
    images = held_out[0][:16]
    features = model.features(images)
    assert features.shape == (16, FEATURE_DIM) == (16, 128)
    assert features.dtype == torch.float32
    assert (features >= 0).all(), "features come out of a ReLU"
    logits = model(images)
    assert logits.shape == (16, 10)
    torch.testing.assert_close(logits, model.head(features))


def test_detectors_are_the_strongest_last_block_responses_beside_the_features(held_out):
    model = load_classifier()
    images = held_out[0][:16]
    detectors, features = model.detectors_and_features(images)
    assert detectors.shape == (16, DETECTOR_DIM) == (16, 64)
    torch.testing.assert_close(features, model.features(images))
    maps = model.body[:-3](images)
    assert maps.shape == (16, 64, 7, 7)
    torch.testing.assert_close(detectors, maps.flatten(2).max(dim=2).values)
    assert (detectors >= 0).all()


def test_classifier_is_deterministic_and_independent_of_batch_composition(held_out):
    model = load_classifier()
    images = held_out[0][:8]
    alone = torch.cat([model(image[None]) for image in images])
    torch.testing.assert_close(model(images), alone, rtol=1e-4, atol=1e-4)


# --- the digit check ---------------------------------------------------------------------------------------

def test_shipped_digit_check_has_class_means_whitening_and_thresholds():
    check = load_digit_check()
    assert load_digit_check() is check, "cached"
    assert check.weights_sha256 == hashlib.sha256(classifier.WEIGHTS.read_bytes()).hexdigest()
    for gaussians, dim in [(check.detectors, DETECTOR_DIM), (check.features, FEATURE_DIM)]:
        assert gaussians.means.shape == (10, dim) and gaussians.whitening.shape == (dim, dim)
        assert gaussians.means.dtype == gaussians.whitening.dtype == torch.float64
        torch.testing.assert_close(gaussians.whitening, gaussians.whitening.tril())
        assert (gaussians.whitening.diagonal() > 0).all(), "a Cholesky factor of a positive definite matrix"
        assert 0 < gaussians.threshold < float("inf")


def test_shipped_digit_check_passes_the_card_share_of_held_out_digits(held_out):
    detectors, features = load_classifier().detectors_and_features(held_out[0])
    passes = load_digit_check()(detectors, features)
    assert passes.dtype == torch.bool and passes.shape == (2000,)
    assert passes.double().mean().item() == pytest.approx(CARD["digit_check"]["held_out_pass_rate"], abs=0.001)
    assert passes.double().mean().item() >= 0.99


def test_stats_only_recomputes_the_shipped_digit_check(monkeypatch, tmp_path, mnist_root, capsys):
    monkeypatch.setenv("GANCOURSE_DATA", str(mnist_root))
    monkeypatch.setattr(classifier, "DIGIT_CHECK", tmp_path / "mnist_digit_check.pt")
    monkeypatch.setattr(classifier, "CARD", tmp_path / "mnist_classifier.json")
    classifier.CARD.write_text(json.dumps({k: v for k, v in CARD.items() if k != "digit_check"}))

    classifier.main(["--stats-only"])  # python -m gancourse.classifier --stats-only, on the shipped weights

    printed, card = json.loads(capsys.readouterr().out), json.loads(classifier.CARD.read_text())
    assert card == {**CARD, "digit_check": printed}, "the card gets back its digit_check entry"
    assert printed == pytest.approx(CARD["digit_check"], abs=0.001)  # one image more or less on another CPU
    shipped, recomputed = load_digit_check(), DigitCheck.load(classifier.DIGIT_CHECK)
    assert recomputed.weights_sha256 == shipped.weights_sha256
    for name in ("detectors", "features"):  # equal up to float32 rounding, which varies between CPUs
        old, new = getattr(shipped, name), getattr(recomputed, name)
        torch.testing.assert_close(new.means, old.means, rtol=1e-4, atol=1e-6)
        scale = old.whitening.abs().max().item()
        torch.testing.assert_close(new.whitening, old.whitening, rtol=1e-3, atol=1e-3 * scale)
        assert new.threshold == pytest.approx(old.threshold, rel=1e-4)


def test_load_digit_check_explains_missing_statistics(monkeypatch, tmp_path):
    monkeypatch.setattr(classifier, "DIGIT_CHECK", tmp_path / "missing.pt")
    with pytest.raises(FileNotFoundError, match=r"missing\.pt is missing.*python -m gancourse.classifier --stats-only"):
        load_digit_check.__wrapped__()  # bypass the cache, which may hold the real statistics


def test_load_digit_check_refuses_statistics_of_other_weights(monkeypatch, tmp_path):
    other = tmp_path / "other_weights.pt"
    torch.save(MNISTClassifier().state_dict(), other)
    monkeypatch.setattr(classifier, "WEIGHTS", other)
    with pytest.raises(ValueError, match="other classifier weights.*--stats-only"):
        load_digit_check.__wrapped__()


def test_digit_check_round_trips_through_save_and_load(tmp_path):
    path = tmp_path / "check.pt"
    load_digit_check().save(path)
    loaded, shipped = DigitCheck.load(path), load_digit_check()
    torch.testing.assert_close(loaded.features.whitening, shipped.features.whitening, rtol=0, atol=0)
    assert loaded.detectors.threshold == shipped.detectors.threshold


def _class_clouds(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`n` points of 3-d correlated Gaussians around 10 class centres, and their labels."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 10
    centres = 5 * torch.eye(10, 3, dtype=torch.float64)
    mixing = torch.tensor([[1.0, 0.0, 0.0], [0.8, 0.5, 0.0], [0.0, 0.3, 2.0]], dtype=torch.float64)
    return centres[labels] + torch.randn(n, 3, generator=generator, dtype=torch.float64) @ mixing.T, labels


def test_class_gaussians_distance_is_the_mahalanobis_distance_to_the_nearest_class():
    train, labels = _class_clouds(5000, seed=0)
    held_out, _ = _class_clouds(2000, seed=1)
    gaussians = ClassGaussians.fit(train, labels, held_out)
    means = torch.stack([train[labels == k].mean(0) for k in range(10)])
    centred = train - means[labels]
    covariance = centred.T @ centred / len(train)
    covariance += classifier.SHRINKAGE * covariance.diagonal().mean() * torch.eye(3, dtype=torch.float64)
    points = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 4
    diff = points[:, None] - means[None]
    expected = torch.einsum("nkd,de,nke->nk", diff, torch.linalg.inv(covariance), diff).min(dim=1).values
    torch.testing.assert_close(gaussians.distance(points), expected)
    torch.testing.assert_close(gaussians.means, means)


def test_class_gaussians_threshold_passes_the_check_quantile_of_the_held_out_points():
    train, labels = _class_clouds(5000, seed=0)
    held_out, _ = _class_clouds(4000, seed=2)
    gaussians = ClassGaussians.fit(train, labels, held_out)
    passed = (gaussians.distance(held_out) <= gaussians.threshold).double().mean().item()
    assert passed == pytest.approx(CHECK_QUANTILE, abs=1 / 4000)
    far = held_out + 100.0
    assert not (gaussians.distance(far) <= gaussians.threshold).any(), "points far from every class fail"


def test_class_gaussians_need_every_class():
    train, labels = _class_clouds(100, seed=0)
    with pytest.raises(ValueError, match=r"none of class \[3\]"):
        ClassGaussians.fit(train[labels != 3], labels[labels != 3], train)


# --- accuracy -----------------------------------------------------------------------------------------------

class AlwaysSays(nn.Module):
    """A stand-in model that predicts the same digit for every image."""

    def __init__(self, digit: int) -> None:
        super().__init__()
        self.digit = digit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.one_hot(torch.full((len(x),), self.digit), 10).float()


def test_accuracy_is_the_fraction_of_correct_labels():
    labels = torch.tensor([3] * 1500 + [1] * 500 + [3] * 500)  # more than one 1000-image chunk
    images = torch.zeros(len(labels), 1, 28, 28)
    assert accuracy(AlwaysSays(3), images, labels) == pytest.approx(0.8)
    assert accuracy(AlwaysSays(1), images, labels) == pytest.approx(0.2)


def test_accuracy_puts_the_model_in_eval_mode():
    model = AlwaysSays(0).train()
    accuracy(model, torch.zeros(2, 1, 28, 28), torch.zeros(2, dtype=torch.long))
    assert not model.training


# --- train (on tiny synthetic data, writing to a temporary assets folder) -----------------------------------

def _write_split(root, split: str, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    folder = raw_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in zip(SPLITS[split], (rng.integers(0, 256, (n, 28, 28)), rng.integers(0, 10, n))):
        array = array.astype(np.uint8)
        header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
        with gzip.open(folder / f"{name}.gz", "wb") as f:
            f.write(header + array.tobytes())


@pytest.fixture
def temporary_assets(monkeypatch, tmp_path):
    """Point the training script at a temporary assets folder; check the shipped files stay untouched."""
    files = (classifier.WEIGHTS, classifier.CARD, classifier.DIGIT_CHECK)
    shipped = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assets = tmp_path / "assets"
    monkeypatch.setattr(classifier, "ASSETS", assets)
    monkeypatch.setattr(classifier, "WEIGHTS", assets / "mnist_classifier.pt")
    monkeypatch.setattr(classifier, "CARD", assets / "mnist_classifier.json")
    monkeypatch.setattr(classifier, "DIGIT_CHECK", assets / "mnist_digit_check.pt")
    yield assets
    for path, digest in shipped.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} was modified"


def test_train_uses_the_training_split_when_present(monkeypatch, tmp_path, temporary_assets, capsys):
    data = tmp_path / "data"
    _write_split(data, "train", 256, seed=1)
    _write_split(data, "test", 50, seed=2)
    monkeypatch.setenv("GANCOURSE_DATA", str(data))

    card = classifier.train(epochs=1, batch_size=128)

    assert card["trained_on"] == "MNIST training split (60,000)"
    assert card["epochs"] == 1
    assert 0.0 <= card["accuracy"] <= 1.0
    assert card["parameters"] == CARD["parameters"]
    assert json.loads((temporary_assets / "mnist_classifier.json").read_text()) == card
    state = torch.load(temporary_assets / "mnist_classifier.pt", weights_only=True)
    MNISTClassifier().load_state_dict(state)  # the saved weights fit the architecture
    assert "epoch 1/1: held-out accuracy" in capsys.readouterr().out
    check = DigitCheck.load(temporary_assets / "mnist_digit_check.pt")
    assert check.weights_sha256 == hashlib.sha256((temporary_assets / "mnist_classifier.pt").read_bytes()).hexdigest()
    assert card["digit_check"]["statistics_from"] == "MNIST training split (60,000)"
    assert 0.9 <= card["digit_check"]["held_out_pass_rate"] <= 1.0  # thresholds from only 50 test images


def test_train_holds_out_2000_test_images_without_a_training_split(monkeypatch, tmp_path, temporary_assets):
    data = tmp_path / "data"
    _write_split(data, "test", 2000 + 128, seed=3)
    monkeypatch.setenv("GANCOURSE_DATA", str(data))

    measured = []  # skip the 2 x 2,000-image accuracy passes; record what they would measure on

    def fake_accuracy(model, images, labels):
        measured.append((len(images), len(labels)))
        return 0.5

    monkeypatch.setattr(classifier, "accuracy", fake_accuracy)
    card = classifier.train(epochs=1, batch_size=128)

    assert measured and set(measured) == {(2000, 2000)}, "accuracy is measured on the 2,000 held-out images"
    assert card["accuracy"] == 0.5
    assert "test split" in card["trained_on"]
    assert "held out" in card["tested_on"] and "2,000" in card["tested_on"]
    assert (temporary_assets / "mnist_classifier.pt").is_file()
    assert card["digit_check"]["thresholds_from"] == card["tested_on"]
    assert (temporary_assets / "mnist_digit_check.pt").is_file()
