"""Benchmark notebook 01 on this machine.

    python benchmarks/bench_01_vanilla_gan.py throughput   # course step vs the common way, images/s
    python benchmarks/bench_01_vanilla_gan.py quality      # time-to-quality of the full budget, 3 seeds

Both use the models and train_step of the reference solution (solutions/01_vanilla_gan), run exactly as the
notebook's training cell runs them; figures are ratios within one run, never compared across machines.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import torch

from gancourse import device, seed_everything
from gancourse.data import Batches, MNISTFallbackWarning, load_mnist, to_model_range
from gancourse.metrics import DigitScorer, digit_summary
from gancourse.nbtools import exercise_namespace
from gancourse.train import evaluating, fit
from usual_way import images_per_second, usual_step

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "01_vanilla_gan" / "vanilla_gan.ipynb"
LATENT_DIM, BATCH_SIZE, FULL_STEPS = 64, 128, 6000  # as in the notebook's training cell
nb = exercise_namespace(SOLUTION)
warnings.simplefilter("ignore", MNISTFallbackWarning)


def course_models(dev: torch.device):
    """Generator, Discriminator and their Adam optimizers, as the notebook builds them."""
    G, D = nb["Generator"](LATENT_DIM).to(dev), nb["Discriminator"]().to(dev)
    opt_G = torch.optim.Adam(G.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    opt_D = torch.optim.Adam(D.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=True)
    return G, D, opt_G, opt_D


def course_way(steps: int, batch_size: int, dev: torch.device) -> float:
    """Images/s of the course: preloaded tensor batches, logits losses, fused Adam."""
    seed_everything(0)
    G, D, opt_G, opt_D = course_models(dev)
    batches = Batches(load_mnist("train")[0], batch_size, device=dev)
    step = lambda: nb["train_step"](G, D, opt_G, opt_D, next(batches), LATENT_DIM)
    return images_per_second(step, steps, batch_size, dev, warmup=20)


def common_way(steps: int, batch_size: int, dev: torch.device) -> float:
    """Images/s of the same models the common way: torchvision MNIST + ToTensor + DataLoader, Sigmoid + BCELoss, Adam."""
    seed_everything(0)
    G, D = nb["Generator"](LATENT_DIM).to(dev), nb["Discriminator"]().to(dev)
    step = usual_step(G, D, dev, batch_size, LATENT_DIM, lr=2e-4, betas=(0.5, 0.999))
    return images_per_second(step, steps, batch_size, dev, warmup=20)


def throughput(args) -> None:
    dev = device()
    print(f"device {dev}, {torch.get_num_threads()} threads, batch {args.batch_size}, {args.steps} steps, "
          f"median of {args.repeats} alternating runs")
    course, common = [], []
    for _ in range(args.repeats):
        common.append(common_way(args.steps, args.batch_size, dev))
        course.append(course_way(args.steps, args.batch_size, dev))
    a, b = statistics.median(common), statistics.median(course)
    print(f"common way (DataLoader + ToTensor, Sigmoid + BCELoss, Adam): {a:8.0f} images/s "
          f"({1e3 / a:.3f} ms/image)")
    print(f"course way (preloaded Batches, logits, fused Adam):          {b:8.0f} images/s "
          f"({1e3 / b:.3f} ms/image)")
    print(f"speed-up: {b / a:.2f}x")


def quality(args) -> None:
    dev = device()
    images = load_mnist("train")[0]
    scorer = DigitScorer(to_model_range(images).to(dev))
    print(f"device {dev}; full budget {args.steps} steps of batch {BATCH_SIZE}; FD on 1,000 samples every "
          f"{args.every} steps (training seconds exclude the metric)")
    finals = []
    for seed in args.seeds:
        seed_everything(seed)
        G, D, opt_G, opt_D = course_models(dev)
        batches = Batches(images, BATCH_SIZE, device=dev, seed=seed)

        def generate(n):
            with evaluating(G), torch.no_grad():
                return G(nb["sample_noise"](n, LATENT_DIM, dev))

        started = time.perf_counter()
        history = fit(lambda real: nb["train_step"](G, D, opt_G, opt_D, real, LATENT_DIM), batches, args.steps,
                      metric_fn=lambda: scorer(generate(1000)), metric_every=args.every)
        wall = time.perf_counter() - started
        print(f"\nseed {seed}: {history.step} steps, {history.train_seconds:.0f} s training, {wall:.0f} s wall")
        print("   step  train_s       FD  digits")
        for i, step in enumerate(history.metric_steps):
            print(f"  {step:5d}  {history.metric_seconds[i]:7.1f}  {history.metrics['FD'][i]:7.1f}  "
                  f"{history.metrics['digits drawn'][i]:6.0f}")
        final = generate(2000)
        summary = digit_summary(final)
        finals.append((seed, wall, scorer(final)["FD"], summary))
        print(f"  final (2,000 samples): FD {finals[-1][2]:.1f}; {summary}")
    print("\nseed  wall_s      FD  digits  confident")
    for seed, wall, fd, summary in finals:
        print(f"{seed:4d}  {wall:6.0f}  {fd:6.1f}  {summary.classes_drawn:6d}  {summary.confident_fraction:9.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    tp = commands.add_parser("throughput", help="course step vs the common way")
    tp.add_argument("--steps", type=int, default=200)
    tp.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    tp.add_argument("--repeats", type=int, default=3)
    tp.set_defaults(run=throughput)
    q = commands.add_parser("quality", help="time-to-quality of the full budget")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--steps", type=int, default=FULL_STEPS)
    q.add_argument("--every", type=int, default=500)
    q.set_defaults(run=quality)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
