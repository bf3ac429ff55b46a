"""The two-point and line-pair test: the smallest separation an image resolves, in nm.

The resolution target phantom (``simulate("target")``) holds pairs of points
and pairs of lines at graded separations. A pair counts as resolved when the
intensity profile through both objects dips between them: with the
background subtracted, the value at the midpoint must fall below
``1 - dip`` times the smaller of the two peaks. ``dip = 0.265`` is
Rayleigh's criterion (the dip of two Airy discs at the Rayleigh distance);
Sparrow's criterion is any dip at all, which noise makes unusable on its own,
so it is offered with a small margin. The image's resolution is the smallest
separation from which every larger pair is resolved too, so one lucky noisy
pair below the limit does not count.

Line pairs are averaged along the lines, which removes most of the noise;
point pairs use a single profile, as a user would draw one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage

from .errors import InputError

#: Required dip (fraction of the weaker peak) for each criterion.
CRITERIA = {"rayleigh": 0.265, "sparrow": 0.05}


def _profile(image: np.ndarray, a: Sequence[float], b: Sequence[float], across: float):
    """Samples along the line a-b, extended by half the separation at each end.

    Returns (distance along the line from ``a`` in pixels, values). With
    ``across > 0`` the profile is averaged over parallel lines within
    ``±across`` pixels (used along line pairs).
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    sep = float(np.hypot(*(b - a)))
    u = (b - a) / sep
    normal = np.array([-u[1], u[0]])
    t = np.arange(-sep / 2, 1.5 * sep + 1e-9, min(0.25, sep / 8))
    offsets = np.arange(-across, across + 1e-9, 0.5) if across > 0 else np.zeros(1)
    values = np.zeros_like(t)
    for o in offsets:
        pts = a[:, None] + u[:, None] * t + normal[:, None] * o
        values += ndimage.map_coordinates(image, pts, order=1, mode="nearest")
    return t, values / len(offsets)


def dip(
    image: np.ndarray,
    a: Sequence[float],
    b: Sequence[float],
    background: float,
    across: float = 0.0,
) -> float:
    """Relative dip between two objects at ``a`` and ``b`` (pixel coordinates, y x).

    ``1 - (midpoint - background) / (weaker peak - background)``: 0 means no dip
    (the pair looks like one object), 1 means the midpoint is down to background.
    Each peak is the maximum within a quarter of the separation of its position.
    """
    t, v = _profile(image, a, b, across)
    sep = float(np.hypot(b[0] - a[0], b[1] - a[1]))
    near = max(sep / 4, 0.5)
    peak_a = v[np.abs(t) <= near].max()
    peak_b = v[np.abs(t - sep) <= near].max()
    mid = np.interp(sep / 2, t, v)
    weaker = min(peak_a, peak_b) - background
    if weaker <= 0:
        return 0.0
    return float(1 - (mid - background) / weaker)


def two_point_test(
    image: np.ndarray,
    features: list[dict[str, Any]],
    criterion: str = "rayleigh",
    background: float | None = None,
) -> dict[str, Any]:
    """Which pairs of a resolution target an image resolves, and the resulting resolution.

    Parameters
    ----------
    image : ndarray
        A 2-D image of the target on the HR grid (a scan, an interpolation, a prediction).
    features : list of dict
        ``PhantomSet.features``: ``kind``, ``separation_nm`` and the two ``positions``.
    criterion : {"rayleigh", "sparrow"}
        Dip required (see :data:`CRITERIA`).
    background : float, optional
        The target's dark level in the image's units (default: the image's median,
        which is background on this sparse target).

    Returns
    -------
    dict
        ``pairs``: one row per test object (kind, separation_nm, dip, resolved);
        ``resolution_nm``: for each kind, the smallest separation from which all larger
        ones are resolved (None when even the largest is not); ``criterion``.
    """
    if criterion not in CRITERIA:
        raise InputError(f"Unknown criterion {criterion!r}.", fix=f"Use one of {list(CRITERIA)}.")
    if not features:
        raise InputError(
            "No resolution-target features given.",
            fix='Simulate the target with pssr_nb.phantoms.simulate("target", ...).',
        )
    image = np.asarray(image, np.float64)
    background = float(np.median(image)) if background is None else background
    need = CRITERIA[criterion]
    rows = []
    for f in features:
        a, b = f["positions"]
        # average along the middle 60 % of a line pair
        across = 0.3 * f.get("length", 0.0)
        d = dip(image, a, b, background, across)
        rows.append(
            {
                "kind": f["kind"],
                "separation_nm": f["separation_nm"],
                "dip": d,
                "resolved": d >= need,
            }
        )
    resolution: dict[str, float | None] = {}
    for kind in dict.fromkeys(r["kind"] for r in rows):
        ordered = sorted((r for r in rows if r["kind"] == kind), key=lambda r: -r["separation_nm"])
        smallest = None
        for r in ordered:
            if not r["resolved"]:
                break
            smallest = r["separation_nm"]
        resolution[kind] = smallest
    return {"criterion": criterion, "pairs": rows, "resolution_nm": resolution}
