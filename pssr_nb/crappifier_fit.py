"""Distribution matching: search crappifier parameters so synthetic noise looks like real noise.

The physical estimator (:mod:`pssr_nb.calibrate`) matches the *variance* of
the noise at each signal level. This module matches the whole distribution:
for each candidate setting, the HR images are crappified, their noise
profiles computed exactly as the real ones, and the two compared bin by bin
of signal level with the 1-Wasserstein distance (the mean absolute
difference of sorted samples, which sees shape and skew as well as spread),
in units of the real noise's standard deviation so every bin counts equally.

The search is Bayesian optimisation with a Gaussian process (optuna's
``GPSampler``), started from the physical estimate. Every evaluation uses the
same noise seed, so the objective is deterministic and two settings are
compared on the same random numbers.

A *family* is a crappifier with free parameters and declared ranges; any
crappifier can be fitted this way, not only the built-in point scans.
Several families are ranked by distance, and the simplest family that fits
as well as the best (within the distance's own sampling noise) is chosen.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .crappify import Crappifier
from .errors import InputError
from .noise_model import NoiseModel
from .pair_profile import PairProfile, estimate_noise, noise_overlap, residuals
from .point_scan import PointScanParams

__all__ = [
    "NOISES",
    "RELATIVE_TOLERANCE",
    "Family",
    "fit_families",
    "fit_family",
    "FitResult",
    "NoiseDistance",
    "Parameter",
    "point_scan_families",
    "point_scan_family",
    "rank",
    "Ranking",
]

NOISES = ("gaussian", "poisson", "poisson+gaussian")
#: Families within this fraction of the best distance (plus its sampling noise) fit as well.
RELATIVE_TOLERANCE = 0.25


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A searched parameter: its range and whether to search it on a log scale."""

    low: float
    high: float
    log: bool = False

    def clip(self, value: float) -> float:
        return float(min(max(value, self.low), self.high))


@dataclasses.dataclass
class Family:
    """A crappifier with free parameters.

    Attributes
    ----------
    name : str
        Shown in the ranking.
    parameters : dict of str to Parameter
        What to search, and where.
    build : callable
        ``build(values) -> Crappifier`` for a dict of parameter values.
    start : dict of str to float
        A first guess, evaluated first (e.g. the physical estimate).
    prior : int
        Among equally good families with as many parameters, a lower prior wins
        (the built-ins give 0 to the sampling that registration measured).
    """

    name: str
    parameters: dict[str, Parameter]
    build: Callable[[dict[str, float]], Crappifier]
    start: dict[str, float] = dataclasses.field(default_factory=dict)
    prior: int = 0


def point_scan_family(
    noise: str,
    mode: str,
    scale: int,
    guess: NoiseModel,
    blur: bool = False,
    prior: int = 0,
) -> Family:
    """A built-in family: a point scan with Gaussian, Poisson or Poisson+Gaussian noise.

    Parameters
    ----------
    noise : {"gaussian", "poisson", "poisson+gaussian"}
        Which noise the crappifier adds.
    mode : str
        Downsampling mode (``decimate``, ``area``, ``bilinear``).
    scale : int
        Downsampling factor.
    guess : NoiseModel
        The noise to add according to the physical estimate; sets the start and
        the search ranges (a decade either way for photons).
    blur : bool
        Whether to search an extra Gaussian blur before sampling (0-2 HR pixels).
    prior : int
        See :class:`Family`.
    """
    if noise not in NOISES:
        raise InputError(f"Unknown noise family {noise!r}.", fix=f"Use one of {NOISES}.")
    shot, read = "poisson" in noise, "gaussian" in noise
    mid = max(float(guess.variance(0.5)), 1e-12)  # the total variance at mid signal
    photons = guess.photons if math.isfinite(guess.photons) else 1000.0
    if shot and not read and guess.read_noise**2 > 0.1 * mid:
        photons = (0.5 - guess.zero_level) / mid  # shot noise must carry all of it
    parameters: dict[str, Parameter] = {}
    start: dict[str, float] = {}
    if shot:
        parameters["photons"] = Parameter(max(photons / 10, 0.1), min(photons * 10, 1e6), log=True)
        start["photons"] = photons
    if read:
        parameters["read_noise"] = Parameter(0.0, 3 * math.sqrt(mid))
        start["read_noise"] = guess.read_noise if shot else math.sqrt(mid)
    if blur:
        parameters["blur"] = Parameter(0.0, 2.0)
        start["blur"] = 0.0
    background = -guess.zero_level if shot else 0.0

    def build(values: dict[str, float]) -> Crappifier:
        return PointScanParams(
            scale=scale,
            mode=mode,
            blur=values.get("blur", 0.0),
            photons=values.get("photons", 0.0),
            background=background,
            read_noise=values.get("read_noise", 0.0),
        ).crappifier()

    name = f"{noise}{' + blur' if blur else ''}, {mode}"
    start = {k: parameters[k].clip(v) for k, v in start.items()}
    return Family(name, parameters, build, start, prior)


