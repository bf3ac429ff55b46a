"""Inference: super-resolve images and stacks of any size with a trained model.

Each image is normalised with the model's percentiles, cut into overlapping
tiles (see :mod:`pssr_nb.tiling`), passed through the network in batches and
mapped back to file units. Stacks are processed plane by plane; a model with
``k`` input frames sees a sliding window of ``k`` neighbouring frames
(mirrored at the ends), so the output has as many frames as the input.

Test-time augmentation (``tta=True``) averages the predictions for the 8
flips and rotations of the input and returns their standard deviation as a
per-pixel uncertainty map. A flip moves where LR samples sit on the HR grid
(sample ``i`` at ``s*i + offset`` becomes ``s*i + s - 1 - offset``), so each
flipped prediction is shifted back by ``s - 1 - 2*offset`` HR pixels before
it is averaged; without that, TTA would blur every edge.
"""

from __future__ import annotations

import dataclasses
import json
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from . import __version__
from .data import DIHEDRAL, Source, dihedral, frame_window, inverse_dihedral
from .devices import autocast_for, resolve_device
from .errors import InputError, OutOfMemory
from .files import atomic_path, output_folder, refuse_to_replace
from .io import (
    ImageData,
    image_files,
    output_paths,
    read_image,
    super_resolved_pixel_size,
    write_tiff,
)
from .model_choice import MODEL_HELP, open_model
from .model_file import TrainedModel
from .normalize import Normalization
from .params import Checked, param, setting_error, to_dict
from .sampling import DOWNSAMPLE_MODES, flip_shift
from .tiling import apply_tiled
from .units import input_normalization

__all__ = [
    "OUTPUT_DTYPES",
    "PIXEL_SIZE_TOLERANCE",
    "REPORT",
    "before_after",
    "predict_file",
    "predict_image",
    "predict_normalized",
    "Prediction",
    "PredictInputs",
    "PredictParams",
    "run",
    "summary_rows",
    "tile_function",
    "warn_if_pixel_size_differs",
]

OUTPUT_DTYPES = ("same", "float32", "uint16", "uint8")


@dataclasses.dataclass
class PredictInputs(Checked):
    """What to predict: the model and the LR images (notebook 04, ``pssr-nb predict``)."""

    model: str = param("", MODEL_HELP)
    images: tuple[str, ...] = param(
        (),
        "LR image files or one folder to super-resolve. Empty (notebook): the LR images "
        "recorded in notebook 01, else the held-out sample scans.",
        positional=True,
    )
    axes: str = param("", "Override the axes the files declare, e.g. ZYX; empty: the files'.")


@dataclasses.dataclass
class PredictParams(Checked):
    """Settings of inference (the infer notebook's form and ``pssr-nb predict``)."""

    #: Quick mode (CI, a first look): the starting values a form takes instead.
    QUICK: ClassVar[dict[str, Any]] = {"tta": True}

    tile: int = param(
        128, "Tile size in LR pixels; larger is faster but needs more memory.", minimum=8
    )
    overlap: int = param(
        16, "Overlap of neighbouring tiles in LR pixels, blended smoothly.", minimum=0
    )
    batch_size: int = param(8, "Tiles per forward pass.", minimum=1)
    tta: bool = param(
        False, "Average the 8 flips/rotations and write their spread as an uncertainty map."
    )
    dtype: str = param(
        "same",
        "Output pixel type (mapped back through the input's normalisation).",
        choices=OUTPUT_DTYPES,
    )
    sampling: str = param(
        "",
        "How the LR images were sampled, when not as the model learned: decimate (a point "
        "scan, one sample per pixel) or area (each pixel averages its block: binning, an "
        "integrating detector). Empty: as the model learned.",
        choices=("", *DOWNSAMPLE_MODES),
    )
    suffix: str = param("_pssr", "Appended to each input's name for the output file.")
    overwrite: bool = param(False, "Replace existing output files.")
    device: str = param("auto", "auto, cpu, cuda or mps.")
    amp: bool = param(True, "Mixed precision on CUDA.")

    def check_together(self) -> None:
        if self.overlap >= self.tile:
            raise setting_error(self, "overlap", f"smaller than tile = {self.tile}")


