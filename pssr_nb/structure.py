"""Invented and lost structure: the specimen's lines traced in each output and in the truth.

A super-resolution method can add membranes or filaments that are not there, break
real ones, or join two that should stay apart; a PSNR does not say which. Here the
lines of the specimen (EM membranes: dark; fluorescent filaments: bright) are traced
in every output and compared with those traced in the noiseless truth:

1. A ridge filter matched to the lines' width (scikit-image's Sato filter) on the
   output, put first on the truth's scale (:func:`pssr_nb.metrics.care_normalize`).
2. A threshold on it and a skeleton. No single threshold is fair to every method, so
   each method is traced at every threshold of a sweep over its own response and
   judged at its best (the highest F1 against the truth's skeleton): what is left is
   not the threshold's fault.
3. Skeleton pixels farther than a tolerance from the truth's skeleton are
   **invented**; truth skeleton pixels farther than it from the output's are **lost**.
   Precision is 1 minus the invented fraction, recall 1 minus the lost fraction.
4. Topology: the skeleton's connected pieces (Betti 0: fragments, broken lines add
   pieces) and the closed regions it encloses (Betti 1: cells, vesicles; a break
   merges two, an invented line splits one), counted against the truth's.

The truth's own skeleton is traced at Otsu's threshold of its ridge response.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.filters import sato, threshold_otsu
from skimage.measure import label
from skimage.morphology import skeletonize

from .metrics import care_normalize, sample_sd
from .phantoms import Microscope
from .specimens import DARK_LINES, LINE_SD_NM

__all__ = [
    "MARGIN",
    "NUMBERS",
    "QUANTILES",
    "Z",
    "betti",
    "compare",
    "judge",
    "Lines",
    "pieces_of",
    "ridge_response",
    "structure_check",
    "trace",
    "trace_best",
    "truth_skeleton",
]

#: Thresholds tried per method, as quantiles of its own ridge response.
QUANTILES = np.linspace(0.5, 0.995, 40)


@dataclasses.dataclass(frozen=True)
class Lines:
    """The specimen's lines as the tracing sees them, in HR pixels.

    Attributes
    ----------
    sigma : float
        The SD of a line's cross-section in the image (its own width and the PSF).
    dark : bool
        True for dark lines on a bright background (EM membranes).
    tolerance : float
        How far a traced line may be from the truth's and still be the same line.
    """

    sigma: float
    dark: bool
    tolerance: float

    @classmethod
    def of(cls, line_sd_nm: float, psf_fwhm_nm: float, pixel_size: float, dark: bool) -> Lines:
        """Lines of a specimen (cross-section SD in nm) seen through a PSF at a pixel size."""
        psf_sd = psf_fwhm_nm / 2.3548
        sigma = float(np.hypot(line_sd_nm, psf_sd)) / pixel_size
        return cls(sigma=max(sigma, 0.7), dark=dark, tolerance=max(2.0, psf_fwhm_nm / pixel_size))

    @classmethod
    def of_specimen(cls, specimen: str, microscope: Microscope) -> Lines:
        """The lines of a phantom specimen (``em``, ``fluorescence``) on its microscope's HR grid."""
        return cls.of(LINE_SD_NM[specimen], microscope.psf_fwhm, microscope.hr_pixel_size,
                      DARK_LINES[specimen])  # fmt: skip


def ridge_response(image: np.ndarray, lines: Lines) -> np.ndarray:
    """Sato ridge response to the specimen's lines: large on lines of about their width."""
    sigmas = lines.sigma * np.array([0.7, 1.0, 1.4])
    return sato(np.asarray(image, np.float64), sigmas=sigmas, black_ridges=lines.dark,
                mode="reflect")  # fmt: skip


def pieces_of(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 8-connected pieces of a mask (labels) and each label's size (label 0: none)."""
    pieces, n = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = np.bincount(pieces.ravel(), minlength=n + 1)
    sizes[0] = 0
    return pieces, sizes


def trace(response: np.ndarray, threshold: float, lines: Lines) -> np.ndarray:
    """The skeleton of the response above ``threshold``; specks shorter than the tolerance go."""
    pieces, sizes = pieces_of(response > threshold)
    return skeletonize((sizes >= max(int(2 * lines.tolerance), 2))[pieces])


def betti(skeleton: np.ndarray) -> tuple[int, int]:
    """(pieces, enclosed regions) of a skeleton: 8-connected pieces, 4-connected holes.

    Regions that touch the image border are open, not enclosed, and are not counted.
    """
    pieces = int(label(skeleton, connectivity=2).max())
    regions = label(~skeleton, connectivity=1)
    edge = np.unique(np.concatenate([regions[0], regions[-1], regions[:, 0], regions[:, -1]]))
    enclosed = np.setdiff1d(np.unique(regions), np.concatenate([edge, [0]]))
    return pieces, int(len(enclosed))


def _near(skeleton: np.ndarray, tolerance: float) -> np.ndarray:
    """Pixels within ``tolerance`` of a skeleton."""
    if not skeleton.any():
        return np.zeros_like(skeleton)
    return ndimage.distance_transform_edt(~skeleton) <= tolerance


def compare(skeleton: np.ndarray, truth: np.ndarray, tolerance: float) -> dict[str, Any]:
    """Invented and lost skeleton pixels of ``skeleton`` against the truth's ``truth``."""
    invented = skeleton & ~_near(truth, tolerance)
    lost = truth & ~_near(skeleton, tolerance)
    n, n_truth = int(skeleton.sum()), int(truth.sum())
    precision = 1 - invented.sum() / n if n else 1.0
    recall = 1 - lost.sum() / n_truth if n_truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "invented": invented, "lost": lost}  # fmt: skip


