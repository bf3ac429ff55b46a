"""Every real image in ../shared/data loads with the right axes and dtype (skipped when absent)."""

import numpy as np

from pssr_nb.data import HRDataset, load_pairs, load_sources
from pssr_nb.io import read_image

EXPECTED = {
    "cells3d_nuclei_zstack/cells3d_nuclei_ZYX.tif": ("ZYX", (60, 256, 256), np.uint16),
    "ctc_fluo_n3dh_cho_4d/fluo_n3dh_cho_02_t00-09_TZYX.tif": ("TZYX", (10, 5, 443, 512), np.uint8),
    "emdiffuse_vem_slices/microns_0.tif": ("YX", (256, 256), np.uint8),
    "emdiffuse_vem_slices/microns_1.tif": ("YX", (256, 256), np.uint8),
    "emdiffuse_vem_slices/mouse_liver_0.tif": ("YX", (256, 256), np.uint8),
    "emdiffuse_vem_slices/mouse_liver_1.tif": ("YX", (256, 256), np.uint8),
    "fluorescence_2d_singles/mahotas_nuclear.png": ("YX", (1024, 1344), np.uint8),
    "fluorescence_2d_singles/stardist_dsb2018_nuclei_img2d.tif": ("YX", (512, 512), np.uint16),
    "gigadb_hagen_pairs/mito-confocal_highsnr.png": ("YX", (1024, 1024), np.uint8),
    "gigadb_hagen_pairs/mito-confocal_lowsnr.png": ("YX", (1024, 1024), np.uint8),
    "gigadb_hagen_pairs/nucleus_highsnr.png": ("YX", (512, 512), np.uint8),
    "gigadb_hagen_pairs/nucleus_lowsnr.png": ("YX", (512, 512), np.uint8),
    "isbi2012_sstem_stack/isbi2012_slice00.png": ("YX", (512, 512), np.uint8),
    "isbi2012_sstem_stack/isbi2012_train_volume_z00-14_15x512x512.tif": (
        "ZYX",
        (15, 512, 512),
        np.uint8,
    ),
}


def test_every_shared_image_loads_with_axes_and_dtype(shared_data):
    found = sorted(
        str(p.relative_to(shared_data))
        for p in shared_data.rglob("*")
        if p.suffix.lower() in (".tif", ".tiff", ".png")
    )
    assert found, "no images in ../shared/data"
    for rel in found:
        image = read_image(shared_data / rel)
        if rel in EXPECTED:
            axes, shape, dtype = EXPECTED[rel]
            assert (image.axes, image.data.shape, image.data.dtype) == (axes, shape, dtype), rel
        else:  # the W2S pairs and anything added later: at least a sane 2-D+ image
            assert image.axes.endswith("YX") and image.data.dtype in (
                np.uint8,
                np.uint16,
                np.float32,
            ), rel
        assert np.isfinite(image.data.astype(np.float64)).all()


def test_real_4d_timelapse_gives_multi_frame_crops(shared_data):
    src = load_sources(shared_data / "ctc_fluo_n3dh_cho_4d" / "fluo_n3dh_cho_02_t00-09_TZYX.tif")[0]
    assert (src.n_stacks, src.n_frames) == (5, 10)  # 5 z-slices, each a 10-frame time series
    ds = HRDataset([src], tile=128, scale=4, frames=3, length=4)
    assert ds[0].shape == (3, 128, 128)


def test_real_confocal_pair_matches_by_token(shared_data):
    folder = shared_data / "gigadb_hagen_pairs"
    pairs = load_pairs(
        sorted(folder.glob("*lowsnr.png")),
        sorted(folder.glob("*highsnr.png")),
        1,
        "lowsnr",
        "highsnr",
    )
    assert [lr.name for lr, _ in pairs] == ["mito-confocal_lowsnr", "nucleus_lowsnr"]
    assert all(hr.name.endswith("highsnr") for _, hr in pairs)


def test_real_em_stack_feeds_a_multiprocess_loader_and_the_crappifier(shared_data):
    import pickle

    import torch

    from pssr_nb.crappify import Crappifier
    from pssr_nb.data import split

    srcs = load_sources(
        shared_data / "isbi2012_sstem_stack", frame_axis="Z"
    )  # a PNG slice and the stack
    assert {s.name for s in srcs} == {"isbi2012_slice00", "isbi2012_train_volume_z00-14_15x512x512"}
    sp = split(srcs, 0.2, by="tile", tile=128, seed=0)
    ds = HRDataset(srcs, tile=128, scale=4, split=sp, length=8, seed=0)
    pickle.loads(
        pickle.dumps(ds)
    )  # workers started with "spawn" (macOS, Windows) pickle the dataset
    ctx = torch.multiprocessing.get_context("spawn")
    loader = torch.utils.data.DataLoader(
        ds, batch_size=4, num_workers=2, multiprocessing_context=ctx
    )
    batches = list(loader)
    assert [b.shape for b in batches] == [(4, 1, 128, 128)] * 2
    lr = Crappifier.default(4)(batches[0], generator=torch.Generator().manual_seed(0))
    assert lr.shape == (4, 1, 32, 32) and torch.isfinite(lr).all()


def test_real_em_stack_trains_with_workers_and_predicts_with_pixel_size(shared_data, tmp_path):
    from pssr_nb.io import read_image
    from pssr_nb.predict import predict_file
    from pssr_nb.train import TrainParams, run

    stack = shared_data / "isbi2012_sstem_stack" / "isbi2012_train_volume_z00-14_15x512x512.tif"
    params = TrainParams(steps=6, tile=64, batch_size=2, val_tiles=2, validations=1, workers=2)
    result = run(params, stack, tmp_path / "run", progress=False)
    assert result.summary["steps"] == 6 and np.isfinite(result.summary["best"]["val_psnr"])
    record = predict_file(
        result.model, shared_data / "isbi2012_sstem_stack" / "isbi2012_slice00.png", tmp_path
    )
    out = read_image(record["output"])
    assert out.data.shape == (2048, 2048) and out.data.dtype == np.uint8
    assert read_image(stack).data.shape == (15, 512, 512)  # the input is untouched