@dataclasses.dataclass
class Prediction:
    """A super-resolved image in the library's normalised units.

    Attributes
    ----------
    data : ndarray
        float32, the input's axes with Y and X ``scale`` times larger.
    uncertainty : ndarray or None
        Per-pixel standard deviation over the 8 TTA transforms (normalised units).
    axes : str
    normalization : Normalization
        Maps ``data`` back to the input's units (:meth:`to_dtype`).
    pixel_size : dict
        Nanometres per pixel of the output.
    """

    data: np.ndarray
    uncertainty: np.ndarray | None
    axes: str
    normalization: Normalization
    pixel_size: dict[str, float]

    def to_dtype(self, dtype: str = "same") -> np.ndarray:
        """The prediction in file units: the input's dtype, float32, uint16 or uint8."""
        if dtype not in OUTPUT_DTYPES:
            raise InputError(f"Unknown output dtype {dtype!r}.", fix=f"Use one of {OUTPUT_DTYPES}.")
        target = self.normalization.dtype if dtype == "same" else dtype
        if np.dtype(target).kind == "f":
            target = "float32"
        return self.normalization.invert(self.data, target)


def _dihedral_prediction(net: torch.nn.Module, x: torch.Tensor, k: int) -> torch.Tensor:
    """``net`` applied in the ``k``-th dihedral frame, returned in the original frame and grid."""
    c = net.config
    s, d = c.scale, flip_shift(c.scale, c.offset)
    fy, fx, _ = DIHEDRAL[k]
    pads = {}
    for axis, flipped in (("y", fy), ("x", fx)):
        pads[axis] = (0, 1) if flipped and d > 0 else (1, 0) if flipped and d < 0 else (0, 0)
    xp = F.pad(x, (*pads["x"], *pads["y"]), mode="replicate") if any(map(any, pads.values())) else x
    y = inverse_dihedral(net(dihedral(xp, k)), k)
    h, w = x.shape[-2] * s, x.shape[-1] * s
    y0 = s * pads["y"][0] + (d if fy else 0)
    x0 = s * pads["x"][0] + (d if fx else 0)
    return y[..., y0 : y0 + h, x0 : x0 + w]


def tile_function(net: torch.nn.Module, device: torch.device, tta: bool = False, amp: bool = True):
    """The batch function :func:`~pssr_nb.tiling.apply_tiled` calls: numpy tiles in, maps out."""
    autocast, _ = autocast_for(device, amp)
    transforms = range(8) if tta else [0]
    if tta and flip_shift(net.config.scale, net.config.offset) is None:
        transforms = [k for k in range(8) if not any(DIHEDRAL[k][:2])]

    def fn(tiles: np.ndarray) -> tuple[np.ndarray, ...]:
        x = torch.from_numpy(np.ascontiguousarray(tiles, dtype=np.float32)).to(device)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.no_grad(), autocast:
            outs = torch.stack([_dihedral_prediction(net, x, k).float() for k in transforms])
        mean = outs.mean(0)[:, 0].cpu().numpy()
        if not tta:
            return (mean,)
        return mean, outs.std(0, unbiased=False)[:, 0].cpu().numpy()

    return fn


