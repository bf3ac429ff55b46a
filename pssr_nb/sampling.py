"""Sampling geometry: where each low-resolution pixel sits on the high-resolution grid.

A point-scanning microscope with ``s`` times larger pixels visits every
``s``-th point of the fine grid: LR pixel ``i`` is the HR position
``s * i + phase``. An area average (binning) instead represents the centre of
its ``s x s`` block, ``s * i + (s - 1) / 2``. This module holds that one
convention, as an ``offset`` in HR pixels, and the interpolation that puts
each LR sample back where it was acquired. The crappifier, the phantoms, the
model and every interpolation baseline use it, so none of them is shifted
against the others by a fraction of a pixel.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .errors import InputError
from .params import param

__all__ = [
    "DEFAULT_SCALE",
    "DOWNSAMPLE_MODES",
    "MAX_SCALE",
    "UPSAMPLE_METHODS",
    "flip_shift",
    "lr_offset",
    "scale_setting",
    "shift_kernel",
    "upsample",
]

#: The super-resolution factor (LR pixel size / HR pixel size) wherever none is given.
DEFAULT_SCALE = 4
MAX_SCALE = 16

DOWNSAMPLE_MODES = ("decimate", "area", "bilinear")
UPSAMPLE_METHODS = ("nearest", "bilinear", "bicubic")


def lr_offset(scale: int, mode: str = "decimate", phase: int = 0) -> float:
    """HR position (in HR pixels) of LR pixel 0 for a downsampling mode.

    Parameters
    ----------
    scale : int
        Downsampling factor.
    mode : {"decimate", "area", "bilinear"}
        ``decimate`` keeps every ``scale``-th pixel starting at ``phase`` (a point scan);
        ``area`` averages ``scale x scale`` blocks; ``bilinear`` is torch's
        ``interpolate(..., align_corners=False)``, which also samples block centres.
    phase : int
        For ``decimate``: which pixel of each block is kept.

    Examples
    --------
    >>> lr_offset(4, "decimate"), lr_offset(4, "area")
    (0.0, 1.5)
    """
    if mode not in DOWNSAMPLE_MODES:
        raise InputError(
            f"Unknown downsampling mode {mode!r}.", fix=f"Use one of {DOWNSAMPLE_MODES}."
        )
    if mode == "decimate":
        if not 0 <= phase < scale:
            raise InputError(f"phase must be in [0, {scale - 1}], got {phase}.")
        return float(phase)
    return (scale - 1) / 2.0


def flip_shift(scale: int, offset: float) -> int | None:
    """HR pixels between a sampling grid and its mirror image, or None when not whole.

    Flipping an LR image moves LR pixel ``i`` from HR position ``scale * i + offset``
    to ``scale * i + (scale - 1 - offset)``: the grid shifts by ``scale - 1 - 2 * offset``.

    Examples
    --------
    >>> flip_shift(4, 0.0), flip_shift(4, 1.5), flip_shift(4, 0.25)
    (3, 0, None)
    """
    d = scale - 1 - 2 * offset
    return int(round(d)) if abs(d - round(d)) < 1e-6 else None


def shift_kernel(shift: float) -> torch.Tensor:
    """The 1-D kernel that moves an image by ``shift`` pixels, with ``upsample``'s cubic.

    Correlating an axis with it (:func:`pssr_nb.gaussian.gaussian_filter` does, along Y
    and X) gives each pixel ``j`` the value the input interpolates at ``j - shift``
    (Keys' cubic convolution, a = -0.75): content at ``p`` moves to ``p + shift``.

    Examples
    --------
    >>> shift_kernel(0.0).tolist(), shift_kernel(-1.0).tolist()
    ([1.0], [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0])
    >>> x = torch.arange(12.0)
    >>> moved = torch.nn.functional.conv1d(x.view(1, 1, -1), shift_kernel(1.5).view(1, 1, -1))
    >>> moved[0, 0, :3].tolist()  # x[j - 1.5] for j = 4, 5, 6 (the kernel's radius is 4)
    [2.5, 3.5, 4.5]
    """
    if shift == 0:
        return torch.ones(1)
    radius = int(np.ceil(abs(shift))) + 2
    t = torch.arange(-radius, radius + 1, dtype=torch.float64) + shift  # distance to j - shift
    a, d = -0.75, t.abs()
    near = (a + 2) * d**3 - (a + 3) * d**2 + 1
    far = a * d**3 - 5 * a * d**2 + 8 * a * d - 4 * a
    kernel = torch.where(d <= 1, near, torch.where(d < 2, far, torch.zeros_like(d)))
    return (kernel / kernel.sum()).float()


def scale_setting(note: str = "") -> Any:
    """The scale setting of a step's parameters: one default, one range, one help text."""
    extra = f" ({note})" if note else ""
    return param(
        DEFAULT_SCALE,
        f"LR pixel size / HR pixel size, the super-resolution factor{extra}.",
        minimum=1,
        maximum=MAX_SCALE,
    )


def upsample(
    lr: np.ndarray | torch.Tensor,
    scale: int,
    offset: float = 0.0,
    method: str = "bicubic",
    out_shape: tuple[int, int] | None = None,
) -> np.ndarray | torch.Tensor:
    """Interpolate an LR image onto the HR grid, each sample at its acquired position.

    Parameters
    ----------
    lr : ndarray or Tensor
        Image(s) with Y and X last: ``(..., h, w)``.
    scale : int
        Upsampling factor.
    offset : float
        HR position of LR pixel 0 (see :func:`lr_offset`).
    method : {"nearest", "bilinear", "bicubic"}
        Interpolation kernel (bicubic is Keys' cubic convolution, a = -0.75, as in torch).
    out_shape : (int, int), optional
        HR shape; defaults to ``(h * scale, w * scale)``.

    Returns
    -------
    ndarray or Tensor
        float32, same type as the input, shape ``(..., H, W)``. Beyond the outermost
        samples the edge value is repeated.
    """
    if method not in UPSAMPLE_METHODS:
        raise InputError(
            f"Unknown interpolation {method!r}.", fix=f"Use one of {UPSAMPLE_METHODS}."
        )
    is_numpy = isinstance(lr, np.ndarray)
    x = torch.from_numpy(np.ascontiguousarray(lr, dtype=np.float32)) if is_numpy else lr.float()
    lead, (h, w) = x.shape[:-2], x.shape[-2:]
    H, W = out_shape or (h * scale, w * scale)
    x4 = x.reshape(-1, 1, h, w)
    # HR pixel j lies at LR coordinate (j - offset) / scale; grid_sample wants [-1, 1]
    # with align_corners=False, i.e. g = (2u + 1) / n - 1.
    gy = (2 * (torch.arange(H, dtype=torch.float32, device=x.device) - offset) / scale + 1) / h - 1
    gx = (2 * (torch.arange(W, dtype=torch.float32, device=x.device) - offset) / scale + 1) / w - 1
    grid = torch.stack(torch.meshgrid(gx, gy, indexing="xy"), dim=-1)
    grid = grid.unsqueeze(0).expand(x4.shape[0], H, W, 2)
    out = F.grid_sample(x4, grid, mode=method, padding_mode="border", align_corners=False)
    out = out.reshape(*lead, H, W)
    return out.numpy() if is_numpy else out
