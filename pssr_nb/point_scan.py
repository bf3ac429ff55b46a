"""A physical point-scanning crappifier: blur, sampling, shot noise and read noise.

Its parameters are what a microscopist can reason about (photons per pixel,
read noise, how the fast scan samples), in the HR image's normalised
intensity units; :meth:`PointScanParams.crappifier` turns them into the
steps of a :class:`~pssr_nb.crappify.Crappifier`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .crappify import Blur, Crappifier, Downsample, Gaussian, Offset, Poisson
from .noise_model import NoiseModel
from .params import Checked, param
from .sampling import DOWNSAMPLE_MODES, scale_setting

__all__ = ["PointScanParams"]


@dataclasses.dataclass
class PointScanParams(Checked):
    """A physical point-scanning crappifier, in the HR image's normalised intensity units.

    Intensity 1 is the HR image's bright end (99.9th percentile), 0 its dark end.

    Notes
    -----
    ``photons`` is an *effective* count: the one whose Poisson noise has the measured
    variance. A detector that amplifies each photon by a random gain (a photomultiplier,
    an analogue hybrid detector, an EMCCD) adds an excess noise factor ``F`` (1.2 to 2;
    2 for exponential pulse heights), so a fitted ``photons`` is the number detected
    divided by ``F``. The real GigaDB confocal scan counts about 7 photons where the
    calibration reports 3.6 (``benchmarks/probe_gigadb_noise.py``); a model trained
    on either shape of noise scores the same there, so the effective count is enough.
    """

    scale: int = scale_setting()
    mode: str = param(
        "decimate",
        "How the LR scan samples: decimate (a point scan), area (binning), bilinear.",
        choices=DOWNSAMPLE_MODES,
    )
    blur: float = param(0.0, "Extra blur before sampling, Gaussian sigma in HR pixels.", minimum=0)
    photons: float = param(
        20.0, "Photons (or electrons) per pixel at intensity 1: shot noise. 0 = none.", minimum=0
    )
    background: float = param(
        0.0,
        "Light counted where the image is dark, in intensity units (adds shot noise); "
        "negative when the dark end lies above the detector's zero.",
    )
    read_noise: float = param(0.01, "Detector read noise, SD in intensity units.", minimum=0)

    def crappifier(self) -> Crappifier:
        """The :class:`~pssr_nb.crappify.Crappifier` these settings describe."""
        steps: list = []
        if self.blur > 0:
            steps.append(Blur(self.blur))
        steps.append(Downsample(self.scale, self.mode))
        if self.photons > 0:
            if self.background != 0:
                steps.append(Offset(self.background))
            steps.append(Poisson(self.photons))
            if self.background != 0:
                steps.append(Offset(-self.background))
        if self.read_noise > 0:
            steps.append(Gaussian(self.read_noise))
        return Crappifier(steps)

    @classmethod
    def from_crappifier(cls, crappifier: Crappifier) -> PointScanParams | None:
        """The settings of a crappifier of this form, or None if it has other steps or ranges."""
        values: dict[str, Any] = {"photons": 0.0, "read_noise": 0.0}
        for step in crappifier.steps:
            fields = dataclasses.asdict(step) if dataclasses.is_dataclass(step) else {"": None}
            if not all(np.isscalar(v) for v in fields.values()):
                return None  # a random range, or a custom step
            if isinstance(step, Downsample):
                values.update(scale=step.scale, mode=step.mode)
            elif isinstance(step, Blur):
                values["blur"] = float(step.sigma)
            elif isinstance(step, Poisson):
                values["photons"] = float(step.photons)
            elif isinstance(step, Offset):
                values.setdefault("background", float(step.value))  # the first of the two
            elif isinstance(step, Gaussian):
                values["read_noise"] = float(step.sigma)
            else:
                return None
        params = cls(**values)
        return params if params.crappifier().to_dict() == crappifier.to_dict() else None

    @classmethod
    def from_noise(
        cls, noise: NoiseModel, scale: int, mode: str = "decimate", blur: float = 0.0
    ) -> PointScanParams:
        """The point scan that adds ``noise`` (see :class:`~pssr_nb.noise_model.NoiseModel`)."""
        shot = noise.gain > 0
        return cls(
            scale=scale,
            mode=mode,
            blur=blur,
            photons=float(noise.photons) if shot else 0.0,
            background=float(-noise.zero_level) if shot else 0.0,
            read_noise=float(noise.read_noise),
        )
