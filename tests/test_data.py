import numpy as np
import pytest
import torch

from pssr_nb.data import (
    DIHEDRAL,
    HRDataset,
    Source,
    dihedral,
    fixed_regions,
    frame_window,
    inverse_dihedral,
    load_pairs,
    load_sources,
    match_pairs,
    split,
)
from pssr_nb.errors import InputError, PairingError
from pssr_nb.io import ImageData, write_tiff
from pssr_nb.normalize import Normalization
from pssr_nb.phantoms import simulate


def position_image(h: int, w: int) -> np.ndarray:
    """Pixel value encodes its own position: y * w + x (float64 keeps it exact)."""
    return np.arange(h * w, dtype=np.float64).reshape(h, w)


def test_eight_distinct_dihedral_transforms_with_inverses():
    x = np.arange(12.0).reshape(3, 4)
    seen = {dihedral(x, k).tobytes() + bytes(dihedral(x, k).shape) for k in range(8)}
    assert len(seen) == 8 and len(DIHEDRAL) == 8
    for k in range(8):
        np.testing.assert_array_equal(inverse_dihedral(dihedral(x, k), k), x)
        np.testing.assert_array_equal(dihedral(torch.from_numpy(x), k).numpy(), dihedral(x, k))


def test_random_crops_cover_a_non_square_image_beyond_its_centre():
    src = Source(ImageData(position_image(60, 150), "YX"), percentiles=(0, 100))
    ds = HRDataset([src], tile=32, scale=4, length=300, augment=False, seed=0)
    corners = set()
    for i in range(len(ds)):
        crop = ds[i][0].numpy() * src.normalization.span + src.normalization.low
        y, x = divmod(int(round(crop[0, 0])), 150)
        corners.add((y, x))
        assert 0 <= y <= 60 - 32 and 0 <= x <= 150 - 32
    xs = [x for _, x in corners]
    assert min(xs) < 10 and max(xs) > 150 - 32 - 10  # no centre-cropping


def test_items_depend_only_on_seed_and_index():
    ps = simulate("em", (96, 80), 4, seed=0)
    ds = HRDataset([Source(ImageData(ps.hr, "YX"))], tile=32, length=10, seed=5)
    assert torch.equal(ds[3], ds[3])
    assert not torch.equal(ds[3], ds[4])
    assert ds[0].shape == (1, 32, 32) and ds[0].dtype == torch.float32


