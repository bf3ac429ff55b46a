import numpy as np
import pytest

from pssr_nb.baselines import interpolate, smooth
from pssr_nb.grid_artefacts import grid_excess_db
from pssr_nb.normalize import percentile_normalization
from pssr_nb.phantoms import simulate


@pytest.fixture(scope="module")
def phantom():
    ps = simulate("em", (256, 256), 4, seed=1000)
    return ps.truth, ps.normalization("lr").apply(ps.lr)


def test_the_truth_reads_zero_and_a_painted_grid_reads_high(phantom):
    truth, _ = phantom
    assert grid_excess_db(truth, truth, 4) == pytest.approx(0.0, abs=1e-9)
    span = np.ptp(truth)
    yy, xx = np.indices(truth.shape)
    for amplitude in (0.02, 0.05):  # a faint texture at the LR period, as pixel shuffle leaves
        painted = truth + amplitude * span * np.cos(2 * np.pi * xx / 4) * np.cos(2 * np.pi * yy / 4)
        assert grid_excess_db(painted, truth, 4) > 3.0, amplitude
    # texture at another period is not the sampling grid
    other = truth + 0.05 * span * np.cos(2 * np.pi * xx / 7)
    assert grid_excess_db(other, truth, 4) < 1.0


def test_interpolation_of_the_lr_shows_its_grid_and_smoothing_lowers_it(phantom):
    truth, lr = phantom
    nearest = grid_excess_db(interpolate(lr, 4, 0.0, "nearest"), truth, 4)
    bicubic = grid_excess_db(interpolate(lr, 4, 0.0, "bicubic"), truth, 4)
    smoothed = grid_excess_db(smooth(lr, 4, 0.0, 2.0), truth, 4)
    # nearest repeats each LR pixel 4 times: the grid itself; interpolation kernels have
    # spectral zeros at the lattice, which smoothing deepens
    assert nearest > bicubic > smoothed and nearest > 0.5 and smoothed < 0
    assert grid_excess_db(percentile_normalization(truth).apply(truth) * 3 + 1, truth, 4) == (
        pytest.approx(0.0, abs=1e-6)
    )  # gain and offset are not texture