def point_scan_families(
    profiles: Sequence[PairProfile],
    noises: Sequence[str] = NOISES,
    modes: Sequence[str] | None = None,
    blur: Sequence[bool] = (False, True),
    bins: int = 12,
) -> list[Family]:
    """The built-in families to rank: each noise, with and without blur, for each sampling.

    ``modes`` defaults to the pair's own sampling (from registration) and the other of
    decimate/area, so the ranking can confirm or contradict the registration.
    """
    profiles = list(profiles)
    first = profiles[0]
    if modes is None:
        modes = [first.mode] + [m for m in ("decimate", "area") if m != first.mode]
        if first.scale == 1:
            modes = ["decimate"]
    lr_noise = estimate_noise(profiles, bins)
    families = []
    for mode in modes:
        carried = first.hr_noise.scaled(
            noise_overlap(PointScanParams(scale=first.scale, mode=mode).crappifier())
        )
        guess = lr_noise.minus(carried)
        for noise in noises:
            for b in blur:
                families.append(
                    point_scan_family(noise, mode, first.scale, guess, b, int(mode != first.mode))
                )
    return families


class NoiseDistance:
    """How far a crappifier's noise profiles are from the real ones.

    Parameters
    ----------
    profiles : sequence of PairProfile
        The real pairs.
    bins : int
        Signal-level bins (equally populated, by the level around each pixel).
    seed : int
        Noise seed of every evaluation (common random numbers).
    """

    def __init__(self, profiles: Sequence[PairProfile], bins: int = 8, seed: int = 0):
        self.profiles = list(profiles)
        if not self.profiles:
            raise InputError("Calibration needs at least one LR/HR pair.")
        self.seed = seed
        level = np.concatenate([p.level.ravel() for p in self.profiles])
        self.groups = np.array_split(np.argsort(level, kind="stable"), bins)
        real = np.concatenate([(p.lr - p.level).ravel() for p in self.profiles])
        self.real = [np.sort(real[g]) for g in self.groups]
        self.spread = np.array([max(r.std(), 1e-12) for r in self.real])

    def synthetic(self, crappifier: Crappifier, seed: int | None = None) -> np.ndarray:
        """The pooled synthetic residual, in the same pixel order as the real one."""
        seed = self.seed if seed is None else seed
        return np.concatenate(
            [residuals(p, crappifier, seed + i)["synthetic"] for i, p in enumerate(self.profiles)]
        )

    def per_bin(self, synthetic: np.ndarray, reference: list[np.ndarray] | None = None):
        """Wasserstein-1 distance per signal bin, in units of the real noise's SD."""
        reference = self.real if reference is None else reference
        return np.array(
            [
                np.mean(np.abs(np.sort(synthetic[g]) - r)) / s
                for g, r, s in zip(self.groups, reference, self.spread, strict=True)
            ]
        )

    def __call__(self, crappifier: Crappifier, seed: int | None = None) -> float:
        return float(self.per_bin(self.synthetic(crappifier, seed)).mean())

    def uncertainty(self, crappifier: Crappifier, repeats: int = 4) -> float:
        """Standard deviation of the distance over noise seeds: how precise one value is."""
        values = [self(crappifier, self.seed + 1000 * (k + 1)) for k in range(repeats)]
        return float(np.std(values, ddof=1))


