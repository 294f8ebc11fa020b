"""The small MNIST classifier behind the course's metrics, its digit check, and the script that trains them.

Re-train with ``python -m gancourse.classifier``: it uses the training split when it is on disk (tested
on the test split), and otherwise the test split alone, holding out 2,000 images for the accuracy figure.
``python -m gancourse.classifier --stats-only`` recomputes only the digit check from the shipped weights.

The digit check answers "does this image look like an MNIST digit at all?", which the softmax cannot: it
labels uniform noise an 8 with p = 1.00. It follows Lee et al. (2018, "A simple unified framework for
detecting out-of-distribution samples"): fit one Gaussian per digit class, with a covariance shared by all
classes, to the classifier's activations on its own training digits; an image passes when its squared
Mahalanobis distance to the nearest class mean is no larger than that of 99.75% of the held-out digits.
Two activations are tested: the strongest response of each of the 64 channels of the last convolution
block (sharp strokes versus blur, blobs and noise) and the 128 penultimate features (the digit's layout).
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.data import has_split, load_mnist, to_model_range
from gancourse.runtime import seed_everything

ASSETS = Path(__file__).resolve().parent / "assets"
WEIGHTS = ASSETS / "mnist_classifier.pt"
CARD = ASSETS / "mnist_classifier.json"
DIGIT_CHECK = ASSETS / "mnist_digit_check.pt"
FEATURE_DIM = 128  # penultimate features: the Fréchet distance and the digit check
DETECTOR_DIM = 64  # channels of the last convolution block: the digit check
CHECK_QUANTILE = 0.9975  # each of the two distance tests lets 99.75% of the held-out digits through
SHRINKAGE = 1e-3  # ridge, relative to the mean variance, that keeps a covariance with dead units invertible
CONFIDENT = 0.9  # the probability from which the digit summary counts a label
TRAINING_SPLIT = "MNIST training split (60,000)"


class MNISTClassifier(nn.Module):
    """A two-block CNN: 28x28 digits in [-1, 1] -> 128 features -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, DETECTOR_DIM, 3, padding=1), nn.BatchNorm2d(DETECTOR_DIM), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(DETECTOR_DIM * 7 * 7, FEATURE_DIM), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the 128-dimensional penultimate features used by the Fréchet distance."""
        return self.body(x)

    def detectors_and_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the strongest response of each last-block channel (N, 64) and the features (N, 128)."""
        maps = self.body[:-3](x)  # (N, 64, 7, 7): everything before Flatten-Linear-ReLU
        return maps.amax(dim=(2, 3)), self.body[-3:](maps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


@lru_cache(maxsize=4)
def load_classifier(device: str = "cpu") -> MNISTClassifier:
    """Return the pretrained classifier in eval mode on `device` (cached)."""
    if not WEIGHTS.is_file():
        raise FileNotFoundError(f"{WEIGHTS} is missing: re-create it with `python -m gancourse.classifier`")
    model = MNISTClassifier()
    model.load_state_dict(torch.load(WEIGHTS, map_location="cpu", weights_only=True))
    return model.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)


@dataclass(frozen=True, eq=False)
class ClassGaussians:
    """One Gaussian per digit class with a shared covariance, and the largest typical distance to them."""

    means: torch.Tensor  # (10, d)
    whitening: torch.Tensor  # (d, d) lower-triangular, whitening @ whitening.T = covariance^-1
    threshold: float

    @classmethod
    def fit(cls, activations: torch.Tensor, labels: torch.Tensor, held_out: torch.Tensor) -> ClassGaussians:
        """Fit to labelled `activations`; set the threshold to the CHECK_QUANTILE of the `held_out` distances."""
        activations = activations.double()
        missing = sorted(set(range(10)) - set(labels.tolist()))
        if missing:
            raise ValueError(f"every digit class needs training images; none of class {missing}")
        means = torch.stack([activations[labels == k].mean(dim=0) for k in range(10)])
        centred = activations - means[labels]
        covariance = centred.T @ centred / len(activations)
        ridge = SHRINKAGE * covariance.diagonal().mean().clamp_min(1e-12)
        covariance += ridge * torch.eye(len(covariance), dtype=covariance.dtype)
        whitening = torch.linalg.cholesky(torch.linalg.inv(covariance))
        untested = cls(means, whitening, float("inf"))
        threshold = torch.quantile(untested.distance(held_out), CHECK_QUANTILE).item()
        return dataclasses.replace(untested, threshold=threshold)

    def distance(self, activations: torch.Tensor) -> torch.Tensor:
        """Squared Mahalanobis distance from each row of `activations` to the nearest class mean."""
        white = activations.double() @ self.whitening
        return torch.cdist(white, self.means @ self.whitening).square().min(dim=1).values


