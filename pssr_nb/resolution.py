"""The two-point resolution test: how often each separation is resolved, with confidence intervals.

On a :class:`~pssr_nb.pair_target.PairTarget` every pair is judged in every
noise draw of a method's output. A pair counts as **resolved** only when

1. the intensity profile through the two true positions (cubic-spline
   interpolated, so the dip is not biased by linear interpolation) has a local
   maximum within 35 % of the separation of each true position;
2. the weaker of those two peaks stands above the local background by more than
   ``Z`` noise standard deviations, and by at least a quarter of the height of a single
   object (a control) in the same output, so that bumps of the background's texture are
   not taken for objects; and
3. the profile's minimum between them lies below the weaker peak by more than
   ``Z`` noise standard deviations.

The noise standard deviations are measured, not assumed: they are the spread
over noise draws of the same statistics read at the true positions, pooled over
the pairs of each separation. Both sides of conditions 2 and 3 therefore scale
together under any affine map of the intensities, and to first order under any
smooth monotonic one (a gamma curve), which cannot create a dip where there is
none. A single image (the noiseless truth) has no noise: any dip counts.

Single objects of the pair's integrated intensity are judged by the same rule
at every separation: how often they are called "two" is the false-resolved rate.

The result is P(resolved) against separation, made monotonic by isotonic
regression, and the separations at which it reaches 50 % and 95 %, with 95 %
confidence intervals from a bootstrap over pairs (all draws of a pair resampled
together, since they share its phase and angle).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.optimize import isotonic_regression

from .baselines import Tuned, baselines
from .errors import InputError
from .pair_target import PairTarget

__all__ = [
    "LEVELS",
    "OBJECT",
    "TOLERANCE",
    "Z",
    "compare",
    "measure",
    "ResolutionCurve",
    "standard_outputs",
]

#: Significance of a peak and of a dip, in noise standard deviations.
Z = 2.0
#: A peak must also reach this fraction of a single object's height in the same output
#: (a pair's object holds half a control's intensity), so background texture is no object.
OBJECT = 0.25
#: How far a peak may sit from its true position, as a fraction of the separation.
TOLERANCE = 0.35
#: The P(resolved) levels reported.
LEVELS = (0.5, 0.95)
_SAMPLES = 81  # profile samples from half a separation before a to half after b
_RING = 32  # background samples per object


@dataclasses.dataclass
class ResolutionCurve:
    """One method's judgements on a target.

    Attributes
    ----------
    separations_nm : ndarray
        The target's separations, ascending.
    pair_separations : ndarray
        Each pair's separation (nm).
    resolved : ndarray
        bool, (draws, pairs): whether each pair is resolved in each draw.
    false_resolved : ndarray
        Per separation: the fraction of controls (over draws) judged as two objects.
    """

    separations_nm: np.ndarray
    pair_separations: np.ndarray
    resolved: np.ndarray
    false_resolved: np.ndarray

    def probability(self) -> np.ndarray:
        """P(resolved) at each separation (over pairs and draws)."""
        return np.array(
            [self.resolved[:, self.pair_separations == s].mean() for s in self.separations_nm]
        )

    def interval(self) -> tuple[np.ndarray, np.ndarray]:
        """95 % Wilson interval of P(resolved) at each separation, counting pairs (not draws).

        The draws of one pair share its phase and angle, so they are not counted as
        independent: the interval is as wide as for one judgement per pair.
        """
        z = 1.96
        n = np.array([(self.pair_separations == s).sum() for s in self.separations_nm], float)
        p = self.probability()
        centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
        return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)

    def limits(
        self, levels: Sequence[float] = LEVELS, n_boot: int = 300, seed: int = 0
    ) -> dict[float, dict[str, float | None]]:
        """The separations where the monotonic P(resolved) reaches each level, with 95 % CIs.

        ``None`` means the level is not reached within the tested separations (the
        resolution is coarser than the largest); an estimate at the smallest separation
        means it is at least that fine.
        """
        seps = self.separations_nm
        per_pair = self.resolved.mean(axis=0)
        groups = [np.flatnonzero(self.pair_separations == s) for s in seps]
        rng = np.random.default_rng(seed)
        est = {lv: _crossing(seps, _monotonic(per_pair, groups), lv) for lv in levels}
        boots = {lv: [] for lv in levels}
        for _ in range(n_boot):
            picked = [rng.choice(g, len(g)) for g in groups]
            fit = _monotonic(per_pair, picked)
            for lv in levels:
                boots[lv].append(_crossing(seps, fit, lv))
        out = {}
        for lv in levels:
            values = np.array([np.inf if b is None else b for b in boots[lv]])
            lo, hi = np.percentile(values, [2.5, 97.5], method="nearest")  # inf: not reached
            out[lv] = {
                "nm": est[lv],
                "ci_low": None if np.isinf(lo) else float(lo),
                "ci_high": None if np.isinf(hi) else float(hi),
            }
        return out


def _monotonic(per_pair: np.ndarray, groups: Sequence[np.ndarray]) -> np.ndarray:
    p = np.array([per_pair[g].mean() for g in groups])
    w = np.array([len(g) for g in groups], float)
    return isotonic_regression(p, weights=w, increasing=True).x


def _crossing(seps: np.ndarray, p: np.ndarray, level: float) -> float | None:
    above = np.flatnonzero(p >= level - 1e-12)
    if len(above) == 0:
        return None
    i = int(above[0])
    if i == 0:
        return float(seps[0])
    f = (level - p[i - 1]) / (p[i] - p[i - 1])
    return float(np.exp(np.log(seps[i - 1]) + f * (np.log(seps[i]) - np.log(seps[i - 1]))))


def _ends(centres: np.ndarray, angles: np.ndarray, sep_px: np.ndarray) -> tuple[np.ndarray, ...]:
    u = np.stack([np.sin(angles), np.cos(angles)], axis=1)
    half = (np.asarray(sep_px, float) / 2)[..., None] * u
    return centres - half, centres + half


def _statistics(
    coeffs: np.ndarray, a: np.ndarray, b: np.ndarray, ring_radius: float, along: float
) -> dict[str, np.ndarray]:
    """Per object: the rule's quantities, read from a spline-prefiltered image.

    For line pairs the profile is averaged over parallel profiles within ``±along``
    pixels of the pair's centre (the middle of the lines).
    """
    t = np.linspace(-0.5, 1.5, _SAMPLES)
    axis = b - a
    across = np.stack([axis[:, 1], -axis[:, 0]], axis=1) / np.hypot(*axis.T)[:, None]
    shifts = np.arange(-along, along + 1e-9, 1.0) if along > 0 else np.zeros(1)
    pts = (
        a[:, None, None, :]
        + t[None, None, :, None] * axis[:, None, None, :]
        + shifts[None, :, None, None] * across[:, None, None, :]
    )
    v = (
        ndimage.map_coordinates(
            coeffs, pts.reshape(-1, 2).T, order=3, mode="nearest", prefilter=False
        )
        .reshape(pts.shape[:3])
        .mean(axis=1)
    )
    centre = (a + b) / 2
    phi = np.linspace(0, 2 * np.pi, _RING, endpoint=False)
    ring = centre[:, None, :] + ring_radius * np.stack([np.sin(phi), np.cos(phi)], axis=1)
    bg = np.median(
        ndimage.map_coordinates(
            coeffs, ring.reshape(-1, 2).T, order=3, mode="nearest", prefilter=False
        ).reshape(ring.shape[:2]),
        axis=1,
    )
    i_a, i_mid, i_b = 20, 40, 60  # t = 0, 0.5, 1
    tol = int(round(TOLERANCE * 40))
    local_max = np.zeros_like(v, bool)
    local_max[:, 1:-1] = (v[:, 1:-1] > v[:, :-2]) & (v[:, 1:-1] >= v[:, 2:])
    masked = np.where(local_max, v, -np.inf)
    peak_a = masked[:, i_a - tol : i_a + tol + 1].max(axis=1)
    peak_b = masked[:, i_b - tol : i_b + tol + 1].max(axis=1)
    # the minimum between the two detected peaks (between the true positions' windows)
    arg_a = i_a - tol + masked[:, i_a - tol : i_a + tol + 1].argmax(axis=1)
    arg_b = i_b - tol + masked[:, i_b - tol : i_b + tol + 1].argmax(axis=1)
    idx = np.arange(_SAMPLES)
    between = (idx[None, :] >= arg_a[:, None]) & (idx[None, :] <= arg_b[:, None])
    low = np.where(between, v, np.inf).min(axis=1)
    weaker = np.minimum(peak_a, peak_b)
    return {
        "found": np.isfinite(peak_a) & np.isfinite(peak_b),
        "drop": weaker - low,
        "height": weaker - bg,
        "fixed_drop": np.minimum(v[:, i_a], v[:, i_b]) - v[:, i_mid],
        "fixed_height": np.minimum(v[:, i_a], v[:, i_b]) - bg,
    }


def _pooled_sd(values: np.ndarray, groups: Sequence[np.ndarray], floor: float) -> np.ndarray:
    """Per group: the noise SD over draws (axis 0), pooled over the group's objects."""
    if values.shape[0] < 2:
        return np.full(len(groups), floor)
    var = values.var(axis=0, ddof=1)
    return np.array([max(float(np.sqrt(var[g].mean())), floor) for g in groups])


