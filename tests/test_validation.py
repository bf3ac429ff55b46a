"""The validation during training: scored as users predict, and able to fail."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from pssr_nb.bad_models import UNSHARP_SIGMA
from pssr_nb.crappify import Crappifier
from pssr_nb.data import Source, fixed_regions, split
from pssr_nb.io import ImageData
from pssr_nb.metrics import care_normalize, psnr
from pssr_nb.model_choice import open_model
from pssr_nb.model_file import TrainedModel
from pssr_nb.phantoms import simulate
from pssr_nb.predict import PredictParams, predict_image
from pssr_nb.validation import CONTEXT, NOISE_SEED, ValidationSet, whole_lr

NO_TTA = PredictParams(tta=False, device="cpu")


@pytest.fixture(scope="module")
def sample_model() -> TrainedModel:
    return open_model("em_x4")


@pytest.fixture(scope="module")
def held_out(sample_model):
    """Two EM fields the sample model never saw, split by tile, and their validation set."""
    sources = [
        Source(ImageData(simulate("em", (256, 256), 4, seed=seed).hr, "YX"))
        for seed in (2000, 2001)
    ]
    crappifier = Crappifier.from_dict(sample_model.crappifier)
    the_split = split(sources, 0.25, tile=64, seed=0)
    regions = fixed_regions(sources, 64, 1, the_split, False, n=6, margin=4 * CONTEXT, multiple=4)
    tuning = fixed_regions(sources, 64, 1, the_split, True, n=4, seed=1)
    validation = ValidationSet(sources, regions, crappifier, tuning)
    return sources, crappifier, validation


class _Altered(torch.nn.Module):
    """The sample model's network with its output changed afterwards (a deliberately bad model)."""

    def __init__(self, net: torch.nn.Module, change):
        super().__init__()
        self.net, self.change, self.config = net, change, net.config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.net(x)
        return torch.from_numpy(self.change(y.numpy())).to(y.dtype)


def _altered(model: TrainedModel, change) -> TrainedModel:
    return TrainedModel(
        _Altered(model.network, change),
        percentiles=model.percentiles,
        input_smoothing=model.input_smoothing,
        training_units=model.training_units,
    )


def _blur(y):
    # 4 HR pixels: a resolution of about 40 nm, five times the PSF's (PSNR forgives lighter
    # blurs of a slightly noisy output; the resolution measures of the benchmark do not)
    return ndimage.gaussian_filter(y, (0, 0, 4, 4))


def _sharpen(y):
    # an unsharp mask of the radius of pssr_nb.bad_models.over_sharpen, without its gamma
    return y + 3 * (y - ndimage.gaussian_filter(y, (0, 0, UNSHARP_SIGMA, UNSHARP_SIGMA)))


def _paint(y):
    # vesicle-sized bright blobs on a lattice, where there is no structure to see
    yy, xx = np.mgrid[: y.shape[-2], : y.shape[-1]]
    blobs = (np.sin(yy / 3.0) * np.sin(xx / 3.0)) ** 8
    return y + 0.3 * np.ptp(y) * blobs


def test_the_sample_model_beats_the_best_baseline_on_held_out_regions(sample_model, held_out):
    scores, pred = held_out[2].evaluate(sample_model, NO_TTA)
    assert held_out[2].baseline_name == "nl-means+bicubic"  # as in the benchmark on EM
    assert scores["gain_db"] > 0.5 and scores["gain_ssim"] > 0
    assert len(pred) == 6 and pred[0].shape == (64, 64)


@pytest.mark.parametrize("change", [_blur, _sharpen, _paint], ids=["blur", "sharpen", "paint"])
def test_the_validation_can_fail(sample_model, held_out, change):
    honest = held_out[2].evaluate(sample_model, NO_TTA)[0]["gain_db"]
    bad = held_out[2].evaluate(_altered(sample_model, change), NO_TTA)[0]["gain_db"]
    # the honest model reads +0.95 dB over non-local means; these read +0.30, +0.61 and +0.51
    assert bad < honest - 0.25


def test_a_block_scores_as_predict_image_scores_the_whole_image(sample_model, held_out):
    """Validate as you predict: a block with its context reads what the whole image reads."""
    sources, crappifier, validation = held_out
    planes, differences = [], []
    for i, region in enumerate(validation.regions):
        if region.source not in planes:
            planes.append(region.source)
        # the LR image the validation cut the block's context from, predicted by users' path
        lr = whole_lr(
            sources[region.source], 0, [0], crappifier, NOISE_SEED + planes.index(region.source)
        )
        full = predict_image(sample_model, lr[0], NO_TTA).data
        (y0, x0), t = region.origin, region.tile
        block = full[y0 + region.y : y0 + region.y + t, x0 + region.x : x0 + region.x + t]
        target = region.block[0]
        users = psnr(*care_normalize(block, target), 1.0)
        validated = psnr(*care_normalize(validation.predict(sample_model, NO_TTA)[i], target), 1.0)
        differences.append(validated - users)
    # equal but next to the image's edge, where a context of another size is padded otherwise
    assert max(np.abs(differences)) < 0.15 and abs(np.mean(differences)) < 0.03
