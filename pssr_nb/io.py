"""Reading and writing microscopy images with their axes and pixel size.

TIFF (plain, multi-page, ImageJ and OME), PNG and JPEG are read into an
:class:`ImageData`: the pixels in their own dtype, an axes string such as
``"ZYX"`` and the pixel size in nanometres per axis. Vendor files (``.czi``,
``.lif``, ``.nd2``) and OME-Zarr are read the same way through the bioio readers
of :mod:`pssr_nb.microscope_files` (an optional extra). Colour (RGB) images are
reduced to grey. TIFFs are written as ImageJ hyperstacks (or OME-TIFF for
dtypes ImageJ cannot hold) with axes and pixel size, atomically, and never
over an existing file unless asked.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import tifffile

from .errors import InputError
from .files import atomic_path, refuse_to_replace
from .microscope_files import READERS, is_microscope_file, read_microscope_file

__all__ = [
    "IMAGE_SUFFIXES",
    "OTHER_SUFFIXES",
    "READABLE_SUFFIXES",
    "TIFF_SUFFIXES",
    "VALID_AXES",
    "check_axes",
    "image_files",
    "ImageData",
    "list_images",
    "middle_plane",
    "output_path_for",
    "output_paths",
    "read_image",
    "super_resolved_pixel_size",
    "tiff_metadata",
    "write_tiff",
]

TIFF_SUFFIXES = (".tif", ".tiff")
OTHER_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Read without extras (tifffile, imageio).
IMAGE_SUFFIXES = TIFF_SUFFIXES + OTHER_SUFFIXES
#: Everything :func:`read_image` reads; the vendor formats need ``pssr_nb[formats]``.
READABLE_SUFFIXES = IMAGE_SUFFIXES + tuple(READERS)

#: Axes the library understands. S is colour samples (RGB), reduced to grey on reading.
VALID_AXES = "TZCYXS"

#: What ImageJ writes when an image has no physical calibration.
_UNCALIBRATED = ("pixel", "pixels", "px")

_UNIT_TO_NM = {
    "nm": 1.0,
    "nanometer": 1.0,
    "nanometre": 1.0,
    "um": 1e3,
    "µm": 1e3,
    "μm": 1e3,
    "\\u00b5m": 1e3,
    "micron": 1e3,
    "microns": 1e3,
    "micrometer": 1e3,
    "micrometre": 1e3,
    "mm": 1e6,
    "millimeter": 1e6,
    "cm": 1e7,
    "m": 1e9,
    "meter": 1e9,
    "a": 0.1,
    "å": 0.1,
    "angstrom": 0.1,
}


@dataclasses.dataclass
class ImageData:
    """Pixels with their axes and physical pixel size.

    Attributes
    ----------
    data : ndarray
        The pixels in the file's own dtype (never silently converted).
    axes : str
        One letter per dimension of ``data`` from ``"TZCYX"``, ending in ``"YX"``.
    pixel_size : dict
        Nanometres per pixel for the axes where it is known, e.g. ``{"X": 4.0, "Y": 4.0}``.
    path : Path or None
        Where the image came from.
    """

    data: np.ndarray
    axes: str
    pixel_size: dict[str, float] = dataclasses.field(default_factory=dict)
    path: Path | None = None

    def __post_init__(self) -> None:
        check_axes(self.axes, self.data.ndim, self.path)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def pixel_size_xy(self) -> float | None:
        """Lateral pixel size in nm, or None when unknown."""
        return self.pixel_size.get("X", self.pixel_size.get("Y"))

    def __repr__(self) -> str:
        px = self.pixel_size_xy
        px_text = f"{px:g} nm" if px else "unknown"
        return (
            f"ImageData(axes={self.axes!r}, shape={self.data.shape}, dtype={self.data.dtype}, "
            f"pixel size={px_text}, path={self.path})"
        )


def check_axes(axes: str, ndim: int, path: Path | str | None = None) -> str:
    """Validate an axes string against an array's number of dimensions.

    Raises
    ------
    InputError
        When the string has the wrong length, repeats or unknown letters, or does not end in YX.
    """
    axes = axes.upper()
    if len(axes) != ndim:
        raise InputError(
            f"The axes {axes!r} name {len(axes)} dimensions but the image has {ndim}.",
            path=path,
            fix=f"Pass axes= with {ndim} letters from {VALID_AXES!r}, e.g. 'ZYX'.",
        )
    if len(set(axes)) != len(axes) or any(a not in VALID_AXES for a in axes):
        raise InputError(
            f"The axes {axes!r} repeat a letter or use one outside {VALID_AXES!r}.",
            path=path,
            fix="Use each of T, Z, C, Y, X at most once, e.g. 'TZYX'.",
        )
    if axes.replace("S", "")[-2:] != "YX":
        raise InputError(
            f"The axes {axes!r} must end with the image plane 'YX'.",
            path=path,
            fix="Reorder the data (numpy.moveaxis) so Y and X come last.",
        )
    return axes


def list_images(folder: str | Path, pattern: str = "*") -> list[Path]:
    """List the image files of a folder, sorted by name.

    Parameters
    ----------
    folder : str or Path
        Folder to search (not recursive).
    pattern : str
        Glob pattern applied to file names, e.g. ``"*_hr.tif"``.

    Raises
    ------
    InputError
        If the folder does not exist or holds no image file matching ``pattern``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(
            "This folder does not exist.",
            path=folder,
            fix="Check the path; in Colab, mount Google Drive first and use /content/drive/MyDrive/...",
        )
    files = sorted(p for p in folder.glob(pattern) if _is_image(p))
    if not files:
        raise InputError(
            f"No image files matching {pattern!r} in this folder "
            f"(looked for {', '.join(READABLE_SUFFIXES)}).",
            path=folder,
            fix="Point to the folder that holds your images, or change the pattern.",
        )
    return files


