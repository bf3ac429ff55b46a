"""Turn what a user names as a model into a :class:`~pssr_nb.model_file.TrainedModel`.

A model can be named four ways, everywhere a model is asked for (training's
``init``, the quickstart's ``start``, export): the name of a sample model shipped
with pssr_nb (``em_x4``), a PSSR2 ``.pth`` state_dict (imported safely, see
:mod:`pssr_nb.pssr2_import`), a pssr_nb model file, or a BioImage Model Zoo
package pssr_nb exported (see :mod:`pssr_nb.model_zoo`).
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .model_file import SAMPLE_MODELS, TrainedModel, load_sample_model
from .model_package import is_package, load_bioimageio
from .pssr2_import import import_pssr2

__all__ = ["MODEL_HELP", "matching_sample_model", "open_model"]


#: How a model is named wherever one is asked for.
MODEL_HELP = (
    f"A model file (.pt), a PSSR2 .pth (imported safely), an exported BioImage Model Zoo "
    f"package, or a sample model ({', '.join(SAMPLE_MODELS)}). Empty: in the notebooks the "
    f"model trained in notebook 03, else {next(iter(SAMPLE_MODELS))}; on the command line "
    f"{next(iter(SAMPLE_MODELS))}."
)


def open_model(name: str | Path) -> TrainedModel:
    """The model a user named: a sample model name, a PSSR2 ``.pth``, a model file or a
    BioImage Model Zoo package exported by pssr_nb.

    Raises
    ------
    InputError
        When the file does not exist or is not a model, naming it and the choices.
    """
    if str(name) in SAMPLE_MODELS:
        return load_sample_model(str(name))
    path = Path(name)
    if not path.exists():
        raise InputError(
            "This model file does not exist.",
            path=path,
            fix=f"Check the path, or name a sample model ({', '.join(sorted(SAMPLE_MODELS))}).",
        )
    if path.suffix.lower() == ".pth":
        return import_pssr2(path)
    if is_package(path):
        return load_bioimageio(path)
    return TrainedModel.load(path)


def matching_sample_model(specimen: str, scale: int, frames: int = 1) -> str:
    """The name of the shipped sample model to fine-tune for this specimen and geometry,
    or ``""``.

    A model of the same scale when one ships, else one of the specimen whose weights fit
    any scale (:attr:`~pssr_nb.models.ModelConfig.fits_any_scale`): fine-tuning
    ``em_x4`` at 2x or 1x beat training from scratch for the same time
    (benchmarks/RESULTS.md, "Other scales").

    Examples
    --------
    >>> matching_sample_model("em", 4), matching_sample_model("em", 2)
    ('em_x4', 'em_x4')
    >>> matching_sample_model("em", 4, frames=3)
    ''
    """
    same = [n for n, i in SAMPLE_MODELS.items() if (i.specimen, i.frames) == (specimen, frames)]
    for name in same:
        if SAMPLE_MODELS[name].scale == scale:
            return name
    for name in same:
        if load_sample_model(name).config.fits_any_scale:
            return name
    return ""