def _border(shape: tuple[int, int], width: int) -> np.ndarray:
    inner = np.zeros(shape, bool)
    inner[width : -width or None, width : -width or None] = True
    return inner


def truth_skeleton(truth: np.ndarray, lines: Lines) -> np.ndarray:
    """The truth's lines: its ridge response above Otsu's threshold, as a skeleton."""
    response = ridge_response(care_normalize(truth, truth)[1], lines)
    return trace(response, float(threshold_otsu(response)), lines)


def trace_best(
    image: np.ndarray, truth: np.ndarray, lines: Lines, reference: np.ndarray | None = None
) -> dict[str, Any]:
    """Trace one output at every threshold of the sweep and keep its best (F1) tracing.

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``pieces``, ``regions`` (:func:`betti`), the
        ``threshold`` (a quantile of the output's own response), and the ``invented``,
        ``lost`` and ``skeleton`` maps at that threshold.
    """
    reference = truth_skeleton(truth, lines) if reference is None else reference
    inner = _border(truth.shape, int(np.ceil(3 * lines.sigma)))
    response = ridge_response(care_normalize(image, truth)[0], lines)
    reference = reference & inner
    best = None
    for q, threshold in zip(QUANTILES, np.quantile(response, QUANTILES), strict=True):
        skeleton = trace(response, float(threshold), lines) & inner
        scored = compare(skeleton, reference, lines.tolerance)
        if best is None or scored["f1"] > best["f1"]:
            best = {**scored, "skeleton": skeleton, "threshold": float(q)}
    best["pieces"], best["regions"] = betti(best["skeleton"])
    return best


#: The numbers of a tracing that go in tables (the maps do not).
NUMBERS = ("precision", "recall", "f1", "pieces", "regions")


def structure_check(
    images: Mapping[str, np.ndarray], truth: np.ndarray, lines: Lines
) -> dict[str, Any]:
    """Invented and lost lines, and their topology, for each method's output on one image.

    Parameters
    ----------
    images : mapping of str to ndarray
        Methods' 2-D outputs on the HR grid.
    truth : ndarray
        The noiseless truth.
    lines : Lines
        The specimen's lines (:meth:`Lines.of`).

    Returns
    -------
    dict
        ``rows``: per method (``truth`` first) the :data:`NUMBERS` and the pieces and
        regions beyond the truth's (``pieces_excess``, ``regions_excess``: 0 is right;
        more pieces means broken lines or specks, fewer regions merged ones, more regions
        split ones);
        ``maps``: per method its invented and lost skeleton pixels, for figures.
    """
    reference = truth_skeleton(truth, lines)
    tracings = {"truth": trace_best(truth, truth, lines, reference)}
    tracings.update({m: trace_best(im, truth, lines, reference) for m, im in images.items()})
    pieces, regions = tracings["truth"]["pieces"], tracings["truth"]["regions"]
    rows = [
        {
            "method": m,
            **{k: t[k] for k in NUMBERS},
            "pieces_excess": t["pieces"] - pieces,
            "regions_excess": t["regions"] - regions,
        }
        for m, t in tracings.items()
    ]
    maps = {m: {"invented": t["invented"], "lost": t["lost"]} for m, t in tracings.items()}
    return {"rows": rows, "maps": maps, "lines": dataclasses.asdict(lines)}


#: A method is flagged when its mean differs from the reference's by more than this
#: many standard errors of the image-by-image difference, and by at least MARGIN.
Z = 2.0
MARGIN = 0.03


def judge(
    per_image: Sequence[Sequence[dict[str, Any]]],
    reference: str,
    numbers: Sequence[str] = (*NUMBERS, "pieces_excess", "regions_excess"),
    margin: float = MARGIN,
    flags: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Mean and spread over images of each method's numbers, and what it is flagged for.

    Parameters
    ----------
    per_image : sequence of row lists
        Rows with ``method`` and the flags' numbers (:func:`structure_check`,
        :func:`pssr_nb.detection.object_detection`) for each image.
    reference : str
        The method every other is held against (the best baseline): by default a method
        ``invents`` when its precision is below the reference's, and ``loses`` when its
        recall is, by more than :data:`Z` standard errors of the paired difference over
        images and by at least ``margin``.
    numbers : sequence of str
        The row entries averaged.
    flags : mapping of str to str, optional
        Each flag and the number it is read from (default: ``invents`` from ``precision``,
        ``loses`` from ``recall``); a flag is raised when that number is lower.

    Returns
    -------
    list of dict
        Per method: ``images``, the mean and SD over images of each number, and the flags.
    """
    flags = flags or {"invents": "precision", "loses": "recall"}
    by_method: dict[str, list[dict[str, Any]]] = {}
    for rows in per_image:
        for r in rows:
            by_method.setdefault(r["method"], []).append(r)
    if reference not in by_method:
        raise ValueError(f"reference {reference!r} is not among {sorted(by_method)}")
    ref = by_method[reference]

    def worse(key: str, rows: list[dict[str, Any]]) -> bool:
        diff = np.array([q[key] - r[key] for r, q in zip(rows, ref, strict=True)], float)
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else 0.0
        return bool(diff.mean() > max(Z * se, margin))

    out = []
    for method, rows in by_method.items():
        row: dict[str, Any] = {"method": method, "images": len(rows)}
        for k in numbers:
            values = np.array([r[k] for r in rows], float)
            row[k] = float(values.mean())
            row[f"{k}_sd"] = sample_sd(values)
        for flag, key in flags.items():
            row[flag] = worse(key, rows)
        out.append(row)
    return out