def _is_image(path: Path) -> bool:
    """A file :func:`read_image` reads, or an OME-Zarr folder (an image that is a folder)."""
    suffix = path.suffix.lower()
    if path.is_dir():
        return suffix == ".zarr"
    return path.is_file() and suffix in READABLE_SUFFIXES


def image_files(path: str | Path, pattern: str = "*") -> list[Path]:
    """An image as a one-item list, or the images of a folder (see :func:`list_images`).

    A file is one image; so is an OME-Zarr folder (``.zarr``), which is not searched.
    A missing path with an image ending is returned as it is, so that reading it says
    the file is missing.
    """
    path = Path(path)
    missing_file = not path.exists() and path.suffix.lower() in READABLE_SUFFIXES
    if path.is_file() or _is_image(path) or missing_file:
        return [path]
    return list_images(path, pattern)


def read_image(
    path: str | Path,
    axes: str | None = None,
    channel: int | None = None,
    pixel_size: float | dict[str, float] | None = None,
    memmap: bool = False,
    scene: int | str | None = None,
) -> ImageData:
    """Read an image file with its axes and pixel size.

    Parameters
    ----------
    path : str or Path
        A ``.tif``/``.tiff`` (plain, multi-page, ImageJ or OME), ``.png`` or ``.jpg`` file;
        with the extra ``pssr_nb[formats]`` also a Zeiss ``.czi``, Leica ``.lif``, Nikon
        ``.nd2`` file or an OME-Zarr folder (``.zarr``).
    axes : str, optional
        Axes of the data as stored in the file, e.g. ``"TZYX"`` or ``"YXS"``; overrides the
        metadata. By default they come from the file's metadata, else from the shape
        (2-D: YX; 3-D: ZYX, or YXS for a trailing dimension of 3 or 4).
    channel : int, optional
        For colour (S) or multi-channel (C) images: keep only this channel.
        Colour images without a channel are converted to grey with a warning.
    pixel_size : float or dict, optional
        Pixel size in nm (a number for X and Y, or a dict per axis); overrides the metadata.
    memmap : bool
        Map uncompressed TIFFs into memory instead of reading them (pixels are then
        read from disk only when used); other files are read as usual.
    scene : int or str, optional
        For vendor files holding several images: which one (index or name, see
        :func:`pssr_nb.microscope_files.scenes`). By default the first.

    Returns
    -------
    ImageData

    Raises
    ------
    InputError
        If the file is missing, unreadable, truncated or its axes do not fit.
    """
    path = Path(path)
    if is_microscope_file(path):
        data, file_axes, file_px = read_microscope_file(path, scene)
        return _finish(path, data, file_axes, file_px, axes, channel, pixel_size)
    if not path.is_file():
        raise InputError(
            "This image file does not exist.", path=path, fix="Check the path and name."
        )
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(
            f"Unsupported file type {suffix!r}.",
            path=path,
            fix=f"Save the image as one of {', '.join(READABLE_SUFFIXES)} (TIFF keeps 16-bit "
            "data; the vendor formats need pssr_nb[formats]).",
        )
    try:
        if suffix in TIFF_SUFFIXES:
            data, file_axes, file_px = _read_tiff(path, memmap)
        else:
            data, file_axes, file_px = _read_other(path)
    except InputError as exc:
        raise InputError(exc.problem, path=exc.path or path, fix=exc.fix) from None
    except Exception as exc:  # tifffile/imageio raise many types for damaged files
        raise InputError(
            f"Could not read this image ({type(exc).__name__}: {exc}). It may be truncated or corrupt.",
            path=path,
            fix="Re-export or re-copy the file; other files in the folder are unaffected.",
        ) from exc
    return _finish(path, data, file_axes, file_px, axes, channel, pixel_size)


