"""Built-in sample data: simulated specimens imaged by a simulated point-scanning microscope.

The truth is known exactly, so every later step (calibration, training,
benchmarks) can be checked against it. An acquisition is simulated as a point
scanner does it:

1. the specimen (drawn on a grid finer than the HR pixels) is blurred by a Gaussian PSF;
2. the blurred field is *sampled* at the scan's pixel centres: a scan with
   4x larger pixels visits 1 point in 16 (decimation, not averaging);
3. the detector counts Poisson-distributed photons, their mean set by the
   dwell time per pixel; background photons add to the signal;
4. the camera/PMT electronics scale photons to grey values (gain), add a
   Gaussian read noise and an offset, and quantise to the bit depth.

The HR scan uses small pixels and a long dwell; the LR scan, large pixels and
a short dwell; ``truth`` is the noiseless blurred field on the HR grid.
LR pixel ``i`` sits at HR pixel ``scale * i`` (sampling offset 0).
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import ndimage

from . import __version__
from .crappify import Crappifier, Downsample, Gaussian, Offset, Poisson
from .errors import InputError
from .files import output_folder
from .io import write_tiff
from .noise_model import NoiseModel
from .normalize import Normalization, percentile_normalization
from .params import Checked, param, setting_error, to_dict
from .sampling import DEFAULT_SCALE, scale_setting
from .specimens import SPECIMENS, Grid, make_specimen

__all__ = [
    "MICROSCOPES",
    "acquire",
    "default_microscope",
    "Microscope",
    "PhantomSet",
    "physical_normalization",
    "run",
    "scan_noise",
    "simulate",
    "SimulateParams",
    "specimen_of",
]


@dataclasses.dataclass(frozen=True)
class Microscope:
    """Optics and detector of a simulated point-scanning microscope.

    Attributes
    ----------
    name : str
        Preset name.
    specimen : str
        The kind of specimen this microscope images by default.
    hr_pixel_size : float
        Pixel size of the high-resolution scan, nm.
    psf_fwhm : float
        Full width at half maximum of the Gaussian point-spread function, nm.
    photons_per_us : float
        Detected photons (or electrons) per microsecond of dwell at specimen intensity 1.
    background_per_us : float
        Background photons per microsecond of dwell (autofluorescence, dark counts).
    hr_dwell_us, lr_dwell_us : float
        Dwell time per pixel of the HR and LR scans, microseconds.
    read_noise : float
        Standard deviation of the electronics' Gaussian noise, grey values.
    offset : float
        Grey value of zero signal.
    bit_depth : int
        Bits of the digitiser (8 gives uint8 files; up to 16 gives uint16).
    fill : float
        Fraction of the grey range that specimen intensity 1 reaches; the gain is set
        per scan, as a user adjusts a detector to the brightness of a fast or slow scan.
    """

    name: str
    specimen: str
    hr_pixel_size: float
    psf_fwhm: float
    photons_per_us: float
    background_per_us: float
    hr_dwell_us: float
    lr_dwell_us: float
    read_noise: float
    offset: float
    bit_depth: int
    fill: float = 0.8

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8 if self.bit_depth <= 8 else np.uint16)

    def photons(self, dwell_us: float) -> float:
        """Mean photons per pixel at intensity 1 for a dwell time."""
        return self.photons_per_us * dwell_us

    def gain(self, dwell_us: float) -> float:
        """Grey values per photon for a scan with this dwell (see ``fill``)."""
        full = 2**self.bit_depth - 1 - self.offset
        return self.fill * full / (self.photons(dwell_us) + self.background_per_us * dwell_us)


MICROSCOPES: dict[str, Microscope] = {
    "sem": Microscope(
        name="sem",
        specimen="em",
        hr_pixel_size=4.0,
        psf_fwhm=8.0,
        photons_per_us=20.0,
        background_per_us=0.0,
        hr_dwell_us=10.0,
        lr_dwell_us=1.0,
        read_noise=1.5,
        offset=8.0,
        bit_depth=8,
    ),
    "confocal": Microscope(
        name="confocal",
        specimen="fluorescence",
        hr_pixel_size=40.0,
        psf_fwhm=220.0,
        photons_per_us=5.0,
        background_per_us=0.05,
        hr_dwell_us=20.0,
        lr_dwell_us=2.0,
        read_noise=6.0,
        offset=100.0,
        bit_depth=12,
    ),
}


def acquire(
    truth: np.ndarray, microscope: Microscope, step: int, dwell_us: float, rng: np.random.Generator
) -> np.ndarray:
    """Scan a noiseless HR field: sample every ``step``-th pixel, then count photons.

    Parameters
    ----------
    truth : ndarray
        Noiseless PSF-blurred field on the HR grid, specimen intensity, YX last.
    microscope : Microscope
        Detector settings.
    step : int
        Scan pixel size in HR pixels (1 for the HR scan, ``scale`` for the LR scan).
    dwell_us : float
        Dwell per pixel, microseconds.
    rng : numpy.random.Generator
        Noise source.

    Returns
    -------
    ndarray
        Grey values in the microscope's dtype.
    """
    sampled = truth[..., ::step, ::step].astype(np.float64)
    mean_photons = microscope.photons(dwell_us) * np.clip(sampled, 0, None) + (
        microscope.background_per_us * dwell_us
    )
    counts = rng.poisson(mean_photons)
    grey = microscope.gain(dwell_us) * counts + microscope.offset
    grey = grey + rng.normal(0.0, microscope.read_noise, grey.shape)
    top = 2**microscope.bit_depth - 1
    return np.clip(np.rint(grey), 0, top).astype(microscope.dtype)


def physical_normalization(microscope: Microscope, dwell_us: float) -> Normalization:
    """The map from a scan's grey values back to specimen intensity (0 = no signal)."""
    gain = microscope.gain(dwell_us)
    low = microscope.offset + gain * microscope.background_per_us * dwell_us
    return Normalization(
        low=low, high=low + gain * microscope.photons(dwell_us), dtype=str(microscope.dtype)
    )


