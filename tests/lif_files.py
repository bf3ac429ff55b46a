"""Small Leica ``.lif`` files for the tests (no Python package writes them).

Layout as read by liffile (the reader bioio-lif uses): a header block holding the
project's XML (UTF-16), then one memory block per image. Only what the readers
need is written: one greyscale channel, X, Y and optionally Z, pixel sizes in metres.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_MAGIC, _MARK = 0x70, 0x2A


def _dimension(dim_id: int, n: int, step_nm: float, bytes_inc: int) -> str:
    length_m = step_nm * 1e-9 * (n - 1)  # Leica states the extent between first and last
    return (
        f'<DimensionDescription DimID="{dim_id}" NumberOfElements="{n}" Origin="0" '
        f'Length="{length_m!r}" Unit="m" BitInc="0" BytesInc="{bytes_inc}"/>'
    )


def _image_element(name: str, block: str, data: np.ndarray, px_nm: float, z_nm: float) -> str:
    item = data.dtype.itemsize
    ny, nx = data.shape[-2:]
    dims = [_dimension(1, nx, px_nm, item), _dimension(2, ny, px_nm, item * nx)]
    if data.ndim == 3:
        dims.append(_dimension(3, data.shape[0], z_nm, item * nx * ny))
    channel = (
        f'<ChannelDescription DataType="0" ChannelTag="0" Resolution="{8 * item}" '
        'NameOfMeasuredQuantity="" Min="0" Max="0" Unit="" LUTName="Gray" '
        'IsLUTInverted="0" BytesInc="0" BitInc="0"/>'
    )
    return (
        f'<Element Name="{name}" Visibility="1" CopyOption="1" UniqueID="{block}">'
        "<Data><Image><ImageDescription>"
        f"<Channels>{channel}</Channels><Dimensions>{''.join(dims)}</Dimensions>"
        "</ImageDescription></Image></Data>"
        f'<Memory Size="{data.nbytes}" MemoryBlockID="{block}"/><Children/></Element>'
    )


def write_lif(
    path: str | Path,
    images: dict[str, np.ndarray],
    pixel_size_nm: float,
    z_step_nm: float = 100.0,
) -> Path:
    """Write ``images`` (name -> uint8/uint16 ``YX`` or ``ZYX`` array) as one LIF project."""
    blocks = {f"MemBlock_{i + 1}": np.ascontiguousarray(a) for i, a in enumerate(images.values())}
    children = "".join(
        _image_element(name, block, a, pixel_size_nm, z_step_nm)
        for name, (block, a) in zip(images, blocks.items(), strict=True)
    )
    xml = (
        '<LMSDataContainerHeader Version="2"><Element Name="project" Visibility="1" '
        'CopyOption="1" UniqueID="root"><Data><Experiment/></Data>'
        '<Memory Size="0" MemoryBlockID="MemBlock_0"/>'
        f"<Children>{children}</Children></Element></LMSDataContainerHeader>"
    )
    out = bytearray(struct.pack("<IIBI", _MAGIC, 2 * len(xml) + 5, _MARK, len(xml)))
    out += xml.encode("utf-16-le")
    for block, array in {"MemBlock_0": np.zeros(0, np.uint8), **blocks}.items():
        out += struct.pack("<IIBQBI", _MAGIC, 0, _MARK, array.nbytes, _MARK, len(block))
        out += block.encode("utf-16-le") + array.tobytes()
    path = Path(path)
    path.write_bytes(bytes(out))
    return path