def _finish(
    path: Path,
    data: np.ndarray,
    file_axes: str,
    file_px: dict[str, float],
    axes: str | None,
    channel: int | None,
    pixel_size: float | dict[str, float] | None,
) -> ImageData:
    """The user's overrides of axes, channel and pixel size applied to what a file holds."""
    if axes is not None:
        file_axes = check_axes(axes, data.ndim, path)
    data, file_axes = _select_channel(data, file_axes, channel, path)
    if pixel_size is not None:
        file_px = (
            {"X": float(pixel_size), "Y": float(pixel_size)}
            if np.isscalar(pixel_size)
            else {k.upper(): float(v) for k, v in dict(pixel_size).items()}
        )
        if not all(math.isfinite(v) and v > 0 for v in file_px.values()):
            raise InputError(f"pixel_size={pixel_size!r} is not a positive size in nm.", path=path)
    else:
        file_px = _plausible_pixel_size(file_px, path)
    return ImageData(data=data, axes=file_axes, pixel_size=file_px, path=path)


def _plausible_pixel_size(pixel_size: dict[str, float], path: Path) -> dict[str, float]:
    """The file's pixel sizes without those that cannot be true (zero, negative, NaN).

    Metadata is written by many programs and is sometimes wrong; a damaged value is
    dropped with a warning (the size is then unknown) rather than stopping the file.
    """
    good = {k: v for k, v in pixel_size.items() if math.isfinite(v) and v > 0}
    if len(good) < len(pixel_size):
        bad = {k: v for k, v in pixel_size.items() if k not in good}
        warnings.warn(
            f"{path}: the pixel size in its metadata ({bad}) is not a positive size; it is "
            "treated as unknown. Pass pixel_size= (nm) to state it.",
            stacklevel=4,
        )
    return good


def _default_axes(shape: tuple[int, ...]) -> str:
    if len(shape) == 2:
        return "YX"
    if len(shape) == 3 and shape[-1] in (3, 4):
        return "YXS"
    return {3: "ZYX", 4: "TZYX", 5: "TZCYX"}.get(len(shape), "")


def _read_tiff(path: Path, memmap: bool = False) -> tuple[np.ndarray, str, dict[str, float]]:
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        raw_axes = series.axes.upper()
        pixel_size = _tiff_pixel_size(tif, raw_axes)
        data = None
        if memmap:
            try:
                data = tifffile.memmap(path, mode="r")
            except ValueError:  # compressed or not contiguous: read instead
                data = None
            if data is not None and data.shape != tuple(series.shape):
                data = None
        if data is None:
            data = series.asarray()
    axes = _clean_tiff_axes(raw_axes, data.shape)
    return data, axes, pixel_size


