"""Figures for notebooks and reports (the only core module that draws)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

__all__ = [
    "display_range",
    "image_grid",
    "intensity_histogram",
    "noise_profile_figure",
    "physical_estimate_figure",
    "training_curves",
    "zoom_window",
]


def display_range(
    image: np.ndarray, percentiles: tuple[float, float] = (0.5, 99.5)
) -> tuple[float, float]:
    """Contrast limits from percentiles of the finite pixels."""
    finite = np.asarray(image, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, percentiles)
    return float(lo), float(hi if hi > lo else lo + 1)


def zoom_window(
    shape: tuple[int, int], zoom: float = 1.0, centre: tuple[float, float] = (0.5, 0.5)
) -> tuple[slice, slice]:
    """The part of an image to show at ``zoom`` around ``centre`` (fractions of the field).

    Fractions make the window the same field of view in images of different
    pixel counts (an LR image and its super-resolved version).

    Examples
    --------
    >>> zoom_window((100, 200), zoom=4, centre=(0.5, 0.0))
    (slice(38, 63, None), slice(0, 50, None))
    """
    window = []
    for n, c in zip(shape, centre, strict=True):
        size = max(1, round(n / max(zoom, 1.0)))
        start = int(np.clip(round(c * n - size / 2), 0, n - size))
        window.append(slice(start, start + size))
    return window[0], window[1]


def image_grid(
    images: Mapping[str, np.ndarray],
    ncols: int = 3,
    size: float = 3.2,
    same_extent: bool = True,
    zoom: float = 1.0,
    centre: tuple[float, float] = (0.5, 0.5),
):
    """Show 2-D images side by side with titles, each with its own contrast.

    Parameters
    ----------
    images : mapping of title to 2-D array
        Images of different pixel counts are drawn over the same field of view
        when ``same_extent`` is True (an LR image covers the same area as its HR image).
    ncols : int
        Images per row.
    size : float
        Panel size in inches.
    zoom, centre : float, (float, float)
        Show only the window of :func:`zoom_window`, the same field in every panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    extent = None
    for ax, (title, image) in zip(axes.flat, images.items(), strict=False):
        window = zoom_window(image.shape, zoom, centre)
        shown = image[window]
        if same_extent and extent is None:
            extent = (0, shown.shape[1], shown.shape[0], 0)
        lo, hi = display_range(shown)
        ax.imshow(shown, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest", extent=extent)
        ax.set_title(f"{title}\n{image.shape[0]}x{image.shape[1]} {image.dtype}", fontsize=9)
        ax.set_axis_off()
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def intensity_histogram(report: Mapping, data: np.ndarray, ax=None):
    """Histogram of grey values (log counts) with the report's percentiles marked.

    Parameters
    ----------
    report : mapping
        From :func:`pssr_nb.describe.describe_image`.
    data : ndarray
        The image's pixels.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 2.6))
    values = np.asarray(data).ravel()
    values = values[np.isfinite(values)] if values.dtype.kind == "f" else values
    bins = min(256, max(int(report["max"] - report["min"]) + 1, 2))
    ax.hist(values, bins=bins, color="0.4", log=True)
    for name, value in report["percentiles"].items():
        ax.axvline(value, color="tab:orange", lw=0.8)
        ax.text(
            value,
            1.0,
            name,
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            transform=ax.get_xaxis_transform(),
        )
    ax.axvline(report["background"], color="tab:blue", lw=1.2, ls="--", label="background")
    ax.set_xlabel(f"grey value ({report['dtype']})")
    ax.set_ylabel("pixels")
    ax.legend(fontsize=8, loc="center left")
    ax.set_title(
        f"{Path(report['file']).name if report['file'] else 'image'}: SNR {report['snr']:.1f}, "
        f"saturated {100 * report['saturated_fraction']:.2f} %",
        fontsize=9,
    )
    return ax.figure


def training_curves(history: list[Mapping], fig=None):
    """Training loss and validation PSNR against step, with the best simple baseline.

    Parameters
    ----------
    history : list of dict
        Log rows from :func:`pssr_nb.train.run` (``kind`` "train" or "val").
    fig : matplotlib.figure.Figure, optional
        Redraw into this figure (a live plot) instead of making a new one.
    """
    import matplotlib.pyplot as plt

    if fig is None:
        fig = plt.figure(figsize=(9, 3))
    fig.clear()
    train = [r for r in history if r["kind"] == "train"]
    val = [r for r in history if r["kind"] == "val"]
    pairs = [r for r in val if "pairs_psnr" in r]
    loss_ax, psnr_ax, *pairs_ax = fig.subplots(1, 3 if pairs else 2)
    if train:
        loss_ax.plot([r["step"] for r in train], [r["loss"] for r in train], color="0.3", lw=1)
        loss_ax.set_yscale("log")
    loss_ax.set(xlabel="step", ylabel="training loss", title="loss")
    if val:
        steps = [r["step"] for r in val]
        psnr_ax.plot(steps, [r["val_psnr"] for r in val], "o-", color="tab:red", label="model")
        psnr_ax.plot(
            steps,
            [r["baseline_psnr"] for r in val],
            "--",
            color="tab:blue",
            label="best baseline",
        )
        psnr_ax.legend(fontsize=8)
    psnr_ax.set(xlabel="step", ylabel="CARE PSNR (dB)", title="held-out regions (crappified)")
    if pairs:
        ax = pairs_ax[0]
        steps = [r["step"] for r in pairs]
        ax.plot(steps, [r["pairs_psnr"] for r in pairs], "o-", color="tab:red", label="model")
        ax.plot(
            steps,
            [r["pairs_baseline_psnr"] for r in pairs],
            "--",
            color="tab:green",
            label="best baseline",
        )
        ax.legend(fontsize=8)
        ax.set(xlabel="step", ylabel="CARE PSNR (dB)", title="real pairs (as users predict)")
    fig.tight_layout()
    return fig


def noise_profile_figure(comparison):
    """Real vs synthetic noise: histograms, and variance against signal level.

    Parameters
    ----------
    comparison : pssr_nb.calibrate.NoiseComparison
        From :func:`pssr_nb.calibrate.compare_noise` or
        :meth:`pssr_nb.calibrate.Calibration.comparison`.
    """
    import matplotlib.pyplot as plt

    fig, (hist_ax, var_ax) = plt.subplots(1, 2, figsize=(9, 3))
    residuals = comparison.residuals
    spread = np.percentile(np.abs(residuals["real"]), 99.5)
    edges = np.linspace(-spread, spread, 80)
    names = [k for k in residuals if k != "real"]
    colours = ["0.2"] + [plt.get_cmap("tab10")(1 + i) for i in range(len(names))]
    for name, colour in zip(["real", *names], colours, strict=True):
        width = 2 if name == "real" else 1
        hist_ax.hist(residuals[name], bins=edges, histtype="step", color=colour, lw=width)
        means, variances = comparison.curves[name]
        var_ax.plot(means, variances, "o-", color=colour, lw=width, ms=3, label=name)
    hist_ax.set(xlabel="LR minus surrounding HR level", ylabel="pixels")
    var_ax.set(xlabel="signal level", ylabel="variance", ylim=(0, None))
    var_ax.legend(fontsize=7)
    var_ax.set_title("the curves lie on the real one when a crappifier fits", fontsize=9)
    fig.tight_layout()
    return fig


def physical_estimate_figure(calibration, bins: int = 12):
    """The physical estimator: LR noise variance against signal, the fitted line, the HR's noise.

    Parameters
    ----------
    calibration : pssr_nb.calibrate.Calibration
        From calibration with pairs.
    """
    import matplotlib.pyplot as plt

    means, variances = calibration.noise_levels(bins)
    x = np.linspace(0, max(1.0, means.max()), 50)
    lr, hr = calibration.lr_noise, calibration.profiles[0].hr_noise
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(means, variances, "o", color="0.2", label="real LR (HR noise removed)")
    ax.plot(
        x,
        lr.variance(x),
        "-",
        color="tab:blue",
        label=f"fit: {lr.photons:.3g} photons, read noise {lr.read_noise:.3g}",
    )
    ax.plot(x, hr.variance(x), "--", color="tab:green", label="HR image's own noise")
    ax.set(xlabel="signal level (HR normalised units)", ylabel="noise variance", ylim=(0, None))
    ax.set_title("slope = 1 / photons; floor = read noise", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
