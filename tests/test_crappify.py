import json

import numpy as np
import pytest
import torch
from scipy import stats

from pssr_nb.crappify import Blur, Crappifier, Downsample, Gaussian, Offset, Poisson, SaltPepper
from pssr_nb.errors import InputError


@pytest.mark.parametrize("photons", [5.0, 50.0, 400.0])
def test_poisson_variance_is_mean_over_photons(photons):
    levels = torch.tensor([0.1, 0.5, 1.0]).reshape(3, 1, 1, 1).expand(3, 1, 200, 200).contiguous()
    out = Poisson(photons)(levels.clone(), torch.Generator().manual_seed(0))
    for i, level in enumerate([0.1, 0.5, 1.0]):
        v = out[i].var().item()
        assert out[i].mean().item() == pytest.approx(level, rel=0.02)
        assert v == pytest.approx(level / photons, rel=0.05)
    # the counts are integers at the stated photon scale
    counts = out * photons
    assert torch.allclose(counts, counts.round(), atol=1e-3)


def test_gaussian_offset_and_salt_pepper_statistics():
    x = torch.full((1, 1, 300, 300), 0.5)
    g = torch.Generator().manual_seed(1)
    assert Gaussian(0.1)(x, g).std().item() == pytest.approx(0.1, rel=0.02)
    assert Offset(0.2)(x, g).mean().item() == pytest.approx(0.7)
    sp = SaltPepper(0.1)(x, g)
    assert (sp == 0).float().mean().item() == pytest.approx(0.05, abs=0.005)
    assert (sp == 1).float().mean().item() == pytest.approx(0.05, abs=0.005)
    assert (sp == 0.5).float().mean().item() == pytest.approx(0.9, abs=0.005)


def test_blur_width_matches_sigma_and_keeps_mass():
    x = torch.zeros(1, 1, 41, 41)
    x[0, 0, 20, 20] = 1.0
    y = Blur(2.0)(x)[0, 0].double()
    assert y.sum().item() == pytest.approx(1.0, abs=1e-5)
    r = torch.arange(41, dtype=torch.float64) - 20
    assert (y.sum(0) * r**2).sum().item() == pytest.approx(4.0, rel=0.02)


def test_ranges_draw_one_value_per_sample():
    x = torch.full((64, 1, 32, 32), 0.5)
    out = Gaussian((0.0, 0.2))(x, torch.Generator().manual_seed(3))
    sds = out.std(dim=(1, 2, 3))
    assert sds.min() < 0.03 and sds.max() > 0.17
    photons = Poisson((10.0, 1000.0))
    variances = photons(x, torch.Generator().manual_seed(4)).var(dim=(1, 2, 3))
    # log-uniform: about half the samples below the geometric mean (100 photons -> var 0.005)
    assert 0.3 < (variances > 0.005).float().mean() < 0.7


def test_frames_of_one_sample_share_parameters():
    x = torch.full((16, 3, 64, 64), 0.5)
    out = Gaussian((0.0, 0.2))(x, torch.Generator().manual_seed(5))
    sds = out.std(dim=(2, 3))
    assert torch.allclose(sds[:, 0], sds[:, 1], rtol=0.15, atol=0.01)


def test_numpy_and_torch_paths_match_in_distribution():
    crap = Crappifier([Downsample(2), Poisson(30.0), Gaussian(0.05)])
    hr = np.full((4, 128, 128), 0.4, np.float32)
    a = crap(hr, seed=1)
    b = crap(torch.from_numpy(hr), generator=torch.Generator().manual_seed(2)).numpy()
    assert isinstance(a, np.ndarray) and a.shape == b.shape == (4, 64, 64)
    assert stats.ks_2samp(a.ravel(), b.ravel()).pvalue > 0.01
    assert not np.array_equal(a, b)
    np.testing.assert_array_equal(a, crap(hr, seed=1))  # seeded: reproducible


