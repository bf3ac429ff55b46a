"""Validation during training: fixed crappified tiles, scored against HR and against bicubic.

The tiles are crappified once with a fixed seed, so every validation sees the
same noise and the curves of one run (and of a resumed run) are comparable.
Scores are in the library's normalised units (data range 1): the mean over
tiles of PSNR and SSIM against the HR centre frame, next to the same scores
for the sample-aligned bicubic interpolation of the crappified input.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from .crappify import Crappifier
from .files import atomic_path
from .losses import gaussian_window, ssim_components, window_and_scales
from .sampling import upsample
from .units import to_units


def tile_scores(pred: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    """Mean PSNR (dB, data range 1) and mean SSIM of ``(N, 1, H, W)`` batches.

    Examples
    --------
    >>> t = torch.zeros(2, 1, 16, 16)
    >>> round(tile_scores(t + 0.1, t)[0], 6)
    20.0
    """
    pred, target = pred.float(), target.float()
    mse = ((pred - target) ** 2).flatten(1).mean(1).clamp(min=1e-12)
    psnr = (10 * torch.log10(1.0 / mse)).mean()
    size, _ = window_and_scales(*pred.shape[-2:], max_scales=1)
    ssim, _ = ssim_components(pred, target, gaussian_window(size, 1.5, pred.device, pred.dtype))
    return float(psnr), float(ssim.mean())


class ValidationSet:
    """Fixed validation tiles with their crappified inputs and baseline scores.

    Parameters
    ----------
    hr : Tensor
        ``(n, frames, tile, tile)`` normalised HR tiles.
    crappifier : Crappifier
    seed : int
        Seed of the (one-off) crappification.
    batch_size : int
        Tiles per forward pass when scoring.
    units : Tensor, optional
        ``(n, 2)``: the ``(low, span)`` of each tile's input units (see
        :mod:`pssr_nb.units`); inputs and targets are mapped into them after
        crappification, as in training. Default: the HR units as they are.
    """

    def __init__(
        self,
        hr: torch.Tensor,
        crappifier: Crappifier,
        seed: int = 0,
        batch_size: int = 8,
        units: torch.Tensor | None = None,
    ):
        frames = hr.shape[1]
        lr = crappifier(hr, seed=seed + 104_729)
        target = hr[:, frames // 2 : frames // 2 + 1]
        self.lr = lr if units is None else to_units(lr, units)
        self.target = target if units is None else to_units(target, units)
        self.batch_size = batch_size
        centre = self.lr[:, frames // 2 : frames // 2 + 1]
        bicubic = (
            upsample(centre, crappifier.scale, crappifier.offset, "bicubic")
            if crappifier.scale > 1
            else centre
        )
        self.bicubic = bicubic
        psnr, ssim = tile_scores(bicubic, self.target)
        self.baseline = {"bicubic_psnr": psnr, "bicubic_ssim": ssim}

    def __len__(self) -> int:
        return self.lr.shape[0]

    def predict(self, net: torch.nn.Module, device: torch.device) -> torch.Tensor:
        """The network's output for every validation tile, on the CPU."""
        outs = []
        for i in range(0, len(self), self.batch_size):
            x = self.lr[i : i + self.batch_size].to(device)
            x = x.contiguous(memory_format=torch.channels_last)
            if device.type == "cuda":
                x = x.contiguous(memory_format=torch.channels_last)
            outs.append(net(x).float().cpu())
        return torch.cat(outs)

    def evaluate(
        self, net: torch.nn.Module, device: torch.device
    ) -> tuple[dict[str, float], torch.Tensor]:
        """``val_psnr`` and ``val_ssim`` of the network, and its predictions (under ``no_grad``)."""
        pred = self.predict(net, device)
        if not torch.isfinite(pred).all():
            return {"val_psnr": -math.inf, "val_ssim": -math.inf}, pred
        psnr, ssim = tile_scores(pred, self.target)
        return {"val_psnr": psnr, "val_ssim": ssim}, pred


PREVIEWS = "validation_previews.npz"


class Previews:
    """The predictions for a few validation tiles at every validation, for a viewer.

    Saved as ``validation_previews.npz`` with ``steps`` (k,), ``prediction``
    (k, n, H, W) and, once, ``lr`` (n, h, w), ``bicubic`` and ``hr`` (n, H, W),
    all in normalised units (float16 to stay small).

    Parameters
    ----------
    validation : ValidationSet
        Where the tiles come from.
    n : int
        How many tiles to keep.
    """

    def __init__(self, validation: ValidationSet, n: int = 4):
        self.n = min(n, len(validation))
        frames = validation.lr.shape[1]
        self.fixed = {
            "lr": validation.lr[: self.n, frames // 2],
            "bicubic": validation.bicubic[: self.n, 0],
            "hr": validation.target[: self.n, 0],
        }
        self.steps: list[int] = []
        self.predictions: list[torch.Tensor] = []

    def add(self, step: int, prediction: torch.Tensor) -> None:
        self.steps.append(step)
        self.predictions.append(prediction[: self.n, 0].float().cpu())

    def keep_until(self, step: int) -> None:
        """Forget previews made after ``step`` (a resumed run repeats those steps)."""
        kept = [(s, p) for s, p in zip(self.steps, self.predictions, strict=True) if s <= step]
        self.steps = [s for s, _ in kept]
        self.predictions = [p for _, p in kept]

    def save(self, path: str | Path) -> None:
        arrays = {k: v.numpy().astype(np.float16) for k, v in self.fixed.items()}
        arrays["steps"] = np.asarray(self.steps, dtype=np.int64)
        arrays["prediction"] = torch.stack(self.predictions).numpy().astype(np.float16)
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, **arrays)

    def load(self, path: str | Path) -> None:
        """Take the previews of an earlier session of the same run."""
        with np.load(path) as saved:
            self.steps = [int(s) for s in saved["steps"]]
            self.predictions = [torch.from_numpy(p.astype(np.float32)) for p in saved["prediction"]]


def load_previews(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a ``validation_previews.npz`` as float32 (steps as int)."""
    with np.load(path) as saved:
        return {k: v if k == "steps" else v.astype(np.float32) for k, v in saved.items()}