def tiff_metadata(path: str | Path) -> tuple[str, dict[str, float], tuple[int, ...]]:
    """Axes, pixel sizes (nm) and shape of a TIFF, read as :func:`read_image` reads them,
    without reading its pixels (for lazy, chunked reading of huge files)."""
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        raw_axes, shape = series.axes.upper(), tuple(series.shape)
        pixel_size = _tiff_pixel_size(tif, raw_axes)
    return _clean_tiff_axes(raw_axes, shape), pixel_size, shape


def _clean_tiff_axes(raw: str, shape: tuple[int, ...]) -> str:
    """Map tifffile's axes codes onto the library's letters."""
    # tifffile uses I (image sequence) and Q (unknown) for dimensions it cannot name.
    unknown = [i for i, a in enumerate(raw) if a not in VALID_AXES]
    if not unknown:
        return raw
    if len(shape) > len(VALID_AXES.replace("S", "")):
        raise InputError(
            f"This image has {len(shape)} dimensions ({raw}, shape {shape}); pssr_nb reads "
            "at most five: T, Z, C, Y, X.",
            fix="Save it with at most those five axes (Fiji: Image > Hyperstacks), or split "
            "it into several files.",
        )
    guess = _default_axes(shape)
    if guess and all(raw[i] == guess[i] for i in range(len(raw)) if i not in unknown):
        return guess
    axes = list(raw)
    for i in unknown:
        axes[i] = next(a for a in "ZTC" if a not in axes)
    return "".join(axes)


def _tiff_pixel_size(tif: tifffile.TiffFile, axes: str) -> dict[str, float]:
    if tif.is_ome and tif.ome_metadata:
        px = _ome_pixel_size(tif.ome_metadata)
        if px:
            return px
    page = tif.pages[0]
    px: dict[str, float] = {}
    ij = tif.imagej_metadata or {}
    unit = str(ij.get("unit", "")).strip().lower()
    if unit and unit not in _UNIT_TO_NM:
        if unit not in _UNCALIBRATED:
            warnings.warn(
                f"{tif.filehandle.path}: unknown length unit {unit!r} in its metadata; the pixel "
                "size is treated as unknown. Pass pixel_size= (nm) to state it.",
                stacklevel=4,
            )
        return {}
    res_unit = page.tags.get("ResolutionUnit")
    res_unit = int(res_unit.value) if res_unit is not None else 1
    xres, yres = page.tags.get("XResolution"), page.tags.get("YResolution")
    if unit in _UNIT_TO_NM:
        factor = _UNIT_TO_NM[unit]
    elif res_unit == 3:  # centimetre; inch-based values are usually screen DPI, not optics
        factor = 1e7
    else:
        factor = None
    if factor is not None:
        for name, tag in (("X", xres), ("Y", yres)):
            if tag is not None:
                num, den = tag.value
                if num > 0 and (num, den) != (1, 1):
                    px[name] = factor * den / num
        if "Z" in axes and ij.get("spacing"):
            px["Z"] = factor * float(ij["spacing"])
    return px


def _ome_pixel_size(xml: str) -> dict[str, float]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return {}
    pixels = next((el for el in root.iter() if el.tag.endswith("Pixels")), None)
    if pixels is None:
        return {}
    px = {}
    for axis in "XYZ":
        value = pixels.get(f"PhysicalSize{axis}")
        if value is not None:
            unit = pixels.get(f"PhysicalSize{axis}Unit", "µm").lower()  # OME's default
            if unit not in _UNIT_TO_NM:
                warnings.warn(
                    f"unknown OME length unit {unit!r}; the pixel size is treated as unknown. "
                    "Pass pixel_size= (nm) to state it.",
                    stacklevel=5,
                )
                return {}
            try:
                px[axis] = float(value) * _UNIT_TO_NM[unit]
            except ValueError:
                return {}
    return px


