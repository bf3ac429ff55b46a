import csv
import dataclasses
import errno
import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from pssr_nb import model_file
from pssr_nb import train as train_module
from pssr_nb.baselines import smooth
from pssr_nb.crappify import Crappifier, Downsample, Gaussian
from pssr_nb.errors import InputError, WriteFailed
from pssr_nb.model_file import TrainedModel, atomic_save, load_sample_model
from pssr_nb.models import ResUNet, config_for
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.train import (
    CHECKPOINT,
    StopTraining,
    TrainParams,
    preview_pair,
    run,
    start_or_resume,
)
from pssr_nb.validation import PREVIEWS, load_previews

TINY = dict(tile=32, batch_size=2, val_tiles=4, validations=3, seed=3)


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    simulate(SimulateParams("em", size=128, scale=4, n_images=2), out)
    return out / "hr"


def _losses(folder: Path) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r["loss"])) for r in _log_rows(folder) if r["kind"] == "train"]


def test_short_run_learns_and_writes_its_files(hr_folder, tmp_path):
    rows = []
    crap = Crappifier([Downsample(4), Gaussian(0.1)])
    res = run(
        TrainParams(
            steps=80,
            learning_rate=3e-3,
            smooth_skip=False,  # the plain bicubic skip; the smoothed one has its own test
            **{**TINY, "tile": 64, "batch_size": 4},
        ),
        hr_folder,
        tmp_path,
        crappifier=crap,
        callback=rows.append,
        progress=False,
    )
    assert res.summary["steps"] == 80 and res.summary["stopped"] == "finished"
    for name in ("checkpoint.pt", "model_best.pt", "model_last.pt", "log.csv", "train.json"):
        assert (tmp_path / name).is_file(), name
    vals = [r for r in res.history if r["kind"] == "val"]
    assert [r["step"] for r in vals] == [0, 27, 54, 80]
    # the residual model starts exactly at the aligned bicubic, a baseline, so it cannot
    # beat the best baseline; 80 steps (the resize head starts slower than a pixel shuffle)
    # take it above bicubic (scored against the noisy HR
    # scan, which bounds every gain) and towards the best baseline
    assert vals[0]["gain_db"] <= 1e-3 and vals[0]["baseline_psnr"] == vals[-1]["baseline_psnr"]
    assert res.summary["best"]["val_psnr"] > vals[0]["val_psnr"] + 0.05
    assert res.summary["best"]["gain_db"] > vals[0]["gain_db"] + 0.05
    assert [r["kind"] for r in rows].count("train") == 80
    model = TrainedModel.load(tmp_path / "model_best.pt")
    assert model.config.offset == crap.offset and Crappifier.from_dict(model.crappifier) == crap
    assert model.pixel_size_nm == pytest.approx(4 * 4.0)  # the SEM phantom's 4 nm HR pixels
    assert len(_losses(tmp_path)) == 80
    previews = load_previews(tmp_path / PREVIEWS)
    assert previews["steps"].tolist() == [0, 27, 54, 80]
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


def test_a_finished_run_without_its_checkpoint_is_never_replaced(hr_folder, tmp_path):
    params = TrainParams(steps=4, **TINY)
    run(params, hr_folder, tmp_path / "a", progress=False)
    (tmp_path / "a" / CHECKPOINT).unlink()  # deleted to save space
    before = {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()}
    with pytest.raises(InputError, match="finished training run") as err:
        run(params, hr_folder, tmp_path / "a", progress=False)
    assert "another output folder" in err.value.fix
    assert {p.name: p.read_bytes() for p in (tmp_path / "a").iterdir()} == before
    (tmp_path / "b").mkdir()  # only the best model copied into a folder
    (tmp_path / "b" / "model_best.pt").write_bytes(before["model_best.pt"])
    with pytest.raises(InputError, match="copied models"):
        run(params, hr_folder, tmp_path / "b", progress=False)
    assert (tmp_path / "b" / "model_best.pt").read_bytes() == before["model_best.pt"]


