"""Training: crappify HR tiles on the device, fit a ResUNet, survive interruptions.

A run is a number of optimisation steps. When the user gives a time budget
instead, the step count is planned at the start from a short timing of real
steps and re-planned as the run goes from the measured pace, so the run ends
on time even when the machine slows down or speeds up, and the learning-rate
schedule (AdamW, warm-up then cosine) always runs to its end. Every step is a pure
function of ``(seed, step)``: its tiles come from :class:`~pssr_nb.data.HRDataset` by
index and its noise from a generator seeded with the step, so a run resumed from a
checkpoint continues exactly where the interrupted one stopped.

The files a run writes into its output folder (checkpoint, best and last model, log,
settings and validation previews) are described in :mod:`pssr_nb.run_files`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from copy import deepcopy
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import __version__
from .blend import blend, tune_blend
from .crappify import Crappifier
from .data import HRDataset, Source, check_tile, fixed_regions, load_sources, split
from .devices import autocast_for, resolve_device
from .errors import InputError, OutOfMemory, ResumeMismatchError, TrainingDiverged
from .files import next_run_folder, output_folder, remove_leftover_temporaries, run_folders
from .losses import make_loss
from .model_choice import open_model
from .model_file import TrainedModel, atomic_save, read_safely
from .models import ModelConfig, ResUNet, config_for, count_parameters
from .pair_validation import PairValidation
from .params import to_dict
from .predict import PredictParams
from .run_files import (
    CHECKPOINT,
    CHECKPOINT_FORMAT,
    LOG_COLUMNS,
    RESUMABLE_CHANGES,
    RUN_FILES,
    append_log,
    check_resumable,
    data_fingerprint,
    is_interrupted,
    rewrite_log,
)
from .sampling import DEFAULT_SCALE
from .train_settings import LEARNING_RATES, TrainInputs, TrainParams, effective_params
from .units import INPUT_SMOOTHING, source_units, to_units
from .validation import CONTEXT, PREVIEWS, Previews, ValidationSet

__all__ = [
    "CHECKPOINT",
    "CHECKPOINT_FORMAT",
    "LEARNING_RATES",
    "LOG_COLUMNS",
    "MAX_SKIPPED_STEPS",
    "MIN_STEPS",
    "RESUMABLE_CHANGES",
    "RUN_FILES",
    "Clock",
    "StopTraining",
    "effective_params",
    "is_interrupted",
    "network_config",
    "resolve_crappifier",
    "preview_pair",
    "run",
    "score_rows",
    "start_or_resume",
    "TrainInputs",
    "TrainParams",
    "TrainResult",
    "ValidationHook",
    "warmup_cosine",
]


class StopTraining(Exception):
    """Raise from :func:`run`'s ``callback`` to stop a run as a keyboard interrupt does:
    the checkpoint is written and the run can be resumed (a stop button)."""


#: The fewest steps a time budget plans, however small the budget.
MIN_STEPS = 10


@dataclasses.dataclass
class TrainResult:
    """What a finished (or interrupted) run produced."""

    out_dir: Path
    model: TrainedModel
    history: list[dict[str, Any]]
    summary: dict[str, Any]


#: ``on_validate(model, row) -> dict``: see :func:`run`.
ValidationHook = Callable[[TrainedModel, dict[str, Any]], "dict[str, Any] | None"]
#: A clock in seconds (``time.perf_counter``); tests inject a fake one.
Clock = Callable[[], float]


def network_config(
    params: TrainParams, crappifier: Crappifier, state: dict[str, Any] | None = None
) -> tuple[ModelConfig, dict[str, torch.Tensor] | None]:
    """The network a run trains, and its initial weights when it fine-tunes (``init``).

    A resumed run rebuilds the network its checkpoint recorded. A fine-tuned network
    is the ``init`` model's, serving the sampling offset of this run's crappifier
    (:meth:`ModelConfig.at_offset`: the skip moves there and the network's output with
    it), and its own skip width; a model whose weights fit any scale
    (:attr:`ModelConfig.fits_any_scale`) may be of another scale. A network from random
    weights has the plain bicubic skip; with ``params.smooth_skip`` the run widens it to
    the tuned Gaussian's (see :class:`_Run`), and so may a fine-tuned one
    (``params.head``).
    """
    if state is not None and "config" in state:
        return ModelConfig.from_dict(state["config"]), None
    if not params.init:
        return config_for(params.preset, params.scale, params.frames, crappifier.offset), None
    model = open_model(params.init)
    c = model.config
    if c.frames != params.frames or (c.scale != params.scale and not c.fits_any_scale):
        raise InputError(
            f"The model to fine-tune is {c.scale}x with {c.frames} input frame(s), but this "
            f"run is {params.scale}x with {params.frames}.",
            path=params.init,
            fix="Fine-tune a model with the same frames and scale (a model with the resize "
            "head fits any scale), or train from scratch (init empty).",
        )
    config = dataclasses.replace(c.at_offset(crappifier.offset), scale=params.scale)
    return config, model.network.state_dict()


def resolve_crappifier(crappifier: Crappifier | str | Path | None, scale: int = 0) -> Crappifier:
    """The crappifier a run trains with; it sets the sampling geometry (scale and offset).

    Parameters
    ----------
    crappifier : Crappifier, path to crappifier.json, or None
        None: :meth:`Crappifier.default` at ``scale`` (or the default scale).
    scale : int
        The run's ``scale`` setting: 0 takes the crappifier's; any other value must be it.
    """
    if not isinstance(crappifier, Crappifier):
        crappifier = (
            Crappifier.load(crappifier)
            if crappifier
            else Crappifier.default(scale or DEFAULT_SCALE)
        )
    if scale and crappifier.scale != scale:
        raise InputError(
            f"The crappifier downsamples by {crappifier.scale} but scale is {scale}.",
            fix="Leave scale at 0 to take the crappifier's factor, or calibrate a "
            "crappifier for this scale.",
        )
    return crappifier


def _step_generator(seed: int, step: int, device: torch.device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + step)


def warmup_cosine(step: int, total: int, warmup: float = 0.1) -> float:
    """Learning-rate factor at ``step`` of ``total``: linear warm-up from 4 %, then cosine to 0.

    Examples
    --------
    >>> [round(warmup_cosine(s, 10), 2) for s in (0, 1, 5, 9)]
    [0.04, 1.0, 0.59, 0.03]
    """
    n_warm = max(1, round(warmup * total))
    if step < n_warm:
        return 0.04 + 0.96 * step / n_warm
    progress = (step - n_warm) / max(1, total - n_warm)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


class _Run:
    """The state of one training run; :func:`run` drives it."""

    def __init__(
        self,
        params: TrainParams,
        sources: Sequence[Source],
        crappifier: Crappifier,
        out: Path,
        device: torch.device,
        total_steps: int,
        units: torch.Tensor,
        network: tuple[ModelConfig, dict[str, torch.Tensor] | None],
        clock: Clock = time.perf_counter,
        start_at_baseline: bool = False,
    ):
        self.params, self.sources, self.crappifier = params, list(sources), crappifier
        #: The crappifier of every other step (``params.also_sampling``), or None.
        self.other_sampling = (
            crappifier.at_scale(crappifier.scale, params.also_sampling)
            if params.also_sampling
            else None
        )
        self.out, self.device, self.clock = out, device, clock
        self.units = units  # (low, span) of each source's input units (pssr_nb.units)
        p = params
        self.autocast, fp16 = autocast_for(device, p.amp)
        self.scaler = torch.amp.GradScaler(device.type, enabled=fp16)
        the_split = split(sources, p.val_fraction, p.split_by, p.tile, p.seed)
        self.dataset = HRDataset(
            sources,
            p.tile,
            p.scale,
            p.frames,
            the_split if p.val_fraction > 0 else None,
            True,
            length=1,  # items are drawn by index (step * batch + i); the length is not used
            seed=p.seed,
        )
        held_out = the_split if p.val_fraction > 0 else None
        regions = fixed_regions(
            sources,
            p.tile,
            p.frames,
            held_out,
            subset=held_out is None,
            n=p.val_tiles,
            margin=CONTEXT * p.scale,
            multiple=p.scale,
            seed=p.seed,
        )
        tuning = fixed_regions(  # training blocks, for the Gaussian of the denoising baseline
            sources, p.tile, p.frames, held_out, True, n=min(p.val_tiles, 8), seed=p.seed + 1
        )
        self.validation = ValidationSet(
            sources, regions, crappifier, tuning, p.seed, self.percentiles, INPUT_SMOOTHING
        )
        config, initial_weights = network
        torch.manual_seed(p.seed)
        net = ResUNet(config)
        if initial_weights is not None:
            net.load_state_dict(initial_weights)
        # channels-last is faster for convolutions on GPUs and on CPUs (oneDNN) alike
        self.net = net.to(device, memory_format=torch.channels_last)
        if start_at_baseline:
            self.start_at_baseline()
        self.loss_fn = make_loss(p.loss)
        self.optimizer = torch.optim.AdamW(
            self.net.parameters(),
            lr=p.learning_rate,
            weight_decay=p.weight_decay,
            fused=device.type in ("cpu", "cuda"),
        )
        self.previews = Previews(self.validation)
        self.step = 0
        self.total_steps = total_steps
        self.scheduler: torch.optim.lr_scheduler.LambdaLR | None = None
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {}
        self.elapsed = 0.0  # training seconds over all sessions of this run
        self.on_validate: ValidationHook | None = None
        self.validation_seconds = 0.0  # how long the last validation took, hooks included
        self.time_limit = float("inf")  # set by plan()
        self.budget_s = 0.0  # the time budget (0 for a fixed step count), set by plan()
        self.untrained_scores: dict[str, Any] = {}  # validation before any step, by plan()

    def start_at_baseline(self) -> None:
        """Make the network's output the best simple baseline: its skip widened to the
        validation's tuned Gaussian and its output layer zeroed. The other layers, a
        fine-tuned network's learned features, are kept."""
        tuned = self.validation.tuned
        if tuned and tuned.gaussian_sigma:
            self.net.set_skip_sigma(tuned.gaussian_sigma)
        if self.net.config.residual:
            self.net.start_at_skip()

    def judge_init(self, head: str) -> dict[str, Any]:
        """Score the fine-tuned run's starting model alone and choose where the run starts.

        ``head`` is :attr:`TrainParams.head`. With ``"auto"`` the run keeps init's
        output when init alone beats the best baseline on the validation images (the
        real pairs when given, as they choose ``model_best.pt``), else it starts at the
        baseline. Returns the score, logged as a row of kind ``"init"``.
        """
        start = self.clock()
        row = dict(self.untrained_scores) or self.validate(record=False)  # plan()'s, if any
        if self.on_validate is not None:
            row.update(self.on_validate(self.trained_model(), dict(row)) or {})
        row.update(self.blended_init_scores())
        key = "pairs_gain_db" if "pairs_gain_db" in row else "gain_db"
        fresh = head == "fresh" or (head == "auto" and row[key] < 0)
        if fresh:
            self.start_at_baseline()
        row = {**row, "kind": "init", "head": "fresh" if fresh else "kept"}
        self.log(row)
        self.elapsed += self.clock() - start
        return row

    def blended_init_scores(self) -> dict[str, float]:
        """The starting model alone once blended with the best baseline on the training
        blocks (:mod:`pssr_nb.blend`), scored on the validation blocks: what the user
        would get from it without training. Empty for a model without a skip."""
        model = self.trained_model()
        if not model.config.residual or not self.validation.tuning_pairs:
            return {}
        settings = PredictParams(tta=False, device=str(self.device), amp=self.params.amp)
        tuned = tune_blend(model, self.validation.tuning_pairs, settings)
        blended = blend(model, tuned.gain, tuned.skip_sigma)
        scores, _ = self.validation.evaluate(blended, settings)
        return {
            "blend_share": tuned.gain,
            "blend_psnr": scores["val_psnr"],
            "blend_ssim": scores["val_ssim"],
            "blend_gain_db": scores["gain_db"],
        }

    # -- one step ----------------------------------------------------------

    def batch(self, step: int) -> torch.Tensor:
        """The HR tiles of one step, on the device."""
        bs = self.params.batch_size
        return torch.stack([self.dataset[step * bs + i] for i in range(bs)]).to(self.device)

    def batches(self, start: int) -> Iterator[torch.Tensor]:
        """The batches of steps ``start ..`` to the end, loaded by worker processes if asked.

        The end is read as the batches are drawn, so a re-planned step count holds.
        """
        p = self.params
        if p.workers <= 0:
            step = start
            while step < self.total_steps:
                yield self.batch(step)
                step += 1
            return
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=p.batch_size,
            sampler=_Indices(self, start),
            num_workers=p.workers,
            pin_memory=self.device.type == "cuda",
        )
        for tiles in loader:
            yield tiles.to(self.device, non_blocking=True)

    def train_step(
        self, net: torch.nn.Module, optimizer: torch.optim.Optimizer, hr: torch.Tensor, step: int
    ) -> float:
        f, bs = self.params.frames, self.params.batch_size
        sources = [self.dataset.source_of(step * bs + i) for i in range(hr.shape[0])]
        units = self.units[sources].to(self.device)
        crappifier, own = self.crappifier, net.config
        if self.other_sampling is not None and step % 2:
            crappifier = self.other_sampling
            net.config = own.at_offset(crappifier.offset)  # skip and output at its samples
        try:
            with torch.no_grad():
                lr = crappifier(hr, _step_generator(self.params.seed, step, self.device))
                lr = to_units(lr, units).contiguous(memory_format=torch.channels_last)
                target = to_units(hr[:, f // 2 : f // 2 + 1], units)
            with self.autocast:
                pred = net(lr)
            loss = self.loss_fn(pred.float(), target)
            optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(optimizer)
            self.scaler.update()
        finally:
            net.config = own
        return float(loss.detach())

    # -- planning ----------------------------------------------------------

    def plan(self, budget_s: float, n_validations: int) -> None:
        """Fix the step count: from the params, or from timed steps on a throwaway copy.

        A time budget also sets :attr:`time_limit`, the training seconds after which a
        session stops early (a machine that became much slower than when it was timed).
        """
        planning = self.clock()
        self.time_limit = 1.5 * budget_s if self.params.steps <= 0 else float("inf")
        self.budget_s = budget_s if self.params.steps <= 0 else 0.0
        if self.total_steps <= 0 or self.device.type == "cuda":  # on a GPU: also a memory probe
            net = deepcopy(self.net)
            opt = torch.optim.AdamW(net.parameters(), lr=0.0)
            times = []
            for i in range(3):
                start = self.clock()
                self.train_step(net, opt, self.batch(i), i)
                if self.device.type == "cuda":
                    torch.cuda.synchronize(self.device)
                times.append(self.clock() - start)
            del net, opt
            self.untrained_scores = self.validate(record=False)
            val_s = self.validation_seconds
            step_s = float(np.median(times[1:]))
            # the budget holds this timing, the validation at step 0 and n_validations more
            usable = budget_s - (n_validations + 2) * val_s - 3 * step_s
            if self.total_steps <= 0:
                self.total_steps = max(MIN_STEPS, round(usable / step_s))
                planned = self.total_steps * step_s + (n_validations + 2) * val_s
                self.time_limit = 1.5 * max(budget_s, planned)  # the step floor may need more
        # the schedule reads the step count as it is now: a re-planned run still ends at 0
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: warmup_cosine(step, self.total_steps)
        )
        self.elapsed += self.clock() - planning  # a resumed run's restore() replaces it

    def replan(self, window: tuple[int, float, int]) -> None:
        """Re-fit the step count into the time budget from the pace since ``window``.

        ``window`` is ``(step, elapsed, validations done)`` at an earlier point of this
        session; the seconds per step are measured over the steps since then (without
        the validations in between), and the steps left are what the budget still holds
        after the validations still to come. A fixed step count is never changed.
        """
        if self.budget_s <= 0 or self.step <= window[0]:
            return
        step0, elapsed0, validations0 = window
        validating = (self.validations_done() - validations0) * self.validation_seconds
        step_s = max(self.elapsed - elapsed0 - validating, 1e-9) / (self.step - step0)
        validations_left = max(1, self.params.validations) - self.validations_done()
        left_s = self.budget_s - self.elapsed - validations_left * self.validation_seconds
        self.total_steps = max(MIN_STEPS, self.step + max(1, round(left_s / step_s)))

    def validations_done(self) -> int:
        """Validations after step 0 so far (the run's history, so it survives a resume)."""
        return sum(1 for r in self.history if r["kind"] == "val" and r["step"] > 0)

    def validation_due(self) -> bool:
        """Validations are evenly spaced over the run, the last at its final step."""
        n_val = max(1, self.params.validations)
        done = self.validations_done()
        due = math.ceil((done + 1) * self.total_steps / n_val - 1e-9)
        return self.step >= self.total_steps or (done < n_val - 1 and self.step >= due)

    # -- validation --------------------------------------------------------

    def validate(self, record: bool = True) -> dict[str, Any]:
        start = self.clock()
        settings = PredictParams(tta=False, device=str(self.device), amp=self.params.amp)
        scores, prediction = self.validation.evaluate(self.trained_model(copy=False), settings)
        self.net.train()
        row = {
            "step": self.step,
            "seconds": round(self.elapsed, 2),
            "kind": "val",
            **scores,
            **self.validation.baseline,
        }
        if record:
            model = self.trained_model()  # one copy of the network for the hook and the file
            if self.on_validate is not None:
                row.update(self.on_validate(model, dict(row)) or {})
            self.log(row)
            self.previews.add(self.step, prediction)
            self.previews.save(self.out / PREVIEWS)
            key = "pairs_gain_db" if "pairs_gain_db" in row else "gain_db"
            if not self.best or row[key] > self.best[key]:
                self.best = dict(row)
                model.history = list(self.history)
                model.save(self.out / "model_best.pt")
        self.validation_seconds = self.clock() - start
        return row

    def log(self, row: dict[str, Any]) -> None:
        self.history.append(row)
        append_log(self.out / "log.csv", row)

    @property
    def percentiles(self) -> tuple[float, float]:
        """The percentiles that set the input units of prediction (and of the validation)."""
        norm = self.sources[0].normalization
        return (norm.p_low, norm.p_high)

    # -- files -------------------------------------------------------------

    def trained_model(self, copy: bool = True) -> TrainedModel:
        """The model as it is now: a copy on the CPU, or (``copy=False``) the training network."""
        net = (
            deepcopy(self.net).to("cpu", memory_format=torch.contiguous_format).eval()
            if copy
            else self.net
        )
        px = next((s.image.pixel_size_xy for s in self.sources if s.image.pixel_size_xy), None)
        return TrainedModel(
            network=net,
            percentiles=self.percentiles,
            input_smoothing=INPUT_SMOOTHING,
            training_units=tuple(float(v) for v in self.units.mean(0)),
            crappifier=self.crappifier.to_dict(),
            pixel_size_nm=px * self.params.scale if px else None,
            modality=self.params.modality,
            history=list(self.history),
            origin=f"pssr_nb, fine-tuned from {self.params.init}"
            if self.params.init
            else "pssr_nb",
        )

    def checkpoint(self) -> None:
        atomic_save(
            {
                "format": CHECKPOINT_FORMAT,
                "pssr_nb_version": __version__,
                "params": to_dict(self.params),
                "crappifier": self.crappifier.to_dict(),
                "data": data_fingerprint(self.sources),
                "config": self.net.config.to_dict(),
                "model": self.net.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "step": self.step,
                "total_steps": self.total_steps,
                "elapsed": self.elapsed,
                "history": self.history,
                "best": self.best,
                "torch_rng": torch.get_rng_state(),
            },
            self.out / CHECKPOINT,
        )

    def restore(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step, self.elapsed = int(state["step"]), float(state["elapsed"])
        self.history, self.best = list(state["history"]), dict(state["best"])
        torch.set_rng_state(state["torch_rng"])
        rewrite_log(self.out / "log.csv", self.history)
        if (self.out / PREVIEWS).exists():
            self.previews.load(self.out / PREVIEWS)
            self.previews.keep_until(self.step)


def run(
    params: TrainParams,
    hr: str | Path | Sequence[str | Path] | Sequence[Source],
    out_dir: str | Path,
    crappifier: Crappifier | str | Path | None = None,
    resume: bool = False,
    callback: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = True,
    on_validate: ValidationHook | None = None,
    *,
    clock: Clock = time.perf_counter,
) -> TrainResult:
    """Train a model on HR images crappified on the fly.

    Parameters
    ----------
    params : TrainParams
    hr : folder, file(s) or list of Source
        High-resolution training images.
    out_dir : str or Path
        Output folder (see the module docstring for what is written).
    crappifier : Crappifier or path to crappifier.json, optional
        Sets the sampling geometry (scale and offset). Default:
        :meth:`Crappifier.default` at ``params.scale`` (see :func:`resolve_crappifier`).
    resume : bool
        Continue the run whose ``checkpoint.pt`` is in ``out_dir``.
    callback : callable, optional
        Called with every log row (``kind`` is ``"train"`` or ``"val"``), e.g. for a live plot.
    progress : bool
        Show a progress bar.
    on_validate : callable, optional
        ``on_validate(model, row)`` is called at every validation with a copy of the
        current :class:`TrainedModel` and the validation row; the dict it returns is
        added to the row. Use it to score your own held-out images during training.
        Its time counts against the time budget. ``params.val_lr``/``val_hr`` add
        :class:`~pssr_nb.pair_validation.PairValidation` (real pairs, scored as the
        benchmark scores them); the best model is then chosen by its gain over the best
        baseline on those pairs.
    clock : callable, optional
        Seconds as a float; every time decision of the run (the step count of a time
        budget, the time limit, checkpoint intervals, the ``seconds`` column) reads it.
        Tests pass a fake clock so that nothing depends on how busy the machine is.

    Returns
    -------
    TrainResult
        The last model (with its history) and a summary; ``model_best.pt`` holds the best.
    """
    out = Path(out_dir)
    device = resolve_device(params.device)
    ckpt = out / CHECKPOINT
    if ckpt.exists() and not resume:
        raise InputError(
            "This folder already holds a training run.",
            path=ckpt,
            fix="Continue it with resume=True (--resume), or choose another output folder.",
        )
    earlier = [n for n in RUN_FILES if (out / n).exists()]
    if earlier and not resume:  # no checkpoint: nothing to resume, and never replaced
        what = (
            "a finished training run"
            if "train.json" in earlier
            else "a training run that stopped before its first checkpoint, or copied models"
        )
        raise InputError(
            f"This folder holds the files of {what} ({', '.join(earlier)}); they are never "
            "replaced.",
            path=out,
            fix="Choose another output folder (notebook 03 and start_or_resume pick a new "
            "run_NNN folder), or delete those files yourself to start again here.",
        )
    if resume and not ckpt.exists():
        raise InputError(
            "There is no interrupted run to resume here.",
            path=ckpt,
            fix="Check the folder, or start a new run without resume.",
        )
    output_folder(out)
    state = read_safely(ckpt) if resume else None
    if isinstance(state, dict) and params.batch_size == 0:  # "auto": what the run settled on
        params = dataclasses.replace(params, batch_size=state["params"]["batch_size"])
    params = effective_params(params, device)
    if isinstance(hr, (list, tuple)) and hr and all(isinstance(s, Source) for s in hr):
        sources = list(hr)
    else:
        sources = load_sources(hr)
    crappifier = resolve_crappifier(crappifier, params.scale)
    params = dataclasses.replace(params, scale=crappifier.scale)  # checks the tile again
    for source in sources:  # before any statistics of the images are taken
        check_tile(source, params.tile, params.scale)
    hooks = _validation_hooks(params, on_validate)
    if state is not None:
        check_resumable(state, params, sources, ckpt)
    for name in (CHECKPOINT, "model_best.pt", "model_last.pt", PREVIEWS):
        remove_leftover_temporaries(out / name)  # from a kill -9 during a write
    total_steps = int(state["total_steps"]) if state else params.steps
    started = clock()
    units = source_units(sources, crappifier, params.seed)  # once, not per retry below
    network = network_config(params, crappifier, state)
    head = params.head if params.init and state is None else "keep"
    if head != "keep" and not network[0].residual:
        if head == "fresh":
            raise InputError(
                "head 'fresh' starts the output at the baseline through the network's skip "
                "connection, and this model has none.",
                path=params.init,
                fix="Fine-tune it with head 'keep'.",
            )
        head = "keep"
    start_at_baseline = state is None and params.smooth_skip and not params.init
    while True:
        trainer = _Run(
            params,
            sources,
            crappifier,
            out,
            device,
            total_steps,
            units,
            network,
            clock,
            start_at_baseline,
        )
        try:
            trainer.plan(params.minutes * 60, params.validations)
            break
        except torch.cuda.OutOfMemoryError:
            del trainer
            if device.type == "cuda":
                torch.cuda.empty_cache()
            if params.batch_size <= 1 or state is not None:
                raise OutOfMemory(
                    f"Out of GPU memory with batch size {params.batch_size} of "
                    f"{params.tile} px tiles.",
                    fix="Use smaller tiles (tile), a smaller preset, or free the GPU by "
                    "restarting the runtime.",
                ) from None
            params = dataclasses.replace(params, batch_size=params.batch_size // 2)
            warnings.warn(
                f"Out of GPU memory: training with batch size {params.batch_size} instead.",
                stacklevel=2,
            )
    trainer.on_validate = hooks
    if state is not None:
        trainer.restore(state)
    if isinstance(hooks, _PairHooks):
        # The pairs' baselines are tuned once per session. Timed inside the first
        # validation, they would be taken for the cost of each validation still to come,
        # and the time budget would plan a run of a few steps.
        start = trainer.clock()
        hooks.pairs.prepare(trainer.trained_model(copy=False))
        trainer.net.train()
        trainer.elapsed += trainer.clock() - start
    if state is None:
        (out / "log.csv").unlink(missing_ok=True)
        if head != "keep":
            trainer.judge_init(head)
        trainer.validate()
        trainer.elapsed += trainer.validation_seconds
        trainer.checkpoint()  # resumable from the start; a full disk shows now, not later
    stopped = _loop(trainer, callback, progress)
    model = trainer.trained_model()
    model.save(out / "model_last.pt")
    summary = {
        "pssr_nb_version": __version__,
        "params": to_dict(params),
        "device": str(device),
        "parameters": count_parameters(trainer.net),
        "steps": trainer.step,
        "total_steps": trainer.total_steps,
        "stopped": stopped,
        "training_seconds": round(trainer.elapsed, 2),
        "wall_seconds_this_session": round(clock() - started, 2),
        "images": [str(s.path or s.name) for s in sources],
        "crappifier": crappifier.to_dict(),
        "best": trainer.best,
        "last": next((r for r in reversed(trainer.history) if r["kind"] == "val"), {}),
        # before the first step: a fine-tuned run's starting model alone
        "start": _init_alone(trainer.history),
    }
    (out / "train.json").write_text(json.dumps(summary, indent=2) + "\n")
    return TrainResult(out, model, trainer.history, summary)


def _init_alone(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The scores of a fine-tuned run's starting model alone: its ``init`` row, logged when
    the run chose where to start, else the validation at step 0."""
    return next(
        (r for r in history if r["kind"] == "init" or (r["kind"] == "val" and r["step"] == 0)),
        {},
    )


class _PairHooks:
    """The real pairs' scores (``val_lr``/``val_hr``), then the user's hook if any."""

    def __init__(self, params: TrainParams, on_validate: ValidationHook | None):
        self.pairs = PairValidation(
            params.val_lr, params.val_hr, params.val_semi_synthetic, params.device
        )
        self.on_validate = on_validate

    def __call__(self, model: TrainedModel, row: dict[str, Any]) -> dict[str, Any]:
        added = self.pairs(model, row)
        if self.on_validate is not None:
            added.update(self.on_validate(model, {**row, **added}) or {})
        return added


def _validation_hooks(
    params: TrainParams, on_validate: ValidationHook | None
) -> ValidationHook | None:
    """The user's hook and, with ``val_lr``/``val_hr``, the real pairs' scores."""
    if not params.val_lr:  # TrainParams holds both or neither
        return on_validate
    return _PairHooks(params, on_validate)


def score_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The best validation scores of a run beside the best baseline's, as rows for printing.

    A fine-tuned run also shows its starting model alone (the validation before the
    first step), so the table compares the pretrained model, the fine-tuned one and the
    best baseline on the same images.
    """
    best, start = summary["best"], summary.get("start") or {}
    init = summary.get("params", {}).get("init")
    rows = []
    if "pairs_gain_db" in best:
        rows.append(
            {"": "real pairs: best baseline", "PSNR": round(best["pairs_baseline_psnr"], 2)}
        )
        if init and "pairs_psnr" in start:
            rows.append(
                {
                    "": f"real pairs: {init} alone ({start['pairs_gain_db']:+.2f} dB)",
                    "PSNR": round(start["pairs_psnr"], 2),
                }
            )
        rows.append(
            {
                "": f"real pairs: model ({best['pairs_gain_db']:+.2f} dB)",
                "PSNR": round(best["pairs_psnr"], 2),
            }
        )
    rows.append(
        {
            "": "held-out regions: best baseline",
            "PSNR": round(best["baseline_psnr"], 2),
            "SSIM": round(best["baseline_ssim"], 3),
        }
    )
    if init and "val_psnr" in start:
        rows.append(
            {
                "": f"held-out regions: {init} alone ({start['gain_db']:+.2f} dB)",
                "PSNR": round(start["val_psnr"], 2),
                "SSIM": round(start["val_ssim"], 3),
            }
        )
    if init and "blend_psnr" in start:
        rows.append(
            {
                "": f"held-out regions: {init} alone, blended ({start['blend_gain_db']:+.2f} "
                f"dB; {start['blend_share']:.0%} of its detail kept)",
                "PSNR": round(start["blend_psnr"], 2),
                "SSIM": round(start["blend_ssim"], 3),
            }
        )
    rows.append(
        {
            "": f"held-out regions: model, step {best['step']} ({best['gain_db']:+.2f} dB)",
            "PSNR": round(best["val_psnr"], 2),
            "SSIM": round(best["val_ssim"], 3),
        }
    )
    return [{"": r[""], "PSNR": r["PSNR"], "SSIM": r.get("SSIM")} for r in rows]


def preview_pair(
    hr: str | Path | Sequence[str | Path] | Sequence[Source],
    crappifier: Crappifier,
    tile: int = 128,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """One normalised HR tile and its crappified LR version: what training sees."""
    sources = (
        list(hr)
        if isinstance(hr, (list, tuple)) and hr and isinstance(hr[0], Source)
        else load_sources(hr)
    )
    size = min(tile, *sources[0].plane_shape) // crappifier.scale * crappifier.scale
    tiles = HRDataset(sources, tile=size, scale=crappifier.scale, length=1, seed=seed)
    hr_tile = tiles[0][None]
    lr_tile = crappifier(hr_tile, seed=seed)
    frames = hr_tile.shape[1]
    return hr_tile[0, frames // 2].numpy(), lr_tile[0, frames // 2].numpy()


def start_or_resume(
    params: TrainParams,
    hr: str | Path | Sequence[str | Path] | Sequence[Source],
    runs_dir: str | Path,
    crappifier: Crappifier | str | Path | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
    progress: bool = True,
    on_validate: ValidationHook | None = None,
) -> TrainResult:
    """Continue the latest interrupted run in ``runs_dir``, else start the next ``run_NNN``.

    This is what a notebook's training cell calls: after a disconnect, running the
    same cell again continues where the checkpoint left off; after a finished run it
    starts a new folder, so no trained model is ever replaced. An interrupted run
    whose settings or images have since changed is left as it is, with a message.
    The arguments are :func:`run`'s.
    """
    runs = run_folders(runs_dir)
    if runs and is_interrupted(runs[-1]):
        try:
            print(f"Continuing the interrupted run in {runs[-1]}")
            return run(params, hr, runs[-1], crappifier, True, callback, progress, on_validate)
        except ResumeMismatchError as exc:
            print(f"Not continuing {runs[-1].name}: {exc.problem}\nStarting a new run instead.")
    folder = next_run_folder(runs_dir)
    return run(params, hr, folder, crappifier, False, callback, progress, on_validate)


def _loop(trainer: _Run, callback: Callable[[dict[str, Any]], None] | None, progress: bool) -> str:
    """Train to the planned step count (re-planned under a time budget); returns why it stopped."""
    from tqdm.auto import tqdm

    p, clock = trainer.params, trainer.clock
    # The time limit holds for this session only: a resumed run gets the same allowance
    # again, so a run stopped by the limit can always be continued to its end.
    session_start = trainer.elapsed
    window = (trainer.step, trainer.elapsed, trainer.validations_done())
    last_ckpt = clock()
    losses: list[float] = []
    postfix: dict[str, str] = {}
    bar = tqdm(
        total=trainer.total_steps, initial=trainer.step, disable=not progress, desc="training"
    )
    stopped = "finished"
    try:
        t0 = clock()
        not_finite = 0  # steps in a row; mixed precision skips a few while it finds its scale
        for hr in _until_the_end(trainer):
            losses.append(trainer.train_step(trainer.net, trainer.optimizer, hr, trainer.step))
            not_finite = 0 if math.isfinite(losses[-1]) else not_finite + 1
            if not_finite > (MAX_SKIPPED_STEPS if trainer.scaler.is_enabled() else 0):
                _diverged(trainer)
            trainer.scheduler.step()
            trainer.step += 1
            bar.update(1)
            rows = []
            total = trainer.total_steps
            if trainer.step % max(1, total // 500) == 0 or trainer.step == total:
                postfix["loss"] = f"{np.mean(losses):.4f}"
                rows.append(
                    {
                        "step": trainer.step,
                        "seconds": round(trainer.elapsed + clock() - t0, 2),
                        "kind": "train",
                        "loss": float(np.mean(losses)),
                        "learning_rate": trainer.scheduler.get_last_lr()[0],
                    }
                )
                losses = []
                trainer.log(rows[-1])
            if trainer.validation_due():
                trainer.elapsed += clock() - t0
                t0 = clock()
                rows.append(trainer.validate())
                postfix["gain_db"] = f"{rows[-1]['gain_db']:+.2f}"
            bar.set_postfix(postfix, refresh=False)
            for row in rows:
                if callback:
                    callback(row)
            trainer.elapsed += clock() - t0
            t0 = clock()
            if trainer.step < total and trainer.step % max(1, total // 50) == 0:
                trainer.replan(window)
                window = (trainer.step, trainer.elapsed, trainer.validations_done())
                bar.total = trainer.total_steps
            finished = trainer.step >= trainer.total_steps
            if clock() - last_ckpt >= p.checkpoint_minutes * 60 or finished:
                trainer.checkpoint()
                last_ckpt = t0 = clock()
            if finished:
                break
            if trainer.elapsed - session_start > trainer.time_limit:
                stopped = "time limit"
                trainer.checkpoint()
                break
    except (KeyboardInterrupt, StopTraining):
        stopped = "interrupted"
        trainer.checkpoint()
    except torch.cuda.OutOfMemoryError:
        trainer.checkpoint()
        raise OutOfMemory(
            f"Out of GPU memory at step {trainer.step}; the run is saved in its checkpoint.",
            path=trainer.out / CHECKPOINT,
            fix="Run the training cell again to continue (memory is often free again), or "
            "start a new run with a smaller batch_size or tile.",
        ) from None
    finally:
        bar.close()
    return stopped


#: Non-finite losses in a row that mixed precision (fp16) may skip before a run has diverged.
MAX_SKIPPED_STEPS = 20


def _diverged(trainer: _Run) -> None:
    """Stop a run whose loss is NaN or infinite; its last checkpoint (before it) is kept."""
    lr = trainer.scheduler.get_last_lr()[0] if trainer.scheduler else trainer.params.learning_rate
    saved = trainer.out / CHECKPOINT
    raise TrainingDiverged(
        f"The training loss became NaN or infinite at step {trainer.step + 1} (learning rate "
        f"{lr:.2g}): the run diverged. Nothing after its last checkpoint was saved.",
        path=saved if saved.exists() else trainer.out,
        fix="Start a new run with a lower learning_rate (e.g. a tenth), and check the "
        "training images for NaN pixels.",
    )


def _until_the_end(trainer: _Run) -> Iterator[torch.Tensor]:
    """Batches until the step count as it is at the end (worker loaders may stop early)."""
    while trainer.step < trainer.total_steps:
        yield from trainer.batches(trainer.step)


class _Indices(torch.utils.data.Sampler):
    """Dataset indices of steps ``start ..`` up to the run's step count as it is when drawn."""

    def __init__(self, trainer: _Run, start: int):
        self.trainer, self.start = trainer, start

    def __iter__(self) -> Iterator[int]:
        i = self.start * self.trainer.params.batch_size
        while i < self.trainer.total_steps * self.trainer.params.batch_size:
            yield i
            i += 1
