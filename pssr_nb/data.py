"""Training data: random crops of HR images, real LR/HR pairs, and leak-free splits.

An image file becomes a :class:`Source`: its pixels (memory-mapped when the
TIFF allows it, otherwise read on demand), seen as *stacks* of *frames* of YX
planes. The frame axis (T or Z) is the one along which ``k`` neighbouring
frames form a multi-frame input; every other leading axis just gives more
stacks. Each source carries its own percentile :class:`~pssr_nb.normalize.Normalization`.

A :class:`Split` divides every source into blocks of the tile size and
assigns whole blocks (all frames of them) to training or validation, or whole
images when splitting by image: tiles that overlap, or frames of one tile, are
never on both sides.

:class:`HRDataset` draws random crops (anywhere in the image, any aspect ratio
of image, all 8 dihedral orientations) of HR frames; crappification happens
later on whole batches on the training device. Real LR/HR pairs
(:func:`load_pairs`) are for calibration and validation: training directly on them
scored below training on crappified HR (``benchmarks/bench_paired.py``).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from .errors import InputError, PairingError
from .io import ImageData, read_image
from .normalize import DEFAULT_PERCENTILES, Normalization, percentile_normalization
from .sampling import DEFAULT_SCALE

__all__ = [
    "DECODED",
    "DIHEDRAL",
    "MIN_TRAINING_TILE_LR",
    "check_pair_shapes",
    "check_tile",
    "dihedral",
    "find_pairs",
    "fixed_regions",
    "frame_window",
    "HRDataset",
    "inverse_dihedral",
    "load_pairs",
    "load_sources",
    "lr_partners",
    "match_pairs",
    "Placement",
    "Region",
    "Source",
    "Split",
    "split",
]

# ---------------------------------------------------------------------------
# Dihedral transforms
# ---------------------------------------------------------------------------

#: The 8 symmetries of the square as (flip Y, flip X, transpose), applied in that order.
DIHEDRAL = tuple(
    (fy, fx, tr) for tr in (False, True) for fy in (False, True) for fx in (False, True)
)


def dihedral(x: np.ndarray | torch.Tensor, k: int) -> np.ndarray | torch.Tensor:
    """Apply the ``k``-th of the 8 dihedral transforms to the last two axes."""
    fy, fx, tr = DIHEDRAL[k]
    if isinstance(x, torch.Tensor):
        dims = [d for d, f in ((-2, fy), (-1, fx)) if f]
        if dims:
            x = torch.flip(x, dims)
        return x.transpose(-2, -1) if tr else x
    if fy:
        x = x[..., ::-1, :]
    if fx:
        x = x[..., :, ::-1]
    return np.swapaxes(x, -2, -1) if tr else x


def inverse_dihedral(x: np.ndarray | torch.Tensor, k: int) -> np.ndarray | torch.Tensor:
    """Undo :func:`dihedral` ``k`` (transpose first, then the same flips)."""
    fy, fx, tr = DIHEDRAL[k]
    if tr:
        x = x.transpose(-2, -1) if isinstance(x, torch.Tensor) else np.swapaxes(x, -2, -1)
    return dihedral(x, DIHEDRAL.index((fy, fx, False)))


# ---------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------


class _DecodedCache:
    """Decoded pixels of compressed files, least recently used first out, within a byte budget.

    Uncompressed TIFFs are memory-mapped and never enter the cache; compressed
    files (PNG, zlib TIFF) are decoded whole, so a dataset larger than the budget
    re-decodes files as it samples from them (slower, but memory stays bounded).
    """

    def __init__(self, max_bytes: int = 2 << 30):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def get(self, key: tuple, load) -> np.ndarray:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        data = load()
        self._items[key] = data
        while sum(a.nbytes for a in self._items.values()) > self.max_bytes and len(self._items) > 1:
            self._items.popitem(last=False)
        return data


DECODED = _DecodedCache()


def _read_pixels(path: Path, read_args: dict) -> np.ndarray:
    return read_image(path, **read_args).data


def _warn_if_not_finite(data: np.ndarray, path: Path | None) -> None:
    """Warn, naming the file, when a float image holds NaN or Inf pixels."""
    if data.dtype.kind != "f":
        return
    flat = np.asarray(data).reshape(-1)
    chunk = 1 << 24  # bounded memory on large memory-mapped stacks
    bad = sum(int((~np.isfinite(flat[i : i + chunk])).sum()) for i in range(0, flat.size, chunk))
    if bad:
        warnings.warn(
            f"{path or 'image'}: {bad} of {flat.size} pixels are NaN or Inf; they are treated "
            "as background (the low percentile). Check the export settings of the acquisition "
            "software if this is unexpected.",
            stacklevel=3,
        )


class Source:
    """One image viewed as ``(stacks, frames, Y, X)``.

    Parameters
    ----------
    image : ImageData or str or Path
        An image in memory, or a file: memory-mapped when it is an uncompressed TIFF,
        otherwise decoded on demand through a bounded cache.
    frame_axis : str, optional
        ``"T"``, ``"Z"`` or ``""`` (no frame axis). Default: T if present, else Z. An image
        that lacks the requested axis is treated as single frames.
    percentiles : (float, float)
        Percentiles for the source's normalisation.
    normalization : Normalization, optional
        Use this normalisation instead of measuring the percentiles.
    axes, channel, pixel_size
        Passed to :func:`~pssr_nb.io.read_image` for files.
    """

    def __init__(
        self,
        image: ImageData | str | Path,
        frame_axis: str | None = None,
        percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
        axes: str | None = None,
        channel: int | None = None,
        pixel_size: float | None = None,
        normalization: Normalization | None = None,
    ):
        self._cache_key: tuple | None = None
        if not isinstance(image, ImageData):
            path = Path(image)
            self._read_args = {"axes": axes, "channel": channel, "pixel_size": pixel_size}
            image = read_image(path, memmap=True, **self._read_args)
            if not isinstance(image.data, np.memmap):
                self._cache_key = (str(path.resolve()), path.stat().st_mtime, axes, channel)
                DECODED.get(self._cache_key, functools.partial(np.asarray, image.data))
        self.image = image
        self.path = image.path
        self.name = image.path.stem if image.path else "array"
        self.shape = tuple(image.data.shape)
        if "C" in image.axes:
            raise InputError(
                f"This image has {image.data.shape[image.axes.index('C')]} channels.",
                path=self.path,
                fix="Keep one channel: Source(path, channel=<index>) or read_image(path, "
                "channel=<index>) in Python; for the command line save each channel as its own "
                "file (Fiji: Image > Color > Split Channels).",
            )
        if frame_axis is None:
            frame_axis = next((a for a in "TZ" if a in image.axes), "")
        if frame_axis and frame_axis not in "TZ":
            raise InputError(
                f"frame_axis must be 'T', 'Z' or '', got {frame_axis!r}.", path=self.path
            )
        # An image without the requested axis (a single slice beside z-stacks) has single frames.
        frame_axis = frame_axis if frame_axis in image.axes else ""
        self.frame_axis = frame_axis
        try:
            self.normalization: Normalization = normalization or percentile_normalization(
                image.data, percentiles
            )
        except InputError as exc:  # name the file (an all-NaN image, say)
            raise InputError(exc.problem, path=exc.path or self.path, fix=exc.fix) from None
        _warn_if_not_finite(image.data, self.path)
        if self._cache_key is not None:
            self.image = dataclasses.replace(
                image, data=np.empty((0,) * image.data.ndim, image.data.dtype)
            )

    @property
    def data(self) -> np.ndarray:
        """The pixels (memory map, cached decode, or the array given)."""
        if self._cache_key is None:
            return self.image.data
        return DECODED.get(
            self._cache_key, functools.partial(_read_pixels, self.path, self._read_args)
        )

    @property
    def n_frames(self) -> int:
        return self.shape[self.image.axes.index(self.frame_axis)] if self.frame_axis else 1

    @property
    def n_stacks(self) -> int:
        return int(np.prod(self.shape[:-2])) // self.n_frames

    @property
    def plane_shape(self) -> tuple[int, int]:
        return self.shape[-2], self.shape[-1]

    def stack_view(self) -> np.ndarray:
        """The data as ``(stacks, frames, Y, X)``, without copying where possible."""
        axes = self.image.axes
        data = self.data
        if self.frame_axis:
            data = np.moveaxis(data, axes.index(self.frame_axis), -3)
        return data.reshape(-1, self.n_frames, *self.plane_shape)

    def from_stack_view(self, stacked: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`stack_view` for an array whose planes may have another size."""
        axes, shape = self.image.axes, list(self.shape[:-2])
        if self.frame_axis:
            shape.append(shape.pop(axes.index(self.frame_axis)))
        out = stacked.reshape(*shape, *stacked.shape[-2:])
        return np.moveaxis(out, -3, axes.index(self.frame_axis)) if self.frame_axis else out

    def crop(self, stack: int, frames: Sequence[int], y: int, x: int, h: int, w: int) -> np.ndarray:
        """Normalised float32 crop ``(len(frames), h, w)``."""
        block = self.stack_view()[stack, list(frames), y : y + h, x : x + w]
        return self.normalization.apply(block)

    def __repr__(self) -> str:
        return (
            f"Source({self.name!r}, axes={self.image.axes!r}, stacks={self.n_stacks}, "
            f"frames={self.n_frames}, plane={self.plane_shape})"
        )


