"""One performance measurement in a fresh process, for pssr_nb or PSSR2; prints one JSON line.

The drivers (``bench_speed.py``, ``bench_memory.py``, ``bench_time_to_quality.py``)
start this script once per measurement, so the peak RSS it reports belongs to
that measurement alone. It runs under pssr_nb's Python or under PSSR2's venv
(which need not have pssr_nb installed): only the standard library, numpy,
tifffile and torch are imported at the top.

    python benchmarks/perf_worker.py '{"task": "infer", "package": "pssr_nb", ...}'

Tasks
-----
train    steady-state training throughput over ``steps`` steps on the TIFFs in ``images``
infer    one prediction of the LR array in ``input`` (a .npy file)
quality  train for ``minutes`` and save predictions of ``val`` LR images every ``every_s``
         seconds of training (evaluation time is not counted)
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB.

    Read from ``VmHWM``, which starts afresh at ``exec``; ``ru_maxrss`` would carry
    over the parent's peak into this child process.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def gpu_peak_mb(device: str) -> float | None:
    if device.startswith("cuda"):
        return torch.cuda.max_memory_allocated() / 2**20
    return None


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


class Stop(Exception):
    """Raised from a PSSR2 callback to end its training loop."""


# -- pssr_nb ---------------------------------------------------------------


def pssr_nb_train(spec: dict[str, Any]) -> dict[str, Any]:
    from pssr_nb.train import TrainParams, run

    params = TrainParams(
        preset=spec["preset"],
        steps=spec["steps"],
        batch_size=spec.get("batch", 0),
        tile=spec.get("tile", 0),
        val_tiles=2,
        validations=1,
        checkpoint_minutes=1e9,
        device=spec.get("device", "auto"),
        seed=0,
        **spec.get("train_params", {}),
    )
    result = run(params, spec["images"], spec["out"], progress=False)
    p = result.summary["params"]
    rows = [r for r in result.history if r["kind"] == "train"]
    warm = spec.get("warmup", 3)
    first, last = rows[warm - 1], rows[-1]
    steps = last["step"] - first["step"]
    seconds = last["seconds"] - first["seconds"]
    return {
        "step_s": seconds / steps,
        "hr_px_per_s": steps * p["batch_size"] * p["tile"] ** 2 / seconds,
        "batch": p["batch_size"],
        "tile": p["tile"],
        "parameters": result.summary["parameters"],
        "device": result.summary["device"],
    }


def pssr_nb_network(spec: dict[str, Any]):
    from pssr_nb.model_file import TrainedModel
    from pssr_nb.models import ResUNet, config_for

    torch.manual_seed(0)
    net = ResUNet(config_for(spec["preset"], scale=4)).eval()
    return TrainedModel(network=net, percentiles=(0.1, 99.9), crappifier={})


def pssr_nb_infer(spec: dict[str, Any]) -> dict[str, Any]:
    from pssr_nb.predict import PredictParams, predict_image

    model = pssr_nb_network(spec)
    lr = np.load(spec["input"])
    params = PredictParams(device=spec.get("device", "auto"), **spec.get("predict", {}))
    base = peak_rss_mb()
    start = time.perf_counter()
    prediction = predict_image(model, lr, params)
    out = prediction.to_dtype(spec.get("dtype", "float32"))
    sync(params.device)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "out_mp_per_s": out.size / seconds / 1e6,
        "output_shape": list(out.shape),
        "prediction_mb": prediction.data.nbytes / 2**20,
        "output_mb": out.nbytes / 2**20,
        "rss_before_mb": base,
    }


def pssr_nb_quality(spec: dict[str, Any]) -> dict[str, Any]:
    from pssr_nb.predict import PredictParams, predict_image
    from pssr_nb.train import TrainParams, run

    val = [np.load(p) for p in spec["val"]]
    out = Path(spec["out"])
    points = []

    def evaluate(model, row: dict[str, Any]) -> dict[str, Any]:
        preds = [
            predict_image(model, x, PredictParams(device=spec.get("device", "auto"))) for x in val
        ]
        path = out / f"pred_{len(points):03d}.npy"
        np.save(path, np.stack([p.normalization.invert(p.data, "float32") for p in preds]))
        points.append({"seconds": row["seconds"], "step": row["step"], "predictions": str(path)})
        return {}

    params = TrainParams(
        preset=spec.get("preset", "small"),
        minutes=spec["minutes"],
        validations=spec.get("validations", 10),
        device=spec.get("device", "auto"),
        seed=0,
    )
    result = run(params, spec["images"], out / "run", progress=False, on_validate=evaluate)
    return {"points": points, "steps": result.summary["steps"], "device": result.summary["device"]}


# -- PSSR2 -------------------------------------------------------------------


def pssr2_dataset(spec: dict[str, Any], val_split: float = 0.1):
    from pssr.data import ImageDataset

    return ImageDataset(
        spec["images"], hr_res=spec.get("tile", 512), lr_scale=4, val_split=val_split
    )


def pssr2_setup(spec: dict[str, Any]):
    """PSSR2's CLI defaults: ResUNet(), MS-SSIM/L1 mix 0.8, AdamW 1e-3, ExponentialLR 0.7."""
    from pssr.models import ResUNet
    from pssr.util import SSIMLoss

    torch.manual_seed(0)
    model = ResUNet()
    dataset = pssr2_dataset(spec)
    loss = SSIMLoss(channels=1, mix=0.8, win_size=min(_max_ssim_win(dataset.hr_res), 11))
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optim, 0.7)
    return model, dataset, loss, optim, scheduler


