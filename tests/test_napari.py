"""The napari front end (``pssr_nb[napari]``): forms, readers, writer, sample data, widgets.

Headless: the widgets run against napari's ``ViewerModel`` (layers without a canvas) in a
Qt application on the offscreen platform, so no display or OpenGL is needed. Each widget
runs its step on small phantoms through its worker thread, as a click would.
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
pytest.importorskip("napari")
pytest.importorskip("magicgui")
pytest.importorskip("pytestqt")

from magicgui import widgets  # noqa: E402
from napari.components import ViewerModel  # noqa: E402

from pssr_nb.calibrate import CalibrateParams  # noqa: E402
from pssr_nb.errors import InputError  # noqa: E402
from pssr_nb.io import read_image, write_tiff  # noqa: E402
from pssr_nb.napari_forms import SettingsForm  # noqa: E402
from pssr_nb.napari_io import em_sample, get_reader, write_image  # noqa: E402
from pssr_nb.napari_widgets import (  # noqa: E402
    CalibrateWidget,
    Cancelled,
    PredictWidget,
    TrainWidget,
)
from pssr_nb.params import Checked, param  # noqa: E402
from pssr_nb.predict import PredictParams  # noqa: E402
from pssr_nb.train import TrainParams  # noqa: E402

TIMEOUT_MS = 120_000


@pytest.fixture
def viewer(qapp):
    model = ViewerModel()
    for data, kwargs, _ in em_sample():
        model.add_image(data, **kwargs)
    return model


def wait(qtbot, widget):
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=TIMEOUT_MS)


# --- forms -------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [PredictParams, CalibrateParams, TrainParams])
def test_every_setting_has_a_widget_with_its_help_and_the_defaults_come_back(qapp, cls):
    form = SettingsForm(cls)
    fields = dataclasses.fields(cls)
    assert list(form.widgets) == [f.name for f in fields]
    for f in fields:
        widget = form.widgets[f.name]
        assert widget.tooltip == f.metadata["help"]
        if "choices" in f.metadata:
            assert isinstance(widget, widgets.ComboBox)
            assert tuple(widget.choices) == f.metadata["choices"]
    assert form.params() == cls()


def test_a_new_field_appears_without_code_and_bad_entries_name_the_setting(qapp):
    @dataclasses.dataclass
    class Example(Checked):
        mode: str = param("a", "Which mode.", choices=("a", "b"))
        count: int = param(3, "How many.", minimum=1, maximum=9)
        rate: float = param(3e-4, "A small rate.", above=0)
        sizes: tuple[int, ...] = param((2, 4), "Sizes.")

    form = SettingsForm(Example)
    assert (form.widgets["count"].min, form.widgets["count"].max) == (1, 9)
    assert form.params().rate == 3e-4  # not rounded to a spin box's decimals
    form.set(mode="b", rate=1e-6, sizes=(8,))
    assert form.params() == Example("b", 3, 1e-6, (8,))
    form.widgets["rate"].value = "fast"
    with pytest.raises(InputError, match="'rate' must be a number"):
        form.params()
    form.set(rate=-1.0)
    with pytest.raises(InputError, match="rate = -1.0"):
        form.params()


# --- readers, writer, sample data ----------------------------------------------------


def test_sample_data_overlays_in_nanometres(viewer):
    hr, lr = viewer.layers
    assert hr.data.shape == (256, 256) and lr.data.shape == (64, 64)
    assert lr.scale[-1] == pytest.approx(4 * hr.scale[-1])
    np.testing.assert_allclose(viewer.layers.extent.world, hr.extent.world)
    # HR pixel 4 i (+ offset) is where LR pixel i was scanned
    assert lr.data_to_world((0, 0)) == pytest.approx(hr.data_to_world((0, 0)))


def test_the_reader_gives_the_pixel_size_as_scale_and_the_writer_never_overwrites(tmp_path):
    path = tmp_path / "scan.tif"
    write_tiff(
        path,
        np.arange(3 * 16 * 16, dtype=np.uint16).reshape(3, 16, 16),
        "ZYX",
        {"X": 8.0, "Y": 8.0, "Z": 50.0},
    )
    reader = get_reader(str(path))
    assert get_reader(str(tmp_path / "notes.txt")) is None
    [(data, kwargs, kind)] = reader(str(path))
    assert kind == "image" and data.shape == (3, 16, 16)
    assert kwargs["scale"] == (50.0, 8.0, 8.0)
    assert kwargs["metadata"]["axes"] == "ZYX"

    out = tmp_path / "copy.tif"
    assert write_image(str(out), data, kwargs) == [str(out)]
    again = read_image(out)
    assert again.axes == "ZYX" and again.pixel_size["X"] == pytest.approx(8.0)
    before = out.read_bytes()
    with pytest.raises(InputError, match="exist"):
        write_image(str(out), data * 0, kwargs)
    assert out.read_bytes() == before


def test_the_reader_opens_ome_zarr_lazily_with_its_pyramid(tmp_path):
    pytest.importorskip("zarr")
    pytest.importorskip("dask")
    from pssr_nb.volume import convert

    image = tmp_path / "big.tif"
    write_tiff(
        image,
        np.random.default_rng(0).integers(0, 255, (2, 512, 512), np.uint8),
        "ZYX",
        {"X": 5.0, "Y": 5.0},
    )
    store = tmp_path / "big.ome.zarr"
    convert(image, store)
    [(data, kwargs, _)] = get_reader(str(store))(str(store))
    assert kwargs["multiscale"] and len(data) >= 2
    assert data[0].shape == (2, 512, 512) and not isinstance(data[0], np.ndarray)
    assert kwargs["scale"][-2:] == (5.0, 5.0)


# --- widgets -------------------------------------------------------------------------


def test_predict_adds_the_result_over_its_input_with_the_uncertainty(qtbot, viewer):
    widget = PredictWidget(viewer)
    widget.image.value = "em phantom LR (fast scan)"
    widget.settings.set(tta=True)
    widget.start()
    wait(qtbot, widget)
    assert widget.error is None, widget.status.value
    lr = viewer.layers["em phantom LR (fast scan)"]
    out = viewer.layers["em phantom LR (fast scan) (pssr x4)"]
    assert out.data.shape == (256, 256) and out.data.dtype == np.float32
    assert out.scale[-1] == pytest.approx(lr.scale[-1] / 4)
    hr = viewer.layers["em phantom HR (slow scan)"]
    np.testing.assert_allclose(out.extent.world, hr.extent.world)
    assert "em phantom LR (fast scan) (pssr uncertainty)" in viewer.layers
    assert widget.progress.value == 100


def test_a_running_prediction_can_be_cancelled(qtbot, viewer):
    viewer.add_image(np.random.default_rng(0).random((6, 32, 32), np.float32), name="stack")
    widget = PredictWidget(viewer)
    widget.image.value = "stack"
    widget.start()
    widget.cancel()  # before its first plane is reported: stops there
    wait(qtbot, widget)
    assert isinstance(widget.error, Cancelled)
    assert widget.status.value == "Cancelled."
    assert "stack (pssr x4)" not in viewer.layers


def test_predict_names_a_missing_model_file(qtbot, viewer, tmp_path):
    widget = PredictWidget(viewer)
    widget.image.value = "em phantom LR (fast scan)"
    widget.model_file.value = tmp_path / "gone.pt"
    widget.start()
    wait(qtbot, widget)
    assert isinstance(widget.error, InputError)
    assert "does not exist" in widget.status.value


def test_calibrate_shows_the_ranking_saves_and_never_replaces(qtbot, viewer, tmp_path):
    widget = CalibrateWidget(viewer)
    widget.lr.value = "em phantom LR (fast scan)"
    widget.hr.value = "em phantom HR (slow scan)"
    widget.settings.set(trials=4, blur=False)
    widget.folder.value = tmp_path / "cal"
    widget.start()
    wait(qtbot, widget)
    assert widget.error is None, widget.status.value
    saved = tmp_path / "cal" / "crappifier.json"
    assert widget.saved == saved and json.loads(saved.read_text())["steps"]
    assert "family" in widget.table.value
    before = saved.read_bytes()
    widget.start()  # the same folder again: refused before any work
    assert isinstance(widget.error, InputError) and "already holds" in widget.status.value
    assert saved.read_bytes() == before


def test_train_shows_scores_and_a_preview_and_stop_resumes(qtbot, viewer, tmp_path):
    widget = TrainWidget(viewer)
    widget.hr.value = ["em phantom HR (slow scan)"]
    widget.runs.value = tmp_path / "runs"
    widget.settings.set(steps=6, tile=32, batch_size=2, val_tiles=2, validations=2, seed=1)
    widget.start()
    widget.cancel()  # Stop before the first log row: the run keeps its checkpoint
    wait(qtbot, widget)
    assert widget.result.summary["stopped"] == "interrupted"
    run = tmp_path / "runs" / "run_001"
    assert (run / "checkpoint.pt").exists()

    widget.start()  # Train again continues that run to its end
    wait(qtbot, widget)
    assert widget.error is None, widget.status.value
    assert widget.result.out_dir == run and widget.result.summary["stopped"] == "finished"
    assert widget.result.model.config.scale == 4
    assert "gain" in widget.log.value
    loss_ax, psnr_ax = widget.figure.axes  # the live curves: loss, and model vs baseline
    assert loss_ax.lines and len(psnr_ax.lines) == 2
    assert len(psnr_ax.lines[0].get_xdata()) == sum(r["kind"] == "val" for r in widget.rows)
    preview = viewer.layers[TrainWidget.PREVIEW]
    assert preview.data.ndim == 2 and preview.data.shape[0] % 4 == 0
    assert widget.status.value.startswith("finished")


def test_a_lazily_read_image_is_predicted_block_by_block_into_ome_zarr(
    qtbot, qapp, tmp_path, monkeypatch
):
    pytest.importorskip("zarr")
    pytest.importorskip("dask")
    from pssr_nb import napari_io
    from pssr_nb.phantoms import simulate

    field = simulate("em", shape=(256, 256), scale=4, seed=1001)
    image = tmp_path / "scan.tif"
    write_tiff(
        image,
        np.stack([field.lr, field.lr[::-1]]),
        "ZYX",
        {"X": field.lr_pixel_size, "Y": field.lr_pixel_size},
    )
    monkeypatch.setattr(napari_io, "LAZY_BYTES", 0)  # as if it were too large for memory
    viewer = ViewerModel()
    [(data, kwargs, _)] = napari_io.read_layers(str(image))
    layer = viewer.add_image(data, **kwargs)
    assert not isinstance(layer.data, np.ndarray)

    widget = PredictWidget(viewer)
    widget.image.value = layer.name
    widget.volume.set(block=128)
    widget.settings.set(tta=True)
    widget.start()
    wait(qtbot, widget)
    assert widget.error is None, widget.status.value
    out, spread = viewer.layers[-2:]  # the prediction, and its TTA uncertainty (hidden)
    assert spread.name.endswith("(pssr uncertainty)") and not spread.visible
    assert spread.data.shape == out.data.shape and spread.scale == pytest.approx(out.scale)
    assert (tmp_path / "scan_pssr.ome.zarr").is_dir()
    assert out.data.shape == (2, 256, 256)  # one level: 256 is the pyramid's smallest side
    assert not isinstance(out.data, np.ndarray)
    hr_px = field.lr_pixel_size / 4  # HR pixel 4 i lies on LR pixel i: same origin
    np.testing.assert_allclose(out.extent.world[:, -2:], [[0, 0], [255 * hr_px, 255 * hr_px]])
    np.testing.assert_allclose(out.scale[-2:], np.asarray(layer.scale[-2:]) / 4)