def load_sources(
    paths: Sequence[str | Path] | str | Path,
    frame_axis: str | None = None,
    **kwargs,
) -> list[Source]:
    """Open image files (or every image of a folder) as :class:`Source` objects."""
    from .io import image_files

    if isinstance(paths, (str, Path)):
        paths = image_files(paths)
    return [Source(p, frame_axis=frame_axis, **kwargs) for p in paths]


def frame_window(centre: int, k: int, n: int) -> list[int]:
    """Indices of ``k`` frames centred on ``centre``, mirrored at the ends of ``n`` frames."""
    idx = np.arange(centre - k // 2, centre - k // 2 + k)
    idx = np.abs(idx)
    idx = np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
    return np.clip(idx, 0, n - 1).tolist()


# ---------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Split:
    """Which blocks of which source are for training (True) or validation (False).

    Attributes
    ----------
    block : int
        Block size in pixels (the tile size), or 0 for whole-image splits.
    masks : list of ndarray
        Per source, a boolean grid over blocks (``1 x 1`` for whole-image splits).
    """

    block: int
    masks: list[np.ndarray]

    def allows(self, source: int, subset: bool, y: int, x: int, h: int, w: int) -> bool:
        """True when the crop lies only in blocks of the given subset."""
        mask = self.masks[source]
        if self.block == 0:
            return bool(mask[0, 0] == subset)
        b = self.block
        return bool(
            np.all(mask[y // b : (y + h - 1) // b + 1, x // b : (x + w - 1) // b + 1] == subset)
        )


def split(
    sources: Sequence[Source],
    val_fraction: float = 0.2,
    by: str = "tile",
    tile: int = 128,
    seed: int = 0,
) -> Split:
    """Divide sources into training and validation, never by frame.

    Parameters
    ----------
    sources : list of Source
    val_fraction : float
        Fraction of images (``by="image"``) or of blocks (``by="tile"``) held out.
    by : {"tile", "image"}
        ``image`` holds out whole files; ``tile`` holds out ``tile x tile`` blocks of every
        image (all frames of a block together).
    tile : int
        Block size for ``by="tile"``: the training tile size.
    seed : int
        Same seed, same split.
    """
    if not 0 <= val_fraction < 1:
        raise InputError(f"val_fraction must be in [0, 1), got {val_fraction}.")
    rng = np.random.default_rng(seed)
    if by == "image":
        n_val = int(round(val_fraction * len(sources)))
        if val_fraction > 0 and n_val == 0:
            raise InputError(
                f"Cannot hold out {val_fraction:.0%} of {len(sources)} image(s) by image.",
                fix="Use more images, or split by='tile' to hold out regions of each image.",
            )
        val = set(rng.permutation(len(sources))[:n_val].tolist())
        return Split(0, [np.array([[i not in val]]) for i in range(len(sources))])
    if by != "tile":
        raise InputError(f"Unknown split {by!r}.", fix="Use by='tile' or by='image'.")
    masks = []
    for src in sources:
        h, w = src.plane_shape
        ny, nx = max(1, h // tile), max(1, w // tile)
        n = ny * nx
        n_val = int(round(val_fraction * n))
        if val_fraction > 0 and n > 1:
            n_val = min(max(1, n_val), n - 1)
        mask = np.ones(n, bool)
        mask[rng.permutation(n)[:n_val]] = False
        # partial blocks at the bottom/right edge belong to the neighbouring block's subset
        full = mask.reshape(ny, nx)
        grid = np.ones(((h - 1) // tile + 1, (w - 1) // tile + 1), bool)
        grid[:ny, :nx] = full
        grid[ny:, :nx] = full[-1:, :]
        grid[:, nx:] = grid[:, nx - 1 : nx]
        masks.append(grid)
    return Split(tile, masks)


# ---------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------


#: The smallest training tile, in LR pixels: below it the network sees almost no context.
MIN_TRAINING_TILE_LR = 4


def check_tile(src: Source, tile: int, scale: int) -> None:
    """Refuse a tile size that does not fit the scale or the image, naming the image."""
    h, w = src.plane_shape
    if tile % scale:
        raise InputError(
            f"Tile size {tile} must be a multiple of the scale {scale}.",
            fix=f"Use e.g. --tile {tile - tile % scale or scale * 16} "
            f"(tile={tile - tile % scale or scale * 16}), or a --scale that divides {tile}.",
        )
    largest = min(h, w) - min(h, w) % scale
    if largest < MIN_TRAINING_TILE_LR * scale:
        raise InputError(
            f"This image ({h} x {w} px) is too small to train on: training needs images of "
            f"at least {MIN_TRAINING_TILE_LR * scale} px on each side at scale {scale}.",
            path=src.path,
            fix="Remove it from the training folder, or train on larger HR images.",
        )
    if h < tile or w < tile:
        raise InputError(
            f"This image ({h} x {w} px) is smaller than the tile size {tile}.",
            path=src.path,
            fix=f"Use a tile size of at most {largest} px (--tile {largest}).",
        )


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where one crop of an :class:`HRDataset` comes from."""

    source: int
    stack: int
    frames: list[int]
    y: int
    x: int
    orientation: int = 0  # of :func:`dihedral`


class HRDataset(torch.utils.data.Dataset):
    """Random HR crops for training with on-the-fly crappification.

    Each item is a float32 tensor ``(frames, tile, tile)`` of normalised HR
    pixels, in a random dihedral orientation; crappify whole batches of them on
    the training device (see :class:`~pssr_nb.crappify.Crappifier`) and use the
    centre frame as the target.

    Parameters
    ----------
    sources : list of Source
    tile : int
        HR crop size (a multiple of ``scale``).
    scale : int
        Super-resolution factor (checked against ``tile``).
    frames : int
        Neighbouring frames per sample (odd), taken along each source's frame axis.
    split, subset
        Draw only from training (``subset=True``) or validation blocks of ``split``.
    length : int
        Samples per epoch.
    augment : bool
        Random dihedral orientation.
    seed : int
        Crop positions depend only on (seed, index), so an epoch is reproducible.
    """

    def __init__(
        self,
        sources: Sequence[Source],
        tile: int = 128,
        scale: int = DEFAULT_SCALE,
        frames: int = 1,
        split: Split | None = None,
        subset: bool = True,
        length: int = 1024,
        augment: bool = True,
        seed: int = 0,
    ):
        if not sources:
            raise InputError("No images to train on.", fix="Check the folder and file pattern.")
        if frames < 1 or frames % 2 == 0:
            raise InputError(
                f"frames must be odd (1, 3, 5 ...), got {frames}.",
                fix="The centre frame is the target; use an odd number.",
            )
        for src in sources:
            check_tile(src, tile, scale)
            if frames > 1 and src.n_frames < frames:
                raise InputError(
                    f"{frames} input frames requested but this image has {src.n_frames} along "
                    f"{src.frame_axis or 'no frame axis'}.",
                    path=src.path,
                    fix="Use frames=1, or images with more time points / slices.",
                )
        self.sources, self.tile, self.frames = list(sources), tile, frames
        self.split, self.subset = split, subset
        self.length, self.augment, self.seed = length, augment, seed
        weights = np.array(
            [
                src.n_stacks * src.n_frames * np.prod(src.plane_shape) * self._subset_fraction(i)
                for i, src in enumerate(self.sources)
            ],
            dtype=float,
        )
        if weights.sum() == 0:
            raise InputError(
                f"The split left no image region for {'training' if subset else 'validation'}.",
                fix="Use a smaller tile (more blocks per image), more images, or another val_fraction.",
            )
        self.weights = weights / weights.sum()

    def _subset_fraction(self, i: int) -> float:
        if self.split is None:
            return 1.0
        return float(np.mean(self.split.masks[i] == self.subset))

    def __len__(self) -> int:
        return self.length

    def _position(self, rng: np.random.Generator, i: int) -> tuple[int, int]:
        h, w = self.sources[i].plane_shape
        t = self.tile
        for _ in range(100):
            y, x = int(rng.integers(0, h - t + 1)), int(rng.integers(0, w - t + 1))
            if self.split is None or self.split.allows(i, self.subset, y, x, t, t):
                return y, x
        # fall back to a block of the subset that holds a whole tile
        b = self.split.block or t
        cells = np.argwhere(self.split.masks[i] == self.subset)
        for by, bx in rng.permutation(cells):
            y, x = min(by * b, h - t), min(bx * b, w - t)
            if self.split.allows(i, self.subset, y, x, t, t):
                return int(y), int(x)
        raise InputError(
            "No tile fits in this image's part of the split.",
            path=self.sources[i].path,
            fix="Use a smaller tile or lower val_fraction.",
        )

    def _draw_source(self, rng: np.random.Generator) -> int:
        return int(rng.choice(len(self.sources), p=self.weights))

    def source_of(self, index: int) -> int:
        """Which source item ``index`` is cropped from (without cropping it)."""
        return self._draw_source(np.random.default_rng([self.seed, index]))

    def placement(self, index: int) -> Placement:
        """Where item ``index`` is cropped from, and its orientation (without cropping it)."""
        rng = np.random.default_rng([self.seed, index])
        i = self._draw_source(rng)
        src = self.sources[i]
        stack = int(rng.integers(src.n_stacks))
        half = self.frames // 2
        centre = (
            int(rng.integers(half, src.n_frames - half))
            if self.frames > 1
            else int(rng.integers(src.n_frames))
        )
        y, x = self._position(rng, i)
        k = int(rng.integers(8)) if self.augment else 0
        return Placement(i, stack, frame_window(centre, self.frames, src.n_frames), y, x, k)

    def __getitem__(self, index: int) -> torch.Tensor:
        at = self.placement(index)
        crop = self.sources[at.source].crop(at.stack, at.frames, at.y, at.x, self.tile, self.tile)
        if at.orientation:
            crop = dihedral(crop, at.orientation)
        return torch.from_numpy(np.ascontiguousarray(crop))


@dataclasses.dataclass
class Region:
    """A fixed crop with its surroundings: the ``tile x tile`` block at ``(y, x)`` of ``context``."""

    source: int  # index of the source it comes from
    context: np.ndarray  # (frames, H, W) normalised HR pixels around the block
    y: int
    x: int
    tile: int
    stack: int = 0  # where the context lies in its source: stack, frames, top left corner
    frames: tuple[int, ...] = (0,)
    origin: tuple[int, int] = (0, 0)

    @property
    def block(self) -> np.ndarray:
        """The block itself, ``(frames, tile, tile)``."""
        return self.context[:, self.y : self.y + self.tile, self.x : self.x + self.tile]


def fixed_regions(
    sources: Sequence[Source],
    tile: int,
    frames: int = 1,
    split: Split | None = None,
    subset: bool = False,
    n: int = 16,
    margin: int = 0,
    multiple: int = 1,
    seed: int = 0,
) -> list[Region]:
    """A fixed set of blocks (e.g. for validation) with up to ``margin`` pixels around them.

    The same blocks every call. Blocks start at multiples of ``multiple`` (the LR
    sampling lattice of the whole image; a block stays in its subset, whose blocks
    are multiples of the tile), and the surroundings are clipped at the image's edge
    and kept a multiple of ``multiple`` on every side, so a block and its context are
    crappified and predicted on the lattice the whole image would be.
    """
    if tile % multiple:
        raise InputError(f"The tile ({tile}) must be a multiple of {multiple}.")
    ds = HRDataset(
        sources, tile, 1, frames, split, subset, length=n, augment=False, seed=seed + 7919
    )
    regions = []
    for i in range(n):
        at = ds.placement(i)
        at = dataclasses.replace(at, y=at.y - at.y % multiple, x=at.x - at.x % multiple)
        src = sources[at.source]
        h, w = src.plane_shape
        y0 = at.y - (min(margin, at.y) // multiple) * multiple
        x0 = at.x - (min(margin, at.x) // multiple) * multiple
        y1 = at.y + tile + (min(margin, h - at.y - tile) // multiple) * multiple
        x1 = at.x + tile + (min(margin, w - at.x - tile) // multiple) * multiple
        context = src.crop(at.stack, at.frames, y0, x0, y1 - y0, x1 - x0)
        regions.append(
            Region(
                at.source, context, at.y - y0, at.x - x0, tile, at.stack, tuple(at.frames), (y0, x0)
            )
        )
    return regions


# ---------------------------------------------------------------------------
# Real pairs
# ---------------------------------------------------------------------------


def _pair_key(path: Path, token: str | None) -> str:
    stem = re.sub(r"\.ome$", "", path.stem, flags=re.IGNORECASE).lower()
    if token:
        stem = stem.replace(token.lower(), "")
    return re.sub(r"[_\-. ]+", "_", stem).strip("_")


def match_pairs(
    lr_files: Sequence[str | Path],
    hr_files: Sequence[str | Path],
    lr_token: str | None = None,
    hr_token: str | None = None,
) -> list[tuple[Path, Path]]:
    """Pair LR and HR files by name (never by sort order).

    Names match when equal after removing ``lr_token``/``hr_token`` (e.g.
    ``"lowsnr"``/``"highsnr"``), ignoring case and ``_ - .`` separators; with no
    tokens the names must be identical (``lr/cell1.tif`` with ``hr/cell1.tif``).

    Raises
    ------
    PairingError
        Listing every unmatched file on either side, or names that match twice.
    """
    lr_keys = {}
    for p in map(Path, lr_files):
        lr_keys.setdefault(_pair_key(p, lr_token), []).append(p)
    hr_keys = {}
    for p in map(Path, hr_files):
        hr_keys.setdefault(_pair_key(p, hr_token), []).append(p)
    dupes = [v for d in (lr_keys, hr_keys) for v in d.values() if len(v) > 1]
    if dupes:
        raise PairingError(
            "Several files map to the same pair name: "
            + "; ".join(", ".join(p.name for p in d) for d in dupes),
            fix="Rename the files so each LR name matches exactly one HR name.",
        )
    only_lr = sorted(set(lr_keys) - set(hr_keys))
    only_hr = sorted(set(hr_keys) - set(lr_keys))
    if only_lr or only_hr:
        lines = [f"  LR without HR: {lr_keys[k][0]}" for k in only_lr]
        lines += [f"  HR without LR: {hr_keys[k][0]}" for k in only_hr]
        raise PairingError(
            "Some files have no partner with a matching name:\n" + "\n".join(lines),
            fix="Give each LR file the same name as its HR file, or move the unpaired files "
            "away; where names differ by a word (e.g. 'lowsnr'/'highsnr'), notebooks 01 and "
            "05, pssr-nb calibrate and pssr-nb benchmark (--lr-token/--hr-token) can ignore it.",
        )
    return [(lr_keys[k][0], hr_keys[k][0]) for k in sorted(lr_keys)]


def find_pairs(
    lr: str | Path | Sequence[str | Path],
    hr: str | Path | Sequence[str | Path],
    lr_token: str | None = None,
    hr_token: str | None = None,
    hr_pattern: str = "*",
) -> list[tuple[Path, Path]]:
    """(LR, HR) file pairs from files or folders, as every step of the workflow pairs them.

    ``hr_pattern`` picks the HR files inside a folder (e.g. ``*highsnr*``); files on the
    HR side are never LR candidates, so LR and HR images may share one folder. Then
    :func:`match_pairs` pairs them by name, ignoring the tokens.
    """
    from .io import image_files

    def files(where, pattern="*"):
        where = [where] if isinstance(where, (str, Path)) else where
        return [f for w in where for f in image_files(w, pattern)]

    hr_files = files(hr, hr_pattern)
    taken = {f.resolve() for f in hr_files}
    lr_files = [f for f in files(lr) if f.resolve() not in taken]
    return match_pairs(lr_files, hr_files, lr_token or None, hr_token or None)


def lr_partners(
    lr: str | Path,
    hr_files: Sequence[Path],
    lr_token: str | None = None,
    hr_token: str | None = None,
) -> dict[Path, Path | None]:
    """The LR file named like each HR file (None where there is none), for reports.

    Like :func:`find_pairs`, but an HR file without a partner is reported, not an error;
    the LR candidates are the images of ``lr`` that are not HR files.
    """
    from .io import image_files

    taken = {Path(f).resolve() for f in hr_files}
    by_name = {_pair_key(f, lr_token): f for f in image_files(lr) if f.resolve() not in taken}
    return {Path(f): by_name.get(_pair_key(Path(f), hr_token)) for f in hr_files}


def check_pair_shapes(pairs: Sequence[tuple[Source, Source]], scale: int) -> None:
    """Raise a :class:`PairingError` listing every pair whose sizes disagree with the scale.

    An HR plane must be ``scale`` times the LR plane, plus at most ``scale - 1``
    pixels (an HR size that is not a multiple of the scale).
    """
    bad = []
    for lr, hr in pairs:
        (lh, lw), (hh, hw) = lr.plane_shape, hr.plane_shape
        ok = 0 <= hh - scale * lh < scale and 0 <= hw - scale * lw < scale
        if not ok or lr.n_stacks * lr.n_frames != hr.n_stacks * hr.n_frames:
            bad.append(
                f"  {lr.path.name if lr.path else 'LR'} {lr.data.shape} vs "
                f"{hr.path.name if hr.path else 'HR'} {hr.data.shape}"
            )
    if bad:
        raise PairingError(
            f"These pairs do not fit a scale of {scale} (HR must be {scale}x the LR in Y and X, "
            "with the same number of planes):\n" + "\n".join(bad),
            fix="Check the scale setting, or that LR and HR files are the same field of view.",
        )


def load_pairs(
    lr: str | Path | Sequence[str | Path],
    hr: str | Path | Sequence[str | Path],
    scale: int,
    lr_token: str | None = None,
    hr_token: str | None = None,
    **source_kwargs,
) -> list[tuple[Source, Source]]:
    """Match LR and HR files by name, open them and check their sizes against ``scale``."""
    from .io import image_files

    lr_files = image_files(lr) if isinstance(lr, (str, Path)) else list(lr)
    hr_files = image_files(hr) if isinstance(hr, (str, Path)) else list(hr)
    matched = match_pairs(lr_files, hr_files, lr_token, hr_token)
    pairs = [(Source(a, **source_kwargs), Source(b, **source_kwargs)) for a, b in matched]
    check_pair_shapes(pairs, scale)
    return pairs