@dataclasses.dataclass
class FitResult:
    """The best setting found for one family."""

    family: str
    values: dict[str, float]
    distance: float
    crappifier: Crappifier
    n_parameters: int
    trials: int
    seconds: float
    prior: int = 0

    def row(self) -> dict[str, Any]:
        """Table row with the same columns for every family."""
        return {
            "family": self.family,
            "parameters": self.n_parameters,
            "fitted": ", ".join(f"{k} {v:.4g}" for k, v in self.values.items()),
            "distance": round(self.distance, 4),
            "seconds": round(self.seconds, 2),
        }


def fit_family(
    family: Family, distance: NoiseDistance, trials: int = 20, seed: int = 0
) -> FitResult:
    """Search one family's parameters by Bayesian optimisation (optuna's GP sampler).

    The family's start is evaluated first; a few random settings follow, then
    the Gaussian process proposes the rest.
    """
    import optuna

    start = time.perf_counter()
    if not family.parameters:
        crappifier = family.build({})
        return FitResult(family.name, {}, distance(crappifier), crappifier, 0, 1, 0.0, family.prior)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            sampler = optuna.samplers.GPSampler(
                seed=seed, n_startup_trials=min(4, trials), deterministic_objective=True
            )
        study = optuna.create_study(sampler=sampler)
        if family.start:
            study.enqueue_trial(family.start)

        def objective(trial: optuna.Trial) -> float:
            values = {
                name: trial.suggest_float(name, p.low, p.high, log=p.log)
                for name, p in family.parameters.items()
            }
            return distance(family.build(values))

        study.optimize(objective, n_trials=trials)
    finally:
        optuna.logging.set_verbosity(verbosity)
    best = study.best_trial
    return FitResult(
        family=family.name,
        values=dict(best.params),
        distance=float(best.value),
        crappifier=family.build(best.params),
        n_parameters=len(family.parameters),
        trials=len(study.trials),
        seconds=time.perf_counter() - start,
        prior=family.prior,
    )


@dataclasses.dataclass
class Ranking:
    """Fitted families, best first, with the one chosen.

    Attributes
    ----------
    results : list of FitResult
        Sorted by distance.
    tolerance : float
        Distances within this of the best count as equally good: three standard
        deviations of the best distance over noise seeds, plus a quarter of it
        (small differences come from the HR-noise estimate and the search, not
        from the family).
    chosen : FitResult
        The family with the fewest parameters among those within the tolerance
        (then the lowest prior, then the smallest distance).
    """

    results: list[FitResult]
    tolerance: float
    chosen: FitResult

    def rows(self) -> list[dict[str, Any]]:
        """One row per family for a table, with whether it fits as well as the best."""
        best = self.results[0].distance
        return [
            {
                **r.row(),
                "as good as best": r.distance <= best + self.tolerance,
                "chosen": r is self.chosen,
            }
            for r in self.results
        ]


def rank(results: Sequence[FitResult], distance: NoiseDistance) -> Ranking:
    """Order fits by distance and choose the simplest that is as good as the best."""
    ordered = sorted(results, key=lambda r: r.distance)
    best = ordered[0]
    tolerance = 3 * distance.uncertainty(best.crappifier) + RELATIVE_TOLERANCE * best.distance
    good = [r for r in ordered if r.distance <= ordered[0].distance + tolerance]
    chosen = min(good, key=lambda r: (r.n_parameters, r.prior, r.distance))
    return Ranking(ordered, tolerance, chosen)


def fit_families(
    families: Sequence[Family],
    distance: NoiseDistance,
    trials: int = 20,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Ranking:
    """Fit every family and rank them (see :func:`rank`).

    ``progress(done, total)`` is called after each family; an exception it raises stops
    the fit (a cancel button).
    """
    results = []
    for i, family in enumerate(families):
        n_trials = max(6, trials * (1 + len(family.parameters)) // 3)
        results.append(fit_family(family, distance, trials=n_trials, seed=seed))
        if progress is not None:
            progress(i + 1, len(families))
    return rank(results, distance)
