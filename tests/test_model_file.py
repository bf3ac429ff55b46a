import os
import pickle

import pytest
import torch

from pssr_nb.crappify import Crappifier
from pssr_nb.errors import InputError
from pssr_nb.model_file import TrainedModel
from pssr_nb.models import ResUNet, config_for


def small_model(**kwargs) -> TrainedModel:
    torch.manual_seed(0)
    return TrainedModel(ResUNet(config_for("small", scale=2, frames=3, offset=0.0)), **kwargs)


def test_round_trip_keeps_weights_and_facts(tmp_path):
    model = small_model(
        crappifier=Crappifier.default(2).to_dict(),
        pixel_size_nm=16.0,
        modality="scanning EM",
        history=[{"step": 10, "loss": 0.1}],
    )
    path = model.save(tmp_path / "m.pt")
    again = TrainedModel.load(path)
    assert (
        again.config == model.config
        and again.pixel_size_nm == 16.0
        and again.history[0]["step"] == 10
    )
    assert Crappifier.from_dict(again.crappifier) == Crappifier.default(2)
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        torch.testing.assert_close(again.network(x), model.network.eval()(x))
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # no temp file left


class Exploit:
    def __reduce__(self):
        return (os.system, ("touch exploited_marker",))


def test_a_malicious_pickle_is_refused_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"format": "pssr_nb.model", "payload": Exploit()}, f, protocol=2)
    with pytest.raises(InputError, match="could run code"):
        TrainedModel.load(path)
    assert not (tmp_path / "exploited_marker").exists()


def test_damaged_foreign_and_mismatched_files(tmp_path):
    path = small_model().save(tmp_path / "m.pt")
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(InputError, match="truncated"):
        TrainedModel.load(path)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a pssr_nb model"):
        TrainedModel.load(tmp_path / "other.pt")
    payload = torch.load(small_model().save(tmp_path / "x.pt"), weights_only=True)
    payload["config"]["hidden"] = [16, 32, 64, 128]
    torch.save(payload, tmp_path / "bad.pt")
    with pytest.raises(InputError, match="do not fit"):
        TrainedModel.load(tmp_path / "bad.pt")
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "new.pt")
    with pytest.raises(InputError, match="newer"):
        TrainedModel.load(tmp_path / "new.pt")
    with pytest.raises(InputError, match="not found"):
        TrainedModel.load(tmp_path / "missing.pt")


def test_half_precision_files_are_half_the_size_and_load_as_float32(tmp_path):
    model = small_model()
    full = model.save(tmp_path / "full.pt")
    half = model.save(tmp_path / "half.pt", half=True)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    again = TrainedModel.load(half)
    assert all(p.dtype == torch.float32 for p in again.network.parameters())
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(again.network(x), model.network.eval()(x), atol=2e-3, rtol=0)


def test_files_get_the_usual_permissions(tmp_path):
    path = small_model().save(tmp_path / "m.pt")
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_the_sample_model_ships_with_the_package():
    from pssr_nb.model_file import load_sample_model, sample_model_path

    assert sample_model_path().stat().st_size < 5e6
    model = load_sample_model()
    assert model.config.scale == 4 and model.crappifier is not None
    assert "train_sample_model.py" in model.origin
    with pytest.raises(InputError, match="No sample model"):
        load_sample_model("nope")


@pytest.mark.parametrize("name", ["em_x4", "fluorescence_x4"])
def test_a_sample_model_names_its_real_data_and_ships_only_what_may_be_shipped(name):
    """A shipped model's origin names every real set it saw with its licence, and no set
    whose licence forbids shipping derived weights (benchmarks/real_sets.py)."""
    import sys
    from pathlib import Path

    from pssr_nb.model_file import load_sample_model

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from real_sets import SETS, training_sets

    origin = load_sample_model(name).origin
    for real in SETS.values():
        if real.name in origin:
            assert real.shippable and f"{real.name} ({real.licence})" in origin
    if name == "em_x4":  # the EM model ships with its real-image stage
        assert all(s.name in origin for s in training_sets("em"))
