"""Choosing the compute device and its mixed-precision mode; what a run ran on."""

from __future__ import annotations

import contextlib
import platform
from typing import Any

import torch

from .errors import InputError

__all__ = [
    "autocast_for",
    "device_summary",
    "environment",
    "mixed_precision_dtype",
    "resolve_device",
]


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple MPS, then the CPU; other names are checked."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise InputError(
            f"Unknown device {name!r}.",
            fix="Give --device (device=) auto, cpu, cuda, cuda:1 or mps.",
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise InputError(
            "A CUDA device was requested but none is available.",
            fix="Use device='auto' or 'cpu' (on Colab: Runtime > Change runtime type > GPU).",
        )
    return device


def device_summary() -> str:
    """One line for the notebooks: the device that will be used, and what that means."""
    device = resolve_device()
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"GPU: {props.name} ({props.total_memory / 2**30:.0f} GB). Training and inference run on it."
    if device.type == "mps":
        return "Apple GPU (MPS). Training and inference run on it."
    return (
        f"No GPU: running on {torch.get_num_threads()} CPU threads. Training uses small tiles and "
        "short budgets; on Colab choose Runtime > Change runtime type > GPU for more."
    )


def autocast_for(
    device: torch.device, enabled: bool = True
) -> tuple[contextlib.AbstractContextManager, bool]:
    """The autocast context for ``device`` and whether it uses fp16 (which needs a grad scaler).

    Mixed precision is used on CUDA only, in :func:`mixed_precision_dtype`.
    """
    if not (enabled and device.type == "cuda"):
        return contextlib.nullcontext(), False
    dtype = mixed_precision_dtype(device)
    return torch.autocast("cuda", dtype=dtype), dtype == torch.float16


def mixed_precision_dtype(device: torch.device) -> torch.dtype:
    """bf16 on GPUs that compute it natively (compute capability 8.0 or later), else fp16.

    Not ``torch.cuda.is_bf16_supported()``: it is True on Colab's free T4 (capability
    7.5), which only emulates bf16, slowly; its tensor cores do fp16 (with a grad scaler).
    """
    major, _ = torch.cuda.get_device_capability(device)
    return torch.bfloat16 if major >= 8 else torch.float16


def environment() -> dict[str, Any]:
    """Versions and device of this run, for records and reports."""
    import numpy
    import skimage

    from . import __version__

    return {
        "pssr_nb": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-image": skimage.__version__,
        "platform": platform.platform(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
    }
