"""A trained model as one PyTorch module: an image in its own units in, the super-resolved image out.

Tools outside pssr_nb (Fiji's deepImageJ, napari, ``bioimageio.core``) hand a network a
tensor; they do not know pssr_nb's input units. :class:`PortableModel` carries them
inside: it measures the tensor it is given as :func:`pssr_nb.units.input_normalization`
measures an image (the 0.1/99.9 percentiles after a one-pixel Gaussian, over every
frame; four 1024-px crops of a larger plane), maps it to the network's units, runs the
network and maps the result back to the input's intensities, as
:func:`pssr_nb.predict.predict_image` does. :func:`to_torchscript` compiles it for the
tools that run TorchScript.

The measurement is written again here in torch because those tools have no numpy or
scipy; ``tests/test_portable.py`` holds it to the numpy definition, which stays the
owner. The one difference from pssr_nb's prediction: a tool that cuts an image into
tiles gives each tile its own units, where pssr_nb measures the whole image once.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
import torch.nn as nn

from .gaussian import gaussian_filter, gaussian_kernel
from .models import ModelConfig, ResUNet
from .normalize import DEFAULT_PERCENTILES
from .units import INPUT_SMOOTHING, MAX_SIDE

__all__ = ["PortableModel", "measure_units", "to_torchscript"]


def _smooth(plane: torch.Tensor, sigma: float) -> torch.Tensor:
    """``scipy.ndimage.gaussian_filter(plane, sigma, mode="reflect")`` of a 2-D plane."""
    kernel = gaussian_kernel(sigma, plane.dtype)
    return gaussian_filter(plane[None, None], kernel)[0, 0]


def _crops(plane: torch.Tensor, side: int) -> list[torch.Tensor]:
    """The plane, or for a large plane the four crops :func:`pssr_nb.units._crops` takes."""
    h, w = plane.shape[0], plane.shape[1]
    if h * w <= side * side:
        return [plane]
    crops: list[torch.Tensor] = []
    for cy in [h // 4, 3 * h // 4]:
        for cx in [w // 4, 3 * w // 4]:
            y0 = max(0, min(h - side, cy - side // 2))
            x0 = max(0, min(w - side, cx - side // 2))
            crops.append(plane[y0 : y0 + side, x0 : x0 + side])
    return crops


def _percentile(values: torch.Tensor, q: float) -> torch.Tensor:
    """``numpy.percentile(values, q)`` (linear interpolation) of sorted 1-D ``values``."""
    pos = q / 100.0 * (values.numel() - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, values.numel() - 1)
    return values[lo] + (values[hi] - values[lo]) * (pos - lo)


def _median(values: torch.Tensor) -> torch.Tensor:
    """``numpy.median``: the mean of the two middle values of an even count."""
    v = torch.sort(values)[0]
    n = v.numel()
    return v[n // 2] if n % 2 == 1 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def measure_units(
    frames: torch.Tensor,
    p_low: float = 0.1,
    p_high: float = 99.9,
    sigma: float = INPUT_SMOOTHING,
    side: int = MAX_SIDE,
) -> tuple[float, float]:
    """``(low, high)`` of the network's input units of a ``(frames, h, w)`` tensor.

    The torch twin of :func:`pssr_nb.units.smoothed_percentiles` (non-finite pixels are
    replaced by the plane's median before smoothing and left out of the percentiles).
    """
    values: list[torch.Tensor] = []
    for f in range(frames.shape[0]):
        for crop in _crops(frames[f].to(torch.float64), side):
            finite = torch.isfinite(crop)
            if not bool(finite.any()):
                continue
            if not bool(finite.all()):
                crop = torch.where(finite, crop, _median(crop[finite]))
            smooth = _smooth(crop, sigma) if sigma > 0 else crop
            values.append(smooth[finite].reshape(-1))
    if len(values) == 0:  # as pssr_nb would refuse it; a tool gets a blank image back
        return 0.0, 1.0
    ordered = torch.sort(torch.cat(values))[0]
    low = float(_percentile(ordered, p_low))
    high = float(_percentile(ordered, p_high))
    return low, (high if high > low else low + 1.0)


class PortableModel(nn.Module):
    """A pssr_nb network with its input units: ``(N, frames, h, w)`` -> ``(N, 1, H, W)``.

    Each sample is measured (:func:`measure_units`), mapped to the network's units, run
    through the network and mapped back, so the output is in the input's intensities
    (float32), of any ``h, w`` (the network pads to its multiple and crops back).

    Parameters
    ----------
    config : dict
        ``ModelConfig.to_dict()`` of the network.
    percentiles : (float, float)
    smoothing : float
        The model's input units (``TrainedModel.percentiles`` and ``.input_smoothing``).
    """

    def __init__(
        self,
        config: dict[str, Any],
        percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
        smoothing: float = INPUT_SMOOTHING,
    ):
        super().__init__()
        cfg = ModelConfig.from_dict(config)
        self.network = ResUNet(cfg)
        self.p_low, self.p_high = float(percentiles[0]), float(percentiles[1])
        self.smoothing = float(smoothing)
        self.side = int(MAX_SIDE)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outputs: list[torch.Tensor] = []
        for b in range(x.shape[0]):
            low, high = measure_units(x[b], self.p_low, self.p_high, self.smoothing, self.side)
            span = torch.tensor(high - low, dtype=torch.float32, device=x.device)
            base = torch.tensor(low, dtype=torch.float32, device=x.device)
            y = (x[b : b + 1].to(torch.float32) - base) / span
            y = torch.nan_to_num(y, nan=0.0, posinf=1.0, neginf=0.0)
            outputs.append(self.network(y) * span + base)
        return torch.cat(outputs, dim=0)

    @classmethod
    def from_trained(cls, model: Any) -> PortableModel:
        """The :class:`~pssr_nb.model_file.TrainedModel`'s network and units, as one module."""
        portable = cls(model.config.to_dict(), model.percentiles, model.input_smoothing)
        portable.network.load_state_dict(model.network.state_dict())
        return portable.eval()


def to_torchscript(model: Any) -> torch.jit.ScriptModule:
    """:class:`PortableModel` of a trained model compiled to TorchScript (what deepImageJ runs).

    The network is traced (its padding and cropping are recorded as operations on the
    input's size, so the trace holds for every size); the wrapper, whose units depend on
    the values of the input, is scripted.
    """
    portable = PortableModel.from_trained(model).cpu()
    m = model.config.multiple
    example = torch.zeros(1, model.config.frames, 4 * m + 3, 4 * m + 1)
    with warnings.catch_warnings():  # torch.jit is deprecated upstream, still what tools run
        warnings.simplefilter("ignore")
        portable.network = torch.jit.trace(portable.network, example, check_trace=False)
        return torch.jit.script(portable)
