import json
import os

import pytest

from pssr_nb.crappify import Crappifier, Downsample, Poisson
from pssr_nb.errors import InputError
from pssr_nb.models import ModelConfig
from pssr_nb.params import quick_mode
from pssr_nb.project import Project


def test_an_empty_project_falls_back_to_the_sample_project(tmp_path):
    project = Project(tmp_path / "p")
    assert project.model().config.scale == 4  # the shipped sample model
    assert project.crappifier().scale == 4
    assert len(list(project.hr().glob("*.tif"))) == 4
    assert len(list(project.lr().glob("*.tif"))) == 2
    assert project.steps == {}  # falling back records nothing


def test_recorded_outputs_win_and_survive_reopening(tmp_path):
    project = Project(tmp_path)
    crap = Crappifier([Downsample(2), Poisson(50.0)])
    path = crap.save(tmp_path / "calibrate" / "crappifier.json")
    project.record("calibrate", crappifier=path, photons=50.0)
    again = Project(tmp_path)
    assert again.crappifier() == crap and again.get("photons") == 50.0
    stored = json.loads((tmp_path / "project.json").read_text())
    assert stored["steps"]["calibrate"]["crappifier"] == {"path": "calibrate/crappifier.json"}
    assert again.get("missing", "default") == "default"


def test_the_latest_step_wins_for_a_shared_key(tmp_path, monkeypatch):
    project = Project(tmp_path)
    times = iter(["2026-01-01T00:00:00", "2026-01-02T00:00:00"])
    monkeypatch.setattr("pssr_nb.project.time.strftime", lambda fmt: next(times))
    project.record("understand_data", hr=tmp_path / "a")
    project.record("train", hr=tmp_path / "b")
    assert project.hr() == tmp_path / "b"


def test_a_damaged_manifest_is_explained(tmp_path):
    (tmp_path / "project.json").write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        Project(tmp_path).get("model")
    (tmp_path / "project.json").write_text('{"steps": {}}')
    with pytest.raises(InputError, match="not written by pssr_nb"):
        Project(tmp_path).get("model")


@pytest.mark.parametrize(
    "env,expected",
    [
        ({}, False),
        ({"CI": "true"}, True),
        ({"PSSR_NB_QUICK": "1"}, True),
        ({"CI": "1", "PSSR_NB_QUICK": "0"}, False),
    ],
)
def test_quick_mode(monkeypatch, env, expected):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PSSR_NB_QUICK", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert quick_mode() is expected


def test_model_choice_imports_pssr2_and_explains_a_missing_file(tmp_path):
    import torch

    from pssr_nb.model_file import TrainedModel, sample_model_path
    from tests.test_pssr2_import import _pssr2_like

    project = Project(tmp_path)
    assert project.model_path("") == sample_model_path()
    assert project.model_path("em_x4") == sample_model_path("em_x4")
    torch.save(_pssr2_like(scale=2).state_dict(), tmp_path / "theirs.pth")
    converted = project.model_path(str(tmp_path / "theirs.pth"))
    assert converted.parent == tmp_path / "models"
    assert TrainedModel.load(converted).config.scale == 2
    assert project.model_path("") == converted  # what notebook 04 uses next time
    # a sample model chosen for one benchmark does not replace the trained one
    project.record("benchmark", model=sample_model_path("em_x4"))
    assert project.model_path("") == converted
    trained = tmp_path / "run" / "model_best.pt"
    project.record("train", model=trained)
    assert (
        project.model_path("") == trained and project.get("model", step="import_pssr2") == converted
    )
    with pytest.raises(InputError, match="does not exist"):
        project.model_path(str(tmp_path / "nothing.pt"))


def test_pairs_come_from_notebook_01_else_from_the_sample(tmp_path):
    from pssr_nb.io import write_tiff

    project = Project(tmp_path / "p")
    sample = project.pairs()
    assert project.lr().parent.name == "test"  # the held-out sample phantoms
    assert len(sample) == 4 and all(lr.parent.name == "lr" for lr, _ in sample)
    import numpy as np

    write_tiff(tmp_path / "lr" / "cell_lowsnr.tif", np.zeros((8, 8), np.uint8), "YX")
    write_tiff(tmp_path / "hr" / "cell_highsnr.tif", np.zeros((8, 8), np.uint8), "YX")
    project.record(
        "your_data",
        hr=tmp_path / "hr",
        paired_lr=tmp_path / "lr",
        lr_token="lowsnr",
        hr_token="highsnr",
    )
    assert [(lr.name, hr.name) for lr, hr in project.pairs()] == [
        ("cell_lowsnr.tif", "cell_highsnr.tif")
    ]
    assert project.lr() == tmp_path / "lr"  # what notebook 04 super-resolves by default


