"""Reading back the BioImage Model Zoo packages pssr_nb exports.

A package written by :func:`pssr_nb.model_zoo.export_bioimageio` holds, beside
its weights, ``pssr_nb_model.json``: everything a
:class:`~pssr_nb.model_file.TrainedModel` holds. :func:`load_bioimageio` reads it
and the state-dict weights back as that model, without the optional
``bioimageio.spec`` (which only writing needs). Kept apart from the writer so that
opening a model never imports the prediction code the writer uses for its test
tensors.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from . import __version__
from .errors import InputError
from .model_file import TrainedModel, read_safely
from .models import ModelConfig, ResUNet

__all__ = ["DESCRIPTION_NAMES", "FACTS_FILE", "is_package", "load_bioimageio", "package_facts"]

#: The descriptions a package may be opened by (``rdf.yaml`` is the older name).
DESCRIPTION_NAMES = ("rdf.yaml", "bioimageio.yaml")
#: What a package holds beside the weights, for :func:`load_bioimageio`.
FACTS_FILE = "pssr_nb_model.json"
STATE_DICT_FILE = "weights_state_dict.pt"


def package_facts(model: Any) -> dict[str, Any]:
    """Everything a :class:`~pssr_nb.model_file.TrainedModel` holds beside its weights."""
    return {
        "format": "pssr_nb.model",
        "pssr_nb_version": __version__,
        "config": model.config.to_dict(),
        "percentiles": list(model.percentiles),
        "input_smoothing": model.input_smoothing,
        "training_units": list(model.training_units),
        "crappifier": model.crappifier,
        "pixel_size_nm": model.pixel_size_nm,
        "modality": model.modality,
        "history": model.history,
        "origin": model.origin,
    }


def is_package(path: str | Path) -> bool:
    """Whether ``path`` is a BioImage Model Zoo package (zip, folder or its description)."""
    path = Path(path)
    if path.is_dir():
        return any((path / n).is_file() for n in DESCRIPTION_NAMES)
    if path.name in DESCRIPTION_NAMES or path.suffix in (".yaml", ".yml"):
        return path.is_file()
    # Only .zip: a torch model file is a zip archive too, and is not opened here.
    if path.suffix.lower() == ".zip" and path.is_file() and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            return any(n in z.namelist() for n in DESCRIPTION_NAMES)
    return False


def _read(path: Path, name: str) -> bytes:
    if path.is_dir():
        return (path / name).read_bytes()
    with zipfile.ZipFile(path) as z:
        return z.read(name)


def load_bioimageio(path: str | Path) -> TrainedModel:
    """The :class:`~pssr_nb.model_file.TrainedModel` a pssr_nb package was exported from.

    Needs no ``bioimageio.spec``: the package's ``pssr_nb_model.json`` and state-dict
    weights are read directly (the weights safely, as model files are).

    Raises
    ------
    InputError
        For a package pssr_nb did not export, or a damaged one, naming it.
    """
    path = Path(path)
    root = path.parent if path.is_file() and not zipfile.is_zipfile(path) else path
    try:
        facts = json.loads(_read(root, FACTS_FILE))
        state = _read(root, STATE_DICT_FILE)
    except (KeyError, FileNotFoundError):
        raise InputError(
            "This BioImage Model Zoo package was not exported by pssr_nb (it has no "
            f"{FACTS_FILE} and {STATE_DICT_FILE}).",
            path=path,
            fix="Run it in a tool of the Zoo (bioimageio.core, deepImageJ); pssr_nb can "
            "import only its own packages and PSSR2 .pth files.",
        ) from None
    except (json.JSONDecodeError, zipfile.BadZipFile, OSError) as exc:
        raise InputError(
            f"Could not read this package ({type(exc).__name__}).",
            path=path,
            fix="Download or copy the package again.",
        ) from None
    with tempfile.TemporaryDirectory() as tmp:
        weights = Path(tmp) / STATE_DICT_FILE
        weights.write_bytes(state)
        portable_state = read_safely(weights)
    try:
        network = ResUNet(ModelConfig.from_dict(facts["config"]))
        network.load_state_dict({k.removeprefix("network."): v for k, v in portable_state.items()})
    except (KeyError, TypeError, RuntimeError, AttributeError) as exc:
        raise InputError(
            f"The package's weights do not fit the network it describes ({type(exc).__name__}).",
            path=path,
            fix="The package may be damaged; download or export it again.",
        ) from None
    return TrainedModel(
        network=network.eval(),
        percentiles=tuple(facts["percentiles"]),
        input_smoothing=float(facts["input_smoothing"]),
        training_units=tuple(facts["training_units"]),
        crappifier=facts.get("crappifier"),
        pixel_size_nm=facts.get("pixel_size_nm"),
        modality=facts.get("modality", ""),
        history=list(facts.get("history", [])),
        origin=facts.get("origin", "pssr_nb"),
    )
