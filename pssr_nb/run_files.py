"""The files of a training run's folder: the checkpoint, the log, and whether a run can resume.

- ``checkpoint.pt``: everything needed to resume (weights, optimizer,
  scheduler, step, history), written atomically at a time interval;
- ``model_best.pt`` / ``model_last.pt``: :class:`~pssr_nb.model_file.TrainedModel`
  files for inference (best validation score / end of the run);
- ``log.csv``: one row per logged step and per validation (:func:`append_log`); a
  fine-tuned run's first row, of kind ``init``, scores its starting model alone;
- ``train.json``: the run's settings, data, timings and final scores (``start``: the
  starting model alone, and in ``head`` whether the run kept its output);
- ``validation_previews.npz``: predictions for a few held-out regions at every
  validation, for the notebook's viewer.

A run resumes only with the settings (but those of :data:`RESUMABLE_CHANGES`) and the
images it was started with; :func:`check_resumable` says which differ.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .data import Source
from .errors import InputError, ResumeMismatchError
from .pair_validation import COLUMNS as PAIR_COLUMNS
from .params import to_dict
from .train_settings import TrainParams
from .validation import COLUMNS as VALIDATION_COLUMNS
from .validation import PREVIEWS

__all__ = [
    "CHECKPOINT",
    "CHECKPOINT_FORMAT",
    "LOG_COLUMNS",
    "RESUMABLE_CHANGES",
    "RUN_FILES",
    "append_log",
    "check_resumable",
    "data_fingerprint",
    "is_interrupted",
    "rewrite_log",
]


CHECKPOINT = "checkpoint.pt"
#: The files a run writes into its folder.
RUN_FILES = (CHECKPOINT, "model_best.pt", "model_last.pt", "log.csv", "train.json", PREVIEWS)
CHECKPOINT_FORMAT = "pssr_nb.checkpoint"
LOG_COLUMNS = (
    "step",
    "seconds",
    "kind",
    "loss",
    "learning_rate",
    *VALIDATION_COLUMNS,
    *PAIR_COLUMNS,
)
#: Settings that may change when a run is resumed (they do not change the result).
RESUMABLE_CHANGES = ("device", "workers", "checkpoint_minutes", "amp")


def data_fingerprint(sources: Sequence[Source]) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "shape": list(s.shape),
            "low": s.normalization.low,
            "high": s.normalization.high,
        }
        for s in sources
    ]


def append_log(path: Path, row: dict[str, Any]) -> None:
    """Add one row to ``log.csv``, with the header when the file is new."""
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, LOG_COLUMNS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def rewrite_log(path: Path, history: list[dict[str, Any]]) -> None:
    """Make ``log.csv`` agree with the checkpoint (rows after it were not kept)."""
    tmp = path.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, LOG_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(history)
    tmp.replace(path)


def check_resumable(state: Any, params: TrainParams, sources: Sequence[Source], path: Path) -> None:
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise InputError("This is not a pssr_nb training checkpoint.", path=path)
    # a setting newer than the checkpoint reads as its default, the value the run had
    saved = {**to_dict(TrainParams()), **state["params"]}
    now = to_dict(params)
    changed = [k for k in now if k not in RESUMABLE_CHANGES and saved.get(k) != now[k]]
    if changed:
        diffs = ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in changed)
        raise ResumeMismatchError(
            f"The settings differ from the interrupted run ({diffs}).",
            path=path,
            fix="Resume with the same settings, or start a new run in another folder.",
        )
    if state["data"] != data_fingerprint(sources):
        raise ResumeMismatchError(
            "The training images differ from those of the interrupted run.",
            path=path,
            fix="Resume with the same images, or start a new run in another folder.",
        )


def is_interrupted(run_dir: str | Path) -> bool:
    """True when ``run_dir`` holds a checkpoint of a run that did not finish."""
    run_dir = Path(run_dir)
    if not (run_dir / CHECKPOINT).exists():
        return False
    summary = run_dir / "train.json"
    return not summary.exists() or json.loads(summary.read_text()).get("stopped") != "finished"