def test_one_folder_with_both_sides_is_used_as_notebook_01_chose(tmp_path):
    import numpy as np

    from pssr_nb.io import write_tiff

    folder = tmp_path / "gigadb"
    for name in ("mito_lowsnr", "mito_highsnr", "nucleus_lowsnr", "nucleus_highsnr"):
        write_tiff(folder / f"{name}.tif", np.zeros((8, 8), np.uint8), "YX")
    project = Project(tmp_path / "p")
    project.record("your_data", hr=folder, paired_lr=folder, pattern="*highsnr*",
                   lr_token="lowsnr", hr_token="highsnr")  # fmt: skip
    assert [p.name for p in project.hr()] == ["mito_highsnr.tif", "nucleus_highsnr.tif"]
    assert [(a.name, b.name) for a, b in project.pairs()] == [
        ("mito_lowsnr.tif", "mito_highsnr.tif"),
        ("nucleus_lowsnr.tif", "nucleus_highsnr.tif"),
    ]
    assert project.test_pairs() == project.pairs()


def test_benchmark_pairs_are_given_recorded_or_the_held_out_sample(tmp_path):
    import numpy as np

    from pssr_nb.io import write_tiff

    project = Project(tmp_path / "p")
    held_out = project.test_pairs()
    assert held_out and all(lr.parent.parent.name == "test" for lr, _ in held_out)
    assert not set(held_out) & set(project.pairs())  # never the training pairs
    write_tiff(tmp_path / "lr" / "a_low.tif", np.zeros((8, 8), np.uint8), "YX")
    write_tiff(tmp_path / "hr" / "a_high.tif", np.zeros((8, 8), np.uint8), "YX")
    given = project.test_pairs(str(tmp_path / "lr"), str(tmp_path / "hr"), "low", "high")
    assert [(a.name, b.name) for a, b in given] == [("a_low.tif", "a_high.tif")]
    with pytest.raises(InputError, match="both"):
        project.test_pairs(str(tmp_path / "lr"))


def test_the_sample_crappifier_is_calibrated_to_the_sample_microscope(tmp_path):
    """In training units (the HR's percentiles), not the simulator's physical ones."""
    from pssr_nb.calibrate import PointScanParams
    from pssr_nb.io import read_image
    from pssr_nb.normalize import percentile_normalization
    from pssr_nb.phantoms import MICROSCOPES, physical_normalization, scan_noise

    project = Project(tmp_path)
    point_scan = PointScanParams.from_crappifier(project.crappifier().typical())
    hr = read_image(project.sample_data()["train"] / "hr" / "em_100.tif").data
    m = MICROSCOPES["sem"]
    units = percentile_normalization(hr)
    physical = physical_normalization(m, m.hr_dwell_us)
    lr_noise = scan_noise(m, m.lr_dwell_us, physical, units)
    hr_noise = scan_noise(m, m.hr_dwell_us, physical, units)
    added = 1 / (1 / lr_noise.photons - 1 / hr_noise.photons)  # the HR brings its own
    assert point_scan.photons == pytest.approx(added, rel=0.15)
    assert (project.sample_data()["train"] / "calibrate" / "calibration.json").is_file()


def test_training_fine_tunes_the_matching_sample_model_and_validates_on_held_out_pairs(tmp_path):
    project = Project(tmp_path)
    defaults = project.training_defaults(scale=4)
    assert defaults["init"] == "em_x4"
    test = project.sample_data()["test"]
    assert defaults["val_lr"] == str(test / "lr") and defaults["val_hr"] == str(test / "hr")
    # never validate on what training sees
    assert not set(os.listdir(test / "hr")) & set(os.listdir(project.hr()))
    assert project.training_defaults(scale=2)["init"] == "em_x4"  # its weights fit any scale
    project.record("data", hr=tmp_path / "mine")
    assert project.training_defaults(scale=4) == {}  # the user's data: theirs to name


def test_the_quickstart_starts_from_scratch_a_sample_model_or_a_file(monkeypatch):
    from pssr_nb.demo import DemoParams, _start_model

    assert _start_model(DemoParams(start="scratch")) == ""
    assert _start_model(DemoParams()) == "em_x4"  # auto: the sample model when there is one
    assert _start_model(DemoParams(specimen="fluorescence")) == "fluorescence_x4"
    assert _start_model(DemoParams(scale=2)) == "em_x4"  # its weights fit any scale
    assert _start_model(DemoParams(start="sample")) == "em_x4"
    assert _start_model(DemoParams(start="runs/model_best.pt")) == "runs/model_best.pt"
    # sample models whose weights fit their own scale only: scratch, or a clear message
    monkeypatch.setattr(ModelConfig, "fits_any_scale", property(lambda self: False))
    assert _start_model(DemoParams(scale=2)) == ""
    assert _start_model(DemoParams(start="sample")) == "em_x4"
    with pytest.raises(InputError, match="no sample model for em at 2x"):
        _start_model(DemoParams(start="sample", scale=2))
