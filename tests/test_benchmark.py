import csv
import json

import numpy as np
import pytest

from pssr_nb.benchmark import BenchmarkParams, evaluate
from pssr_nb.cli import main
from pssr_nb.errors import InputError, PairingError
from pssr_nb.io import read_image, write_tiff
from pssr_nb.model_file import load_sample_model, sample_model_path
from pssr_nb.phantoms import simulate
from pssr_nb.report import write_report


@pytest.fixture(scope="module")
def model():
    return load_sample_model()


@pytest.fixture(scope="module")
def phantom_result(model):
    return evaluate(
        model,
        BenchmarkParams(
            n_images=2, size=128, tile=64, resolution_pairs=8, resolution_draws=2, tta=True
        ),
    )


def test_every_image_gets_its_own_score_beside_every_baseline(phantom_result):
    rows = phantom_result.scores
    methods = ["model", "nearest", "bilinear", "bicubic", "bicubic+gaussian", "bicubic+wiener"]
    methods += ["nl-means+bicubic", "HR scan"]
    assert [r["method"] for r in rows[: len(methods)]] == methods
    images = sorted({r["image"] for r in rows})
    assert images == ["em_1000", "em_1001"]
    first, second = (
        [r for r in rows if r["image"] == i and r["method"] == "model"][0] for i in images
    )
    assert first["psnr"] != second["psnr"] and first["ssim"] != second["ssim"]
    summary = {r["method"]: r for r in phantom_result.summary}
    mean = np.mean([r["psnr"] for r in rows if r["method"] == "bicubic"])
    assert summary["bicubic"]["psnr_mean"] == pytest.approx(mean, abs=1e-4)
    # the slow HR scan is the best honest reference; nearest the worst interpolation
    assert summary["HR scan"]["psnr_mean"] > summary["model"]["psnr_mean"]
    assert summary["nearest"]["psnr_mean"] < summary["bilinear"]["psnr_mean"]
    assert all(r["geometry_ok"] for r in rows if r["method"] == "HR scan")


def test_resolution_is_measured_in_nm_for_bicubic_model_and_hr(phantom_result):
    frc = phantom_result.frc
    every = {"model", "nearest", "bilinear", "bicubic", "bicubic+gaussian", "bicubic+wiener"}
    every |= {"nl-means+bicubic", "HR scan"}
    for panel in ("against_reference", "repeats"):
        assert set(frc[panel]) == every
    assert frc["repeats"]["model"].summary()["draws"] == 3
    hr = frc["against_reference"]["HR scan"].resolution()
    bicubic = frc["against_reference"]["bicubic"].resolution()
    assert hr is not None and bicubic is not None and hr < bicubic
    rows = {r["method"]: r for r in phantom_result.two_point["rows"]}
    assert set(rows) == {
        "truth", "HR scan", "bicubic", "bicubic+gaussian", "bicubic+wiener", "nl-means+bicubic",
        "model",
    }  # fmt: skip
    hr, bicubic = rows["HR scan"]["d50_nm"], rows["bicubic"]["d50_nm"]
    assert hr is not None and (bicubic is None or hr < bicubic)
    assert rows["truth"]["d50_nm"] <= hr


def test_hallucination_and_uncertainty_checks_are_reported(phantom_result):
    flat = phantom_result.flat_noise["rows"]
    assert phantom_result.flat_noise["bar"] == "bicubic+gaussian"
    assert len(flat) == 3 and all(r["model long_lines"] >= 0 for r in flat)
    assert all(isinstance(r["invents"], bool) for r in flat)
    best = phantom_result.headline["psnr"]["best_baseline"]
    for check in (phantom_result.structure, phantom_result.detection):
        rows = {r["method"]: r for r in check["rows"]}
        assert check["reference"] == best
        assert not any(v for k, v in rows[best].items() if k in ("invents", "loses", "worse"))
        assert {"truth", "model", "bicubic", "HR scan"} <= set(rows) and "nearest" not in rows
        assert all(r["images"] == 2 for r in rows.values())
    assert -1 <= phantom_result.uncertainty["spearman"] <= 1
    vs_trivial = phantom_result.uncertainty["against_trivial"]
    assert vs_trivial["rows"][0]["images"] == 2 and isinstance(vs_trivial["informative"], bool)
    assert set(phantom_result.maps) == {
        "model |error|",
        "model SSIM",
        "bicubic |error|",
        "bicubic SSIM",
    }


def test_report_is_self_contained_and_never_overwritten(phantom_result, tmp_path):
    paths = write_report(phantom_result, tmp_path)
    page = paths["report.html"].read_text()
    assert page.count("data:image/png;base64,") >= 6
    for text in ("noiseless truth", "Two-point", "Structure from nothing", "does not show"):
        assert text in page
    record = json.loads(paths["benchmark.json"].read_text())
    assert record["summary"] == json.loads(json.dumps(phantom_result.summary))
    assert record["frc"]["against_reference"]["model"]["resolution_1/7_nm"] > 0
    with open(paths["scores.csv"]) as f:
        assert len(list(csv.DictReader(f))) == len(phantom_result.scores)
    with pytest.raises(InputError, match="overwrite"):
        write_report(phantom_result, tmp_path)


