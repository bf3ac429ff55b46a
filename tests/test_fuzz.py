"""The command line under hostile use: a table of generated cases.

Every command is run (in-process, as ``pssr-nb`` runs it) with malformed images, model
files, checkpoints and crappifier files, and with settings out of range. Each case must
end in success, or in exit code 1 (files skipped, each named) or 2 (a message with a
``fix:``, or argparse's usage message naming the flag), never in a raw traceback; and
nothing outside the output folder may change (the workspace is hashed before and after).
"""

import hashlib
import io
import json
import os
import traceback
import warnings
from contextlib import redirect_stderr, redirect_stdout

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile
import torch

from pssr_nb.cli import INTERRUPTED, main
from pssr_nb.crappify import Crappifier
from pssr_nb.io import write_tiff
from pssr_nb.model_file import TrainedModel
from pssr_nb.models import ResUNet, config_for
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate

BAD_IMAGES = {
    "random.tif": lambda p: p.write_bytes(os.urandom(3000)),
    "text.png": lambda p: p.write_text("not an image\n" * 20),
    "empty.tif": lambda p: p.write_bytes(b""),
    "six.tif": lambda p: tifffile.imwrite(p, np.zeros((2, 2, 2, 2, 8, 8), np.uint8)),
    "truncated.tif": lambda p: p.write_bytes(_tiff_bytes()[:300]),
    "nan.tif": lambda p: write_tiff(p, np.full((64, 64), np.nan, np.float32), "YX"),
    "tiny.tif": lambda p: write_tiff(p, np.ones((3, 3), np.uint8), "YX"),
}
#: Images that are odd but usable: they must succeed (or fail with a message).
ODD_IMAGES = {
    "rgba.png": lambda p: iio.imwrite(p, np.full((64, 64, 4), 200, np.uint8)),
    "zero_px.ome.tif": lambda p: tifffile.imwrite(
        p, _pattern(), metadata={"PhysicalSizeX": 0, "PhysicalSizeY": 0}
    ),
    "furlong.tif": lambda p: tifffile.imwrite(
        p, _pattern(), imagej=True, resolution=(2.0, 2.0), metadata={"unit": "furlong"}
    ),
    "constant.tif": lambda p: write_tiff(p, np.full((64, 64), 7, np.uint16), "YX"),
}
BAD_MODELS = {
    "random.pt": lambda p: p.write_bytes(os.urandom(3000)),
    "text.pt": lambda p: p.write_text("hello\n" * 40),
    "tensor.pt": lambda p: torch.save(torch.zeros(3), p),
    "nan.pt": lambda p: _nan_model(p),
    "no_config.pt": lambda p: torch.save({"format": "pssr_nb.model"}, p),
}
BAD_CRAPPIFIERS = {
    "list.json": "[1, 2]",
    "nan.json": json.dumps(
        {"format": "pssr_nb.crappifier", "steps": [{"step": "gaussian", "sigma": float("nan")}]}
    ),
    "missing_steps.json": '{"format": "pssr_nb.crappifier"}',
    "unknown_key.json": json.dumps(
        {"format": "pssr_nb.crappifier", "steps": [{"step": "poisson", "dose": 3}]}
    ),
    "binary.json": b"\xff\xfe\x00\x01",
}


def _pattern():
    return (np.indices((64, 64)).sum(0) % 17 * 10).astype(np.uint8)


def _tiff_bytes():
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, _pattern())
    return buffer.getvalue()


def _nan_model(path):
    model = TrainedModel(network=ResUNet(config_for("small", 4, 1)))
    with torch.no_grad():
        next(model.network.parameters()).fill_(float("nan"))
    model.save(path)


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """The workspace: good data and every malformed file, each in its own place."""
    root = tmp_path_factory.mktemp("ws")
    simulate(SimulateParams("em", size=64, scale=4, n_images=2), root / "data")
    torch.manual_seed(0)
    TrainedModel(network=ResUNet(config_for("small", 4, 1)).eval()).save(root / "model.pt")
    Crappifier.default(4).save(root / "crappifier.json")
    for group in (BAD_IMAGES, ODD_IMAGES, BAD_MODELS):
        for name, make in group.items():
            (root / "files").mkdir(exist_ok=True)
            make(root / "files" / name)
    for name, text in BAD_CRAPPIFIERS.items():
        path = root / "files" / name
        path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    mixed = root / "mixed"  # a folder of good and bad images
    mixed.mkdir()
    for name in ("random.tif", "six.tif", "nan.tif"):
        (mixed / name).write_bytes((root / "files" / name).read_bytes())
    for good in sorted((root / "data" / "lr").iterdir()):
        (mixed / good.name).write_bytes(good.read_bytes())
    return root


