from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real microscopy images beside the project; tests using them skip when absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA.resolve()


class TrainingClock:
    """A fake clock for :func:`pssr_nb.train.run` that moves only when training works.

    Every training step advances it by ``step_s`` and every validation by ``val_s``, so
    a time budget turns into the same number of steps on an idle or a busy machine.
    Change ``step_s`` mid-run to play a machine that slows down.
    """

    def __init__(self, step_s: float = 0.5, val_s: float = 1.0):
        self.now, self.step_s, self.val_s = 0.0, step_s, val_s

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def training_clock(monkeypatch) -> TrainingClock:
    """A :class:`TrainingClock` wired into ``_Run.train_step`` and the validation's scoring."""
    from pssr_nb import train, validation

    clock = TrainingClock()
    real_step, real_evaluate = train._Run.train_step, validation.ValidationSet.evaluate

    def train_step(self, *args, **kwargs):
        clock.now += clock.step_s
        return real_step(self, *args, **kwargs)

    def evaluate(self, *args, **kwargs):
        clock.now += clock.val_s
        return real_evaluate(self, *args, **kwargs)

    monkeypatch.setattr(train._Run, "train_step", train_step)
    monkeypatch.setattr(validation.ValidationSet, "evaluate", evaluate)
    return clock
