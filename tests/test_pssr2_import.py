import pytest
import torch

from pssr_nb.errors import InputError
from pssr_nb.models import ModelConfig, ResUNet
from pssr_nb.pssr2_import import PSSR2_AFFINE, import_pssr2, pssr2_config


def _pssr2_like(scale=4, frames=1, hidden=(16, 32, 64), depth=2):
    """A network with PSSR2's layout (BatchNorm, input norm, no residual), random weights."""
    cfg = ModelConfig(
        hidden=hidden,
        depth=depth,
        norm="batch",
        scale=scale,
        frames=frames,
        residual=False,
        input_norm=True,
    )
    torch.manual_seed(0)
    net = ResUNet(cfg)
    with torch.no_grad():  # non-trivial running statistics, as after training
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net.eval()


@pytest.mark.parametrize("scale,frames,depth", [(4, 1, 2), (2, 3, 1), (8, 1, 3)])
def test_architecture_is_read_from_the_weights(tmp_path, scale, frames, depth):
    net = _pssr2_like(scale, frames, depth=depth)
    torch.save(net.state_dict(), tmp_path / "model.pth")
    model = import_pssr2(tmp_path / "model.pth", modality="confocal")
    c = model.config
    assert (c.hidden, c.depth, c.scale, c.frames) == ((16, 32, 64), depth, scale, frames)
    assert c.norm == "batch" and c.input_norm and not c.residual
    assert c.offset == (scale - 1) / 2 and model.percentiles == (0.0, 100.0)
    # the imported model on 0..1 inputs is PSSR2's network on 0..255 inputs
    x = torch.rand(2, frames, 24, 20)
    with torch.no_grad():
        core = ResUNet(
            ModelConfig(**{**c.to_dict(), "hidden": c.hidden, "input_affine": (1.0, 0.0)})
        )
        core.load_state_dict(net.state_dict())
        expected = (core.eval()(x * 255 / 128 - 1) * 128 + 128) / 255
        torch.testing.assert_close(model.network(x), expected, atol=1e-4, rtol=1e-4)
    assert PSSR2_AFFINE == (255 / 128, -1.0)


def test_unsupported_and_foreign_files_are_explained(tmp_path):
    sd = _pssr2_like().state_dict()
    torch.save({**sd, "encoder.0.dilations.0.0.weight": torch.zeros(1)}, tmp_path / "a.pth")
    with pytest.raises(InputError, match="atrous"):
        import_pssr2(tmp_path / "a.pth")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "b.pth")
    with pytest.raises(InputError, match="not a PSSR2 ResUNet"):
        import_pssr2(tmp_path / "b.pth")
    torch.save({"weights": [1, 2]}, tmp_path / "c.pth")
    with pytest.raises(InputError, match="plain state_dict"):
        import_pssr2(tmp_path / "c.pth")
    assert pssr2_config(sd).frames == 1


def test_pssr2_weights_give_pssr2s_output(tmp_path):
    models = pytest.importorskip("pssr.models")
    torch.manual_seed(0)
    theirs = models.ResUNet(channels=1, scale=4)
    with torch.no_grad():
        for m in theirs.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    theirs.eval()
    torch.save(theirs.state_dict(), tmp_path / "pssr2.pth")
    ours = import_pssr2(tmp_path / "pssr2.pth")
    assert ours.config.hidden == (64, 128, 256, 512, 1024) and ours.config.depth == 3
    x = torch.rand(2, 1, 64, 48) * 255
    with torch.no_grad():
        torch.testing.assert_close(ours.network(x / 255) * 255, theirs(x), atol=1e-4, rtol=1e-4)