def test_the_crappifier_sets_the_scale_and_a_different_one_is_refused(hr_folder, tmp_path):
    res = run(
        TrainParams(steps=2, **TINY),
        hr_folder,
        tmp_path / "a",
        Crappifier.default(2),
        progress=False,
    )
    assert res.model.config.scale == 2 and res.summary["params"]["scale"] == 2
    with pytest.raises(InputError, match="downsamples by 2 but scale is 4"):
        run(TrainParams(steps=2, scale=4, **TINY), hr_folder, tmp_path / "b", Crappifier.default(2))


def _summary(run_dir):
    return json.loads((run_dir / "train.json").read_text())


def test_fine_tuning_starts_from_the_model_and_resumes_from_its_checkpoint(hr_folder, tmp_path):
    crap = Crappifier([Downsample(4), Gaussian(0.1)])
    params = TrainParams(steps=6, **TINY)
    run(params, hr_folder, tmp_path / "a", crappifier=crap, progress=False)
    tuned = TrainParams(steps=6, init=str(tmp_path / "a" / "model_last.pt"), head="keep", **TINY)
    res = run(tuned, hr_folder, tmp_path / "b", crappifier=crap, progress=False)
    assert res.summary["params"]["learning_rate"] == train_module.LEARNING_RATES["fine-tune"]
    vals = [r for r in res.history if r["kind"] == "val"]
    # step 0 of a fine-tuning run is the starting model, not the bicubic a fresh network gives
    seen_a, seen_b = (load_previews(tmp_path / r / PREVIEWS)["prediction"] for r in "ab")
    assert np.array_equal(seen_b[0], seen_a[-1]) and not np.array_equal(seen_b[0], seen_a[0])
    before = [r for r in _log_rows(tmp_path / "a") if r["kind"] == "val"][-1]
    assert vals[0]["val_psnr"] == pytest.approx(float(before["val_psnr"]), abs=1e-4)
    assert "fine-tuned from" in res.model.origin
    # the score table puts the starting model alone beside the fine-tuned one
    rows = {r[""].split(" (")[0]: r for r in train_module.score_rows(res.summary)}
    alone = rows[f"held-out regions: {tuned.init} alone"]
    assert alone["PSNR"] == pytest.approx(vals[0]["val_psnr"], abs=0.01)
    assert not any("alone" in r[""] for r in train_module.score_rows(_summary(tmp_path / "a")))
    # resuming rebuilds the network from the checkpoint, even when init is gone
    (tmp_path / "a" / "model_last.pt").unlink()
    (tmp_path / "b" / "train.json").unlink()
    again = run(tuned, hr_folder, tmp_path / "b", crappifier=crap, resume=True, progress=False)
    assert again.summary["steps"] == 6 and again.model.config == res.model.config


