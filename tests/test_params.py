"""Settings are checked when they are made, for every parameter dataclass."""

import dataclasses
import math
import typing

import pytest

from pssr_nb.benchmark import BenchmarkParams
from pssr_nb.calibrate import CalibrateParams
from pssr_nb.demo import DemoParams
from pssr_nb.describe import DataParams
from pssr_nb.errors import InputError
from pssr_nb.model_zoo import ExportParams
from pssr_nb.params import Checked, base_type, param
from pssr_nb.phantoms import SimulateParams
from pssr_nb.point_scan import PointScanParams
from pssr_nb.predict import PredictParams
from pssr_nb.train import TrainParams


def _checked_classes() -> list[type]:
    """Every parameter dataclass of the package (each module imported, its Checked found)."""
    import importlib
    import importlib.util
    import pkgutil

    import pssr_nb

    napari = all(importlib.util.find_spec(n) for n in ("napari", "magicgui"))
    for info in pkgutil.iter_modules(pssr_nb.__path__):
        if info.name == "__main__" or (info.name.startswith("napari_") and not napari):
            continue  # the napari front end needs its extra
        importlib.import_module(f"pssr_nb.{info.name}")
    found, todo = [], list(Checked.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return sorted(found, key=lambda c: c.__name__)


ALL = _checked_classes()


def test_every_parameter_dataclass_is_checked_here():
    named = {
        BenchmarkParams,
        CalibrateParams,
        DemoParams,
        DataParams,
        SimulateParams,
        PointScanParams,
        PredictParams,
        TrainParams,
        ExportParams,
    }
    assert named <= set(ALL)


def _bad_values(cls):
    """(field, value) pairs that break a field's type, choices or bounds."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind, meta = base_type(hints[f.name]), f.metadata
        if typing.get_origin(kind) is tuple:
            continue
        if kind in (int, float):
            yield f.name, "3"
            if "minimum" in meta:
                yield f.name, meta["minimum"] - 1
            if "maximum" in meta:
                yield f.name, meta["maximum"] + 1
            if "above" in meta:
                yield f.name, meta["above"]
        if kind is int:
            yield f.name, 2.5
        if meta.get("odd"):
            yield f.name, 2
        if kind is float:
            yield f.name, math.nan
            yield f.name, math.inf
        if "choices" in meta:
            yield f.name, "no such choice"
        if kind is bool:
            yield f.name, "yes"


CASES = [(cls, name, value) for cls in ALL for name, value in _bad_values(cls)]


@pytest.mark.parametrize("cls", ALL)
def test_the_defaults_are_valid(cls):
    cls()


@pytest.mark.parametrize(("cls", "name", "value"), CASES, ids=lambda v: str(v))
def test_a_setting_out_of_range_names_itself_its_flag_and_what_is_allowed(cls, name, value):
    with pytest.raises(InputError) as info:
        cls(**{name: value})
    message = str(info.value)
    assert f"{name} = {value!r}" in message
    assert "--" + name.replace("_", "-") in message
    assert "the default is" in message


def test_the_settings_the_issue_names_are_refused():
    # predict --batch-size -1 wrote a constant image; the others crashed deep inside
    for make in (
        lambda: PredictParams(batch_size=-1),
        lambda: PredictParams(batch_size=0),
        lambda: TrainParams(batch_size=-1),
        lambda: TrainParams(val_tiles=0),
        lambda: CalibrateParams(scale=0),
    ):
        with pytest.raises(InputError, match="cannot be used"):
            make()


def test_a_training_tile_must_fit_the_scale():
    with pytest.raises(InputError, match="tile = 30 .* multiple of scale = 4") as info:
        TrainParams(tile=30, scale=4)
    assert "--tile" in str(info.value) and "28" in str(info.value)
    TrainParams(tile=32, scale=4), TrainParams(tile=0, scale=3), TrainParams(tile=33, scale=3)
    TrainParams(tile=30)  # scale 0: the crappifier's, checked when the run starts


#: Settings that are fine alone but not together, and the setting the error must name.
TOGETHER = [
    (TrainParams, {"tile": 30, "scale": 4}, "tile"),
    (TrainParams, {"tile": 2}, "tile"),
    (TrainParams, {"val_lr": "lr/"}, "val_hr"),
    (TrainParams, {"val_hr": "hr/"}, "val_lr"),
    (TrainParams, {"val_semi_synthetic": True}, "val_semi_synthetic"),
    (PredictParams, {"tile": 16, "overlap": 16}, "overlap"),
    (DemoParams, {"size": 130}, "size"),
    (SimulateParams, {"size": 130, "scale": 4}, "size"),
    (DataParams, {"lr_images": "lr/"}, "lr_images"),
    (ExportParams, {"authors": ("",)}, "authors"),
    (ExportParams, {"license": " "}, "license"),
]


@pytest.mark.parametrize(("cls", "values", "name"), TOGETHER, ids=lambda v: str(v))
def test_settings_that_do_not_fit_together_fail_when_made_naming_the_setting(cls, values, name):
    with pytest.raises(InputError) as info:
        cls(**values)
    message = str(info.value)
    assert f"setting {name} = " in message and "--" + name.replace("_", "-") in message
    # the same from a notebook form, at form.params(), not minutes into a run
    pytest.importorskip("ipywidgets")
    from pssr_nb.ui import Form

    form = Form(cls)
    form.set(**values)
    with pytest.raises(InputError, match=f"setting {name} = "):
        form.params()


def test_bounds_accept_their_edges_and_numpy_numbers():
    np = pytest.importorskip("numpy")
    PredictParams(batch_size=1, overlap=0)
    TrainParams(val_fraction=0.0, minutes=1, steps=np.int64(3), learning_rate=np.float32(1e-3))


def test_a_bound_is_stated_in_words():
    @dataclasses.dataclass
    class Example:
        n: int = param(1, "n", minimum=1, maximum=3)
        x: float = param(1.0, "x", above=0)

    from pssr_nb.params import check

    with pytest.raises(InputError, match="at least 1 and at most 3"):
        check(Example(n=4))
    with pytest.raises(InputError, match="above 0"):
        check(Example(x=0.0))
