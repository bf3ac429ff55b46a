"""Training losses: L1 (the default), MSE, and the MS-SSIM + L1 mix PSSR uses.

At the budgets this package teaches with (minutes on a CPU), L1 trains models that
beat MS-SSIM + L1 in PSNR wherever it was measured, and in SSIM on phantoms; on real
TEM (ISBI) MS-SSIM + L1 keeps the higher SSIM. MS-SSIM's filtering also makes each step
slower (benchmarks/RESULTS.md, "The recipe table").

SSIM follows Wang et al. (2004): an 11-pixel Gaussian window (sigma 1.5) and
constants for a data range of 1 (the library's normalised units). MS-SSIM
(Wang et al., 2003) combines up to 5 scales; here the number of scales and,
for very small tiles, the window shrink to fit the tile, so any tile of at
least 3 pixels works (PSSR2's fixed 5-scale MS-SSIM fails for tiles of 160 px
or less).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .errors import InputError

__all__ = [
    "LOSSES",
    "MS_SSIM_WEIGHTS",
    "gaussian_window",
    "make_loss",
    "ms_ssim",
    "MSSSIML1Loss",
    "ssim_components",
    "window_and_scales",
]

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
LOSSES = ("msssim_l1", "l1", "mse")


def gaussian_window(
    size: int, sigma: float, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    t = torch.arange(size, device=device, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    return g / g.sum()


def _band(n: int, window: torch.Tensor) -> torch.Tensor:
    """``(n - k + 1, n)`` matrix whose product with a signal is its 'valid' filtering."""
    k = window.numel()
    rows = torch.arange(n - k + 1, device=window.device)[:, None]
    band = torch.zeros(n - k + 1, n, device=window.device, dtype=window.dtype)
    band[rows, rows + torch.arange(k, device=window.device)] = window
    return band


def _filter(x: torch.Tensor, window: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' Gaussian filtering of every channel.

    Written as two matrix products rather than two 1-channel convolutions: the
    products (and their gradients) are several times faster on CPUs and GPUs.
    """
    return _band(x.shape[-2], window) @ x @ _band(x.shape[-1], window).T


def ssim_components(
    x: torch.Tensor, y: torch.Tensor, window: torch.Tensor, data_range: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean SSIM and mean contrast-structure term per image, shape ``(N,)`` each."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y, xx, yy, xy = _filter(torch.stack([x, y, x * x, y * y, x * y]), window)
    sxx = xx - mu_x**2
    syy = yy - mu_y**2
    sxy = xy - mu_x * mu_y
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = (2 * mu_x * mu_y + c1) / (mu_x**2 + mu_y**2 + c1) * cs
    return ssim.flatten(1).mean(1), cs.flatten(1).mean(1)


def window_and_scales(
    height: int, width: int, max_scales: int = 5, window: int = 11
) -> tuple[int, int]:
    """The SSIM window size and number of MS-SSIM scales that fit a tile."""
    side = min(height, width)
    if side < 3:
        raise InputError(
            f"Tiles of {height} x {width} px are too small for SSIM (need at least 3 px)."
        )
    if side < window:
        return side - (1 - side % 2), 1  # largest odd window that fits, one scale
    return window, max(1, min(max_scales, int(math.log2(side / window)) + 1))


def ms_ssim(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, max_scales: int = 5
) -> torch.Tensor:
    """Multi-scale SSIM per image, shape ``(N,)``, adapting its scales to the tile size."""
    size, n_scales = window_and_scales(x.shape[-2], x.shape[-1], max_scales)
    win = gaussian_window(size, 1.5, x.device, x.dtype)
    weights = torch.tensor(MS_SSIM_WEIGHTS[:n_scales], device=x.device, dtype=x.dtype)
    weights = weights / weights.sum()
    result = torch.ones(x.shape[0], device=x.device, dtype=x.dtype)
    for i in range(n_scales):
        ssim, cs = ssim_components(x, y, win, data_range)
        last = i == n_scales - 1
        result = result * (ssim if last else cs).clamp(min=1e-6) ** weights[i]
        if not last:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return result


class MSSSIML1Loss(torch.nn.Module):
    """``alpha * (1 - MS-SSIM) + (1 - alpha) * L1`` (Zhao et al., 2017; alpha = 0.84)."""

    def __init__(self, alpha: float = 0.84, data_range: float = 1.0):
        super().__init__()
        self.alpha, self.data_range = alpha, data_range

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred, target = pred.float(), target.float()  # SSIM's variances need full precision
        structural = 1 - ms_ssim(pred, target, self.data_range).mean()
        return self.alpha * structural + (1 - self.alpha) * F.l1_loss(pred, target)


def make_loss(name: str) -> torch.nn.Module:
    """A loss by name: ``l1`` (training's default), ``mse`` or ``msssim_l1``."""
    if name == "msssim_l1":
        return MSSSIML1Loss()
    if name == "l1":
        return torch.nn.L1Loss()
    if name == "mse":
        return torch.nn.MSELoss()
    raise InputError(f"Unknown loss {name!r}.", fix=f"Choose one of {LOSSES}.")
