"""The baseline of the benchmarks: a GAN step written the usual way, and a steady-state throughput timer.

The usual way is the one of most tutorials: torchvision's MNIST with its per-image path (PIL image, ToTensor,
Normalize) behind a DataLoader, a Sigmoid on the discriminator with BCELoss, and plain Adam. The benchmarks give
it the course's own models, so that a ratio measures the plumbing, not the architecture.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import torch
import torch.nn as nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from gancourse.data import data_root, load_mnist


class TorchvisionMNIST(datasets.MNIST):
    """torchvision's MNIST with its usual per-image path, over the split gancourse loads.

    torchvision itself needs all four files uncompressed; offline only the test split may be here.
    """

    def _check_exists(self) -> bool:
        return True

    def _load_data(self):
        images, labels = load_mnist("train")
        return images[:, 0], labels


def usual_step(G: nn.Module, D: nn.Module, dev: torch.device, batch_size: int, latent_dim: int,
               lr: float, betas: tuple[float, float]) -> Callable[[], tuple[float, float]]:
    """One GAN step the usual way, for a generator and a discriminator that returns logits."""
    D = nn.Sequential(D, nn.Sigmoid())
    opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=betas)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    loader = DataLoader(TorchvisionMNIST(str(data_root()), transform=transform), batch_size=batch_size,
                        shuffle=True, drop_last=True)
    data = _endless(loader)
    criterion = nn.BCELoss()

    def step() -> tuple[float, float]:
        real = next(data)[0].to(dev)
        ones, zeros = torch.ones(len(real), device=dev), torch.zeros(len(real), device=dev)
        fake = G(torch.randn(len(real), latent_dim, device=dev))
        D.zero_grad()
        d_loss = criterion(D(real), ones) + criterion(D(fake.detach()), zeros)
        d_loss.backward()
        opt_D.step()
        G.zero_grad()
        g_loss = criterion(D(fake), ones)
        g_loss.backward()
        opt_G.step()
        return d_loss.item(), g_loss.item()

    return step


def _endless(loader: DataLoader):
    while True:
        yield from loader


def images_per_second(step: Callable[[], object], steps: int, batch_size: int, dev: torch.device,
                      warmup: int = 10) -> float:
    """Images per second of `step` over `steps` calls, after `warmup` calls (kernels, allocator, first batches)."""
    for _ in range(warmup):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch_size / (time.perf_counter() - started)
