import dataclasses

import numpy as np
import pytest
import torch

from pssr_nb.baselines import smooth
from pssr_nb.errors import InputError
from pssr_nb.models import (
    PRESETS,
    ModelConfig,
    Reconstruction,
    ResUNet,
    config_for,
    count_parameters,
)
from pssr_nb.sampling import upsample


@pytest.mark.parametrize("scale", [1, 2, 3, 4, 8])
@pytest.mark.parametrize("frames", [1, 3])
def test_small_preset_forward_backward_on_odd_non_square_inputs(scale, frames):
    torch.manual_seed(0)
    net = ResUNet(config_for("small", scale=scale, frames=frames))
    x = torch.rand(2, frames, 13, 22, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 1, 13 * scale, 22 * scale)
    y.mean().backward()
    assert x.grad is not None and all(p.grad is not None for p in net.parameters())


# every scale on the small presets; the 60 M-parameter ones (slow to build) at the largest scale
CASES = [(p, s) for p in ("small", "medium") for s in (1, 2, 4, 8)] + [("large", 8), ("pssr2", 8)]


@pytest.mark.parametrize("preset,scale", CASES)
def test_every_preset_trains_with_k_frames_on_odd_sizes(preset, scale):
    net = ResUNet(config_for(preset, scale=scale, frames=3))
    x = torch.rand(2, 3, 9, 17)
    y = net(x)
    assert y.shape == (2, 1, 9 * scale, 17 * scale)
    y.square().mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_cases_cover_every_preset():
    assert {p for p, _ in CASES} == set(PRESETS)


def test_preset_sizes():
    small = count_parameters(ResUNet(config_for("small")))
    pssr2 = count_parameters(ResUNet(config_for("pssr2")))
    assert 1e6 < small < 5e6
    assert pssr2 == pytest.approx(59.9e6, rel=0.01)  # PSSR2's published default


def test_untrained_residual_model_starts_at_the_aligned_bicubic_baseline():
    net = ResUNet(config_for("small", scale=4, frames=3, offset=0.0))
    torch.nn.init.zeros_(net.reconstruction.conv.weight)
    torch.nn.init.zeros_(net.reconstruction.conv.bias)
    x = torch.rand(1, 3, 16, 20)
    expected = upsample(x[:, 1:2], 4, 0.0, "bicubic")
    torch.testing.assert_close(net(x), expected)


@pytest.mark.parametrize("scale", [1, 4])
def test_a_smoothed_skip_starts_the_untrained_model_at_the_gaussian_baseline(scale):
    rng = np.random.default_rng(0)
    lr = rng.random((21, 30)).astype(np.float32)  # odd sizes: the mirrored edges count too
    offset = 1.5 if scale > 1 else 0.0
    smoothed = ResUNet(dataclasses.replace(config_for("small", scale, 1, offset), skip_sigma=1.7))
    plain = ResUNet(config_for("small", scale, 1, offset))
    with torch.no_grad():
        out, out_plain = (
            net(torch.from_numpy(lr)[None, None])[0, 0].numpy() for net in (smoothed, plain)
        )
    expected = smooth(lr, scale, offset, 1.7)
    assert np.abs(out - expected).max() < 1e-5
    assert np.abs(out_plain - expected).max() > 0.05  # the check sees a plain skip
    # the kernel is not a weight: state dicts load across skip widths
    assert smoothed.state_dict().keys() == plain.state_dict().keys()
    plain.load_state_dict(smoothed.state_dict())


def test_wrong_frame_count_is_explained():
    net = ResUNet(config_for("small", frames=3))
    with pytest.raises(InputError, match=r"\(N, 3, H, W\)"):
        net(torch.rand(1, 1, 16, 16))


def test_config_round_trip_and_validation():
    cfg = config_for("medium", scale=8, frames=5, offset=1.5)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(InputError):
        config_for("huge")
    with pytest.raises(InputError):
        ModelConfig(frames=2)
    with pytest.raises(InputError):
        ModelConfig(norm="layer")
    with pytest.raises(InputError, match="skip_sigma"):
        ModelConfig(skip_sigma=-1.0)
    old = {k: v for k, v in cfg.to_dict().items() if k != "skip_sigma"}  # before the field
    assert ModelConfig.from_dict(old).skip_sigma == 0.0
    assert "weights_offset" not in cfg.to_dict()  # files at their own offset are unchanged
    moved = cfg.at_offset(0.0)
    assert ModelConfig.from_dict(moved.to_dict()) == moved and moved.output_shift == -1.5


def test_a_model_serving_another_sampling_moves_what_it_adds_with_its_skip():
    """``em_x4`` learned on point-sampled (decimated) scans. On block-averaged ones its skip
    moves to the blocks' centres (offset 1.5 HR px); the network's output must move with
    it, or the detail it adds lands 1.5 px beside the skip's (RESULTS.md, "Another
    sampling": on block-averaged ISBI, alone, -0.10 dB without the move, +0.13 with it)."""
    import numpy as np

    from pssr_nb.crappify import Crappifier
    from pssr_nb.model_choice import load_sample_model
    from pssr_nb.normalize import percentile_normalization
    from pssr_nb.phantoms import simulate

    model = load_sample_model("em_x4")
    decimated = model.config
    area = Crappifier.from_dict(model.crappifier).typical().at_scale(4, "area")
    net = model.network.float().eval()
    for seed in (1000, 1001):
        truth = simulate("em", (256, 256), 4, 1, "T", seed).truth
        truth = percentile_normalization(truth).apply(truth).astype(np.float32)
        lr = torch.from_numpy(area(truth, seed=seed))[None, None]
        psnr = {}
        for name, config in (
            ("moved", decimated.at_offset(area.offset)),
            ("skip only", dataclasses.replace(decimated, offset=area.offset)),
        ):
            net.config = config
            with torch.no_grad():
                error = (net(lr)[0, 0].numpy() - truth) ** 2
            psnr[name] = -10 * np.log10(error.mean())
        assert psnr["moved"] > psnr["skip only"] + 0.2, (seed, psnr)  # measured: +0.46, +0.61


def test_the_upsampler_round_trips_and_old_files_keep_the_pixel_shuffle():
    config = config_for("small", scale=4)
    assert config.upsampler == "resize" and config_for("medium").upsampler == "resize"
    assert config_for("large").upsampler == "shuffle" == config_for("pssr2").upsampler
    assert ModelConfig.from_dict(config.to_dict()) == config
    old = {k: v for k, v in config.to_dict().items() if k != "upsampler"}  # before the field
    assert ModelConfig.from_dict(old).upsampler == "shuffle"
    with pytest.raises(InputError, match="upsampler"):
        ModelConfig(upsampler="deconvolution")


@pytest.mark.parametrize("upsampler", ["shuffle", "resize"])
def test_only_the_pixel_shuffle_head_paints_the_lr_lattice(upsampler):
    """Features constant on the LR grid: shuffle's scale^2 sub-pixel maps differ, resize's cannot."""
    torch.manual_seed(0)
    head = Reconstruction(1, 1, 32, 4, 4, upsampler)
    for p in head.parameters():
        torch.nn.init.normal_(p, std=0.3)
    features = torch.rand(1, 33, 1, 1).expand(1, 33, 24, 24)
    with torch.no_grad():
        y = head(features)[0, 0, 16:80, 16:80]  # away from the zero-padded edges
    phases = y.reshape(16, 4, 16, 4).mean(dim=(0, 2))  # each of the 4 x 4 sub-pixel positions
    spread = float(phases.max() - phases.min())
    assert (spread > 1e-2) if upsampler == "shuffle" else (spread < 1e-5)
