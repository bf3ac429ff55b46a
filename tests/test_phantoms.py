import numpy as np
import pytest

from pssr_nb.errors import InputError
from pssr_nb.io import read_image
from pssr_nb.phantoms import MICROSCOPES, SimulateParams, acquire, run, simulate


@pytest.mark.parametrize("specimen", ["em", "fluorescence", "target"])
def test_same_seed_same_data_other_seed_other_data(specimen):
    a = simulate(specimen, (64, 96), 4, seed=3)
    b = simulate(specimen, (64, 96), 4, seed=3)
    for name in ("truth", "hr", "lr"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    c = simulate(specimen, (64, 96), 4, seed=4)
    assert not np.array_equal(a.hr, c.hr)


def test_shapes_dtypes_and_pixel_sizes():
    ps = simulate("em", (128, 96), 4, seed=0)
    assert ps.truth.shape == ps.hr.shape == (128, 96) and ps.lr.shape == (32, 24)
    assert ps.hr.dtype == np.uint8 and ps.truth.dtype == np.float32
    assert ps.lr_pixel_size == 4 * ps.pixel_size == 16.0
    conf = simulate("fluorescence", (64, 64), 2, seed=0)
    assert conf.hr.dtype == np.uint16 and conf.hr.max() < 2**12  # 12-bit data in 16-bit files


def test_lr_is_a_decimating_point_scan_of_the_truth():
    """LR pixel i is HR position scale * i: correlation with the truth is highest at phase 0."""
    ps = simulate("fluorescence", (256, 256), 4, seed=1)
    lr = ps.normalization("lr").apply(ps.lr)
    corr = [np.corrcoef(lr.ravel(), ps.truth[p::4, p::4].ravel())[0, 1] for p in range(4)]
    assert int(np.argmax(corr)) == 0


def test_acquisition_noise_follows_the_photon_budget():
    m = MICROSCOPES["confocal"]
    truth = np.full((400, 400), 0.5, np.float32)
    grey = acquire(truth, m, 1, m.hr_dwell_us, np.random.default_rng(0)).astype(float)
    gain, photons = m.gain(m.hr_dwell_us), m.photons(m.hr_dwell_us)
    bg = m.background_per_us * m.hr_dwell_us
    mean_photons = 0.5 * photons + bg
    assert grey.mean() == pytest.approx(m.offset + gain * mean_photons, rel=0.01)
    assert grey.var() == pytest.approx(gain**2 * mean_photons + m.read_noise**2 + 1 / 12, rel=0.05)


def test_equivalent_crappifier_reproduces_the_lr_noise_per_intensity():
    ps = simulate("em", (256, 256), 4, seed=2)
    truth_lr = ps.truth[::4, ::4]
    real = ps.normalization("lr").apply(ps.lr) - truth_lr
    synthetic = ps.equivalent_crappifier()(ps.truth, seed=0) - truth_lr
    bins = np.quantile(truth_lr, [0.0, 0.33, 0.66, 1.0])
    for lo, hi in zip(bins[:-1], bins[1:], strict=True):
        sel = (truth_lr >= lo) & (truth_lr <= hi)
        assert synthetic[sel].std() == pytest.approx(real[sel].std(), rel=0.1)


@pytest.mark.parametrize("axis", ["T", "Z"])
def test_frames_change_smoothly(axis):
    ps = simulate("fluorescence", (128, 128), 4, frames=6, frame_axis=axis, seed=0)
    assert ps.axes == axis + "YX" and ps.hr.shape == (6, 128, 128) and ps.lr.shape == (6, 32, 32)
    near = np.corrcoef(ps.truth[2].ravel(), ps.truth[3].ravel())[0, 1]
    far = np.corrcoef(ps.truth[0].ravel(), ps.truth[5].ravel())[0, 1]
    assert near > far and near > 0.5 and not np.array_equal(ps.truth[2], ps.truth[3])


def test_resolution_target_records_graded_separations():
    ps = simulate("target", (256, 256), 4, seed=0)
    seps = sorted({f["separation_nm"] for f in ps.features})
    assert len(seps) == 8 and seps[0] < ps.microscope.psf_fwhm < seps[-1]
    for f in ps.features:
        (ya, xa), (yb, xb) = f["positions"]
        distance_nm = np.hypot(ya - yb, xa - xb) * ps.pixel_size
        assert distance_nm == pytest.approx(f["separation_nm"], rel=1e-6)
        # the truth is bright at each recorded object position
        assert ps.truth[int(round(ya)), int(round(xa))] > 0.2


def test_reacquisition_is_independent():
    ps = simulate("em", (64, 64), 4, seed=0)
    again = ps.reacquire("hr", seed=1)
    assert again.shape == ps.hr.shape and not np.array_equal(again, ps.hr)
    assert abs(np.corrcoef(again.ravel().astype(float), ps.hr.ravel().astype(float))[0, 1]) > 0.5


def test_bad_settings():
    with pytest.raises(InputError, match="multiple of the scale"):
        simulate("em", (65, 64), 4)
    with pytest.raises(InputError, match="Unknown specimen"):
        simulate("plants")
    with pytest.raises(InputError, match="microscope"):
        simulate("em", microscope="sted")


def test_run_writes_named_pairs_with_pixel_sizes(tmp_path):
    record = run(
        SimulateParams(specimen="em", size=64, n_images=2, frames=3, frame_axis="Z"), tmp_path
    )
    assert len(record["images"]) == 2
    hr = read_image(tmp_path / "hr" / "em_000.tif")
    lr = read_image(tmp_path / "lr" / "em_000.tif")
    assert (
        hr.axes == lr.axes == "ZYX"
        and hr.data.shape == (3, 64, 64)
        and lr.data.shape == (3, 16, 16)
    )
    assert hr.pixel_size["X"] == pytest.approx(4.0) and lr.pixel_size["X"] == pytest.approx(16.0)
    assert (tmp_path / "phantoms.json").is_file()
    with pytest.raises(InputError, match="overwrite"):
        run(SimulateParams(specimen="em", size=64, n_images=1), tmp_path)
