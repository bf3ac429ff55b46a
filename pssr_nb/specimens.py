"""Simulated specimens drawn on a fine grid: the objects before any microscope.

Three kinds, each built once from a seed as a list of objects and then drawn
for any frame (a time point ``t`` or a slice ``z``), so time-lapses and
z-stacks are continuous:

- ``em``: an EM-like section: cell membranes, vesicles, mitochondria with
  cristae, cytoplasm texture (dark membranes on a light background).
- ``fluorescence``: tubular mitochondria, puncta below the resolution limit,
  textured nuclei (bright on dark).
- ``target``: a resolution target: point pairs and line pairs at graded
  separations, with the exact positions recorded.

Intensities are in specimen units (0 = nothing, about 1 = brightest). Lengths
are given in nanometres and converted with the grid's pixel size.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from scipy import ndimage

__all__ = [
    "DARK_LINES",
    "LINE_SD_NM",
    "SPECIMENS",
    "EMSpecimen",
    "FluorescenceSpecimen",
    "Grid",
    "make_specimen",
    "point_mass_gain",
    "ResolutionTarget",
    "smooth_curve",
    "splat",
]

SPECIMENS = ("em", "fluorescence", "target")
#: The SD (nm) of the cross-section of each specimen's lines: EM membranes, fluorescent tubes.
LINE_SD_NM = {"em": 3.0, "fluorescence": 35.0}
#: Whether those lines are dark on a bright background.
DARK_LINES = {"em": True, "fluorescence": False}


@dataclasses.dataclass
class Grid:
    """A fine sampling grid: ``shape`` pixels of ``pixel_size`` nm."""

    shape: tuple[int, int]
    pixel_size: float

    def nm(self, value: float | np.ndarray) -> float | np.ndarray:
        """Convert nanometres to grid pixels."""
        return np.asarray(value) / self.pixel_size


def splat(image: np.ndarray, ys: np.ndarray, xs: np.ndarray, weights: np.ndarray | float) -> None:
    """Add point masses at sub-pixel positions, shared bilinearly between 4 pixels."""
    h, w = image.shape
    weights = np.broadcast_to(np.asarray(weights, dtype=np.float64), ys.shape)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = ys - y0, xs - x0
    for dy, dx, wgt in (
        (0, 0, (1 - fy) * (1 - fx)),
        (0, 1, (1 - fy) * fx),
        (1, 0, fy * (1 - fx)),
        (1, 1, fy * fx),
    ):
        yy, xx = y0 + dy, x0 + dx
        ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
        np.add.at(image, (yy[ok], xx[ok]), (weights * wgt)[ok])


def smooth_curve(
    rng: np.random.Generator, start: np.ndarray, length: float, step: float, persistence: float
) -> np.ndarray:
    """A random curve with persistent direction, sampled every ``step`` pixels; shape (n, 2)."""
    n = max(2, int(length / step))
    angle = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, step / persistence, n))
    steps = step * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    return start + np.cumsum(steps, axis=0)


def _frame_shift(obj: dict[str, Any], t: float, z: float) -> np.ndarray:
    """Lateral position change of an object at time t and slice z."""
    return obj["velocity"] * t + obj["drift"] * z


def _z_profile(obj: dict[str, Any], z: float) -> float:
    """Cross-section factor of an object at slice z (a sphere-like profile, 0 outside)."""
    dz = (z - obj["z0"]) / obj["z_radius"]
    return float(np.sqrt(max(0.0, 1.0 - dz * dz)))


def _objects(
    rng: np.random.Generator, n: int, shape: tuple[int, int], n_frames: int, speed: float
) -> list[dict]:
    """Random positions plus the per-object motion used for time and z."""
    h, w = shape
    z_span = max(n_frames - 1, 0)
    return [
        {
            "pos": rng.uniform([0, 0], [h, w]),
            "velocity": rng.normal(0, speed, 2),
            "drift": rng.normal(0, speed / 2, 2),
            "z0": rng.uniform(-0.25 * z_span, 1.25 * z_span) if z_span else 0.0,
            "z_radius": rng.uniform(0.6, 1.2) * max(z_span, 1) + 1.0,
        }
        for _ in range(n)
    ]


def _box(
    shape: tuple[int, int], cy: float, cx: float, r: float
) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    """A bounding box of radius r around (cy, cx), clipped, with its coordinate grids."""
    h, w = shape
    y0, y1 = max(0, int(cy - r)), min(h, int(cy + r) + 2)
    x0, x1 = max(0, int(cx - r)), min(w, int(cx + r) + 2)
    if y0 >= y1 or x0 >= x1:
        return None
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    return slice(y0, y1), slice(x0, x1), yy - cy, xx - cx


def _ellipse_frame(
    shape: tuple[int, int], obj: dict[str, Any], t: float, z: float, margin: float
) -> tuple[slice, slice, np.ndarray, np.ndarray, float, float] | None:
    """Place an elliptical object (keys a, b, angle) at frame (t, z).

    Returns the box slices, the coordinates ``u`` (along the long axis) and ``v``
    (across) of each box pixel, and the semi-axes of the cross-section at z, or
    None when the object is outside the frame.
    """
    k = _z_profile(obj, z)
    if k < 0.05:
        return None
    a, b = obj["a"] * k, obj["b"] * k
    cy, cx = obj["pos"] + _frame_shift(obj, t, z)
    box = _box(shape, cy, cx, a + margin)
    if box is None or b < 2:
        return None
    sy, sx, dy, dx = box
    ca, sa = np.cos(obj["angle"]), np.sin(obj["angle"])
    return sy, sx, dx * ca + dy * sa, -dx * sa + dy * ca, a, b


def _texture(rng: np.random.Generator, shape: tuple[int, int], corr: float) -> np.ndarray:
    field = ndimage.gaussian_filter(rng.standard_normal(shape), corr)
    return field / (field.std() + 1e-12)


class EMSpecimen:
    """An EM-like section: membranes, vesicles, mitochondria, texture."""

    def __init__(self, grid: Grid, rng: np.random.Generator, n_frames: int = 1):
        self.grid = grid
        h, w = grid.shape
        area_um2 = h * w * (grid.pixel_size / 1e3) ** 2
        speed = grid.nm(6.0)  # nm per frame
        self.cells = _objects(rng, max(3, int(area_um2 / 0.6)), grid.shape, n_frames, speed)
        self.vesicles = _objects(rng, max(4, int(area_um2 * 25)), grid.shape, n_frames, speed)
        for v in self.vesicles:
            v["radius"] = grid.nm(rng.uniform(15, 28))
        self.mitos = _objects(rng, max(1, int(area_um2 * 1.2)), grid.shape, n_frames, speed)
        for m in self.mitos:
            m["a"], m["b"] = grid.nm(rng.uniform(180, 380)), grid.nm(rng.uniform(70, 130))
            m["angle"] = rng.uniform(0, np.pi)
            m["cristae"] = grid.nm(rng.uniform(30, 45))
        margin = int(grid.nm(60.0)) + 1
        self.texture = _texture(rng, (h + 2 * margin, w + 2 * margin), grid.nm(6.0))
        self.margin = margin
        self.membrane_width = grid.nm(LINE_SD_NM["em"])

    def draw(self, t: float = 0.0, z: float = 0.0) -> np.ndarray:
        h, w = self.grid.shape
        m = self.margin
        shift = np.clip(np.rint(self.cells[0]["drift"] * z), -m, m).astype(int)
        img = (
            0.62
            + 0.05 * self.texture[m + shift[0] : m + shift[0] + h, m + shift[1] : m + shift[1] + w]
        )
        img -= 0.42 * self._membranes(t, z)
        for mito in self.mitos:
            self._draw_mito(img, mito, t, z)
        for ves in self.vesicles:
            self._draw_vesicle(img, ves, t, z)
        return np.clip(img, 0.0, None).astype(np.float32)

    def small_objects(self, t: float = 0.0, z: float = 0.0) -> list[dict[str, Any]]:
        """Vesicles in this frame: centre ``y``, ``x`` and ``radius`` (fine-grid pixels); dark rings."""
        out = []
        for ves in self.vesicles:
            r = ves["radius"] * _z_profile(ves, z)
            if r >= 1:
                y, x = ves["pos"] + _frame_shift(ves, t, z)
                out.append({"y": float(y), "x": float(x), "radius": float(r), "shape": "ring"})
        return out

    def _membranes(self, t: float, z: float) -> np.ndarray:
        h, w = self.grid.shape
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        d1 = np.full((h, w), np.inf, np.float32)
        d2 = np.full((h, w), np.inf, np.float32)
        for cell in self.cells:
            cy, cx = cell["pos"] + _frame_shift(cell, t, z)
            d = np.hypot(yy - cy, xx - cx)
            d2 = np.minimum(d2, np.maximum(d1, d))
            d1 = np.minimum(d1, d)
        # (d2 - d1) / 2 is the distance to the boundary between the two nearest cells.
        return np.exp(-0.5 * ((d2 - d1) / (2 * self.membrane_width)) ** 2)

    def _draw_vesicle(self, img: np.ndarray, ves: dict, t: float, z: float) -> None:
        r = ves["radius"] * _z_profile(ves, z)
        if r < 1:
            return
        cy, cx = ves["pos"] + _frame_shift(ves, t, z)
        box = _box(img.shape, cy, cx, r + 4 * self.membrane_width)
        if box is None:
            return
        sy, sx, dy, dx = box
        rho = np.hypot(dy, dx)
        ring = np.exp(-0.5 * ((rho - r) / self.membrane_width) ** 2)
        lumen = 1 / (1 + np.exp((rho - r) / 0.7))
        img[sy, sx] += 0.08 * lumen - 0.45 * ring

    def _draw_mito(self, img: np.ndarray, mito: dict, t: float, z: float) -> None:
        placed = _ellipse_frame(img.shape, mito, t, z, 4 * self.membrane_width)
        if placed is None:
            return
        sy, sx, u, v, a, b = placed
        rho = np.sqrt((u / a) ** 2 + (v / b) ** 2)
        dist = (rho - 1) * b  # approximate distance to the outline, in pixels
        inside = 1 / (1 + np.exp(dist / 0.7))
        outline = np.exp(-0.5 * (dist / self.membrane_width) ** 2) + np.exp(
            -0.5 * ((dist + 2.5 * self.membrane_width) / self.membrane_width) ** 2
        )
        cristae = inside * (0.5 + 0.5 * np.cos(2 * np.pi * u / mito["cristae"])) ** 6 * (rho < 0.85)
        img[sy, sx] += -0.18 * inside - 0.3 * outline - 0.25 * cristae


class FluorescenceSpecimen:
    """A fluorescence-like cell: tubular mitochondria, puncta, nuclei."""

    def __init__(
        self, grid: Grid, rng: np.random.Generator, n_frames: int = 1, psf_fwhm_nm: float = 200.0
    ):
        self.grid = grid
        self.psf_fwhm_nm = psf_fwhm_nm
        h, w = grid.shape
        area_um2 = h * w * (grid.pixel_size / 1e3) ** 2
        speed = grid.nm(40.0)
        self.nuclei = _objects(rng, max(1, int(area_um2 / 150)), grid.shape, n_frames, speed / 4)
        for nuc in self.nuclei:
            nuc["a"], nuc["b"] = grid.nm(rng.uniform(2500, 4000)), grid.nm(rng.uniform(2000, 3000))
            nuc["angle"] = rng.uniform(0, np.pi)
        self.nucleus_texture = _texture(rng, grid.shape, grid.nm(150.0))
        self.tubes = _objects(rng, max(2, int(area_um2 / 8)), grid.shape, n_frames, speed)
        step = 0.5
        for tube in self.tubes:
            length = grid.nm(rng.uniform(800, 3500))
            tube["points"] = smooth_curve(rng, tube["pos"], length, step, grid.nm(600.0))
            tube["step"] = step
            tube["amp"] = rng.uniform(0.35, 0.7)
        self.tube_sigma = grid.nm(LINE_SD_NM["fluorescence"])
        self.puncta = _objects(rng, max(3, int(area_um2 * 0.35)), grid.shape, n_frames, speed)
        for p in self.puncta:
            p["amp"] = rng.uniform(0.3, 0.8)

    def draw(self, t: float = 0.0, z: float = 0.0) -> np.ndarray:
        h, w = self.grid.shape
        img = np.full((h, w), 0.03, np.float64)
        for nuc in self.nuclei:
            self._draw_nucleus(img, nuc, t, z)
        lines = np.zeros((h, w))
        for tube in self.tubes:
            k = _z_profile(tube, z)
            if k > 0:
                pts = tube["points"] + _frame_shift(tube, t, z)
                # weight so the drawn tube's peak equals its amplitude
                weight = tube["amp"] * k * tube["step"] * np.sqrt(2 * np.pi) * self.tube_sigma
                splat(lines, pts[:, 0], pts[:, 1], weight)
        img += ndimage.gaussian_filter(lines, self.tube_sigma)
        points = np.zeros((h, w))
        for p in self.puncta:
            k = _z_profile(p, z)
            if k > 0:
                cy, cx = p["pos"] + _frame_shift(p, t, z)
                splat(points, np.array([cy]), np.array([cx]), p["amp"] * k)
        img += points * point_mass_gain(self.grid, self.psf_fwhm_nm)
        return img.astype(np.float32)

    def small_objects(self, t: float = 0.0, z: float = 0.0) -> list[dict[str, Any]]:
        """Puncta in this frame: centre ``y``, ``x`` and ``radius`` (the PSF's sigma); bright spots."""
        sigma = self.grid.nm(self.psf_fwhm_nm / 2.3548)
        out = []
        for p in self.puncta:
            if _z_profile(p, z) > 0.3:
                y, x = p["pos"] + _frame_shift(p, t, z)
                out.append({"y": float(y), "x": float(x), "radius": float(sigma), "shape": "spot"})
        return out

    def _draw_nucleus(self, img: np.ndarray, nuc: dict, t: float, z: float) -> None:
        placed = _ellipse_frame(img.shape, nuc, t, z, 10)
        if placed is None:
            return
        sy, sx, u, v, a, b = placed
        dist = (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1) * b
        inside = 1 / (1 + np.exp(dist / 2.0))
        img[sy, sx] += inside * (0.28 + 0.08 * self.nucleus_texture[sy, sx])


def point_mass_gain(grid: Grid, psf_fwhm_nm: float) -> float:
    """Mass that makes a point source peak at intensity 1 once blurred by a Gaussian PSF."""
    sigma = grid.nm(psf_fwhm_nm / 2.3548)
    return float(2 * np.pi * sigma**2)


class ResolutionTarget:
    """Point pairs and line pairs at graded separations, bright on dark.

    Each object peaks at intensity 0.5 after the PSF, so even a pair that fully
    overlaps stays within the detector's range.

    Parameters
    ----------
    grid : Grid
        The fine grid.
    separations_nm : sequence of float
        One column of test objects per separation.
    psf_fwhm_nm : float
        Used to size the objects' amplitude and their spacing.
    """

    def __init__(self, grid: Grid, separations_nm: np.ndarray, psf_fwhm_nm: float):
        self.grid = grid
        self.separations_nm = np.asarray(separations_nm, dtype=float)
        self.psf_fwhm_nm = psf_fwhm_nm
        h, w = grid.shape
        n = len(self.separations_nm)
        self.columns = (np.arange(n) + 0.5) * w / n
        self.rows = {"points_x": 0.2 * h, "points_y": 0.45 * h, "lines": 0.75 * h}
        self.line_length = min(0.3 * h, grid.nm(6 * psf_fwhm_nm))

    def features(self, scale_to: float = 1.0) -> list[dict[str, Any]]:
        """The test objects with positions in pixels of a grid ``scale_to`` times coarser.

        Each entry: ``kind`` (points_x, points_y or lines), ``separation_nm``, the two
        centre positions ``(y, x)`` of the pair and, for lines, their ``length``.
        """
        out = []
        for kind, row in self.rows.items():
            for col, sep_nm in zip(self.columns, self.separations_nm, strict=True):
                half = self.grid.nm(sep_nm) / 2
                if kind == "points_y":
                    a, b = (row - half, col), (row + half, col)
                else:
                    a, b = (row, col - half), (row, col + half)
                feature = {
                    "kind": kind,
                    "separation_nm": float(sep_nm),
                    "positions": [[c / scale_to for c in a], [c / scale_to for c in b]],
                }
                if kind == "lines":
                    feature["length"] = float(self.line_length / scale_to)
                out.append(feature)
        return out

    def small_objects(self, t: float = 0.0, z: float = 0.0) -> list[dict[str, Any]]:
        """A target has no small objects to detect (its pairs are :meth:`features`)."""
        return []

    def draw(self, t: float = 0.0, z: float = 0.0) -> np.ndarray:
        img = np.zeros(self.grid.shape)
        amp = 0.5
        gain = amp * point_mass_gain(self.grid, self.psf_fwhm_nm)
        line_sigma = self.grid.nm(self.psf_fwhm_nm / 2.3548)
        step = 0.5
        for f in self.features():
            (ya, xa), (yb, xb) = f["positions"]
            if f["kind"] == "lines":
                ys = np.arange(-self.line_length / 2, self.line_length / 2, step)
                for x in (xa, xb):
                    splat(
                        img,
                        ya + ys,
                        np.full_like(ys, x),
                        amp * step * np.sqrt(2 * np.pi) * line_sigma,
                    )
            else:
                splat(img, np.array([ya, yb]), np.array([xa, xb]), gain)
        return img.astype(np.float32)


def make_specimen(
    kind: str,
    grid: Grid,
    rng: np.random.Generator,
    n_frames: int,
    psf_fwhm_nm: float,
    separations_nm: np.ndarray | None = None,
) -> EMSpecimen | FluorescenceSpecimen | ResolutionTarget:
    """Build a specimen of the given kind ("em", "fluorescence" or "target")."""
    if kind == "em":
        return EMSpecimen(grid, rng, n_frames)
    if kind == "fluorescence":
        return FluorescenceSpecimen(grid, rng, n_frames, psf_fwhm_nm)
    if kind == "target":
        return ResolutionTarget(grid, separations_nm, psf_fwhm_nm)
    raise ValueError(f"unknown specimen {kind!r}; choose one of {SPECIMENS}")
