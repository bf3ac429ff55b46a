"""Bring PSSR2 (``pssr`` 2.x) ResUNet weights into pssr_nb.

PSSR2 saves a model as a bare ``state_dict`` (``.pth``). Its module names
match :class:`~pssr_nb.models.ResUNet`, so the weights load unchanged; the
architecture (widths, depth, scale, input frames, normalisation layers) is
read from the tensor shapes. PSSR2 networks expect raw 8-bit intensities
(they compute ``x / 128 - 1`` inside); the imported model gets the matching
``input_affine`` and min-max normalisation (percentiles 0 and 100), so an
8-bit image that spans its range is seen exactly as PSSR2 sees it. Its LR
images were made by bilinear resizing, so the sampling offset is ``(s-1)/2``.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from .errors import InputError
from .model_file import TrainedModel, read_safely
from .models import ModelConfig, ResUNet
from .sampling import lr_offset

__all__ = ["PSSR2_AFFINE", "import_pssr2", "pssr2_config"]

#: PSSR2's ``x / 128 - 1`` on 0..255 data, for inputs normalised to 0..1.
PSSR2_AFFINE = (255 / 128, -1.0)


def pssr2_config(
    state_dict: dict[str, torch.Tensor], path: str | Path | None = None
) -> ModelConfig:
    """Infer the :class:`ModelConfig` of a PSSR2 ResUNet ``state_dict``."""
    keys = set(state_dict)
    unsupported = [k for k in keys if ".dilations." in k or "_pool." in k]
    if unsupported:
        raise InputError(
            "This PSSR2 model uses atrous blocks or PSP pooling (ResUNetA), which pssr_nb does not implement.",
            path=path,
            fix="Import a plain PSSR2 ResUNet (no dilations or pool_sizes).",
        )
    if "encoder.0.conv.0.weight" not in keys or "reconstruction.pre.weight" not in keys:
        raise InputError(
            "This file is not a PSSR2 ResUNet state_dict (no encoder/reconstruction weights).",
            path=path,
            fix="Export the model with torch.save(model.state_dict(), path) in PSSR2.",
        )
    levels = sorted({int(k.split(".")[1]) for k in keys if k.startswith("encoder.")})
    hidden = tuple(int(state_dict[f"encoder.{i}.conv.0.weight"].shape[0]) for i in levels)
    convs = [k for k in keys if k.startswith("encoder.0.conv.") and k.endswith(".weight")]
    convs = [k for k in convs if state_dict[k].ndim == 4]
    frames = int(state_dict["encoder.0.conv.0.weight"].shape[1])
    out_channels = int(state_dict["reconstruction.conv.weight"].shape[0])
    if out_channels != 1:
        raise InputError(
            f"This PSSR2 model predicts {out_channels} channels; pssr_nb models predict one frame.",
            path=path,
        )
    scale = math.isqrt(int(state_dict["reconstruction.pre.weight"].shape[0]) // hidden[0])
    return ModelConfig(
        hidden=hidden,
        depth=len(convs) - 1,
        norm="batch" if "encoder.0.conv.1.running_mean" in keys else "none",
        scale=scale,
        frames=frames,
        residual=False,
        offset=lr_offset(scale, "bilinear"),
        input_norm="norm.weight" in keys,
        input_affine=PSSR2_AFFINE,
    )


def import_pssr2(
    path: str | Path, modality: str = "", pixel_size_nm: float | None = None
) -> TrainedModel:
    """Load a PSSR2 ResUNet ``.pth`` file as a :class:`TrainedModel`.

    The file is read with ``weights_only=True``; nothing in it is executed.

    Parameters
    ----------
    path : str or Path
        The ``.pth`` state_dict PSSR2 wrote.
    modality, pixel_size_nm
        What the model was trained on, if known (recorded in the model).
    """
    state = read_safely(path)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(
            "This file does not hold a plain state_dict of tensors.",
            path=path,
            fix="Export the model with torch.save(model.state_dict(), path) in PSSR2.",
        )
    config = pssr2_config(state, path)
    network = ResUNet(config)
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        raise InputError(
            f"The weights do not match the architecture read from them ({exc}).".splitlines()[0],
            path=path,
        ) from exc
    return TrainedModel(
        network=network.eval(),
        percentiles=(0.0, 100.0),
        pixel_size_nm=pixel_size_nm,
        modality=modality,
        origin=f"PSSR2 import of {Path(path).name}",
    )