def test_a_smoothed_skip_starts_at_the_gaussian_baseline_and_keeps_its_width(hr_folder, tmp_path):
    crap = Crappifier([Downsample(4), Gaussian(0.1)])
    runs = {
        name: run(
            TrainParams(steps=4, smooth_skip=name == "smoothed", **TINY),
            hr_folder,
            tmp_path / name,
            crappifier=crap,
            progress=False,
        )
        for name in ("smoothed", "plain")
    }
    sigma = runs["smoothed"].model.config.skip_sigma
    assert sigma > 0 and runs["plain"].model.config.skip_sigma == 0.0
    assert f"Gaussian of {sigma:g} HR px" in runs["smoothed"].model.describe()
    assert "Gaussian" not in runs["plain"].model.describe()
    # the width is the validation's tuned Gaussian, and the untrained network is that baseline
    for name, width in (("smoothed", sigma), ("plain", 0.0)):
        previews = load_previews(tmp_path / name / PREVIEWS)
        expected = np.stack([smooth(lr, 4, crap.offset, sigma) for lr in previews["lr"]])
        inner = (slice(None), slice(12, -12), slice(12, -12))  # the blocks' context differs
        error = np.abs(previews["prediction"][0] - expected)[inner].max()
        assert (error < 5e-3) if width else (error > 0.02), (name, error)
    # fine-tuning keeps the starting model's skip, whatever smooth_skip says
    tuned = TrainParams(steps=2, init=str(tmp_path / "smoothed" / "model_last.pt"), **TINY)
    again = run(tuned, hr_folder, tmp_path / "c", crappifier=crap, progress=False)
    assert again.model.config.skip_sigma == sigma
    # unless head "fresh": the plain model's features, started at the tuned Gaussian baseline
    init = tmp_path / "plain" / "model_last.pt"
    fresh = TrainParams(steps=2, init=str(init), head="fresh", **TINY)
    restarted = run(fresh, hr_folder, tmp_path / "d", crappifier=crap, progress=False)
    assert restarted.model.config.skip_sigma == sigma
    previews = load_previews(tmp_path / "d" / PREVIEWS)
    expected = np.stack([smooth(lr, 4, crap.offset, sigma) for lr in previews["lr"]])
    assert np.abs(previews["prediction"][0] - expected)[inner].max() < 5e-3
    before, after = (m.network.state_dict() for m in (TrainedModel.load(init), restarted.model))
    first = next(k for k in before if k.startswith("encoder") and k.endswith("weight"))
    assert (after[first].float() - before[first].float()).abs().max() < 1e-2  # two Adam steps


def test_an_auto_head_starts_fine_tuning_at_the_better_of_init_and_the_baseline(
    hr_folder, tmp_path
):
    # below the baseline: a plain-skip network after two steps is the bicubic, 0.4 dB below
    crap = Crappifier([Downsample(4), Gaussian(0.4)])
    settings = {**TINY, "tile": 64}  # blocks large enough for the Gaussian to pay
    plain = TrainParams(steps=2, smooth_skip=False, **settings)
    run(plain, hr_folder, tmp_path / "a", crap, progress=False)
    init = str(tmp_path / "a" / "model_last.pt")
    tuned = TrainParams(steps=2, init=init, **settings)
    res = run(tuned, hr_folder, tmp_path / "b", crap, progress=False)
    start, first = res.summary["start"], next(r for r in res.history if r["kind"] == "val")
    assert start["kind"] == "init" and start["head"] == "fresh" and start["gain_db"] < -0.2
    assert first["step"] == 0 and abs(first["gain_db"]) < 0.03  # the tuned Gaussian itself
    assert res.model.config.skip_sigma > 0
    rows = {r[""].split(" (")[0]: r for r in train_module.score_rows(res.summary)}
    assert rows[f"held-out regions: {init} alone"]["PSNR"] == pytest.approx(start["val_psnr"], 0.01)
    # alone but blended on the training blocks, the bicubic-like init is the tuned Gaussian
    assert abs(start["blend_gain_db"]) < 0.05, start
    blended = rows[f"held-out regions: {init} alone, blended"]
    assert blended["PSNR"] == pytest.approx(start["blend_psnr"], 0.01)
    assert [r["kind"] for r in _log_rows(tmp_path / "b")][:2] == ["init", "val"]
    # above it: the EM sample model on EM phantoms crappified as it was trained
    em = Crappifier.from_dict(load_sample_model("em_x4").crappifier).typical()
    tuned = TrainParams(steps=2, init="em_x4", **settings)
    res = run(tuned, hr_folder, tmp_path / "c", em, progress=False)
    start, first = res.summary["start"], next(r for r in res.history if r["kind"] == "val")
    assert start["head"] == "kept" and start["gain_db"] > 0
    assert first["val_psnr"] == pytest.approx(start["val_psnr"], abs=1e-4)
    assert res.model.config.skip_sigma == load_sample_model("em_x4").config.skip_sigma


