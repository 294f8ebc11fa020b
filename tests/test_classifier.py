"""gancourse.classifier: the shipped metric classifier, its card, and (on tiny fake data) its training script."""
from __future__ import annotations

import gzip
import hashlib
import json

import numpy as np
import pytest
import torch
from torch import nn

from gancourse import classifier
from gancourse.classifier import FEATURE_DIM, MNISTClassifier, accuracy, load_classifier
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
    assert set(CARD) >= {"trained_on", "tested_on", "accuracy", "epochs", "parameters"}


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


def test_classifier_is_deterministic_and_independent_of_batch_composition(held_out):
    model = load_classifier()
    images = held_out[0][:8]
    alone = torch.cat([model(image[None]) for image in images])
    torch.testing.assert_close(model(images), alone, rtol=1e-4, atol=1e-4)


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
    shipped = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in (classifier.WEIGHTS, classifier.CARD)}
    assets = tmp_path / "assets"
    monkeypatch.setattr(classifier, "ASSETS", assets)
    monkeypatch.setattr(classifier, "WEIGHTS", assets / "mnist_classifier.pt")
    monkeypatch.setattr(classifier, "CARD", assets / "mnist_classifier.json")
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