TRAIN = ["--steps", "2", "--tile", "32", "--batch-size", "2", "--val-tiles", "2"]
TRAIN += ["--validations", "1"]


def _cases():
    """(id, argv template, the name the message must mention or None, whether it must fail).

    Malformed files and settings out of range must fail (a success would be silently
    wrong); odd but usable images may succeed.
    """
    cases = []
    # images of every kind, through every command that reads images
    for name in [*BAD_IMAGES, *ODD_IMAGES]:
        f = f"{{ws}}/files/{name}"
        label = name if name in BAD_IMAGES else f"{name} {ODD}"
        small = f"{name} {ODD}" if name == "tiny.tif" else label  # predicted whole
        cases.append((f"predict {small}", ["predict", f, "--model", "{ws}/model.pt"], name))
        cases.append((f"inspect {small}", ["inspect", f], name))
        cases.append((f"calibrate {label}", ["calibrate", "--lr", f], name))
        if name in BAD_IMAGES:
            cases.append((f"train {name}", ["train", "--hr", f, *TRAIN], name))
    cases.append(
        (
            "predict a mixed folder",
            ["predict", "{ws}/mixed", "--model", "{ws}/model.pt"],
            "random.tif",
        )
    )
    cases.append(
        (
            "predict a missing file",
            ["predict", "{ws}/nowhere.tif", "--model", "{ws}/model.pt"],
            "nowhere.tif",
        )
    )
    cases.append(
        (
            "predict a mismatched axes",
            ["predict", "{ws}/data/lr", "--model", "{ws}/model.pt", "--axes", "ZYX"],
            "ZYX",
        )
    )
    cases.append(
        (
            "predict bad axes letters",
            ["predict", "{ws}/data/lr", "--model", "{ws}/model.pt", "--axes", "QX"],
            "QX",
        )
    )
    # model files, as a model to predict with, to fine-tune from, to benchmark
    for name in BAD_MODELS:
        m = f"{{ws}}/files/{name}"
        cases.append((f"predict with {name}", ["predict", "{ws}/data/lr", "--model", m], name))
        cases.append(
            (f"train from {name}", ["train", "--hr", "{ws}/data/hr", "--init", m, *TRAIN], name)
        )
        cases.append((f"benchmark {name}", ["benchmark", "--model", m, "--n-images", "1"], name))
    # crappifier files
    for name in BAD_CRAPPIFIERS:
        c = f"{{ws}}/files/{name}"
        cases.append(
            (
                f"train with {name}",
                ["train", "--hr", "{ws}/data/hr", "--crappifier", c, *TRAIN],
                name,
            )
        )
    cases.append(
        (
            "train with a folder as crappifier",
            ["train", "--hr", "{ws}/data/hr", "--crappifier", "{ws}/files", *TRAIN],
            "files",
        )
    )
    # settings out of range
    settings = {
        "predict": (
            ["predict", "{ws}/data/lr", "--model", "{ws}/model.pt"],
            {
                "--tile": ["-1", "0", "x"],
                "--batch-size": ["-1", "0"],
                "--overlap": ["-3"],
                "--suffix": ["/x", "..", "a\\b"],
                "--dtype": ["int3"],
                "--device": ["gpu9"],
            },
        ),
        "train": (
            ["train", "--hr", "{ws}/data/hr", *TRAIN],
            {
                "--batch-size": ["-1"],
                "--val-tiles": ["0"],
                "--learning-rate": ["nan", "-1"],
                "--scale": ["-1", "3", "17"],
                "--frames": ["0", "2"],
                "--val-fraction": ["1.5"],
                "--minutes": ["-1", "inf"],
                "--tile": ["30", "4096"],
                "--loss": ["ssim"],
                "--seed": ["-1"],
                "--workers": ["-2"],
                "--validations": ["0"],
            },
        ),
        "calibrate": (
            ["calibrate", "--lr", "{ws}/data/lr"],
            {
                "--scale": ["0", "17"],
                "--trials": ["0"],
                "--bins": ["1"],
                "--dose-range": ["0.5"],
                "--hr": ["{ws}/files/random.tif", "{ws}/nowhere"],
            },
        ),
        "simulate": (
            ["simulate"],
            {
                "--size": ["-1", "8"],
                "--n-images": ["0"],
                "--scale": ["0"],
                "--frames": ["0"],
                "--specimen": ["bogus"],
            },
        ),
        "benchmark": (
            ["benchmark", "--n-images", "1"],
            {
                "--n-images": ["0"],
                "--size": ["-5"],
                "--tile": ["0"],
                "--data": ["nothing"],
                "--lr": ["{ws}/files/random.tif"],
            },
        ),
    }
    for command, (base, flags) in settings.items():
        for flag, values in flags.items():
            for value in values:
                name = None if "{ws}" in value else flag
                cases.append((f"{command} {flag} {value}", [*base, flag, value], name))
    cases.append(
        (
            "train --resume without a run",
            ["train", "--hr", "{ws}/data/hr", "--resume", *TRAIN],
            "checkpoint",
        )
    )
    cases.append(("fetch an unknown dataset", ["fetch", "no_such_dataset"], "no_such_dataset"))
    return [(*case, case[2] is not None and ODD not in case[0]) for case in cases]


