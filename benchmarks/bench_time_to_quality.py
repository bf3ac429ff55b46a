"""Validation PSNR against training wall time, pssr_nb's default beside PSSR2's, same data.

    python benchmarks/bench_time_to_quality.py --data phantoms --minutes 10 \\
        --pssr2-python /tmp/pssr2-venv/bin/python
    python benchmarks/bench_time_to_quality.py --data em --minutes 10 \\
        --pssr2-python /tmp/pssr2-venv/bin/python

Both packages train with their default settings on the same 8-bit TIFFs for
the same wall-time budget; every ``minutes / 10`` of training each saves its
predictions of the same held-out LR images (time spent predicting is not
counted), and this script scores them all the same way: CARE-normalised PSNR
against the reference (the prediction is fitted onto the reference by a gain
and offset, so neither package's intensity scaling counts).

Data
----
phantoms  16 simulated 512 x 512 EM HR scans train; 4 held-out phantoms' own 4x
          LR scans are predicted and scored against their noiseless truth.
em        ISBI 2012 ssTEM slices 0-11 (../shared/data) train; slices 12-14 are
          degraded twice, scored against the HR slice: ``point`` samples every 4th
          pixel (a point scan at 4x the pixel size: pssr_nb's model) and ``area``
          averages 4 x 4 blocks (PSSR2's bilinear downscaling is close to this); both
          then get Poisson noise at 60 photons at full intensity.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
import tifffile
from harness import (
    SHARED_DATA,
    machine,
    phantom_training_set,
    print_table,
    pssr2_python,
    run_worker,
    to_uint8,
)

EM_STACK = SHARED_DATA / "isbi2012_sstem_stack" / "isbi2012_train_volume_z00-14_15x512x512.tif"
PHOTONS = 60.0


def phantom_data(work: Path) -> tuple[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]]:
    from pssr_nb.phantoms import simulate

    images = phantom_training_set(work / "hr", 16)
    pairs = []
    for seed in range(1000, 1004):
        ph = simulate("em", (512, 512), seed=seed)
        pairs.append((to_uint8(ph.lr).astype(np.float32) / 255, ph.truth))
    return str(images), {"phantom LR scan vs truth": pairs}


def em_data(work: Path) -> tuple[str, dict[str, list[tuple[np.ndarray, np.ndarray]]]]:
    if not EM_STACK.is_file():
        raise SystemExit(f"{EM_STACK} not found: --data em needs ../shared/data")
    stack = tifffile.imread(EM_STACK)
    folder = work / "hr"
    folder.mkdir(parents=True)
    for z in range(12):
        tifffile.imwrite(folder / f"slice_{z:02d}.tif", stack[z])
    rng = np.random.default_rng(0)
    sets: dict[str, list] = {"point": [], "area": []}
    for z in (12, 13, 14):
        hr = stack[z].astype(np.float32) / 255
        h, w = hr.shape
        point = hr[::4, ::4]
        area = hr.reshape(h // 4, 4, w // 4, 4).mean(axis=(1, 3))
        for name, clean in (("point", point), ("area", area)):
            noisy = rng.poisson(clean * PHOTONS) / PHOTONS
            sets[name].append((to_uint8(noisy).astype(np.float32) / 255, hr))
    return str(folder), sets


def score(points: list[dict], pairs: list[tuple[np.ndarray, np.ndarray]], first: int) -> list:
    from pssr_nb.metrics import care_normalize, psnr

    out = []
    for p in points:
        preds = np.load(p["predictions"])[first : first + len(pairs)]
        values = [
            psnr(*care_normalize(pred, ref), 1.0)
            for pred, (_, ref) in zip(preds, pairs, strict=True)
        ]
        out.append({"seconds": p["seconds"], "step": p["step"], "psnr": float(np.mean(values))})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=("phantoms", "em"), default="phantoms")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--pssr2-python", help="PSSR2 venv's python (or set $PSSR2_PYTHON)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    peer = pssr2_python(args.pssr2_python)
    work = Path(tempfile.mkdtemp(prefix="pssr_nb_ttq_"))
    images, sets = (phantom_data if args.data == "phantoms" else em_data)(work)
    val_paths = []
    for name, pairs in sets.items():
        for i, (lr, _) in enumerate(pairs):
            val_paths.append(str(work / f"val_{name.split()[0]}_{i}.npy"))
            np.save(val_paths[-1], lr)
    packages = [("pssr_nb (small preset)", "pssr_nb", None)]
    if peer:
        packages.append(("PSSR2 (ResUNet default)", "pssr2", peer))
    curves: dict[str, dict[str, list]] = {}
    for label, package, python in packages:
        out = work / package
        out.mkdir()
        spec = {"package": package, "task": "quality", "images": images, "val": val_paths}
        spec.update(minutes=args.minutes, out=str(out), device=args.device)
        r = run_worker(spec, python)
        if "error" in r:
            print(label, "failed:", r["error"])
            continue
        print(label, f"{r['steps']} steps, peak RSS {r['peak_rss_mb']:.0f} MB", flush=True)
        first = 0
        curves[label] = {}
        for name, pairs in sets.items():
            curves[label][name] = score(r["points"], pairs, first)
            first += len(pairs)
    rows = []
    for name in sets:
        for label, by_set in curves.items():
            for p in by_set[name]:
                rows.append({"validation": name, "package": label, **p})
    print_table(rows)
    for line in compare(curves, sets):
        print(line)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": machine(), "data": args.data, "curves": curves}, indent=2)
        )


def compare(curves: dict, sets: dict) -> list[str]:
    """At each of PSSR2's evaluation times: ours at our last evaluation no later than that."""
    ours, peer = "pssr_nb (small preset)", "PSSR2 (ResUNet default)"
    if ours not in curves or peer not in curves:
        return []
    lines = []
    for name in sets:
        wins = []
        for p in curves[peer][name]:
            mine = [q for q in curves[ours][name] if q["seconds"] <= p["seconds"]]
            wins.append(bool(mine) and mine[-1]["psnr"] > p["psnr"])
        lines.append(
            f"{name}: pssr_nb ahead at {sum(wins)} of {len(wins)} PSSR2 evaluation times"
            f" (final: {curves[ours][name][-1]['psnr']:.2f} vs {curves[peer][name][-1]['psnr']:.2f} dB)"
        )
    return lines


if __name__ == "__main__":
    main()
