"""Volumes larger than memory: chunked prediction into OME-Zarr, on Dask.

A serial-section EM volume of thousands of large slices does not fit in one
process, so it is read lazily (OME-Zarr at any level of its pyramid, or a huge
TIFF through tifffile's Zarr view), cut into output blocks, and each block is
predicted as an independent Dask task that reads only the LR region its tiles
need. The tiles are those :func:`pssr_nb.predict.predict_image` uses on the
whole plane (the same :func:`~pssr_nb.tiling.tile_layout`, the same blending
weights, summed in the same order), so the volume equals whole-image
prediction plane by plane, whatever the block size.

- **One set of input units** for the whole volume: :func:`pssr_nb.units.input_normalization`
  over evenly spaced planes, read lazily, as ``predict_image`` measures an image
  in memory. It is saved with the output.
- **Resumable and idempotent.** Each output block is one Zarr chunk, written by one
  task; an empty marker file is made after the chunk, so a restart skips
  finished blocks and redoes a half-written one. A task that dies is simply run
  again (Dask reschedules the work of a killed worker); it writes the same values.
- **Bounded memory**: a task holds one block of output, the LR region under it and
  one batch of tiles, whatever the size of the volume.
- **Schedulers**: ``"sync"`` (one process, for tests and small data), ``"local"``
  (a ``dask.distributed`` ``LocalCluster`` of single-threaded worker processes), or
  the address of any Dask scheduler (a cluster started by ``dask-jobqueue`` on SLURM,
  GPU workers, ...).

The OME-Zarr output (NGFF 0.4, Zarr format 2, which napari, Fiji/MoBIE and bioio
read) has the super-resolved pixel size and a multiscale pyramid. Its metadata is
written here (a few lines of JSON): the ``ome-zarr`` package would pin pydantic
below what ``bioimageio.spec`` needs, and ``bioio-ome-zarr`` reads what is written
(tested). Needs the optional extra ``pip install "pssr_nb[scale]"`` (zarr, dask).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .errors import InputError
from .files import atomic_path, refuse_to_replace
from .normalize import Normalization
from .params import Checked, param

__all__ = [
    "DONE_FOLDER",
    "INSTALL_FIX",
    "NGFF_VERSION",
    "LazyImage",
    "VolumeParams",
    "available",
    "convert",
    "is_zarr",
    "open_lazy",
    "open_pyramid",
    "predict_volume",
    "save_ome_zarr",
    "write_pyramid",
]

NGFF_VERSION = "0.4"
#: Where the markers of finished output blocks are kept inside an output store.
DONE_FOLDER = ".pssr_nb_done"
RECORD = "pssr_nb_predict.json"
#: The TTA uncertainty map: an OME-Zarr image of its own inside the output's folder.
UNCERTAINTY = "uncertainty"
INSTALL_FIX = 'Install the extra: pip install "pssr_nb[scale]" (it adds zarr and dask).'
UNITS = {"Z": "nanometer", "Y": "nanometer", "X": "nanometer", "T": "second"}
KINDS = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}


@dataclasses.dataclass
class VolumeParams(Checked):
    """How a volume is cut and run (``pssr-nb predict BIG.ome.zarr --out OUT.ome.zarr``)."""

    block: int = param(
        2048,
        "Output block side in HR pixels: one Dask task and one Zarr chunk each (larger: "
        "less recomputed at block borders, more memory per worker).",
        minimum=16,
    )
    level: int = param(0, "Pyramid level of an OME-Zarr input (0: full resolution).", minimum=0)
    scheduler: str = param(
        "sync",
        "sync (this process), local (a Dask LocalCluster), or a Dask scheduler address "
        "such as tcp://10.0.0.1:8786.",
    )
    workers: int = param(
        0, "Worker processes of a local cluster (one thread each); 0: one per core.", minimum=0
    )
    pyramid: bool = param(True, "Add the coarser levels of the output's multiscale pyramid.")


def available() -> bool:
    """Whether chunked prediction can run here: the ``scale`` extra (zarr, dask) is installed.

    Notebook 04 runs its large-data section only then (Colab does not have zarr).
    """
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("zarr", "dask"))


def _require() -> tuple[Any, Any]:
    try:
        import dask.array as da
        import zarr
    except ImportError:
        raise InputError("Chunked prediction needs zarr and dask.", fix=INSTALL_FIX) from None
    return da, zarr


@dataclasses.dataclass
class LazyImage:
    """An image read lazily: a chunked dask array, its axes (Y and X last) and pixel sizes."""

    array: Any
    axes: str
    pixel_size: dict[str, float]
    path: Path | None = None

    @property
    def plane_shape(self) -> tuple[int, int]:
        return tuple(int(n) for n in self.array.shape[-2:])

    @property
    def n_planes(self) -> int:
        return int(math.prod(self.array.shape[:-2]))


def is_zarr(path: str | Path) -> bool:
    """Whether ``path`` names a Zarr store (``.zarr`` folder, or a folder with Zarr metadata)."""
    path = Path(path)
    if path.suffix.lower() == ".zarr":
        return True
    names = (".zattrs", ".zgroup", ".zarray", "zarr.json")
    return path.is_dir() and any((path / n).is_file() for n in names)


def _multiscales(attrs: dict[str, Any]) -> list[dict[str, Any]] | None:
    return attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")


def open_lazy(path: str | Path, level: int = 0, axes: str | None = None) -> LazyImage:
    """Open an OME-Zarr image (one level of its pyramid) or a TIFF as a lazy dask array.

    Parameters
    ----------
    path : str or Path
        An OME-Zarr image (the folder holding its ``multiscales``), a plain Zarr array,
        or a TIFF (read through tifffile's Zarr view: only the chunks a task touches).
    level : int
        Pyramid level of an OME-Zarr image (0: full resolution).
    axes : str, optional
        Override the axes the file declares (e.g. ``ZYX``).
    """
    da, zarr = _require()
    path = Path(path)
    if not path.exists():
        raise InputError("This image does not exist.", path=path, fix="Check the path.")
    pixel_size: dict[str, float] = {}
    if is_zarr(path):
        try:
            node = zarr.open(str(path), mode="r")
        except Exception as exc:  # zarr raises several kinds for a damaged store
            raise InputError(
                f"Could not open this Zarr store ({type(exc).__name__}).",
                path=path,
                fix="Check that it is a complete OME-Zarr image (copy it again).",
            ) from None
        found = axes or ""
        if isinstance(node, zarr.Group):
            scales = _multiscales(dict(node.attrs))
            if not scales:
                raise InputError(
                    "This Zarr group holds no OME-Zarr image (no multiscales metadata).",
                    path=path,
                    fix="Open the image inside it (e.g. DATA.zarr/0), or convert a TIFF "
                    "with pssr-nb convert.",
                )
            image = scales[0]
            datasets = image["datasets"]
            if not 0 <= level < len(datasets):
                raise InputError(
                    f"This image has {len(datasets)} pyramid level(s); level {level} does not exist.",
                    path=path,
                    fix=f"Give a level from 0 to {len(datasets) - 1}.",
                )
            names = "".join(a["name"] if isinstance(a, dict) else a for a in image["axes"])
            found = axes or names.upper()
            for t in datasets[level].get("coordinateTransformations", []):
                if t.get("type") == "scale":
                    units = {
                        a["name"].upper(): a.get("unit", "")
                        for a in image["axes"]
                        if isinstance(a, dict)
                    }
                    for name, value in zip(names.upper(), t["scale"], strict=False):
                        if name in "ZYX" and units.get(name, "nanometer") in ("nanometer", ""):
                            pixel_size[name] = float(value)
                        elif name in "ZYX" and units.get(name) == "micrometer":
                            pixel_size[name] = float(value) * 1000
            array = da.from_zarr(node[datasets[level]["path"]])
        else:
            array = da.from_zarr(node)
    else:
        import tifffile

        from .io import tiff_metadata

        try:
            found, pixel_size, _ = tiff_metadata(path)
            found = axes or found
            store = tifffile.imread(path, aszarr=True)
            array = da.from_zarr(zarr.open(store, mode="r"))
        except (tifffile.TiffFileError, OSError, ValueError) as exc:
            raise InputError(
                f"Could not read this image lazily ({type(exc).__name__}: {exc}).",
                path=path,
                fix="Give an OME-Zarr image or a TIFF (pssr-nb convert makes OME-Zarr).",
            ) from None
    if len(found) != array.ndim or not found.endswith("YX"):
        raise InputError(
            f"The axes {found!r} do not describe an array of shape {array.shape} with Y and "
            "X last.",
            path=path,
            fix="Give the axes, e.g. --axes ZYX.",
        )
    return LazyImage(array, found, pixel_size, path)


def open_pyramid(path: str | Path) -> list[LazyImage]:
    """Every level of an OME-Zarr image (one level for a plain array or a TIFF), lazily."""
    levels = [open_lazy(path)]
    _, zarr = _require()
    if is_zarr(path):
        node = zarr.open(str(path), mode="r")
        if isinstance(node, zarr.Group):
            count = len(_multiscales(dict(node.attrs))[0]["datasets"])
            levels += [open_lazy(path, level) for level in range(1, count)]
    return levels


def _ome_axes(axes: str) -> list[dict[str, str]]:
    out = []
    for a in axes:
        entry = {"name": a.lower(), "type": KINDS.get(a, "space")}
        if a in UNITS and KINDS.get(a) != "channel":
            entry["unit"] = UNITS[a]
        out.append(entry)
    return out


def _write_multiscales(group: Any, axes: str, scales: Sequence[Sequence[float]], name: str) -> None:
    group.attrs["multiscales"] = [
        {
            "version": NGFF_VERSION,
            "name": name,
            "axes": _ome_axes(axes),
            "datasets": [
                {
                    "path": str(i),
                    "coordinateTransformations": [{"type": "scale", "scale": list(map(float, s))}],
                }
                for i, s in enumerate(scales)
            ],
        }
    ]


def _scale_vector(axes: str, pixel_size: dict[str, float], factor: float = 1.0) -> list[float]:
    return [
        (pixel_size.get(a, 1.0) * (factor if a in "YX" else 1.0)) if a in "ZYX" else 1.0
        for a in axes
    ]


def write_pyramid(store: str | Path, levels: int = 0, min_side: int = 256) -> int:
    """Add the coarser levels of an OME-Zarr image's pyramid (2x in Y and X each).

    Levels are made from the level above by a 2 x 2 mean (dask, chunk by chunk) until
    the plane is smaller than ``min_side`` or ``levels`` were added (0: as many as
    needed). Returns how many levels the image has.
    """
    da, zarr = _require()
    group = zarr.open_group(str(store), mode="r+")
    image = _multiscales(dict(group.attrs))[0]
    axes = "".join(a["name"] for a in image["axes"]).upper()
    base = image["datasets"][0]["coordinateTransformations"][0]["scale"]
    level = da.from_zarr(group["0"])
    n = 1
    while min(level.shape[-2:]) >= 2 * min_side and (levels == 0 or n <= levels):
        axis_factors = {i: (2 if i >= level.ndim - 2 else 1) for i in range(level.ndim)}
        coarse = da.coarsen(np.mean, level.astype(np.float32), axis_factors, trim_excess=True)
        coarse = coarse.astype(group["0"].dtype)
        target = zarr.open_array(
            str(Path(store) / str(n)),
            mode="w",
            shape=coarse.shape,
            chunks=group["0"].chunks,
            dtype=coarse.dtype,
            zarr_format=2,
        )
        da.store(coarse.rechunk(target.chunks), target, lock=False)
        level = da.from_zarr(target)
        n += 1
    scales = [
        [v * (2**i if a in "YX" else 1) for v, a in zip(base, axes, strict=True)] for i in range(n)
    ]
    _write_multiscales(group, axes, scales, image.get("name", ""))
    return n


def save_ome_zarr(
    data: Any,
    out: str | Path,
    axes: str,
    pixel_size: dict[str, float] | None = None,
    chunk: int = 1024,
    overwrite: bool = False,
    name: str = "",
) -> Path:
    """Write an array (numpy, or dask for data larger than memory) as an OME-Zarr image.

    Planes are chunked ``chunk x chunk`` (one plane deep), the pixel sizes (nm) go into
    the metadata, and the coarser pyramid levels are added.
    """
    da, zarr = _require()
    out = refuse_to_replace(
        out,
        overwrite,
        "This output already exists; it is never replaced without asking.",
        "Choose another --out, or give --overwrite.",
    )
    array = data if hasattr(data, "dask") else da.from_array(np.asarray(data))
    if len(axes) != array.ndim or not axes.endswith("YX"):
        raise InputError(
            f"The axes {axes!r} do not describe an array of shape {array.shape} with Y and X last.",
            fix="Give one letter of TCZYX per dimension, Y and X last.",
        )
    chunks = (1,) * (array.ndim - 2) + (chunk, chunk)
    array = array.rechunk(chunks)
    group = zarr.open_group(str(out), mode="w", zarr_format=2)
    target = group.create_array("0", shape=array.shape, chunks=chunks, dtype=array.dtype)
    da.store(array, target, lock=False)
    _write_multiscales(group, axes, [_scale_vector(axes, pixel_size or {})], name or out.stem)
    write_pyramid(out)
    return out


def convert(
    source: str | Path,
    out: str | Path,
    chunk: int = 1024,
    axes: str | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a (huge) TIFF as an OME-Zarr image with a pyramid, chunk by chunk.

    ``pssr-nb convert BIG.tif --out BIG.ome.zarr``: for users whose volume is one giant
    TIFF; it is read lazily, never whole.
    """
    image = open_lazy(source, axes=axes)
    return save_ome_zarr(
        image.array, out, image.axes, image.pixel_size, chunk, overwrite, Path(source).stem
    )


# --- chunked prediction ---------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _source(path: str, level: int, axes: str) -> Any:
    """The lazy input of a worker process, opened once per process."""
    return open_lazy(path, level, axes).array


@functools.lru_cache(maxsize=4)
def _model_from_file(path: str) -> Any:
    from .model_choice import open_model

    return open_model(path)


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Everything a block task needs; small and picklable (sent to every worker)."""

    model: Any  # a model file path (str), or a TrainedModel for the in-process scheduler
    source: str
    level: int
    axes: str
    out: str
    normalization: dict[str, Any]
    params: dict[str, Any]
    block: int  # output block side in HR pixels (= the Zarr chunk)
    lead_shape: tuple[int, ...]
    plane_shape: tuple[int, int]
    dtype: str
    threads: int
    frames: int = 1  # the model's input frames
    frame_axis: str = ""  # the axis they are taken along


def _marker(plan: _Plan, plane: int, by: int, bx: int) -> Path:
    return Path(plan.out) / DONE_FOLDER / f"{plane}_{by}_{bx}"


def _predict_block(plan: _Plan, plane: int, by: int, bx: int) -> int:
    """Predict one output block (one Zarr chunk) of one plane and mark it done."""
    marker = _marker(plan, plane, by, bx)
    if marker.exists():
        return 0
    import dask.array as da
    import torch
    import zarr

    from .data import frame_window
    from .devices import resolve_device
    from .predict import PredictParams, tile_function
    from .tiling import tiled_region

    if plan.threads:
        torch.set_num_threads(plan.threads)
    model = _model_from_file(plan.model) if isinstance(plan.model, str) else plan.model
    params = PredictParams(**plan.params)
    device = resolve_device(params.device)
    net = model.network.to(device, memory_format=torch.channels_last).eval()
    s = net.config.scale
    h, w = plan.plane_shape
    y0, x0 = by * plan.block, bx * plan.block
    y1, x1 = min(y0 + plan.block, h * s), min(x0 + plan.block, w * s)
    source = _source(plan.source, plan.level, plan.axes)
    index = (
        tuple(int(i) for i in np.unravel_index(plane, plan.lead_shape)) if plan.lead_shape else ()
    )
    norm = Normalization(**plan.normalization)
    planes = [index]
    if plan.frames > 1:
        axis = plan.axes.index(plan.frame_axis)
        window = frame_window(index[axis], plan.frames, plan.lead_shape[axis])
        planes = [(*index[:axis], f, *index[axis + 1 :]) for f in window]

    def read(ly0: int, ly1: int, lx0: int, lx1: int) -> np.ndarray:
        # read in this process: a task must not hand its reads to the cluster it runs on
        lr = [source[(*p, slice(ly0, ly1), slice(lx0, lx1))] for p in planes]
        return norm.apply(np.stack(da.compute(*lr, scheduler="synchronous")))  # (frames, h, w)

    maps = tiled_region(
        tile_function(net, device, params.tta, params.amp),
        read,
        plan.plane_shape,
        (y0, y1, x0, x1),
        s,
        params.tile,
        params.overlap,
        params.batch_size,
        2 if params.tta else 1,
        net.config.multiple,
    )
    at = (*index, slice(y0, y1), slice(x0, x1))
    zarr.open_array(str(Path(plan.out) / "0"), mode="r+")[at] = norm.invert(maps[0], plan.dtype)
    if params.tta:  # the flips' SD, in the input's intensity units (as predict_file writes it)
        sd = (maps[1] * norm.span).astype(np.float32)
        zarr.open_array(str(Path(plan.out) / UNCERTAINTY / "0"), mode="r+")[at] = sd
    marker.parent.mkdir(exist_ok=True)
    marker.touch()  # an empty file: it exists whole or not at all, after the chunk(s)
    return 1


def _client(scheduler: str, workers: int) -> Any:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("A Dask cluster needs dask.distributed.", fix=INSTALL_FIX) from None
    if scheduler == "local":
        import dask

        # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc hand
        # torch's large buffers back to the system after every use: a network ran 1.6x
        # slower in such a worker (benchmarks/RESULTS.md, chunked volumes). Left unset.
        with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
            cluster = LocalCluster(
                n_workers=workers or os.cpu_count() or 1,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
            )
        return Client(cluster)
    return Client(scheduler)


def predict_volume(
    model: Any,
    source: str | Path,
    out: str | Path,
    params: Any = None,
    volume: VolumeParams | None = None,
    axes: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Super-resolve a volume chunk by chunk into an OME-Zarr image.

    Parameters
    ----------
    model : TrainedModel or str or Path
        The model, or a model file (what a cluster's workers load; a model given as an
        object is saved into the output first for them).
    source : str or Path
        OME-Zarr image or TIFF (see :func:`open_lazy`).
    out : str or Path
        The OME-Zarr image to write (``.ome.zarr``). Running again with the same model
        and settings continues an interrupted run, skipping finished blocks.
    params : PredictParams, optional
        Tile, overlap, batch, output dtype, device, and TTA: with ``tta`` the flips' SD
        (in the input's intensity units) is written as the OME-Zarr image
        ``OUT/uncertainty``, block by block like the prediction.
    volume : VolumeParams, optional
        Block size, input level, scheduler and workers, pyramid.
    axes : str, optional
        Override the input's axes.

    Returns
    -------
    dict
        The run record (also saved in the output as ``pssr_nb_predict.json``). Its
        ``seconds`` is the wall time of the blocks, of which ``start_seconds`` went to
        starting or connecting to the cluster (0 for ``sync``).
    """
    da, zarr = _require()
    from .model_choice import open_model
    from .params import to_dict
    from .predict import PredictParams
    from .units import input_normalization

    params = params or PredictParams()
    volume = volume or VolumeParams()
    block, level, scheduler = volume.block, volume.level, volume.scheduler
    model_file = str(model) if isinstance(model, (str, Path)) else None
    trained = open_model(model) if model_file else model
    c = trained.config
    image = open_lazy(source, level, axes)
    # neighbouring frames along T, else Z, mirrored at the ends: as predict_image takes them
    frame_axis = next((a for a in "TZ" if a in image.axes[:-2]), "")
    n_frames = image.array.shape[image.axes.index(frame_axis)] if frame_axis else 1
    if c.frames > 1 and n_frames < c.frames:
        raise InputError(
            f"This model uses {c.frames} neighbouring frames but the volume has {n_frames} "
            f"along {frame_axis or 'no frame axis'} ({image.axes}).",
            path=source,
            fix="Give a time-lapse or z-stack, or use a single-frame model.",
        )
    h, w = image.plane_shape
    s = c.scale
    if block % s or block < s:
        raise InputError(
            f"The block ({block} px) must be a multiple of the model's scale {s}.",
            fix=f"Use e.g. --block {max(s, block - block % s)}.",
        )
    norm = input_normalization(image.array, trained.percentiles, trained.input_smoothing)
    target_dtype = norm.dtype if params.dtype == "same" else params.dtype
    if np.dtype(target_dtype).kind == "f":
        target_dtype = "float32"
    out = Path(out)
    record = {
        "format": "pssr_nb.predict_volume",
        "source": str(Path(source).resolve()),
        "level": level,
        "axes": image.axes,
        "model": model_file or "(in memory)",
        "model_config": c.to_dict(),
        "normalization": dataclasses.asdict(norm),
        "params": to_dict(params),
        "block": block,
    }
    earlier = out / RECORD
    if earlier.exists():
        before = json.loads(earlier.read_text())
        same = {k: before.get(k) for k in record} == record
        if not same and not params.overwrite:
            raise InputError(
                "This output holds a prediction with other settings, model or input.",
                path=out,
                fix="Choose another --out, or give --overwrite to start it again.",
            )
        resume = same
    else:
        resume = False
        if out.is_dir() and any(out.iterdir()):  # never write into someone else's folder
            raise InputError(
                "This folder holds other files; a prediction is written only into a new "
                "folder or into its own earlier output.",
                path=out,
                fix="Choose a new --out (e.g. OUT.ome.zarr).",
            )
    lead = tuple(int(n) for n in image.array.shape[:-2])
    chunks = (1,) * len(lead) + (block, block)
    if not resume:  # a new output, or --overwrite: nothing of an earlier run is kept
        if out.exists():
            shutil.rmtree(out)  # our own earlier output (its record says so), replaced on request
        group = zarr.open_group(str(out), mode="w", zarr_format=2)
        group.create_array(
            "0", shape=(*lead, h * s, w * s), chunks=chunks, dtype=target_dtype, fill_value=0
        )
        pixel = {a: v / s if a in "YX" else v for a, v in image.pixel_size.items()}
        _write_multiscales(group, image.axes, [_scale_vector(image.axes, pixel)], out.stem)
        if params.tta:
            spread = group.create_group(UNCERTAINTY)
            spread.create_array(
                "0", shape=(*lead, h * s, w * s), chunks=chunks, dtype="float32", fill_value=0
            )
            scale = [_scale_vector(image.axes, pixel)]
            _write_multiscales(spread, image.axes, scale, f"{out.stem} uncertainty")
        (out / DONE_FOLDER).mkdir(exist_ok=True)
        with atomic_path(earlier) as tmp:
            tmp.write_text(json.dumps(record, indent=2) + "\n")
    if model_file is None and scheduler != "sync":
        model_file = str(out / "model.pt")
        trained.save(model_file)
    plan = _Plan(
        model=model_file or trained,
        source=str(source),
        level=level,
        axes=image.axes,
        out=str(out),
        normalization=dataclasses.asdict(norm),
        params=to_dict(params),
        block=block,
        lead_shape=lead,
        plane_shape=(h, w),
        dtype=target_dtype,
        threads=1 if scheduler != "sync" else 0,
        frames=c.frames,
        frame_axis=frame_axis,
    )
    blocks = [
        (p, by, bx)
        for p in range(max(1, image.n_planes))
        for by in range(math.ceil(h * s / block))
        for bx in range(math.ceil(w * s / block))
    ]
    todo = [b for b in blocks if not _marker(plan, *b).exists()]
    start = time.perf_counter()
    written, peak_rss, start_seconds = _run_blocks(plan, todo, scheduler, volume.workers, progress)
    seconds = time.perf_counter() - start
    levels = write_pyramid(out) if volume.pyramid else 1
    if params.tta and volume.pyramid:
        write_pyramid(out / UNCERTAINTY)
    record.update(
        blocks=len(blocks),
        written=written,
        skipped=len(blocks) - len(todo),
        peak_rss_mb=peak_rss,
        levels=levels,
        uncertainty=str(out / UNCERTAINTY) if params.tta else None,
        seconds=round(seconds, 2),
        start_seconds=round(start_seconds, 2),
        pssr_nb_version=__version__,
        scheduler=scheduler,
    )
    with atomic_path(earlier) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB (what a worker needed at most)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def _workers_peak_rss_mb(client: Any) -> dict[str, float]:
    """Each worker's peak memory; a worker that cannot answer (killed after the last block,
    not yet noticed by the scheduler) is left out rather than failing a finished run."""
    peaks = client.run(_peak_rss_mb, on_error="return")
    return {w: v for w, v in peaks.items() if not isinstance(v, BaseException)}


def _run_blocks(
    plan: _Plan, todo: list[tuple[int, int, int]], scheduler: str, workers: int, progress: bool
) -> tuple[int, dict[str, float], float]:
    """Run the blocks' tasks.

    Returns how many blocks were written, each process's peak memory, and the seconds
    it took to start or reach the cluster (0 without one).
    """
    from tqdm.auto import tqdm

    if not todo:
        return 0, {}, 0.0
    if scheduler == "sync":
        written = sum(
            _predict_block(plan, *b) for b in tqdm(todo, disable=not progress, desc="blocks")
        )
        return written, {"this process": _peak_rss_mb()}, 0.0
    start = time.perf_counter()
    client = _client(scheduler, workers)
    start_seconds = time.perf_counter() - start
    try:
        from distributed import as_completed

        futures = [client.submit(_predict_block, plan, *b, pure=False, retries=3) for b in todo]
        written = 0
        for future in tqdm(
            as_completed(futures), total=len(futures), disable=not progress, desc="blocks"
        ):
            written += future.result()
        return written, _workers_peak_rss_mb(client), start_seconds
    finally:
        cluster = getattr(client, "cluster", None)
        client.close()
        if cluster is not None and scheduler == "local":
            cluster.close()
