"""How often the benchmark's registration check cries wolf, and how often it catches a wolf.

Run from the repository root::

    python benchmarks/bench_registration.py --images 30

On fresh phantoms of each specimen the LR is interpolated by bicubic onto the HR grid,
once at the position it was acquired (aligned: no geometry error, so every flag is a
false alarm) and once with the sampling offset wrong by 0.5 and by 1.5 HR pixels (1.5 is
what taking a point-sampled x4 LR for a binned one does). Each output's shift against the
truth and its error come from :func:`pssr_nb.registration.shift_with_error`; the table
gives the share flagged by the rule the benchmark uses (:func:`shift_is_real`: beyond
0.1 px and beyond Student's t for four quadrants times the error) and by the normal
factor 2 it replaced.
"""

from __future__ import annotations

import argparse

import numpy as np

from pssr_nb.benchmark import SHIFT_LIMIT_PX
from pssr_nb.phantoms import default_microscope, simulate
from pssr_nb.registration import shift_is_real, shift_with_error
from pssr_nb.sampling import upsample

#: Interpolation offsets tried, in HR pixels, against the true 0.
OFFSETS = {"aligned": 0.0, "offset wrong by 0.5 px": 0.5, "offset wrong by 1.5 px": 1.5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1000)
    args = parser.parse_args()
    print("| specimen | bicubic | median shift (px) | median error (px) | flagged | factor 2 |")
    print("|---|---|---|---|---|---|")
    for specimen in ("em", "fluorescence"):
        measured: dict[str, list[tuple[float, float]]] = {name: [] for name in OFFSETS}
        for seed in range(args.seed, args.seed + args.images):
            ps = simulate(specimen, (256, 256), 4, 1, "T", seed, default_microscope(specimen))
            lr = ps.normalization("lr").apply(ps.lr).astype(np.float32)
            for name, offset in OFFSETS.items():
                dy, dx, error = shift_with_error(upsample(lr, 4, offset, "bicubic"), ps.truth)
                measured[name].append((float(np.hypot(dy, dx)), error))
        for name, pairs in measured.items():
            shifts, errors = np.array(pairs).T
            rule = np.mean([shift_is_real(s, e, SHIFT_LIMIT_PX) for s, e in pairs])
            old = np.mean((shifts > SHIFT_LIMIT_PX) & (shifts > 2 * errors))
            print(
                f"| {specimen} | {name} | {np.median(shifts):.2f} | {np.median(errors):.2f} | "
                f"{rule:.0%} | {old:.0%} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
