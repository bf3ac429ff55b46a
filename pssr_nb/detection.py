"""Small-object detection checked against known objects: does a method invent or lose them?

On a phantom the vesicles (EM) or puncta (fluorescence) are known exactly. A
detector sized to the objects finds them in an image;
detections are matched one-to-one to the known objects within a radius.
Unmatched detections are false positives (invented objects), unmatched
objects false negatives (lost ones). Bright spots (puncta) are found with a
Laplacian of Gaussian; membrane rings (vesicles) with a ring-shaped matched
filter over the objects' range of radii.

No one threshold is fair to every method (a smoother output has weaker responses), so
each method's detections are counted at every threshold of a sweep over its own
response: a precision-recall curve, summarised by its average precision (AP, the area
under it) and its best F1 with the precision and recall there. Each image is put on
the truth's scale first (:func:`pssr_nb.metrics.care_normalize`). A method invents
objects when its precision falls, and loses them when its recall does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage, signal
from scipy.optimize import linear_sum_assignment
from skimage.feature import peak_local_max

from .metrics import care_normalize

__all__ = [
    "QUANTILES",
    "SHAPES",
    "average_precision",
    "detect_spots",
    "match",
    "object_detection",
    "precision_recall",
    "ring_response",
    "spot_response",
]

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


#: Thresholds of the sweep, as quantiles of a method's own response.
QUANTILES = 1 - np.geomspace(0.1, 1e-5, 50)


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under a precision-recall curve, with precision made non-increasing in recall."""
    order = np.argsort(recall)
    r = np.concatenate([[0.0], np.asarray(recall, float)[order]])
    p = np.asarray(precision, float)[order]
    p = np.maximum.accumulate(p[::-1])[::-1]  # the best precision at this recall or more
    return float(np.sum(np.diff(r) * p))


def precision_recall(response, size, border, known, radius) -> dict[str, Any]:
    """The sweep for one response: its curve, AP, and the counts at its best F1."""
    sweep = [_counts(response, float(t), size, border, known, radius)
             for t in np.quantile(response, QUANTILES)]  # fmt: skip
    recall = np.array([c["recall"] for c in sweep])
    precision = np.array([c["precision"] for c in sweep])  # 1 where nothing is detected
    best = max(sweep, key=lambda c: c["f1"])
    return {
        **{k: best[k] for k in ("objects", "tp", "fp", "fn", "precision", "recall")},
        "best_f1": best["f1"],
        "ap": average_precision(recall, precision),
        "curve": {"recall": recall.tolist(), "precision": precision.tolist()},
    }


def object_detection(
    images: dict[str, np.ndarray], truth: np.ndarray, objects: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """Detect the phantom's small objects in each image; count what was invented and what lost.

    Parameters
    ----------
    images : dict of str to ndarray
        Methods' 2-D outputs on the HR grid (model, bicubic, the HR scan ...).
    truth : ndarray
        The noiseless truth, the common scale (and the detector's own ceiling).
    objects : sequence of dict
        ``PhantomSet.objects``: ``y``, ``x``, ``radius`` (HR pixels) and ``shape``.

    Returns
    -------
    dict
        ``rows``: per method (``truth`` first) the number of objects, the AP, the best F1
        and the true/false positives, misses, precision and recall at it; ``curves``:
        per method its precision-recall curve; ``size`` (pixels) and ``match_radius``.
    """
    if not objects:
        return {"rows": [], "curves": {}, "size": None, "match_radius": None}
    respond, size = _detector(objects)
    border = int(np.ceil(2 * size))
    known = _inside(objects, truth.shape, border)
    match_radius = max(float(np.median([o["radius"] for o in objects])), 2.0)
    target = care_normalize(truth, truth)[1]
    responses = {"truth": respond(target)}
    for name, image in images.items():
        responses[name] = respond(care_normalize(image, truth)[0])
    rows, curves = [], {}
    for name, response in responses.items():
        result = precision_recall(response, size, border, known, match_radius)
        curves[name] = result.pop("curve")
        rows.append({"method": name, **result})
    return {"rows": rows, "curves": curves, "size": size, "match_radius": match_radius}
