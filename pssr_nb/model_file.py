"""One file per trained model: weights plus everything needed to use them.

A model file is a ``torch.save`` of plain data (numbers, strings, lists,
dicts) and tensors only, and is always read with ``weights_only=True``: a
file that carries a pickled object (which could run code) is refused, not
executed. Files are written atomically.
"""

from __future__ import annotations

import copy
import dataclasses
import errno
import pickle
from pathlib import Path
from typing import Any

import torch

from . import __version__
from .errors import InputError
from .files import atomic_path, write_failed
from .models import ModelConfig, ResUNet
from .normalize import DEFAULT_PERCENTILES
from .sampling import lr_offset
from .units import INPUT_SMOOTHING

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SAMPLE_MODELS",
    "atomic_save",
    "load_sample_model",
    "read_safely",
    "sample_model_path",
    "SampleModel",
    "TrainedModel",
]

FORMAT = "pssr_nb.model"
FORMAT_VERSION = 1


@dataclasses.dataclass
class TrainedModel:
    """A network with the facts a later step needs.

    Attributes
    ----------
    network : ResUNet
    percentiles : (float, float)
        How inputs are normalised (per image) before the network: these percentiles of
        the image after a Gaussian smoothing of ``input_smoothing`` pixels (see
        :mod:`pssr_nb.units`).
    input_smoothing : float
        Files written before this field existed get the same definition as new ones.
    training_units : (float, float)
        ``(low, span)`` of the network's input units in the training images' normalised
        units, averaged over the training images: how an input made the way training
        makes it (a crappified normalised HR) is mapped before the network.
    crappifier : dict or None
        The crappifier the model was trained with (``Crappifier.to_dict()``).
    pixel_size_nm : float or None
        LR pixel size of the training data.
    modality : str
        E.g. ``"scanning EM"`` or ``"confocal"``.
    history : list of dict
        Training log rows (step, loss, validation scores).
    origin : str
        ``"pssr_nb"`` or where the weights came from (e.g. a PSSR2 import).
    """

    network: ResUNet
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES
    input_smoothing: float = INPUT_SMOOTHING
    training_units: tuple[float, float] = (0.0, 1.0)
    crappifier: dict[str, Any] | None = None
    pixel_size_nm: float | None = None
    modality: str = ""
    history: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    origin: str = "pssr_nb"

    @property
    def config(self) -> ModelConfig:
        return self.network.config

    def at_sampling(self, mode: str) -> TrainedModel:
        """This model serving LR images sampled by ``mode`` (``""``: as it learned).

        ``decimate`` is a point scan (one sample per pixel), ``area`` an average over each
        pixel's block (binning, an integrating detector); see
        :func:`pssr_nb.sampling.lr_offset`. The weights are unchanged: the skip and the
        network's output move to where the samples sit (:meth:`ModelConfig.at_offset`).
        A model already at that sampling is returned as it is, else a copy.
        """
        if not mode:
            return self
        offset = lr_offset(self.config.scale, mode)
        if offset == self.config.offset:
            return self
        network = copy.deepcopy(self.network)
        network.config = self.config.at_offset(offset)
        return dataclasses.replace(self, network=network)

    def describe(self) -> str:
        """One line for people: what the model does and what it was trained on."""
        from .models import count_parameters

        cfg = self.config
        parts = [
            f"{cfg.scale}x super-resolution",
            f"{cfg.frames} input frame{'s' if cfg.frames > 1 else ''}",
            f"{count_parameters(self.network) / 1e6:.2f} M parameters",
        ]
        if cfg.residual and cfg.skip_sigma > 0:
            parts.append(f"adds to bicubic + a Gaussian of {cfg.skip_sigma:g} HR px")
        if self.modality:
            parts.append(f"trained on {self.modality}")
        if self.pixel_size_nm:
            parts.append(f"LR pixels {self.pixel_size_nm:g} nm")
        blends = [r for r in self.history if r.get("kind") == "blend"]
        if blends:
            parts.append(f"blended with the baseline ({blends[-1]['gain']:.0%} of its detail kept)")
        steps = [r["step"] for r in self.history if r.get("kind") == "train"]
        if steps:
            parts.append(f"{max(steps)} training steps")
        if self.origin != "pssr_nb":
            parts.append(f"from {self.origin}")
        return ", ".join(parts)

    def save(self, path: str | Path, half: bool = False) -> Path:
        """Write the model file atomically (a crash never leaves a half-written file).

        ``half=True`` stores floating-point weights as float16 (half the size, for
        shipping); they are read back as float32.
        """
        state = self.network.state_dict()
        if half:
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        payload = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "pssr_nb_version": __version__,
            "config": self.config.to_dict(),
            "state_dict": state,
            "percentiles": list(self.percentiles),
            "input_smoothing": self.input_smoothing,
            "training_units": list(self.training_units),
            "crappifier": self.crappifier,
            "pixel_size_nm": self.pixel_size_nm,
            "modality": self.modality,
            "history": self.history,
            "origin": self.origin,
        }
        return atomic_save(payload, path)

    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> TrainedModel:
        """Read a model file safely.

        Raises
        ------
        InputError
            For a missing, damaged, unsafe, newer or mismatched file, naming the file.

        To open whatever a user names as a model (a sample model, a PSSR2 ``.pth``,
        an exported package), use :func:`pssr_nb.model_choice.open_model`.
        """
        payload = read_safely(path, map_location)
        if not isinstance(payload, dict) or payload.get("format") != FORMAT:
            raise InputError(
                "This is not a pssr_nb model file.",
                path=path,
                fix="To use a PSSR2 model (.pth state_dict), import it with the PSSR2 importer.",
            )
        if payload.get("format_version", 0) > FORMAT_VERSION:
            raise InputError(
                f"This model was saved by a newer pssr_nb ({payload.get('pssr_nb_version')}).",
                path=path,
                fix="Upgrade pssr_nb (pip install -U pssr_nb).",
            )
        try:
            network = ResUNet(ModelConfig.from_dict(payload["config"]))
            network.load_state_dict(payload["state_dict"])
        except (KeyError, TypeError, RuntimeError) as exc:
            raise InputError(
                f"The weights in this file do not fit the architecture it describes ({type(exc).__name__}).",
                path=path,
                fix="The file may be damaged, or written by an incompatible version; retrain or re-export it.",
            ) from exc
        network.eval()
        broken = [k for k, v in network.state_dict().items() if not torch.isfinite(v).all()]
        if broken:
            raise InputError(
                f"The weights of this model contain NaN or infinite values ({broken[0]}); it "
                "would predict nothing but NaN.",
                path=path,
                fix="Use model_best.pt or an earlier checkpoint of the run, or train again with a "
                "lower learning_rate.",
            )
        return cls(
            network=network,
            percentiles=tuple(payload.get("percentiles", DEFAULT_PERCENTILES)),
            input_smoothing=float(payload.get("input_smoothing", INPUT_SMOOTHING)),
            training_units=tuple(payload.get("training_units", (0.0, 1.0))),
            crappifier=payload.get("crappifier"),
            pixel_size_nm=payload.get("pixel_size_nm"),
            modality=payload.get("modality", ""),
            history=list(payload.get("history", [])),
            origin=payload.get("origin", "pssr_nb"),
        )