def test_also_sampling_trains_every_other_step_at_the_other_samples_positions(
    hr_folder, tmp_path, monkeypatch
):
    """With also_sampling="area" a point-scan run crappifies odd steps by block averages
    and moves its skip and output to the blocks' centres for them; the model it writes,
    and its validation, stay at the crappifier's sampling."""
    seen, forward = [], ResUNet.forward

    def spy(self, x):
        if torch.is_grad_enabled():  # training steps, not validation
            seen.append(self.config.offset)
        return forward(self, x)

    monkeypatch.setattr(ResUNet, "forward", spy)
    crap = Crappifier([Downsample(4), Gaussian(0.1)])
    params = TrainParams(steps=4, also_sampling="area", **TINY)
    res = run(params, hr_folder, tmp_path / "a", crap, progress=False)
    assert seen[-4:] == [0.0, 1.5, 0.0, 1.5]
    assert res.model.config.offset == 0.0 and res.model.config.weights_offset is None
    assert TrainedModel.load(tmp_path / "a" / "model_best.pt").config.offset == 0.0


def test_a_model_whose_weights_fit_any_scale_fine_tunes_at_another(hr_folder, tmp_path):
    em = load_sample_model("em_x4")
    assert em.config.fits_any_scale
    res = run(
        TrainParams(steps=2, scale=2, init="em_x4", head="keep", learning_rate=1e-9, **TINY),
        hr_folder,
        tmp_path,
        crappifier=Crappifier([Downsample(2, mode="area")]),
        progress=False,
    )
    config = res.model.config
    assert (config.scale, config.offset) == (2, 0.5)  # the run's geometry
    assert config.output_shift == 0.5  # what the network adds moves with the skip
    assert res.model.network(torch.zeros(1, 1, 16, 16)).shape[-1] == 32
    trained = res.model.network.state_dict()
    for name, weights in em.network.state_dict().items():  # every layer kept
        assert torch.allclose(trained[name].float(), weights.float(), atol=1e-4), name


def test_fine_tuning_checks_the_models_geometry(hr_folder, tmp_path):
    shuffle = dataclasses.replace(config_for("small", 4), upsampler="shuffle")
    TrainedModel(ResUNet(shuffle)).save(tmp_path / "shuffle.pt")
    with pytest.raises(InputError, match=r"is 4x with 1 input frame.*this run is 2x"):
        run(
            TrainParams(steps=2, scale=2, init=str(tmp_path / "shuffle.pt"), **TINY),
            hr_folder,
            tmp_path / "run",
            crappifier=Crappifier([Downsample(2)]),
            progress=False,
        )
    with pytest.raises(InputError, match="does not exist") as err:
        run(
            TrainParams(steps=2, init=str(tmp_path / "nope.pt"), **TINY),
            hr_folder,
            tmp_path,
            progress=False,
        )
    assert "em_x4" in err.value.fix and not (tmp_path / CHECKPOINT).exists()


def test_real_pairs_are_scored_as_users_predict_and_choose_the_best_model(hr_folder, tmp_path):
    pairs = hr_folder.parent  # the phantoms' lr/ and hr/ folders: real LR/HR scan pairs
    crap = Crappifier([Downsample(4), Gaussian(0.1)])
    params = TrainParams(steps=6, val_lr=str(pairs / "lr"), val_hr=str(pairs / "hr"), **TINY)
    res = run(params, hr_folder, tmp_path, crappifier=crap, progress=False)
    vals = [r for r in res.history if r["kind"] == "val"]
    assert all("pairs_gain_db" in r for r in vals)
    # step 0 is the aligned bicubic exactly, so it cannot beat the best baseline
    assert vals[0]["pairs_gain_db"] <= 1e-3
    assert res.summary["best"]["pairs_gain_db"] == max(r["pairs_gain_db"] for r in vals)
    best = TrainedModel.load(tmp_path / "model_best.pt")
    assert best.history[-1]["step"] == res.summary["best"]["step"]
    assert "pairs_gain_db" in _log_rows(tmp_path)[0]
    with pytest.raises(InputError, match="setting val_hr = ''"):
        TrainParams(steps=2, val_lr=str(pairs / "lr"), **TINY)


