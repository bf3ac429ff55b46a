import dataclasses

import pytest

from pssr_nb.demo import DemoParams
from pssr_nb.errors import InputError
from pssr_nb.params import param
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.predict import PredictParams
from pssr_nb.train import TrainParams
from pssr_nb.ui import Form, Viewer


@pytest.mark.parametrize("cls", [DemoParams, SimulateParams, TrainParams, PredictParams])
def test_an_untouched_form_gives_the_defaults(cls, monkeypatch):
    monkeypatch.setenv("PSSR_NB_QUICK", "0")
    form = Form(cls)
    assert form.params() == cls()
    assert len(form.box().children) == len(dataclasses.fields(cls))


@pytest.mark.parametrize("cls", [DemoParams, TrainParams, PredictParams])
def test_in_quick_mode_a_form_starts_from_the_quick_values_under_the_given_ones(cls, monkeypatch):
    monkeypatch.setenv("PSSR_NB_QUICK", "1")
    assert cls.QUICK and Form(cls).params() == cls(**cls.QUICK)
    name = next(iter(cls.QUICK))
    given = {name: getattr(cls(), name)}  # a learner's value wins over quick mode's
    assert getattr(Form(cls, **given).params(), name) == given[name]


def test_the_run_uses_the_values_set_in_the_form(tmp_path):
    form = Form(SimulateParams)
    form.set(specimen="fluorescence", size=64, n_images=1, seed=7)
    record = simulate(form.params(), tmp_path)
    assert [img["file"] for img in record["images"]] == ["fluorescence_007.tif"]
    assert record["params"]["size"] == 64


@dataclasses.dataclass
class _WithTuple:
    percentiles: tuple[float, ...] = param((0.1, 99.9), "Lower and upper percentile.")
    note: str = param("", "Free text.")
    tta: bool = param(False, "Use TTA.")


def test_tuple_text_and_bool_fields_round_trip():
    form = Form(_WithTuple, note="x")
    assert form.params() == _WithTuple(note="x")
    form.set(percentiles=(1.0, 99.0), tta=True)
    assert form.params() == _WithTuple((1.0, 99.0), "x", True)
    form.widgets["percentiles"].value = "1, lots"
    with pytest.raises(InputError, match="comma-separated list of floats"):
        form.params()


def test_unknown_settings_are_named():
    with pytest.raises(InputError, match="no setting"):
        Form(TrainParams, minutse=3)
    with pytest.raises(InputError, match="no setting 'tiles'"):
        Form(PredictParams).set(tiles=3)


def test_choices_become_dropdowns():
    import ipywidgets

    form = Form(TrainParams)
    assert isinstance(form.widgets["preset"], ipywidgets.Dropdown)
    assert "large" in form.widgets["preset"].options


def test_viewer_slices_leading_axes_and_zooms_the_same_field_in_every_panel():
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np

    lr = np.arange(3 * 8 * 8, dtype=np.float32).reshape(3, 8, 8)
    hr = np.repeat(np.repeat(lr, 4, axis=1), 4, axis=2)
    viewer = Viewer({"lr": lr, "hr": hr}, axes="TYX")
    assert set(viewer.controls) == {"T", "zoom", "y", "x"}
    assert viewer.plane("lr", T=2)[0, 0] == lr[2, 0, 0]
    fig = viewer.draw(zoom=4, y=0.0, x=1.0, T=1)
    shown = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    assert shown[0].shape == (2, 2) and shown[1].shape == (8, 8)
    # the top-right corner of plane T=1 in both panels
    assert shown[0][0, -1] == lr[1, 0, -1] and shown[1][0, -1] == lr[1, 0, -1]
    assert len(viewer.box().children) == 3
    assert fig._suptitle.get_text() == "T=1"
    named = Viewer({"lr": lr}, axes=("step", "Y", "X"), captions={"step": [0, 50, 100]})
    assert named.draw(step=2)._suptitle.get_text() == "step 100"


def test_live_plot_redraws_at_validations_and_draws_the_curves():
    import matplotlib

    matplotlib.use("Agg")
    from pssr_nb.ui import LivePlot

    live = LivePlot(every_s=3600)
    live({"kind": "train", "step": 1, "loss": 0.5})
    live({"kind": "train", "step": 2, "loss": 0.4})
    live({"kind": "val", "step": 2, "val_psnr": 20.0, "baseline_psnr": 18.0})
    loss_ax, psnr_ax = live._fig.axes
    assert loss_ax.lines[0].get_ydata().tolist() == [0.5, 0.4]
    assert [line.get_ydata().tolist() for line in psnr_ax.lines] == [[20.0], [18.0]]


def test_viewer_refuses_images_with_different_leading_axes():
    import numpy as np

    with pytest.raises(InputError, match="share their leading axes"):
        Viewer({"a": np.zeros((2, 8, 8)), "b": np.zeros((3, 8, 8))})


def test_live_form_redraws_its_preview_with_the_current_values():
    seen = []
    form = Form(SimulateParams)
    box = form.live(lambda params: seen.append(params.size))
    form.set(size=96)
    assert seen[-1] == 96 and len(box.children) == 2
