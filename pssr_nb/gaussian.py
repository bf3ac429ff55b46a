"""Gaussian filtering of tensors as ``scipy.ndimage.gaussian_filter`` does it.

Mirrored edges (scipy's ``mode="reflect"``: ``d c b a | a b c d``) and a kernel
truncated at 4 SDs. One implementation for the two places that filter tensors: the
network's smoothed skip (:mod:`pssr_nb.models`) and the input units measured inside a
portable model (:mod:`pssr_nb.portable`). It scripts and traces, and a trace holds for
every image size (the edge indices are computed from the input's shape).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["gaussian_filter", "gaussian_kernel", "reflect_indices"]


def gaussian_kernel(sigma: float, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A normalised 1-D Gaussian of ``sigma`` pixels, as scipy truncates it (``[1.]`` for 0).

    Examples
    --------
    >>> gaussian_kernel(1.0).shape, gaussian_kernel(0.0).tolist()
    (torch.Size([9]), [1.0])
    """
    if sigma <= 0:
        return torch.ones(1, dtype=dtype)
    radius = int(4.0 * sigma + 0.5)
    t = torch.arange(-radius, radius + 1, dtype=torch.float64)
    kernel = torch.exp(-0.5 * (t / sigma) ** 2)
    return (kernel / kernel.sum()).to(dtype)


def reflect_indices(n: int, radius: int, device: torch.device) -> torch.Tensor:
    """Indices of a length-``n`` axis padded by ``radius`` each side, mirrored as scipy's
    ``mode="reflect"`` (repeatedly, so a radius beyond ``n`` is fine)."""
    i = torch.arange(-radius, n + radius, device=device) % (2 * n)
    return torch.where(i >= n, 2 * n - 1 - i, i)


def gaussian_filter(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """``image`` ``(N, 1, H, W)`` filtered along Y and X by the 1-D ``kernel``.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> x = torch.rand(1, 1, 7, 12, dtype=torch.float64)
    >>> ours = gaussian_filter(x, gaussian_kernel(2.0, torch.float64))[0, 0].numpy()
    >>> bool(np.allclose(ours, ndimage.gaussian_filter(x[0, 0].numpy(), 2.0, mode="reflect")))
    True
    """
    radius = kernel.shape[0] // 2
    if radius == 0:
        return image
    kernel = kernel.to(image.dtype)
    h, w = image.shape[-2], image.shape[-1]
    image = image.index_select(-2, reflect_indices(h, radius, image.device))
    image = F.conv2d(image, kernel.view(1, 1, -1, 1))
    image = image.index_select(-1, reflect_indices(w, radius, image.device))
    return F.conv2d(image, kernel.view(1, 1, 1, -1))
