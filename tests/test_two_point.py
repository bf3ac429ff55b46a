import numpy as np
import pytest
from scipy import ndimage

from pssr_nb.errors import InputError
from pssr_nb.phantoms import simulate
from pssr_nb.two_point import dip, two_point_test


@pytest.fixture(scope="module")
def target():
    return simulate("target", (256, 256), 4, seed=0, microscope="confocal")


def test_two_separated_points_dip_and_one_point_does_not():
    image = np.zeros((64, 64))
    image[32, 20] = image[32, 40] = 1
    image = ndimage.gaussian_filter(image, 2)
    assert dip(image, (32, 20), (32, 40), 0.0) > 0.95
    assert dip(ndimage.gaussian_filter(image, 8), (32, 20), (32, 40), 0.0) < 0.1


def test_hr_resolves_what_the_truth_resolves_and_blur_does_not(target):
    truth = two_point_test(target.truth, target.features)["resolution_nm"]
    hr = two_point_test(target.normalization("hr").apply(target.hr), target.features)
    blurred = two_point_test(ndimage.gaussian_filter(target.truth, 8), target.features)
    psf = target.microscope.psf_fwhm
    for kind in ("points_x", "points_y", "lines"):
        assert psf <= truth[kind] <= 1.5 * psf  # Rayleigh: about one PSF width
        assert hr["resolution_nm"][kind] == truth[kind]
        assert blurred["resolution_nm"][kind] is None
    assert len(hr["pairs"]) == len(target.features)


def test_undersampled_lr_resolves_less_than_hr():
    from pssr_nb.baselines import interpolate

    ps = simulate("target", (256, 256), 4, seed=0, microscope="sem")
    lr = interpolate(ps.normalization("lr").apply(ps.lr), 4, 0.0, "bicubic")
    hr = two_point_test(ps.normalization("hr").apply(ps.hr), ps.features)["resolution_nm"]
    low = two_point_test(lr, ps.features)["resolution_nm"]
    assert low["lines"] > hr["lines"]


def test_bad_requests_are_explained(target):
    with pytest.raises(InputError, match="criterion"):
        two_point_test(target.truth, target.features, criterion="abbe")
    with pytest.raises(InputError, match="simulate"):
        two_point_test(target.truth, [])
