"""The reliability catalogue: each bad input or mishap ends in a clear message or is survived.

Items already tested beside their module are listed in docs/reliability.md with
their test; the tests here cover the rest end to end, through the functions the
notebooks and the CLI call.
"""

import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch

from pssr_nb import predict as predict_module
from pssr_nb import train as train_module
from pssr_nb.errors import InputError, OutOfMemory, PssrError, show_briefly_in_notebooks
from pssr_nb.io import ImageData, write_tiff
from pssr_nb.model_file import TrainedModel, atomic_save
from pssr_nb.models import ResUNet, config_for
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.predict import PredictParams, predict_image, predict_normalized
from pssr_nb.train import CHECKPOINT, TrainParams
from pssr_nb.train import run as train

TINY = dict(steps=8, tile=32, batch_size=2, val_tiles=2, validations=2, seed=5)


def _model(frames: int = 1) -> TrainedModel:
    torch.manual_seed(0)
    return TrainedModel(network=ResUNet(config_for("small", 4, frames)).eval())


@pytest.fixture(scope="module")
def hr_folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("phantoms")
    simulate(SimulateParams("em", size=96, scale=4, n_images=2), out)
    return out / "hr"


@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "model.pt"
    _model().save(path)
    return path


# -- pixels ----------------------------------------------------------------


def test_nan_and_inf_pixels_are_named_and_do_not_spread(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.random((40, 48)).astype(np.float32)
    image[5, 5], image[20, 30], image[30, 10] = np.nan, np.inf, -np.inf
    path = write_tiff(tmp_path / "holes.tif", image, "YX")
    from pssr_nb.data import Source

    with pytest.warns(UserWarning, match=r"holes\.tif: 3 of 1920 pixels are NaN or Inf"):
        Source(path)
    with pytest.warns(UserWarning, match="NaN or Inf"):
        out = predict_image(_model(), ImageData(image, "YX", {}, path), PredictParams(tile=32))
    assert np.isfinite(out.data).all()


def test_a_constant_image_is_predicted_without_division_by_zero():
    out = predict_image(_model(), np.full((24, 24), 7, np.uint16))
    assert np.isfinite(out.data).all() and out.to_dtype().dtype == np.uint16


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16, np.float32])
def test_every_pixel_type_comes_back_in_its_own_type_and_sign(dtype):
    rng = np.random.default_rng(1)
    low, high = (-300, 300) if dtype == np.int16 else (0, 200)
    image = rng.uniform(low, high, (32, 40)).astype(dtype)
    out = predict_image(_model(), image).to_dtype()
    assert out.dtype == dtype and out.shape == (128, 160)
    # an untrained model starts at bicubic: the output keeps the input's level and sign
    assert abs(out.astype(float).mean() - image.astype(float).mean()) < 0.05 * (high - low)
    if dtype == np.int16:
        assert out.min() < 0  # signed data keeps its negative values


@pytest.mark.parametrize("shape", [(5, 7), (3, 3), (37, 50), (130, 9)])
def test_tiny_odd_and_non_square_images_are_predicted_whole(shape):
    out = predict_image(_model(), np.random.default_rng(2).random(shape).astype(np.float32))
    assert out.data.shape == (4 * shape[0], 4 * shape[1])
    assert np.isfinite(out.data).all()


# -- models and data that do not fit -------------------------------------------------


def test_a_multi_frame_model_on_a_single_image_says_what_it_needs():
    with pytest.raises(InputError, match="3 neighbouring frames"):
        predict_image(_model(frames=3), np.zeros((32, 32), np.float32))
    with pytest.raises(InputError, match="takes 3 frames"):
        predict_normalized(_model(frames=3), np.zeros((32, 32), np.float32))


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch exploited_marker",))


def test_a_malicious_pssr2_file_is_refused_not_run(tmp_path, monkeypatch):
    from pssr_nb.pssr2_import import import_pssr2

    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "model.pth", "wb") as fh:
        pickle.dump({"encoder.0.conv.0.weight": _Exploit()}, fh, protocol=2)
    with pytest.raises(InputError, match="could run code"):
        import_pssr2(tmp_path / "model.pth")
    assert not (tmp_path / "exploited_marker").exists()


def test_a_diverging_run_stops_with_a_message_and_saves_no_nan_model(hr_folder, tmp_path):
    from pssr_nb.errors import TrainingDiverged

    with pytest.raises(TrainingDiverged, match="NaN or infinite at step") as err:
        train(TrainParams(learning_rate=1e6, **TINY), hr_folder, tmp_path, progress=False)
    assert "lower learning_rate" in err.value.fix
    assert not (tmp_path / "model_last.pt").exists() and not (tmp_path / "train.json").exists()
    best = TrainedModel.load(tmp_path / "model_best.pt")  # step 0's, before the divergence
    assert all(torch.isfinite(v).all() for v in best.network.state_dict().values())