def pssr2_train_until_stopped(spec, model, dataset, loss, optim, scheduler, tick) -> None:
    """PSSR2's own ``train_paired``, ended by ``tick`` (called after each batch) raising Stop."""
    from pssr.train import train_paired

    try:
        train_paired(
            model,
            dataset,
            spec.get("batch", 4),
            loss,
            optim,
            epochs=10_000,
            device=spec.get("device", "cpu"),
            scheduler=scheduler,
            callbacks=[tick],
        )
    except Stop:
        pass


def _max_ssim_win(hr_res: int) -> int:  # as in pssr.__main__
    size = (hr_res - 1) // 16
    return size + 1 if size % 2 == 0 else size


def pssr2_train(spec: dict[str, Any]) -> dict[str, Any]:
    model, dataset, loss, optim, scheduler = pssr2_setup(spec)
    device = spec.get("device", "cpu")
    times: list[float] = []

    def tick() -> None:
        sync(device)
        times.append(time.perf_counter())
        if len(times) > spec["steps"]:
            raise Stop

    pssr2_train_until_stopped(spec, model, dataset, loss, optim, scheduler, tick)
    warm = spec.get("warmup", 3)
    step_s = (times[-1] - times[warm - 1]) / (len(times) - warm)
    batch, tile = spec.get("batch", 4), dataset.hr_res
    return {
        "step_s": step_s,
        "hr_px_per_s": batch * tile**2 / step_s,
        "batch": batch,
        "tile": tile,
        "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "device": device,
    }


def pssr2_infer(spec: dict[str, Any]) -> dict[str, Any]:
    """PSSR2's ``predict_images`` body: one forward pass over the whole LR image (8-bit units)."""
    from pssr.models import ResUNet
    from pssr.predict import _pred_array

    device = spec.get("device", "cpu")
    torch.manual_seed(0)
    model = ResUNet().to(device).eval()
    lr = np.load(spec["input"])
    base = peak_rss_mb()
    start = time.perf_counter()
    with torch.no_grad():
        x = torch.from_numpy(lr.astype(np.float32) * 255)[None, None].to(device)
        prediction = model(x)
        out = _pred_array(prediction)[0, 0]
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "out_mp_per_s": out.size / seconds / 1e6,
        "output_shape": list(out.shape),
        "prediction_mb": prediction.numel() * 4 / 2**20,
        "output_mb": out.nbytes / 2**20,
        "rss_before_mb": base,
    }


def pssr2_quality(spec: dict[str, Any]) -> dict[str, Any]:
    model, dataset, loss, optim, scheduler = pssr2_setup(spec)
    device = spec.get("device", "cpu")
    val = [np.load(p) for p in spec["val"]]
    out = Path(spec["out"])
    budget, every = spec["minutes"] * 60, spec["minutes"] * 60 / spec.get("validations", 10)
    points: list[dict[str, Any]] = []
    clock = {"start": time.perf_counter(), "paused": 0.0, "steps": 0}

    def evaluate() -> None:
        sync(device)
        pause = time.perf_counter()
        seconds = pause - clock["start"] - clock["paused"]
        model.eval()
        with torch.no_grad():
            preds = [
                model(torch.from_numpy(x.astype(np.float32) * 255)[None, None].to(device))
                for x in val
            ]
        model.train()
        path = out / f"pred_{len(points):03d}.npy"
        np.save(path, np.stack([p[0, 0].float().cpu().numpy() / 255 for p in preds]))
        points.append(
            {"seconds": round(seconds, 2), "step": clock["steps"], "predictions": str(path)}
        )
        clock["paused"] += time.perf_counter() - pause

    def tick() -> None:
        clock["steps"] += 1
        seconds = time.perf_counter() - clock["start"] - clock["paused"]
        if seconds >= every * len(points):
            evaluate()
        if seconds >= budget:
            raise Stop

    evaluate()
    pssr2_train_until_stopped(spec, model, dataset, loss, optim, scheduler, tick)
    return {"points": points, "steps": clock["steps"], "device": device}


TASKS = {
    ("pssr_nb", "train"): pssr_nb_train,
    ("pssr_nb", "infer"): pssr_nb_infer,
    ("pssr_nb", "quality"): pssr_nb_quality,
    ("pssr2", "train"): pssr2_train,
    ("pssr2", "infer"): pssr2_infer,
    ("pssr2", "quality"): pssr2_quality,
}


def main() -> None:
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec.get("threads", torch.get_num_threads()))
    result = TASKS[spec["package"], spec["task"]](spec)
    result.update(peak_rss_mb=peak_rss_mb(), gpu_peak_mb=gpu_peak_mb(spec.get("device", "cpu")))
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
