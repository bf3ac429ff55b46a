import warnings

import numpy as np
import pytest
import tifffile

from pssr_nb.errors import InputError
from pssr_nb.io import (
    ImageData,
    list_images,
    output_path_for,
    read_image,
    super_resolved_pixel_size,
    write_tiff,
)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32, np.int16, np.float64])
def test_tiff_round_trip_keeps_values_axes_and_pixel_size(tmp_path, dtype):
    rng = np.random.default_rng(0)
    info = np.iinfo(dtype) if np.issubdtype(dtype, np.integer) else None
    data = (
        rng.integers(info.min, info.max, (3, 37, 50)) if info else rng.normal(size=(3, 37, 50))
    ).astype(dtype)
    path = write_tiff(tmp_path / "x.tif", data, "ZYX", {"X": 12.5, "Y": 12.5, "Z": 50.0})
    image = read_image(path)
    expected_dtype = np.float32 if dtype == np.float64 else dtype
    assert image.data.dtype == expected_dtype
    np.testing.assert_array_equal(image.data, data.astype(expected_dtype))
    assert image.axes == "ZYX"
    assert image.pixel_size["X"] == pytest.approx(12.5)
    assert image.pixel_size["Y"] == pytest.approx(12.5)
    assert image.pixel_size["Z"] == pytest.approx(50.0)


def test_4d_axes_survive_reordering_for_imagej(tmp_path):
    data = np.arange(2 * 3 * 5 * 7, dtype=np.uint16).reshape(3, 2, 5, 7)  # stored as ZTYX
    write_tiff(tmp_path / "a.tif", data, "ZTYX", 100.0)
    image = read_image(tmp_path / "a.tif")
    assert image.axes == "TZYX"
    np.testing.assert_array_equal(image.data, np.moveaxis(data, 1, 0))


def test_refuses_to_overwrite_and_leaves_no_temp_files(tmp_path):
    path = write_tiff(tmp_path / "a.tif", np.zeros((4, 4), np.uint8), "YX")
    with pytest.raises(InputError, match="overwrite"):
        write_tiff(path, np.ones((4, 4), np.uint8), "YX")
    assert read_image(path).data.max() == 0
    write_tiff(path, np.ones((4, 4), np.uint8), "YX", overwrite=True)
    assert read_image(path).data.max() == 1
    assert [p.name for p in tmp_path.iterdir()] == ["a.tif"]


def test_output_path_never_is_the_input(tmp_path):
    src = tmp_path / "cell.tif"
    src.touch()
    assert output_path_for(src, tmp_path / "out", "_sr") == tmp_path / "out" / "cell_sr.tif"
    with pytest.raises(InputError, match="overwrite the input"):
        output_path_for(src, tmp_path)


def test_imagej_micron_and_ome_metadata_are_read(tmp_path):
    data = np.zeros((2, 8, 8), np.uint16)
    tifffile.imwrite(
        tmp_path / "ij.tif",
        data,
        imagej=True,
        resolution=(1 / 0.05, 1 / 0.05),
        metadata={"axes": "TYX", "unit": "micron"},
    )
    image = read_image(tmp_path / "ij.tif")
    assert image.axes == "TYX" and image.pixel_size["X"] == pytest.approx(50.0)
    tifffile.imwrite(
        tmp_path / "o.ome.tif",
        data,
        ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeX": 0.2, "PhysicalSizeY": 0.2, "PhysicalSizeZ": 1.0},
    )
    image = read_image(tmp_path / "o.ome.tif")
    assert image.axes == "ZYX"
    assert image.pixel_size == pytest.approx({"X": 200.0, "Y": 200.0, "Z": 1000.0})


def test_plain_multipage_defaults_to_zyx_and_can_be_overridden(tmp_path):
    with tifffile.TiffWriter(tmp_path / "pages.tif") as tw:
        for i in range(4):
            tw.write(np.full((6, 9), i, np.uint8), metadata=None)
    assert read_image(tmp_path / "pages.tif").axes == "ZYX"
    assert read_image(tmp_path / "pages.tif", axes="TYX").axes == "TYX"
    with pytest.raises(InputError, match="image has 3"):
        read_image(tmp_path / "pages.tif", axes="YX")


