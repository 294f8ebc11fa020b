"""Benchmark notebook 02 (DCGAN) on this machine.

    python benchmarks/bench_02_dcgan.py throughput   # the course's DCGAN step vs the usual way, and each ingredient
    python benchmarks/bench_02_dcgan.py quality      # the full training budget, 3 seeds: time to 10 classes, FD

Both use the reference solution's DCGANGenerator, DCGANDiscriminator and weights_init, and the notebook's given
train_step, at the sizes of its training cell. Every throughput arm runs in a fresh process, so that one arm's
allocator settings (gancourse.runtime.tune_allocator) cannot leak into another; figures are ratios within one run.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import nbformat
import torch

from gancourse import device, runtime, seed_everything
from gancourse.data import Batches, MNISTFallbackWarning, load_mnist, to_model_range
from usual_way import images_per_second, usual_step

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "02_dcgan" / "dcgan.ipynb"
LATENT_DIM, FEATURE_MAPS, BATCH_SIZE, LEARNING_RATE = 100, 32, 64, 2e-3
ADAM_BETAS = (0.5, 0.999)
FULL_STEPS = 1500  # as in the notebook's training cell (tests/test_notebook_02.py checks that they agree)
warnings.simplefilter("ignore", MNISTFallbackWarning)

ARMS = {  # name: (how the data and losses are done, channels_last, tuned allocator)
    "usual": ("usual", False, False),
    "usual + allocator": ("usual", False, True),
    "course, NCHW, default allocator": ("course", False, False),
    "course + channels_last": ("course", True, False),
    "course + channels_last + allocator": ("course", True, True),
}
NOTEBOOK_ARM = "course + channels_last + allocator"  # the step as the notebook runs it


def notebook(tune: bool) -> dict:
    """The solution's imports and exercises, plus its given train_step. Its first cell calls tune_allocator():
    for an untuned arm that call is replaced by one that changes nothing."""
    from gancourse.nbtools import exercise_namespace

    if not tune:
        runtime.tune_allocator = lambda: False
    namespace = exercise_namespace(SOLUTION)
    given = next(c for c in nbformat.read(SOLUTION, as_version=4).cells
                 if c.metadata.get("nbgrader", {}).get("grade_id") == "given_gan")
    exec(compile(given.source, "given_gan", "exec"), namespace)
    return namespace


def models(nb: dict, dev: torch.device, channels_last: bool, feature_maps: int = FEATURE_MAPS):
    seed_everything(0)
    G = nb["DCGANGenerator"](LATENT_DIM, feature_maps).to(dev)
    D = nb["DCGANDiscriminator"](feature_maps=feature_maps).to(dev)
    G.apply(nb["weights_init"])
    D.apply(nb["weights_init"])
    if channels_last:
        G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    return G, D


def course_step(nb: dict, dev: torch.device, channels_last: bool, batch_size: int, feature_maps: int):
    """The notebook's training: preloaded Batches, its train_step (losses from logits), fused Adam."""
    G, D = models(nb, dev, channels_last, feature_maps)
    opt_G = torch.optim.Adam(G.parameters(), lr=LEARNING_RATE, betas=ADAM_BETAS, fused=True)
    opt_D = torch.optim.Adam(D.parameters(), lr=LEARNING_RATE, betas=ADAM_BETAS, fused=True)
    batches = Batches(load_mnist("train")[0], batch_size, device=dev)
    layout = torch.channels_last if channels_last else torch.contiguous_format
    return lambda: nb["train_step"](G, D, opt_G, opt_D, next(batches).contiguous(memory_format=layout), LATENT_DIM)


def usual(nb: dict, dev: torch.device, channels_last: bool, batch_size: int, feature_maps: int):
    """The same models the usual way (benchmarks/usual_way.py): torchvision MNIST + DataLoader, Sigmoid + BCELoss."""
    G, D = models(nb, dev, channels_last, feature_maps)
    return usual_step(G, D, dev, batch_size, LATENT_DIM, LEARNING_RATE, ADAM_BETAS)


def convolution_ms(step, steps: int = 30) -> float:
    """Milliseconds per call of `step` spent in convolutions, forward and backward (PyTorch's profiler)."""
    from torch.profiler import profile

    with profile() as prof:
        for _ in range(steps):
            step()
    kernels = ("aten::convolution", "aten::convolution_backward")
    return sum(e.cpu_time_total for e in prof.key_averages() if e.key in kernels) / steps / 1e3


def run_arm(args) -> None:
    """One arm in this (fresh) process: print its images per second (for the notebook's arm, also the time its
    convolutions take) as JSON."""
    way, channels_last, tune = ARMS[args.arm]
    tuned = runtime.tune_allocator() if tune else False
    dev = device()
    nb = notebook(tune)
    step = (course_step if way == "course" else usual)(nb, dev, channels_last, args.batch_size, args.feature_maps)
    rate = images_per_second(step, args.steps, args.batch_size, dev)
    convolutions = convolution_ms(step) if args.arm == NOTEBOOK_ARM else None
    print(json.dumps({"images_per_second": rate, "allocator_tuned": tuned, "convolution_ms": convolutions}))