def _read_other(path: Path) -> tuple[np.ndarray, str, dict[str, float]]:
    import imageio.v3 as iio

    data = np.asarray(iio.imread(path))
    if data.ndim == 3:  # PNG and JPEG hold one plane: the last axis is colour samples
        if data.shape[-1] in (2, 4):  # grey + alpha, RGB + alpha: transparency is not signal
            alpha = data[..., -1]
            if alpha.min() != alpha.max():
                warnings.warn(f"{path}: its transparency (alpha channel) is ignored.", stacklevel=4)
            data = data[..., :-1]
        if data.shape[-1] == 1:
            return data[..., 0], "YX", {}
        return data, "YXS", {}
    return data, _default_axes(data.shape), {}


def _select_channel(
    data: np.ndarray, axes: str, channel: int | None, path: Path | None
) -> tuple[np.ndarray, str]:
    """Reduce colour samples (S) to grey, or keep one channel (S or C)."""
    for letter in ("S", "C"):
        if letter not in axes:
            continue
        ax = axes.index(letter)
        n = data.shape[ax]
        if channel is not None:
            if not 0 <= channel < n:
                raise InputError(
                    f"channel={channel} but the image has {n} channels.",
                    path=path,
                    fix=f"Choose a channel between 0 and {n - 1}.",
                )
            return np.take(data, channel, axis=ax), axes.replace(letter, "")
        if letter == "S":
            return _colour_to_grey(data, ax, path), axes.replace("S", "")
    return data, axes


def _colour_to_grey(data: np.ndarray, ax: int, path: Path | None) -> np.ndarray:
    rgb = np.take(data, [0, 1, 2], axis=ax) if data.shape[ax] >= 3 else data
    first = np.take(rgb, 0, axis=ax)
    if all(np.array_equal(first, np.take(rgb, i, axis=ax)) for i in range(1, rgb.shape[ax])):
        return first  # grey stored as RGB: nothing is lost
    warnings.warn(
        f"{path or 'image'}: colour (RGB) image converted to grey by luminance; "
        "pass channel=0/1/2 to keep one channel instead.",
        stacklevel=4,
    )
    weights = np.array([0.2125, 0.7154, 0.0721]).reshape(
        [-1 if i == ax else 1 for i in range(data.ndim)]
    )
    grey = (rgb.astype(np.float64) * weights).sum(axis=ax)
    if np.issubdtype(data.dtype, np.integer):
        grey = np.rint(grey)
    return grey.astype(data.dtype)


def super_resolved_pixel_size(pixel_size: dict[str, float], scale: int) -> dict[str, float]:
    """Pixel size of an output ``scale`` times finer in Y and X (Z and T unchanged).

    Examples
    --------
    >>> super_resolved_pixel_size({"X": 16.0, "Y": 16.0, "Z": 50.0}, 4)
    {'X': 4.0, 'Y': 4.0, 'Z': 50.0}
    """
    return {axis: value / scale if axis in "YX" else value for axis, value in pixel_size.items()}


def output_path_for(path: str | Path, out_dir: str | Path, suffix: str = "") -> Path:
    """Where to write the result for an input file, refusing to overwrite the input.

    Raises
    ------
    InputError
        If the result would replace the input file itself.
    """
    path, out_dir = Path(path), Path(out_dir)
    if re.search(r"[/\\]|\.\.", suffix):
        raise InputError(
            f"The suffix {suffix!r} is a path; outputs must stay in the output folder.",
            fix="Give --suffix (suffix=) letters, digits, '_' or '-' (e.g. _pssr).",
        )
    stem = re.sub(r"\.ome$", "", path.stem)
    target = out_dir / f"{stem}{suffix}.tif"
    if target.resolve() == path.resolve():
        raise InputError(
            "The output would overwrite the input image.",
            path=path,
            fix="Choose a different output folder or add a suffix.",
        )
    return target