#: Marks the cases of odd but usable images in their ids.
ODD = "(usable)"
CASES = _cases()
#: Commands whose argv takes an output folder.
WRITES = ("predict", "train", "calibrate", "simulate", "benchmark")


def _tree(root, skip):
    digest = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and skip not in path.parents:
            digest[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def outcome(argv):
    """(exit code, stderr) of ``pssr-nb argv``; a raw traceback is returned as code None."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: usage and a message naming the flag
            code = exc.code
        except BaseException:
            return None, traceback.format_exc()
    return code, err.getvalue()


def check(code, err, named, must_fail=False):
    """The rule every case obeys."""
    assert code is not None, f"raw traceback:\n{err}"
    assert not (must_fail and code == 0), "a malformed input or setting was accepted"
    assert "Traceback" not in err, err
    assert code in (0, 1, 2, INTERRUPTED), (code, err)
    if code == 2:
        assert "fix:" in err or "usage:" in err, err
    if code in (1, 2) and named:
        assert named in err, f"{named!r} not named in:\n{err}"


@pytest.mark.parametrize(
    ("argv", "named", "must_fail"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_command_ends_in_success_or_a_message_and_touches_nothing_else(
    argv, named, must_fail, ws, tmp_path, monkeypatch
):
    monkeypatch.setenv("PSSR_NB_CACHE", str(tmp_path / "cache"))
    argv = [a.format(ws=ws) for a in argv]
    if argv[0] in WRITES:
        argv += ["--out", str(ws / "out" / tmp_path.name)]
    before = _tree(ws, ws / "out")
    code, err = outcome(argv)
    check(code, err, named, must_fail)
    assert _tree(ws, ws / "out") == before, "a file outside the output folder changed"


def test_the_rule_can_fail(monkeypatch):
    """A command that raises a bare exception, or says nothing useful, breaks the rule."""
    from pssr_nb import cli

    monkeypatch.setattr(cli, "_cmd_datasets", lambda args: {}["missing"])
    code, err = outcome(["datasets"])
    with pytest.raises(AssertionError, match="raw traceback"):
        check(code, err, None)
    with pytest.raises(AssertionError, match="not named"):
        check(2, "pssr-nb predict: Something failed.\n  fix:  try again", "a.tif")
    with pytest.raises(AssertionError):
        check(2, "pssr-nb predict: Something failed.", None)  # no fix
    with pytest.raises(AssertionError, match="was accepted"):
        check(0, "", "nan.json", must_fail=True)
