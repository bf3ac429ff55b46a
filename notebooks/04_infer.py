# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     provenance: []
#   jupytext:
#     notebook_metadata_filter: accelerator,colab
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · Super-resolve new scans
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pssr-nb/pssr_nb/blob/main/notebooks/04_infer.ipynb)
#
# ## 0. About
# **Goal.** Apply a trained model to fast LR scans it has never seen — single images or
# whole Z-stacks and time-lapses — and save the results as TIFFs that carry the new,
# smaller pixel size, so Fiji and napari show them at the right scale.
#
# **Time.** Seconds per megapixel of output on a laptop CPU; much faster on a GPU.
#
# **You get.** `infer/run_NNN/` in the project: one `<name>_pssr.tif` per input (and an
# `_uncertainty.tif` with test-time augmentation), plus `predict.json` with the settings.

# %% [markdown]
# ## 1. Setup

# %%
import subprocess
import sys
from pathlib import Path

if "google.colab" in sys.modules:  # Colab only; its torch, numpy and IPython are kept
    # an uploaded pssr_nb wheel (session files, or MyDrive once mounted) wins
    folders = [Path("/content"), Path("/content/drive/MyDrive")]
    wheels = sorted(w for f in folders for w in f.glob("pssr_nb-*.whl"))
    source = str(wheels[-1]) if wheels else "pssr_nb @ git+https://github.com/pssr-nb/pssr_nb"
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", source]).returncode:
        raise SystemExit(
            f"Installing {source} failed. Upload a pssr_nb wheel (.whl) to the session's "
            "files or to MyDrive and run this cell again (README: Install on Colab)."
        )

# %%
from pssr_nb import (
    Form,
    Viewer,
    device_summary,
    format_rows,
    next_run_folder,
    open_model,
    open_project,
    predict,
    quick_mode,
)

project = open_project()
print(project.folder.resolve(), "| quick mode:", quick_mode())
print(device_summary())

# %% [markdown]
# ## 2. Data and model
# - `model` — empty uses the model from notebook 03 (or, if you have not trained one, the
#   shipped EM sample model `em_x4`; `fluorescence_x4` is the confocal one). A `.pth` file from PSSR2 is imported safely (its
#   weights are read, no code in it runs) and saved as a pssr_nb model in the project.
#   A BioImage Model Zoo package exported by pssr_nb (notebook 03's "Share" cell, a
#   `.zip` or its folder) is read as the model it was exported from.
# - `images` — an LR file or folder. Empty uses the LR images recorded in notebook 01,
#   else the held-out sample scans.
# - `axes` — only if a file declares its axes wrongly (e.g. a z-stack saved as a
#   time-lapse): `ZYX`, `TYX`, … Empty reads them from the file.
#
# The images must come from the same kind of microscope and pixel size the model was
# trained for: a model learns one degradation, not super-resolution in general.
#
# A sample model you have not fine-tuned never saw your specimen, and on some real data
# it adds detail that is not there (alone it scored below a tuned Gaussian on two confocal
# datasets). With a few HR images of your specimen and no time to train, blend it first:
# `pssr-nb blend fluorescence_x4 --hr HR_DIR --out blended.pt` (or `pssr_nb.blend.run`)
# keeps only the share of what the network adds that your images support, in seconds,
# and the result is never worse than the tuned Gaussian on those images. Then choose
# `blended.pt` as the model here.

# %%
choice_form = Form(predict.PredictInputs)
choice_form

# %%
choice = choice_form.params()
model_path = project.model_path(choice.model)
model = open_model(model_path)
lr_images = choice.images or project.lr()
print(model_path)
print(model.describe())
print("images:", lr_images)

# %% [markdown]
# ## 3. The step: predict
# Large images are cut into overlapping tiles (`tile`, `overlap` in LR pixels) whose
# predictions are blended, so memory stays small whatever the image size. `tta` predicts
# the 8 flips and rotations and averages them — slower, slightly better, and their spread
# is saved as an *uncertainty map*: where the 8 disagree, do not trust the detail.
# `dtype` chooses the output pixel type; `same` keeps the input's (8 or 16 bit).
# `sampling` says how your scans were taken when the model learned otherwise: the sample
# models learned from point scans (`decimate`); if your microscope averages each pixel's
# block (`area`: binning, an integrating detector), say so, and the model places its
# output at the blocks' centres instead of 1.5 HR pixels beside them (at 4x).

# %%
form = Form(predict.PredictParams)
form

# %%
params = form.params()
out = next_run_folder(project.folder / "infer")
report = predict.run(params, model_path, lr_images, out, axes=choice.axes or None)
print(format_rows(predict.summary_rows(report)))

