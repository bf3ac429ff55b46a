import json

import pytest

from pssr_nb.cli import main


def test_demo_runs_end_to_end_and_aligned_baseline_wins(tmp_path, capsys):
    out = tmp_path / "demo"
    assert (
        main(
            ["demo", "--out", str(out), "--size", "128", "--n-train", "2", "--n-test", "2"]
            + ["--steps", "12"]
        )
        == 0
    )
    report = json.loads((out / "report.json").read_text())
    s = report["summary"]
    assert s["bicubic"]["psnr_mean"] > s["bicubic_misaligned"]["psnr_mean"]
    assert {r["image"] for r in report["scores"]} == {"em_1000.tif", "em_1001.tif"}
    psnrs = [r["psnr"] for r in report["scores"] if r["method"] == "bicubic"]
    assert psnrs[0] != psnrs[1]  # each image scored on its own
    for path in (
        "overview.png",
        "crappifier.json",
        "calibration.json",
        "run_demo.json",
        "predictions/bicubic/em_1000.tif",
        "predictions/model/em_1001.tif",
        "model/model_best.pt",
    ):
        assert (out / path).is_file(), path
    nc = report["noise_check"]  # calibration finds the simulated microscope's photons
    assert nc["lr_photons_calibrated"] == pytest.approx(nc["lr_photons_simulated"], rel=0.2)
    assert "Quickstart written" in capsys.readouterr().out
    assert {"model", "bicubic"} <= set(s) and report["training"]["steps"] == 12
    # the headline is the gain over the best baseline (here one of the restorations)
    gain = report["headline"]["psnr"]
    assert gain["best_baseline"] in ("bicubic+gaussian", "bicubic+wiener", "nl-means+bicubic")
    assert gain["gain_mean"] == pytest.approx(
        s["model"]["psnr_mean"] - s[gain["best_baseline"]]["psnr_mean"], abs=1e-3
    )
    assert s[gain["best_baseline"]]["psnr_mean"] == max(
        v["psnr_mean"] for k, v in s.items() if k != "model"
    )
    # running it again replaces the finished run instead of refusing
    assert (
        main(
            [
                "demo",
                "--out",
                str(out),
                "--size",
                "128",
                "--n-train",
                "2",
                "--n-test",
                "1",
                "--steps",
                "12",
            ]
        )
        == 0
    )


def test_the_quickstart_never_removes_what_it_did_not_make(tmp_path, capsys):
    """A finished run of pssr-nb train, or a user's files, in the quickstart's folder stay."""
    from pssr_nb.files import OWNER_FILE

    out = tmp_path / "demo"
    (out / "model").mkdir(parents=True)
    (out / OWNER_FILE).write_text("demo\n")  # an earlier quickstart's folder, whose model
    (out / "model" / "train.json").write_text("{}")  # was then trained by pssr-nb train
    (out / "model" / "model_best.pt").write_bytes(b"a trained model")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    args = ["demo", "--out", str(out), "--size", "64", "--n-train", "1", "--n-test", "1"]
    assert main(args + ["--steps", "2"]) == 2
    err = capsys.readouterr().err
    assert "does not write over them" in err and "model" in err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # a folder of the user's own files is refused as a whole
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "crappifier.json").write_text("{}")
    assert main(["demo", "--out", str(mine), "--steps", "2"]) == 2
    assert (mine / "crappifier.json").read_text() == "{}" and len(list(mine.iterdir())) == 1


def test_simulate_inspect_and_datasets(tmp_path, capsys):
    assert (
        main(
            [
                "simulate",
                "--out",
                str(tmp_path),
                "--size",
                "64",
                "--n-images",
                "1",
                "--specimen",
                "fluorescence",
            ]
        )
        == 0
    )
    assert main(["inspect", str(tmp_path / "hr" / "fluorescence_000.tif")]) == 0
    out = capsys.readouterr().out
    assert "axes YX" in out and "uint16" in out and "40" in out
    assert main(["datasets"]) == 0
    assert "phantom_em" in capsys.readouterr().out


def test_describe_reports_images_and_pairs(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["simulate", "--out", str(data), "--n-images", "2", "--size", "64"]) == 0
    capsys.readouterr()
    args = ["describe", "--images", str(data / "hr"), "--lr-images", str(data / "lr")]
    assert main([*args, "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    assert out.count("em_00") >= 4 and "offset_y_hr_px" in out  # two images, two pairs
    report = json.loads((tmp_path / "report" / "data_report.json").read_text())
    assert len(report["pairs"]) == 2 and not report["warnings"]
    assert main(["describe", "--out", str(tmp_path / "none")]) == 2
    assert "--images" in capsys.readouterr().err


def test_calibrate_pairs_files_whose_names_differ_by_a_word(tmp_path, capsys):
    import shutil

    data = tmp_path / "data"
    assert main(["simulate", "--out", str(data), "--n-images", "1", "--size", "128"]) == 0
    low, high = tmp_path / "cell_lowsnr.tif", tmp_path / "cell_highsnr.tif"
    shutil.copy(data / "lr" / "em_000.tif", low)
    shutil.copy(data / "hr" / "em_000.tif", high)
    args = ["calibrate", "--lr", str(low), "--hr", str(high), "--physical-only"]
    tokens = ["--lr-token", "lowsnr", "--hr-token", "highsnr"]
    assert main([*args, "--out", str(tmp_path / "none")]) == 2  # the names differ
    assert "no partner" in capsys.readouterr().err
    assert main([*args, *tokens, "--out", str(tmp_path / "cal")]) == 0
    assert (tmp_path / "cal" / "crappifier.json").is_file()


def test_errors_are_one_readable_message(tmp_path, capsys):
    assert main(["inspect", str(tmp_path / "missing.tif")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "missing.tif" in err and "Traceback" not in err


def test_calibrate_command_writes_a_crappifier_training_can_use(tmp_path, capsys):
    from pssr_nb.crappify import Crappifier

    data = tmp_path / "data"
    assert main(["simulate", "--out", str(data), "--n-images", "2", "--size", "128"]) == 0
    out = tmp_path / "calibrate"
    args = ["calibrate", "--lr", str(data / "lr"), "--hr", str(data / "hr"), "--out", str(out)]
    assert main([*args, "--trials", "4", "--no-blur"]) == 0
    printed = capsys.readouterr().out
    assert "poisson" in printed and "crappifier.json" in printed
    assert Crappifier.load(out / "crappifier.json").scale == 4
    assert main(["calibrate", "--lr", str(data / "lr"), "--out", str(tmp_path / "lr_only")]) == 0
    assert "LR images alone" in capsys.readouterr().out
    assert main(["calibrate", "--lr", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
