import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from pssr_nb import model_file
from pssr_nb.crappify import Crappifier, Downsample, Gaussian
from pssr_nb.errors import InputError
from pssr_nb.model_file import TrainedModel, atomic_save
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.train import CHECKPOINT, TrainParams, preview_pair, run, start_or_resume
from pssr_nb.validation import PREVIEWS, load_previews

TINY = dict(tile=32, batch_size=2, val_tiles=4, validations=3, seed=3)


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    simulate(SimulateParams("em", size=128, scale=4, n_images=2), out)
    return out / "hr"


def _losses(folder: Path) -> list[tuple[int, float]]:
    with open(folder / "log.csv") as fh:
        return [
            (int(r["step"]), float(r["loss"])) for r in csv.DictReader(fh) if r["kind"] == "train"
        ]


def test_short_run_learns_and_writes_its_files(hr_folder, tmp_path):
    rows = []
    crap = Crappifier([Downsample(4), Gaussian(0.1)])
    res = run(
        TrainParams(steps=40, learning_rate=3e-3, **{**TINY, "tile": 64, "batch_size": 4}),
        hr_folder,
        tmp_path,
        crappifier=crap,
        callback=rows.append,
        progress=False,
    )
    assert res.summary["steps"] == 40 and res.summary["stopped"] == "finished"
    for name in ("checkpoint.pt", "model_best.pt", "model_last.pt", "log.csv", "train.json"):
        assert (tmp_path / name).is_file(), name
    vals = [r for r in res.history if r["kind"] == "val"]
    assert [r["step"] for r in vals] == [0, 14, 27, 40]
    # the residual model starts exactly at the aligned bicubic and must improve on it
    assert vals[0]["val_psnr"] == pytest.approx(vals[0]["bicubic_psnr"], abs=1e-3)
    assert res.summary["best"]["val_psnr"] > vals[0]["bicubic_psnr"] + 0.5
    assert [r["kind"] for r in rows].count("train") == 40
    model = TrainedModel.load(tmp_path / "model_best.pt")
    assert model.config.offset == crap.offset and Crappifier.from_dict(model.crappifier) == crap
    assert model.pixel_size_nm == pytest.approx(4 * 4.0)  # the SEM phantom's 4 nm HR pixels
    assert len(_losses(tmp_path)) == 40
    previews = load_previews(tmp_path / PREVIEWS)
    assert previews["steps"].tolist() == [0, 14, 27, 40]
    assert previews["prediction"].shape == (4, 4, 64, 64) and previews["lr"].shape == (4, 16, 16)
    # the first preview is the untrained model: exactly the aligned bicubic
    assert abs(previews["prediction"][0] - previews["bicubic"]).max() < 2e-3
    assert (
        abs(previews["prediction"][-1] - previews["hr"]).mean()
        < abs(previews["bicubic"] - previews["hr"]).mean()
    )


def test_existing_run_is_never_overwritten_and_resume_checks_settings(hr_folder, tmp_path):
    params = TrainParams(steps=4, **TINY)
    run(params, hr_folder, tmp_path, progress=False)
    before = (tmp_path / CHECKPOINT).read_bytes()
    with pytest.raises(InputError, match="already holds a training run"):
        run(params, hr_folder, tmp_path, progress=False)
    with pytest.raises(InputError, match=r"learning_rate: 0.001 -> 0.01"):
        run(TrainParams(steps=4, learning_rate=1e-2, **TINY), hr_folder, tmp_path, resume=True)
    assert (tmp_path / CHECKPOINT).read_bytes() == before
    with pytest.raises(InputError, match="no interrupted run"):
        run(params, hr_folder, tmp_path / "elsewhere", resume=True)


def test_scale_must_match_the_crappifier(hr_folder, tmp_path):
    with pytest.raises(InputError, match="downsamples by 2 but scale is 4"):
        run(TrainParams(steps=2, **TINY), hr_folder, tmp_path, crappifier=Crappifier.default(2))


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    atomic_save({"step": 1}, path)

    def crash(obj, f):
        Path(f).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(model_file.torch, "save", crash)
    with pytest.raises(OSError):
        atomic_save({"step": 2}, path)
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def _checkpoint_step(path: Path) -> int:
    try:
        return int(torch.load(path, weights_only=True)["step"])
    except Exception:  # not there yet
        return -1


def test_kill_9_then_resume_finishes_with_the_uninterrupted_loss_curve(hr_folder, tmp_path):
    steps = 60
    flags = ["--steps", str(steps), "--tile", "32", "--batch-size", "2", "--val-tiles", "4"]
    flags += ["--validations", "3", "--seed", "3", "--checkpoint-minutes", "0"]
    cmd = [sys.executable, "-m", "pssr_nb", "train", "--hr", str(hr_folder), *flags]
    interrupted = tmp_path / "interrupted"
    proc = subprocess.Popen([*cmd, "--out", str(interrupted)], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _checkpoint_step(interrupted / CHECKPOINT) < 15 and proc.poll() is None:
        assert time.monotonic() < deadline, "training did not reach step 15"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _checkpoint_step(interrupted / CHECKPOINT)
    assert 15 <= killed_at < steps, "the run finished before it could be killed"

    subprocess.run([*cmd, "--out", str(interrupted), "--resume"], check=True, capture_output=True)
    straight = tmp_path / "straight"
    subprocess.run([*cmd, "--out", str(straight)], check=True, capture_output=True)

    resumed, reference = _losses(interrupted), _losses(straight)
    assert [s for s, _ in resumed] == list(range(1, steps + 1))
    assert resumed == pytest.approx(reference, rel=1e-4)
    assert TrainedModel.load(interrupted / "model_last.pt").history[-1]["step"] == steps


def test_device_choice_is_checked():
    from pssr_nb.devices import resolve_device

    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(InputError, match="Unknown device"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA|none is available"):
            resolve_device("cuda")


def test_start_or_resume_continues_an_interrupted_run_and_never_replaces_a_finished_one(
    hr_folder, tmp_path
):
    params = TrainParams(steps=6, checkpoint_minutes=0, **TINY)
    first = start_or_resume(params, hr_folder, tmp_path, progress=False)
    assert first.out_dir.name == "run_001" and first.summary["stopped"] == "finished"
    second = start_or_resume(params, hr_folder, tmp_path, progress=False)
    assert second.out_dir.name == "run_002"  # finished runs are kept

    # simulate a disconnect: the checkpoint stays, train.json says it did not finish
    summary = second.out_dir / "train.json"
    summary.write_text(summary.read_text().replace('"finished"', '"interrupted"'))
    resumed = start_or_resume(params, hr_folder, tmp_path, progress=False)
    assert resumed.out_dir.name == "run_002" and resumed.summary["steps"] == 6

    summary.write_text(summary.read_text().replace('"finished"', '"interrupted"'))
    changed = TrainParams(steps=8, checkpoint_minutes=0, **TINY)
    fresh = start_or_resume(changed, hr_folder, tmp_path, progress=False)
    assert fresh.out_dir.name == "run_003"  # settings changed: the interrupted run stays as is
    assert (second.out_dir / CHECKPOINT).exists()


def test_preview_pair_is_a_crappified_tile_of_the_training_images(hr_folder):
    crap = Crappifier([Downsample(4)])
    hr, lr = preview_pair(hr_folder, crap, tile=64, seed=1)
    assert hr.shape == (64, 64) and lr.shape == (16, 16)
    assert (lr == hr[::4, ::4]).all()  # decimation keeps every 4th pixel
