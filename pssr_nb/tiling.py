"""Tiled application of a super-resolution function to images of any size.

An LR plane is cut into the fewest overlapping tiles that cover it, spread
evenly; the last tile of a row or column ends exactly at the image edge, so no
pixel is dropped (PSSR2's stitching loses the right and bottom remainder).
Each upsampled tile is weighted by a ramp over its overlap with a neighbour
and the weights are normalised, so seams blend smoothly. Tiles are processed
one row of tiles at a time into a buffer of ``tile`` LR rows: working memory
depends on the tile size and the image width, not the image height or the
number of frames.

:func:`tiled_region` computes one HR region of that same result while reading only
the LR pixels its tiles need (the blocks of a volume larger than memory, see
:mod:`pssr_nb.volume`): the same tiles, weights and summation order, so the
regions of a plane put together equal :func:`apply_tiled` of the whole plane.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .errors import InputError

__all__ = ["apply_tiled", "blend_weights", "tile_layout", "tiled_region", "TileFn"]

#: ``f(tiles) -> outputs``: ``(B, C, th, tw)`` LR tiles to a tuple of ``(B, th*s, tw*s)`` maps.
TileFn = Callable[[np.ndarray], tuple[np.ndarray, ...]]


def tile_layout(n: int, tile: int, overlap: int, multiple: int = 1) -> tuple[int, list[int]]:
    """Size and start positions of the fewest tiles of at most ``tile`` pixels covering ``n``.

    The tiles are spread evenly, each overlapping its neighbour by at least ``overlap``,
    and shrunk to the smallest size (a multiple of ``multiple``, the network's) that
    still covers ``n`` with that many tiles: no pixel is computed more often than needed.

    Examples
    --------
    >>> tile_layout(100, 40, 8)
    (39, [0, 30, 61])
    >>> tile_layout(512, 128, 16, multiple=8)
    (120, [0, 98, 196, 294, 392])
    >>> tile_layout(30, 40, 8)
    (30, [0])
    """
    if tile <= overlap or overlap < 0:
        raise InputError(
            f"The tile ({tile} px) must be larger than the overlap ({overlap} px).",
            fix="Increase the tile size or reduce the overlap.",
        )
    if n <= tile:
        return n, [0]
    count = math.ceil((n - overlap) / (tile - overlap))
    size = math.ceil((n + (count - 1) * overlap) / count)
    size = min(tile, -(-size // multiple) * multiple)
    return size, [round(i * (n - size) / (count - 1)) for i in range(count)]


def blend_weights(start: int, size: int, n: int, overlap: int, scale: int) -> np.ndarray:
    """1-D weights of an upsampled tile: a linear ramp over each overlap with a neighbour.

    Sides at the image edge keep full weight, so edge pixels are never faded out.
    """
    w = np.ones(size * scale, np.float32)
    ramp_len = min(overlap, size) * scale
    if ramp_len == 0:
        return w
    ramp = (np.arange(ramp_len, dtype=np.float32) + 0.5) / ramp_len
    if start > 0:
        w[:ramp_len] = ramp
    if start + size < n:
        w[-ramp_len:] = np.minimum(w[-ramp_len:], ramp[::-1])
    return w


def apply_tiled(
    fn: TileFn,
    plane: np.ndarray,
    scale: int,
    tile: int = 128,
    overlap: int = 16,
    batch_size: int = 8,
    n_outputs: int = 1,
    multiple: int = 1,
    out: tuple[np.ndarray, ...] | None = None,
) -> tuple[np.ndarray, ...]:
    """Apply ``fn`` to overlapping tiles of ``plane`` and blend the results.

    Parameters
    ----------
    fn : callable
        Maps a batch of LR tiles ``(B, C, th, tw)`` to a tuple of ``n_outputs``
        arrays ``(B, th*scale, tw*scale)``.
    plane : ndarray
        ``(C, h, w)`` LR input (C input frames).
    scale : int
        Upsampling factor of ``fn``.
    tile, overlap : int
        Tile size and overlap in LR pixels.
    batch_size : int
        Tiles per call of ``fn``.
    n_outputs : int
        How many maps ``fn`` returns (e.g. 2: a prediction and its uncertainty).
    multiple : int
        Tile sizes are kept to multiples of this (the network pads to it otherwise).
    out : tuple of ndarray, optional
        ``n_outputs`` float32 arrays of shape ``(h*scale, w*scale)`` to write into (e.g.
        planes of a stack's output), so no second output-sized array is made.

    Returns
    -------
    tuple of ndarray
        ``n_outputs`` float32 arrays of shape ``(h*scale, w*scale)``.
    """
    _, h, w = plane.shape
    s = scale
    th, ys = tile_layout(h, tile, overlap, multiple)
    tw, xs = tile_layout(w, tile, overlap, multiple)
    if out is None:
        out = tuple(np.empty((h * s, w * s), np.float32) for _ in range(n_outputs))
    outs = list(out)
    wx = [blend_weights(x, tw, w, overlap, s) for x in xs]
    buf = [np.zeros((th * s, w * s), np.float32) for _ in range(n_outputs)]
    wsum = np.zeros((th * s, w * s), np.float32)
    for r, y in enumerate(ys):
        base = y * s  # HR row of buf[0]
        wy = blend_weights(y, th, h, overlap, s)
        for b in range(0, len(xs), batch_size):
            chunk = xs[b : b + batch_size]
            tiles = np.stack([plane[:, y : y + th, x : x + tw] for x in chunk])
            results = fn(tiles)
            for i, x in enumerate(chunk):
                weight = wy[:, None] * wx[b + i][None, :]
                cols = slice(x * s, (x + tw) * s)
                wsum[:, cols] += weight
                for k in range(n_outputs):
                    buf[k][:, cols] += weight * results[k][i]
        # rows above the next tile row are complete: write them out and shift the buffer
        done = (ys[r + 1] - y) * s if r + 1 < len(ys) else th * s
        for k in range(n_outputs):
            outs[k][base : base + done] = buf[k][:done] / wsum[:done]
            buf[k] = np.concatenate([buf[k][done:], np.zeros_like(buf[k][:done])])
        wsum = np.concatenate([wsum[done:], np.zeros_like(wsum[:done])])
    return tuple(outs)


def tiled_region(
    fn: TileFn,
    read: Callable[[int, int, int, int], np.ndarray],
    plane_shape: tuple[int, int],
    region: tuple[int, int, int, int],
    scale: int,
    tile: int = 128,
    overlap: int = 16,
    batch_size: int = 8,
    n_outputs: int = 1,
    multiple: int = 1,
) -> tuple[np.ndarray, ...]:
    """The HR ``region`` of :func:`apply_tiled` on a whole plane, reading only what it needs.

    Parameters
    ----------
    fn : callable
        As in :func:`apply_tiled`.
    read : callable
        ``read(y0, y1, x0, x1)`` returns the LR pixels ``[y0:y1, x0:x1]`` of the plane as
        ``(C, y1 - y0, x1 - x0)``; it is called once, for the tiles under the region.
    plane_shape : (int, int)
        The whole LR plane's ``(h, w)``: the tile layout is the whole plane's.
    region : (int, int, int, int)
        ``(y0, y1, x0, x1)`` in HR pixels, inside ``(h * scale, w * scale)``.
    scale, tile, overlap, batch_size, n_outputs, multiple
        As in :func:`apply_tiled`.

    Returns
    -------
    tuple of ndarray
        ``n_outputs`` float32 arrays of shape ``(y1 - y0, x1 - x0)``.

    Examples
    --------
    >>> plane = np.random.default_rng(0).random((1, 40, 50), dtype=np.float32)
    >>> def double(tiles):
    ...     return (np.kron(tiles[:, 0], np.ones((2, 2), np.float32)),)
    >>> (whole,) = apply_tiled(double, plane, 2, tile=16, overlap=4)
    >>> read = lambda y0, y1, x0, x1: plane[:, y0:y1, x0:x1]
    >>> (part,) = tiled_region(double, read, (40, 50), (10, 50, 30, 100), 2, tile=16, overlap=4)
    >>> bool(np.array_equal(part, whole[10:50, 30:100]))
    True
    """
    h, w = plane_shape
    s = scale
    y0, y1, x0, x1 = region
    if not (0 <= y0 < y1 <= h * s and 0 <= x0 < x1 <= w * s):
        raise InputError(f"The region {region} is not inside the HR plane {(h * s, w * s)}.")
    th, ys = tile_layout(h, tile, overlap, multiple)
    tw, xs = tile_layout(w, tile, overlap, multiple)
    rows = [y for y in ys if y * s < y1 and (y + th) * s > y0]
    cols = [x for x in xs if x * s < x1 and (x + tw) * s > x0]
    ly0, lx0 = rows[0], cols[0]
    lr = read(ly0, rows[-1] + th, lx0, cols[-1] + tw)
    bufs = [np.zeros((y1 - y0, x1 - x0), np.float32) for _ in range(n_outputs)]
    wsum = np.zeros((y1 - y0, x1 - x0), np.float32)
    wx = {x: blend_weights(x, tw, w, overlap, s) for x in cols}
    for y in rows:  # the order apply_tiled sums in: tile rows, then tiles along the row
        wy = blend_weights(y, th, h, overlap, s)
        ty0, ty1 = max(y * s, y0), min((y + th) * s, y1)  # the tile's rows inside the region
        for b in range(0, len(cols), batch_size):
            chunk = cols[b : b + batch_size]
            tiles = np.stack([lr[:, y - ly0 : y - ly0 + th, x - lx0 : x - lx0 + tw] for x in chunk])
            results = fn(tiles)
            for i, x in enumerate(chunk):
                tx0, tx1 = max(x * s, x0), min((x + tw) * s, x1)
                inside = (slice(ty0 - y * s, ty1 - y * s), slice(tx0 - x * s, tx1 - x * s))
                weight = wy[inside[0], None] * wx[x][None, inside[1]]
                at = (slice(ty0 - y0, ty1 - y0), slice(tx0 - x0, tx1 - x0))
                wsum[at] += weight
                for k in range(n_outputs):
                    bufs[k][at] += weight * results[k][i][inside]
    return tuple(buf / wsum for buf in bufs)
