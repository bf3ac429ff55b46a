"""Writing: nothing the user owns is replaced, and a folder or disk that cannot take the
output is named before any work, with the fix (the reliability issue's data-loss items)."""

import errno
import tempfile as stdlib_tempfile

import numpy as np
import pytest
import torch

from pssr_nb import files
from pssr_nb import model_file as model_file_module
from pssr_nb import train as train_module
from pssr_nb.calibrate import CalibrateParams
from pssr_nb.calibrate import run as calibrate
from pssr_nb.cli import INTERRUPTED, main
from pssr_nb.errors import InputError, WriteFailed
from pssr_nb.io import write_tiff
from pssr_nb.model_file import TrainedModel
from pssr_nb.models import ResUNet, config_for
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.predict import PredictParams
from pssr_nb.predict import run as predict
from pssr_nb.train import CHECKPOINT, TrainParams
from pssr_nb.train import run as train

TINY = dict(steps=6, tile=32, batch_size=2, val_tiles=2, validations=2, seed=5)


@pytest.fixture(scope="module")
def phantoms(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    simulate(SimulateParams("em", size=96, scale=4, n_images=2), out)
    return out


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "model.pt"
    TrainedModel(network=ResUNet(config_for("small", 4, 1)).eval()).save(path)
    return path


def _tree(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# -- a calibration, a prediction record ----------------------------------------


def test_calibrate_never_replaces_a_calibration_without_overwrite(phantoms, tmp_path, capsys):
    out = tmp_path / "cal"
    args = ["calibrate", "--lr", str(phantoms / "lr"), "--out", str(out)]
    assert main(args) == 0
    before = _tree(out)
    assert main([*args, "--scale", "4"]) == 2
    err = capsys.readouterr().err
    assert "already holds a calibration" in err and "--overwrite" in err
    assert _tree(out) == before
    assert main([*args, "--overwrite", "--dose-range", "3"]) == 0
    assert _tree(out) != before


def test_a_constant_lr_image_is_named_instead_of_giving_a_noise_free_crappifier(tmp_path):
    lr = tmp_path / "lr"
    write_tiff(lr / "blank.tif", np.full((48, 48), 100, np.uint16), "YX")
    with pytest.raises(InputError, match="constant") as info:
        calibrate(CalibrateParams(), lr, tmp_path / "cal")
    assert info.value.path.name == "blank.tif"
    assert not (tmp_path / "cal" / "crappifier.json").exists()


def test_a_second_prediction_into_a_folder_keeps_the_first_record(phantoms, model_path, tmp_path):
    out = tmp_path / "sr"
    first = sorted((phantoms / "lr").iterdir())
    predict(PredictParams(), model_path, first[0], out)
    record = (out / "predict.json").read_bytes()
    with pytest.raises(InputError, match="earlier prediction"):
        predict(PredictParams(), model_path, first[1], out)
    assert (out / "predict.json").read_bytes() == record
    predict(PredictParams(overwrite=True), model_path, first[1], out)
    assert (out / "predict.json").read_bytes() != record


# -- folders that cannot take the output ------------------------------------


def _commands(phantoms, model_path):
    """Each command that writes, as ``f(out)``."""
    return {
        "predict": lambda out: predict(PredictParams(), model_path, phantoms / "lr", out),
        "train": lambda out: train(TrainParams(**TINY), phantoms / "hr", out, progress=False),
        "calibrate": lambda out: calibrate(CalibrateParams(), phantoms / "lr", out),
        "simulate": lambda out: simulate(SimulateParams(n_images=1, size=64), out),
    }


@pytest.mark.parametrize("command", ["predict", "train", "calibrate", "simulate"])
def test_an_output_folder_that_is_a_file_or_inside_one_is_named(
    command, phantoms, model_path, tmp_path
):
    run = _commands(phantoms, model_path)[command]
    (tmp_path / "a_file").write_text("mine")
    with pytest.raises(InputError, match="The output folder is a file"):
        run(tmp_path / "a_file")
    with pytest.raises(InputError, match="inside a file"):
        run(tmp_path / "a_file" / "out")
    assert (tmp_path / "a_file").read_text() == "mine"


@pytest.mark.parametrize("command", ["predict", "train", "calibrate", "simulate"])
@pytest.mark.parametrize(
    ("code", "fix"),
    [(errno.EACCES, "you may write to"), (errno.EROFS, "read-only"), (errno.ENOSPC, "disk space")],
)
def test_a_folder_that_cannot_be_written_is_named_before_any_work(
    command, code, fix, phantoms, model_path, tmp_path, monkeypatch
):
    # root may write anywhere, so the refusal of the system is simulated
    def refuse(*args, **kwargs):
        raise OSError(code, "refused by the system (simulated)")

    monkeypatch.setattr(files.tempfile, "mkstemp", refuse)
    with pytest.raises(InputError, match="Cannot write into the output folder") as info:
        _commands(phantoms, model_path)[command](tmp_path / "out")
    assert fix in info.value.fix and info.value.path == tmp_path / "out"
    assert not [p for p in (tmp_path / "out").rglob("*")]  # no work was done
    monkeypatch.setattr(files.tempfile, "mkstemp", stdlib_tempfile.mkstemp)


def test_the_cli_names_an_unwritable_output_and_exits_2(phantoms, tmp_path, capsys):
    (tmp_path / "a_file").write_text("mine")
    args = ["train", "--hr", str(phantoms / "hr"), "--out", str(tmp_path / "a_file")]
    assert main([*args, "--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "The output folder is a file" in err and "Traceback" not in err


def test_a_cache_folder_that_is_a_file_is_named(tmp_path, monkeypatch):
    from pssr_nb.manifest import CACHE_ENV, cache_dir

    (tmp_path / "cache").write_text("")
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    with pytest.raises(InputError, match="names a file, not a folder"):
        cache_dir()


# -- a full disk during training -------------------------------------------------


def _disk_fills_after(monkeypatch, saves: int) -> None:
    real, done = model_file_module.torch.save, []

    def save(obj, fh):
        if len(done) >= saves:
            fh.write(b"part of a checkpoint")
            raise OSError(errno.ENOSPC, "No space left on device")
        done.append(1)
        real(obj, fh)

    monkeypatch.setattr(model_file_module.torch, "save", save)


def test_a_full_disk_at_the_start_of_training_stops_before_any_step(
    phantoms, tmp_path, monkeypatch
):
    _disk_fills_after(monkeypatch, 1)  # model_best.pt of step 0 fits; the checkpoint does not
    with pytest.raises(WriteFailed, match="No space left") as info:
        train(TrainParams(**TINY), phantoms / "hr", tmp_path / "run", progress=False)
    assert info.value.path.name == CHECKPOINT and "Free some disk space" in info.value.fix
    assert "train" not in (tmp_path / "run" / "log.csv").read_text()  # no step was trained
    assert not list((tmp_path / "run").glob(".*.tmp"))


def test_a_full_disk_during_training_keeps_the_last_checkpoint_and_resumes(
    phantoms, tmp_path, monkeypatch
):
    params = TrainParams(**{**TINY, "checkpoint_minutes": 0})
    _disk_fills_after(monkeypatch, 5)
    with pytest.raises(WriteFailed, match="No space left"):
        train(params, phantoms / "hr", tmp_path / "run", progress=False)
    saved = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=False)
    assert 0 < saved["step"] < TINY["steps"]
    assert not list((tmp_path / "run").glob(".*.tmp"))
    monkeypatch.undo()
    result = train(params, phantoms / "hr", tmp_path / "run", resume=True, progress=False)
    assert result.summary["stopped"] == "finished" and result.summary["steps"] == TINY["steps"]


def test_a_fresh_run_removes_temporary_files_a_killed_write_left(phantoms, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    leftover = run / f".{CHECKPOINT}.k3x9.tmp"
    leftover.write_bytes(b"half a checkpoint")
    train(TrainParams(**TINY), phantoms / "hr", run, progress=False)
    assert not leftover.exists()


# -- stopping --------------------------------------------------------------------


def test_ctrl_c_in_the_cli_keeps_the_run_and_exits_130(phantoms, tmp_path, monkeypatch, capsys):
    real = train_module._Run.train_step

    def interrupted_at_step_3(self, net, optimizer, hr, step):
        if step == 3:
            raise KeyboardInterrupt
        return real(self, net, optimizer, hr, step)

    monkeypatch.setattr(train_module._Run, "train_step", interrupted_at_step_3)
    out = tmp_path / "run"
    args = ["train", "--hr", str(phantoms / "hr"), "--out", str(out), "--steps", "6"]
    args += ["--tile", "32", "--batch-size", "2", "--val-tiles", "2", "--validations", "2"]
    assert main(args) == INTERRUPTED
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setattr(train_module._Run, "train_step", real)
    assert main([*args, "--resume"]) == 0


def test_ctrl_c_in_any_other_command_exits_130(monkeypatch, tmp_path, capsys):
    from pssr_nb import phantoms as phantoms_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(phantoms_module, "simulate", interrupted)
    assert main(["simulate", "--out", str(tmp_path / "s")]) == INTERRUPTED
    assert "interrupted" in capsys.readouterr().err
