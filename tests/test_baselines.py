import numpy as np
import pytest
from scipy import ndimage

from pssr_nb.baselines import (
    Tuned,
    baselines,
    deconvolve,
    interpolate,
    interpolation_names,
    nl_means,
    tune,
    tune_gaussian,
)
from pssr_nb.registration import estimate_shift, shift_is_real, shift_with_error


@pytest.mark.parametrize("offset", [0.0, 1.5, 3.0])
def test_nearest_puts_each_sample_where_it_was_acquired(offset):
    rng = np.random.default_rng(0)
    lr = rng.random((8, 8)).astype(np.float32)
    up = interpolate(lr, 4, offset, "nearest")
    j = int(offset)
    np.testing.assert_allclose(up[j::4, j::4][:8, :8], lr, atol=1e-6)


def test_scale_one_baseline_is_the_noisy_input():
    lr = np.arange(16, dtype=np.float32).reshape(4, 4)
    out = baselines(lr, 1, 0.0, 0.0)
    assert list(out) == ["input", "input+gaussian"]
    np.testing.assert_array_equal(out["input"], lr)
    assert interpolation_names(4) == ("nearest", "bilinear", "bicubic")


def quiet_and_noisy(seed: int, size: int, blur: float, quiet_sd: float, noisy_sd: float):
    """A smooth image on 0-1 and two noisy copies of it: (clean, quiet, noisy)."""
    rng = np.random.default_rng(seed)
    clean = ndimage.gaussian_filter(rng.random((size, size)), blur)
    clean = (clean - clean.min()) / np.ptp(clean)
    return (
        clean,
        clean + rng.normal(0, quiet_sd, clean.shape),
        clean + rng.normal(0, noisy_sd, clean.shape),
    )


def test_gaussian_is_tuned_to_the_training_noise():
    clean, quiet, noisy = quiet_and_noisy(1, 128, 3, 0.001, 0.2)
    assert tune_gaussian([(quiet, clean)], 1, 0.0) <= 0.5
    assert tune_gaussian([(noisy, clean)], 1, 0.0) >= 1.0


def test_shift_with_error_finds_a_sampling_offset_error():
    rng = np.random.default_rng(2)
    ref = ndimage.gaussian_filter(rng.random((128, 128)), 2)
    moved = ndimage.shift(ref, (1.5, -1.5), order=3, mode="nearest")
    dy, dx, err = shift_with_error(moved, ref)
    assert dy == pytest.approx(-1.5, abs=0.05) and dx == pytest.approx(1.5, abs=0.05)
    assert err < 0.1
    assert np.hypot(*estimate_shift(ref, ref)) < 0.01


def _error(a, b):
    return float(np.mean((a - b) ** 2))


def test_every_tuned_restoration_is_named_at_each_scale():
    lr = np.random.default_rng(3).random((16, 16)).astype(np.float32)
    tuned = Tuned(gaussian_sigma=1.0, wiener_sigma=1.0, wiener_balance=0.1, nl_means_h=0.8)
    assert list(baselines(lr, 4, 0.0, tuned)) == [
        "nearest", "bilinear", "bicubic", "bicubic+gaussian", "bicubic+wiener", "nl-means+bicubic"
    ]  # fmt: skip
    assert list(baselines(lr, 1, 0.0, tuned)) == [
        "input", "input+gaussian", "input+wiener", "nl-means"
    ]  # fmt: skip
    assert all(v.shape == (64, 64) for v in baselines(lr, 4, 0.0, tuned).values())
    assert list(baselines(lr, 4, 0.0, tuned, interpolations=("bicubic",))) == [
        "bicubic", "bicubic+gaussian", "bicubic+wiener", "nl-means+bicubic"
    ]  # fmt: skip
    assert list(baselines(lr, 1, 0.0, None, interpolations=("bicubic",))) == ["input"]


def test_the_wiener_baseline_undoes_a_blur_in_place():
    rng = np.random.default_rng(4)
    sharp = ndimage.gaussian_filter(rng.random((96, 96)), 1.0)
    blurred = ndimage.gaussian_filter(sharp, 1.5, mode="reflect")
    restored = deconvolve(blurred, 1, 0.0, 1.5, 1e-3)
    assert _error(restored, sharp) < 0.4 * _error(blurred, sharp)
    assert np.hypot(*shift_with_error(restored, sharp)[:2]) < 0.05


def test_the_restorations_are_tuned_to_the_training_noise():
    clean, quiet, noisy = quiet_and_noisy(5, 96, 2.5, 0.002, 0.15)
    for_quiet = tune([(quiet, clean)], 1, 0.0, which=("wiener", "nl-means"))
    for_noisy = tune([(noisy, clean)], 1, 0.0, which=("wiener", "nl-means"))
    assert for_quiet.gaussian_sigma is None
    assert for_noisy.wiener_balance > for_quiet.wiener_balance
    assert for_noisy.nl_means_h > for_quiet.nl_means_h
    denoised = nl_means(noisy, 1, 0.0, for_noisy.nl_means_h)
    assert _error(denoised, clean) < 0.3 * _error(noisy, clean)


def test_the_registration_check_flags_a_wrong_offset_and_not_aligned_bicubic():
    # sparse fluorescence fields, where four quadrants estimate the error poorly: a
    # factor of 2 on that error flagged aligned bicubic on phantom 1002
    from pssr_nb.phantoms import default_microscope, simulate
    from pssr_nb.sampling import upsample

    flagged = {}
    for seed in range(1000, 1006):
        ps = simulate(
            "fluorescence", (256, 256), 4, 1, "T", seed, default_microscope("fluorescence")
        )
        lr = ps.normalization("lr").apply(ps.lr).astype(np.float32)
        for offset in (0.0, 1.5):  # 1.5: LR taken as binned when it was point-sampled
            dy, dx, err = shift_with_error(upsample(lr, 4, offset, "bicubic"), ps.truth)
            flagged.setdefault(offset, []).append(shift_is_real(np.hypot(dy, dx), err, 0.1))
    assert not any(flagged[0.0])
    assert all(flagged[1.5])
