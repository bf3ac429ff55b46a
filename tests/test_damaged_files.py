"""Damaged, malformed or lying files end in a message that names the file and the fix:
crappifier files, model files, checkpoints and image metadata (the reliability issue's
silently-wrong and unclear-message items)."""

import json
import os
import warnings

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import torch

from pssr_nb.crappify import Crappifier
from pssr_nb.data import Source
from pssr_nb.errors import InputError
from pssr_nb.io import read_image, write_tiff
from pssr_nb.model_file import TrainedModel
from pssr_nb.models import ResUNet, config_for
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.predict import PredictParams, predict_image
from pssr_nb.predict import run as predict
from pssr_nb.train import CHECKPOINT, TrainParams
from pssr_nb.train import run as train

TINY = dict(steps=4, tile=32, batch_size=2, val_tiles=2, validations=1, seed=5)


def _model(**kwargs) -> TrainedModel:
    torch.manual_seed(0)
    return TrainedModel(network=ResUNet(config_for("small", 4, 1)).eval(), **kwargs)


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    simulate(SimulateParams("em", size=96, scale=4, n_images=2), out)
    return out / "hr"


# -- crappifier files: one validator (Crappifier.from_dict) --------------------------------

GOOD = Crappifier.default(4).to_dict()


def _with_step(**changes):
    d = json.loads(json.dumps(GOOD))
    d["steps"][-1].update(changes)
    return json.dumps(d)


#: Malformed crappifier.json files (text, or None for a folder) and what the message says.
BAD_CRAPPIFIERS = {
    "a list": ("[1, 2, 3]", "not a pssr_nb crappifier"),
    "a string": ('"crappifier"', "not a pssr_nb crappifier"),
    "no format": ('{"steps": []}', "not a pssr_nb crappifier"),
    "no steps": ('{"format": "pssr_nb.crappifier", "version": 1}', "needs 'steps'"),
    "steps not a list": ('{"format": "pssr_nb.crappifier", "steps": 3}', "needs 'steps'"),
    "a step not a dict": ('{"format": "pssr_nb.crappifier", "steps": [4]}', "needs 'steps'"),
    "a newer version": ('{"format": "pssr_nb.crappifier", "version": 99, "steps": []}', "version"),
    "a version that is text": (
        '{"format": "pssr_nb.crappifier", "version": "x", "steps": []}',
        "version",
    ),
    "NaN noise": (_with_step(sigma=float("nan")), "finite number"),
    "infinite noise": (_with_step(sigma=float("inf")), "finite number"),
    "negative noise": (_with_step(sigma=-0.1), "at least 0"),
    "noise as text": (_with_step(sigma="lots"), "finite number"),
    "noise as a bool": (_with_step(sigma=True), "finite number"),
    "a range of three": (_with_step(sigma=[0.1, 0.2, 0.3]), "range"),
    "a reversed range": (_with_step(sigma=[0.3, 0.1]), "low <= high"),
    "an unknown parameter": (_with_step(colour="red"), "unknown parameters: colour"),
    "an unknown step": (
        '{"format": "pssr_nb.crappifier", "steps": [{"step": "jpeg"}]}',
        "Unknown crappifier step",
    ),
    "a scale of 2.5": (
        '{"format": "pssr_nb.crappifier", "steps": [{"step": "downsample", "scale": 2.5}]}',
        "positive integer",
    ),
    "a scale of NaN": (
        '{"format": "pssr_nb.crappifier", "steps": [{"step": "downsample", "scale": NaN}]}',
        "finite number",
    ),
    "not JSON": ("{steps: ", "not valid JSON"),
    "not UTF-8": (b"\xff\xfe\x00{", "not valid JSON"),
    "a folder": (None, "folder"),
    "missing": ("missing", "not found"),
}


@pytest.mark.parametrize("case", list(BAD_CRAPPIFIERS))
def test_every_malformed_crappifier_file_is_named_with_its_fault(case, tmp_path):
    content, expected = BAD_CRAPPIFIERS[case]
    path = tmp_path / "crappifier.json"
    if content is None:
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif content != "missing":
        path.write_text(content)
    with pytest.raises(InputError, match=expected) as info:
        Crappifier.load(path)
    assert info.value.path == path and info.value.fix


def test_a_valid_crappifier_file_still_loads(tmp_path):
    path = Crappifier.default(4).save(tmp_path / "crappifier.json")
    assert Crappifier.load(path) == Crappifier.default(4)


# -- model files and checkpoints ---------------------------------------------------------


def _nan_model(path):
    model = _model()
    with torch.no_grad():
        next(model.network.parameters()).fill_(float("nan"))
    return model.save(path)


#: Files given as a model, and the start of what the message says.
BAD_MODELS = {
    "random bytes": (lambda p: p.write_bytes(os.urandom(4000)), "not a PyTorch model file"),
    "a text file": (lambda p: p.write_text("hello\n" * 50), "not a PyTorch model file"),
    "an empty file": (lambda p: p.write_bytes(b""), "truncated"),
    "a zip that is not a model": (lambda p: _zip(p), "truncated"),
    "a tensor": (lambda p: torch.save(torch.zeros(3), p), "not a pssr_nb model file"),
    "a list": (lambda p: torch.save([1, 2], p), "not a pssr_nb model file"),
    "a model without config": (
        lambda p: torch.save({"format": "pssr_nb.model"}, p),
        "do not fit the architecture",
    ),
    "NaN weights": (_nan_model, "NaN or infinite values"),
    "a folder": (lambda p: p.mkdir(), "not found"),
}


def _zip(path):
    import zipfile

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a.txt", "x")


