"""Figures of the benchmark report (the drawing half of :mod:`pssr_nb.report`).

Each function takes plain results from :mod:`pssr_nb.benchmark` and returns a
matplotlib figure; none of them computes a measurement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .frc import FRCCurve
from .plotting import display_range

__all__ = [
    "COLORS",
    "detection_figure",
    "frc_figure",
    "maps_figure",
    "resolution_figure",
    "scores_figure",
    "structure_figure",
    "uncertainty_figure",
]

COLORS = {"bicubic": "tab:blue", "model": "tab:red", "HR scan": "tab:green", "truth": "k"}


def scores_figure(summary: Sequence[Mapping[str, Any]], keys=("psnr", "ssim")):
    """Mean ± SD of each score per method, as horizontal bars."""
    import matplotlib.pyplot as plt

    methods = [r["method"] for r in summary]
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 0.45 * len(methods) + 1.2))
    for ax, key in zip(np.atleast_1d(axes), keys, strict=True):
        means = [r[f"{key}_mean"] for r in summary]
        sds = [r[f"{key}_sd"] for r in summary]
        colors = [COLORS.get(m, "0.6") for m in methods]
        ax.barh(methods, means, xerr=sds, color=colors)
        ax.invert_yaxis()
        ax.set_xlim(min(means) - 2 * max(sds + [0.01]) if key == "psnr" else 0, None)
        ax.set_xlabel(f"{key.upper()} (mean ± SD over images)")
    fig.tight_layout()
    return fig


def frc_figure(curves: Mapping[str, Mapping[str, FRCCurve]]):
    """FRC curves per method: against the reference and, when present, between repeats."""
    import matplotlib.pyplot as plt

    panels = {k: v for k, v in curves.items() if v}
    titles = {
        "against_reference": "spectral agreement with the reference (not a resolution)",
        "repeats": "repeat scans on shifted grids (mean of 3 pairs)",
    }
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.8), squeeze=False)
    for ax, (panel, by_method) in zip(axes[0], panels.items(), strict=True):
        for method, c in by_method.items():
            x = c.frequency / c.pixel_size if c.pixel_size else c.frequency
            res = c.resolution("1/7")
            label = f"{method}: {res:.0f} {'nm' if c.pixel_size else 'px'}" if res else method
            ax.plot(x[1:], c.smoothed()[1:], color=COLORS.get(method), label=label, lw=1)
        ax.axhline(1 / 7, color="0.5", ls="--", lw=1, label="1/7 threshold")
        c = next(iter(by_method.values()))
        x = c.frequency / c.pixel_size if c.pixel_size else c.frequency
        ax.plot(x[1:], c.half_bit[1:], color="0.5", ls=":", lw=1, label="half-bit")
        ax.set_xlabel("spatial frequency (1/nm)" if c.pixel_size else "cycles per pixel")
        ax.set_ylabel("FRC")
        ax.set_ylim(-0.1, 1.05)
        ax.set_title(titles.get(panel, panel), fontsize=10)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def resolution_figure(
    test: Mapping[str, Any], methods=("truth", "bicubic", "model", "HR scan"), cells: int = 4
):
    """A corner of the pair target as each method shows it, and P(resolved) against separation.

    The curves carry 95 % intervals (shaded); dotted lines are how often a single object
    is called two at each separation; the markers are each method's 50 % separation.
    """
    import matplotlib.pyplot as plt

    shown = [m for m in methods if m in test["example"]]
    fig, axes = plt.subplots(
        1, len(shown) + 1, figsize=(2.6 * len(shown) + 5.0, 3.4),
        gridspec_kw={"width_ratios": [1] * len(shown) + [2.2]},
    )  # fmt: skip
    side = int(test["cell"] * cells)
    for ax, m in zip(axes, shown, strict=False):
        crop = np.asarray(test["example"][m])[:side, :side]
        lo, hi = display_range(crop)
        ax.imshow(crop, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(m, fontsize=10)
        ax.set_axis_off()
    ax = axes[-1]
    seps = np.asarray(test["separations_nm"])
    d50 = {r["method"]: r["d50_nm"] for r in test["rows"]}
    for i, (m, curve) in enumerate(test["curves"].items()):
        color = COLORS.get(m, f"C{i + 3}")
        ax.plot(seps, curve["p_resolved"], "-", color=color, label=m, lw=1.5)
        ax.fill_between(seps, curve["p_low"], curve["p_high"], color=color, alpha=0.15, lw=0)
        ax.plot(seps, curve["false_resolved"], ":", color=color, lw=1)
        if d50.get(m) is not None:
            ax.plot([d50[m]], [0.5], "o", color=color, ms=5)
    ax.axvline(test["psf_fwhm_nm"], color="0.6", lw=1, ls="--", label="PSF FWHM")
    ax.axvline(test["lr_pixel_size"], color="0.8", lw=1, ls="--", label="LR pixel")
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel(f"separation of the {test['kind'][:-1]} pair (nm)")
    ax.set_ylabel("P(resolved); dotted: one object called two", fontsize=8)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def uncertainty_figure(calibration: Mapping[str, Any], uncertainty: np.ndarray, error: np.ndarray):
    """The uncertainty map, the error map and the mean error per uncertainty bin."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
    for ax, (title, image) in zip(
        axes, (("TTA uncertainty", uncertainty), ("|error|", error)), strict=False
    ):
        lo, hi = display_range(image)
        im = ax.imshow(image, cmap="magma", vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
        fig.colorbar(im, ax=ax, fraction=0.046)
    bins = calibration["bins"]
    axes[2].plot([b["uncertainty"] for b in bins], [b["error"] for b in bins], "o-")
    axes[2].set_xlabel("uncertainty (bin mean)")
    axes[2].set_ylabel("mean |error|")
    axes[2].set_title(f"Spearman rho = {calibration['spearman']:.2f}", fontsize=10)
    fig.tight_layout()
    return fig


def maps_figure(maps: Mapping[str, np.ndarray]):
    """Error and SSIM maps (see :func:`pssr_nb.benchmark.maps`), one colour scale per kind.

    Columns are the kinds (``|error|``, ``SSIM``), rows the methods, so the
    methods can be compared at a glance.
    """
    import matplotlib.pyplot as plt

    kinds = {"|error|": ("magma", None), "SSIM": ("viridis", (0.0, 1.0))}
    methods = list(dict.fromkeys(k.rsplit(" ", 1)[0] for k in maps))
    fig, axes = plt.subplots(len(methods), 2, figsize=(7.4, 3.4 * len(methods)), squeeze=False)
    for col, (kind, (cmap, limits)) in enumerate(kinds.items()):
        shown = [maps[f"{m} {kind}"] for m in methods if f"{m} {kind}" in maps]
        if not shown:
            continue
        vmin, vmax = limits or (0.0, float(np.percentile(np.concatenate(shown, None), 99.5)))
        for row, m in enumerate(methods):
            ax = axes[row, col]
            im = ax.imshow(maps[f"{m} {kind}"], cmap=cmap, vmin=vmin, vmax=vmax)
            ax.set_title(f"{m} {kind}", fontsize=10)
            ax.set_axis_off()
            fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def structure_figure(structure: Mapping[str, Any], methods: Sequence[str] | None = None):
    """Invented (red) and lost (blue) lines of some methods over the truth (first image)."""
    import matplotlib.pyplot as plt

    maps = structure["maps"]
    methods = [m for m in (methods or ("model", structure["reference"], "HR scan")) if m in maps]
    truth = np.asarray(structure["truth"], float)
    lo, hi = display_range(truth)
    grey = np.clip((truth - lo) / (hi - lo or 1.0), 0, 1)
    fig, axes = plt.subplots(1, len(methods), figsize=(3.2 * len(methods), 3.4), squeeze=False)
    for ax, m in zip(axes[0], methods, strict=True):
        rgb = np.repeat((0.35 + 0.5 * grey)[..., None], 3, axis=2)
        rgb[maps[m]["invented"]] = (0.9, 0.1, 0.1)
        rgb[maps[m]["lost"]] = (0.1, 0.4, 1.0)
        ax.imshow(rgb, interpolation="nearest")
        ax.set_title(f"{m}\nred: invented, blue: lost", fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    return fig


def detection_figure(detection: Mapping[str, Any]):
    """Precision-recall curves of small-object detection per method (first image)."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 3.8))
    for i, (m, curve) in enumerate(detection["curves"].items()):
        order = np.argsort(curve["recall"])
        ax.plot(np.asarray(curve["recall"])[order], np.asarray(curve["precision"])[order],
                color=COLORS.get(m, f"C{i + 3}"), label=m, lw=1.3)  # fmt: skip
    ax.set_xlabel("recall (found / known objects)")
    ax.set_ylabel("precision (real / detected)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig
