"""How good are the samples? A Fréchet distance in the space of a pretrained MNIST classifier, and a digit summary.

Inception-based FID needs internet weights and 299-pixel images; on MNIST the honest equivalent measures
the distance between real and generated feature statistics of a good digit classifier (``gancourse.classifier``).
Lower is better; read it against :func:`calibration`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from gancourse.classifier import load_classifier


def _check_images(images: torch.Tensor) -> torch.Tensor:
    if not isinstance(images, torch.Tensor) or images.shape[1:] != (1, 28, 28):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ValueError(f"expected MNIST-shaped images (N, 1, 28, 28) in [-1, 1], got {shape}")
    if images.dtype == torch.uint8:
        raise TypeError("expected float images in [-1, 1]; convert uint8 pixels with data.to_model_range")
    if not torch.isfinite(images).all():
        raise ValueError("images contain NaN or infinity")
    return images.detach().float()


@torch.no_grad()
def _classify(images: torch.Tensor, batch_size: int = 100) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (features (N, 128) float64, class probabilities (N, 10)) on the CPU."""
    images = _check_images(images)
    model = load_classifier(str(images.device))
    features, probabilities = [], []
    for chunk in images.split(batch_size):  # small channels-last batches: 4-5x faster on a CPU than 1,000
        h = model.features(chunk.contiguous(memory_format=torch.channels_last))
        features.append(h.double().cpu())
        probabilities.append(F.softmax(model.head(h), dim=1).cpu())
    return torch.cat(features), torch.cat(probabilities)


def feature_statistics(images: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the classifier features of `images`."""
    return _gaussian_fit(_classify(images)[0])


def _gaussian_fit(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    features = features.numpy()
    if len(features) < 2:
        raise ValueError("need at least 2 images to estimate a covariance")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix via its eigendecomposition."""
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, cov1) and N(mu2, cov2).

    ``|mu1 - mu2|^2 + tr(cov1 + cov2 - 2 (cov1 cov2)^(1/2))``. The trace of the cross term is computed as
    ``tr((s1 cov2 s1)^(1/2))`` with ``s1 = cov1^(1/2)``: a symmetric matrix, so no complex parts arise.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    cov1, cov2 = np.atleast_2d(cov1).astype(np.float64), np.atleast_2d(cov2).astype(np.float64)
    if mu1.shape != mu2.shape or cov1.shape != cov2.shape or cov1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shape mismatch: means {mu1.shape}, {mu2.shape}; covariances {cov1.shape}, {cov2.shape}")
    s1 = _psd_sqrt(cov1)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(s1 @ cov2 @ s1), 0.0, None)).sum()
    distance = float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2.0 * cross)
    return max(distance, 0.0)


def mnist_fd(real: torch.Tensor, fake: torch.Tensor) -> float:
    """Fréchet distance between real and generated digits in the classifier's feature space."""
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))


class DigitScorer:
    """Scores generated digits against fixed real statistics: ``{"FD": ..., "digits drawn": ...}``."""

    def __init__(self, real: torch.Tensor, n: int = 2000) -> None:
        self.n = min(n, len(real))
        self.real_statistics = feature_statistics(real[: self.n])

    def __call__(self, fake: torch.Tensor) -> dict[str, float]:
        """FD against the real statistics, and the number of digit classes drawn."""
        features, probabilities = _classify(fake)  # one pass of the classifier serves both
        return {
            "FD": frechet_distance(*self.real_statistics, *_gaussian_fit(features)),
            "digits drawn": _summarise(probabilities).classes_drawn,
        }


@dataclass
class DigitSummary:
    """Which digits a generator draws, according to the classifier."""

    classes_drawn: int
    class_share: list[float] = field(repr=False)
    confidence: float
    confident_fraction: float

    def __str__(self) -> str:
        shares = " ".join(f"{d}:{s:4.0%}" for d, s in enumerate(self.class_share))
        return (f"{self.classes_drawn}/10 digits drawn, mean confidence {self.confidence:.2f}, "
                f"{self.confident_fraction:.0%} confident  [{shares}]")


def digit_summary(fake: torch.Tensor, threshold: float = 0.9, min_share: float = 0.01) -> DigitSummary:
    """Summarise samples: a digit counts as drawn when at least `min_share` of them are it with p >= `threshold`."""
    return _summarise(_classify(fake)[1], threshold, min_share)


def _summarise(probabilities: torch.Tensor, threshold: float = 0.9, min_share: float = 0.01) -> DigitSummary:
    confidence, label = probabilities.max(dim=1)
    confident = confidence >= threshold
    share = torch.bincount(label[confident], minlength=10).double() / len(probabilities)
    return DigitSummary(
        classes_drawn=int((share >= min_share).sum()),
        class_share=[round(s, 4) for s in share.tolist()],
        confidence=confidence.mean().item(),
        confident_fraction=confident.double().mean().item(),
    )


def _blur(images: torch.Tensor, sigma: float = 1.5) -> torch.Tensor:
    radius = int(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = (kernel / kernel.sum()).view(1, 1, 1, -1)
    padded = F.pad(images, [radius] * 4, mode="replicate")
    return F.conv2d(F.conv2d(padded, kernel), kernel.transpose(2, 3))


def calibration(real: torch.Tensor, n: int = 2000, seed: int = 0) -> dict[str, float]:
    """Reference values of :func:`mnist_fd` for `n` samples: real vs other real, blurred real, and noise."""
    real = _check_images(real)
    if len(real) < 2 * n:
        raise ValueError(f"calibration needs at least {2 * n} real images, got {len(real)}")
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(real), generator=generator).to(real.device)
    half_a, half_b = real[order[:n]], real[order[n : 2 * n]]
    noise = torch.rand(half_b.shape, generator=generator).to(real.device) * 2 - 1
    reference = feature_statistics(half_a)
    return {
        "real vs other real": frechet_distance(*reference, *feature_statistics(half_b)),
        "real vs blurred real": frechet_distance(*reference, *feature_statistics(_blur(half_b))),
        "real vs uniform noise": frechet_distance(*reference, *feature_statistics(noise)),
    }