@pytest.mark.parametrize("case", list(BAD_MODELS))
def test_every_damaged_or_foreign_model_file_is_named(case, tmp_path):
    make, expected = BAD_MODELS[case]
    path = tmp_path / "model.pt"
    make(path)
    with pytest.raises(InputError, match=expected) as info:
        TrainedModel.load(path)
    assert info.value.path == path
    assert "could run code" not in str(info.value)  # only for pickles that import code


@pytest.mark.parametrize("case", ["random bytes", "a text file", "a tensor"])
def test_a_damaged_checkpoint_is_named_when_resuming(case, hr_folder, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    BAD_MODELS[case][0](run / CHECKPOINT)
    with pytest.raises(InputError) as info:
        train(TrainParams(**TINY), hr_folder, run, resume=True, progress=False)
    assert info.value.path == run / CHECKPOINT


def test_a_prediction_that_is_not_finite_is_an_error_not_an_image(monkeypatch, tmp_path):
    from pssr_nb import predict as predict_module

    def overflowing(model, lr, params, targets):
        for target in targets:
            target[:] = np.inf

    monkeypatch.setattr(predict_module, "predict_normalized", overflowing)
    image = write_tiff(tmp_path / "in" / "a.tif", np.ones((24, 24), np.uint8), "YX")
    model_path = _model().save(tmp_path / "m.pt")
    with pytest.raises(InputError, match="NaN or infinite values") as info:
        predict(PredictParams(), model_path, image, tmp_path / "out")
    assert info.value.path == image and not (tmp_path / "out" / "a_pssr.tif").exists()


# -- images whose metadata lies ----------------------------------------------------------


def test_an_alpha_channel_is_not_read_as_a_stack(tmp_path):
    grey = (np.arange(32 * 40).reshape(32, 40) % 251).astype(np.uint8)
    for name, pixels in {
        "grey_alpha.png": np.dstack([grey, np.full_like(grey, 255)]),
        "rgba.png": np.dstack([grey, grey, grey, np.full_like(grey, 255)]),
    }.items():
        iio.imwrite(tmp_path / name, pixels)
        image = read_image(tmp_path / name)
        assert image.axes == "YX" and image.shape == (32, 40), name
        np.testing.assert_array_equal(image.data, grey)


def test_an_unknown_length_unit_leaves_the_pixel_size_unknown(tmp_path):
    path = tmp_path / "furlong.tif"
    tifffile.imwrite(
        path,
        np.zeros((8, 8), np.uint8),
        imagej=True,
        resolution=(2.0, 2.0),
        metadata={"unit": "furlong"},
    )
    with pytest.warns(UserWarning, match="unknown length unit 'furlong'"):
        image = read_image(path)
    assert image.pixel_size == {}
    ome = tmp_path / "ome.ome.tif"
    tifffile.imwrite(
        ome, np.zeros((8, 8), np.uint8), metadata={"PhysicalSizeX": 2, "PhysicalSizeXUnit": "ly"}
    )
    with pytest.warns(UserWarning, match="unknown OME length unit"):
        assert read_image(ome).pixel_size == {}


@pytest.mark.parametrize("size", [0.0, -4.0])
def test_a_pixel_size_of_zero_or_below_is_dropped_and_the_folder_is_predicted(size, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    tifffile.imwrite(
        inputs / "bad.ome.tif",
        np.ones((24, 24), np.uint8),
        metadata={"PhysicalSizeX": size, "PhysicalSizeY": size},
    )
    write_tiff(inputs / "good.tif", np.ones((24, 24), np.uint8), "YX", 16.0)
    with pytest.warns(UserWarning, match="not a positive size"):
        assert read_image(inputs / "bad.ome.tif").pixel_size == {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = predict(PredictParams(), _model().save(tmp_path / "m.pt"), inputs, tmp_path / "o")
    assert len(report["files"]) == 2 and not report["failed"]
    with pytest.raises(InputError, match="not a positive size"):
        read_image(inputs / "good.tif", pixel_size=0)


def test_an_image_at_another_pixel_size_than_the_model_is_warned_about():
    model = _model(pixel_size_nm=16.0)
    image = np.ones((24, 24), np.float32)
    from pssr_nb.io import ImageData

    with pytest.warns(UserWarning, match="pixels are 4 nm but the model was trained on 16 nm"):
        predict_image(model, ImageData(image, "YX", {"X": 4.0, "Y": 4.0}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the same size, or an unknown one: no warning
        predict_image(model, ImageData(image, "YX", {"X": 17.0, "Y": 17.0}))
        predict_image(model, ImageData(image, "YX", {}))


def test_a_six_dimensional_tiff_is_not_called_corrupt(tmp_path):
    path = tmp_path / "six.tif"
    tifffile.imwrite(path, np.zeros((2, 2, 2, 2, 8, 8), np.uint8))
    with pytest.raises(InputError, match="6 dimensions") as info:
        read_image(path)
    assert "corrupt" not in str(info.value) and info.value.path == path


def test_a_training_image_too_small_to_train_on_says_so(tmp_path):
    write_tiff(tmp_path / "tiny.tif", np.ones((3, 3), np.uint8), "YX")
    with pytest.raises(InputError, match="too small to train on") as info:
        train(TrainParams(**TINY), tmp_path / "tiny.tif", tmp_path / "run", progress=False)
    assert "at most 0" not in str(info.value) and info.value.path.name == "tiny.tif"


def test_an_all_nan_image_is_named(tmp_path):
    path = write_tiff(tmp_path / "holes.tif", np.full((40, 40), np.nan, np.float32), "YX")
    with pytest.raises(InputError, match="no finite pixel") as info:
        Source(path)
    assert info.value.path == path
    with pytest.raises(InputError, match="no finite pixel") as info:
        predict_image(_model(), read_image(path))
    assert info.value.path == path
