"""Shared pieces of the performance benchmarks: inputs, worker processes, machine facts."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

WORKER = Path(__file__).with_name("perf_worker.py")
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO / ".." / "shared" / "data"


def pssr2_python(given: str | None) -> str | None:
    """The Python of PSSR2's venv: ``--pssr2-python``, else ``$PSSR2_PYTHON``, else None."""
    path = given or os.environ.get("PSSR2_PYTHON")
    if path and not Path(path).is_file():
        raise SystemExit(f"{path} is not a Python interpreter; see benchmarks/README.md")
    return path


def run_worker(spec: dict[str, Any], python: str | None = None) -> dict[str, Any]:
    """Run one measurement in a fresh process; returns its result or ``{"error": ...}``."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [python or sys.executable, str(WORKER), json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": " | ".join(tail) or f"exit code {proc.returncode}"}


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Stretch an image's 0.1-99.9 percentiles to 0-255 (PSSR2 reads 8-bit images only)."""
    low, high = np.percentile(image, (0.1, 99.9))
    return np.clip((image - low) / max(high - low, 1e-6) * 255, 0, 255).round().astype(np.uint8)


def phantom_training_set(folder: Path, n: int, size: int = 512, seed: int = 0) -> Path:
    """``n`` simulated EM HR scans of ``size``^2 as 8-bit TIFFs: the training data of both."""
    from pssr_nb.phantoms import simulate

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        hr = simulate("em", (size, size), seed=seed + i).hr
        tifffile.imwrite(folder / f"em_{i:02d}.tif", to_uint8(hr))
    return folder


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def print_table(rows: list[dict[str, Any]]) -> None:
    """A Markdown table, ready to paste into RESULTS.md."""
    keys = list(dict.fromkeys(k for r in rows for k in r))
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for r in rows:
        cells = [
            f"{v:.4g}" if isinstance(v, float) else "" if v is None else str(v)
            for v in (r.get(k) for k in keys)
        ]
        print("| " + " | ".join(cells) + " |")
