"""Calibrate the crappifier to a real microscope (notebook 02 and ``pssr-nb calibrate``).

A crappifier is only useful if its synthetic LR images look like the real
ones: garbage in, garbage out. Three ways to calibrate it, from the most to
the least information:

- **Real LR/HR pairs** (:func:`calibrate_pairs`): the noise profile of each
  pair (:mod:`pssr_nb.pair_profile`), the physical Poisson-Gaussian estimate
  from its variance-versus-signal line, then Bayesian optimisation of several
  crappifier families to match the whole noise distribution, ranked by
  goodness of fit (:mod:`pssr_nb.crappifier_fit`).
- **LR images only** (:func:`calibrate_lr_only`): the variance-versus-signal
  line measured inside each fast scan from neighbouring pixels, for users
  who have no HR scan of the same field.
- **By hand**: :class:`~pssr_nb.point_scan.PointScanParams` in a form.

Each gives a :class:`Calibration` that writes ``crappifier.json`` (which
training reads) and ``calibration.json`` (the fit, its quality and warnings).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import __version__
from .crappifier_fit import Ranking, fit_families, point_scan_families
from .crappify import Crappifier
from .errors import InputError
from .files import atomic_path, output_folder
from .noise_model import NoiseModel, binned_variance, fit_line, image_noise_model, local_noise
from .normalize import percentile_normalization
from .pair_profile import (
    PairProfile,
    estimate_noise,
    level_variances,
    noise_overlap,
    profile_pair,
    residuals,
)
from .params import Checked, param, to_dict
from .point_scan import PointScanParams
from .sampling import DOWNSAMPLE_MODES, scale_setting

__all__ = [
    "CalibrateInputs",
    "CalibrateParams",
    "Calibration",
    "NoiseComparison",
    "PointScanParams",
    "calibrate_lr_only",
    "calibrate_pairs",
    "compare_noise",
    "residuals",
    "synthetic",
]

CRAPPIFIER = "crappifier.json"
REPORT = "calibration.json"


@dataclasses.dataclass
class NoiseComparison:
    """Real and synthetic noise of one pair, ready to draw.

    Attributes
    ----------
    residuals : dict
        ``real`` and one entry per crappifier: each LR pixel minus the HR level around
        it (flattened), comparable pixel for pixel.
    curves : dict
        The same names: ``(mean level, variance)`` per signal bin.
    """

    residuals: dict[str, np.ndarray]
    curves: dict[str, tuple[np.ndarray, np.ndarray]]


def compare_noise(
    profile: PairProfile, crappifiers: dict[str, Crappifier], bins: int = 12, seed: int = 0
) -> NoiseComparison:
    """The real noise of a pair beside the synthetic noise of each named crappifier."""
    found = {"real": None}
    for name, crappifier in crappifiers.items():
        r = residuals(profile, crappifier, seed)
        found["real"], found[name] = r["real"], r["synthetic"]
    level = profile.level.ravel().astype(np.float64)
    curves = {}
    for name, values in found.items():
        means, variances, _ = binned_variance(level, values, bins)
        curves[name] = (means, variances)
    return NoiseComparison(found, curves)


@dataclasses.dataclass
class CalibrateInputs(Checked):
    """What to calibrate from (``pssr-nb calibrate``; notebook 02 takes notebook 01's pairs)."""

    lr: str = param("", "Real fast-scan (LR) image file or folder.", required=True)
    hr: str = param(
        "", "HR images of the same fields, paired by name; empty calibrates from the LR alone."
    )
    lr_token: str = param("", "Part of LR file names to ignore when pairing, e.g. lowsnr.")
    hr_token: str = param("", "Part of HR file names to ignore when pairing, e.g. highsnr.")


@dataclasses.dataclass
class CalibrateParams(Checked):
    """Settings of automatic calibration."""

    #: Quick mode (CI, a first look): the starting values a form takes instead.
    QUICK: ClassVar[dict[str, Any]] = {"trials": 4, "blur": False}

    scale: int = scale_setting("of the pairs; 1: the same pixel size, denoising")
    trials: int = param(
        16, "Bayesian-optimisation trials per family (more: slower, closer fit).", minimum=1
    )
    bins: int = param(
        8, "Signal-level bins in which real and synthetic noise are compared.", minimum=2
    )
    blur: bool = param(True, "Also try families with extra blur before sampling.")
    dark_level: float = param(
        -1.0,
        "Grey value of zero photons in the LR files (the detector offset); -1 if unknown.",
    )
    mode: str = param(
        "decimate",
        "LR-only calibration: how the fast scan samples (a pair measures it instead).",
        choices=DOWNSAMPLE_MODES,
    )
    dose_range: float = param(
        2.0,
        "Train over doses around the calibrated one: 2 = from 2x noisier to 2x cleaner "
        "(scans vary in dwell time and sample; costs nothing at the calibrated dose, "
        "benchmarks/RESULTS.md); 1 = the calibrated dose only.",
        minimum=1,
    )
    seed: int = param(0, "Noise seed of the comparison and of the optimiser.", minimum=0)


@dataclasses.dataclass
class Calibration:
    """The outcome of a calibration: the crappifier to train with, and how well it fits.

    Attributes
    ----------
    crappifier : Crappifier
        The chosen crappifier.
    lr_noise : NoiseModel
        The physical estimate of the LR microscope's noise, in the HR's normalised units.
    physical : PointScanParams
        The crappifier the physical estimate implies (the LR noise less the HR's own).
    ranking : Ranking or None
        Fitted families with their distances (pairs only).
    profiles : list of PairProfile
        The pairs (empty for LR-only calibration).
    source : str
        ``"pairs"`` or ``"lr_only"``.
    seconds : float
        Wall time.
    warnings : list of str
        What the user should check.
    """

    crappifier: Crappifier
    lr_noise: NoiseModel
    physical: PointScanParams
    ranking: Ranking | None = None
    profiles: list[PairProfile] = dataclasses.field(default_factory=list)
    source: str = "pairs"
    seconds: float = 0.0
    warnings: list[str] = dataclasses.field(default_factory=list)
    params: CalibrateParams | None = None

    def implied_lr_noise(self) -> NoiseModel | None:
        """The LR noise the chosen crappifier produces from the noisy HR at its calibrated
        dose (the centre of a dose range), if it is a point scan."""
        chosen = PointScanParams.from_crappifier(self.crappifier.typical())
        if chosen is None:
            return None
        added = NoiseModel.from_physical(
            chosen.photons or float("inf"), chosen.read_noise, -chosen.background
        )
        if not self.profiles:
            return added
        hr_noise = self.profiles[0].hr_noise
        return added.plus(hr_noise.scaled(noise_overlap(self.crappifier)))

    def comparison(self, top: int = 3, pair: int = 0, bins: int = 12) -> NoiseComparison:
        """Real noise of one pair beside the synthetic noise of the ``top`` families.

        For :func:`~pssr_nb.plotting.noise_profile_figure`; with no ranking, the
        chosen crappifier alone, at its calibrated dose.
        """
        fits = self.ranking.results[:top] if self.ranking else []
        named = {r.family: r.crappifier for r in fits} or {"calibrated": self.crappifier.typical()}
        return compare_noise(self.profiles[pair], named, bins)

    def noise_levels(self, bins: int = 12) -> tuple[np.ndarray, np.ndarray]:
        """The LR noise variance by signal level, pooled over the pairs, the HR's own noise
        taken out (what the physical estimate fits a line to): ``(means, variances)``."""
        means, variances, _ = level_variances(self.profiles, bins)
        return means, variances

    def rows(self) -> list[dict[str, Any]]:
        """The ranking table (one row per family), or the physical estimate alone."""
        if self.ranking is not None:
            return self.ranking.rows()
        return [{"family": "physical estimate", **self.lr_noise.to_dict()}]

    def report(self) -> dict[str, Any]:
        """JSON-ready record: settings, estimates, ranking, warnings."""
        implied = self.implied_lr_noise()
        return {
            "pssr_nb_version": __version__,
            "source": self.source,
            "params": to_dict(self.params) if self.params is not None else None,
            "seconds": round(self.seconds, 2),
            "crappifier": self.crappifier.to_dict(),
            "physical_estimate": {
                "lr_noise": self.lr_noise.to_dict(),
                "crappifier": dataclasses.asdict(self.physical),
            },
            "chosen_implies_lr_noise": implied.to_dict() if implied else None,
            "ranking": self.ranking.rows() if self.ranking else None,
            "tolerance": self.ranking.tolerance if self.ranking else None,
            "pairs": [p.summary() for p in self.profiles],
            "warnings": self.warnings,
        }

    def save(self, folder: str | Path, overwrite: bool = False) -> Path:
        """Write ``crappifier.json`` and ``calibration.json`` into ``folder``; returns the first.

        Raises
        ------
        InputError
            If either file exists and ``overwrite`` is false (nothing is written then).
        """
        folder = Path(folder)
        check_free(folder, overwrite)
        output_folder(folder)
        with atomic_path(folder / REPORT) as tmp:
            tmp.write_text(json.dumps(self.report(), indent=2, default=float) + "\n")
        with atomic_path(folder / CRAPPIFIER) as tmp:
            self.crappifier.save(tmp)
        return folder / CRAPPIFIER


def check_free(folder: str | Path, overwrite: bool = False) -> None:
    """Refuse a folder that already holds a calibration, unless it may be replaced."""
    existing = [Path(folder) / name for name in (CRAPPIFIER, REPORT)]
    existing = [path for path in existing if path.exists()]
    if existing and not overwrite:
        raise InputError(
            f"This folder already holds a calibration ({', '.join(p.name for p in existing)}).",
            path=existing[0],
            fix="Choose another output folder, or replace it with --overwrite "
            "(overwrite=True in Python).",
        )


def synthetic(hr: np.ndarray, crappifier: Crappifier, seed: int = 0) -> np.ndarray:
    """The crappified HR plane, normalised by its percentiles first (as in training)."""
    hr = np.asarray(hr, dtype=np.float64)
    return crappifier(percentile_normalization(hr).apply(hr).astype(np.float32), seed=seed)


def _dark_level(params: CalibrateParams) -> float | None:
    return None if params.dark_level < 0 else params.dark_level


def calibrate_pairs(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    params: CalibrateParams | None = None,
    names: Sequence[str] | None = None,
    fit: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Calibrate from real LR/HR pairs (2-D planes of the same fields).

    Parameters
    ----------
    pairs : sequence of (ndarray, ndarray)
        ``(lr, hr)`` planes; the HR is ``params.scale`` times larger.
    params : CalibrateParams, optional
        Defaults to :class:`CalibrateParams`.
    names : sequence of str, optional
        Pair names for the report and messages.
    fit : bool
        Run the distribution-matching fit; with ``False`` only the (fast) physical
        estimate is made and used.
    progress : callable, optional
        ``progress(done, total)`` after each fitted family; an exception it raises
        stops the calibration (a cancel button).

    Returns
    -------
    Calibration
    """
    params = params or CalibrateParams()
    start = time.perf_counter()
    names = list(names) if names is not None else [f"pair {i + 1}" for i in range(len(pairs))]
    if not pairs:
        raise InputError(
            "Calibration from pairs needs at least one LR/HR pair.",
            fix="Record your pairs in notebook 01, or calibrate from LR images only.",
        )
    profiles = [
        profile_pair(lr, hr, params.scale, _dark_level(params), name)
        for (lr, hr), name in zip(pairs, names, strict=True)
    ]
    modes = {p.mode for p in profiles}
    if len(modes) > 1:
        raise InputError(
            f"The pairs disagree on how the LR was sampled ({sorted(modes)}).",
            fix="Calibrate pairs from one microscope setting at a time.",
        )
    lr_noise = estimate_noise(profiles)
    first = profiles[0]
    physical = PointScanParams.from_noise(
        lr_noise.minus(first.reference_noise()), first.scale, first.mode
    )
    ranking = None
    crappifier = physical.crappifier()
    if fit:
        from .crappifier_fit import NoiseDistance

        families = point_scan_families(
            profiles, blur=(False, True) if params.blur else (False,), bins=params.bins
        )
        distance = NoiseDistance(profiles, bins=params.bins, seed=params.seed)
        ranking = fit_families(
            families, distance, trials=params.trials, seed=params.seed, progress=progress
        )
        crappifier = ranking.chosen.crappifier
    warnings = [w for p in profiles for w in p.warnings]
    if first.hr_noise.variance(0.5) > 0.5 * lr_noise.variance(0.5):
        warnings.append(
            "The HR images are nearly as noisy as the LR images: the network will learn to "
            "reproduce HR noise. Use cleaner (slower or averaged) HR scans if you can."
        )
    return Calibration(
        crappifier=crappifier.with_dose_range(params.dose_range),
        lr_noise=lr_noise,
        physical=physical,
        ranking=ranking,
        profiles=profiles,
        source="pairs",
        seconds=time.perf_counter() - start,
        warnings=warnings,
        params=params,
    )


def lr_noise_model(
    lr_planes: Sequence[np.ndarray], bins: int = 12, names: Sequence[str] = ()
) -> NoiseModel:
    """Poisson-Gaussian noise of fast scans, from the LR images alone.

    Each plane is put in its own percentile-normalised units (as prediction
    normalises an LR image), then the local variance-versus-signal points of
    all planes are pooled and fitted as in
    :func:`~pssr_nb.noise_model.image_noise_model`. Read noise is hard to
    separate from fine structure this way; the photon count is the robust part.

    Raises
    ------
    InputError
        If a plane has no noise to measure (a constant or saturated image), naming it
        (``names``, one per plane) — a noise-free crappifier would be silently wrong.
    """
    from scipy import ndimage

    signals, noises = [], []
    for k, plane in enumerate(lr_planes):
        plane = np.asarray(plane, dtype=np.float64)
        if not np.nanstd(plane) > 0:
            raise InputError(
                "This LR image is constant: it holds no noise to measure.",
                path=names[k] if k < len(names) else None,
                fix="Calibrate from real fast scans of a specimen (not a blank or "
                "saturated frame), or remove this file from the LR folder.",
            )
        signal, noise = local_noise(percentile_normalization(plane).apply(plane))
        signals.append(ndimage.gaussian_filter(signal, 1.0).ravel())
        noises.append(noise.ravel())
    signal, noise = np.concatenate(signals), np.concatenate(noises)
    return fit_line(*binned_variance(signal, noise, bins, robust=True))


def calibrate_lr_only(
    lr_planes: Sequence[np.ndarray],
    params: CalibrateParams | None = None,
    hr_planes: Sequence[np.ndarray] = (),
    names: Sequence[str] = (),
) -> Calibration:
    """Calibrate from fast (LR) scans alone, for users without matching HR scans.

    The noise is measured inside each LR image (:func:`lr_noise_model`), in the
    LR's own normalised units, which training assumes match the HR's. When HR
    images are given (the ones you train on), their own noise is subtracted
    from what the crappifier adds. Sampling mode and blur cannot be measured
    without pairs: ``params.mode`` is used, without blur. ``names`` (one per LR plane)
    name a file that cannot be used.
    """
    params = params or CalibrateParams()
    start = time.perf_counter()
    if not lr_planes:
        raise InputError("LR-only calibration needs at least one LR image.")
    lr_noise = lr_noise_model(lr_planes, names=names)
    crappifier = PointScanParams(scale=params.scale, mode=params.mode).crappifier()
    added = lr_noise
    if hr_planes:
        hr_models = [
            image_noise_model(percentile_normalization(np.asarray(h)).apply(np.asarray(h)))
            for h in hr_planes
        ]
        hr_noise = NoiseModel(
            float(np.mean([m.gain for m in hr_models])),
            float(np.mean([m.constant for m in hr_models])),
        )
        added = lr_noise.minus(hr_noise.scaled(noise_overlap(crappifier)))
    physical = PointScanParams.from_noise(added, params.scale, params.mode)
    return Calibration(
        crappifier=physical.crappifier().with_dose_range(params.dose_range),
        lr_noise=lr_noise,
        physical=physical,
        source="lr_only",
        seconds=time.perf_counter() - start,
        warnings=[
            "Calibrated from LR images alone: the noise level assumes your LR and HR images "
            "span similar intensities after normalisation, and sampling and blur are not "
            "measured. Calibrate from real pairs when you have them."
        ],
        params=params,
    )


def run(
    params: CalibrateParams,
    lr: str | Path,
    out_dir: str | Path,
    hr: str | Path | None = None,
    fit: bool = True,
    overwrite: bool = False,
    lr_token: str = "",
    hr_token: str = "",
) -> Calibration:
    """Calibrate from image files and write ``crappifier.json`` and ``calibration.json``.

    Parameters
    ----------
    params : CalibrateParams
    lr : file or folder
        The real fast (LR) scans.
    out_dir : folder
        Where the two files are written.
    hr : file or folder, optional
        HR scans of the same fields, paired with the LR files by name; without them
        the calibration uses the LR images alone.
    fit : bool
        Run the distribution-matching fit (pairs only).
    overwrite : bool
        Replace a calibration already in ``out_dir`` (checked before any work).
    lr_token, hr_token : str
        Parts of the names to ignore when pairing (e.g. ``lowsnr``/``highsnr``).

    Stacks contribute their middle plane.
    """
    from .data import find_pairs
    from .io import image_files, middle_plane, read_image

    check_free(out_dir, overwrite)
    output_folder(out_dir)
    lr_files = image_files(lr)
    if hr is None:
        planes = [middle_plane(read_image(f)) for f in lr_files]
        calibration = calibrate_lr_only(planes, params, names=[str(f) for f in lr_files])
    else:
        pairs = find_pairs(lr, hr, lr_token, hr_token)
        planes = [(middle_plane(read_image(a)), middle_plane(read_image(b))) for a, b in pairs]
        calibration = calibrate_pairs(planes, params, [a.stem for a, _ in pairs], fit=fit)
    calibration.save(out_dir, overwrite)
    return calibration
