"""A model blended with the best simple baseline (pssr_nb.blend)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from pssr_nb.baselines import care_squared_error, smooth
from pssr_nb.blend import blend, tune_blend
from pssr_nb.crappify import Crappifier
from pssr_nb.errors import InputError
from pssr_nb.model_choice import load_sample_model
from pssr_nb.model_file import TrainedModel
from pssr_nb.normalize import percentile_normalization
from pssr_nb.phantoms import simulate
from pssr_nb.predict import PredictParams, predict_image

NO_TTA = PredictParams(tta=False)


def _em_pairs(seeds, crappifier):
    """(LR crappified as em_x4 was trained, truth) of EM phantoms, 192² HR."""
    pairs = []
    for seed in seeds:
        truth = simulate("em", (192, 192), 4, 1, "T", seed).truth
        hr = percentile_normalization(truth).apply(truth).astype(np.float32)
        pairs.append((crappifier(hr, seed=seed), hr))
    return pairs


@pytest.fixture(scope="module")
def em():
    model = load_sample_model("em_x4")
    crappifier = Crappifier.from_dict(model.crappifier).typical()
    return model, _em_pairs([2000, 2001], crappifier), _em_pairs([2002, 2003], crappifier)


def _painter(model: TrainedModel) -> TrainedModel:
    """em_x4 with its output layer scrambled: it adds texture the specimen does not have."""
    bad = blend(model, 1.0, model.config.skip_sigma)
    conv = bad.network.reconstruction.conv
    with torch.no_grad():
        conv.weight.copy_(
            torch.randn(conv.weight.shape, generator=torch.Generator().manual_seed(0))
        )
        conv.weight.mul_(3 * model.network.reconstruction.conv.weight.std())
    return bad


def _score(model, pairs):
    """Mean CARE-normalised squared error of the model's predictions."""
    return np.mean(
        [care_squared_error(predict_image(model, lr, NO_TTA).data, hr) for lr, hr in pairs]
    )


def test_gain_zero_is_the_gaussian_baseline_and_gain_one_the_model(em):
    model, pairs, _ = em
    lr = pairs[0][0]
    base = predict_image(blend(model, 0.0, 1.5), lr, NO_TTA)
    expected = smooth(base.normalization.apply(lr), 4, model.config.offset, 1.5)
    np.testing.assert_allclose(base.data, expected, atol=2e-4)
    same = predict_image(blend(model, 1.0, model.config.skip_sigma), lr, NO_TTA).data
    np.testing.assert_allclose(same, predict_image(model, lr, NO_TTA).data, atol=1e-5)
    before = model.network.reconstruction.conv.weight.clone()
    blend(model, 0.3, 2.0)
    assert torch.equal(model.network.reconstruction.conv.weight, before)


def test_a_good_model_keeps_its_detail_and_a_painting_one_falls_back_to_the_baseline(em):
    """The tuning can fail a model: em_x4 keeps most of what it adds and beats the tuned
    Gaussian on new phantoms; a network that adds texture is cut to (nearly) nothing and
    then scores as the Gaussian does, where unblended it scored far below."""
    model, tuning, tests = em
    good = tune_blend(model, tuning)
    assert good.gain >= 0.7, good
    assert good.error < good.baseline_error and good.model_error < good.baseline_error

    painter = _painter(model)
    bad = tune_blend(painter, tuning)
    assert bad.gain <= 0.1, bad
    assert bad.model_error > 1.5 * bad.baseline_error  # it did paint
    gaussian = blend(model, 0.0, bad.skip_sigma)
    painted = _score(painter, tests)
    rescued = _score(blend(painter, bad.gain, bad.skip_sigma), tests)
    assert painted > 1.5 * rescued  # 1.8 dB
    assert rescued <= 1.05 * _score(gaussian, tests)
    assert _score(blend(model, good.gain, good.skip_sigma), tests) < _score(gaussian, tests)


def test_a_model_without_a_skip_cannot_be_blended(em):
    model = em[0]
    whole = blend(model, 1.0, 0.0)
    whole.network.config = dataclasses.replace(whole.config, residual=False)
    with pytest.raises(InputError, match="bicubic skip"):
        blend(whole, 0.5, 1.0)
    with pytest.raises(InputError, match="gain"):
        blend(model, 1.5, 1.0)
    with pytest.raises(InputError, match="at least one"):
        tune_blend(model, [])


def test_the_blend_command_writes_a_model_that_records_its_blend(tmp_path, capsys):
    from pssr_nb.cli import main
    from pssr_nb.io import write_tiff

    model = load_sample_model("em_x4")
    crappifier = Crappifier.from_dict(model.crappifier).typical()
    for n, (lr, hr) in enumerate(_em_pairs([2004, 2005], crappifier)):
        write_tiff(tmp_path / "hr" / f"field{n}_high.tif", hr, "YX", {})
        write_tiff(tmp_path / "lr" / f"field{n}_low.tif", lr, "YX", {})
    out = tmp_path / "blended.pt"
    assert main(["blend", "em_x4", "--hr", str(tmp_path / "hr"), "--out", str(out)]) == 0
    assert "dB over bicubic+gaussian" in capsys.readouterr().out
    blended = TrainedModel.load(out)
    row = blended.history[-1]
    assert row["kind"] == "blend" and row["pairs"] == 2 and 0 <= row["gain"] <= 1
    assert blended.config.skip_sigma == row["skip_sigma"]
    assert "blended with the baseline" in blended.describe()

    before = out.read_bytes()  # an existing file is never replaced unasked
    assert main(["blend", "em_x4", "--hr", str(tmp_path / "hr"), "--out", str(out)]) != 0
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == before

    real = ["--lr", str(tmp_path / "lr"), "--lr-token", "low", "--hr-token", "high"]
    args = ["blend", "em_x4", "--hr", str(tmp_path / "hr"), *real, "--out", str(out)]
    assert main([*args, "--overwrite"]) == 0
    assert TrainedModel.load(out).history[-1]["pairs"] == 2

    small = np.zeros((64, 64), np.float32)
    write_tiff(tmp_path / "hr" / "field0_high.tif", small, "YX", {}, overwrite=True)
    assert main([*args, "--overwrite"]) != 0
    err = capsys.readouterr().err
    assert "field0_high.tif" in err and "smaller than 4 x" in err
