"""Microscope vendor files (Zeiss, Leica, Nikon, OME-Zarr) read through bioio.

The pixels, their axes and the physical pixel size come from the file's own
metadata through the maintained `bioio <https://github.com/bioio-devs/bioio>`_
readers, one plugin per format. They are an optional extra
(``pip install "pssr_nb[formats]"``); TIFF, PNG and JPEG need none of it
(:mod:`pssr_nb.io` reads them with tifffile).

A file may hold several images (bioio calls them scenes: the series of a
Leica project, the positions of a Zeiss experiment). The first is read unless
another is named, and a warning says how many there are.
"""

from __future__ import annotations

import importlib
import importlib.util
import warnings
from pathlib import Path

import numpy as np

from .errors import InputError

__all__ = ["INSTALL_FIX", "READERS", "is_microscope_file", "read_microscope_file", "scenes"]

#: The file endings read through bioio, and the reader plugin (package) for each.
READERS = {
    ".czi": "bioio-czi",
    ".lif": "bioio-lif",
    ".nd2": "bioio-nd2",
    ".zarr": "bioio-ome-zarr",
}
INSTALL_FIX = 'Install the microscope-file readers: pip install "pssr_nb[formats]"'

#: Axes bioio names that the library keeps (S: colour samples).
_KEPT_AXES = "TCZYXS"
_UM_TO_NM = 1e3


def is_microscope_file(path: str | Path) -> bool:
    """Whether ``path`` names a format read through bioio (by its ending)."""
    return Path(path).suffix.lower() in READERS


def _reader_class(path: Path) -> type:
    package = READERS[path.suffix.lower()]
    module = package.replace("-", "_")
    if importlib.util.find_spec("bioio") is None or importlib.util.find_spec(module) is None:
        raise InputError(
            f"Reading {path.suffix} files needs the bioio reader {package}, which is not "
            "installed.",
            path=path,
            fix=f"{INSTALL_FIX} (or only this format: pip install {package}); then restart "
            "the kernel. Or save the image as OME-TIFF (Fiji: File > Save As > OME-TIFF).",
        )
    return importlib.import_module(module).Reader


def _open(path: Path):
    from bioio import BioImage

    if not path.exists():
        raise InputError(
            "This image file does not exist.", path=path, fix="Check the path and name."
        )
    try:
        return BioImage(path, reader=_reader_class(path))
    except InputError:
        raise
    except Exception as exc:  # readers raise many types for damaged or foreign files
        raise InputError(
            f"Could not read this {path.suffix} file ({type(exc).__name__}: "
            f"{_first_line(exc)}). It may be truncated, corrupt or not really a "
            f"{path.suffix} file.",
            path=path,
            fix="Re-export or re-copy the file; other files in the folder are unaffected.",
        ) from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else ""


def scenes(path: str | Path) -> tuple[str, ...]:
    """The names of the images (scenes) a microscope file holds, in order."""
    return tuple(_open(Path(path)).scenes)


def read_microscope_file(
    path: str | Path, scene: int | str | None = None
) -> tuple[np.ndarray, str, dict[str, float]]:
    """Pixels, axes and pixel size (nm) of one image of a vendor file.

    Parameters
    ----------
    path : str or Path
        A ``.czi``, ``.lif``, ``.nd2`` file or an OME-Zarr folder (``.zarr``).
    scene : int or str, optional
        Which image of a file that holds several: its index or its name (see
        :func:`scenes`). By default the first, with a warning when there are more.

    Returns
    -------
    data : ndarray
        The whole image in memory in the file's dtype, without axes of length 1
        other than Y and X.
    axes : str
        Its axes, in bioio's order ``"TCZYX"`` (``"S"`` last for colour).
    pixel_size : dict
        Nanometres per pixel for the axes the metadata states.

    Raises
    ------
    InputError
        If the reader is not installed, the file cannot be read, the scene does not
        exist, or the image has an axis pssr_nb cannot hold.
    """
    path = Path(path)
    image = _open(path)
    names = tuple(image.scenes)
    _set_scene(image, names, scene, path)
    dims = image.dims
    order = dims.order
    sizes = {axis: getattr(dims, axis) for axis in order}
    extra = {a: n for a, n in sizes.items() if a not in _KEPT_AXES and n > 1}
    if extra:
        raise InputError(
            f"This image has axes pssr_nb cannot hold: {extra} (of {order}).",
            path=path,
            fix="Export it from the vendor software as separate images, or as OME-TIFF "
            "with at most the axes T, Z, C, Y, X.",
        )
    keep = "".join(a for a in order if a in "YXS" or (a in _KEPT_AXES and sizes[a] > 1))
    try:
        data = np.asarray(image.get_image_data(keep))
    except Exception as exc:
        raise InputError(
            f"Could not read the pixels of this file ({type(exc).__name__}: "
            f"{_first_line(exc)}). It may be truncated or corrupt.",
            path=path,
            fix="Re-export or re-copy the file; other files in the folder are unaffected.",
        ) from exc
    return data, keep, _pixel_size_nm(image, keep)


def _set_scene(image, names: tuple[str, ...], scene: int | str | None, path: Path) -> None:
    if scene is None:
        if len(names) > 1:
            warnings.warn(
                f"{path} holds {len(names)} images ({_list(names)}); the first, "
                f"{names[0]!r}, is read. Pass scene= (an index or a name) for another.",
                stacklevel=4,
            )
        return
    if isinstance(scene, str) and scene not in names:
        raise InputError(
            f"This file holds no image named {scene!r}.",
            path=path,
            fix=f"Choose one of {_list(names)} (or its index from 0 to {len(names) - 1}).",
        )
    if isinstance(scene, int) and not 0 <= scene < len(names):
        raise InputError(
            f"scene={scene} but this file holds {len(names)} image(s).",
            path=path,
            fix=f"Choose an index from 0 to {len(names) - 1}, or a name: {_list(names)}.",
        )
    image.set_scene(scene)


def _list(names: tuple[str, ...], most: int = 6) -> str:
    shown = ", ".join(repr(n) for n in names[:most])
    return shown + (f", … ({len(names)} in all)" if len(names) > most else "")


def _pixel_size_nm(image, axes: str) -> dict[str, float]:
    """bioio's physical pixel sizes (micrometres) in nm, for the axes kept."""
    sizes = image.physical_pixel_sizes
    px = {}
    for axis, value in (("X", sizes.X), ("Y", sizes.Y), ("Z", sizes.Z)):
        if value is not None and (axis in "YX" or axis in axes):
            px[axis] = float(f"{float(value) * _UM_TO_NM:.12g}")  # no 150.00000000000003
    return px