def scan_noise(
    microscope: Microscope, dwell_us: float, hr_physical: Normalization, units: Normalization
) -> NoiseModel:
    """The Poisson-Gaussian noise of a scan, in the units of a normalisation of the HR scan.

    Calibration reports noise in the HR image's percentile-normalised units;
    this is the true value to compare with. Specimen intensity ``s`` is HR grey
    value ``hr_physical.low + s * hr_physical.span``, which ``units`` maps to
    ``k * s + c``.
    """
    k = hr_physical.span / units.span
    c = (hr_physical.low - units.low) / units.span
    photons = microscope.photons(dwell_us)
    grey_per_unit = microscope.gain(dwell_us) * photons
    read = k * np.sqrt(microscope.read_noise**2 + 1 / 12) / grey_per_unit  # with rounding
    zero = c - k * microscope.background_per_us * dwell_us / photons
    return NoiseModel.from_physical(photons / k, float(read), float(zero))


@dataclasses.dataclass
class PhantomSet:
    """HR, LR and truth of one simulated field of view (2-D, time-lapse or z-stack).

    Attributes
    ----------
    truth : ndarray
        Noiseless PSF-blurred specimen on the HR grid, float32 specimen intensity.
    hr, lr : ndarray
        The simulated HR and LR scans in grey values (uint8 or uint16).
    axes : str
        ``"YX"``, ``"TYX"`` or ``"ZYX"``.
    scale : int
        LR pixel size / HR pixel size.
    microscope : Microscope
        How it was imaged.
    specimen : str
        Specimen kind.
    seed : int
        Seed of the specimen and the noise.
    features : list of dict
        For resolution targets: every test object with its separation and positions (HR pixels).
    objects : list of dict
        Small objects (EM vesicles, fluorescent puncta) of the first frame: ``y``, ``x`` and
        ``radius`` in HR pixels, ``shape`` ("ring": a dark membrane ring; "spot": a bright
        point); the truth that detections are checked against.
    """

    truth: np.ndarray
    hr: np.ndarray
    lr: np.ndarray
    axes: str
    scale: int
    microscope: Microscope
    specimen: str
    seed: int
    features: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    objects: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    offset: float = 0.0  # HR position of LR pixel 0: a point scan samples block corners

    @property
    def pixel_size(self) -> float:
        """HR pixel size, nm."""
        return self.microscope.hr_pixel_size

    @property
    def lr_pixel_size(self) -> float:
        return self.microscope.hr_pixel_size * self.scale

    def normalization(self, which: str = "hr") -> Normalization:
        """Physical normalisation of the ``"hr"`` or ``"lr"`` scan to specimen intensity."""
        dwell = self.microscope.hr_dwell_us if which == "hr" else self.microscope.lr_dwell_us
        return physical_normalization(self.microscope, dwell)

    def reacquire(self, which: str = "hr", seed: int = 1, shift: int = 0) -> np.ndarray:
        """An independent repeat scan of the same field (new noise), e.g. for Fourier ring correlation.

        ``shift`` moves the scan grid by that many HR pixels in y and x (the first sample
        lands on HR pixel ``shift``): a repeat that does not share the sampling grid.
        """
        m = self.microscope
        rng = np.random.default_rng([self.seed, 1000 + seed] + ([shift] if shift else []))
        truth = self.truth[..., shift:, shift:]
        if which == "hr":
            return acquire(truth, m, 1, m.hr_dwell_us, rng)
        return acquire(truth, m, self.scale, m.lr_dwell_us, rng)

    def equivalent_crappifier(self) -> Crappifier:
        """The crappifier that turns ``truth`` into the LR scan, in normalised units.

        Exact for the Poisson and Gaussian parts; the rounding to grey values is
        folded into the Gaussian as its variance (1/12 of a grey level squared).
        """
        m = self.microscope
        dwell = m.lr_dwell_us
        photons = m.photons(dwell)
        background = m.background_per_us * dwell / photons
        read = np.sqrt(m.read_noise**2 + 1 / 12) / (m.gain(dwell) * photons)
        steps = [Downsample(self.scale, "decimate", 0)]
        if background > 0:
            steps.append(Offset(background))
        steps.append(Poisson(photons))
        if background > 0:
            steps.append(Offset(-background))
        steps.append(Gaussian(float(read)))
        return Crappifier(steps)

    def noise_model(self, which: str = "lr", units: Normalization | None = None) -> NoiseModel:
        """The ``"lr"`` or ``"hr"`` scan's noise in ``units`` (default: the HR's percentiles).

        What calibration of this pair should find (see :func:`scan_noise`).
        """
        m = self.microscope
        dwell = m.lr_dwell_us if which == "lr" else m.hr_dwell_us
        units = units or percentile_normalization(self.hr)
        return scan_noise(m, dwell, self.normalization("hr"), units)

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description of how this set was made."""
        return {
            "specimen": self.specimen,
            "seed": self.seed,
            "axes": self.axes,
            "scale": self.scale,
            "sampling_offset": self.offset,
            "hr_pixel_size_nm": self.pixel_size,
            "lr_pixel_size_nm": self.lr_pixel_size,
            "microscope": dataclasses.asdict(self.microscope),
            "hr_normalization": self.normalization("hr").to_dict(),
            "lr_normalization": self.normalization("lr").to_dict(),
            "equivalent_crappifier": self.equivalent_crappifier().to_dict(),
            "features": self.features,
            "objects": self.objects,
        }


def default_microscope(specimen: str) -> str:
    """The preset that images a specimen: ``sem`` for EM, ``confocal`` otherwise."""
    return "sem" if specimen == "em" else "confocal"


def specimen_of(modality: str) -> str:
    """The phantom specimen of a model's modality text (``em`` for EM, else ``fluorescence``)."""
    return "em" if "EM" in modality else "fluorescence"