def output_paths(
    paths: Sequence[str | Path], out_dir: str | Path, suffixes: Sequence[str]
) -> list[list[Path]]:
    """The outputs of every input (one per suffix), checked together before anything is written.

    Raises
    ------
    InputError
        If an output would replace any of the inputs (not only its own), or two inputs
        would write the same output (``x.tif`` and ``x.png``).
    """
    inputs = {Path(p).resolve(): Path(p) for p in paths}
    seen: dict[Path, Path] = {}
    planned = []
    for path in paths:
        targets = [output_path_for(path, out_dir, suffix) for suffix in suffixes]
        for target in targets:
            key = target.resolve()
            if key in inputs:
                raise InputError(
                    f"The output of {Path(path).name} would overwrite the input {target.name}.",
                    path=target,
                    fix="Choose a different output folder or add a suffix.",
                )
            if key in seen:
                raise InputError(
                    f"{seen[key].name} and {Path(path).name} would both be written to "
                    f"{target.name}.",
                    path=path,
                    fix="Rename one of them, or predict them into separate output folders.",
                )
            seen[key] = Path(path)
        planned.append(targets)
    return planned


_IMAGEJ_ORDER = "TZCYXS"
_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)


def write_tiff(
    path: str | Path,
    data: np.ndarray,
    axes: str,
    pixel_size: float | dict[str, float] | None = None,
    *,
    overwrite: bool = False,
    compression: str | None = "zlib",
) -> Path:
    """Write an image as TIFF with axes and pixel size, atomically.

    uint8, uint16 and float32 data are written as an ImageJ hyperstack (opens in
    Fiji with its calibration); other dtypes as OME-TIFF. The file appears
    under its name only once completely written.

    Parameters
    ----------
    path : str or Path
        Destination ``.tif`` file.
    data : ndarray
        Pixels; the dtype is kept (float64 is stored as float32).
    axes : str
        Axes of ``data``, e.g. ``"ZYX"``.
    pixel_size : float or dict, optional
        Nanometres per pixel: one number for X and Y, or a dict per axis.
    overwrite : bool
        Replace an existing file. By default an existing file is an error.
    compression : str or None
        Lossless TIFF compression.

    Returns
    -------
    Path
        The file written.
    """
    path = Path(path)
    axes = check_axes(axes, data.ndim, path)
    refuse_to_replace(
        path,
        overwrite,
        "Refusing to overwrite an existing file.",
        "Choose another output folder, delete the file, or pass overwrite=True.",
    )
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    px = (
        {}
        if pixel_size is None
        else (
            {"X": float(pixel_size), "Y": float(pixel_size)}
            if np.isscalar(pixel_size)
            else {k.upper(): float(v) for k, v in dict(pixel_size).items()}
        )
    )
    with atomic_path(path) as tmp:
        if data.dtype.type in _IMAGEJ_DTYPES:
            _write_imagej(tmp, data, axes, px, compression)
        else:
            _write_ome(tmp, data, axes, px, compression)
    return path


def _write_imagej(
    target: str | Path, data: np.ndarray, axes: str, px: dict[str, float], compression: str | None
) -> None:
    order = [axes.index(a) for a in _IMAGEJ_ORDER if a in axes]
    data = np.transpose(data, order)
    ij_axes = "".join(axes[i] for i in order)
    metadata: dict = {"axes": ij_axes, "unit": "um"}
    kwargs = {}
    if "X" in px and "Y" in px:
        kwargs["resolution"] = (1e3 / px["X"], 1e3 / px["Y"])
    if "Z" in px:
        metadata["spacing"] = px["Z"] / 1e3
    tifffile.imwrite(
        target, data, imagej=True, metadata=metadata, compression=compression, **kwargs
    )


def _write_ome(
    target: str | Path, data: np.ndarray, axes: str, px: dict[str, float], compression: str | None
) -> None:
    metadata: dict = {"axes": axes}
    for axis, value in px.items():
        metadata[f"PhysicalSize{axis}"] = value
        metadata[f"PhysicalSize{axis}Unit"] = "nm"
    tifffile.imwrite(target, data, ome=True, metadata=metadata, compression=compression)


def middle_plane(image: ImageData | np.ndarray) -> np.ndarray:
    """The middle 2-D plane of an image or stack (Y and X last)."""
    data = np.asarray(image.data if isinstance(image, ImageData) else image)
    while data.ndim > 2:
        data = data[data.shape[0] // 2]
    return data
