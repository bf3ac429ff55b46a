"""A two-point resolution target matched to the specimen, scanned by the simulated microscope.

The field is a lattice of cells. Most cells hold a pair of point objects at one
of many graded separations (steps of at most 10 %), the pair's centre at a random
sub-pixel position and its axis at a random angle, so no separation is favoured
by the sampling phase. The other cells hold a single object of the pair's
integrated intensity: a control that no honest method shows as two.

Objects and background match the microscope's specimen: for EM, dark points on
a bright, textured section (the contrast of the EM phantoms' membranes); for
fluorescence, bright points on a dim, textured background. The field is blurred
by the microscope's PSF and scanned by :func:`pssr_nb.phantoms.acquire`, so HR
and LR scans carry the same photon and read noise as the phantoms, and any
number of independent scans (noise draws) of the same field can be taken.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage

from .phantoms import Microscope, acquire
from .specimens import Grid, point_mass_gain, splat

__all__ = ["LOOKS", "SEPARATION_STEP", "default_kind", "make_target", "PairTarget", "separations"]

#: Largest ratio between neighbouring separations.
SEPARATION_STEP = 1.10
_OVERSAMPLE = 2
_FWHM_TO_SIGMA = 1 / 2.3548

#: Per specimen: background level, its texture's amplitude and correlation length
#: (in PSF widths), the objects' peak contrast after the PSF (negative: dark objects),
#: small enough that a control (twice the contrast) stays inside the detector's range, and
#: the objects' own width before the PSF (Gaussian SD, nm): EM lines are membranes, as in
#: the EM phantoms (3 nm), fluorescent points are point sources.
LOOKS = {
    "em": {"background": 0.62, "texture": 0.05, "texture_corr": 0.75, "contrast": -0.22,
           "width_nm": 3.0},
    "fluorescence": {"background": 0.05, "texture": 0.02, "texture_corr": 1.0, "contrast": 0.4,
                     "width_nm": 0.0},
}  # fmt: skip


@dataclasses.dataclass
class PairTarget:
    """The noiseless field and where its pairs and controls are.

    Attributes
    ----------
    truth : ndarray
        Noiseless PSF-blurred field on the HR grid (specimen intensity, float32).
    microscope : Microscope
        How it is scanned.
    scale : int
        LR pixel size in HR pixels.
    separations_nm : ndarray
        The graded separations, ascending.
    kind : str
        ``"points"`` (point pairs) or ``"lines"`` (pairs of parallel line segments, drawn
        across the pair's axis).
    line_length : float
        Length of the line segments in HR pixels (0 for points).
    pair_centres, pair_angles, pair_separations : ndarray
        Each pair's centre (y, x in HR pixels), axis angle (radians) and separation (nm).
    control_centres, control_angles : ndarray
        Each control object's centre (y, x in HR pixels) and the angle its lines are drawn
        across (the axis along which it is judged).
    polarity : int
        +1 for bright objects, -1 for dark ones.
    cell : float
        Side of a lattice cell in HR pixels (the local background is read at its border).
    seed : int
        Seed of the layout and texture; noise draws derive from it.
    """

    truth: np.ndarray
    microscope: Microscope
    scale: int
    kind: str
    line_length: float
    separations_nm: np.ndarray
    pair_centres: np.ndarray
    pair_angles: np.ndarray
    pair_separations: np.ndarray
    control_centres: np.ndarray
    control_angles: np.ndarray
    polarity: int
    cell: float
    seed: int

    @property
    def pixel_size(self) -> float:
        """HR pixel size, nm."""
        return self.microscope.hr_pixel_size

    def scan(self, which: str, draw: int) -> np.ndarray:
        """Noise draw ``draw`` of the ``"hr"`` or ``"lr"`` scan (grey values)."""
        m = self.microscope
        rng = np.random.default_rng([self.seed, 77, draw, which == "lr"])
        if which == "hr":
            return acquire(self.truth, m, 1, m.hr_dwell_us, rng)
        return acquire(self.truth, m, self.scale, m.lr_dwell_us, rng)


def separations(microscope: Microscope, scale: int) -> np.ndarray:
    """From 0.75 PSF FWHM to 6 LR pixels (or 3 FWHM), neighbours at most 10 % apart.

    Below 0.85 FWHM (the Sparrow limit of a Gaussian PSF) not even the noiseless truth
    shows two objects; 6 LR pixels is where interpolation of the LR scan resolves.
    """
    lo = 0.75 * microscope.psf_fwhm
    hi = max(6 * scale * microscope.hr_pixel_size, 3 * microscope.psf_fwhm)
    n = math.ceil(math.log(hi / lo) / math.log(SEPARATION_STEP)) + 1
    return np.geomspace(lo, hi, n)


def default_kind(microscope: Microscope, scale: int) -> str:
    """Lines where the LR scan undersamples the PSF (points would fall between its samples)."""
    return "lines" if scale * microscope.hr_pixel_size > 1.5 * microscope.psf_fwhm else "points"


def make_target(
    microscope: Microscope,
    scale: int,
    kind: str | None = None,
    pairs_per_separation: int = 50,
    controls: int = 200,
    seed: int = 0,
    separations_nm: np.ndarray | None = None,
    multiple: int = 8,
) -> PairTarget:
    """Lay out and draw a pair target for a microscope.

    Parameters
    ----------
    microscope : Microscope
        Its specimen sets the look (:data:`LOOKS`); its PSF and pixel size set the sizes.
    scale : int
        LR pixel size in HR pixels (the field is a multiple of ``scale * multiple``).
    kind : {"points", "lines"}, optional
        Point pairs or line pairs; by default :func:`default_kind`. An EM scan at 16 nm
        pixels samples an 8 nm PSF so sparsely that most single points are missed by
        every LR sample: membranes (lines) are what it can show.
    pairs_per_separation : int
        Pairs at each separation.
    controls : int
        Single-object controls.
    seed : int
        Layout, angles, phases and texture.
    separations_nm : ndarray, optional
        Defaults to :func:`separations`.
    multiple : int
        The LR field's side is a multiple of this (a network's size multiple).
    """
    look = LOOKS["em" if microscope.specimen == "em" else "fluorescence"]
    if separations_nm is None:
        separations_nm = separations(microscope, scale)
    seps = np.sort(np.asarray(separations_nm, float))
    kind = kind or default_kind(microscope, scale)
    if kind not in ("points", "lines"):
        raise ValueError(f"kind must be 'points' or 'lines', got {kind!r}")
    px = microscope.hr_pixel_size
    psf_px = microscope.psf_fwhm / px
    length = max(6 * psf_px, 8 * scale) if kind == "lines" else 0.0
    # room for the widest pair or the lines, the PSF tails, the phase jitter, a background ring
    cell = float(np.hypot(seps[-1] / px, length)) + 4 * psf_px + scale + 4
    n_cells = len(seps) * pairs_per_separation + controls
    per_side = math.ceil(math.sqrt(n_cells))
    step = scale * multiple
    side = math.ceil(per_side * cell / step) * step
    cell = side / per_side
    rng = np.random.default_rng([seed, 55])
    kinds = np.concatenate([np.repeat(seps, pairs_per_separation), np.zeros(controls)])
    kinds = np.concatenate([kinds, np.full(per_side**2 - n_cells, np.nan)])  # empty cells
    rng.shuffle(kinds)
    iy, ix = np.divmod(np.arange(per_side**2), per_side)
    centres = np.stack([(iy + 0.5) * cell, (ix + 0.5) * cell], axis=1)
    centres += rng.uniform(-scale / 2, scale / 2, centres.shape)  # random sampling phase
    angles = rng.uniform(0, np.pi, len(kinds))
    is_pair = kinds > 0
    is_control = kinds == 0

    grid = Grid((side * _OVERSAMPLE, side * _OVERSAMPLE), px / _OVERSAMPLE)
    # the object's own width and the PSF together set how a mass peaks in the truth
    sigma_nm = float(np.hypot(look["width_nm"], microscope.psf_fwhm * _FWHM_TO_SIGMA))
    mass = abs(look["contrast"]) * point_mass_gain(grid, sigma_nm / _FWHM_TO_SIGMA)
    points = np.zeros(grid.shape)
    pc, pa, ps = centres[is_pair], angles[is_pair], kinds[is_pair]
    cc, ca = centres[is_control], angles[is_control]
    if kind == "lines":  # the weight per fine pixel of line that peaks at the contrast
        along = np.arange(-length / 2, length / 2 + 1e-9, 0.5 / _OVERSAMPLE)
        mass = abs(look["contrast"]) * 0.5 * np.sqrt(2 * np.pi) * grid.nm(sigma_nm)
    else:
        along = np.zeros(1)
    half = ps / px / 2
    for centres_k, angles_k, offsets, weight in (
        (pc, pa, (-half, half), mass),
        (cc, ca, (np.zeros(len(cc)),), 2 * mass),
    ):
        u = np.stack([np.sin(angles_k), np.cos(angles_k)], axis=1)
        v = np.stack([np.cos(angles_k), -np.sin(angles_k)], axis=1)  # across the pair's axis
        for off in offsets:
            base = centres_k + off[:, None] * u
            pts = base[:, None, :] + along[None, :, None] * v[:, None, :]
            pts = pts.reshape(-1, 2) * _OVERSAMPLE
            splat(points, pts[:, 0], pts[:, 1], weight)

    if look["width_nm"] > 0:
        points = ndimage.gaussian_filter(points, grid.nm(look["width_nm"]))
    texture = ndimage.gaussian_filter(
        rng.standard_normal(grid.shape), grid.nm(look["texture_corr"] * microscope.psf_fwhm)
    )
    texture /= texture.std() + 1e-12
    field = look["background"] + look["texture"] * texture + np.sign(look["contrast"]) * points
    sigma = grid.nm(microscope.psf_fwhm * _FWHM_TO_SIGMA)
    # blurred before clipping: a point mass is a spike far below zero until the PSF spreads it
    blurred = np.clip(ndimage.gaussian_filter(field, sigma, mode="reflect"), 0, None)
    truth = blurred[::_OVERSAMPLE, ::_OVERSAMPLE].astype(np.float32)
    return PairTarget(
        truth=truth,
        microscope=microscope,
        scale=scale,
        kind=kind,
        line_length=float(length),
        separations_nm=seps,
        pair_centres=pc,
        pair_angles=pa,
        pair_separations=ps,
        control_centres=cc,
        control_angles=ca,
        polarity=1 if look["contrast"] > 0 else -1,
        cell=float(cell),
        seed=seed,
    )
