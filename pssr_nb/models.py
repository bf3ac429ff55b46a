"""Residual U-Nets that work on the LR grid and upsample at the end.

The architecture follows PSSR2's ResUNet (residual blocks, max-pool down,
pixel-shuffle up with skip connections, a pixel-shuffle reconstruction by the
scale factor), with module names that match it so PSSR2 weights can be
imported. Our presets differ where it helps learners:

- no normalisation layers instead of BatchNorm: stable with batches of 2-8
  tiles (PSSR2's BatchNorm outputs swing in eval mode early in training), and
  every output pixel depends only on its neighbourhood, so tiled prediction
  matches whole-image prediction (GroupNorm's per-tile statistics would not;
  it stays available as ``norm="group"``);
- a global residual: the network adds its output to the aligned bicubic
  upsampling of the centre input frame (see :mod:`pssr_nb.sampling`), so an
  untrained model starts at the interpolation baseline and the sampling
  geometry is part of the model;
- the ``small`` and ``medium`` presets reach the HR grid by a resize-convolution
  (bilinear feature upsampling, then a convolution) instead of a pixel-shuffle,
  whose ``scale^2`` sub-pixel maps learn a texture at the LR sampling period
  (``ModelConfig.upsampler``; benchmarks/RESULTS.md, "grid texture" and "the
  medium preset with the resize head"); ``large`` keeps the pixel-shuffle
  (its head is not measured);
- any input size: inputs are padded to the network's multiple inside and the
  output is cropped back to ``scale x`` the input.

Inputs are ``(N, frames, h, w)`` in normalised units; outputs ``(N, 1, scale*h, scale*w)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from .errors import InputError
from .gaussian import gaussian_filter, gaussian_kernel
from .sampling import DEFAULT_SCALE, shift_kernel, upsample

__all__ = [
    "NORMS",
    "PRESETS",
    "UPSAMPLERS",
    "config_for",
    "count_parameters",
    "ModelConfig",
    "Reconstruction",
    "ResBlock",
    "ResUNet",
]

NORMS = ("group", "batch", "none")


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Everything that defines a network's shape.

    Attributes
    ----------
    hidden : tuple of int
        Channels of each resolution level, finest first; each level halves the size.
    depth : int
        Extra convolutions per residual block (a block has ``depth + 1``).
    norm : {"group", "batch", "none"}
        Normalisation after each convolution.
    scale : int
        Upsampling factor (1 = denoising only).
    frames : int
        Input frames (neighbouring time points or slices); the output is one frame.
    residual : bool
        Add the aligned bicubic upsampling of the centre frame to the output.
    skip_sigma : float
        Width (HR pixels) of a Gaussian applied to that bicubic skip. With the width of
        the tuned Gaussian baseline, an untrained network *is* the best simple baseline
        (bicubic + tuned Gaussian) and training learns only what improves on it; 0 keeps
        the plain bicubic skip.
    offset : float
        Sampling offset of the data the model serves (HR position of LR pixel 0): where
        its bicubic skip places each LR sample.
    weights_offset : float or None
        The sampling offset at which the weights learned to place what they add (None:
        ``offset``). A model serving data of another sampling (:meth:`at_offset`) shifts
        the network's output by ``offset - weights_offset`` HR pixels, so that what it
        adds lands where its skip does.
    input_norm : bool
        A BatchNorm on the input, as in PSSR2.
    input_affine : (float, float)
        ``(a, b)``: the layers see ``a * x + b`` and their output is mapped back by
        ``(y - b) / a``. Identity for pssr_nb models; imported PSSR2 models use it to
        reproduce PSSR2's fixed 8-bit scaling.
    recon_channels : int
        Channels of each HR pixel between the pixel shuffle and the output convolution;
        0 means ``hidden[0]``, PSSR2's reconstruction. On the LR grid that layer has
        ``scale^2 * recon_channels`` channels, so with PSSR2's choice it costs more than
        the whole U-Net below it; the fast presets use a few channels instead.
    upsampler : {"shuffle", "resize"}
        How the head reaches the HR grid: ``shuffle`` rearranges ``scale^2`` sub-pixel
        maps (PSSR2's choice); ``resize`` interpolates ``4 * recon_channels`` feature maps
        bilinearly and convolves them on the HR grid (a resize-convolution: no map
        belongs to one position of the LR lattice, so no lattice texture is built in).
    """

    hidden: tuple[int, ...] = (32, 64, 128, 256)
    depth: int = 1
    norm: str = "none"
    scale: int = DEFAULT_SCALE
    frames: int = 1
    residual: bool = True
    skip_sigma: float = 0.0
    offset: float = 0.0
    weights_offset: float | None = None
    input_norm: bool = False
    input_affine: tuple[float, float] = (1.0, 0.0)
    recon_channels: int = 0
    upsampler: str = "shuffle"

    def __post_init__(self) -> None:
        if self.upsampler not in UPSAMPLERS:
            raise InputError(
                f"Unknown upsampler {self.upsampler!r}.", fix=f"Use one of {UPSAMPLERS}."
            )
        if self.norm not in NORMS:
            raise InputError(f"Unknown norm {self.norm!r}.", fix=f"Use one of {NORMS}.")
        if self.scale < 1 or self.frames < 1 or self.frames % 2 == 0:
            raise InputError(
                f"scale must be >= 1 and frames odd, got scale={self.scale}, frames={self.frames}."
            )
        if self.skip_sigma < 0:
            raise InputError(f"skip_sigma must be >= 0, got {self.skip_sigma}.")
        if self.recon_channels < 0:
            raise InputError(f"recon_channels must be >= 0, got {self.recon_channels}.")
        if len(self.hidden) < 1 or any(c < 1 for c in self.hidden):
            raise InputError(f"hidden must list positive channel counts, got {self.hidden}.")
        for a, b in zip(self.hidden, self.hidden[1:], strict=False):
            if b % 4 or (b // 4 + a) <= 0:
                raise InputError(
                    f"Each level's channels must be divisible by 4 (pixel shuffle), got {b}."
                )

    @property
    def fits_any_scale(self) -> bool:
        """Whether these weights fit a network of any scale.

        The ``resize`` head interpolates its feature maps by the scale and has no map per
        sub-pixel position, so no weight's shape depends on the scale: a model of one
        scale can start training at another with every layer kept.
        """
        return self.upsampler == "resize"

    @property
    def output_shift(self) -> float:
        """HR pixels the network's output is moved by (see ``weights_offset``)."""
        return 0.0 if self.weights_offset is None else self.offset - self.weights_offset

    def at_offset(self, offset: float) -> ModelConfig:
        """This network serving data sampled at ``offset``, its weights unchanged.

        Examples
        --------
        >>> c = ModelConfig(scale=4).at_offset(1.5)
        >>> c.offset, c.output_shift, c.at_offset(0.0) == ModelConfig(scale=4)
        (1.5, 1.5, True)
        """
        learned = self.offset if self.weights_offset is None else self.weights_offset
        return dataclasses.replace(
            self, offset=offset, weights_offset=None if offset == learned else learned
        )

    @property
    def multiple(self) -> int:
        """Input sizes are padded to a multiple of this."""
        return 2 ** (len(self.hidden) - 1)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"], d["input_affine"] = list(self.hidden), list(self.input_affine)
        if d["weights_offset"] is None:  # files of a model at its own offset stay as they were
            del d["weights_offset"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        d = {**d, "hidden": tuple(d["hidden"])}
        if "input_affine" in d:
            d["input_affine"] = tuple(d["input_affine"])
        return cls(**d)


#: How the network's head reaches the HR grid (see :class:`ModelConfig`).
UPSAMPLERS = ("shuffle", "resize")

#: Named presets. ``pssr2`` is PSSR2's published default ResUNet (about 60 M parameters).
PRESETS: dict[str, dict[str, Any]] = {
    "small": {
        "hidden": (32, 64, 128, 256),
        "depth": 1,
        "norm": "none",
        "recon_channels": 4,
        "upsampler": "resize",  # no lattice texture (benchmarks/RESULTS.md, grid texture)
    },
    "medium": {
        "hidden": (48, 96, 192, 384),
        "depth": 2,
        "norm": "none",
        "recon_channels": 8,
        "upsampler": "resize",
    },
    "large": {"hidden": (64, 128, 256, 512, 1024), "depth": 3, "norm": "none"},
    "pssr2": {
        "hidden": (64, 128, 256, 512, 1024),
        "depth": 3,
        "norm": "batch",
        "residual": False,
        "input_norm": True,
    },
}


def config_for(
    preset: str, scale: int = DEFAULT_SCALE, frames: int = 1, offset: float = 0.0
) -> ModelConfig:
    """The :class:`ModelConfig` of a named preset at a scale and frame count."""
    if preset not in PRESETS:
        raise InputError(
            f"Unknown model preset {preset!r}.", fix=f"Choose one of {sorted(PRESETS)}."
        )
    return ModelConfig(scale=scale, frames=frames, offset=offset, **PRESETS[preset])


def _norm(kind: str, channels: int) -> nn.Module | None:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    return None


class ResBlock(nn.Module):
    """``depth + 1`` conv-norm(-ReLU) layers plus a 1x1 residual pass, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, depth: int, norm: str):
        super().__init__()
        self.conv = nn.Sequential()
        n_layers = max(depth, 0) + 1
        for i in range(n_layers):
            self.conv.append(
                nn.Conv2d(in_channels if i == 0 else out_channels, out_channels, 3, padding=1)
            )
            layer_norm = _norm(norm, out_channels)
            if layer_norm is not None:
                self.conv.append(layer_norm)
            if i + 1 < n_layers:
                self.conv.append(nn.ReLU(inplace=True))
        self.respass = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x) + self.respass(x))


class Reconstruction(nn.Module):
    """Reach the HR grid and project to the output (see ``ModelConfig.upsampler``).

    ``shuffle``: ``scale^2`` sub-pixel maps, pixel-shuffled, ``channels`` maps per HR pixel
    (PSSR2 uses ``hidden``) into the output convolution. ``resize``: ``4 * channels`` maps,
    bilinearly interpolated, into the output convolution.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        hidden: int,
        scale: int,
        channels: int = 0,
        upsampler: str = "shuffle",
    ):
        super().__init__()
        channels = channels or hidden
        maps = scale**2 * channels if upsampler == "shuffle" else 4 * channels
        self.pre = nn.Conv2d(hidden + in_channels, maps, 3, padding=1)
        self.conv = nn.Conv2d(
            maps // scale**2 if upsampler == "shuffle" else maps, out_channels, 3, padding=1
        )
        self.scale, self.upsampler = scale, upsampler

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = F.relu(self.pre(x))
        if self.upsampler == "shuffle":
            return self.conv(F.pixel_shuffle(features, self.scale))
        hr = F.interpolate(features, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return self.conv(hr)


class ResUNet(nn.Module):
    """A residual U-Net super-resolution network (see the module docstring).

    Parameters
    ----------
    config : ModelConfig

    Examples
    --------
    >>> net = ResUNet(config_for("small", scale=4))
    >>> net(torch.zeros(2, 1, 37, 50)).shape
    torch.Size([2, 1, 148, 200])
    """

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        self.norm = nn.BatchNorm2d(c.frames) if c.input_norm else None
        layers = [c.frames, *c.hidden]
        self.encoder, self.decoder = nn.ModuleList(), nn.ModuleList()
        n = len(c.hidden)
        for i in range(n):
            self.encoder.append(ResBlock(layers[i], layers[i + 1], c.depth, c.norm))
        for i in range(n - 1):
            coarse, fine = c.hidden[n - 1 - i], c.hidden[n - 2 - i]
            self.decoder.append(ResBlock(coarse // 4 + fine, fine, c.depth, c.norm))
        self.reconstruction = Reconstruction(
            c.frames, 1, c.hidden[0], c.scale, c.recon_channels, c.upsampler
        )
        if c.residual:
            self.start_at_skip()
        # not in the state dict: weights load across skip widths (fine-tuning, old files)
        self.register_buffer("skip_kernel", gaussian_kernel(c.skip_sigma), persistent=False)

    def start_at_skip(self) -> None:
        """Zero the output layer: the network then gives exactly its skip connection, the
        interpolation (or smoothing) baseline, whatever its other weights."""
        self.scale_output(0.0)

    @torch.no_grad()
    def scale_output(self, gain: float) -> None:
        """Scale what the network adds to its skip by ``gain`` (its output layer's weights
        and bias; exact for residual networks without an ``input_affine``)."""
        self.reconstruction.conv.weight.mul_(gain)
        self.reconstruction.conv.bias.mul_(gain)

    def set_skip_sigma(self, sigma: float) -> None:
        """Smooth the skip by a Gaussian of ``sigma`` HR pixels (``ModelConfig.skip_sigma``)."""
        self.config = dataclasses.replace(self.config, skip_sigma=float(sigma))
        device = self.reconstruction.conv.weight.device
        self.skip_kernel = gaussian_kernel(self.config.skip_sigma).to(device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x.ndim != 4 or x.shape[1] != c.frames:
            raise InputError(
                f"The model expects input (N, {c.frames}, H, W) but got {tuple(x.shape)}.",
                fix="Use as many input frames as the model was trained with.",
            )
        h, w = x.shape[-2:]
        m = c.multiple
        pad_h, pad_w = (-h) % m, (-w) % m
        # padded even by zero, so a trace (pssr_nb.portable) holds for every size
        mode = "reflect" if pad_h < h and pad_w < w else "replicate"
        y = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        a, b = c.input_affine
        if (a, b) == (1.0, 0.0):
            y = self._forward_padded(y)
        else:
            y = (self._forward_padded(a * y + b) - b) / a
        if c.output_shift:
            y = gaussian_filter(y, shift_kernel(c.output_shift).to(y.device))
        y = y[..., : c.scale * h, : c.scale * w]
        if c.residual:
            centre = x[:, c.frames // 2 : c.frames // 2 + 1]
            skip = upsample(centre, c.scale, c.offset, "bicubic") if c.scale > 1 else centre
            y = y + gaussian_filter(skip, self.skip_kernel)
        return y

    def _forward_padded(self, x: torch.Tensor) -> torch.Tensor:
        if self.norm is not None:
            x = self.norm(x)
        skips = [x]
        for i, block in enumerate(self.encoder):
            x = block(x)
            if i + 1 < len(self.encoder):
                skips.append(x)
                x = F.max_pool2d(x, 2)
        for block in self.decoder:
            x = block(torch.cat([F.pixel_shuffle(x, 2), skips.pop()], dim=1))
        return self.reconstruction(torch.cat([x, skips.pop()], dim=1))


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
