"""The notebooks' shared project folder and its small JSON manifest.

Each notebook step writes its results into one project folder and records
them in ``project.json`` (which step produced which file, with what
settings). The next notebook reads what it needs from there, so nothing has
to be typed twice. When an earlier step has not been run, the project falls
back to the built-in sample project: simulated EM phantoms, the crappifier
that matches their simulated microscope, and the shipped sample model. Every
notebook therefore runs on its own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .crappify import Crappifier
from .errors import InputError, show_briefly_in_notebooks
from .files import atomic_path
from .model_choice import matching_sample_model
from .model_file import SAMPLE_MODELS, TrainedModel, load_sample_model, sample_model_path

__all__ = [
    "FORMAT",
    "MANIFEST",
    "SAMPLE",
    "default_folder",
    "in_colab",
    "open_project",
    "Project",
]

MANIFEST = "project.json"
FORMAT = "pssr_nb.project"
#: Settings of the sample project's phantoms.
SAMPLE = {"specimen": "em", "size": 256, "scale": 4, "train_images": 4, "test_images": 2}


def default_folder() -> Path:
    """``$PSSR_NB_PROJECT``, else ``pssr_project`` in the working directory."""
    return Path(os.environ.get("PSSR_NB_PROJECT", "pssr_project"))


def in_colab() -> bool:
    """True inside a Google Colab runtime."""
    return "google.colab" in sys.modules


def open_project(drive: bool = True) -> Project:
    """The notebooks' project: on Colab, a folder on Google Drive (mounted on first use).

    A Colab runtime forgets its disk when it disconnects; a project on Drive keeps
    checkpoints, models and reports. Elsewhere (and with ``drive=False``) this is
    :func:`default_folder`. ``$PSSR_NB_PROJECT`` always wins. In a notebook, pssr_nb's
    own errors are from then on shown as their message, without a traceback.
    """
    show_briefly_in_notebooks()
    if in_colab() and drive and "PSSR_NB_PROJECT" not in os.environ:
        from google.colab import drive as colab_drive  # only importable on Colab

        colab_drive.mount("/content/drive")
        return Project(Path("/content/drive/MyDrive") / default_folder().name)
    return Project()


class Project:
    """A project folder shared by the notebooks.

    Parameters
    ----------
    folder : str or Path, optional
        Created if missing. Default: :func:`default_folder`.

    Examples
    --------
    >>> import tempfile
    >>> project = Project(tempfile.mkdtemp())
    >>> project.record("train", model=project.folder / "run" / "model_best.pt", minutes=5)
    >>> project.get("model").name, project.get("minutes")
    ('model_best.pt', 5)
    """

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else default_folder()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.manifest_path = self.folder / MANIFEST

    # -- the manifest ------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        if not self.manifest_path.exists():
            return {"format": FORMAT, "steps": {}}
        try:
            data = json.loads(self.manifest_path.read_text())
        except json.JSONDecodeError as exc:
            raise InputError(
                f"The project manifest is not valid JSON ({exc}).",
                path=self.manifest_path,
                fix="Fix or delete the file; the notebooks will record their results again.",
            ) from exc
        if data.get("format") != FORMAT:
            raise InputError(
                "This project.json was not written by pssr_nb.",
                path=self.manifest_path,
                fix="Use another project folder.",
            )
        return data

    @property
    def steps(self) -> dict[str, dict[str, Any]]:
        """What each step recorded, by step name."""
        return self._read()["steps"]

    def record(self, step: str, **outputs: Any) -> None:
        """Record a step's outputs; ``Path`` values are stored relative to the project folder."""
        data = self._read()
        entry = {k: self._relative(v) for k, v in outputs.items()}
        entry["recorded"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        data["steps"][step] = entry
        with atomic_path(self.manifest_path) as tmp:
            tmp.write_text(json.dumps(data, indent=2) + "\n")

    def _relative(self, value: Any) -> Any:
        if isinstance(value, Path):
            try:
                return {"path": str(value.resolve().relative_to(self.folder.resolve()))}
            except ValueError:
                return {"path": str(value.resolve())}
        return value

    def get(self, key: str, default: Any = None, step: str | None = None) -> Any:
        """The most recently recorded value of ``key`` (paths as Path).

        Over all steps, or only what ``step`` recorded.
        """
        entries = [self.steps.get(step, {})] if step else self.steps.values()
        found = [(entry.get("recorded", ""), entry[key]) for entry in entries if key in entry]
        if not found:
            return default
        value = max(found, key=lambda item: item[0])[1]
        if isinstance(value, dict) and set(value) == {"path"}:
            return self.folder / value["path"]
        return value

    # -- what the notebooks need, with the sample project as fallback ---------

    def sample_data(self) -> dict[str, Path]:
        """Generate (once) the sample phantoms: ``train`` and ``test`` folders of hr/lr/truth."""
        from .phantoms import SimulateParams
        from .phantoms import run as simulate

        root = self.folder / "sample_data"
        folders = {}
        for name, n, seed in (
            ("train", SAMPLE["train_images"], 100),  # apart from the sample model's phantoms
            ("test", SAMPLE["test_images"], 1000),
        ):
            folder = root / name
            if not (folder / "phantoms.json").exists():
                params = SimulateParams(
                    SAMPLE["specimen"], SAMPLE["size"], SAMPLE["scale"], n_images=n, seed=seed
                )
                simulate(params, folder, overwrite=True)
            folders[name] = folder
        return folders

    def crappifier(self) -> Crappifier:
        """The recorded crappifier, else one calibrated (once) on the sample's training pairs."""
        path = self.get("crappifier")
        if path is not None:
            return Crappifier.load(path)
        train = self.sample_data()["train"]
        sample = train / "calibrate" / "crappifier.json"
        if not sample.is_file():
            from .calibrate import CalibrateParams, calibrate_pairs
            from .data import match_pairs
            from .io import image_files, read_image

            pairs = [
                (read_image(lr).data, read_image(hr).data)
                for lr, hr in match_pairs(image_files(train / "lr"), image_files(train / "hr"))
            ]
            params = CalibrateParams(scale=SAMPLE["scale"])
            calibrate_pairs(pairs, params, fit=False).save(sample.parent, overwrite=True)
        return Crappifier.load(sample)

    def training_defaults(self, scale: int) -> dict[str, str]:
        """Form defaults for notebook 03: what to fine-tune, and real pairs to validate on.

        On the sample data: fine-tune the shipped sample model of its specimen (see
        :func:`~pssr_nb.model_choice.matching_sample_model`), and validate on the held-out
        sample pairs (scans the training never sees). On the user's own data: nothing (a
        matching pretrained model and held-out pairs are the user's to name, see the
        notebook).
        """
        if self.get("hr") is not None:
            return {}
        test = self.sample_data()["test"]
        return {
            "init": matching_sample_model(SAMPLE["specimen"], scale),
            "val_lr": str(test / "lr"),
            "val_hr": str(test / "hr"),
        }

    def trained_model(self) -> Path | None:
        """The model notebook 03 trained (or imported from PSSR2), if any.

        Not "the last model recorded": notebooks 04 and 05 record the model they used,
        which may be a sample model chosen for one run.
        """
        found = [
            (self.steps[s].get("recorded", ""), s)
            for s in ("train", "import_pssr2")
            if "model" in self.steps.get(s, {})
        ]
        return self.get("model", step=max(found)[1]) if found else None

    def model(self) -> TrainedModel:
        """The model notebook 03 trained, else the shipped sample model."""
        path = self.trained_model()
        return TrainedModel.load(path) if path is not None else load_sample_model()

    def model_path(self, choice: str = "") -> Path:
        """The model file named in notebook 04 or 05 (``model`` of their inputs form).

        A PSSR2 ``.pth`` is imported (safely, see :mod:`pssr_nb.pssr2_import`) and
        written as a pssr_nb model under ``models/`` in the project.
        """
        if not choice:
            return self.trained_model() or sample_model_path()
        if choice in SAMPLE_MODELS:
            return sample_model_path(choice)
        path = Path(choice)
        if path.suffix.lower() == ".pth":
            from .pssr2_import import import_pssr2

            converted = self.folder / "models" / f"{path.stem}_from_pssr2.pt"
            import_pssr2(path).save(converted)
            self.record("import_pssr2", source=path, model=converted)
            return converted
        if not path.exists():  # a file, or an exported BioImage Model Zoo folder
            raise InputError(
                "This model file does not exist.",
                path=path,
                fix=f"Check the path, or leave it empty, or use one of {list(SAMPLE_MODELS)}.",
            )
        return path

    def pairs(self) -> list[tuple[Path, Path]]:
        """(LR, HR) file pairs recorded by notebook 01, else the sample's training pairs."""
        from .data import find_pairs

        lr = self.get("paired_lr")
        if lr is None:
            sample = self.sample_data()["train"]
            return find_pairs(sample / "lr", sample / "hr")
        return find_pairs(
            lr, self.get("hr"), self.get("lr_token"), self.get("hr_token"), self.hr_pattern()
        )

    def test_pairs(
        self,
        lr: str | Sequence[str] = "",
        hr: str | Sequence[str] = "",
        lr_token: str = "",
        hr_token: str = "",
    ) -> list[tuple[Path, Path]]:
        """(LR, HR) pairs to benchmark on: the given folders, else the recorded or held-out pairs."""
        from .data import find_pairs

        if lr or hr:
            if not (lr and hr):
                raise InputError(
                    "Give both an LR and an HR folder (or neither).",
                    path=lr or hr,
                    fix="Fill in both paths, or leave both empty for the recorded pairs.",
                )
            return find_pairs(lr, hr, lr_token, hr_token)
        if self.get("paired_lr") is not None:
            return self.pairs()
        test = self.sample_data()["test"]
        return find_pairs(test / "lr", test / "hr")

    def hr_pattern(self) -> str:
        """The HR file name pattern notebook 01 recorded (``*``: every image)."""
        return self.get("pattern", step="your_data") or "*"

    def hr(self) -> Path | list[Path]:
        """The recorded HR images, else the sample training phantoms.

        A folder, or the files in it that match the recorded pattern (so that the noisy
        images of a folder that holds both are not trained on).
        """
        from .io import image_files

        hr = self.get("hr")
        if hr is None:
            return self.sample_data()["train"] / "hr"
        pattern = self.hr_pattern()
        return hr if pattern == "*" else image_files(hr, pattern)

    def lr(self) -> Path:
        """The LR images notebook 01 recorded (``paired_lr``), else the held-out sample phantoms."""
        return self.get("paired_lr") or self.sample_data()["test"] / "lr"

    def scale(self) -> int:
        """The scale notebook 01 recorded for your data, else the sample's."""
        return self.get("scale", step="understand_data") or SAMPLE["scale"]

    def __repr__(self) -> str:
        return f"Project({str(self.folder)!r}, steps={list(self.steps)})"
