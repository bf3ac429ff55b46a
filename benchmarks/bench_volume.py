"""Chunked prediction of a volume on Dask against single-process prediction.

Run from the repository root (needs ``pip install -e ".[scale]"``):

    python benchmarks/bench_volume.py --side 512 --planes 4 8

For each volume size (``planes`` LR planes of ``side`` x ``side`` px, a synthetic EM
volume made of two simulated fields shifted from plane to plane), it measures:

- single process: ``predict_image`` plane by plane, in memory (torch on every core);
- ``predict_volume`` from OME-Zarr to OME-Zarr in this process (``sync``), for volumes
  of at most ``--sync-up-to`` planes;
- ``predict_volume`` on a ``LocalCluster`` of 2 single-threaded workers, with each
  worker's peak resident memory;
- at the first size, a ``kill -9`` of one cluster worker half-way (the CLI in a
  subprocess), and whether the result is complete and equal to the uninterrupted one.

Throughput is output megapixels per second. Targets (issue "Scale"): the cluster at
>= 90 % of single-process throughput, peak memory per worker flat as the volume grows,
and the killed run complete and identical.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil
import zarr

from pssr_nb.model_file import load_sample_model, sample_model_path
from pssr_nb.phantoms import simulate
from pssr_nb.predict import PredictParams, predict_image
from pssr_nb.volume import DONE_FOLDER, VolumeParams, predict_volume, save_ome_zarr


def make_volume(side: int, planes: int, bases: list[np.ndarray]) -> np.ndarray:
    return np.stack(
        [np.roll(bases[k % len(bases)], (37 * k, 53 * k), axis=(0, 1)) for k in range(planes)]
    )


def single_process(model, lr: np.ndarray, params: PredictParams) -> float:
    """Seconds for ``predict_image`` over every plane, each converted to uint8 as written."""
    start = time.perf_counter()
    for plane in lr:
        predict_image(model, plane, params).to_dtype("same")
    return time.perf_counter() - start


def max_grey_difference(a: zarr.Array, b: zarr.Array) -> int:
    """Largest difference between two uint8 volumes, read plane by plane."""
    return max(int(np.abs(a[k].astype(int) - b[k].astype(int)).max()) for k in range(a.shape[0]))


def killed_run(source: Path, out: Path, block: int, tile: int, total: int) -> dict:
    """The CLI on a 2-worker cluster, one worker killed (SIGKILL) half-way."""
    run = subprocess.Popen(
        [sys.executable, "-m", "pssr_nb", "predict", str(source), "--out", str(out),
         "--block", str(block), "--tile", str(tile), "--no-pyramid",
         "--scheduler", "local", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    done, killed = out / DONE_FOLDER, None
    while killed is None and run.poll() is None:
        if done.is_dir() and len(list(done.iterdir())) >= total // 2:
            for p in psutil.Process(run.pid).children(recursive=True):
                line = " ".join(p.cmdline())
                if "spawn_main" in line and "resource_tracker" not in line:
                    killed = p.pid
                    p.kill()
                    break
        time.sleep(0.1)
    _, err = run.communicate()
    return {"killed_pid": killed, "returncode": run.returncode, "stderr": err[-500:]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", type=int, default=512, help="LR plane side in px")
    parser.add_argument("--planes", type=int, nargs="+", default=[4, 8])
    parser.add_argument("--block", type=int, default=1024, help="output block side (HR px)")
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument(
        "--sync-up-to", type=int, default=64,
        help="run the in-process (sync) pass only for volumes of at most this many planes",
    )  # fmt: skip
    args = parser.parse_args()

    model = load_sample_model("em_x4")
    params = PredictParams(tile=args.tile)
    print(f"simulating 2 fields of {args.side * 4} px ...", flush=True)
    bases = [simulate("em", (args.side * 4,) * 2, scale=4, seed=s).lr for s in (0, 1)]
    work = Path(tempfile.mkdtemp(prefix="bench_volume_"))
    rows = []
    try:
        for i, planes in enumerate(args.planes):
            lr = make_volume(args.side, planes, bases)
            source = save_ome_zarr(
                lr, work / f"in_{planes}.ome.zarr", "ZYX", {"X": 16.0, "Y": 16.0}, chunk=512
            )
            mpx = lr.size * 16 / 1e6
            t_single = single_process(model, lr, params)
            cluster = predict_volume(
                sample_model_path(), source, work / f"local_{planes}.ome.zarr", params,
                VolumeParams(block=args.block, scheduler="local", workers=2, pyramid=False),
                progress=False,
            )  # fmt: skip
            b = zarr.open_array(str(work / f"local_{planes}.ome.zarr" / "0"))
            row = {
                "planes": planes,
                "output_mpx": round(mpx, 1),
                "output_mb": round(b.nbytes / 1e6, 1),
                "single_seconds": round(t_single, 1),
                "single_mpx_s": round(mpx / t_single, 3),
                "cluster_seconds": cluster["seconds"],
                "cluster_start_seconds": cluster["start_seconds"],
                "cluster_mpx_s": round(mpx / cluster["seconds"], 3),
                "cluster_vs_single": round(t_single / cluster["seconds"], 3),
                "worker_peak_rss_mb": sorted(cluster["peak_rss_mb"].values()),
                "cluster_complete": len(
                    list((work / f"local_{planes}.ome.zarr" / DONE_FOLDER).iterdir())
                )
                == cluster["blocks"],
            }
            if planes <= args.sync_up_to:
                sync = predict_volume(
                    model, source, work / f"sync_{planes}.ome.zarr", params,
                    VolumeParams(block=args.block, pyramid=False), progress=False,
                )  # fmt: skip
                a = zarr.open_array(str(work / f"sync_{planes}.ome.zarr" / "0"))
                row["sync_mpx_s"] = round(mpx / sync["seconds"], 3)
                # grey levels: the workers' torch runs on 1 thread, this process's on all cores
                row["sync_vs_cluster_max_grey"] = max_grey_difference(a, b)
            if i == 0:
                out = work / f"killed_{planes}.ome.zarr"
                killed = killed_run(source, out, args.block, args.tile, cluster["blocks"])
                c = zarr.open_array(str(out / "0"))
                row["killed"] = killed["killed_pid"] is not None
                row["killed_returncode"] = killed["returncode"]
                row["killed_complete"] = (
                    len(list((out / DONE_FOLDER).iterdir())) == cluster["blocks"]
                )
                row["killed_equals"] = max_grey_difference(c, b) == 0
                if killed["returncode"]:
                    row["killed_stderr"] = killed["stderr"]
            rows.append(row)
            shutil.rmtree(work / f"local_{planes}.ome.zarr", ignore_errors=True)
            print(row, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
