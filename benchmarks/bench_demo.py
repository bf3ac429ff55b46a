"""Time the quickstart (``pssr-nb demo`` with its defaults) and print the held-out scores.

Run from the repository root:  python benchmarks/bench_demo.py
Target (issue "Quality"): under 5 minutes on 2 CPU cores, model >= best baseline + 1.0 dB.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from pssr_nb import __version__


def main() -> None:
    out = Path(tempfile.mkdtemp(prefix="pssr_nb_demo_")) / "demo"
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pssr_nb", "demo", "--out", str(out)],
        check=True,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    report = json.loads((out / "report.json").read_text())
    print(
        f"pssr_nb {__version__}, python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"wall time {wall:.0f} s; training {report['training']['steps']} steps")
    for method, s in report["summary"].items():
        print(
            f"  {method:20s} PSNR {s['psnr_mean']:6.2f} ± {s['psnr_sd']:.2f}  SSIM {s['ssim_mean']:.3f}"
        )
    print(report["headline"]["text"])


if __name__ == "__main__":
    main()
