"""A model shrunk toward the best simple baseline, tuned on the user's own images.

A residual model's output is its skip (bicubic at the acquired positions, smoothed by a
Gaussian of ``skip_sigma``) plus what its network adds. A pretrained model that never saw
the user's specimen can add the wrong detail and score below a tuned Gaussian. Before any
training step, two numbers fix that:

- :func:`blend` scales what the network adds by a ``gain`` and sets the skip's width. At
  gain 0 the model *is* the ``bicubic+gaussian`` baseline of that width; at gain 1 and its
  own width it is the model as trained.
- :func:`tune_blend` chooses both on pairs the user has (HR images crappified as training
  would crappify them, or real LR/HR pairs), on the grid and error the baselines are tuned
  with (:data:`pssr_nb.baselines.SIGMAS`, CARE-normalised squared error), through
  :func:`pssr_nb.predict.predict_image`, the path users predict with. It takes seconds.

This is shrinkage toward the baseline: on the tuning pairs the blend is never worse than
the tuned Gaussian (gain 0 is among the candidates). On new images it has to be measured,
and is (``benchmarks/bench_transfer.py --arms blended``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .baselines import SIGMAS, care_squared_error
from .crappify import Crappifier
from .data import find_pairs
from .errors import InputError
from .files import refuse_to_replace
from .io import image_files, read_image
from .model_choice import MODEL_HELP, open_model
from .model_file import TrainedModel
from .normalize import percentile_normalization
from .params import Checked, param
from .predict import PredictParams, predict_image

__all__ = ["GAINS", "Blend", "BlendInputs", "blend", "run", "tune_blend"]

#: HR planes read from one file at most (a stack's planes, evenly spaced).
PLANES_PER_FILE = 4

#: The gains tried for what the network adds: from none (the baseline) to all of it.
GAINS = tuple(round(0.1 * i, 1) for i in range(11))


@dataclasses.dataclass(frozen=True)
class Blend:
    """A tuned blend and how it did on the pairs it was tuned on.

    Attributes
    ----------
    gain : float
        The share of what the network adds that is kept.
    skip_sigma : float
        The skip's Gaussian width, HR pixels.
    error : float
        Its mean CARE-normalised squared error over the tuning pairs.
    model_error : float
        The model's as it was (gain 1, its own width).
    baseline_error : float
        ``bicubic+gaussian``'s at its best width (gain 0).
    pairs : int
        How many pairs it was tuned on.
    """

    gain: float
    skip_sigma: float
    error: float
    model_error: float
    baseline_error: float
    pairs: int

    @property
    def gain_db(self) -> float:
        """The blend's gain over ``bicubic+gaussian`` on the tuning pairs (dB of error)."""
        return 10 * math.log10(self.baseline_error / self.error)

    @property
    def model_gain_db(self) -> float:
        """The unblended model's gain over ``bicubic+gaussian`` on the tuning pairs."""
        return 10 * math.log10(self.baseline_error / self.model_error)

    def log_row(self) -> dict[str, Any]:
        """The model file's history row that records the blend."""
        return {"kind": "blend", **dataclasses.asdict(self)}


def blend(model: TrainedModel, gain: float, skip_sigma: float) -> TrainedModel:
    """A copy of ``model`` whose network adds ``gain`` times what it added, to a skip
    smoothed by a Gaussian of ``skip_sigma`` HR pixels.

    Raises
    ------
    InputError
        For a model without a skip (``ModelConfig.residual`` off, e.g. a PSSR2 import).
    """
    _check_blendable(model)
    if not 0.0 <= gain <= 1.0 or skip_sigma < 0:
        raise InputError(
            f"A blend needs a gain in [0, 1] and a width >= 0, got {gain} and {skip_sigma}."
        )
    network = copy.deepcopy(model.network)
    network.set_skip_sigma(skip_sigma)
    network.scale_output(gain)
    return dataclasses.replace(model, network=network)


def _check_blendable(model: TrainedModel) -> None:
    """Refuse a model without a skip (``ModelConfig.residual`` off, e.g. a PSSR2 import)."""
    c = model.config
    if not c.residual or tuple(c.input_affine) != (1.0, 0.0):
        raise InputError(
            "Only a model that adds to a bicubic skip can be blended with the baseline; this "
            f"one ({model.origin}) makes its whole output itself.",
            fix="Fine-tune it on your images instead (pssr-nb train --init MODEL).",
        )


def tune_blend(
    model: TrainedModel,
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    params: PredictParams | None = None,
    gains: Sequence[float] = GAINS,
    sigmas: Sequence[float] = SIGMAS,
) -> Blend:
    """The gain and skip width with the lowest error over ``pairs``.

    Parameters
    ----------
    model : TrainedModel
        A residual model (see :func:`blend`).
    pairs : sequence of (lr, hr)
        2-D planes, ``hr`` ``scale`` times larger, each LR in its own units (it is
        measured as :func:`~pssr_nb.predict.predict_image` measures it). Never the images
        that are scored.
    params : PredictParams, optional
        How to predict (default: no TTA).
    gains, sigmas : sequence of float
        The candidates; 0 should be among the gains, so the baseline is.

    Returns
    -------
    Blend
    """
    if not pairs:
        raise InputError("Tuning a blend needs at least one LR/HR pair.")
    _check_blendable(model)  # before any prediction
    params = params or PredictParams(tta=False)
    own = model.config.skip_sigma
    widths = sorted({*map(float, sigmas), own})
    errors = np.zeros((len(gains), len(widths)))
    model_error = 0.0
    for lr, hr in pairs:
        lr = np.asarray(lr, np.float32)
        full = predict_image(model, lr, params).data
        skips = {s: predict_image(blend(model, 0.0, s), lr, params).data for s in widths}
        added = full - skips[own]
        model_error += care_squared_error(full, hr) / len(pairs)
        for i, g in enumerate(gains):
            for j, s in enumerate(widths):
                errors[i, j] += care_squared_error(skips[s] + g * added, hr) / len(pairs)
    i, j = np.unravel_index(int(np.argmin(errors)), errors.shape)
    baseline = errors[list(gains).index(0.0)].min() if 0.0 in gains else float("nan")
    return Blend(
        gain=float(gains[i]),
        skip_sigma=widths[j],
        error=float(errors[i, j]),
        model_error=float(model_error),
        baseline_error=float(baseline),
        pairs=len(pairs),
    )


