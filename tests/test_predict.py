import numpy as np
import pytest
import tifffile
import torch
from scipy.ndimage import gaussian_filter

from pssr_nb.errors import InputError
from pssr_nb.io import read_image, write_tiff
from pssr_nb.model_file import TrainedModel
from pssr_nb.models import ResUNet, config_for
from pssr_nb.predict import PredictParams, before_after, predict_file, predict_image, run
from pssr_nb.sampling import upsample
from pssr_nb.tiling import apply_tiled, blend_weights, tile_layout


def _model(preset="small", scale=4, frames=1, offset=0.0, active=True):
    torch.manual_seed(0)
    net = ResUNet(config_for(preset, scale=scale, frames=frames, offset=offset))
    if active:  # a network that does more than the bicubic it starts from
        torch.nn.init.normal_(net.reconstruction.conv.weight, std=0.01)
    return TrainedModel(net.eval())


def _texture(shape, seed=0):
    rng = np.random.default_rng(seed)
    return gaussian_filter(rng.random(shape), 2).astype(np.float32)


@pytest.mark.parametrize(
    "n,tile,overlap,multiple",
    [(100, 40, 8, 1), (40, 40, 8, 1), (7, 40, 8, 1), (129, 32, 16, 1), (512, 128, 16, 8)],
)
def test_tiles_cover_everything_and_weights_blend_to_one(n, tile, overlap, multiple):
    size, starts = tile_layout(n, tile, overlap, multiple)
    covered = np.zeros(n * 2)
    for s in starts:
        covered[2 * s : 2 * (s + size)] += blend_weights(s, size, n, overlap, 2)
    assert starts[-1] + size == n and starts[0] == 0
    assert covered.min() > 0
    assert size <= tile and (size % multiple == 0 or size == n)
    # neighbours overlap by at least `overlap`, and no fewer tiles would do
    assert all(b - a <= size - overlap for a, b in zip(starts, starts[1:], strict=False))
    assert len(starts) == 1 or (len(starts) - 2) * (tile - overlap) + tile < n
    # the tiles touching the image edges keep full weight there: edge pixels are not faded out
    assert blend_weights(0, size, n, overlap, 2)[0] == 1
    assert blend_weights(starts[-1], size, n, overlap, 2)[-1] == 1


def test_apply_tiled_reassembles_an_identity_exactly():
    plane = _texture((2, 101, 77))

    def fn(tiles):
        return (np.repeat(np.repeat(tiles[:, 0], 3, axis=1), 3, axis=2),)

    (out,) = apply_tiled(fn, plane, 3, tile=24, overlap=6, batch_size=3)
    np.testing.assert_allclose(out, np.repeat(np.repeat(plane[0], 3, 0), 3, 1), atol=1e-6)


@pytest.mark.parametrize("preset", ["small", "medium"])
def test_tiled_prediction_matches_whole_image_away_from_borders(preset):
    m = _model(preset)
    img = _texture((150, 97))
    whole = predict_image(m, img, PredictParams(tile=1000)).data
    tiled = predict_image(m, img, PredictParams(tile=64, overlap=16, batch_size=3)).data
    assert tiled.shape == whole.shape == (600, 388)
    diff = np.abs(tiled - whole)
    assert diff[32:-32, 32:-32].max() < 0.02 and diff.mean() < 2e-3
    assert np.abs(whole - upsample((img - img.min()), 4)).mean() > 0  # the network contributes


@pytest.mark.parametrize("offset", [0.0, 1.0, 1.5])
def test_tta_keeps_the_sampling_geometry(offset):
    # an untrained residual model is exactly the aligned bicubic, which every flip must agree on
    m = _model(offset=offset, active=False)
    img = _texture((40, 52))
    pred = predict_image(m, img, PredictParams(tta=True))
    norm = pred.normalization
    np.testing.assert_allclose(pred.data, upsample(norm.apply(img), 4, offset), atol=1e-5)
    assert pred.uncertainty.shape == pred.data.shape and pred.uncertainty.max() < 1e-5


def test_tta_spread_is_an_uncertainty_map():
    pred = predict_image(_model(), _texture((48, 48)), PredictParams(tta=True))
    assert pred.uncertainty.max() > 1e-4


def _direct(m, pred, frames):
    x = torch.from_numpy(pred.normalization.apply(frames))[None]
    with torch.no_grad():
        return m.network(x)[0, 0].numpy()


def test_sliding_frame_windows_over_a_stack():
    m = _model(frames=3, scale=2)
    stack = np.stack([_texture((30, 41), seed=t) for t in range(5)])
    pred = predict_image(m, stack, PredictParams(tile=1000), axes="TYX")
    assert pred.data.shape == (5, 60, 82) and pred.axes == "TYX"
    # frame t sees frames t-1, t, t+1, mirrored at the ends of the stack
    np.testing.assert_allclose(pred.data[2], _direct(m, pred, stack[1:4]), atol=1e-5)
    np.testing.assert_allclose(pred.data[0], _direct(m, pred, stack[[1, 0, 1]]), atol=1e-5)
    np.testing.assert_allclose(pred.data[4], _direct(m, pred, stack[[3, 4, 3]]), atol=1e-5)
    with pytest.raises(InputError, match="3 neighbouring frames"):
        predict_image(m, stack[0], PredictParams())


