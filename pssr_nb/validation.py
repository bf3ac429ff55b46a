"""Validation during training: held-out regions, predicted as users predict, scored as the benchmark scores.

A validation must describe what users get. The image plane of each held-out
block is crappified whole, once, with a fixed seed (every validation sees the
same noise), and measured as :func:`~pssr_nb.predict.predict_image` measures an
LR image (:func:`~pssr_nb.units.input_normalization`); the block, with up to
:data:`CONTEXT` LR pixels of its surroundings, is then mapped into those units and
put through :func:`~pssr_nb.predict.predict_normalized`, the tiled prediction
predict_image runs. The block is then scored on the benchmark's scoreboard (CARE
normalisation, against the noisy HR scan, which is all a user has) beside every simple
baseline of the same input, the restorations (Gaussian, Wiener deconvolution,
non-local means) tuned on crappified *training* blocks, as the benchmark tunes them.
The numbers in the log are the model's, the best baseline's and the gain between them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .baselines import baselines, tune
from .crappify import Crappifier
from .data import Region, Source
from .files import atomic_path
from .metrics import care_normalize, psnr, ssim
from .normalize import DEFAULT_PERCENTILES, Normalization
from .predict import PredictParams, predict_normalized
from .units import INPUT_SMOOTHING, input_normalization

__all__ = [
    "COLUMNS",
    "CONTEXT",
    "NOISE_SEED",
    "PREVIEWS",
    "care_scores",
    "load_previews",
    "Previews",
    "ValidationSet",
    "whole_lr",
]

#: LR pixels of surroundings predicted with each validation block: twice predict_image's
#: overlap. Measured with the sample model: 8 LR pixels change a block's PSNR by up to
#: 0.25 dB against predicting the whole image, 32 by none except next to the image's edge,
#: where the padding of a context of another size differs (0.1 dB).
CONTEXT = 2 * PredictParams().overlap
#: The columns of a validation row.
COLUMNS = ("val_psnr", "val_ssim", "baseline_psnr", "baseline_ssim", "gain_db", "gain_ssim")
#: Seed offset of the validation noise (apart from the training's).
NOISE_SEED = 104_729


def care_scores(pred: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and SSIM of one plane after CARE normalisation against its reference.

    :func:`pssr_nb.metrics.score` without MS-SSIM and NRMSE: validation blocks are
    too small for MS-SSIM's five scales, and the validation runs often.

    Examples
    --------
    >>> ref = np.linspace(0, 1, 1024).reshape(32, 32)
    >>> care_scores(3 * ref + 1, ref)[0] > 100  # a gain and offset are not errors
    True
    """
    pred, reference = care_normalize(pred, reference)
    return psnr(pred, reference, 1.0), ssim(pred, reference, 1.0)


def whole_lr(
    source: Source, stack: int, frames: Sequence[int], crappifier: Crappifier, seed: int
) -> np.ndarray:
    """One plane of a source (its ``frames``) crappified whole: ``(frames, h, w)``, HR units."""
    h, w = source.plane_shape
    s = crappifier.scale
    hr = source.crop(stack, frames, 0, 0, h - h % s, w - w % s)
    return crappifier(hr[None], seed=seed)[0]