@dataclass(frozen=True, eq=False)
class DigitCheck:
    """Says which images look like MNIST digits to the classifier (see the module docstring)."""

    detectors: ClassGaussians
    features: ClassGaussians
    weights_sha256: str  # the classifier weights these statistics belong to

    def __call__(self, detectors: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """Boolean (N,): True where both distances are typical of real digits."""
        return (self.detectors.distance(detectors) <= self.detectors.threshold) & (
            self.features.distance(features) <= self.features.threshold
        )

    def save(self, path: Path) -> None:
        """Write the statistics as plain tensors (loadable with ``weights_only=True``)."""
        torch.save({
            "detectors": dataclasses.asdict(self.detectors),
            "features": dataclasses.asdict(self.features),
            "weights_sha256": self.weights_sha256,
        }, path)

    @classmethod
    def load(cls, path: Path) -> DigitCheck:
        """Read statistics written by :meth:`save`."""
        stored = torch.load(path, map_location="cpu", weights_only=True)
        detectors, features = ClassGaussians(**stored["detectors"]), ClassGaussians(**stored["features"])
        return cls(detectors, features, stored["weights_sha256"])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def load_digit_check() -> DigitCheck:
    """Return the digit check of the shipped classifier (cached)."""
    if not DIGIT_CHECK.is_file():
        raise FileNotFoundError(
            f"{DIGIT_CHECK} is missing: re-create it with `python -m gancourse.classifier --stats-only`"
        )
    check = DigitCheck.load(DIGIT_CHECK)
    if WEIGHTS.is_file() and check.weights_sha256 != _sha256(WEIGHTS):
        raise ValueError(
            f"{DIGIT_CHECK} belongs to other classifier weights than {WEIGHTS}: re-create it with "
            "`python -m gancourse.classifier --stats-only`"
        )
    return check


class Split(NamedTuple):
    """The classifier's training and held-out images (in [-1, 1]) and labels, and what they are."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    trained_on: str
    tested_on: str


def _split(seed: int, training_split: bool) -> Split:
    """The training split (tested on the test split) or, without it, 8,000 / 2,000 test-split images."""
    if training_split:
        train_x, train_y = load_mnist("train", download=False)
        test_x, test_y = load_mnist("test", download=False)
        trained_on, tested_on = TRAINING_SPLIT, "MNIST test split (10,000)"
    else:
        images, labels = load_mnist("test", download=False)
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        train_x, train_y = images[order[2000:]], labels[order[2000:]]
        test_x, test_y = images[order[:2000]], labels[order[:2000]]
        trained_on = "8,000 images of the MNIST test split"
        tested_on = "the other 2,000 images of the MNIST test split (held out)"
    return Split(to_model_range(train_x), train_y, to_model_range(test_x), test_y, trained_on, tested_on)


@torch.no_grad()
def _activations(model: MNISTClassifier, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Detectors (N, 64), features (N, 128) and class probabilities (N, 10) of `images`, in float64."""
    model.eval()
    parts = [model.detectors_and_features(c.contiguous(memory_format=torch.channels_last)) for c in images.split(500)]
    detectors, features = torch.cat([d for d, _ in parts]), torch.cat([f for _, f in parts])
    return detectors.double(), features.double(), F.softmax(model.head(features), dim=1).double()


def _fit_digit_check(model: MNISTClassifier, data: Split) -> tuple[DigitCheck, dict]:
    """Fit the digit check of `model`, whose weights are saved, to `data`; return it and its card entry."""
    train_detectors, train_features, _ = _activations(model, data.train_x)
    test_detectors, test_features, test_probabilities = _activations(model, data.test_x)
    check = DigitCheck(
        ClassGaussians.fit(train_detectors, data.train_y, test_detectors),
        ClassGaussians.fit(train_features, data.train_y, test_features),
        _sha256(WEIGHTS),
    )
    passes = check(test_detectors, test_features)
    confident = (test_probabilities.max(dim=1).values >= CONFIDENT) & passes
    entry = {
        "rule": "class-conditional Mahalanobis distance (Lee et al. 2018) of the 64 strongest last-block responses "
                "and of the 128 features; each threshold passes 99.75% of the held-out digits",
        "statistics_from": data.trained_on,
        "thresholds_from": data.tested_on,
        "held_out_pass_rate": round(passes.double().mean().item(), 4),
        "held_out_confident_digits": round(confident.double().mean().item(), 4),
    }
    return check, entry


def _random_shift(x: torch.Tensor, max_shift: int = 2) -> torch.Tensor:
    """Translate each image by up to `max_shift` pixels (cheap augmentation)."""
    padded = F.pad(x, [max_shift] * 4, value=-1.0)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2,)).tolist()
    return padded[..., dy : dy + 28, dx : dx + 28]


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of `images` (in [-1, 1]) that `model` labels correctly."""
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(chunk).argmax(1) for chunk in images.split(1000)])
    return (predictions == labels).float().mean().item()


def train(epochs: int = 12, batch_size: int = 128, seed: int = 0) -> dict:
    """Train the classifier on whatever MNIST is on disk, save the weights and digit check, return its card."""
    seed_everything(seed)
    data = _split(seed, training_split=has_split("train"))
    train_x, train_y, test_x, test_y = data.train_x, data.train_y, data.test_x, data.test_y

    model = MNISTClassifier()
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * (len(train_x) // batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(train_x))
        for index in order[: steps // epochs * batch_size].view(-1, batch_size):
            loss = F.cross_entropy(model(_random_shift(train_x[index])), train_y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1}/{epochs}: held-out accuracy {accuracy(model, test_x, test_y):.4f}")
    card = {
        "trained_on": data.trained_on,
        "tested_on": data.tested_on,
        "seed": seed,
        "accuracy": round(accuracy(model, test_x, test_y), 4),
        "epochs": epochs,
        "seconds": round(time.perf_counter() - start, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    ASSETS.mkdir(exist_ok=True)
    torch.save(model.state_dict(), WEIGHTS)
    check, card["digit_check"] = _fit_digit_check(model, data)
    check.save(DIGIT_CHECK)
    CARD.write_text(json.dumps(card, indent=2) + "\n")
    return card


def refit_digit_check() -> dict:
    """Recompute the digit check of the saved weights on the card's split; update the card and return its entry."""
    card = json.loads(CARD.read_text())
    data = _split(card["seed"], training_split=card["trained_on"] == TRAINING_SPLIT)
    check, entry = _fit_digit_check(load_classifier.__wrapped__("cpu"), data)
    check.save(DIGIT_CHECK)
    card["digit_check"] = entry
    CARD.write_text(json.dumps(card, indent=2) + "\n")
    return entry


def main(argv: list[str] | None = None) -> None:
    """Command line: re-train the classifier and its digit check, or (``--stats-only``) the digit check alone."""
    parser = argparse.ArgumentParser(prog="python -m gancourse.classifier",
                                     description="Re-train the metric classifier.")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0, help="training seed (--stats-only reuses the card's)")
    parser.add_argument("--stats-only", action="store_true",
                        help="keep the saved weights; only recompute the digit check's statistics and thresholds")
    arguments = parser.parse_args(argv)
    if arguments.stats_only:
        print(json.dumps(refit_digit_check(), indent=2))
    else:
        print(json.dumps(train(arguments.epochs, seed=arguments.seed), indent=2))


if __name__ == "__main__":
    main()