def predict_normalized(
    model: TrainedModel,
    plane: np.ndarray,
    params: PredictParams | None = None,
    out: tuple[np.ndarray, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Apply the network to input already in its units, skipping the per-image normalisation.

    For inputs already in the network's units: a crappified, normalised HR mapped by
    ``model.training_units`` (as the flat-noise hallucination check does, where measuring
    the image itself would stretch pure noise to full contrast), or an LR plane mapped by
    its :func:`~pssr_nb.units.input_normalization` (as :func:`predict_image` does).

    Parameters
    ----------
    model : TrainedModel
    plane : ndarray
        ``(frames, h, w)`` or, for a single-frame model, ``(h, w)``, in normalised units.
    params : PredictParams, optional
    out : tuple of ndarray, optional
        ``(H, W)`` float32 arrays to write the prediction (and uncertainty) into.

    Returns
    -------
    (ndarray, ndarray or None)
        The ``(H, W)`` prediction and, with ``params.tta``, its uncertainty.
    """
    params = params or PredictParams()
    device = resolve_device(params.device)
    net = model.network.to(device, memory_format=torch.channels_last).eval()
    plane = np.asarray(plane, np.float32)
    plane = plane[None] if plane.ndim == 2 else plane
    if plane.shape[0] != net.config.frames:
        raise InputError(
            f"This model takes {net.config.frames} frames, got {plane.shape[0]}.",
            fix="Give one plane per input frame of the model.",
        )
    fn = tile_function(net, device, params.tta, params.amp)
    tile, batch = params.tile, params.batch_size
    while True:
        try:
            maps = apply_tiled(
                fn,
                plane,
                net.config.scale,
                tile,
                params.overlap,
                batch,
                2 if params.tta else 1,
                net.config.multiple,
                out,
            )
            return maps[0], (maps[1] if params.tta else None)
        except torch.cuda.OutOfMemoryError:
            if device.type == "cuda":
                torch.cuda.empty_cache()
            tile, batch = _smaller(tile, batch, params.overlap, net.config.multiple)
            warnings.warn(
                f"Out of GPU memory: retrying with tile {tile} and batch size {batch}. "
                "Set these in the settings to skip the failed attempt next time.",
                stacklevel=2,
            )


def _smaller(tile: int, batch: int, overlap: int, multiple: int) -> tuple[int, int]:
    """Halve the batch, then the tile; raise :class:`OutOfMemory` when neither can shrink."""
    if batch > 1:
        return tile, batch // 2
    if tile // 2 > max(overlap, multiple):
        return tile // 2, batch
    raise OutOfMemory(
        f"Out of memory even with one tile of {tile} px per batch.",
        fix="Run on the CPU (device='cpu'), free the GPU (restart the runtime), or reduce "
        "the overlap.",
    )


#: How far an image's pixel size may be from the model's before prediction warns.
PIXEL_SIZE_TOLERANCE = 0.25


def warn_if_pixel_size_differs(model: TrainedModel, image: ImageData) -> str | None:
    """Warn when the image's pixels are not the size the model was trained on.

    A model learns structures of a given size in pixels: fed 4 nm pixels it was trained
    on 16 nm pixels, it sees every structure four times too large. Returns the warning,
    or None when both sizes agree within :data:`PIXEL_SIZE_TOLERANCE` or one is unknown.
    """
    ours, theirs = image.pixel_size_xy, model.pixel_size_nm
    if not ours or not theirs or abs(ours / theirs - 1) <= PIXEL_SIZE_TOLERANCE:
        return None
    text = (
        f"{image.path or 'image'}: its pixels are {ours:g} nm but the model was trained on "
        f"{theirs:g} nm LR pixels ({ours / theirs:.2g}x); it may not restore this image well. "
        f"Resample the image to {theirs:g} nm pixels, or use a model trained at this size."
    )
    warnings.warn(text, stacklevel=3)
    return text


def predict_image(
    model: TrainedModel,
    image: ImageData | np.ndarray,
    params: PredictParams | None = None,
    axes: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Prediction:
    """Super-resolve an image or stack held in memory.

    Parameters
    ----------
    model : TrainedModel
    image : ImageData or ndarray
        A 2-D image or a stack (``TYX``, ``ZYX``, ``TZYX`` ...); a bare array needs ``axes``
        unless it is 2-D.
    params : PredictParams, optional
    axes : str, optional
        Axes of a bare array.
    progress : callable, optional
        ``progress(done, total)`` after each plane (a front end's progress bar); an
        exception it raises stops the prediction (a cancel button).
    """
    params = params or PredictParams()
    model = model.at_sampling(params.sampling)
    if isinstance(image, np.ndarray):
        image = ImageData(image, axes or ("YX" if image.ndim == 2 else ""), {})
    try:
        norm = input_normalization(image.data, model.percentiles, model.input_smoothing)
    except InputError as exc:  # name the file (an all-NaN image, say)
        raise InputError(exc.problem, path=exc.path or image.path, fix=exc.fix) from None
    warn_if_pixel_size_differs(model, image)
    src = Source(image, normalization=norm)
    c = model.config
    if c.frames > 1 and src.n_frames < c.frames:
        raise InputError(
            f"This model uses {c.frames} neighbouring frames but the image has "
            f"{src.n_frames} along {src.frame_axis or 'no frame axis'} ({image.axes}).",
            path=image.path,
            fix="Give a time-lapse or z-stack, or use a single-frame model.",
        )
    view = src.stack_view()
    n_stacks, n_frames, h, w = view.shape
    s = c.scale
    out = np.empty((n_stacks, n_frames, h * s, w * s), np.float32)
    unc = np.empty_like(out) if params.tta else None
    for i in range(n_stacks):
        for t in range(n_frames):
            frames = frame_window(t, c.frames, n_frames) if c.frames > 1 else [t]
            targets = (out[i, t],) if unc is None else (out[i, t], unc[i, t])
            predict_normalized(model, src.normalization.apply(view[i, frames]), params, targets)
            if progress is not None:
                progress(i * n_frames + t + 1, n_stacks * n_frames)
    if not np.isfinite(out).all():  # input NaNs cannot reach here (they become background)
        raise InputError(
            "The model produced NaN or infinite values for this image.",
            path=image.path,
            fix="Predict on the CPU or with amp=False (half precision can overflow); if that "
            "does not help, the model file is broken: use another one.",
        )
    return Prediction(
        data=src.from_stack_view(out),
        uncertainty=None if unc is None else src.from_stack_view(unc),
        axes=image.axes,
        normalization=src.normalization,
        pixel_size=super_resolved_pixel_size(image.pixel_size, s),
    )


def predict_file(
    model: TrainedModel,
    path: str | Path,
    out_dir: str | Path,
    params: PredictParams | None = None,
    axes: str | None = None,
    *,
    targets: Sequence[Path] | None = None,
) -> dict[str, Any]:
    """Super-resolve one image file into ``out_dir``; never overwrites the input.

    ``targets`` are the output and uncertainty paths when :func:`run` has already planned
    them for a whole folder (:func:`pssr_nb.io.output_paths`).

    Returns
    -------
    dict
        Input, output (and uncertainty) paths, shapes and seconds.
    """
    params = params or PredictParams()
    start = time.perf_counter()
    path = Path(path)
    target, unc_target = targets or output_paths([path], out_dir, _suffixes(params))[0]
    for t in (target, unc_target) if params.tta else (target,):
        refuse_to_replace(
            t,
            params.overwrite,
            "Refusing to overwrite an existing output file.",
            "Choose another output folder, or set overwrite=True (--overwrite).",
        )
    image = read_image(path, axes=axes)
    pred = predict_image(model, image, params)
    write_tiff(
        target, pred.to_dtype(params.dtype), pred.axes, pred.pixel_size, overwrite=params.overwrite
    )
    record = {
        "input": str(path),
        "output": str(target),
        "input_shape": list(image.shape),
        "output_shape": list(pred.data.shape),
        "axes": pred.axes,
        "pixel_size_nm": pred.pixel_size,
    }
    if pred.uncertainty is not None:
        sd = (pred.uncertainty * pred.normalization.span).astype(np.float32)
        write_tiff(unc_target, sd, pred.axes, pred.pixel_size, overwrite=params.overwrite)
        record["uncertainty"] = str(unc_target)
    record["seconds"] = round(time.perf_counter() - start, 3)
    return record


#: The record of a prediction run, written beside its outputs.
REPORT = "predict.json"


def _suffixes(params: PredictParams) -> list[str]:
    """The name endings of a prediction and of its uncertainty map."""
    return [params.suffix, params.suffix + "_uncertainty"]


def run(
    params: PredictParams,
    model_path: str | Path,
    inputs: str | Path | Sequence[str | Path],
    out_dir: str | Path,
    axes: str | None = None,
) -> dict[str, Any]:
    """Super-resolve a file, a list of files or every image of a folder.

    Writes the images and ``predict.json`` (settings, model, per-file records) to ``out_dir``.
    A file that cannot be used (damaged, wrong shape for the model) is skipped with a
    warning and listed under ``"failed"``; the other files are still written. A folder
    that holds the report of an earlier prediction is refused unless ``params.overwrite``.
    """
    report_path = Path(out_dir) / REPORT
    if report_path.exists() and not params.overwrite:
        raise InputError(
            "This folder holds the results of an earlier prediction (predict.json).",
            path=report_path,
            fix="Choose a new output folder, or replace them with --overwrite "
            "(overwrite=True in the form).",
        )
    model = open_model(model_path).at_sampling(params.sampling)  # once, not per file
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    files = [f for p in inputs for f in image_files(p)]
    planned = output_paths(files, out_dir, _suffixes(params))
    output_folder(out_dir)
    start = time.perf_counter()
    records, failed = [], []
    for f, targets in zip(files, planned, strict=True):
        try:
            records.append(predict_file(model, f, out_dir, params, axes, targets=targets))
        except InputError as exc:
            if len(files) == 1:
                raise
            failed.append({"input": str(f), "error": exc.problem, "fix": exc.fix})
            warnings.warn(f"Skipped {f}: {exc.problem}", stacklevel=2)
    report = {
        "pssr_nb_version": __version__,
        "params": to_dict(params),
        "model": str(model_path),
        "model_config": model.config.to_dict(),
        "device": str(resolve_device(params.device)),
        "files": records,
        "failed": failed,
        "seconds": round(time.perf_counter() - start, 3),
    }
    with atomic_path(report_path) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    return report


def before_after(
    record: dict[str, Any], model: TrainedModel, sampling: str = ""
) -> dict[str, np.ndarray]:
    """The input, its sample-aligned bicubic interpolation and the prediction of one file.

    Parameters
    ----------
    record : dict
        One entry of ``report["files"]`` from :func:`run` (or :func:`predict_file`).
    model : TrainedModel
        The model that made the prediction (for its scale and sampling offset).
    sampling : str
        The prediction's ``PredictParams.sampling``.

    Returns
    -------
    dict
        ``LR``, ``bicubic``, ``model`` (and ``uncertainty`` after TTA), in grey values,
        with the same leading axes, for :class:`pssr_nb.ui.Viewer`.
    """
    from .sampling import upsample

    lr = read_image(record["input"], axes=record["axes"]).data
    sr = read_image(record["output"]).data
    cfg = model.at_sampling(sampling).config
    bicubic = upsample(
        np.asarray(lr, dtype=np.float32), cfg.scale, cfg.offset, out_shape=sr.shape[-2:]
    )
    images = {"LR": np.asarray(lr), "bicubic": bicubic, "model": np.asarray(sr)}
    if "uncertainty" in record:
        images["uncertainty"] = read_image(record["uncertainty"]).data
    return images


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One short row per file of a report from :func:`run`, for printing."""
    return [
        {
            "input": Path(r["input"]).name,
            "in": "x".join(map(str, r["input_shape"])),
            "out": "x".join(map(str, r["output_shape"])),
            "seconds": r["seconds"],
        }
        for r in report["files"]
    ] + [
        {"input": Path(r["input"]).name, "in": "", "out": "SKIPPED: " + r["error"], "seconds": ""}
        for r in report.get("failed", [])
    ]