def throughput(args) -> None:
    dev = device()
    print(f"device {dev}, {torch.get_num_threads()} threads, DCGAN with feature_maps={args.feature_maps}, batch "
          f"{args.batch_size}, {args.steps} steps per run, median of {args.repeats} alternating runs, "
          "each in a fresh process")
    rates: dict[str, list[float]] = {name: [] for name in ARMS}
    convolutions: list[float] = []
    for _ in range(args.repeats):
        for name in ARMS:
            command = [sys.executable, __file__, "_arm", name, "--steps", str(args.steps),
                       "--batch-size", str(args.batch_size), "--feature-maps", str(args.feature_maps)]
            result = subprocess.run(command, capture_output=True, text=True, check=True)
            arm = json.loads(result.stdout.strip().splitlines()[-1])
            rates[name].append(arm["images_per_second"])
            if name == NOTEBOOK_ARM:
                convolutions.append(arm["convolution_ms"])
    usual = statistics.median(rates["usual"])
    for name, values in rates.items():
        rate = statistics.median(values)
        print(f"{name:36s} {rate:8.0f} images/s  {1e3 * args.batch_size / rate:7.1f} ms/step  {rate / usual:5.2f}x")
    course = statistics.median(rates[NOTEBOOK_ARM])
    print(f"speed-up of the course's step over the usual way: {course / usual:.2f}x")
    usual_ms, convolution = 1e3 * args.batch_size / usual, statistics.median(convolutions)
    print(f"the course's step spends {convolution:.1f} ms in convolutions, which both ways run: however fast the "
          f"rest, it could be at most {usual_ms:.1f} / {convolution:.1f} = {usual_ms / convolution:.2f}x as fast as "
          "the usual way")


def quality(args) -> None:
    """The notebook's training cell for each seed: metrics every `every` steps, then 2,000 samples scored."""
    from gancourse.metrics import DigitScorer, digit_summary
    from gancourse.train import evaluating, fit

    nb = notebook(tune=True)  # the notebook's first cell tunes the allocator, and so does this run
    dev = device()
    images = load_mnist("train")[0]
    scorer = DigitScorer(to_model_range(images).to(dev))
    print(f"device {dev}; allocator tuned: {runtime.tune_allocator()}; {args.steps} steps of batch {BATCH_SIZE}, "
          f"feature_maps {FEATURE_MAPS}, lr {LEARNING_RATE}; FD on 1,000 samples every {args.every} steps "
          "(training seconds exclude the metric)")
    finals = []
    for seed in args.seeds:
        seed_everything(seed)
        G, D = models(nb, dev, channels_last=True)
        opt_G = torch.optim.Adam(G.parameters(), lr=LEARNING_RATE, betas=ADAM_BETAS, fused=True)
        opt_D = torch.optim.Adam(D.parameters(), lr=LEARNING_RATE, betas=ADAM_BETAS, fused=True)
        batches = Batches(images, BATCH_SIZE, device=dev, seed=seed)

        def generate(n):
            with evaluating(G), torch.no_grad():
                return G(nb["sample_noise"](n, LATENT_DIM, dev))

        started = time.perf_counter()
        history = fit(lambda real: nb["train_step"](G, D, opt_G, opt_D,
                                                    real.contiguous(memory_format=torch.channels_last), LATENT_DIM),
                      batches, args.steps, metric_fn=lambda: scorer(generate(1000)), metric_every=args.every)
        final = generate(2000)
        wall = time.perf_counter() - started
        print(f"\nseed {seed}: {history.step} steps, {history.train_seconds:.0f} s training, {wall:.0f} s wall")
        print("   step  train_s       FD  digits")
        for i, step in enumerate(history.metric_steps):
            print(f"  {step:5d}  {history.metric_seconds[i]:7.1f}  {history.metrics['FD'][i]:7.1f}  "
                  f"{history.metrics['digits drawn'][i]:6.0f}")
        all_ten = [s for s, d in zip(history.metric_seconds, history.metrics["digits drawn"]) if d == 10]
        summary = digit_summary(final)
        ten = all_ten[0] if all_ten else None
        finals.append((seed, history.train_seconds, ten, scorer(final)["FD"], summary, wall))
        print(f"  final (2,000 samples): FD {finals[-1][3]:.1f}; {summary}")
    print("\nseed  train_s  10 classes at (train s)      FD  digits  confident  wall_s")
    for seed, train_s, ten, fd, summary, wall in finals:
        ten_text = f"{ten:8.1f}" if ten is not None else "   never"
        print(f"{seed:4d}  {train_s:7.0f}  {ten_text:>24s}  {fd:6.1f}  {summary.classes_drawn:6d}  "
              f"{summary.confident_fraction:9.0%}  {wall:6.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    tp = commands.add_parser("throughput", help="the course's DCGAN step vs the usual way")
    tp.add_argument("--steps", type=int, default=100)
    tp.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    tp.add_argument("--repeats", type=int, default=3)
    tp.add_argument("--feature-maps", type=int, default=FEATURE_MAPS, help="64: the architecture's default width")
    tp.set_defaults(run=throughput)
    arm = commands.add_parser("_arm", help=argparse.SUPPRESS)
    arm.add_argument("arm", choices=list(ARMS))
    arm.add_argument("--steps", type=int, default=100)
    arm.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    arm.add_argument("--feature-maps", type=int, default=FEATURE_MAPS)
    arm.set_defaults(run=run_arm)
    q = commands.add_parser("quality", help="time-to-quality of the full budget")
    q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    q.add_argument("--steps", type=int, default=FULL_STEPS)
    q.add_argument("--every", type=int, default=200)
    q.set_defaults(run=quality)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
