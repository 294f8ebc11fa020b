"""Benchmark notebook 03's experiment on this machine: every loss on the same wall-clock budget, several seeds.

    python benchmarks/bench_03_losses.py                 # 7 losses x 3 seeds x 30 s of training: ~13 minutes
    python benchmarks/bench_03_losses.py --little-data   # the 500-image experiment too: ~5 more minutes

It runs the notebook's own code (the reference solution's exercises, the given DCGAN and train_step, the SETUPS
of its experiment cell) exactly as the notebook's training cells do, and prints for every loss the final Fréchet
distance (1,000 samples), the digit classes drawn, the generator updates and the wall time, per seed and averaged.
"""
from __future__ import annotations

import argparse
import statistics
import time
import warnings
from pathlib import Path

import nbformat

from gancourse.data import MNISTFallbackWarning
from gancourse.experiments import compare

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "03_losses" / "losses.ipynb"
GIVEN = ["imports", "given_models", "given_gan", "data", "setups", "little_data_setups"]


def notebook_namespace() -> dict:
    """Run the notebook's imports, given code, exercises (reference solution) and experiment setups, in order."""
    namespace: dict = {"__name__": "bench_03"}
    for cell in nbformat.read(SOLUTION, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("grade_id") in GIVEN or meta.get("solution")):
            exec(compile(cell.source, f"{SOLUTION.name}#{meta['grade_id']}", "exec"), namespace)
    return namespace


def run(nb: dict, setups: dict, images, seeds: list[int], seconds: float) -> dict[str, list[dict]]:
    """Train every setup for `seconds` per seed; return name -> one result per seed."""
    results: dict[str, list[dict]] = {name: [] for name in setups}
    for seed in seeds:
        for name, setup in setups.items():
            started = time.perf_counter()
            runs = compare({name: setup}, images, batch_size=nb["BATCH_SIZE"], latent_dim=nb["LATENT_DIM"],
                           seconds=seconds, scorer=nb["scorer"], device=nb["DEVICE"], seed=seed,
                           metric_every=nb["SCORE_EVERY"], n_samples=nb["N_SCORED"])
            history = runs[name].history
            results[name].append({"seed": seed, "FD": history.metrics["FD"][-1],
                                  "digits": history.metrics["digits drawn"][-1], "steps": history.step,
                                  "train_s": history.train_seconds, "wall_s": time.perf_counter() - started})
    return results


def report(title: str, results: dict[str, list[dict]]) -> None:
    width = max(map(len, results))
    print(f"\n{title}")
    print(f"{'setup':<{width}}  seed       FD  digits  G updates  train s  wall s")
    for name, rows in results.items():
        for r in rows:
            print(f"{name:<{width}}  {r['seed']:4d}  {r['FD']:7.1f}  {r['digits']:6.0f}  {r['steps']:9d}  "
                  f"{r['train_s']:7.1f}  {r['wall_s']:6.1f}")
    print(f"\n{'setup':<{width}}  FD (mean ± sd)   digits (mean, min-max)  G updates  wall s")
    for name, rows in results.items():
        fds, digits = [r["FD"] for r in rows], [r["digits"] for r in rows]
        spread = statistics.stdev(fds) if len(fds) > 1 else 0.0
        print(f"{name:<{width}}  {statistics.mean(fds):7.1f} ± {spread:5.1f}  {statistics.mean(digits):5.1f} "
              f"({min(digits):.0f}-{max(digits):.0f})            {statistics.mean(r['steps'] for r in rows):9.0f}  "
              f"{statistics.mean(r['wall_s'] for r in rows):6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--seconds", type=float, default=None, help="training seconds per loss (default: the notebook's)")
    parser.add_argument("--little-data", action="store_true", help="also run the 500-image experiment")
    args = parser.parse_args()
    warnings.simplefilter("ignore", MNISTFallbackWarning)
    nb = notebook_namespace()
    seconds = args.seconds or nb["SECONDS"]
    print(f"device {nb['DEVICE']}; {seconds:g} s of training per loss; seeds {args.seeds}; FD on "
          f"{nb['N_SCORED']} samples every {nb['SCORE_EVERY']} s (excluded from the training time)")
    report("The losses", run(nb, nb["SETUPS"], nb["images"], args.seeds, seconds))
    if args.little_data:
        report("500 images (FD against all the images)", run(nb, nb["LITTLE_DATA"], nb["subset"], args.seeds, seconds))


if __name__ == "__main__":
    main()
