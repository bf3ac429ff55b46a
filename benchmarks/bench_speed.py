"""Training and inference throughput of pssr_nb's presets beside PSSR2's default, same inputs.

    python benchmarks/bench_speed.py --pssr2-python /tmp/pssr2-venv/bin/python

Training: steady-state HR pixels per second (steps after a warm-up), on 16
simulated 512 x 512 EM scans saved as 8-bit TIFFs that both packages read.
pssr_nb's presets train with their own defaults (on a CPU: batch 8 of 128 px
tiles, crappified on the fly); the large preset, PSSR2's architecture, also
trains at PSSR2's batch 4 of 512 px tiles, so its step time compares directly.
PSSR2 trains through its own ``train_paired`` with its CLI defaults.

Inference: output megapixels per second for a 512 x 512 LR image (2048 x 2048
output), untrained weights (speed does not depend on them), pssr_nb with its
default tiled prediction, PSSR2 with its whole-image forward pass. Each
measurement runs in its own process; peak RSS is that process's.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from harness import machine, phantom_training_set, print_table, pssr2_python, run_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pssr2-python", help="PSSR2 venv's python (or set $PSSR2_PYTHON)")
    parser.add_argument("--steps", type=int, default=40, help="timed steps of the fast presets")
    parser.add_argument("--large-steps", type=int, default=6, help="timed steps at 512 px tiles")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--presets", default="small,medium,large")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    peer = pssr2_python(args.pssr2_python)
    work = Path(tempfile.mkdtemp(prefix="pssr_nb_speed_"))
    images = str(phantom_training_set(work / "hr", 16))
    from pssr_nb.phantoms import simulate

    lr = simulate("em", (2048, 2048), seed=99).lr.astype(np.float32) / 255
    np.save(work / "lr.npy", lr)
    dev = args.device
    jobs = []
    for preset in args.presets.split(","):
        jobs.append(
            (f"pssr_nb {preset}", "pssr_nb", "train", {"preset": preset, "steps": args.steps})
        )
        if preset == "large":
            jobs.append(
                (
                    "pssr_nb large @ batch 4 x 512",
                    "pssr_nb",
                    "train",
                    {
                        "preset": "large",
                        "steps": args.large_steps + 3,
                        "batch": 4,
                        "tile": 512,
                        # whole 512 px images: hold out images, as PSSR2 does
                        "train_params": {"split_by": "image"},
                    },
                )
            )
        jobs.append((f"pssr_nb {preset}", "pssr_nb", "infer", {"preset": preset}))
    if peer:
        jobs.append(("PSSR2 default", "pssr2", "train", {"steps": args.large_steps + 3}))
        jobs.append(("PSSR2 default", "pssr2", "infer", {}))
    results = []
    for i, (name, package, task, extra) in enumerate(jobs):
        spec = {"package": package, "task": task, "device": dev, "images": images}
        spec.update(out=str(work / f"run_{i}"), input=str(work / "lr.npy"), **extra)
        result = run_worker(spec, peer if package == "pssr2" else None)
        print(name, task, json.dumps(result), flush=True)
        results.append({"name": name, "task": task, **result})
    rows = [_row(r) for r in results]
    print_table(rows)
    ratios = _ratios(results)
    for line in ratios:
        print(line)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"machine": machine(), "results": results, "ratios": ratios}, indent=2)
        )


def _row(r: dict) -> dict:
    if "error" in r:
        return {"case": r["name"], "task": r["task"], "error": r["error"]}
    row = {"case": r["name"], "task": r["task"]}
    if r["task"] == "train":
        row.update(
            batch=f"{r['batch']} x {r['tile']}px",
            step_s=r["step_s"],
            hr_kpx_per_s=r["hr_px_per_s"] / 1e3,
            parameters_M=r["parameters"] / 1e6,
        )
    else:
        row.update(seconds=r["seconds"], out_mp_per_s=r["out_mp_per_s"])
    row["peak_rss_mb"] = r["peak_rss_mb"]
    if r.get("gpu_peak_mb") is not None:
        row["gpu_peak_mb"] = r["gpu_peak_mb"]
    return row


def _ratios(results: list[dict]) -> list[str]:
    def find(name: str, task: str) -> dict | None:
        return next(
            (r for r in results if r["name"] == name and r["task"] == task and "error" not in r),
            None,
        )

    peer_train, peer_infer = find("PSSR2 default", "train"), find("PSSR2 default", "infer")
    if not (peer_train and peer_infer):
        return ["PSSR2 not measured: no ratios (pass --pssr2-python)."]
    lines = []
    small_t, small_i = find("pssr_nb small", "train"), find("pssr_nb small", "infer")
    if small_t and small_i:
        lines.append(
            f"default (small) vs PSSR2: training {small_t['hr_px_per_s'] / peer_train['hr_px_per_s']:.1f}x "
            f"HR px/s, inference {small_i['out_mp_per_s'] / peer_infer['out_mp_per_s']:.1f}x output MP/s"
            " (target >= 10x each)"
        )
    large_t, large_i = (
        find("pssr_nb large @ batch 4 x 512", "train"),
        find("pssr_nb large", "infer"),
    )
    if large_t and large_i:
        lines.append(
            f"large vs PSSR2 time ratio: training step {large_t['step_s'] / peer_train['step_s']:.2f}, "
            f"inference {large_i['seconds'] / peer_infer['seconds']:.2f} (target <= 1.0)"
        )
    return lines


if __name__ == "__main__":
    main()