def simulate(
    specimen: str = "em",
    shape: tuple[int, int] = (256, 256),
    scale: int = DEFAULT_SCALE,
    frames: int = 1,
    frame_axis: str = "T",
    seed: int = 0,
    microscope: str | Microscope | None = None,
    oversample: int = 2,
) -> PhantomSet:
    """Simulate HR, LR and truth of a specimen.

    Parameters
    ----------
    specimen : {"em", "fluorescence", "target"}
        What to image (``target`` is a resolution target).
    shape : (int, int)
        HR image size in pixels; each must be a multiple of ``scale``.
    scale : int
        LR pixel size in HR pixels.
    frames : int
        1 for a 2-D image, more for a time-lapse or z-stack.
    frame_axis : {"T", "Z"}
        Whether frames are time points (objects move) or slices (objects change with depth).
    seed : int
        Same seed, same specimen and same noise.
    microscope : str or Microscope, optional
        A preset name from :data:`MICROSCOPES` or a custom one; by default ``sem`` for EM
        and ``confocal`` otherwise.
    oversample : int
        The specimen is drawn on a grid this many times finer than the HR pixels.

    Returns
    -------
    PhantomSet

    Examples
    --------
    >>> ps = simulate("em", shape=(128, 128), scale=4, seed=0)
    >>> ps.hr.shape, ps.lr.shape, ps.hr.dtype
    ((128, 128), (32, 32), dtype('uint8'))
    """
    if specimen not in SPECIMENS:
        raise InputError(f"Unknown specimen {specimen!r}.", fix=f"Choose one of {SPECIMENS}.")
    if microscope is None:
        microscope = default_microscope(specimen)
    if isinstance(microscope, str):
        if microscope not in MICROSCOPES:
            raise InputError(
                f"Unknown microscope preset {microscope!r}.",
                fix=f"Choose one of {sorted(MICROSCOPES)}.",
            )
        microscope = MICROSCOPES[microscope]
    h, w = (int(s) for s in shape)
    if scale < 1 or h % scale or w % scale:
        raise InputError(
            f"Image size {shape} must be a multiple of the scale {scale}.",
            fix="Pick e.g. 256 x 256 with scale 4.",
        )
    if frame_axis not in ("T", "Z"):
        raise InputError(f"frame_axis must be 'T' or 'Z', got {frame_axis!r}.")
    rng = np.random.default_rng(seed)
    grid = Grid((h * oversample, w * oversample), microscope.hr_pixel_size / oversample)
    separations = np.geomspace(0.4 * microscope.psf_fwhm, 3 * scale * microscope.hr_pixel_size, 8)
    spec = make_specimen(specimen, grid, rng, frames, microscope.psf_fwhm, separations)
    psf_sigma = grid.nm(microscope.psf_fwhm / 2.3548)
    truth = np.empty((frames, h, w), np.float32)
    for f in range(frames):
        t, z = (f, 0.0) if frame_axis == "T" else (0.0, f)
        field = ndimage.gaussian_filter(spec.draw(t=t, z=z), psf_sigma, mode="reflect")
        truth[f] = field[::oversample, ::oversample]  # HR pixel j is fine pixel oversample * j
    hr = acquire(truth, microscope, 1, microscope.hr_dwell_us, np.random.default_rng([seed, 1]))
    lr = acquire(truth, microscope, scale, microscope.lr_dwell_us, np.random.default_rng([seed, 2]))
    features = spec.features(scale_to=oversample) if specimen == "target" else []
    objects = [
        {
            **o,
            "y": o["y"] / oversample,
            "x": o["x"] / oversample,
            "radius": o["radius"] / oversample,
        }
        for o in spec.small_objects()
    ]
    axes = "YX" if frames == 1 else frame_axis + "YX"
    if frames == 1:
        truth, hr, lr = truth[0], hr[0], lr[0]
    return PhantomSet(truth, hr, lr, axes, scale, microscope, specimen, seed, features, objects)


