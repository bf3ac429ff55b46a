"""Vendor microscope files read through bioio, on small files made here.

Zeiss CZI is written with pylibCZIrw (which bioio-czi installs), OME-Zarr with
bioio-ome-zarr's writer, Leica LIF by ``lif_files.write_lif`` (no package writes
LIF) and OME-TIFF by tifffile. Nikon ND2 has no writer anywhere: only its missing-
reader message is tested.
"""

import importlib.util
import warnings

import numpy as np
import pytest
import tifffile
from lif_files import write_lif

from pssr_nb import microscope_files
from pssr_nb.errors import InputError
from pssr_nb.io import image_files, list_images, read_image, super_resolved_pixel_size

RNG = np.random.default_rng(0)


def _needs(*modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    return pytest.mark.skipif(bool(missing), reason=f"needs pssr_nb[formats] ({missing})")


@pytest.fixture
def czi(tmp_path):
    """A 2-channel, 3-plane CZI at 16 nm (Z step 50 nm), and its pixels as CZYX."""
    from pylibCZIrw import czi as pyczi

    data = RNG.integers(0, 4000, (2, 3, 40, 50), dtype=np.uint16)
    path = tmp_path / "cells.czi"
    with pyczi.create_czi(str(path)) as writer:
        for c in range(2):
            for z in range(3):
                writer.write(data[c, z], plane={"C": c, "Z": z})
        writer.write_metadata(scale_x=16e-9, scale_y=16e-9, scale_z=50e-9)
    return path, data


@_needs("bioio_czi")
def test_a_czi_reads_with_its_axes_and_pixel_size(czi):
    path, data = czi
    image = read_image(path)
    assert image.axes == "CZYX" and image.pixel_size == {"X": 16.0, "Y": 16.0, "Z": 50.0}
    np.testing.assert_array_equal(image.data, data)
    one = read_image(path, channel=1)
    assert one.axes == "ZYX"
    np.testing.assert_array_equal(one.data, data[1])
    assert read_image(path, pixel_size=10).pixel_size == {"X": 10.0, "Y": 10.0}  # user wins


@_needs("bioio_lif")
def test_a_lif_project_reads_each_of_its_images(tmp_path):
    stack = RNG.integers(0, 4000, (3, 30, 40), dtype=np.uint16)
    plane = RNG.integers(0, 255, (20, 25), dtype=np.uint8)
    path = write_lif(tmp_path / "project.lif", {"stack": stack, "plane": plane}, 20.0, 150.0)
    assert microscope_files.scenes(path) == ("stack", "plane")
    with pytest.warns(UserWarning, match=r"holds 2 images .*scene="):
        first = read_image(path)
    assert first.axes == "ZYX" and first.pixel_size == {"X": 20.0, "Y": 20.0, "Z": 150.0}
    np.testing.assert_array_equal(first.data, stack)
    for scene in (1, "plane"):
        second = read_image(path, scene=scene)
        assert second.axes == "YX" and second.pixel_size == {"X": 20.0, "Y": 20.0}
        np.testing.assert_array_equal(second.data, plane)
    with pytest.raises(InputError, match="no image named 'nope'") as err:
        read_image(path, scene="nope")
    assert "'stack', 'plane'" in err.value.fix and err.value.path == path
    with pytest.raises(InputError, match="scene=2 but this file holds 2"):
        read_image(path, scene=2)


@_needs("bioio_ome_zarr")
def test_an_ome_zarr_folder_is_one_image(tmp_path):
    from bioio_ome_zarr.writers import OMEZarrWriter

    data = RNG.integers(0, 4000, (3, 40, 50), dtype=np.uint16)
    path = tmp_path / "stack.ome.zarr"
    writer = OMEZarrWriter(
        str(path),
        level_shapes=data.shape,
        dtype=data.dtype,
        axes_names=["z", "y", "x"],
        axes_types=["space"] * 3,
        axes_units=["micrometer"] * 3,
        physical_pixel_size=[0.1, 0.008, 0.008],
    )
    writer.write_full_volume(data)
    image = read_image(path)
    assert image.axes == "ZYX" and image.pixel_size == {"X": 8.0, "Y": 8.0, "Z": 100.0}
    np.testing.assert_array_equal(image.data, data)
    assert image_files(path) == [path]  # a folder, yet one image, not searched
    assert list_images(tmp_path) == [path]


def test_an_ome_tiff_reads_its_pixel_size_without_extras(tmp_path):
    data = RNG.integers(0, 4000, (3, 40, 50), dtype=np.uint16)
    path = tmp_path / "stack.ome.tif"
    tifffile.imwrite(
        path,
        data,
        ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeX": 0.012, "PhysicalSizeY": 0.012,
                  "PhysicalSizeZ": 0.2},
    )  # fmt: skip
    image = read_image(path)
    assert image.axes == "ZYX" and image.pixel_size == pytest.approx({"X": 12, "Y": 12, "Z": 200})
    if importlib.util.find_spec("bioio_ome_tiff"):  # bioio's own OME reader agrees
        from bioio import BioImage

        sizes = BioImage(path).physical_pixel_sizes
        assert 1e3 * sizes.X == pytest.approx(image.pixel_size["X"])
        assert 1e3 * sizes.Z == pytest.approx(image.pixel_size["Z"])


@pytest.mark.parametrize("suffix", [".czi", ".lif", ".nd2", ".zarr"])
def test_a_missing_reader_names_the_extra_to_install(tmp_path, monkeypatch, suffix):
    path = tmp_path / f"image{suffix}"
    path.write_bytes(b"not read")
    package = microscope_files.READERS[suffix]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == package.replace("-", "_") else real(name, *a),
    )
    with pytest.raises(InputError, match=package) as err:
        read_image(path)
    assert 'pip install "pssr_nb[formats]"' in err.value.fix and err.value.path == path


@_needs("bioio_czi")
def test_a_damaged_or_missing_czi_is_one_clear_message(tmp_path, czi):
    damaged = tmp_path / "damaged.czi"
    damaged.write_bytes(czi[0].read_bytes()[:600])
    with pytest.raises(InputError, match="Could not read") as err:
        read_image(damaged)
    assert err.value.path == damaged and "Re-export" in err.value.fix
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "nowhere.czi")
    assert image_files(tmp_path / "nowhere.czi") == [tmp_path / "nowhere.czi"]


@_needs("bioio_czi")
def test_a_czi_goes_through_prediction_with_its_pixel_size(tmp_path):
    """The file reaches the same path as a TIFF: its output carries pixel size ÷ scale."""
    from pylibCZIrw import czi as pyczi
    from test_portable import tiny

    from pssr_nb.predict import PredictParams, run

    plane = RNG.integers(0, 4000, (48, 56), dtype=np.uint16)
    path = tmp_path / "scan.czi"
    with pyczi.create_czi(str(path)) as writer:
        writer.write(plane, plane={"C": 0})
        writer.write_metadata(scale_x=16e-9, scale_y=16e-9)
    model = tiny(scale=2).save(tmp_path / "model.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tiny model states no pixel size
        report = run(PredictParams(tile=64, tta=False), model, path, tmp_path / "out")
    assert not report["failed"]
    out = read_image(report["files"][0]["output"])
    assert out.shape == (96, 112)
    assert out.pixel_size == super_resolved_pixel_size({"X": 16.0, "Y": 16.0}, 2)