def test_stack_axes_are_restored():
    m = _model(scale=2)
    data = (np.random.default_rng(1).random((2, 3, 20, 24)) * 4000).astype(np.uint16)
    pred = predict_image(m, data, PredictParams(tile=16, overlap=4), axes="ZTYX")
    assert pred.data.shape == (2, 3, 40, 48)
    whole = predict_image(m, data, PredictParams(tile=1000), axes="ZTYX")
    np.testing.assert_allclose(whole.data[1, 2], _direct(m, whole, data[1, 2:3]), atol=1e-5)
    np.testing.assert_allclose(whole.data[0, 1], _direct(m, whole, data[0, 1:2]), atol=1e-5)


def test_predict_file_writes_a_calibrated_tiff_and_never_overwrites(tmp_path):
    m = _model(scale=4)
    src = tmp_path / "scan.tif"
    data = (_texture((33, 45)) * 200).astype(np.uint8)
    write_tiff(src, data, "YX", 16.0)
    rec = predict_file(m, src, tmp_path / "out", PredictParams(tta=True))
    out = read_image(rec["output"])
    assert out.data.dtype == np.uint8 and out.shape == (132, 180)
    assert out.pixel_size["X"] == pytest.approx(4.0)
    assert tifffile.imread(rec["uncertainty"]).dtype == np.float32
    with pytest.raises(InputError, match="overwrite an existing output"):
        predict_file(m, src, tmp_path / "out")
    with pytest.raises(InputError, match="overwrite the input"):
        predict_file(m, src, tmp_path, PredictParams(suffix=""))
    assert np.array_equal(read_image(src).data, data)


def test_run_over_a_folder_with_float_output(tmp_path):
    m = _model(scale=2)
    m.save(tmp_path / "model.pt")
    for i in range(2):
        write_tiff(tmp_path / "in" / f"img{i}.tif", _texture((20, 20), seed=i) * 3000, "YX")
    report = run(
        PredictParams(dtype="float32"), tmp_path / "model.pt", tmp_path / "in", tmp_path / "out"
    )
    assert [r["output_shape"] for r in report["files"]] == [[40, 40], [40, 40]]
    assert (tmp_path / "out" / "predict.json").is_file()
    assert read_image(tmp_path / "out" / "img0_pssr.tif").data.dtype == np.float32


def test_before_after_lines_up_input_bicubic_and_prediction(tmp_path):
    m = _model(scale=4, offset=1.5, active=False)  # untrained: the prediction is bicubic
    src = tmp_path / "stack.tif"
    data = (_texture((3, 16, 20)) * 3000).astype(np.float32)
    write_tiff(src, data, "ZYX", 16.0)
    rec = predict_file(m, src, tmp_path / "out", PredictParams(dtype="float32", tta=True))
    images = before_after(rec, m)
    assert images["LR"].shape == (3, 16, 20)
    assert images["model"].shape == images["bicubic"].shape == images["uncertainty"].shape
    assert images["model"].shape == (3, 64, 80)
    np.testing.assert_allclose(images["model"], images["bicubic"], atol=1e-2 * data.max())


def test_block_averaged_scans_are_predicted_at_their_blocks_centres(tmp_path):
    """``sampling="area"`` serves a decimation-trained model to block-averaged scans: the
    sample model, its skip and its output moved by 1.5 HR px, scores higher against the
    truth than the same model placing the blocks as point samples."""
    from pssr_nb.crappify import Crappifier
    from pssr_nb.metrics import care_normalize, psnr
    from pssr_nb.model_choice import load_sample_model
    from pssr_nb.normalize import percentile_normalization
    from pssr_nb.phantoms import simulate

    model = load_sample_model("em_x4")
    area = Crappifier.from_dict(model.crappifier).typical().at_scale(4, "area")
    truth = simulate("em", (256, 256), 4, 1, "T", 1000).truth
    lr = area(percentile_normalization(truth).apply(truth).astype(np.float32), seed=0)
    scores = {}
    for sampling in ("", "area"):
        sr = predict_image(model, lr, PredictParams(tta=False, sampling=sampling)).data
        scores[sampling] = psnr(*care_normalize(sr, truth), data_range=1)
    assert scores["area"] > scores[""] + 0.5, scores
    assert model.config.offset == 0.0  # the caller's model is not changed
    assert model.at_sampling("decimate") is model
    src = tmp_path / "lr.tif"
    write_tiff(src, lr, "YX", {})
    record = predict_file(model, src, tmp_path / "out", PredictParams(sampling="area"))
    bicubic = before_after(record, model, "area")["bicubic"]
    np.testing.assert_allclose(bicubic, upsample(lr, 4, 1.5), atol=1e-5)


def test_progress_is_reported_per_plane_and_an_exception_from_it_stops(tmp_path):
    stack = np.stack([_texture((32, 32), seed=s) for s in range(3)])
    seen = []
    predict_image(
        _model(), stack, axes="ZYX", progress=lambda done, total: seen.append((done, total))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]

    def cancel(done, total):
        raise KeyboardInterrupt  # a cancel button raises its own exception the same way

    with pytest.raises(KeyboardInterrupt):
        predict_image(_model(), stack, axes="ZYX", progress=cancel)
