"""The portable model (units inside) agrees with pssr_nb's own prediction."""

import numpy as np
import pytest
import torch

from pssr_nb.model_file import TrainedModel, load_sample_model
from pssr_nb.models import ModelConfig, ResUNet
from pssr_nb.portable import PortableModel, measure_units, to_torchscript
from pssr_nb.predict import predict_image
from pssr_nb.units import input_normalization


def tiny(frames: int = 1, scale: int = 2) -> TrainedModel:
    torch.manual_seed(0)
    config = ModelConfig(hidden=(8, 16), depth=0, norm="none", scale=scale, frames=frames)
    net = ResUNet(config)
    for p in net.parameters():  # a non-zero head, so the network's own output counts
        torch.nn.init.normal_(p, std=0.1)
    return TrainedModel(net.eval(), input_smoothing=1.0)


@pytest.mark.parametrize(
    "shape", [(64, 64), (37, 50), (3, 40, 30), (1100, 20)], ids=["square", "odd", "frames", "tall"]
)
def test_the_torch_units_are_the_numpy_units(shape):
    rng = np.random.default_rng(1)
    image = (rng.poisson(15, shape) * 97).astype(np.uint16)  # noisy, a wide plain range
    if len(shape) == 2 and shape[0] > 1024:  # a plane measured by crops
        image[:300] += 900
    expected = input_normalization(image)
    frames = torch.from_numpy(image.astype(np.float32))
    low, high = measure_units(frames if frames.ndim == 3 else frames[None])
    assert low == pytest.approx(expected.low, rel=1e-9)
    assert high == pytest.approx(expected.high, rel=1e-9)


def test_non_finite_pixels_are_measured_as_numpy_measures_them():
    image = np.random.default_rng(2).normal(100, 10, (40, 40))
    image[5:9, 5:30] = np.nan
    image[20, 20] = np.inf
    expected = input_normalization(image)
    low, high = measure_units(torch.from_numpy(image)[None])
    assert (low, high) == pytest.approx((expected.low, expected.high), rel=1e-9)


def test_the_units_fail_a_plain_percentile():
    """The twin's power: the plain percentiles of a noisy scan are far from it."""
    image = np.random.default_rng(3).poisson(5, (64, 64)).astype(np.float32)
    low, high = measure_units(torch.from_numpy(image)[None])
    plain = np.percentile(image, (0.1, 99.9))
    assert abs(high - plain[1]) > 0.2 * (plain[1] - plain[0])


@pytest.mark.parametrize("shape", [(48, 40), (37, 21)])
def test_portable_and_torchscript_reproduce_predict_image(shape):
    model = load_sample_model("em_x4")
    image = (np.random.default_rng(4).poisson(20, shape) * 100).astype(np.uint16)
    expected = predict_image(model, image).to_dtype("float32")
    x = torch.from_numpy(image.astype(np.float32))[None, None]
    scripted = to_torchscript(model)
    with torch.no_grad():
        eager = PortableModel.from_trained(model)(x)[0, 0].numpy()
        compiled = scripted(x)[0, 0].numpy()
    tolerance = 1e-5 * float(expected.max())
    np.testing.assert_allclose(eager, expected, atol=tolerance)
    np.testing.assert_allclose(compiled, expected, atol=tolerance)


def test_each_sample_of_a_batch_gets_its_own_units():
    model = tiny()
    a = np.random.default_rng(5).normal(50, 5, (32, 32)).astype(np.float32)
    scripted = to_torchscript(model)
    batch = torch.from_numpy(np.stack([a, 10 * a + 1000])[:, None])
    with torch.no_grad():
        out = scripted(batch).numpy()
    np.testing.assert_allclose(out[1], 10 * out[0] + 1000, rtol=1e-4)


def test_a_multi_frame_model_takes_its_frames_as_channels():
    model = tiny(frames=3)
    stack = np.random.default_rng(6).normal(10, 2, (3, 24, 24)).astype(np.float32)
    norm = input_normalization(stack)
    from pssr_nb.predict import predict_normalized

    expected = norm.invert(predict_normalized(model, norm.apply(stack))[0], "float32")
    with torch.no_grad():
        got = to_torchscript(model)(torch.from_numpy(stack)[None])[0, 0].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5 * float(np.abs(expected).max()))