def test_rgb_becomes_grey_with_warning_or_a_chosen_channel(tmp_path):
    import imageio.v3 as iio

    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 200, 100, 10
    iio.imwrite(tmp_path / "c.png", rgb)
    with pytest.warns(UserWarning, match="grey"):
        grey = read_image(tmp_path / "c.png")
    assert grey.axes == "YX" and grey.data.dtype == np.uint8
    assert grey.data[0, 0] == round(0.2125 * 200 + 0.7154 * 100 + 0.0721 * 10)
    assert read_image(tmp_path / "c.png", channel=1).data[0, 0] == 100
    with pytest.raises(InputError, match="channel=5"):
        read_image(tmp_path / "c.png", channel=5)


def test_grey_stored_as_rgb_is_read_silently(tmp_path):
    import imageio.v3 as iio

    rgb = np.repeat(np.arange(20, dtype=np.uint8).reshape(4, 5, 1), 3, axis=2)
    iio.imwrite(tmp_path / "g.png", rgb)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image(tmp_path / "g.png")
    np.testing.assert_array_equal(image.data, rgb[..., 0])


def test_16bit_png_keeps_bit_depth(tmp_path):
    import imageio.v3 as iio

    data = np.arange(0, 60000, 1000, dtype=np.uint16).reshape(6, 10)
    iio.imwrite(tmp_path / "d.png", data)
    image = read_image(tmp_path / "d.png")
    assert image.data.dtype == np.uint16
    np.testing.assert_array_equal(image.data, data)


def test_truncated_tiff_names_the_file(tmp_path):
    path = write_tiff(tmp_path / "broken.tif", np.ones((64, 64), np.uint16), "YX", compression=None)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(InputError) as err:
        read_image(path)
    assert "broken.tif" in str(err.value) and "corrupt" in str(err.value)


def test_missing_file_and_empty_folder_have_clear_messages(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_image(tmp_path / "nope.tif")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="No image files"):
        list_images(tmp_path)
    with pytest.raises(InputError, match="Unsupported"):
        read_image(tmp_path / "notes.txt")


def test_list_images_is_sorted_and_filtered(tmp_path):
    for name in ("b.tif", "a.png", "c.TIFF", "skip.txt"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["a.png", "b.tif", "c.TIFF"]


def test_axes_validation():
    with pytest.raises(InputError, match="end with"):
        ImageData(np.zeros((3, 4, 5)), "YXZ")
    with pytest.raises(InputError, match="repeat"):
        ImageData(np.zeros((3, 4, 5)), "YYX")


def test_memmap_reading_is_lazy_for_uncompressed_tiff(tmp_path):
    data = np.arange(4 * 16 * 16, dtype=np.uint16).reshape(4, 16, 16)
    write_tiff(tmp_path / "raw.tif", data, "ZYX", compression=None)
    write_tiff(tmp_path / "zip.tif", data, "ZYX")
    assert isinstance(read_image(tmp_path / "raw.tif", memmap=True).data, np.memmap)
    compressed = read_image(tmp_path / "zip.tif", memmap=True).data
    assert not isinstance(compressed, np.memmap)
    np.testing.assert_array_equal(compressed, data)


def test_super_resolved_output_gets_the_finer_pixel_size(tmp_path):
    lr = write_tiff(
        tmp_path / "lr.tif", np.zeros((3, 8, 8), np.uint8), "ZYX", {"X": 16.0, "Y": 16.0, "Z": 50.0}
    )
    image = read_image(lr)
    px = super_resolved_pixel_size(image.pixel_size, 4)
    out = write_tiff(tmp_path / "sr.tif", np.zeros((3, 32, 32), np.float32), "ZYX", px)
    assert read_image(out).pixel_size == pytest.approx({"X": 4.0, "Y": 4.0, "Z": 50.0})