@dataclasses.dataclass
class BlendInputs(Checked):
    """What to blend: the model and the user's images (``pssr-nb blend``)."""

    model: str = param("", MODEL_HELP, positional=True)
    hr: str = param(
        "",
        "High-resolution images of your specimen (files or a folder): crappified as the "
        "model was trained (or by crappifier), or paired with lr. Never the images you will "
        "score the model on.",
        required=True,
    )
    lr: str = param("", "Real LR scans of the same fields, paired by name; empty: crappify hr.")
    crappifier: str = param(
        "", "crappifier.json from calibration, to crappify hr; empty: the model's own."
    )
    lr_token: str = param("", "Part of LR file names to ignore when pairing, e.g. lowsnr.")
    hr_token: str = param("", "Part of HR file names to ignore when pairing, e.g. highsnr.")


def _planes(path: Path) -> list[np.ndarray]:
    """Up to :data:`PLANES_PER_FILE` 2-D planes of an image file, evenly spaced."""
    data = np.asarray(read_image(path).data, np.float32)
    planes = data.reshape(-1, *data.shape[-2:])
    keep = np.unique(np.linspace(0, len(planes) - 1, PLANES_PER_FILE).round().astype(int))
    return [planes[i] for i in keep]


def user_pairs(inputs: BlendInputs, model: TrainedModel) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (LR, HR) planes to tune on: real pairs, or the HR crappified at the model's scale."""
    s = model.config.scale
    if inputs.lr:
        pairs = []
        for lr_file, hr_file in find_pairs(inputs.lr, inputs.hr, inputs.lr_token, inputs.hr_token):
            lrs, hrs = _planes(lr_file), _planes(hr_file)
            if len(lrs) != len(hrs):
                raise InputError(
                    f"{lr_file.name} and {hr_file.name} hold different numbers of planes.",
                    path=hr_file,
                    fix="Pair each LR scan with the HR image of the same field and planes.",
                )
            for lr, hr in zip(lrs, hrs, strict=True):
                h, w = lr.shape
                if hr.shape[0] < s * h or hr.shape[1] < s * w:
                    raise InputError(
                        f"The HR image {hr.shape} is smaller than {s} x its LR partner "
                        f"{lr.shape} ({lr_file.name}).",
                        path=hr_file,
                        fix=f"Pair each LR scan with the HR image of the same field, {s}x larger.",
                    )
                pairs.append((lr, hr[: s * h, : s * w]))
        return pairs
    if inputs.crappifier:
        crappifier = Crappifier.load(inputs.crappifier)
    elif model.crappifier:
        crappifier = Crappifier.from_dict(model.crappifier).typical()
    else:
        raise InputError(
            "This model does not record how its inputs were made, so your HR images cannot "
            "be crappified like them.",
            fix="Give real LR scans of the same fields (lr), or a crappifier.json (crappifier).",
        )
    if crappifier.scale != s:
        raise InputError(
            f"The crappifier is {crappifier.scale}x and the model {s}x.",
            path=inputs.crappifier or None,
            fix="Give a crappifier calibrated at the model's scale.",
        )
    pairs = []
    for n, hr_file in enumerate(image_files(inputs.hr)):
        for plane in _planes(hr_file):
            hr = plane[: plane.shape[0] // s * s, : plane.shape[1] // s * s]
            hr = percentile_normalization(hr).apply(hr).astype(np.float32)
            pairs.append((crappifier(hr, seed=n), hr))
    return pairs


def run(inputs: BlendInputs, out: str | Path, overwrite: bool = False) -> tuple[Path, Blend]:
    """Tune a blend of ``inputs.model`` on the user's images and write it as a model file.

    The file is the model with what its network adds scaled and its skip's width set,
    with the tuning recorded in its history (``kind: "blend"``). Returns its path and the
    :class:`Blend`.
    """
    out = refuse_to_replace(
        out,
        overwrite,
        "The output file exists.",
        "Choose a new name, or replace it (--overwrite).",
    )
    model = open_model(inputs.model or "em_x4")
    if model.config.frames != 1:
        raise InputError(
            f"Blending is measured for single-frame models; this one takes {model.config.frames}.",
            path=inputs.model,
            fix="Fine-tune it on your images instead (pssr-nb train --init MODEL).",
        )
    pairs = user_pairs(inputs, model)
    if not pairs:
        raise InputError("No images found.", path=inputs.hr, fix="Give HR image files or a folder.")
    tuned = tune_blend(model, pairs)
    blended = blend(model, tuned.gain, tuned.skip_sigma)
    blended.history = [*model.history, tuned.log_row()]
    return blended.save(out), tuned
