"""Peak memory (RSS) predicting 1024^2, 2048^2 and 4096^2 outputs, pssr_nb beside PSSR2.

    python benchmarks/bench_memory.py --pssr2-python /tmp/pssr2-venv/bin/python

Each prediction runs in its own process (untrained weights, a simulated EM LR
scan tiled to a quarter of the output size). pssr_nb predicts with its default
settings and writes float32; PSSR2 makes one forward pass over the whole
image and returns 8 bits, as its ``predict_images`` does. The table gives the
peak RSS, the RSS before predicting (Python, torch and the model), the output
arrays (the float32 prediction and its copy in the requested type; for PSSR2 its
float32 output tensor and the 8-bit image), and the growth beyond those: constant
growth means working memory does not scale with the image. PSSR2 is skipped above ``--pssr2-max`` (its whole-image
pass needs about 16 GB at 4096^2).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from harness import machine, print_table, pssr2_python, run_worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pssr2-python", help="PSSR2 venv's python (or set $PSSR2_PYTHON)")
    parser.add_argument("--sizes", default="1024,2048,4096", help="output sizes")
    parser.add_argument("--presets", default="small")
    parser.add_argument("--pssr2-max", type=int, default=2048, help="largest output for PSSR2")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    peer = pssr2_python(args.pssr2_python)
    work = Path(tempfile.mkdtemp(prefix="pssr_nb_memory_"))
    from pssr_nb.phantoms import simulate

    rows, results = [], []
    scan = simulate("em", (1024, 1024), seed=7).lr.astype(np.float32) / 255
    for size in (int(s) for s in args.sizes.split(",")):
        lr_path = work / f"lr_{size}.npy"
        reps = -(-size // 4 // scan.shape[0])  # speed and memory do not depend on content
        np.save(lr_path, np.tile(scan, (reps, reps))[: size // 4, : size // 4])
        cases = [("pssr_nb " + p, "pssr_nb", {"preset": p}) for p in args.presets.split(",")]
        if peer and size <= args.pssr2_max:
            cases.append(("PSSR2 default", "pssr2", {}))
        for name, package, extra in cases:
            spec = {"package": package, "task": "infer", "device": args.device}
            spec.update(input=str(lr_path), **extra)
            r = run_worker(spec, peer if package == "pssr2" else None)
            print(name, size, json.dumps(r), flush=True)
            results.append({"name": name, "size": size, **r})
            if "error" in r:
                rows.append({"case": name, "output": f"{size}^2", "error": r["error"]})
                continue
            rows.append(
                {
                    "case": name,
                    "output": f"{size}^2",
                    "seconds": r["seconds"],
                    "peak_rss_mb": r["peak_rss_mb"],
                    "rss_before_mb": r["rss_before_mb"],
                    "outputs_mb": r["prediction_mb"] + r["output_mb"],
                    "growth_beyond_outputs_mb": r["peak_rss_mb"]
                    - r["rss_before_mb"]
                    - r["prediction_mb"]
                    - r["output_mb"],
                }
            )
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine(), "results": results}, indent=2))


if __name__ == "__main__":
    main()
