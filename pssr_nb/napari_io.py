"""napari readers, writer and sample data: images with their axes and physical pixel size.

A layer's ``scale`` is its pixel size in nanometres per axis (1 where unknown), so an LR
scan, its HR scan and a prediction overlay one another in world coordinates. The
layer's ``metadata`` keeps the axes and pixel sizes the library needs to predict or
train from it. Needs the ``napari`` extra; OME-Zarr also needs the ``scale`` extra.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError
from .io import ImageData, read_image, write_tiff
from .phantoms import simulate
from .volume import is_zarr

__all__ = [
    "LAZY_BYTES",
    "LayerData",
    "fluorescence_sample",
    "get_reader",
    "layer_image",
    "read_layers",
    "layer_scale",
    "em_sample",
    "write_image",
]

#: What napari takes from a reader: ``(data, layer keyword arguments, layer type)``.
LayerData = tuple[Any, dict[str, Any], str]

_TIFF = (".tif", ".tiff")

#: TIFFs larger than this are opened lazily (with the scale extra), not read into memory.
LAZY_BYTES = 2 << 30


def layer_scale(axes: str, pixel_size: dict[str, float]) -> tuple[float, ...]:
    """A layer's ``scale`` for an image with these axes and pixel sizes (nm; 1 if unknown).

    Examples
    --------
    >>> layer_scale("ZYX", {"X": 8.0, "Y": 8.0})
    (1.0, 8.0, 8.0)
    """
    return tuple(float(pixel_size.get(a, 1.0)) for a in axes)


def _layer(data: Any, axes: str, pixel_size: dict[str, float], name: str, **kw: Any) -> LayerData:
    meta = {"axes": axes, "pixel_size": dict(pixel_size), **kw.pop("metadata", {})}
    return (
        data,
        {"name": name, "scale": layer_scale(axes, pixel_size), "metadata": meta, **kw},
        "image",
    )


def get_reader(path: str | Sequence[str]) -> Callable[[Any], list[LayerData]] | None:
    """npe2 reader hook: a reader for pssr_nb's TIFF and OME-Zarr images, else None."""
    if not isinstance(path, str):
        return None
    if Path(path).suffix.lower() in _TIFF or is_zarr(path):
        return read_layers
    return None


def read_layers(path: str | Sequence[str]) -> list[LayerData]:
    """The image at ``path`` as a layer: an OME-Zarr lazily with its pyramid, a TIFF in
    memory (lazily above :data:`LAZY_BYTES`, when the scale extra is installed)."""
    path = Path(path if isinstance(path, str) else path[0])
    if is_zarr(path) or _lazy_tiff(path):
        from .volume import open_pyramid

        levels = open_pyramid(path)
        first = levels[0]
        data = [level.array for level in levels]
        return [
            _layer(
                data if len(data) > 1 else data[0],
                first.axes,
                first.pixel_size,
                path.name,
                multiscale=len(data) > 1,
                metadata={"path": str(path)},
            )
        ]
    image = read_image(path)
    return [
        _layer(image.data, image.axes, image.pixel_size, path.stem, metadata={"path": str(path)})
    ]


def _lazy_tiff(path: Path) -> bool:
    if path.suffix.lower() not in _TIFF or path.stat().st_size <= LAZY_BYTES:
        return False
    try:
        import dask  # noqa: F401
        import zarr  # noqa: F401
    except ImportError:
        return False
    return True


def layer_image(layer: Any) -> ImageData:
    """A napari image layer as the library's :class:`~pssr_nb.io.ImageData`.

    Axes and pixel sizes come from the layer's metadata when pssr_nb's reader (or a
    prediction) made it; otherwise the last two axes are Y and X and the ones before
    them planes (``Z``, then ``T``), and the pixel size is unknown.

    Raises
    ------
    InputError
        For RGB layers and multiscale (pyramid) layers, naming what to do instead.
    """
    if getattr(layer, "rgb", False):
        raise InputError(
            f"The layer {layer.name!r} is an RGB image; PSSR works on one channel.",
            fix="Split the channels (right-click the layer: Split RGB) and pick one.",
        )
    if getattr(layer, "multiscale", False):
        raise InputError(
            f"The layer {layer.name!r} is a multiscale pyramid, too large to hold in memory.",
            fix="Predict it into OME-Zarr: pssr-nb predict IMAGE.ome.zarr --out OUT.ome.zarr, "
            "then open the result here.",
        )
    meta = getattr(layer, "metadata", {}) or {}
    data = np.asarray(layer.data)
    axes = meta.get("axes") or "TZYX"[4 - min(data.ndim, 4) :]
    if len(axes) != data.ndim:
        raise InputError(
            f"The layer {layer.name!r} has {data.ndim} dimensions; PSSR takes 2 to 4 (T, Z, Y, X).",
            fix="Pick a 2-D image or a stack.",
        )
    path = meta.get("path")
    return ImageData(data, axes, dict(meta.get("pixel_size", {})), Path(path) if path else None)


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """npe2 writer hook: one image layer as an ImageJ/OME TIFF with its pixel size.

    Never replaces an existing file (napari shows the message naming it).
    """
    metadata = meta.get("metadata", {}) or {}
    data = np.asarray(data)
    axes = metadata.get("axes") or "TZYX"[4 - min(data.ndim, 4) :]
    pixel_size = dict(metadata.get("pixel_size", {}))
    written = write_tiff(Path(path), data, axes, pixel_size)
    return [str(written or path)]


def _phantom_layers(specimen: str) -> list[LayerData]:
    field = simulate(specimen, shape=(256, 256), scale=4, seed=1000)
    hr_px = {"Y": field.pixel_size, "X": field.pixel_size}
    lr_px = {"Y": field.lr_pixel_size, "X": field.lr_pixel_size}
    # LR pixel 0 is the scan position of HR pixel `offset`: shift it there in world space.
    shift = field.offset * field.pixel_size
    return [
        _layer(field.hr, "YX", hr_px, f"{specimen} phantom HR (slow scan)"),
        _layer(
            field.lr, "YX", lr_px, f"{specimen} phantom LR (fast scan)", translate=(shift, shift)
        ),
    ]


def em_sample() -> list[LayerData]:
    """Sample data: a simulated scanning-EM field, its slow (HR) and fast x4 (LR) scans."""
    return _phantom_layers("em")


def fluorescence_sample() -> list[LayerData]:
    """Sample data: a simulated confocal field, its slow (HR) and fast x4 (LR) scans."""
    return _phantom_layers("fluorescence")