def _judge(
    stats: list[dict[str, np.ndarray]],
    groups: Sequence[np.ndarray],
    floor: float,
    single_height: float,
):
    stack = {k: np.stack([s[k] for s in stats]) for k in stats[0]}
    sd_drop = _pooled_sd(stack["fixed_drop"], groups, floor)
    sd_height = _pooled_sd(stack["fixed_height"], groups, floor)
    need_drop = np.empty(stack["drop"].shape[1])
    need_height = np.empty_like(need_drop)
    for g, sd_d, sd_h in zip(groups, sd_drop, sd_height, strict=True):
        need_drop[g], need_height[g] = Z * sd_d, max(Z * sd_h, OBJECT * single_height)
    return stack["found"] & (stack["drop"] > need_drop) & (stack["height"] > need_height)


def measure(target: PairTarget, images: Sequence[np.ndarray]) -> ResolutionCurve:
    """Judge every pair and control of ``target`` in noise draws of one method's output.

    Parameters
    ----------
    target : PairTarget
    images : sequence of ndarray
        The method's output for independent noise draws of the scan, each on the HR grid
        (the target's shape). One image (the noiseless truth) is judged without noise.

    Raises
    ------
    InputError
        If an image is not on the target's HR grid.
    """
    images = [np.asarray(im, np.float64) for im in images]
    for im in images:
        if im.shape != target.truth.shape:
            raise InputError(
                f"An image of shape {im.shape} was given for a target of {target.truth.shape}.",
                fix="Give every method's output on the HR grid of the target.",
            )
    px = target.pixel_size
    psf_px = target.microscope.psf_fwhm / px
    ring = float(np.hypot(target.separations_nm[-1] / px, target.line_length)) / 2 + 2 * psf_px + 1
    along = 0.4 * target.line_length  # the middle 80 %: clear of the line ends
    coeffs = [ndimage.spline_filter(target.polarity * im, order=3) for im in images]
    span = float(np.subtract(*np.percentile(target.polarity * images[0], [99.9, 0.1])))
    floor = 1e-3 * abs(span) + 1e-12

    seps = target.separations_nm
    a, b = _ends(target.pair_centres, target.pair_angles, target.pair_separations / px)
    groups = [np.flatnonzero(target.pair_separations == s) for s in seps]
    angles = target.control_angles
    centre = target.control_centres
    tiny = _ends(centre, angles, np.full(len(angles), 1e-3))
    single = np.median([_statistics(c, *tiny, ring, along)["fixed_height"] for c in coeffs])
    single = max(float(single), 0.0)
    resolved = _judge([_statistics(c, a, b, ring, along) for c in coeffs], groups, floor, single)

    # every control judged as if it were a pair at each separation, in one batch
    n = len(angles)
    ca, cb = _ends(
        np.tile(centre, (len(seps), 1)), np.tile(angles, len(seps)), np.repeat(seps / px, n)
    )
    by_separation = [np.arange(k * n, (k + 1) * n) for k in range(len(seps))]
    called = _judge(
        [_statistics(c, ca, cb, ring, along) for c in coeffs], by_separation, floor, single
    )
    false_rate = [float(called[:, g].mean()) for g in by_separation]
    return ResolutionCurve(seps, target.pair_separations, resolved, np.array(false_rate))


