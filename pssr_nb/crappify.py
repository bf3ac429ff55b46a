"""Crappifiers: turn high-resolution images into realistic low-resolution inputs.

A :class:`Crappifier` is a list of steps applied in order to a batch of
images: downsample (a point scan at larger pixels), blur (a Gaussian PSF),
Poisson shot noise, Gaussian read noise, salt-and-pepper, offset. By default
noise comes after downsampling, as in a real fast scan (PSSR2's finding).

Units: images are in the library's normalised units (0 = background, 1 =
bright). ``photons`` is the expected photon count at intensity 1, so Poisson
noise has variance ``intensity / photons``; ``sigma`` of read noise, ``value``
of the offset and the salt-and-pepper levels are in the same intensity units;
``amount`` is a fraction of pixels; blur ``sigma`` is in pixels of the image
the blur is applied to.

Any parameter may be a range ``(low, high)``: a value is then drawn for each
image of the batch independently, so one image gives many crappifications
over an epoch. Photon counts are drawn log-uniformly (they span decades),
everything else uniformly.

Steps run on torch tensors on any device (the GPU during training) and, through
the same code, on numpy arrays. Built-in steps round-trip through JSON
(``crappifier.json``); any callable ``f(batch, generator) -> batch`` can be
used as a custom step or as a whole crappifier.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError
from .files import atomic_path
from .sampling import DEFAULT_SCALE, DOWNSAMPLE_MODES, lr_offset

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "STEPS",
    "Blur",
    "Crappifier",
    "Downsample",
    "draw",
    "Gaussian",
    "Offset",
    "Poisson",
    "Range",
    "SaltPepper",
    "Step",
    "StepFn",
]

Range = float | tuple[float, float]
StepFn = Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]

FORMAT = "pssr_nb.crappifier"
FORMAT_VERSION = 1


def _number(name: str, value: Any, minimum: float = -math.inf) -> float:
    """A finite real number (not a bool, a string or NaN) at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"{name} must be a finite number, got {value!r}.")
    if value < minimum:
        raise InputError(f"{name} must be at least {minimum:g}, got {value!r}.")
    return float(value)


def _check_range(name: str, value: Range, minimum: float = 0.0) -> Range:
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InputError(f"{name} must be a number or a range (low, high), got {value!r}.")
        lo, hi = (_number(name, v, minimum) for v in value)
        if lo > hi:
            raise InputError(f"{name} must be a range (low, high) with low <= high, got {value}.")
    else:
        lo = hi = _number(name, value, minimum)
    return lo if lo == hi else (lo, hi)


def draw(
    value: Range, n: int, generator: torch.Generator | None, device: torch.device, log: bool = False
) -> torch.Tensor:
    """Draw one value per sample from a number or a ``(low, high)`` range.

    Returns
    -------
    Tensor
        Shape ``(n, 1, 1, 1)``, ready to broadcast over ``(N, C, H, W)``.
    """
    if np.isscalar(value):
        return torch.full((n, 1, 1, 1), float(value), device=device)
    lo, hi = value
    u = torch.rand(n, 1, 1, 1, generator=generator, device=device)
    if log and lo > 0:
        return torch.exp(math.log(lo) + u * (math.log(hi) - math.log(lo)))
    return lo + u * (hi - lo)


def _centre(value: tuple[float, float], log: bool = False) -> float:
    lo, hi = value
    return float(math.sqrt(lo * hi) if log and lo > 0 else (lo + hi) / 2)


class Step:
    """Base class of built-in crappifier steps (dataclasses with a ``name``)."""

    name: ClassVar[str] = ""

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        d = {"step": self.name}
        for k, v in dataclasses.asdict(self).items():
            d[k] = list(v) if isinstance(v, tuple) else v
        return d


