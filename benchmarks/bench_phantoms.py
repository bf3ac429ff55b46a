"""Time the phantom generator: 4x HR/LR/truth sets in 2-D and as a time-lapse.

Run from the repository root:  python benchmarks/bench_phantoms.py
"""

from __future__ import annotations

import os
import platform
import time

import torch

from pssr_nb import __version__
from pssr_nb.phantoms import simulate

CASES = [
    ("em", (512, 512), 1, "T"),
    ("fluorescence", (512, 512), 1, "T"),
    ("target", (512, 512), 1, "T"),
    ("fluorescence", (256, 256), 10, "T"),
    ("em", (256, 256), 10, "Z"),
]


def main() -> None:
    print(
        f"pssr_nb {__version__}, python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}"
    )
    print(f"{'specimen':14s} {'HR shape':>12s} {'frames':>6s}  best of 3 (s)")
    for specimen, shape, frames, axis in CASES:
        best = min(_time(specimen, shape, frames, axis) for _ in range(3))
        print(f"{specimen:14s} {str(shape):>12s} {frames:>6d}  {best:.2f}")


def _time(specimen: str, shape: tuple[int, int], frames: int, axis: str) -> float:
    start = time.perf_counter()
    simulate(specimen, shape, 4, frames=frames, frame_axis=axis, seed=0)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