def standard_outputs(
    target: PairTarget,
    draws: int,
    predict: Callable[[np.ndarray], np.ndarray] | None = None,
    tuned: Tuned | None = None,
    offset: float = 0.0,
) -> dict[str, list[np.ndarray]]:
    """Outputs of the reference methods (and a model) for ``draws`` noise draws of the target.

    ``truth`` (one noiseless image), ``HR scan``, ``bicubic`` of the LR scan at the
    acquired positions, the restoration baselines that ``tuned`` holds
    (:func:`pssr_nb.baselines.tune`: Gaussian, Wiener deconvolution, non-local means), and
    ``model`` when ``predict`` (LR grey values -> HR-grid image) is given.
    """
    s = target.scale
    lrs = [target.scan("lr", k) for k in range(draws)]
    out: dict[str, list[np.ndarray]] = {
        "truth": [target.truth],
        "HR scan": [target.scan("hr", k).astype(np.float32) for k in range(draws)],
    }
    for lr in lrs:
        for name, image in baselines(lr, s, offset, tuned, interpolations=("bicubic",)).items():
            out.setdefault(name, []).append(image)
    if predict is not None:
        out["model"] = [np.asarray(predict(lr), np.float32) for lr in lrs]
    return out


def compare(
    target: PairTarget, outputs: Mapping[str, Sequence[np.ndarray]], n_boot: int = 300
) -> dict[str, Any]:
    """The test for every method: limits with CIs, false-resolved rates and the curves."""
    rows, curves = [], {}
    for method, images in outputs.items():
        curve = measure(target, images)
        lim = curve.limits(n_boot=n_boot)
        rows.append(
            {
                "method": method,
                "draws": len(images),
                **{
                    f"d{round(100 * lv)}_{k}": v
                    for lv, entry in lim.items()
                    for k, v in entry.items()
                },
                # how often one object is called two at the separation the method claims
                "false_resolved_at_d50": None
                if lim[0.5]["nm"] is None
                else float(
                    np.interp(
                        np.log(lim[0.5]["nm"]), np.log(curve.separations_nm), curve.false_resolved
                    )
                ),
            }
        )
        low, high = curve.interval()
        curves[method] = {
            "p_resolved": curve.probability().tolist(),
            "p_low": low.tolist(),
            "p_high": high.tolist(),
            "false_resolved": curve.false_resolved.tolist(),
        }
    return {
        "separations_nm": target.separations_nm.tolist(),
        "pairs_per_separation": int(len(target.pair_separations) / len(target.separations_nm)),
        "controls": int(len(target.control_centres)),
        "cell": target.cell,
        "rows": rows,
        "curves": curves,
        "rule": {"z": Z, "tolerance": TOLERANCE, "interpolation": "cubic spline"},
    }
