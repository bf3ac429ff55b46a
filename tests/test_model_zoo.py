"""BioImage Model Zoo export: valid packages that reproduce pssr_nb and read back."""

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch
import yaml
from test_portable import tiny

from pssr_nb.cli import main
from pssr_nb.errors import InputError
from pssr_nb.model_choice import open_model
from pssr_nb.model_file import TrainedModel
from pssr_nb.model_package import load_bioimageio
from pssr_nb.model_zoo import ExportParams, export_bioimageio, reference_output

spec = pytest.importorskip("bioimageio.spec", reason="the bioimageio extra is not installed")


def model() -> TrainedModel:
    m = tiny()
    m.pixel_size_nm, m.modality = 20.0, "confocal"
    m.crappifier = {"format": "pssr_nb.crappifier", "version": 1, "steps": []}
    m.history = [{"step": 5, "kind": "val", "val_psnr": 20.0}]
    return m


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return export_bioimageio(model(), tmp_path_factory.mktemp("zoo") / "m.zip")


def _rdf(path):
    with zipfile.ZipFile(path) as z:
        return yaml.safe_load(z.read("rdf.yaml"))


def test_the_package_validates_and_describes_the_geometry(package):
    summary = spec.load_description(package).validation_summary
    assert summary.status == "valid-format"
    rdf = _rdf(package)
    y_in = next(a for a in rdf["inputs"][0]["axes"] if a.get("id") == "y")
    y_out = next(a for a in rdf["outputs"][0]["axes"] if a.get("id") == "y")
    assert (y_in["unit"], y_in["scale"], y_out["scale"]) == ("nanometer", 20.0, 10.0)
    assert y_in["size"]["step"] == 2 and y_out["size"]["axis_id"] == "y"
    assert set(rdf["weights"]) == {"pytorch_state_dict", "torchscript"}
    names = {a["source"] for a in rdf["attachments"]}
    assert names == {"pssr_nb_model.json", "crappifier.json"}


def test_the_test_output_is_pssr_nb_prediction(package):
    with zipfile.ZipFile(package) as z:
        z.extractall(package.parent / "x")
    x = np.load(package.parent / "x" / "test_input.npy")
    y = np.load(package.parent / "x" / "test_output.npy")
    assert x.shape == (1, 1, 64, 64) and y.shape == (1, 1, 128, 128)
    np.testing.assert_array_equal(y, reference_output(model(), x))


def test_the_torchscript_runs_without_pssr_nb(package):
    """What Fiji gets: the weights alone, with pssr_nb made unimportable."""
    folder = package.parent / "x"
    with zipfile.ZipFile(package) as z:
        z.extractall(folder)
    code = (
        "import sys; sys.modules['pssr_nb'] = None\n"
        "import numpy as np, torch\n"
        f"m = torch.jit.load(r'{folder / 'weights_torchscript.pt'}')\n"
        f"x = torch.from_numpy(np.load(r'{folder / 'test_input.npy'}'))\n"
        f"y = np.load(r'{folder / 'test_output.npy'}')\n"
        "with torch.no_grad(): d = np.abs(m(x).numpy() - y).max()\n"
        "print(d / (y.max() - y.min()))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) < 1e-5


def test_the_package_reads_back_as_the_model(package, tmp_path):
    again = open_model(package)
    original = model()
    assert again.config == original.config and again.pixel_size_nm == 20.0
    assert again.crappifier == original.crappifier and again.history == original.history
    x = torch.rand(1, 1, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(again.network(x), original.network(x))
    folder = export_bioimageio(original, tmp_path / "folder")
    assert open_model(folder).config == original.config
    assert load_bioimageio(folder / "rdf.yaml").percentiles == original.percentiles


def test_an_existing_package_is_not_replaced_without_overwrite(package):
    before = package.read_bytes()
    with pytest.raises(InputError, match="already exists") as err:
        export_bioimageio(model(), package)
    assert err.value.path == package and package.read_bytes() == before
    assert export_bioimageio(model(), package, ExportParams(overwrite=True)) == package
    assert spec.load_description(package).validation_summary.status == "valid-format"
    assert not list(package.parent.glob(".*partial*"))


def test_the_reproduction_check_can_fail(tmp_path, monkeypatch):
    """A TorchScript whose units are plain percentiles is caught before anything is written."""
    from pssr_nb import portable

    real = portable.to_torchscript

    def plain_units(m):
        m = TrainedModel(m.network, input_smoothing=0.0)
        return real(m)

    monkeypatch.setattr(portable, "to_torchscript", plain_units)
    with pytest.raises(InputError, match="do not reproduce"):
        export_bioimageio(model(), tmp_path / "bad.zip")
    assert not list(tmp_path.iterdir())


def test_a_foreign_package_is_named(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as z:
        z.writestr("rdf.yaml", "type: model\n")
    with pytest.raises(InputError, match="not exported by pssr_nb") as err:
        open_model(tmp_path / "other.zip")
    assert err.value.path == tmp_path / "other.zip"


def test_a_missing_extra_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "bioimageio.spec", None)
    with pytest.raises(InputError, match=r"pssr_nb\[bioimageio\]"):
        export_bioimageio(model(), tmp_path / "m.zip")


def test_the_command_line_exports_with_the_benchmark_in_the_readme(tmp_path, capsys):
    path = model().save(tmp_path / "model_best.pt")
    bench = {
        "headline": {"text": "model vs best baseline (bicubic+gaussian): +1.23 dB"},
        "data": {"kind": "phantoms", "images": ["a", "b"], "reference": "noiseless truth"},
        "summary": [{"method": "model", "psnr_mean": 20.0, "psnr_sd": 0.1, "ssim_mean": 0.5}],
    }
    (tmp_path / "benchmark.json").write_text(json.dumps(bench))
    out = tmp_path / "pkg"
    argv = ["export", str(path), "--out", str(out), "--benchmark", str(tmp_path / "benchmark.json")]
    assert main([*argv, "--authors", "Ada Lovelace", "Alan Turing"]) == 0
    readme = (out / "README.md").read_text()
    assert "+1.23 dB" in readme and "| model | 20.00 ± 0.10 | 0.500 |" in readme
    assert [a["name"] for a in yaml.safe_load((out / "rdf.yaml").read_text())["authors"]] == [
        "Ada Lovelace",
        "Alan Turing",
    ]
    assert main(argv) == 2 and "already exists" in capsys.readouterr().err