def test_default_order_downsamples_before_noise():
    crap = Crappifier.default(4)
    assert isinstance(crap.steps[0], Downsample) and crap.scale == 4 and crap.offset == 0.0
    out = crap(np.zeros((2, 1, 64, 64), np.float32), seed=0)
    assert out.shape == (2, 1, 16, 16)


def test_image_not_multiple_of_scale_is_cropped_consistently():
    out = Crappifier([Downsample(4, "area")])(np.ones((37, 50), np.float32))
    assert out.shape == (9, 12)


def test_json_round_trip(tmp_path):
    crap = Crappifier(
        [
            Blur((0.5, 1.0)),
            Downsample(3, "area"),
            Poisson((20, 80)),
            Gaussian(0.01),
            SaltPepper(0.001),
            Offset(-0.01),
        ]
    )
    path = crap.save(tmp_path / "crappifier.json")
    again = Crappifier.load(path)
    assert again == crap
    assert again.scale == 3 and again.offset == 1.0
    assert json.loads(path.read_text())["format"] == "pssr_nb.crappifier"


def test_bad_files_and_parameters_are_explained(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "pssr_nb.crappifier", "version": 1, "steps": [{"step": "jpeg"}]}')
    with pytest.raises(InputError, match="Unknown crappifier step") as err:
        Crappifier.load(bad)
    assert "bad.json" in str(err.value)
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        Crappifier.load(bad)
    with pytest.raises(InputError, match="not found"):
        Crappifier.load(tmp_path / "missing.json")
    with pytest.raises(InputError):
        Poisson(-1.0)
    with pytest.raises(InputError):
        Gaussian((0.2, 0.1))
    with pytest.raises(InputError):
        SaltPepper(2.0)
    with pytest.raises(InputError, match="at most one"):
        Crappifier([Downsample(2), Downsample(2)])


def test_custom_callable_steps_run_but_do_not_serialise():
    def invert(x, generator):
        return 1 - x

    crap = Crappifier([Downsample(2), invert])
    np.testing.assert_array_equal(crap(np.zeros((4, 4), np.float32)), np.ones((2, 2)))
    with pytest.raises(InputError, match="cannot be saved"):
        crap.to_dict()


def test_a_dose_range_spans_the_factor_around_the_calibrated_dose():
    calibrated = Crappifier([Downsample(4), Poisson(20.0), Gaussian(0.05)])
    wide = calibrated.with_dose_range(2.0)
    photons, sigma = wide.steps[1].photons, wide.steps[2].sigma
    assert photons == pytest.approx((10.0, 40.0))
    assert sigma[1] / sigma[0] == pytest.approx(4.0)  # read noise relative to signal: 1/dose
    assert wide.typical() == calibrated
    assert calibrated.with_dose_range(1.0) == calibrated
    # the draws do spread: per-sample noise SD on a flat field varies about 2x either way
    flat = torch.full((256, 1, 32, 32), 0.5)
    sd = (wide(flat, seed=0) - 0.5).flatten(1).std(1)
    assert sd.max() / sd.min() > 2.5
    with pytest.raises(InputError, match="at least 1"):
        calibrated.with_dose_range(0.5)


def test_a_crappifier_at_another_scale_keeps_its_sampling_and_noise():
    calibrated = Crappifier([Downsample(4, "decimate", phase=3), Poisson(20.0)])
    half = calibrated.at_scale(2)
    assert (half.scale, half.offset, half.steps[1]) == (2, 1.0, calibrated.steps[1])
    assert half(torch.rand(1, 1, 32, 32), seed=0).shape[-1] == 16
    assert Crappifier([Downsample(4, "area")]).at_scale(2).offset == 0.5
    assert calibrated.scale == 4  # a new crappifier; this one unchanged
    with pytest.raises(InputError, match="no downsampling step"):
        Crappifier([Poisson(20.0)]).at_scale(2)
