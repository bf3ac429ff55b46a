"""Train, and ``kill -9`` this very process at a chosen step and phase (for the resume tests).

Run as a script::

    python kill_training.py PHASE STEP HR OUT PARAMS_JSON [--resume]

trains with ``TrainParams(**json.loads(PARAMS_JSON))`` on the images in ``HR`` into
``OUT`` and sends itself SIGKILL at the moment named by ``PHASE`` of step ``STEP``
(see :data:`KILL_POINTS`); ``PHASE`` ``none`` trains to the end. The kill comes from
the training code's own progress, never from a timer, so the same arguments stop the
run at the same point however busy the machine is.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

#: Where a run can be killed, as (phase, what is on disk at that moment).
KILL_POINTS = {
    "after_step": "the optimizer has taken step N; nothing of step N is logged or saved",
    "after_log": "log.csv has the row of step N; the checkpoint still holds step N - 1",
    "in_checkpoint": "the checkpoint of step N is written to its temporary file, not renamed",
    "in_validation": "the validation row of step N is logged; previews and best model are not",
    "after_checkpoint": "the checkpoint of step N is complete",
}


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(phase: str, step: int) -> None:
    """Patch pssr_nb's training so that it kills this process at ``phase`` of ``step``."""
    import torch

    from pssr_nb import files, train, validation

    if phase == "after_step":
        real_step = train._Run.train_step

        def train_step(self, net, optimizer, hr, index):
            loss = real_step(self, net, optimizer, hr, index)
            if index + 1 == step:
                _die()
            return loss

        train._Run.train_step = train_step
    elif phase == "after_log":
        real_log = train._Run.log

        def log(self, row):
            real_log(self, row)
            if row["kind"] == "train" and row["step"] == step:
                _die()

        train._Run.log = log
    elif phase == "in_checkpoint":
        real_save = train.atomic_save

        def atomic_save(obj, path):
            if Path(path).name == train.CHECKPOINT and obj["step"] == step:
                with files.atomic_path(path) as tmp:
                    torch.save(obj, tmp)
                    _die()
            return real_save(obj, path)

        train.atomic_save = atomic_save
    elif phase == "in_validation":
        real_add = validation.Previews.add

        def add(self, at, prediction):
            if at == step:
                _die()
            real_add(self, at, prediction)

        validation.Previews.add = add
    elif phase == "after_checkpoint":
        real_checkpoint = train._Run.checkpoint

        def checkpoint(self):
            real_checkpoint(self)
            if self.step == step:
                _die()

        train._Run.checkpoint = checkpoint
    elif phase != "none":
        raise SystemExit(f"unknown phase {phase!r}; choose from {', '.join(KILL_POINTS)}")


def main(argv: list[str]) -> None:
    phase, step, hr, out, params_json, *rest = argv
    arm(phase, int(step))
    from pssr_nb.train import TrainParams, run

    run(TrainParams(**json.loads(params_json)), hr, out, resume="--resume" in rest, progress=False)


if __name__ == "__main__":
    main(sys.argv[1:])