@dataclasses.dataclass
class Downsample(Step):
    """Reduce the pixel count by ``scale`` in Y and X.

    ``decimate`` keeps one pixel in ``scale`` (what a point scan at larger pixels
    does); ``area`` averages blocks (binning); ``bilinear`` is PSSR2's choice.
    The image is first cropped to a multiple of ``scale`` at the bottom and right.
    """

    scale: int = DEFAULT_SCALE
    mode: str = "decimate"
    phase: int = 0
    name: ClassVar[str] = "downsample"

    def __post_init__(self) -> None:
        if _number("scale", self.scale, 1) != int(self.scale):
            raise InputError(f"scale must be a positive integer, got {self.scale}.")
        self.scale = int(self.scale)
        if isinstance(self.phase, bool) or not isinstance(self.phase, numbers.Integral):
            raise InputError(f"phase must be a whole number, got {self.phase!r}.")
        if self.mode not in DOWNSAMPLE_MODES:
            raise InputError(
                f"Unknown downsampling mode {self.mode!r}.", fix=f"Use one of {DOWNSAMPLE_MODES}."
            )
        lr_offset(self.scale, self.mode, self.phase)  # validates phase

    @property
    def offset(self) -> float:
        """HR position of LR pixel 0 (see :mod:`pssr_nb.sampling`)."""
        return lr_offset(self.scale, self.mode, self.phase)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        s = self.scale
        if s == 1:
            return x
        h, w = x.shape[-2] - x.shape[-2] % s, x.shape[-1] - x.shape[-1] % s
        x = x[..., :h, :w]
        if self.mode == "decimate":
            return x[..., self.phase :: s, self.phase :: s]
        if self.mode == "area":
            return F.avg_pool2d(x, s)
        return F.interpolate(x, size=(h // s, w // s), mode="bilinear", align_corners=False)


@dataclasses.dataclass
class Blur(Step):
    """Gaussian blur (a point-spread function), ``sigma`` in pixels."""

    sigma: Range = 1.0
    name: ClassVar[str] = "blur"

    def __post_init__(self) -> None:
        self.sigma = _check_range("blur sigma", self.sigma)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        n, c, h, w = x.shape
        sigma = draw(self.sigma, n, generator, x.device).reshape(n, 1).clamp(min=1e-3)
        smax = self.sigma if np.isscalar(self.sigma) else self.sigma[1]
        radius = max(1, math.ceil(3 * smax))
        radius = min(radius, (min(h, w) - 1) // 2) if min(h, w) > 2 else 0
        if radius == 0:
            return x
        t = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
        kernel = torch.exp(-0.5 * (t / sigma) ** 2)
        kernel = (kernel / kernel.sum(dim=1, keepdim=True)).repeat_interleave(c, dim=0)
        y = x.reshape(1, n * c, h, w)
        y = F.pad(y, (radius, radius, radius, radius), mode="reflect")
        y = F.conv2d(y, kernel.reshape(n * c, 1, -1, 1), groups=n * c)
        y = F.conv2d(y, kernel.reshape(n * c, 1, 1, -1), groups=n * c)
        return y.reshape(n, c, h, w)


@dataclasses.dataclass
class Poisson(Step):
    """Shot noise: ``photons`` expected at intensity 1, variance = intensity / photons.

    Negative intensities (an already noisy image dipping below its dark level)
    count no photons and pass through unchanged, so the mean is kept; clipping
    them to 0 would brighten dark regions.
    """

    photons: Range = 50.0
    name: ClassVar[str] = "poisson"

    def __post_init__(self) -> None:
        self.photons = _check_range("photons", self.photons, minimum=1e-6)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        photons = draw(self.photons, x.shape[0], generator, x.device, log=True)
        counts = torch.poisson((x.clamp(min=0) * photons).float(), generator=generator)
        return (counts / photons).to(x.dtype) + x.clamp(max=0)


@dataclasses.dataclass
class Gaussian(Step):
    """Additive Gaussian (read) noise with standard deviation ``sigma``."""

    sigma: Range = 0.02
    name: ClassVar[str] = "gaussian"

    def __post_init__(self) -> None:
        self.sigma = _check_range("gaussian sigma", self.sigma)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        sigma = draw(self.sigma, x.shape[0], generator, x.device)
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + sigma * noise


@dataclasses.dataclass
class SaltPepper(Step):
    """Replace a fraction ``amount`` of pixels, half by ``low`` and half by ``high``."""

    amount: Range = 0.001
    low: float = 0.0
    high: float = 1.0
    name: ClassVar[str] = "salt_pepper"

    def __post_init__(self) -> None:
        self.amount = _check_range("salt-and-pepper amount", self.amount)
        self.low, self.high = _number("low", self.low), _number("high", self.high)
        hi = self.amount if np.isscalar(self.amount) else self.amount[1]
        if hi > 1:
            raise InputError(
                f"salt-and-pepper amount is a fraction of pixels (0..1), got {self.amount}."
            )

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        amount = draw(self.amount, x.shape[0], generator, x.device)
        u = torch.rand(x.shape, generator=generator, device=x.device)
        x = torch.where(u < amount / 2, torch.full_like(x, self.low), x)
        return torch.where((u >= amount / 2) & (u < amount), torch.full_like(x, self.high), x)


@dataclasses.dataclass
class Offset(Step):
    """Add a constant ``value`` (a detector offset or background)."""

    value: Range = 0.0
    name: ClassVar[str] = "offset"

    def __post_init__(self) -> None:
        self.value = _check_range("offset", self.value, minimum=-math.inf)

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return x + draw(self.value, x.shape[0], generator, x.device)


STEPS: dict[str, type[Step]] = {
    cls.name: cls for cls in (Downsample, Blur, Poisson, Gaussian, SaltPepper, Offset)
}


class Crappifier:
    """A sequence of degradation steps, applied to batches of HR images.

    Parameters
    ----------
    steps : sequence
        Built-in :class:`Step` objects or any callables ``f(batch, generator) -> batch``.
        At most one :class:`Downsample` step.

    Examples
    --------
    >>> crap = Crappifier([Downsample(4), Poisson((20, 200)), Gaussian(0.01)])
    >>> lr = crap(np.ones((64, 64), np.float32), seed=0)
    >>> lr.shape
    (16, 16)
    """

    def __init__(self, steps: Sequence[Step | StepFn]):
        self.steps = list(steps)
        downs = [s for s in self.steps if isinstance(s, Downsample)]
        if len(downs) > 1:
            raise InputError("A crappifier may contain at most one downsample step.")
        self._down = downs[0] if downs else None

    @classmethod
    def default(cls, scale: int = DEFAULT_SCALE) -> Crappifier:
        """Decimation then Poisson and read noise over a broad range: a reasonable start."""
        return cls([Downsample(scale), Poisson((10.0, 300.0)), Gaussian((0.0, 0.05))])

    @property
    def scale(self) -> int:
        """The downsampling factor (1 for a pure denoising crappifier)."""
        return self._down.scale if self._down else 1

    @property
    def offset(self) -> float:
        """HR position of LR pixel 0, in HR pixels (the sampling geometry)."""
        return self._down.offset if self._down else 0.0

    def with_dose_range(self, factor: float) -> Crappifier:
        """This crappifier over doses from ``factor`` x lower to ``factor`` x higher.

        A calibrated crappifier is one dose (one dwell time, one sample); real scans vary.
        Every fixed photon count ``p`` becomes the log-uniform range ``(p / factor,
        p * factor)``, and every fixed read-noise ``sigma`` (whose size relative to the
        signal scales inversely with the dose) a range spanning ``factor**2`` whose
        centre is ``sigma``, so :meth:`typical` is the calibrated crappifier again.
        Ranges already present are kept; ``factor`` 1 changes nothing.

        Examples
        --------
        >>> Crappifier([Downsample(4), Poisson(20.0), Gaussian(0.05)]).with_dose_range(2)
        Crappifier([Downsample(scale=4, mode='decimate', phase=0), Poisson(photons=(10.0, 40.0)), Gaussian(sigma=(0.02, 0.08))])
        """
        if factor < 1:
            raise InputError(
                f"A dose range factor must be at least 1, not {factor}.",
                fix="Use 1 for the calibrated dose only, 2 for 2x noisier to 2x cleaner.",
            )
        if factor == 1:
            return Crappifier(self.steps)
        steps = []
        for step in self.steps:
            if isinstance(step, Poisson) and not isinstance(step.photons, tuple):
                step = Poisson((step.photons / factor, step.photons * factor))
            elif isinstance(step, Gaussian) and not isinstance(step.sigma, tuple) and step.sigma:
                ratio = factor**2
                step = Gaussian(
                    (2 * step.sigma / (1 + ratio), 2 * step.sigma * ratio / (1 + ratio))
                )
            steps.append(step)
        return Crappifier(steps)

    def at_scale(self, scale: int, mode: str = "") -> Crappifier:
        """This crappifier downsampling by ``scale`` instead (and by ``mode``, when given),
        its noise and dose kept.

        Noise is drawn per LR pixel, so the same photon count means the same per-pixel SNR
        at every scale: what a scan at a larger or smaller pixel with the same dwell gives.
        A decimation phase beyond the new block is moved to its last pixel.

        Examples
        --------
        >>> Crappifier([Downsample(4, "area"), Poisson(20.0)]).at_scale(2)
        Crappifier([Downsample(scale=2, mode='area', phase=0), Poisson(photons=20.0)])
        >>> Crappifier([Downsample(4), Poisson(20.0)]).at_scale(4, "area").offset
        1.5
        """
        if self._down is None:
            raise InputError(
                "This crappifier has no downsampling step to rescale.",
                fix="Add a Downsample step, or build the crappifier for the scale you need.",
            )
        down = dataclasses.replace(
            self._down,
            scale=scale,
            mode=mode or self._down.mode,
            phase=min(self._down.phase, scale - 1),
        )
        return Crappifier([down if s is self._down else s for s in self.steps])

    def typical(self) -> Crappifier:
        """This crappifier with every range replaced by its centre (geometric for photons).

        Examples
        --------
        >>> Crappifier([Downsample(4), Poisson((10, 1000)), Gaussian((0, 0.1))]).typical()
        Crappifier([Downsample(scale=4, mode='decimate', phase=0), Poisson(photons=100.0), Gaussian(sigma=0.05)])
        """
        steps = []
        for step in self.steps:
            if isinstance(step, Step):
                centres = {
                    f.name: _centre(getattr(step, f.name), log=isinstance(step, Poisson))
                    for f in dataclasses.fields(step)
                    if isinstance(getattr(step, f.name), tuple)
                }
                step = dataclasses.replace(step, **centres)
            steps.append(step)
        return Crappifier(steps)

    def __call__(
        self,
        x: torch.Tensor | np.ndarray,
        generator: torch.Generator | None = None,
        seed: int | None = None,
    ) -> torch.Tensor | np.ndarray:
        """Crappify a batch.

        Parameters
        ----------
        x : Tensor or ndarray
            ``(N, C, H, W)`` (C = frames of one sample, which share drawn parameters),
            ``(N, H, W)`` or ``(H, W)``. numpy in, numpy out (float32).
        generator : torch.Generator, optional
            Random source on the same device as ``x``.
        seed : int, optional
            Shortcut: a fresh generator seeded with this value.
        """
        is_numpy = isinstance(x, np.ndarray)
        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)) if is_numpy else x
        if t.ndim not in (2, 3, 4):
            raise InputError(
                f"Expected an image or batch with 2 to 4 dimensions, got shape {tuple(t.shape)}."
            )
        shape_in = t.shape
        t4 = t.reshape(
            -1 if t.ndim > 2 else 1, *([shape_in[1]] if t.ndim == 4 else [1]), *shape_in[-2:]
        )
        if seed is not None:
            generator = torch.Generator(device=t4.device).manual_seed(int(seed))
        for step in self.steps:
            t4 = step(t4, generator)
        out = t4.reshape(*shape_in[:-2], *t4.shape[-2:])
        return out.cpu().numpy() if is_numpy else out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description; only built-in steps can be serialised."""
        custom = [s for s in self.steps if not isinstance(s, Step)]
        if custom:
            raise InputError(
                f"Custom step {custom[0]!r} cannot be saved to JSON.",
                fix="Use built-in steps for a crappifier you want to save, or save your code with the notebook.",
            )
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "steps": [s.to_dict() for s in self.steps],
        }

    @classmethod
    def from_dict(cls, d: Any) -> Crappifier:
        """Inverse of :meth:`to_dict`; the one validator of crappifier descriptions.

        Raises
        ------
        InputError
            For anything but a pssr_nb crappifier description of known steps with finite
            parameters in range: not a dict, missing or unknown keys, NaN, a wrong type.
        """
        made_by = "Create it with Crappifier.save, pssr-nb calibrate or notebook 02."
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise InputError(
                "This is not a pssr_nb crappifier description (it needs "
                "'format': 'pssr_nb.crappifier' and a list of 'steps').",
                fix=made_by,
            )
        version = d.get("version", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise InputError(
                f"Crappifier format version {version!r} is not one this pssr_nb understands.",
                fix="Upgrade pssr_nb (pip install -U pssr_nb).",
            )
        specs = d.get("steps")
        if not isinstance(specs, list) or not all(
            isinstance(spec, dict) and isinstance(spec.get("step"), str) for spec in specs
        ):
            raise InputError(
                "A crappifier description needs 'steps': a list of {'step': name, ...}.",
                fix=made_by,
            )
        steps = []
        for k, spec in enumerate(specs):
            spec = dict(spec)
            name = spec.pop("step")
            if name not in STEPS:
                raise InputError(
                    f"Unknown crappifier step {name!r}.", fix=f"Known steps: {sorted(STEPS)}."
                )
            known = {f.name for f in dataclasses.fields(STEPS[name])}
            unknown = sorted(set(spec) - known)
            if unknown:
                raise InputError(
                    f"Step {k + 1} ({name}) has unknown parameters: {', '.join(unknown)}.",
                    fix=f"A {name} step takes: {', '.join(sorted(known))}.",
                )
            spec = {key: tuple(v) if isinstance(v, list) else v for key, v in spec.items()}
            try:
                steps.append(STEPS[name](**spec))
            except InputError as exc:
                raise InputError(f"Step {k + 1} ({name}): {exc.problem}", fix=made_by) from None
        return cls(steps)

    def save(self, path: str | Path) -> Path:
        """Write ``crappifier.json``."""
        path = Path(path)
        with atomic_path(path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Crappifier:
        """Read a ``crappifier.json``."""
        path = Path(path)
        if not path.is_file():
            raise InputError(
                "Crappifier file not found." if not path.exists() else "This is a folder.",
                path=path,
                fix="Give the path of a crappifier.json (pssr-nb calibrate writes one), or "
                "leave it empty for the default crappifier.",
            )
        try:
            d = json.loads(path.read_bytes().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(
                f"This crappifier file is not valid JSON text ({exc}).",
                path=path,
                fix="Give a crappifier.json written by pssr_nb, or repair the file.",
            ) from None
        try:
            return cls.from_dict(d)
        except InputError as exc:
            raise InputError(exc.problem, path=path, fix=exc.fix) from None

    def describe(self) -> str:
        """One line per step, for notebooks and reports."""
        return "\n".join(
            f"{i + 1}. {s.to_dict() if isinstance(s, Step) else repr(s)}"
            for i, s in enumerate(self.steps)
        )

    def __repr__(self) -> str:
        return f"Crappifier({self.steps!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Crappifier) and self.steps == other.steps
