"""Know your data before training on it: the data report of notebook 01.

For every image: axes, shape, pixel size, dtype and the bit depth actually
used, intensity percentiles, saturated and clipped pixels, background, a
noise estimate and the signal-to-noise ratio it implies. For LR/HR pairs:
whether the sizes fit the scale and where the LR pixels sit on the HR grid
(registration). Each finding that matters for training comes with a warning
that says what to do. The report is a JSON file that later steps read.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .files import atomic_path
from .io import ImageData, image_files, middle_plane, read_image
from .params import Checked, param, setting_error, to_dict
from .sampling import scale_setting

__all__ = [
    "PERCENTILES",
    "REPORT",
    "SHIFT_TOLERANCE_LR_PX",
    "DataParams",
    "describe_image",
    "describe_pair",
    "noise_sigma",
    "pair_rows",
    "run",
    "summary_rows",
]

REPORT = "data_report.json"
PERCENTILES = (0.1, 1.0, 50.0, 99.0, 99.9)
#: LR/HR misregistration (in LR pixels) above which a pair is flagged.
SHIFT_TOLERANCE_LR_PX = 0.25


def noise_sigma(plane: np.ndarray) -> float:
    """Robust standard deviation of pixel noise in a 2-D plane.

    Uses the second mixed difference ``x[i,j] - x[i-1,j] - x[i,j-1] + x[i-1,j-1]``,
    which cancels smooth structure (and straight edges along the axes) and has
    variance ``4 sigma^2`` for white noise; its median absolute deviation
    (x 1.4826) makes the estimate insensitive to the remaining edges.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ramp = np.add.outer(np.arange(256.0), np.arange(256.0))
    >>> round(noise_sigma(ramp + rng.normal(0, 3, ramp.shape)), 1)
    3.0
    """
    x = np.asarray(plane, dtype=np.float64)
    if x.ndim != 2 or min(x.shape) < 3:
        raise InputError(f"noise_sigma needs a 2-D plane of at least 3x3, got {x.shape}.")
    d = x[1:, 1:] - x[:-1, 1:] - x[1:, :-1] + x[:-1, :-1]
    d = d[np.isfinite(d)]
    if d.size == 0:
        return float("nan")
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / 2.0)


def describe_image(image: ImageData | str | Path) -> dict[str, Any]:
    """Measure one image; returns a JSON-ready dict with a ``warnings`` list.

    Parameters
    ----------
    image : ImageData or path
        The image (read with :func:`pssr_nb.io.read_image` when a path).
    """
    if not isinstance(image, ImageData):
        image = read_image(image)
    data = np.asarray(image.data)
    dtype = data.dtype
    finite = np.isfinite(data) if dtype.kind == "f" else np.ones(data.shape, bool)
    values = data[finite].astype(np.float64)
    warnings = []
    if values.size < data.size:
        warnings.append(
            f"{data.size - values.size} pixels are NaN or infinite; they are ignored here "
            "and set to the background when training. Check the acquisition or export."
        )
    if values.size == 0:
        raise InputError("The image holds no finite pixels.", path=image.path)
    lo, hi = float(values.min()), float(values.max())
    pct = np.percentile(values, PERCENTILES)
    report: dict[str, Any] = {
        "file": str(image.path) if image.path else None,
        "axes": image.axes,
        "shape": list(data.shape),
        "dtype": str(dtype),
        "pixel_size_nm": image.pixel_size or None,
        "min": lo,
        "max": hi,
        "percentiles": {f"p{p:g}": float(v) for p, v in zip(PERCENTILES, pct, strict=True)},
    }
    if dtype.kind in "ui":
        top = float(np.iinfo(dtype).max)
        report["bits_used"] = int(np.ceil(np.log2(max(hi, 1) + 1)))
        report["saturated_fraction"] = float(np.mean(values >= top))
        if report["bits_used"] < np.iinfo(dtype).bits - 2:
            warnings.append(
                f"Only {report['bits_used']} of {np.iinfo(dtype).bits} bits are used "
                f"(max {hi:g}); this is normal for a {report['bits_used']}-bit detector. "
                "pssr_nb normalises by percentiles, so nothing needs doing."
            )
    else:
        report["bits_used"] = None
        report["saturated_fraction"] = float(np.mean(values >= hi)) if hi > lo else 1.0
    report["clipped_low_fraction"] = float(np.mean(values <= lo)) if hi > lo else 1.0
    if report["saturated_fraction"] > 0.001:
        warnings.append(
            f"{100 * report['saturated_fraction']:.2f} % of pixels are saturated (at {hi:g}). "
            "Detail there is lost and cannot be recovered; lower the gain or laser power next time."
        )
    if report["clipped_low_fraction"] > 0.05:
        warnings.append(
            f"{100 * report['clipped_low_fraction']:.1f} % of pixels sit at the minimum ({lo:g}): "
            "the offset clips the background, which hides the noise floor. Raise the offset next time."
        )
    plane = middle_plane(image).astype(np.float64)
    sigma = noise_sigma(plane)
    background = float(np.percentile(plane[np.isfinite(plane)], 1.0))
    signal = float(np.percentile(plane[np.isfinite(plane)], 99.0)) - background
    report["background"] = background
    report["noise_sigma"] = sigma
    report["snr"] = float(signal / sigma) if sigma > 0 else float("inf")
    if hi == lo:
        warnings.append("The image is constant: it holds no structure to learn from.")
    elif report["snr"] < 3:
        warnings.append(
            f"The signal-to-noise ratio is low ({report['snr']:.1f}). As a training target "
            "(HR) such an image teaches the network noise; use the best images you have as HR."
        )
    if not image.pixel_size:
        warnings.append(
            "The file carries no pixel size, so results stay in pixels. Set it in Fiji "
            "(Image > Properties) and save as TIFF, or pass pixel_size when reading."
        )
    report["warnings"] = warnings
    return report


def describe_pair(lr: ImageData, hr: ImageData, scale: int) -> dict[str, Any]:
    """Check that an LR/HR pair fits together: sizes, pixel sizes and registration."""
    from .registration import measure_lr_offset

    lr_plane, hr_plane = middle_plane(lr), middle_plane(hr)
    h, w = lr_plane.shape
    H, W = hr_plane.shape
    report: dict[str, Any] = {"lr": str(lr.path), "hr": str(hr.path), "scale": scale}
    warnings = []
    if (H // scale, W // scale) != (h, w):
        warnings.append(
            f"Sizes do not match the scale: HR {H}x{W} / {scale} is not LR {h}x{w}. "
            "Check the scale, or crop both images to the same field of view."
        )
        report["offset_hr_px"] = None
    else:
        offset = measure_lr_offset(lr_plane, hr_plane, scale)
        report["offset_hr_px"] = [round(v, 3) for v in offset]
        drift = max(abs(v) for v in offset) / scale
        if drift > SHIFT_TOLERANCE_LR_PX:
            warnings.append(
                f"The LR pixels sit {offset[0]:+.2f}, {offset[1]:+.2f} HR px from where a point "
                f"scan puts them ({drift:.2f} LR px): the scans are shifted against each other. "
                "Calibration corrects this; for a benchmark, register the pair first."
            )
    px_lr, px_hr = lr.pixel_size_xy, hr.pixel_size_xy
    if px_lr and px_hr and abs(px_lr / px_hr - scale) > 0.05 * scale:
        warnings.append(
            f"The pixel sizes ({px_lr:g} and {px_hr:g} nm) give a ratio of {px_lr / px_hr:.2f}, "
            f"not the scale {scale}. Check the scale or the files' metadata."
        )
    report["warnings"] = warnings
    return report


@dataclasses.dataclass
class DataParams(Checked):
    """Which images to look at (notebook 01 and ``pssr-nb describe``)."""

    images: str = param("", "HR images: a file or folder. Empty: the built-in sample phantoms.")
    lr_images: str = param("", "Optional LR images of the same fields, matched by file name.")
    scale: int = scale_setting("for checking pairs")
    pattern: str = param("*", "HR file name pattern inside a folder, e.g. *.tif or *highsnr*.")
    lr_token: str = param("", "Part of LR names to ignore when pairing, e.g. lowsnr.")
    hr_token: str = param("", "Part of HR names to ignore when pairing, e.g. highsnr.")

    def check_together(self) -> None:
        if self.lr_images and not self.images:
            raise setting_error(
                self,
                "lr_images",
                "empty when images is (the sample brings its own LR scans)",
                fix="Give the HR images too (--images, images=), or leave --lr-images (lr_images=) "
                "empty.",
            )


def run(
    params: DataParams,
    out_dir: str | Path,
    sample_hr: Path | None = None,
    sample_lr: Path | None = None,
) -> dict[str, Any]:
    """Describe every image (and pair) and write ``data_report.json`` into ``out_dir``.

    Parameters
    ----------
    params : DataParams
        What to describe.
    out_dir : str or Path
        Where the report is written.
    sample_hr, sample_lr : Path, optional
        The sample data, described (as a pair) when ``params.images`` is empty.

    Returns
    -------
    dict
        The report: ``images``, ``pairs``, ``warnings`` (all findings, each naming its file).
    """
    if params.images:
        hr_path = Path(params.images)
        lr_path = Path(params.lr_images) if params.lr_images else None
    else:
        hr_path, lr_path = sample_hr, sample_lr
    if hr_path is None:
        raise InputError("No images given.", fix="Set images to a file or folder.")
    hr_files = image_files(hr_path, params.pattern)
    images = [describe_image(p) for p in hr_files]
    pairs = []
    if lr_path is not None:
        from .data import lr_partners

        partners = lr_partners(lr_path, hr_files, params.lr_token, params.hr_token)
        for p, match in partners.items():
            if match is None:
                pairs.append(
                    {
                        "hr": str(p),
                        "lr": None,
                        "warnings": [f"No LR image named like {p.name} in {lr_path}."],
                    }
                )
                continue
            pairs.append(describe_pair(read_image(match), read_image(p), params.scale))
    findings = [f"{Path(r['file']).name}: {w}" for r in images for w in r["warnings"]]
    findings += [f"{Path(r['hr']).name} (pair): {w}" for r in pairs for w in r["warnings"]]
    report = {
        "params": to_dict(params),
        "hr": str(hr_path),
        "lr": str(lr_path) if lr_path else None,
        "sample": not params.images,
        "images": images,
        "pairs": pairs,
        "warnings": findings,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / REPORT) as tmp:
        tmp.write_text(json.dumps(report, indent=2) + "\n")
    return report


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One short row per image of a report from :func:`run`, for printing."""
    rows = []
    for r in report["images"]:
        px = (r["pixel_size_nm"] or {}).get("X")
        rows.append(
            {
                "file": Path(r["file"]).name if r["file"] else "-",
                "axes": r["axes"],
                "shape": "x".join(map(str, r["shape"])),
                "dtype": r["dtype"],
                "bits": r["bits_used"],
                "pixel_nm": px,
                "p1": round(r["percentiles"]["p1"], 1),
                "p99.9": round(r["percentiles"]["p99.9"], 1),
                "saturated_%": round(100 * r["saturated_fraction"], 2),
                "noise_sd": round(r["noise_sigma"], 2),
                "snr": round(r["snr"], 1),
            }
        )
    return rows


def pair_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """One short row per LR/HR pair of a report from :func:`run`, for printing."""
    return [
        {
            "hr": Path(p["hr"]).name,
            "lr": Path(p["lr"]).name if p["lr"] else "-",
            "offset_y_hr_px": (p.get("offset_hr_px") or [None, None])[0],
            "offset_x_hr_px": (p.get("offset_hr_px") or [None, None])[1],
            "ok": not p["warnings"],
        }
        for p in report["pairs"]
    ]