class ValidationSet:
    """Held-out blocks with their crappified inputs and every baseline's scores.

    Parameters
    ----------
    sources : list of Source
        The training images the blocks come from.
    regions : list of Region
        Held-out blocks with surroundings (:func:`pssr_nb.data.fixed_regions`) on the
        LR lattice (``multiple`` = scale).
    crappifier : Crappifier
    tuning : list of Region
        Training blocks the restoration baselines are tuned on.
    seed : int
        Seed of the (one-off) crappification.
    percentiles, smoothing
        The input measurement of the model (:func:`pssr_nb.units.input_normalization`).
    """

    def __init__(
        self,
        sources: Sequence[Source],
        regions: Sequence[Region],
        crappifier: Crappifier,
        tuning: Sequence[Region],
        seed: int = 0,
        percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
        smoothing: float = INPUT_SMOOTHING,
    ):
        s, offset = crappifier.scale, crappifier.offset
        self.scale = s
        self.regions = list(regions)
        centre = len(self.regions[0].frames) // 2
        wholes: dict[tuple, tuple[np.ndarray, Normalization]] = {}
        self.inputs, self.targets, self.lr_blocks = [], [], []
        for region in self.regions:
            key = (region.source, region.stack, region.frames)
            if key not in wholes:  # crappified and measured whole, as predict_image measures
                lr = whole_lr(
                    sources[key[0]], *key[1:], crappifier, seed + NOISE_SEED + len(wholes)
                )
                wholes[key] = lr, input_normalization(lr, percentiles, smoothing)
            lr, norm = wholes[key]
            (y0, x0), (h, w) = region.origin, region.context.shape[1:]
            self.inputs.append(norm.apply(lr[:, y0 // s : (y0 + h) // s, x0 // s : (x0 + w) // s]))
            self.targets.append(norm.apply(region.block[centre]))
            self.lr_blocks.append(self.inputs[-1][(centre, *self._lr_slices(region))])
        del wholes
        tuning_pairs = [
            (crappifier(r.block[None], seed=seed + 2 * NOISE_SEED + n)[0, centre], r.block[centre])
            for n, r in enumerate(tuning)
        ]
        #: (LR, HR) training blocks, crappified once: what the baselines are tuned on.
        self.tuning_pairs = tuning_pairs
        #: The restoration baselines' settings, tuned on the training blocks.
        self.tuned = tune(tuning_pairs, s, offset) if tuning_pairs else None
        outputs: dict[str, list[np.ndarray]] = {}
        for region, x in zip(self.regions, self.inputs, strict=True):
            for name, out in baselines(x[centre], s, offset, self.tuned).items():
                outputs.setdefault(name, []).append(self._block(region, out))
        scores = {
            name: [care_scores(o, t) for o, t in zip(outs, self.targets, strict=True)]
            for name, outs in outputs.items()
        }
        #: The best simple baseline (highest mean PSNR over the blocks) and its scores.
        self.baseline_name = max(scores, key=lambda n: np.mean([v[0] for v in scores[n]]))
        self.baseline_scores = scores[self.baseline_name]
        self.baseline = {
            "baseline_psnr": float(np.mean([v[0] for v in self.baseline_scores])),
            "baseline_ssim": float(np.mean([v[1] for v in self.baseline_scores])),
        }
        #: The interpolation shown beside the predictions in the previews.
        self.bicubic = outputs["bicubic" if "bicubic" in outputs else next(iter(outputs))]

    def _lr_slices(self, region: Region) -> tuple[slice, slice]:
        s, t = self.scale, region.tile
        return slice(region.y // s, (region.y + t) // s), slice(region.x // s, (region.x + t) // s)

    @staticmethod
    def _block(region: Region, hr_plane: np.ndarray) -> np.ndarray:
        return hr_plane[region.y : region.y + region.tile, region.x : region.x + region.tile]

    def __len__(self) -> int:
        return len(self.regions)

    def predict(self, model, params: PredictParams) -> list[np.ndarray]:
        """The model's output on every validation block (HR planes, in the network's units)."""
        frames = model.config.frames
        return [
            self._block(region, predict_normalized(model, x if frames > 1 else x[0], params)[0])
            for region, x in zip(self.regions, self.inputs, strict=True)
        ]

    def evaluate(self, model, params: PredictParams) -> tuple[dict[str, float], list[np.ndarray]]:
        """The validation scores of ``model`` (a :class:`~pssr_nb.model_file.TrainedModel`).

        ``val_psnr``/``val_ssim`` are the model's means over the blocks,
        ``baseline_psnr``/``baseline_ssim`` the best baseline's, ``gain_db``/``gain_ssim``
        the mean of the block-by-block differences. Also returns the predictions.
        """
        pred = self.predict(model, params)  # predict_normalized runs without gradients
        if not all(np.isfinite(p).all() for p in pred):
            bad = {k: -math.inf for k in ("val_psnr", "val_ssim", "gain_db", "gain_ssim")}
            return {**bad, **self.baseline}, pred
        scores = [care_scores(p, t) for p, t in zip(pred, self.targets, strict=True)]
        gains = np.asarray(scores) - np.asarray(self.baseline_scores)
        return {
            "val_psnr": float(np.mean([v[0] for v in scores])),
            "val_ssim": float(np.mean([v[1] for v in scores])),
            **self.baseline,
            "gain_db": float(gains[:, 0].mean()),
            "gain_ssim": float(gains[:, 1].mean()),
        }, pred


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

        def first(planes: Sequence[np.ndarray]) -> torch.Tensor:
            return torch.from_numpy(np.stack(planes[: self.n]).astype(np.float32))

        self.fixed = {
            "lr": first(validation.lr_blocks),
            "bicubic": first(validation.bicubic),
            "hr": first(validation.targets),
        }
        self.steps: list[int] = []
        self.predictions: list[torch.Tensor] = []

    def add(self, step: int, prediction: Sequence[np.ndarray]) -> None:
        self.steps.append(step)
        self.predictions.append(torch.from_numpy(np.stack(prediction[: self.n]).astype(np.float32)))

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
    """The arrays of a ``validation_previews.npz`` (or of the one in a run folder) as
    float32 (steps as int)."""
    path = Path(path)
    if path.is_dir():
        path = path / PREVIEWS
    with np.load(path) as saved:
        return {k: v if k == "steps" else v.astype(np.float32) for k, v in saved.items()}
