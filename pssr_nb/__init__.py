"""pssr_nb: notebook-first point-scanning super-resolution for microscopy teaching.

The package's face: the names a learner's notebook uses, importable from
``pssr_nb`` itself::

    from pssr_nb import Form, Viewer, image_grid, open_project, read_image

Each step of the workflow is a module with the same shape (settings as a
``...Params`` dataclass, ``run(params, ...)``, ``summary_rows``):
``describe`` (understand the data), ``calibrate`` (the crappifier), ``train``,
``predict``, ``benchmark`` and ``demo`` (the quickstart). Import them as
modules, ``from pssr_nb import train``. Everything else lives in the modules
that own it (each lists its public names in ``__all__``; docs/architecture.md
has the map).

The names are imported when first used, so ``import pssr_nb`` (and the
command line's ``--version``) does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Each public name of the face, and the module that owns it.
FACE = {
    # the project folder the notebooks share
    "open_project": "project",
    "quick_mode": "params",
    # forms, viewers and figures
    "Form": "ui",
    "Viewer": "ui",
    "LivePlot": "ui",
    "image_grid": "plotting",
    "intensity_histogram": "plotting",
    "training_curves": "plotting",
    "noise_profile_figure": "plotting",
    "physical_estimate_figure": "plotting",
    "format_rows": "tables",
    # images and models
    "read_image": "io",
    "middle_plane": "io",
    "simulate": "phantoms",
    "Crappifier": "crappify",
    "TrainedModel": "model_file",
    "open_model": "model_choice",
    "ExportParams": "model_zoo",
    "export_bioimageio": "model_zoo",
    # teaching tables and where a run is
    "sampling_table": "lessons",
    "shot_noise_table": "lessons",
    "NoiseDistance": "crappifier_fit",
    "device_summary": "devices",
    "next_run_folder": "files",
    "load_previews": "validation",
    "write_report": "report",
    "InputError": "errors",
    "PssrError": "errors",
}

#: The workflow's steps, one module each, the benchmark's figures, and large volumes.
MODULES = (
    "describe",
    "calibrate",
    "train",
    "predict",
    "benchmark",
    "demo",
    "report_figures",
    "volume",
)

__all__ = ["__version__", *FACE, *MODULES]


def __getattr__(name: str) -> Any:
    if name in FACE:
        value = getattr(importlib.import_module(f".{FACE[name]}", __name__), name)
    elif name in MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'pssr_nb' has no attribute {name!r}")
    globals()[name] = value  # once imported, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
