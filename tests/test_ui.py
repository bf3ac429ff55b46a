import dataclasses

import pytest

from pssr_nb.demo import DemoParams
from pssr_nb.errors import InputError
from pssr_nb.params import param
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.predict import PredictParams
from pssr_nb.train import TrainParams
from pssr_nb.ui import Form


@pytest.mark.parametrize("cls", [DemoParams, SimulateParams, TrainParams, PredictParams])
def test_an_untouched_form_gives_the_defaults(cls):
    form = Form(cls)
    assert form.params() == cls()
    assert len(form.box().children) == len(dataclasses.fields(cls))


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
