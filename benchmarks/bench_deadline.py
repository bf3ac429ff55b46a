"""Does a time budget hold when the machine changes speed mid-run?

Run from the repository root:  python benchmarks/bench_deadline.py --minutes 2

Trains on EM phantoms with ``minutes`` as the budget three times: on an idle
machine, with a CPU burner (a second process doing matrix products on every core)
started a third of the way in, and with the burner running from the start and
stopped a third of the way in. Prints, for each, the steps, the training seconds
the run accounted and the wall time of the whole ``train.run`` call.
Target (issue "Quality", item 7): training time within ±5 % of the budget.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import tempfile
import threading
import time
from pathlib import Path

import torch

from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.train import TrainParams
from pssr_nb.train import run as train


def _burn(stop: mp.Event) -> None:
    torch.set_num_threads(os.cpu_count() or 1)
    a = torch.randn(512, 512)
    while not stop.is_set():
        a = torch.tanh(a @ a)


def _one(hr: Path, out: Path, minutes: float, scenario: str) -> dict[str, float]:
    stop = mp.Event()
    burner = mp.Process(target=_burn, args=(stop,), daemon=True)
    switch_at = minutes * 60 / 3
    if scenario == "slows down":
        threading.Timer(switch_at, burner.start).start()
    elif scenario == "speeds up":
        burner.start()
        threading.Timer(switch_at, stop.set).start()
    start = time.perf_counter()
    result = train(TrainParams(minutes=minutes, seed=0), hr, out, progress=False)
    wall = time.perf_counter() - start
    stop.set()
    if burner.is_alive():
        burner.join(timeout=10)
    s = result.summary
    return {"steps": s["steps"], "training_s": s["training_seconds"], "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pssr_nb_deadline_"))
    simulate(SimulateParams("em", size=256, scale=4, n_images=4), work / "phantoms")
    budget = args.minutes * 60
    print(f"budget {budget:.0f} s, {os.cpu_count()} CPUs, torch {torch.__version__}")
    for i, scenario in enumerate(("idle", "slows down", "speeds up")):
        r = _one(work / "phantoms" / "hr", work / f"run{i}", args.minutes, scenario)
        print(
            f"  {scenario:11s} {r['steps']:5d} steps  training {r['training_s']:6.1f} s "
            f"({100 * (r['training_s'] / budget - 1):+.1f} %)  wall {r['wall_s']:6.1f} s "
            f"({100 * (r['wall_s'] / budget - 1):+.1f} %)"
        )


if __name__ == "__main__":
    main()
