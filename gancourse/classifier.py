"""The small MNIST classifier behind the course's metrics, and the script that trains its weights.

Re-train with ``python -m gancourse.classifier``: it uses the training split when it is on disk (tested
on the test split), and otherwise the test split alone, holding out 2,000 images for the accuracy figure.
"""
from __future__ import annotations

import argparse
import json
import time
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from gancourse.data import has_split, load_mnist, to_model_range
from gancourse.runtime import seed_everything

ASSETS = Path(__file__).resolve().parent / "assets"
WEIGHTS = ASSETS / "mnist_classifier.pt"
CARD = ASSETS / "mnist_classifier.json"
FEATURE_DIM = 128


class MNISTClassifier(nn.Module):
    """A two-block CNN: 28x28 digits in [-1, 1] -> 128 features -> 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, FEATURE_DIM), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, 10))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the 128-dimensional penultimate features used by the Fréchet distance."""
        return self.body(x)

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
    """Train the classifier on whatever MNIST is on disk, save the weights and return its card."""
    seed_everything(seed)
    if has_split("train"):
        train_x, train_y = load_mnist("train", download=False)
        test_x, test_y = load_mnist("test", download=False)
        trained_on, tested_on = "MNIST training split (60,000)", "MNIST test split (10,000)"
    else:
        images, labels = load_mnist("test", download=False)
        order = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))
        train_x, train_y = images[order[2000:]], labels[order[2000:]]
        test_x, test_y = images[order[:2000]], labels[order[:2000]]
        trained_on = "8,000 images of the MNIST test split"
        tested_on = "the other 2,000 images of the MNIST test split (held out)"
    train_x, test_x = to_model_range(train_x), to_model_range(test_x)

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
        "trained_on": trained_on,
        "tested_on": tested_on,
        "accuracy": round(accuracy(model, test_x, test_y), 4),
        "epochs": epochs,
        "seconds": round(time.perf_counter() - start, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    ASSETS.mkdir(exist_ok=True)
    torch.save(model.state_dict(), WEIGHTS)
    CARD.write_text(json.dumps(card, indent=2) + "\n")
    return card


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m gancourse.classifier", description="Re-train the metric classifier.")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    print(json.dumps(train(**vars(parser.parse_args())), indent=2))
