"""Benchmark notebook 04's experiment on this machine: a grid of runs (every setup x 3 seeds) at the full budget.

    python benchmarks/bench_04_mode_collapse.py                    # the ring of 8: about 1 minute
    python benchmarks/bench_04_mode_collapse.py --dist ring grid   # the ring, then the grid of 25
    python benchmarks/bench_04_mode_collapse.py --threads 2        # the same on 2 CPU threads (the plumbing uses 1)

It runs the notebook's own code (its imports, the given losses, networks and training steps, the reference
solution's metrics, pack and minibatch_stddev, and the SETUPS of its experiment cell) as the notebook's training
cells do, and prints, per distribution, the wall time of the grid of runs, every setup's generator steps per
second, and the table of modes, high-quality fraction and reverse KL next to the papers' numbers.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import nbformat

from gancourse import toy2d
from gancourse.mode_lab import results_table, run_grid

SOLUTION = Path(__file__).resolve().parents[1] / "solutions" / "04_mode_collapse" / "mode_collapse.ipynb"
GIVEN = ["imports", "given_losses", "given_networks", "given_steps", "setups"]
DISTRIBUTIONS = {"ring": toy2d.ring, "grid": toy2d.grid}


def notebook_namespace(path: Path) -> dict:
    """Run the notebook's imports, given code, exercises (reference solution) and experiment setups, in order."""
    namespace: dict = {"__name__": "bench_04"}
    found = set()
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and (meta.get("grade_id") in GIVEN or meta.get("solution")):
            exec(compile(cell.source, f"{path.name}#{meta['grade_id']}", "exec"), namespace)
            found.add(meta["grade_id"])
    missing = [cell for cell in GIVEN if cell not in found]
    if missing:
        raise SystemExit(f"{path} has no code cell with grade_id {missing}: the benchmark runs those cells")
    return namespace


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", nargs="+", choices=sorted(DISTRIBUTIONS), default=["ring"])
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="default: the notebook's SEEDS")
    parser.add_argument("--threads", type=int, default=1, help="PyTorch CPU threads while training (default 1)")
    parser.add_argument("--notebook", type=Path, default=SOLUTION, help="the source notebook to take the code from")
    args = parser.parse_args()
    nb = notebook_namespace(args.notebook)
    seeds = args.seeds or nb["SEEDS"]
    print(f"device {nb['DEVICE']}; {args.threads} CPU thread(s); {nb['STEPS']} generator steps per run; seeds {seeds}; "
          f"load average before: {os.getloadavg()[0]:.2f}")
    runs = []
    for name in args.dist:
        started = time.perf_counter()
        grid = run_grid(nb["SETUPS"], [DISTRIBUTIONS[name]()], seeds=seeds, steps=nb["STEPS"],
                        batch_size=nb["BATCH_SIZE"], latent_dim=nb["LATENT_DIM"], score=nb["score"],
                        device=nb["DEVICE"], cpu_threads=args.threads)
        seconds = time.perf_counter() - started
        print(f"\n{name}: {len(grid)} runs in {seconds:.1f} s (load average now {os.getloadavg()[0]:.2f}); "
              "generator steps per second, training and scoring included:")
        for setup in nb["SETUPS"]:
            per_run = statistics.mean(r.seconds for r in grid if r.setup == setup)
            print(f"  {setup:<22}{nb['STEPS'] / per_run:8.0f} steps/s  ({per_run:.1f} s per run)")
        runs += grid
    print()
    print(results_table(runs))


if __name__ == "__main__":
    main()
