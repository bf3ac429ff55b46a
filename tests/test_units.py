import numpy as np
import pytest

from pssr_nb.crappify import Crappifier, Downsample, Poisson
from pssr_nb.normalize import percentile_normalization
from pssr_nb.phantoms import simulate
from pssr_nb.units import input_normalization, smoothed_percentiles, training_units


def test_input_units_move_with_the_noise_far_less_than_plain_percentiles():
    ps = simulate("em", (256, 256), 4, seed=3)
    noisy = ps.normalization("lr").apply(ps.lr)  # 20 electrons at full intensity
    clean = ps.truth[::4, ::4]

    def shift(measure):
        a, b = measure(noisy), measure(clean)
        return max(abs(a.low - b.low), abs(a.high - b.high)) / b.span

    # what is left is the same at training (see the next test), so it cancels
    assert shift(input_normalization) < 0.3 < 0.6 < shift(percentile_normalization)


def test_training_units_measure_the_crappified_image_as_prediction_measures_a_scan():
    rng = np.random.default_rng(0)
    hr = rng.random((128, 128)).astype(np.float32)
    decimate = Crappifier([Downsample(4)])
    low, span = training_units([hr], decimate)
    assert (low, low + span) == pytest.approx(smoothed_percentiles([hr[::4, ::4]]))
    # with noise the units are those of the noisy LR that the network is given
    noisy = Crappifier([Downsample(4), Poisson((10.0, 1000.0))])
    low, span = training_units([hr], noisy, seed=5)
    lr = noisy.typical()(hr, seed=5)
    assert (low, low + span) == pytest.approx(smoothed_percentiles([lr]))


def test_stacks_and_large_planes_are_measured_on_a_sample():
    stack = np.zeros((40, 1500, 1500), np.uint16)
    stack[:, 500:1000, 500:1000] = 1000
    norm = input_normalization(stack)
    assert norm.dtype == "uint16" and norm.low == pytest.approx(0) and norm.high > 900