@dataclasses.dataclass
class SimulateParams(Checked):
    """Settings of the sample-data generator (``pssr-nb simulate`` and the notebooks)."""

    specimen: str = param(
        "em",
        "What to image: EM-like section, fluorescent cell, or resolution target.",
        choices=SPECIMENS,
    )
    size: int = param(256, "HR image size in pixels (square; a multiple of the scale).", minimum=16)
    scale: int = scale_setting()
    frames: int = param(
        1, "Frames per image: 1 for 2-D, more for a time-lapse or z-stack.", minimum=1
    )
    frame_axis: str = param("T", "Frames are time points (T) or z-slices (Z).", choices=("T", "Z"))
    n_images: int = param(4, "How many fields of view to simulate.", minimum=1)
    seed: int = param(0, "Random seed; image i uses seed + i.", minimum=0)
    microscope: str = param(
        "", "Microscope preset (sem, confocal); empty picks one for the specimen."
    )

    def check_together(self) -> None:
        if self.size % self.scale:
            raise setting_error(self, "size", f"a multiple of scale = {self.scale}")


def run(params: SimulateParams, out_dir: str | Path, overwrite: bool = False) -> dict[str, Any]:
    """Simulate ``params.n_images`` fields of view and write them as TIFFs.

    Writes ``hr/``, ``lr/`` and ``truth/`` folders with identically named files
    (so LR/HR pairs match by name), plus ``phantoms.json`` describing each set.

    Returns
    -------
    dict
        The record written to ``phantoms.json``.
    """
    out = output_folder(out_dir)
    start = time.perf_counter()
    records = []
    for i in range(params.n_images):
        ps = simulate(
            params.specimen,
            (params.size, params.size),
            params.scale,
            params.frames,
            params.frame_axis,
            params.seed + i,
            params.microscope or None,
        )
        name = f"{params.specimen}_{params.seed + i:03d}.tif"
        z_px = {"Z": ps.pixel_size} if "Z" in ps.axes else {}
        for folder, pixels, px in (
            ("hr", ps.hr, ps.pixel_size),
            ("lr", ps.lr, ps.lr_pixel_size),
            ("truth", ps.truth, ps.pixel_size),
        ):
            write_tiff(
                out / folder / name,
                pixels,
                ps.axes,
                {"X": px, "Y": px, **z_px},
                overwrite=overwrite,
            )
        records.append({"file": name, **ps.metadata()})
    record = {
        "params": to_dict(params),
        "pssr_nb_version": __version__,
        "seconds": round(time.perf_counter() - start, 3),
        "images": records,
    }
    (out / "phantoms.json").write_text(json.dumps(record, indent=2) + "\n")
    return record