def test_real_data_needs_both_folders(model):
    with pytest.raises(InputError, match="needs LR and HR"):
        evaluate(model, BenchmarkParams(data="pairs"))


def _crops(folder, out, size=256):
    """256 x 256 crops of the GigaDB low/high-SNR pairs, written to a temporary folder."""
    for name in ("mito-confocal", "nucleus"):
        for snr in ("lowsnr", "highsnr"):
            data = read_image(folder / f"{name}_{snr}.png").data[:size, :size]
            write_tiff(out / snr / f"{name}_{snr}.tif", data, "YX", {})
    return out / "lowsnr", out / "highsnr"


def test_semi_synthetic_evaluation_on_a_real_pair_end_to_end(shared_data, tmp_path, capsys):
    low, high = _crops(shared_data / "gigadb_hagen_pairs", tmp_path / "data")
    out = tmp_path / "report"
    argv = ["benchmark", "--data", "semi-synthetic", "--lr", str(low), "--hr", str(high)]
    argv += ["--lr-token", "lowsnr", "--hr-token", "highsnr", "--no-tta", "--out", str(out)]
    assert main(argv) == 0
    assert "report.html" in capsys.readouterr().out
    record = json.loads((out / "benchmark.json").read_text())
    assert record["data"]["kind"] == "semi-synthetic"
    assert {r["image"] for r in record["scores"]} == {"mito-confocal_lowsnr", "nucleus_lowsnr"}
    assert "Semi-synthetic" in (out / "report.html").read_text()
    assert record["two_point"] is None  # targets exist only for phantoms
    ceiling = record["headline"]["ceiling"]
    assert (
        ceiling["room_db"] > 0 and "Room left by the reference" in (out / "report.html").read_text()
    )


def test_the_room_a_noisy_reference_leaves_is_all_taken_by_the_truth_and_none_by_a_baseline():
    from scipy import ndimage

    from pssr_nb.benchmark import Case, reference_ceiling, score_cases

    truth = simulate("em", (256, 256), 4, seed=3).truth.astype(np.float32)
    rng = np.random.default_rng(3)
    reference, scan = (truth + rng.normal(0, 0.05, truth.shape).astype(np.float32) for _ in "ab")
    smoothed = ndimage.gaussian_filter(scan, 3.0)  # another scan: its noise is not the reference's
    shares = []
    for model in (truth, smoothed):
        case = Case("a", reference[::4, ::4], reference, {"model": model, "smoothed": smoothed})
        rows = score_cases([case], BenchmarkParams(tile=64))
        shares.append(reference_ceiling([case], rows)["share_taken"])
    assert shares[0] == pytest.approx(1.0, abs=0.08) and shares[1] == pytest.approx(0.0, abs=1e-6)
    # smoothing the reference itself keeps its noise: a "baseline" above any honest ceiling
    own = ndimage.gaussian_filter(reference, 1.0)
    case = Case("a", reference[::4, ::4], reference, {"model": truth, "own": own})
    unmeasurable = reference_ceiling([case], score_cases([case], BenchmarkParams(tile=64)))
    assert unmeasurable["share_taken"] is None and "no room" in unmeasurable["text"]


def test_semi_synthetic_refuses_pairs_at_two_pixel_sizes(model, tmp_path):
    write_tiff(tmp_path / "lr" / "a.tif", np.zeros((32, 32), np.uint8), "YX", {})
    write_tiff(tmp_path / "hr" / "a.tif", np.zeros((128, 128), np.uint8), "YX", {})
    with pytest.raises(InputError, match="one pixel size") as info:
        evaluate(model, BenchmarkParams(data="semi-synthetic"), tmp_path / "lr", tmp_path / "hr")
    assert "a.tif" in str(info.value)
    write_tiff(tmp_path / "other" / "b.tif", np.zeros((128, 128), np.uint8), "YX", {})
    with pytest.raises(PairingError, match="b.tif"):
        evaluate(model, BenchmarkParams(data="pairs"), tmp_path / "lr", tmp_path / "other")


def test_single_pair_warns_that_the_baseline_saw_the_test_image(model, tmp_path):
    rng = np.random.default_rng(0)
    hr = (rng.random((128, 128)) * 200).astype(np.uint8)
    write_tiff(tmp_path / "lr" / "a.tif", hr[::4, ::4], "YX", {})
    write_tiff(tmp_path / "hr" / "a.tif", hr, "YX", {})
    result = evaluate(
        model, BenchmarkParams(data="pairs", tta=False), tmp_path / "lr", tmp_path / "hr"
    )
    assert any("tuned on the image they are scored on" in w for w in result.warnings)
    assert sample_model_path().is_file()


def test_the_notebook_form_values_are_what_the_benchmark_runs_with(model):
    from pssr_nb.ui import Form

    form = Form(BenchmarkParams)
    form.set(n_images=1, size=64, tta=False, normalization="fixed")
    result = evaluate(model, form.params())
    assert result.data["images"] == ["em_1000"]
    assert result.cases[0].reference.shape == (64, 64)
    assert result.uncertainty is None and result.settings["params"]["normalization"] == "fixed"


def test_the_benchmark_predicts_as_predict_does_unless_told_otherwise():
    from pssr_nb.predict import PredictParams

    assert BenchmarkParams().tta == PredictParams().tta  # its scores describe predict's output