def test_a_foreign_checkpoint_is_not_resumed(hr_folder, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    atomic_save({"format": "something else", "step": 3}, out / CHECKPOINT)
    with pytest.raises(InputError, match="not a pssr_nb training checkpoint") as err:
        train(TrainParams(**TINY), hr_folder, out, resume=True, progress=False)
    assert CHECKPOINT in str(err.value)


# -- files -----------------------------------------------------------------


def test_a_damaged_file_in_a_folder_is_skipped_and_the_others_are_written(tmp_path, model_file):
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("a", "c"):
        tifffile.imwrite(inputs / f"{name}.tif", np.full((24, 24), 100, np.uint8))
    good = (inputs / "a.tif").read_bytes()
    (inputs / "b.tif").write_bytes(good[: len(good) // 3])  # truncated
    with pytest.warns(UserWarning, match=r"b\.tif"):
        report = predict_module.run(PredictParams(), model_file, inputs, tmp_path / "out")
    assert [Path(r["input"]).name for r in report["files"]] == ["a.tif", "c.tif"]
    assert [Path(r["input"]).name for r in report["failed"]] == ["b.tif"]
    assert "truncated or corrupt" in report["failed"][0]["error"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "a_pssr.tif",
        "c_pssr.tif",
        "predict.json",
    ]


def test_writing_into_the_input_folder_never_touches_the_inputs(tmp_path, model_file):
    image = np.random.default_rng(3).integers(0, 255, (24, 24), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "cell.tif", image)
    before = (tmp_path / "cell.tif").read_bytes()
    predict_module.run(PredictParams(), model_file, tmp_path / "cell.tif", tmp_path)
    assert (tmp_path / "cell.tif").read_bytes() == before
    assert (tmp_path / "cell_pssr.tif").is_file()
    report = (tmp_path / "predict.json").read_bytes()
    output = (tmp_path / "cell_pssr.tif").read_bytes()
    # a second run replaces neither the record of the first nor its output
    with pytest.raises(InputError, match="earlier prediction"):
        predict_module.run(PredictParams(), model_file, tmp_path / "cell.tif", tmp_path)
    assert (tmp_path / "predict.json").read_bytes() == report
    (tmp_path / "predict.json").unlink()
    with pytest.raises(InputError, match="Refusing to overwrite"):
        predict_module.run(PredictParams(), model_file, tmp_path / "cell.tif", tmp_path)
    assert (tmp_path / "cell_pssr.tif").read_bytes() == output


def test_no_output_replaces_another_input_or_another_output(tmp_path, model_file):
    """a.png's output a.tif would replace the input a.tif; x.tif and x.png share an output."""
    image = (np.random.default_rng(0).random((32, 32)) * 255).astype(np.uint8)
    for name in ("a.tif", "b.tif"):
        write_tiff(tmp_path / name, image, "YX")
    from skimage import io as skio

    skio.imsave(tmp_path / "a.png", image, check_contrast=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    settings = PredictParams(suffix="", overwrite=True)
    with pytest.raises(InputError, match="would overwrite the input a.tif"):
        predict_module.run(settings, model_file, tmp_path, tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    with pytest.raises(InputError, match="a.png and a.tif would both be written to a_pssr.tif"):
        predict_module.run(PredictParams(overwrite=True), model_file, tmp_path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_suffix_cannot_lead_outside_the_output_folder(tmp_path, model_file):
    inputs = tmp_path / "in"
    write_tiff(inputs / "a.tif", np.zeros((16, 16), np.uint8), "YX")
    before = sorted(tmp_path.rglob("*"))
    for suffix in ("/../../x", "_a/b", "..x"):
        with pytest.raises(InputError, match="is a path"):
            predict_module.run(PredictParams(suffix=suffix), model_file, inputs, inputs / "o")
    assert sorted(tmp_path.rglob("*")) == before


def test_nothing_is_written_outside_the_chosen_folders(hr_folder, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    result = train(TrainParams(**TINY), hr_folder, tmp_path / "run", progress=False)
    predict_module.run(
        PredictParams(), result.out_dir / "model_last.pt", hr_folder, tmp_path / "pred"
    )
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "pred", "run"]


# -- memory ----------------------------------------------------------------


def test_out_of_memory_in_prediction_retries_with_smaller_batches_and_tiles(monkeypatch):
    real = predict_module.tile_function
    sizes = []

    def limited(net, device, tta=False, amp=True):
        fn = real(net, device, tta, amp)

        def guarded(tiles):
            sizes.append(tiles.shape)
            if tiles.shape[0] * tiles.shape[-1] * tiles.shape[-2] > 2 * 24 * 24:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
            return fn(tiles)

        return guarded

    monkeypatch.setattr(predict_module, "tile_function", limited)
    image = np.random.default_rng(4).random((64, 64)).astype(np.float32)
    with pytest.warns(UserWarning, match="Out of GPU memory: retrying with tile"):
        out, _ = predict_normalized(_model(), image, PredictParams(tile=64, batch_size=8))
    monkeypatch.setattr(predict_module, "tile_function", real)
    reference, _ = predict_normalized(_model(), image, PredictParams(tile=64))
    assert out.shape == reference.shape and max(s[0] * s[-1] * s[-2] for s in sizes[-3:]) <= 1152
    # smaller tiles differ from one whole tile only by their seams
    assert np.abs(out - reference).mean() < 0.01

    def always(net, device, tta=False, amp=True):
        def fail(tiles):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

        return fail

    monkeypatch.setattr(predict_module, "tile_function", always)
    with pytest.raises(OutOfMemory, match="device='cpu'"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        predict_normalized(_model(), image, PredictParams(tile=64, batch_size=2))


def test_out_of_memory_when_training_starts_halves_the_batch(
    hr_folder, tmp_path, monkeypatch, training_clock
):
    real = train_module._Run.train_step

    def limited(self, net, optimizer, hr, step):
        if hr.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, net, optimizer, hr, step)

    monkeypatch.setattr(train_module._Run, "train_step", limited)
    params = TrainParams(**{**TINY, "steps": 0, "minutes": 0.02, "batch_size": 8})
    with pytest.warns(UserWarning) as caught:
        result = train(params, hr_folder, tmp_path / "run", progress=False, clock=training_clock)
    assert [str(w.message) for w in caught] == [
        f"Out of GPU memory: training with batch size {n} instead." for n in (4, 2)
    ]
    assert result.summary["params"]["batch_size"] == 2
    assert result.summary["stopped"] == "finished"


def test_out_of_memory_during_training_keeps_a_resumable_checkpoint(
    hr_folder, tmp_path, monkeypatch
):
    real = train_module._Run.train_step

    def fails_at_step_5(self, net, optimizer, hr, step):
        if step == 5:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real(self, net, optimizer, hr, step)

    monkeypatch.setattr(train_module._Run, "train_step", fails_at_step_5)
    with pytest.raises(OutOfMemory, match="at step 5; the run is saved"):
        train(TrainParams(**TINY), hr_folder, tmp_path / "run", progress=False)
    monkeypatch.setattr(train_module._Run, "train_step", real)
    result = train(TrainParams(**TINY), hr_folder, tmp_path / "run", resume=True, progress=False)
    assert result.summary["steps"] == TINY["steps"]


# -- interruptions and repeatability ------------------------------------------


def test_ctrl_c_keeps_the_checkpoint_and_the_run_resumes_to_its_planned_end(hr_folder, tmp_path):
    def interrupt(row):
        if row["kind"] == "train" and row["step"] == 4:
            raise KeyboardInterrupt

    params = TrainParams(**TINY)
    first = train(params, hr_folder, tmp_path, callback=interrupt, progress=False)
    assert first.summary["stopped"] == "interrupted" and first.summary["steps"] == 4
    resumed = train(params, hr_folder, tmp_path, resume=True, progress=False)
    assert resumed.summary["stopped"] == "finished"
    assert [r["step"] for r in resumed.history if r["kind"] == "train"] == list(range(1, 9))


def test_the_same_seed_and_settings_on_the_cpu_give_the_same_model_twice(hr_folder, tmp_path):
    params = TrainParams(**TINY, device="cpu")
    a = train(params, hr_folder, tmp_path / "a", progress=False)
    b = train(params, hr_folder, tmp_path / "b", progress=False)
    for (name, x), y in zip(
        a.model.network.state_dict().items(), b.model.network.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), name
    c = train(TrainParams(**{**TINY, "seed": 6}), hr_folder, tmp_path / "c", progress=False)
    assert not torch.equal(
        a.model.network.reconstruction.pre.weight, c.model.network.reconstruction.pre.weight
    )


# -- notebooks -------------------------------------------------------------


def test_notebooks_show_pssr_nb_errors_as_one_message_without_a_traceback(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        assert show_briefly_in_notebooks()
        shell.run_cell(
            "from pssr_nb.errors import InputError\n"
            "raise InputError('The folder holds no images.', path='/data/empty', fix='Add TIFFs.')"
        )
        brief = capsys.readouterr()
        shell.run_cell("1 / 0")  # a bug elsewhere keeps its traceback
        full = capsys.readouterr()
    finally:
        shell.set_custom_exc((), None)
        InteractiveShell.clear_instance()
    text = brief.out + brief.err
    assert "InputError: The folder holds no images." in text and "fix:  Add TIFFs." in text
    assert "Traceback" not in text and "raise InputError" not in text
    assert "ZeroDivisionError" in full.out + full.err
    assert issubclass(OutOfMemory, PssrError)


def test_every_test_named_in_the_catalogue_exists():
    root = Path(__file__).resolve().parents[1]
    catalogue = (root / "docs" / "reliability.md").read_text()
    named = re.findall(r"`(test_\w+\.py)::(test_\w+)`", catalogue)
    assert len(named) > 20
    missing = [
        f"{module}::{name}"
        for module, name in named
        if f"def {name}(" not in (root / "tests" / module).read_text()
    ]
    assert not missing, f"docs/reliability.md names tests that do not exist: {missing}"