# %% [markdown]
# ## 4. Inspect
# Before and after, with synchronised zoom: `zoom` and `centre` move all panels together,
# over the same field of view. Compare the model with the *bicubic* interpolation of the
# same scan — that is what you would get without a network. Sliders for Z/T appear for
# stacks. With `tta`, the last panel is the uncertainty map.

# %%
images = predict.before_after(report["files"][0], model, params.sampling)
viewer = Viewer(images, axes=report["files"][0]["axes"], ncols=len(images))
viewer.draw(zoom=2)
viewer

# %% [markdown]
# ## 5. Save & next step
# The predictions are TIFFs with the super-resolved pixel size. Notebook 05 measures how
# good they are on images where the truth is known.

# %%
project.record("infer", predictions=out, model=model_path)
first = report["files"][0]
assert first["output_shape"][-1] == first["input_shape"][-1] * model.config.scale
assert (out / "predict.json").is_file()

# %% [markdown]
# ## 6. Exercises
# 1. Predict with `tta` on. Where is the uncertainty highest, and what structures are there?
# 2. Open a prediction in Fiji (Image › Properties): is the pixel size the LR one divided by
#    the scale?
# 3. Predict with `dtype` = `float32`, and compare the values with the `same` output.

# %% tags=["solution"]
from pssr_nb import read_image

saved = read_image(report["files"][0]["output"])
print(saved.pixel_size, "nm;", "input:", read_image(report["files"][0]["input"]).pixel_size)

# %% [markdown]
# ## 7. Troubleshooting
# - *"This model file does not exist"* — check the path; leave `model` empty for the
#   trained or sample model.
# - *"Refusing to overwrite an existing output file"* — each run writes to a new
#   `infer/run_NNN`; this only appears if you point `predict.run` at an old folder.
# - *"… frames but the model expects …"* — the model was trained on several neighbouring
#   frames; give it a stack with that axis.
# - *"Out of GPU memory: retrying with tile … and batch size …"* (a warning) — the
#   prediction goes on with smaller pieces; set those values to skip the retry.
# - *"Skipped … : Could not read this image"* (a warning) — that file is damaged; the
#   others were written, and `predict.json` lists the skipped ones under `failed`.
# - *The result looks worse than bicubic* — the model was trained for another microscope,
#   pixel size or noise level; train (03) on images like these.

# %% [markdown]
# ## 8. Large data: volumes bigger than memory (optional)
# A serial-section EM volume of thousands of large slices does not fit in memory. pssr_nb
# reads it lazily from **OME-Zarr** (a giant TIFF becomes one with
# `pssr-nb convert BIG.tif --out BIG.ome.zarr`), cuts the output into blocks, and predicts
# each block as a task on **Dask**: in this process, on a local cluster of worker
# processes, or on a cluster of many machines (docs/scale.md). Each block uses exactly the
# tiles that predicting the whole plane would, so the result is the same; the input units
# are measured once over the whole volume; an interrupted run continues where it stopped.
#
# This needs the extra `pip install "pssr_nb[scale]"` (zarr and dask); without it the
# cells below only say so. A small simulated z-stack stands in for the volume here.

# %%
from pssr_nb import image_grid, simulate, volume

SCALE_EXTRA = volume.available()
if SCALE_EXTRA:
    stack = simulate("em", (256, 256), frames=4, frame_axis="Z", seed=7)
    source = volume.save_ome_zarr(
        stack.lr, project.folder / "infer" / "volume.ome.zarr", "ZYX", {"X": 16.0, "Y": 16.0},
        overwrite=True,
    )  # fmt: skip
    lazy = volume.open_lazy(source)
    print(lazy.axes, lazy.array.shape, lazy.pixel_size, "| chunks:", lazy.array.chunksize)
else:
    print("Section 8 skipped:", volume.INSTALL_FIX, "Then restart the runtime.")

# %% [markdown]
# First a look at one region, predicted in memory as in section 3. Only the chunks under
# the region are read.

# %%
if SCALE_EXTRA:
    region = lazy.array[1, :32, :32].compute()
    image_grid({"LR region": region, "prediction": predict.predict_image(model, region).data})

# %% [markdown]
# Then the whole volume, block by block, on a local cluster of two worker processes
# (`scheduler` takes a cluster's address too). `block` is the side of one output block in
# HR pixels: one task and one Zarr chunk each.

# %%
if SCALE_EXTRA:
    big = volume.VolumeParams(block=256, scheduler="local", workers=2)
    record = volume.predict_volume(model_path, source, out / "volume_pssr.ome.zarr", volume=big)
    print(record["blocks"], "blocks in", record["seconds"], "s;", record["levels"], "levels")
    result = volume.open_lazy(out / "volume_pssr.ome.zarr")
    print(result.axes, result.array.shape, result.pixel_size)
    assert result.array.shape[-1] == lazy.array.shape[-1] * model.config.scale
