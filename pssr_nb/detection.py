"""Small-object detection checked against known objects: does a method invent or lose them?

On a phantom the vesicles (EM) or puncta (fluorescence) are known exactly. A
detector sized to the objects finds them in an image;
detections are matched one-to-one to the known objects within a radius.
Unmatched detections are false positives (invented objects), unmatched
objects false negatives (lost ones). Bright spots (puncta) are found with a
Laplacian of Gaussian; membrane rings (vesicles) with a ring-shaped matched
filter over the objects' range of radii. Every method is scored with the same
detector and the same threshold: the threshold is tuned once on the noiseless
truth, and each image is put on the truth's scale first
(:func:`pssr_nb.metrics.care_normalize`), so no method gets a threshold of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage, signal
from scipy.optimize import linear_sum_assignment
from skimage.feature import peak_local_max

from .metrics import care_normalize

SHAPES = ("spot", "ring")


def spot_response(image: np.ndarray, sigma: float) -> np.ndarray:
    """Scale-normalised Laplacian-of-Gaussian response, positive on bright spots of ``sigma``."""
    log = ndimage.gaussian_laplace(np.asarray(image, np.float64), sigma, mode="reflect")
    return -(sigma**2) * log


def ring_response(image: np.ndarray, radii: Sequence[float], width: float = 1.0) -> np.ndarray:
    """Matched-filter response to dark rings (membranes) of the given radii, best radius per pixel.

    Each kernel is a ring of Gaussian cross-section ``width`` with its mean over the
    enclosed disc removed, so flat regions and gentle gradients give no response.
    """
    image = np.asarray(image, np.float64)
    best = None
    for r in radii:
        n = int(np.ceil(r + 3 * width))
        yy, xx = np.mgrid[-n : n + 1, -n : n + 1]
        rho = np.hypot(yy, xx)
        kernel = np.exp(-0.5 * ((rho - r) / width) ** 2)
        disc = rho <= r + 2 * width
        kernel = np.where(disc, kernel - kernel[disc].mean(), 0.0)
        kernel /= np.abs(kernel).sum()
        response = -signal.fftconvolve(image, kernel[::-1, ::-1], mode="same")
        best = response if best is None else np.maximum(best, response)
    return best


def _detector(objects: Sequence[dict[str, Any]]):
    """The response function and size (pixels) that suit a phantom's objects."""
    shapes = {o.get("shape", "spot") for o in objects}
    if len(shapes) != 1 or not shapes <= set(SHAPES):
        raise ValueError(f"objects must share one shape of {SHAPES}, got {sorted(shapes)}")
    radii = np.array([o["radius"] for o in objects], float)
    if shapes == {"ring"}:
        candidates = np.linspace(radii.min(), radii.max(), 4)
        return (lambda image: ring_response(image, candidates)), float(np.median(radii))
    sigma = max(float(np.median(radii)), 1.0)
    return (lambda image: spot_response(image, sigma)), sigma


def detect_spots(
    response: np.ndarray, threshold: float, min_distance: int, border: int = 0
) -> np.ndarray:
    """Local maxima of a detector response above ``threshold``: an (n, 2) array of (y, x)."""
    peaks = peak_local_max(
        response,
        min_distance=max(1, min_distance),
        threshold_abs=threshold,
        exclude_border=max(border, 1),
    )
    return peaks.astype(float).reshape(-1, 2)


def match(detections: np.ndarray, truth: np.ndarray, radius: float) -> tuple[int, int, int]:
    """One-to-one matching within ``radius``: (true positives, false positives, false negatives)."""
    if len(detections) == 0 or len(truth) == 0:
        return 0, len(detections), len(truth)
    d = np.hypot(*(detections[:, None, :] - truth[None, :, :]).transpose(2, 0, 1))
    cost = np.where(d <= radius, d, 1e6)
    rows, cols = linear_sum_assignment(cost)
    tp = int(np.sum(cost[rows, cols] <= radius))
    return tp, len(detections) - tp, len(truth) - tp


def _inside(objects: Sequence[dict[str, Any]], shape: tuple[int, int], border: int) -> np.ndarray:
    pts = np.array([[o["y"], o["x"]] for o in objects], float).reshape(-1, 2)
    keep = np.all((pts >= border) & (pts < np.array(shape) - border), axis=1)
    return pts[keep]


def _counts(response, threshold, size, border, known, radius) -> dict[str, float]:
    found = detect_spots(response, threshold, int(round(size)), border)
    tp, fp, fn = match(found, known, radius)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"objects": len(known), "detected": len(found), "tp": tp, "fp": fp, "fn": fn,
            "precision": precision, "recall": recall, "f1": f1}  # fmt: skip


def object_detection(
    images: dict[str, np.ndarray], truth: np.ndarray, objects: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Detect the phantom's small objects in each image; count what was invented and what lost.

    Parameters
    ----------
    images : dict of str to ndarray
        Methods' 2-D outputs on the HR grid (model, bicubic, the HR scan ...).
    truth : ndarray
        The noiseless truth, used to tune the threshold and as the common scale.
    objects : sequence of dict
        ``PhantomSet.objects``: ``y``, ``x``, ``radius`` (HR pixels) and ``shape``.

    Returns
    -------
    dict
        ``rows``: per method (``truth`` first, the detector's own ceiling) the numbers of
        objects, detections, true/false positives, false negatives, precision, recall, F1;
        ``threshold``, ``size`` (pixels) and ``match_radius`` of the detector.
    """
    if not objects:
        return {"rows": [], "threshold": None, "size": None, "match_radius": None}
    respond, size = _detector(objects)
    border = int(np.ceil(2 * size))
    known = _inside(objects, truth.shape, border)
    match_radius = max(float(np.median([o["radius"] for o in objects])), 2.0)
    target = care_normalize(truth, truth)[1]
    truth_response = respond(target)
    candidates = np.quantile(truth_response, np.linspace(0.9, 0.99999, 60))
    f1 = [_counts(truth_response, t, size, border, known, match_radius)["f1"] for t in candidates]
    threshold = float(candidates[int(np.argmax(f1))])
    rows = [
        {"method": "truth", **_counts(truth_response, threshold, size, border, known, match_radius)}
    ]
    for name, image in images.items():
        response = respond(care_normalize(image, truth)[0])
        rows.append(
            {"method": name, **_counts(response, threshold, size, border, known, match_radius)}
        )
    return {"rows": rows, "threshold": threshold, "size": size, "match_radius": match_radius}
