"""The settings of a training run: what to train on, how, and the defaults that depend on them.

One owner for the run's settings, read by :mod:`pssr_nb.train`, the CLI, the notebooks'
forms and the napari widget.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import torch

from .data import MIN_TRAINING_TILE_LR
from .losses import LOSSES
from .models import PRESETS
from .params import Checked, param, setting_error
from .sampling import DEFAULT_SCALE, DOWNSAMPLE_MODES, MAX_SCALE

__all__ = ["LEARNING_RATES", "TrainInputs", "TrainParams", "effective_params"]


@dataclasses.dataclass
class TrainInputs(Checked):
    """What to train on (``pssr-nb train``; notebook 03 takes them from the project)."""

    hr: str = param("", "HR training images: a file or folder.", required=True)
    crappifier: str = param(
        "",
        "crappifier.json from calibration; it sets the scale and sampling offset. Empty: "
        f"a generic crappifier at scale {DEFAULT_SCALE} (or the scale setting).",
    )


@dataclasses.dataclass
class TrainParams(Checked):
    """Settings of a training run (the train notebook's form and ``pssr-nb train``)."""

    #: Quick mode (CI, a first look): the starting values a form takes instead.
    QUICK: ClassVar[dict[str, Any]] = {
        "steps": 30,
        "tile": 64,
        "batch_size": 4,
        "val_tiles": 4,
        "validations": 3,
    }

    preset: str = param(
        "small", "Network size (ignored when fine-tuning: init's network).", choices=tuple(PRESETS)
    )
    init: str = param(
        "",
        "Fine-tune: start from this model (a sample model name such as em_x4, a model file "
        "or a PSSR2 .pth); empty trains from random weights.",
    )
    scale: int = param(
        0,
        "Super-resolution factor; 0 takes the crappifier's (the crappifier sets the sampling "
        f"geometry; without one, {DEFAULT_SCALE}).",
        minimum=0,
        maximum=MAX_SCALE,
    )
    frames: int = param(
        1, "Input frames (odd): neighbouring time points or slices.", minimum=1, odd=True
    )
    minutes: float = param(5.0, "Time budget in minutes (used when steps is 0).", above=0)
    steps: int = param(0, "Optimisation steps; 0 fits the run into the time budget.", minimum=0)
    batch_size: int = param(0, "Tiles per step; 0 = 16 on a GPU, 8 on a CPU.", minimum=0)
    tile: int = param(0, "HR tile size in pixels; 0 = 256 on a GPU, 128 on a CPU.", minimum=0)
    learning_rate: float = param(
        0.0,
        "Peak learning rate (warm-up, then cosine decay); 0 = 1e-3, or 3e-4 when fine-tuning.",
        minimum=0,
    )
    weight_decay: float = param(1e-4, "AdamW weight decay.", minimum=0)
    loss: str = param(
        "l1",
        "Training loss: l1, mse, or msssim_l1 (PSSR's MS-SSIM + L1: slower per step and "
        "below L1 in the measurements of benchmarks/RESULTS.md).",
        choices=LOSSES,
    )
    val_fraction: float = param(
        0.2, "Fraction of the data held out for validation.", minimum=0, maximum=0.9
    )
    split_by: str = param(
        "tile", "Hold out tiles of every image, or whole images.", choices=("tile", "image")
    )
    val_tiles: int = param(
        16,
        "Held-out regions scored at every validation (crappified once, same noise every time).",
        minimum=1,
    )
    val_lr: str = param(
        "", "Real LR images (folder) scored at every validation; the best model is chosen by them."
    )
    val_hr: str = param("", "The HR images of the same fields as val_lr (same file names).")
    val_semi_synthetic: bool = param(
        False, "val_lr are low-SNR scans at the HR pixel size: decimate them by scale first."
    )
    validations: int = param(10, "How many times to validate during the run.", minimum=1)
    checkpoint_minutes: float = param(
        2.0, "Write a resumable checkpoint this often (0 = every step).", minimum=0
    )
    device: str = param("auto", "auto, cpu, cuda, cuda:1 or mps.")
    amp: bool = param(True, "Mixed precision on CUDA (bf16 where supported).")
    workers: int = param(
        0, "Data-loading processes; 0 loads in the main process (best on 2 cores).", minimum=0
    )
    smooth_skip: bool = param(
        True,
        "Start from the best simple baseline: the network's skip is bicubic + the Gaussian "
        "tuned on the training data, not bicubic alone (from random weights; a fine-tuned "
        "model keeps its own skip; benchmarks/RESULTS.md, 'A network that starts at the "
        "best baseline').",
    )
    head: str = param(
        "auto",
        "When fine-tuning, where the run starts: 'keep' starts at init's output; 'fresh' "
        "keeps init's learned features but starts at the best simple baseline, as "
        "smooth_skip starts a network from random weights (init's output layer zeroed, its "
        "skip bicubic + the tuned Gaussian); 'auto' keeps init's output when init alone "
        "beats the best baseline on the validation images, else starts fresh.",
        choices=("auto", "keep", "fresh"),
    )
    also_sampling: str = param(
        "",
        "Also train on LR sampled this way, every other step, so that one model serves both "
        "samplings: decimate (a point scan, one sample per pixel) or area (each pixel "
        "averages its block: binning, an integrating detector). The network's skip and "
        "output move to those samples' positions on those steps; validation stays on the "
        "crappifier's sampling. Empty: the crappifier's only.",
        choices=("", *DOWNSAMPLE_MODES),
    )
    modality: str = param("", "Imaging modality, recorded in the model file (e.g. 'scanning EM').")
    seed: int = param(
        0, "Random seed: same seed, same data order, noise and initial weights.", minimum=0
    )

    def check_together(self) -> None:
        if self.tile and self.scale and self.tile % self.scale:
            good = self.tile - self.tile % self.scale or self.scale * 16
            raise setting_error(
                self,
                "tile",
                f"a multiple of scale = {self.scale}",
                fix=f"Give --tile (tile=) {good} or 0 for the default, or a --scale (scale=) "
                f"that divides {self.tile}.",
            )
        smallest = MIN_TRAINING_TILE_LR * max(self.scale, 1)
        if self.tile and self.tile < smallest:
            raise setting_error(self, "tile", f"0 (the default) or at least {smallest}")
        if bool(self.val_lr) != bool(self.val_hr):
            empty = "val_hr" if self.val_lr else "val_lr"
            raise setting_error(
                self,
                empty,
                "the folder of the other side of the real pairs",
                fix="Give both --val-lr and --val-hr (val_lr=, val_hr=), or neither.",
            )
        if self.val_semi_synthetic and not self.val_lr:
            raise setting_error(
                self,
                "val_semi_synthetic",
                "false when there are no real pairs (val_lr)",
                fix="Give --val-lr and --val-hr (val_lr=, val_hr=), or drop --val-semi-synthetic "
                "(val_semi_synthetic=False).",
            )


#: Peak learning rates when ``learning_rate`` is 0: from random weights, and fine-tuning.
LEARNING_RATES = {"scratch": 1e-3, "fine-tune": 3e-4}


def effective_params(params: TrainParams, device: torch.device) -> TrainParams:
    """Fill the defaults that depend on the device (batch and tile size) and on ``init``."""
    gpu = device.type == "cuda"
    return dataclasses.replace(
        params,
        batch_size=params.batch_size or (16 if gpu else 8),
        tile=params.tile or (256 if gpu else 128),
        learning_rate=params.learning_rate
        or LEARNING_RATES["fine-tune" if params.init else "scratch"],
    )