def test_pair_validation_can_fail(hr_folder):
    from pssr_nb.pair_validation import PairValidation

    check = PairValidation(hr_folder.parent / "lr", hr_folder.parent / "hr")
    model = TrainedModel(ResUNet(config_for("small", 4)))  # untrained: the aligned bicubic
    aligned = check(model, {})["pairs_gain_db"]
    # the same interpolation placed (s-1)/2 HR pixels off, as a wrong crappifier would teach
    misplaced = TrainedModel(ResUNet(config_for("small", 4, offset=1.5)))
    assert check(misplaced, {})["pairs_gain_db"] < aligned - 0.2
    assert aligned <= 1e-3 and check.baseline != "model"


def test_pair_validation_tunes_the_baselines_once_and_scores_each_model_afresh(
    hr_folder, monkeypatch
):
    from pssr_nb import pair_validation
    from pssr_nb.pair_validation import PairValidation

    lr, hr = hr_folder.parent / "lr", hr_folder.parent / "hr"
    first, second = (TrainedModel(ResUNet(config_for("small", 4))) for _ in range(2))
    torch.manual_seed(1)
    with torch.no_grad():
        for p in second.network.parameters():
            p.add_(0.01 * torch.randn_like(p))
    fresh = PairValidation(lr, hr)(second, {})
    tuned = []
    real_add = pair_validation.add_baselines
    monkeypatch.setattr(
        pair_validation, "add_baselines", lambda *a, **k: tuned.append(1) or real_add(*a, **k)
    )
    check = PairValidation(lr, hr)
    check(first, {})
    assert check(second, {}) == fresh and len(tuned) == 1
    assert fresh["pairs_psnr"] != check(first, {})["pairs_psnr"]


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "checkpoint.pt"
    atomic_save({"step": 1}, path)

    def crash(obj, f):
        f.write(b"half a checkpoint")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(model_file.torch, "save", crash)
    with pytest.raises(WriteFailed, match="No space left") as info:
        atomic_save({"step": 2}, path)
    assert info.value.path == path and "Free some disk space" in str(info.value)
    assert torch.load(path, weights_only=True) == {"step": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


KILL_SCRIPT = Path(__file__).with_name("kill_training.py")
#: One run killed again and again, each time at another kind of moment, then finished.
KILL_CHAIN = (
    ("after_step", 5),
    ("after_log", 9),
    ("in_checkpoint", 13),
    ("in_validation", 20),  # validations at steps 0, 10, 20 and 30
    ("after_checkpoint", 24),
)
KILL_RUN = dict(steps=30, checkpoint_minutes=0, **TINY)


def _train_process(hr: Path, out: Path, phase: str = "none", step: int = 0, resume=False):
    args = [KILL_SCRIPT, phase, str(step), hr, out, json.dumps(KILL_RUN)]
    args += ["--resume"] if resume else []
    return subprocess.Popen(
        [sys.executable, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _first_difference(got: list, expected: list, rel: float = 1e-5) -> str | None:
    """The first ``(step, value)`` pair that differs, as a sentence; None when all agree."""
    for (step, value), (ref_step, ref) in zip(got, expected, strict=False):
        if step != ref_step or not math.isclose(value, ref, rel_tol=rel, abs_tol=1e-7):
            return f"step {step}: {value!r}, uninterrupted step {ref_step}: {ref!r}"
    if len(got) != len(expected):
        return f"{len(got)} rows, uninterrupted {len(expected)}"
    return None


def test_first_difference_names_the_step():
    assert _first_difference([(1, 0.5), (2, 0.25)], [(1, 0.5), (2, 0.25)]) is None
    assert _first_difference([(1, 0.5), (2, 0.3)], [(1, 0.5), (2, 0.25)]).startswith("step 2:")
    assert "rows" in _first_difference([(1, 0.5)], [(1, 0.5), (2, 0.25)])


@pytest.mark.slow
def test_kill_9_at_every_kind_of_moment_then_resume_gives_the_uninterrupted_run(
    hr_folder, tmp_path
):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    reference = _train_process(hr_folder, straight)  # beside the chain: nothing is timed
    for i, (phase, step) in enumerate(KILL_CHAIN):
        proc = _train_process(hr_folder, interrupted, phase, step, resume=i > 0)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == -signal.SIGKILL, f"not killed at {phase} {step}: {err[-2000:]}"
    last = _train_process(hr_folder, interrupted, resume=True)
    for proc in (last, reference):
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]

    where = f"after kills at {KILL_CHAIN}"
    resumed, expected = _log_rows(interrupted), _log_rows(straight)
    assert [int(r["step"]) for r in resumed if r["kind"] == "train"] == list(range(1, 31)), where
    assert [int(r["step"]) for r in resumed if r["kind"] == "val"] == [0, 10, 20, 30], where
    for column, kind in (("loss", "train"), ("val_psnr", "val"), ("val_ssim", "val")):
        got, ref = (
            [(int(r["step"]), float(r[column])) for r in rows if r["kind"] == kind]
            for rows in (resumed, expected)
        )
        assert _first_difference(got, ref) is None, (
            f"{column} {where}: {_first_difference(got, ref)}"
        )
    for name in ("model_last.pt", "model_best.pt"):
        a, b = (TrainedModel.load(folder / name) for folder in (interrupted, straight))
        for key, weights in a.network.state_dict().items():
            assert torch.allclose(weights, b.network.state_dict()[key], rtol=1e-5, atol=1e-7), (
                f"{name} {key} {where}"
            )
    assert load_previews(interrupted / PREVIEWS)["steps"].tolist() == [0, 10, 20, 30]
    assert sorted(p.name for p in interrupted.iterdir()) == sorted(
        p.name for p in straight.iterdir()
    ), "a file was left behind (or missing) after the kills"


def _log_rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / "log.csv") as fh:
        return list(csv.DictReader(fh))


def test_a_time_budget_plans_the_step_count_from_timed_steps(hr_folder, tmp_path, training_clock):
    # 15 s: 3 timed steps of 0.5 s, 5 validations of 1 s (the timing's, step 0's and 3 more)
    # leave 8.5 s, 17 steps; the run then takes the 15 s it was given
    params = TrainParams(**{**TINY, "steps": 0, "minutes": 0.25})
    result = run(params, hr_folder, tmp_path, progress=False, clock=training_clock)
    assert result.summary["total_steps"] == 17 and result.summary["steps"] == 17
    assert result.summary["stopped"] == "finished"
    assert result.summary["training_seconds"] == pytest.approx(15.0)
    training_clock.step_s = 0.25  # twice as fast: twice the steps
    faster = run(params, hr_folder, tmp_path / "fast", progress=False, clock=training_clock)
    assert faster.summary["total_steps"] == 37  # (15 - 5 - 3 x 0.25) / 0.25
    # a budget too small for the 10-step floor trains 10 steps, not fewer
    tiny = TrainParams(**{**TINY, "steps": 0, "minutes": 0.02})
    floor = run(tiny, hr_folder, tmp_path / "tiny", progress=False, clock=training_clock)
    assert floor.summary["steps"] == 10 and floor.summary["stopped"] == "finished"


def test_real_pairs_tuned_once_do_not_shrink_a_time_budgeted_run(
    hr_folder, tmp_path, training_clock, monkeypatch
):
    from pssr_nb.pair_validation import PairValidation

    pairs = hr_folder.parent
    real_prepare = PairValidation.prepare

    def slow_prepare(self, model):
        if not self._baseline_rows:
            training_clock.now += 40.0  # tuning the baselines of large pairs, once
        return real_prepare(self, model)

    monkeypatch.setattr(PairValidation, "prepare", slow_prepare)
    training_clock.step_s = 0.1  # ~1100 steps planned, the first re-plan after 22
    params = TrainParams(
        **{**TINY, "steps": 0, "minutes": 2.0},
        val_lr=str(pairs / "lr"),
        val_hr=str(pairs / "hr"),
    )
    result = run(params, hr_folder, tmp_path, crappifier=Crappifier([Downsample(4)]),
                 progress=False, clock=training_clock)  # fmt: skip
    # the 40 s are spent once, not planned again for each of the 3 validations to come
    assert result.summary["training_seconds"] == pytest.approx(120.0, rel=0.05)
    assert result.summary["steps"] == pytest.approx((120 - 40 - 5 - 0.3) / 0.1, rel=0.1)


@pytest.mark.parametrize("new_step_s", [1.0, 0.25])
def test_the_budget_holds_when_the_machine_slows_down_or_speeds_up(
    hr_folder, tmp_path, training_clock, monkeypatch, new_step_s
):
    params = TrainParams(**{**TINY, "steps": 0, "minutes": 0.5})  # 47 steps of 0.5 s planned
    real_plan = train_module._Run.plan

    def plan_then_change_speed(self, *args):
        real_plan(self, *args)
        training_clock.step_s = new_step_s  # another job starts (or ends)

    monkeypatch.setattr(train_module._Run, "plan", plan_then_change_speed)
    rows = []
    result = run(
        params, hr_folder, tmp_path, callback=rows.append, progress=False, clock=training_clock
    )
    summary = result.summary
    assert summary["stopped"] == "finished" and summary["steps"] == summary["total_steps"]
    assert summary["training_seconds"] == pytest.approx(30.0, rel=0.05)
    assert summary["steps"] == pytest.approx((30 - 5 - 1.5) / new_step_s, rel=0.1)
    assert [r["step"] for r in rows if r["kind"] == "val"][-1] == summary["steps"]
    assert len([r for r in rows if r["kind"] == "val"]) == 3
    # the schedule still runs to its end: the last step's learning rate is (almost) 0
    train_rows = [r for r in rows if r["kind"] == "train"]
    assert train_rows[-1]["learning_rate"] < 1e-3 * 1e-3


def test_a_session_stops_at_its_time_limit_and_resumes_to_the_end(
    hr_folder, tmp_path, training_clock, monkeypatch
):
    params = TrainParams(**{**TINY, "steps": 0, "minutes": 0.25})
    real_step = train_module._Run.train_step

    def step_that_hangs(self, *args):
        if self.step == 5 and training_clock.step_s < 30:
            training_clock.now += 30  # one step hangs (swapping) far past the limit of 22.5 s
        return real_step(self, *args)

    monkeypatch.setattr(train_module._Run, "train_step", step_that_hangs)
    first = run(params, hr_folder, tmp_path, progress=False, clock=training_clock)
    assert first.summary["stopped"] == "time limit" and first.summary["steps"] == 6
    resumed = run(params, hr_folder, tmp_path, resume=True, progress=False, clock=training_clock)
    assert resumed.summary["stopped"] == "finished"
    assert resumed.summary["steps"] == resumed.summary["total_steps"] >= 10


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
    seen = []
    first = start_or_resume(
        params, hr_folder, tmp_path, progress=False, on_validate=lambda m, row: seen.append(row)
    )
    assert first.out_dir.name == "run_001" and first.summary["stopped"] == "finished"
    assert seen  # the validation hook is passed on to run
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


def test_stop_training_from_the_callback_keeps_a_checkpoint_that_resumes_exactly(
    hr_folder, tmp_path
):
    params = TrainParams(steps=6, checkpoint_minutes=0, **TINY)
    whole = run(params, hr_folder, tmp_path / "whole", progress=False)

    def stop_at_3(row):
        if row["kind"] == "train" and row["step"] == 3:
            raise StopTraining  # what a stop button's callback does

    stopped = run(params, hr_folder, tmp_path / "parts", callback=stop_at_3, progress=False)
    assert stopped.summary["stopped"] == "interrupted" and stopped.summary["steps"] == 3
    resumed = run(params, hr_folder, tmp_path / "parts", resume=True, progress=False)
    assert resumed.summary["stopped"] == "finished"
    for a, b in zip(
        whole.model.network.state_dict().values(),
        resumed.model.network.state_dict().values(),
        strict=True,
    ):
        assert torch.equal(a, b)
