"""The data report: noise, saturation, bit depth, pair geometry (issue "Notebooks", notebook 01)."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pssr_nb.describe import (
    DataParams,
    describe_image,
    describe_pair,
    noise_sigma,
    pair_rows,
    run,
)
from pssr_nb.errors import InputError
from pssr_nb.io import ImageData, write_tiff
from pssr_nb.phantoms import simulate
from pssr_nb.registration import apply_shift, estimate_shift, measure_lr_offset


def smooth_field(shape=(128, 128), seed=0, width=3.0):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    return ndimage.gaussian_filter(rng.random(shape), width) * 4000 + 500


@pytest.mark.parametrize("sigma", [1.0, 5.0, 20.0])
def test_noise_sigma_recovers_white_noise_on_structure(sigma):
    rng = np.random.default_rng(1)
    field = smooth_field((256, 256), width=6.0)
    estimate = noise_sigma(field + rng.normal(0, sigma, field.shape))
    assert estimate == pytest.approx(sigma, rel=0.1)


def test_report_flags_saturation_unused_bits_and_missing_pixel_size():
    rng = np.random.default_rng(2)
    data = np.clip(smooth_field() + rng.normal(0, 10, (128, 128)), 0, 4095).astype(np.uint16)
    data[:20, :20] = 65535
    report = describe_image(ImageData(data, "YX", {}, None))
    assert report["saturated_fraction"] == pytest.approx(400 / 128**2)
    assert report["bits_used"] == 16
    assert any("saturated" in w for w in report["warnings"])
    assert any("pixel size" in w for w in report["warnings"])

    twelve_bit = ImageData(np.clip(data, 0, 4095), "YX", {"X": 10.0, "Y": 10.0}, None)
    report = describe_image(twelve_bit)
    assert report["bits_used"] == 12
    assert any("12 of 16 bits" in w for w in report["warnings"])
    assert not any("pixel size" in w for w in report["warnings"])


def test_report_of_a_constant_image_and_of_nan_pixels():
    flat = describe_image(ImageData(np.full((32, 32), 7, np.uint8), "YX", {}, None))
    assert any("constant" in w for w in flat["warnings"])
    data = np.ones((32, 32), np.float32)
    data[0, 0] = np.nan
    report = describe_image(ImageData(data, "YX", {}, None))
    assert any("NaN" in w for w in report["warnings"])
    with pytest.raises(InputError, match="no finite"):
        describe_image(ImageData(np.full((8, 8), np.nan, np.float32), "YX", {}, None))


def test_snr_is_higher_for_the_long_dwell_scan():
    ps = simulate("fluorescence", (256, 256), 4, seed=0)
    hr = describe_image(ImageData(ps.hr, "YX", {}, None))
    lr = describe_image(ImageData(ps.lr, "YX", {}, None))
    assert hr["snr"] > 2 * lr["snr"]


def test_estimate_shift_and_apply_shift_undo_each_other():
    ref = smooth_field()
    moved = apply_shift(ref, (2.3, -1.6))
    dy, dx = estimate_shift(moved, ref)
    assert (dy, dx) == pytest.approx((-2.3, 1.6), abs=0.1)
    back = apply_shift(moved, (dy, dx))
    inner = (slice(10, -10), slice(10, -10))
    assert np.abs(back - ref)[inner].max() < 0.02 * np.ptp(ref)


@pytest.mark.parametrize("specimen", ["em", "fluorescence"])
def test_measured_lr_offset_tells_point_scan_from_binning(specimen):
    ps = simulate(specimen, (256, 256), 4, seed=3)
    decimated = measure_lr_offset(ps.lr, ps.hr, 4)
    assert max(map(abs, decimated)) < 0.4  # a point scan keeps pixel 0 of each block
    binned = F.avg_pool2d(torch.from_numpy(ps.hr.astype(np.float32))[None, None], 4)[0, 0]
    assert measure_lr_offset(binned.numpy(), ps.hr, 4) == pytest.approx((1.5, 1.5), abs=0.3)


def test_pair_report_flags_drift_and_size_mismatch():
    ps = simulate("fluorescence", (256, 256), 4, seed=4)
    ok = describe_pair(ImageData(ps.lr, "YX", {}, None), ImageData(ps.hr, "YX", {}, None), 4)
    assert ok["warnings"] == []
    drifted = apply_shift(ps.lr.astype(np.float32), (0.6, 0.0))
    bad = describe_pair(ImageData(drifted, "YX", {}, None), ImageData(ps.hr, "YX", {}, None), 4)
    assert bad["offset_hr_px"][0] == pytest.approx(-2.4, abs=0.4)
    assert any("shifted" in w for w in bad["warnings"])
    wrong = describe_pair(ImageData(ps.lr, "YX", {}, None), ImageData(ps.hr, "YX", {}, None), 2)
    assert any("do not match the scale" in w for w in wrong["warnings"])


def test_run_writes_a_report_for_folders_of_pairs(tmp_path):
    for i in range(2):
        ps = simulate("em", (128, 128), 4, seed=i)
        for folder, data, px in (("hr", ps.hr, 4.0), ("lr", ps.lr, 16.0)):
            write_tiff(tmp_path / folder / f"cell{i}.tif", data, "YX", {"X": px, "Y": px})
    params = DataParams(images=str(tmp_path / "hr"), lr_images=str(tmp_path / "lr"), scale=4)
    report = run(params, tmp_path / "out")
    assert [r["shape"] for r in report["images"]] == [[128, 128]] * 2
    assert len(report["pairs"]) == 2 and all(p["offset_hr_px"] for p in report["pairs"])
    assert [r["ok"] for r in pair_rows(report)] == [True, True]
    saved = json.loads((tmp_path / "out" / "data_report.json").read_text())
    assert saved["images"][1]["file"].endswith("cell1.tif")


def test_run_on_the_real_low_high_snr_pairs(shared_data, tmp_path):
    folder = shared_data / "gigadb_hagen_pairs"
    params = DataParams(
        images=str(folder),
        lr_images=str(folder),
        scale=1,
        pattern="*highsnr*",
        lr_token="lowsnr",
        hr_token="highsnr",
    )
    report = run(params, tmp_path)
    assert len(report["pairs"]) == 2
    for pair in report["pairs"]:
        assert pair["lr"].endswith("lowsnr.png")
        assert max(map(abs, pair["offset_hr_px"])) < 1.0


def test_one_folder_holding_both_sides_is_described_as_pairs(tmp_path):
    from pathlib import Path

    from pssr_nb.describe import DataParams, run

    rng = np.random.default_rng(0)
    for name in ("mito", "nucleus"):
        clean = (rng.random((64, 64)) * 200).astype(np.uint8)
        write_tiff(tmp_path / f"{name}_highsnr.tif", clean, "YX")
        write_tiff(tmp_path / f"{name}_lowsnr.tif", clean, "YX")
    params = DataParams(images=str(tmp_path), lr_images=str(tmp_path), scale=1,
                        pattern="*highsnr*", lr_token="lowsnr", hr_token="highsnr")  # fmt: skip
    report = run(params, tmp_path / "report")
    assert [Path(r["file"]).name for r in report["images"]] == [
        "mito_highsnr.tif",
        "nucleus_highsnr.tif",
    ]
    assert [Path(p["lr"]).name for p in report["pairs"]] == [
        "mito_lowsnr.tif",
        "nucleus_lowsnr.tif",
    ]