def test_split_by_tile_keeps_training_crops_out_of_validation_blocks():
    src = Source(ImageData(np.stack([position_image(128, 192)] * 4), "TYX"), percentiles=(0, 100))
    sp = split([src], val_fraction=0.3, by="tile", tile=32, seed=1)
    mask = sp.masks[0]
    assert mask.shape == (4, 6) and 0 < (~mask).sum() < mask.size
    for subset in (True, False):
        ds = HRDataset(
            [src], tile=32, scale=4, split=sp, subset=subset, length=200, augment=False, frames=1
        )
        for i in range(len(ds)):
            crop = ds[i][0].numpy() * src.normalization.span + src.normalization.low
            ys, xs = np.divmod(np.rint(crop).astype(int), 192)
            assert np.all(mask[ys // 32, xs // 32] == subset)  # every pixel, every frame


def test_split_by_image_and_its_limits():
    srcs = [Source(ImageData(np.zeros((64, 64), np.uint8) + i, "YX")) for i in range(5)]
    sp = split(srcs, 0.4, by="image", seed=0)
    assert sum(not m[0, 0] for m in sp.masks) == 2
    assert [m.tolist() for m in sp.masks] == [
        m.tolist() for m in split(srcs, 0.4, by="image", seed=0).masks
    ]
    with pytest.raises(InputError, match="by='tile'"):
        split(srcs[:1], 0.2, by="image")


def test_multi_frame_samples_are_neighbours_around_the_centre():
    stack = np.stack([np.full((40, 40), t, np.float32) for t in range(9)])
    src = Source(ImageData(stack, "TYX"), percentiles=(0, 100))
    ds = HRDataset([src], tile=32, scale=4, frames=5, length=50, seed=0)
    for i in range(len(ds)):
        values = ds[i][:, 0, 0].numpy() * 8
        np.testing.assert_allclose(np.diff(values), 1.0, atol=1e-5)
    assert frame_window(0, 3, 5) == [1, 0, 1] and frame_window(4, 3, 5) == [3, 4, 3]


def test_zstack_frames_and_other_axes_become_stacks():
    data = np.zeros((2, 5, 48, 40), np.uint8)  # T=2, Z=5
    src = Source(ImageData(data, "TZYX"), frame_axis="Z")
    assert (src.n_stacks, src.n_frames, src.plane_shape) == (2, 5, (48, 40))
    assert Source(ImageData(data, "TZYX")).n_frames == 2
    assert Source(ImageData(data[0, 0], "YX"), frame_axis="Z").n_frames == 1
    with pytest.raises(InputError, match="frame_axis"):
        Source(ImageData(data, "TZYX"), frame_axis="C")


def test_dataset_errors_name_the_problem(tmp_path):
    small = write_tiff(tmp_path / "small.tif", np.zeros((20, 30), np.uint8), "YX")
    with pytest.raises(InputError, match="smaller than the tile") as err:
        HRDataset(load_sources([small]), tile=32)
    assert "small.tif" in str(err.value)
    src = Source(ImageData(np.zeros((64, 64)), "YX"))
    with pytest.raises(InputError, match="odd"):
        HRDataset([src], tile=32, frames=2)
    with pytest.raises(InputError, match="multiple of the scale"):
        HRDataset([src], tile=30, scale=4)
    with pytest.raises(InputError, match="input frames"):
        HRDataset([src], tile=32, frames=3)
    with pytest.raises(InputError, match="channels"):
        Source(ImageData(np.zeros((2, 64, 64)), "CYX"))


def test_fixed_regions_are_fixed_and_hold_their_block_with_context():
    src = Source(ImageData(simulate("em", (128, 128), 4, seed=0).hr, "YX"))
    sp = split([src], 0.25, tile=32)
    a = fixed_regions([src], 32, split=sp, n=6, margin=10, multiple=4)
    b = fixed_regions([src], 32, split=sp, n=6, margin=10, multiple=4)
    full = src.crop(0, [0], 0, 0, 128, 128)
    for r, q in zip(a, b, strict=True):
        assert r.source == 0 and np.array_equal(r.context, q.context) and (r.y, r.x) == (q.y, q.x)
        assert r.block.shape == (1, 32, 32)
        # the context keeps the LR lattice: a multiple of 4 on every side, at most the margin
        assert r.y % 4 == 0 and r.x % 4 == 0 and r.y <= 10 and r.x <= 10
        assert all(n % 4 == 0 for n in r.context.shape[1:])
        # the block is a held-out block of the image, and the context surrounds it
        hits = [
            (y, x)
            for y in range(97)
            for x in range(97)
            if np.array_equal(full[:, y : y + 32, x : x + 32], r.block)
        ]
        assert len(hits) == 1 and sp.allows(0, False, *hits[0], 32, 32)
        y0, x0 = hits[0][0] - r.y, hits[0][1] - r.x
        h, w = r.context.shape[1:]
        assert np.array_equal(full[:, y0 : y0 + h, x0 : x0 + w], r.context)


def test_sources_stream_from_memory_maps(tmp_path):
    path = write_tiff(
        tmp_path / "raw.tif",
        np.arange(4 * 64 * 64, dtype=np.uint16).reshape(4, 64, 64),
        "ZYX",
        compression=None,
    )
    src = load_sources(path)[0]
    assert isinstance(src.data, np.memmap)
    compressed = write_tiff(tmp_path / "zip.tif", np.ones((64, 64), np.uint16), "YX")
    csrc = load_sources(compressed)[0]
    assert csrc.image.data.size == 0 and csrc.data.shape == (64, 64)  # decoded on demand, not held


def test_match_pairs_by_name_not_order(tmp_path):
    lr = [tmp_path / "b_lowsnr.png", tmp_path / "a_lowsnr.png"]
    hr = [tmp_path / "a-highsnr.png", tmp_path / "B_highsnr.png"]
    pairs = match_pairs(lr, hr, "lowsnr", "highsnr")
    assert [(p.name, q.name) for p, q in pairs] == [
        ("a_lowsnr.png", "a-highsnr.png"),
        ("b_lowsnr.png", "B_highsnr.png"),
    ]


def test_unmatched_files_are_all_listed(tmp_path):
    with pytest.raises(PairingError) as err:
        match_pairs(
            [tmp_path / "x.tif", tmp_path / "y.tif"], [tmp_path / "y.tif", tmp_path / "z.tif"]
        )
    assert (
        "LR without HR" in str(err.value)
        and "x.tif" in str(err.value)
        and "z.tif" in str(err.value)
    )


def test_pairs_with_wrong_sizes_are_listed(tmp_path):
    for name, shape in (("ok", (16, 16)), ("bad", (16, 16))):
        write_tiff(tmp_path / "lr" / f"{name}.tif", np.zeros(shape, np.uint8), "YX")
    write_tiff(tmp_path / "hr" / "ok.tif", np.zeros((64, 64), np.uint8), "YX")
    write_tiff(tmp_path / "hr" / "bad.tif", np.zeros((64, 48), np.uint8), "YX")
    with pytest.raises(PairingError) as err:
        load_pairs(tmp_path / "lr", tmp_path / "hr", scale=4)
    assert "bad.tif" in str(err.value) and "ok.tif" not in str(err.value)


def test_source_of_names_the_image_each_crop_comes_from():
    dark, bright = np.zeros((64, 64), np.float32), np.ones((64, 64), np.float32)
    sources = [
        Source(ImageData(a, "YX"), normalization=Normalization(0.0, 2.0)) for a in (dark, bright)
    ]
    ds = HRDataset(sources, tile=16, scale=4, length=40, seed=1)
    picked = [ds.source_of(i) for i in range(40)]
    assert set(picked) == {0, 1}
    assert all(int(round(float(ds[i].max()) * 2)) == picked[i] for i in range(40))


def test_pairs_are_found_in_one_folder_that_holds_both_sides(tmp_path):
    from pssr_nb.data import find_pairs

    for name in ("mito_lowsnr", "mito_highsnr", "nucleus_lowsnr", "nucleus_highsnr"):
        write_tiff(tmp_path / f"{name}.tif", np.zeros((8, 8), np.uint8), "YX")
    pairs = find_pairs(tmp_path, tmp_path, "lowsnr", "highsnr", hr_pattern="*highsnr*")
    assert [(a.name, b.name) for a, b in pairs] == [
        ("mito_lowsnr.tif", "mito_highsnr.tif"),
        ("nucleus_lowsnr.tif", "nucleus_highsnr.tif"),
    ]
    with pytest.raises(PairingError, match="no partner"):
        find_pairs(tmp_path, tmp_path, "lowsnr", "highsnr")  # every image on the HR side
