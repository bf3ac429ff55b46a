"""Chunked prediction of volumes into OME-Zarr (the optional ``scale`` extra)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import tifffile

pytest.importorskip("zarr")
pytest.importorskip("dask.array")

import zarr  # noqa: E402

from pssr_nb import volume  # noqa: E402
from pssr_nb.errors import InputError  # noqa: E402
from pssr_nb.model_file import load_sample_model  # noqa: E402
from pssr_nb.phantoms import simulate  # noqa: E402
from pssr_nb.predict import PredictParams, predict_image  # noqa: E402
from pssr_nb.volume import VolumeParams, convert, open_lazy, predict_volume  # noqa: E402

#: Small tiles and blocks, so that every block border cuts through tiles.
PARAMS = PredictParams(tile=32, overlap=8, dtype="float32")
VOLUME = VolumeParams(block=128, pyramid=False)


@pytest.fixture(scope="module")
def model():
    return load_sample_model("em_x4")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """A 3-plane LR z-stack (uint8) as a TIFF with its pixel size."""
    lr = np.stack([simulate("em", (384, 320), scale=4, seed=i).lr for i in range(3)])
    path = tmp_path_factory.mktemp("volume") / "stack.tif"
    tifffile.imwrite(
        path,
        lr,
        imagej=True,
        resolution=(1 / 0.02, 1 / 0.02),
        metadata={"axes": "ZYX", "unit": "um", "spacing": 0.05},
    )
    return path, lr


@pytest.fixture(scope="module")
def reference(model, stack):
    _, lr = stack
    return predict_image(model, lr, PARAMS, axes="ZYX")


def _normalised(values, reference):
    return reference.normalization.apply(values)


def test_chunked_prediction_equals_whole_image_prediction_plane_by_plane(
    model, stack, reference, tmp_path
):
    path, _ = stack
    record = predict_volume(model, path, tmp_path / "out.ome.zarr", PARAMS, VOLUME, progress=False)
    out = zarr.open_array(str(tmp_path / "out.ome.zarr" / "0"))[:]
    assert out.shape == reference.data.shape == (3, 384, 320)
    assert record["blocks"] == 3 * 3 * 3 and record["written"] == 27
    difference = np.abs(_normalised(out, reference) - reference.data).max()
    assert difference <= 1e-5
    # the input units are the volume's, saved with the output
    saved = json.loads((tmp_path / "out.ome.zarr" / volume.RECORD).read_text())
    assert saved["normalization"]["low"] == pytest.approx(reference.normalization.low)


def test_the_block_size_does_not_change_the_result(model, stack, reference, tmp_path):
    path, _ = stack
    predict_volume(
        model,
        path,
        tmp_path / "b.ome.zarr",
        PARAMS,
        VolumeParams(block=96, pyramid=False),
        progress=False,
    )
    out = zarr.open_array(str(tmp_path / "b.ome.zarr" / "0"))[:]
    assert np.abs(_normalised(out, reference) - reference.data).max() <= 1e-5


def test_an_interrupted_run_resumes_to_the_same_result_and_skips_finished_blocks(
    model, stack, reference, tmp_path, monkeypatch
):
    path, _ = stack
    real, calls = volume._predict_block, []

    def dies_after_ten(plan, *block):
        if len(calls) == 10:
            raise KeyboardInterrupt
        calls.append(block)
        return real(plan, *block)

    monkeypatch.setattr(volume, "_predict_block", dies_after_ten)
    with pytest.raises(KeyboardInterrupt):
        predict_volume(model, path, tmp_path / "r.ome.zarr", PARAMS, VOLUME, progress=False)
    monkeypatch.setattr(volume, "_predict_block", real)
    record = predict_volume(model, path, tmp_path / "r.ome.zarr", PARAMS, VOLUME, progress=False)
    assert (record["skipped"], record["written"]) == (10, 17)
    out = zarr.open_array(str(tmp_path / "r.ome.zarr" / "0"))[:]
    assert np.abs(_normalised(out, reference) - reference.data).max() <= 1e-5
    # other settings into the same output are refused, never mixed in
    with pytest.raises(InputError, match="other settings"):
        predict_volume(
            model,
            path,
            tmp_path / "r.ome.zarr",
            PredictParams(tile=48, dtype="float32"),
            VOLUME,
            progress=False,
        )


def test_the_output_is_ome_zarr_with_the_super_resolved_pixel_size_and_a_pyramid(
    model, stack, tmp_path
):
    path, _ = stack
    out = tmp_path / "p.ome.zarr"
    record = predict_volume(
        model, path, out, PARAMS, VolumeParams(block=128, pyramid=True), progress=False
    )
    lazy = open_lazy(out)
    assert lazy.axes == "ZYX" and lazy.array.shape == (3, 384, 320)
    assert lazy.pixel_size["X"] == pytest.approx(20 / 4) and lazy.pixel_size["Z"] == pytest.approx(
        50
    )
    assert record["levels"] == 1  # 384 px: too small for a coarser level of 256 px
    assert volume.write_pyramid(out, min_side=64) == 3
    coarse = open_lazy(out, level=1)
    assert coarse.array.shape == (3, 192, 160) and coarse.pixel_size["X"] == pytest.approx(10)
    bioio = pytest.importorskip("bioio")
    reader = pytest.importorskip("bioio_ome_zarr")
    image = bioio.BioImage(out, reader=reader.Reader)
    assert image.dims.Z == 3 and image.dims.Y == 384
    assert image.physical_pixel_sizes.X == pytest.approx(5.0)  # in the axes' unit, nanometer


def test_an_ome_zarr_input_gives_the_same_prediction_as_its_tiff(model, stack, reference, tmp_path):
    path, _ = stack
    converted = convert(path, tmp_path / "in.ome.zarr", chunk=40)
    assert open_lazy(converted).pixel_size["X"] == pytest.approx(20)
    predict_volume(model, converted, tmp_path / "o.ome.zarr", PARAMS, VOLUME, progress=False)
    out = zarr.open_array(str(tmp_path / "o.ome.zarr" / "0"))[:]
    assert np.abs(_normalised(out, reference) - reference.data).max() <= 1e-5
    with pytest.raises(InputError, match="already exists"):
        convert(path, converted)


def test_the_cli_predicts_a_volume_and_converts_a_tiff(stack, tmp_path):
    path, _ = stack
    cli = [sys.executable, "-m", "pssr_nb"]
    done = subprocess.run(
        [*cli, "predict", str(path), "--out", str(tmp_path / "c.ome.zarr"), "--block", "128",
         "--tile", "32", "--overlap", "8", "--no-pyramid"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "27 block(s) written" in done.stdout
    again = subprocess.run(
        [*cli, "predict", str(path), "--out", str(tmp_path / "c.ome.zarr"), "--block", "128",
         "--tile", "32", "--overlap", "8", "--no-pyramid"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert again.returncode == 0 and "0 block(s) written, 27 already done" in again.stdout
    done = subprocess.run(
        [*cli, "convert", str(path), "--out", str(tmp_path / "v.ome.zarr")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr and (tmp_path / "v.ome.zarr" / "0").is_dir()


def test_bad_volumes_and_settings_are_named(model, stack, tmp_path):
    path, _ = stack
    with pytest.raises(InputError, match="level 3 does not exist"):
        open_lazy(convert(path, tmp_path / "in.ome.zarr"), level=3)
    with pytest.raises(InputError, match="multiple of the model's scale"):
        predict_volume(model, path, tmp_path / "x.ome.zarr", PARAMS, VolumeParams(block=130))
    with pytest.raises(InputError, match="does not exist"):
        open_lazy(tmp_path / "missing.ome.zarr")
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w", zarr_format=2)
    with pytest.raises(InputError, match="no OME-Zarr image"):
        open_lazy(tmp_path / "plain.zarr")


def test_a_missing_extra_says_what_to_install(monkeypatch, stack):
    monkeypatch.setitem(sys.modules, "zarr", None)
    with pytest.raises(InputError, match=r"pssr_nb\[scale\]"):
        open_lazy(stack[0])


def test_a_local_cluster_gives_the_same_result(model, stack, reference, tmp_path):
    pytest.importorskip("distributed")
    path, _ = stack
    record = predict_volume(
        model,
        path,
        tmp_path / "d.ome.zarr",
        PARAMS,
        VolumeParams(block=128, scheduler="local", workers=2, pyramid=False),
        progress=False,
    )
    assert record["written"] == 27
    out = zarr.open_array(str(tmp_path / "d.ome.zarr" / "0"))[:]
    assert np.abs(_normalised(out, reference) - reference.data).max() <= 1e-5


def test_tta_gives_predict_images_prediction_and_uncertainty(model, stack, tmp_path):
    import dataclasses

    path, lr = stack
    params = dataclasses.replace(PARAMS, tta=True)
    expected = predict_image(model, lr, params, axes="ZYX")
    out = tmp_path / "t.ome.zarr"
    volume_params = VolumeParams(block=128, pyramid=True)
    record = predict_volume(model, path, out, params, volume_params, progress=False)
    assert record["uncertainty"] == str(out / volume.UNCERTAINTY)
    values = zarr.open_array(str(out / "0"))[:]
    assert np.abs(_normalised(values, expected) - expected.data).max() <= 1e-5
    spread = open_lazy(out / volume.UNCERTAINTY)  # an OME-Zarr image of its own
    assert spread.pixel_size == open_lazy(out).pixel_size
    sd = spread.array.compute() / expected.normalization.span
    assert np.abs(sd - expected.uncertainty).max() <= 1e-5
    assert sd.max() > 0  # the flips do disagree somewhere: the map is not empty
    # a resumed run with the same settings skips every block, prediction and uncertainty
    again = predict_volume(model, path, out, params, volume_params, progress=False)
    assert again["written"] == 0 and again["skipped"] == record["blocks"]


def test_a_multi_frame_model_takes_the_neighbouring_planes_as_predict_image_does(
    model, stack, tmp_path
):
    import dataclasses

    from pssr_nb.model_file import TrainedModel
    from pssr_nb.models import ResUNet

    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    net = ResUNet(dataclasses.replace(model.config, frames=3))
    with torch.no_grad():  # random weights everywhere, so that every input frame matters
        for weights in net.parameters():
            weights.add_(0.05 * torch.randn_like(weights))
    three = TrainedModel(net)
    path, lr = stack
    expected = predict_image(three, lr, PARAMS, axes="ZYX")  # planes mirrored at the ends
    out = tmp_path / "f.ome.zarr"
    predict_volume(three, path, out, PARAMS, VOLUME, progress=False)
    values = zarr.open_array(str(out / "0"))[:]
    assert np.abs(_normalised(values, expected) - expected.data).max() <= 1e-5
    # a single plane has no neighbours: refused by name
    plane = tmp_path / "plane.tif"
    tifffile.imwrite(plane, lr[0])
    with pytest.raises(InputError, match="3 neighbouring frames"):
        predict_volume(three, plane, tmp_path / "p.ome.zarr", PARAMS, VOLUME, progress=False)


def test_a_worker_killed_half_way_still_gives_a_complete_identical_result(model, tmp_path):
    """kill -9 of a cluster worker: Dask reruns its tasks and the output is whole."""
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("distributed")
    import time

    lr = np.stack([simulate("em", (512, 512), scale=4, seed=10 + i).lr for i in range(6)])
    path = tmp_path / "big.tif"
    tifffile.imwrite(path, lr, imagej=True, metadata={"axes": "ZYX"})
    out = tmp_path / "k.ome.zarr"
    run = subprocess.Popen(
        [sys.executable, "-m", "pssr_nb", "predict", str(path), "--out", str(out),
         "--block", "128", "--tile", "32", "--overlap", "8", "--no-pyramid", "--dtype", "float32",
         "--scheduler", "local", "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    done, deadline, killed = out / volume.DONE_FOLDER, time.time() + 240, None
    while time.time() < deadline and killed is None and run.poll() is None:
        if done.is_dir() and len(list(done.iterdir())) >= 8:
            workers = [
                p
                for p in psutil.Process(run.pid).children(recursive=True)
                if "spawn_main" in " ".join(p.cmdline())
                and "resource_tracker" not in " ".join(p.cmdline())
            ]
            if workers:
                killed = workers[0].pid
                workers[0].kill()  # SIGKILL: no clean-up of any kind
        time.sleep(0.2)
    stdout, stderr = run.communicate(timeout=300)
    assert killed is not None, "the run finished before a worker could be killed"
    assert run.returncode == 0, stderr[-2000:]
    assert len(list(done.iterdir())) == 6 * 4 * 4
    reference = predict_image(model, lr, PARAMS, axes="ZYX")
    got = zarr.open_array(str(out / "0"))[:]
    assert np.abs(_normalised(got, reference) - reference.data).max() <= 1e-5


def test_a_single_plane_is_a_volume_too(model, tmp_path):
    lr = simulate("em", (256, 256), seed=3).lr
    tifffile.imwrite(tmp_path / "plane.tif", lr)
    out = tmp_path / "plane.ome.zarr"
    predict_volume(
        model, tmp_path / "plane.tif", out, PARAMS, VolumeParams(block=64, pyramid=False)
    )
    reference = predict_image(model, lr, PARAMS)
    got = zarr.open_array(str(out / "0"))[:]
    assert got.shape == (256, 256)
    assert np.abs(_normalised(got, reference) - reference.data).max() <= 1e-5


def test_a_worker_that_died_after_the_last_block_does_not_fail_the_run():
    CommClosedError = pytest.importorskip("distributed.comm.core").CommClosedError

    class Client:  # a killed worker the scheduler still lists: it cannot answer
        def run(self, function, on_error="raise"):
            if on_error == "raise":
                raise CommClosedError("in <TCP (closed)>: Stream is closed")
            return {"tcp://a": 1429.5, "tcp://b": CommClosedError("Stream is closed")}

    assert volume._workers_peak_rss_mb(Client()) == {"tcp://a": 1429.5}