def atomic_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` that never leaves a half-written file (see :func:`~pssr_nb.files.atomic_path`)."""
    with atomic_path(path) as tmp:
        try:
            with open(tmp, "wb") as fh:  # a file object: a full disk raises OSError, not
                torch.save(obj, fh)  # torch's RuntimeError without a reason
        except RuntimeError as exc:
            raise write_failed(OSError(errno.EIO, str(exc)), path) from exc
    return Path(path)


def read_safely(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True``, with errors a user can act on."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            "Model file not found.", path=path, fix="Check the path, or train a model first."
        )
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "global" in str(exc).lower():  # the safe loader refused to import a callable
            raise InputError(
                "This file contains Python objects that could run code when loaded; it was "
                "not loaded.",
                path=path,
                fix="Only load model files from sources you trust, saved by pssr_nb or as "
                "plain state_dicts.",
            ) from None
        raise _not_a_torch_file(path, exc) from None
    except (RuntimeError, EOFError) as exc:
        raise InputError(
            f"Could not read this model file ({type(exc).__name__}); it may be truncated.",
            path=path,
            fix="Use the previous checkpoint or copy the file again.",
        ) from None
    except OSError as exc:
        raise InputError(
            f"Could not read this file: {exc.strerror or exc}.",
            path=path,
            fix="Check that the file is readable.",
        ) from None
    except Exception as exc:  # any bytes reach the unpickler; it fails in many ways
        raise _not_a_torch_file(path, exc) from None


def _not_a_torch_file(path: Path, exc: BaseException) -> InputError:
    return InputError(
        f"This is not a PyTorch model file ({type(exc).__name__} while reading it).",
        path=path,
        fix="Give a model_best.pt or model_last.pt written by pssr_nb, or a PSSR2 .pth.",
    )


@dataclasses.dataclass(frozen=True)
class SampleModel:
    """What a shipped sample model is for: its specimen (phantom) and geometry."""

    description: str
    specimen: str
    scale: int
    frames: int = 1


#: Models shipped inside the package, trained on phantoms (and ``em_x4`` then on real public
#: images, licences in its ``origin``) by ``scripts/train_sample_model.py``.
SAMPLE_MODELS = {
    "em_x4": SampleModel(
        "EM phantoms (simulated SEM, 4 nm HR pixels) and real vEM slices (MICrONS TEM, "
        "OpenOrganelle FIB-SEM; CC BY 4.0), 4x, small preset",
        "em",
        4,
    ),
    "fluorescence_x4": SampleModel(
        "Fluorescence phantoms (simulated confocal, 40 nm HR pixels), 4x, small preset",
        "fluorescence",
        4,
    ),
}


def sample_model_path(name: str = "em_x4") -> Path:
    """Path of a model shipped with pssr_nb (see :data:`SAMPLE_MODELS`)."""
    if name not in SAMPLE_MODELS:
        raise InputError(
            f"No sample model called {name!r}.", fix=f"Choose one of {sorted(SAMPLE_MODELS)}."
        )
    return Path(__file__).parent / "sample_models" / f"{name}.pt"


def load_sample_model(name: str = "em_x4") -> TrainedModel:
    """A model shipped with pssr_nb, so inference and benchmarks work without training first.

    Examples
    --------
    >>> load_sample_model("em_x4").config.scale
    4
    """
    return TrainedModel.load(sample_model_path(name))
