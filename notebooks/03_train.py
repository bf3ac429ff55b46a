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
# # 03 · Train a super-resolution model
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pssr-nb/pssr_nb/blob/main/notebooks/03_train.ipynb)
#
# ## 0. About
# **Goal.** Train a network that turns fast LR scans into HR images. It learns from your HR
# images alone: each training step cuts random tiles, degrades them with the *crappifier*
# (fewer pixels, shot and read noise) into LR tiles, and teaches the network to undo that.
#
# **Time.** As long as you allow: the budget (`minutes`) is fixed before training starts.
# 5 minutes on a laptop CPU already beats interpolation on the sample data; on a Colab GPU
# the same minutes train about ten times more steps.
#
# **You get.** A run folder `train/run_NNN/` in the project: `model_best.pt` (the model
# with the best validation score, with everything needed to use it), the loss log, and a
# checkpoint. If Colab disconnects, run the training cell again: it continues.

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
import math

import matplotlib.pyplot as plt

from pssr_nb import (
    ExportParams,
    Form,
    InputError,
    LivePlot,
    Viewer,
    device_summary,
    export_bioimageio,
    format_rows,
    image_grid,
    load_previews,
    open_project,
    quick_mode,
    train,
    training_curves,
)

project = open_project()
print(project.folder.resolve(), "| quick mode:", quick_mode())
print(device_summary())

# %% [markdown]
# ## 2. Data
# Training uses the HR images recorded by notebook 01 (else the sample phantoms) and the
# crappifier from notebook 02 (else the one that matches the sample's simulated
# microscope). Here is one training tile and what the crappifier makes of it; the network
# sees the right one and must produce the left one.

# %%
hr_images = project.hr()
crappifier = project.crappifier()
print("HR images:", hr_images)
print("crappifier:", crappifier.describe())
hr_tile, lr_tile = train.preview_pair(hr_images, crappifier)
image_grid({"HR tile (target)": hr_tile, "crappified (input)": lr_tile})
plt.show()

# %% [markdown]
# ## 3. The step: train
# The settings, with what each does (the scale and the sampling geometry come from the
# crappifier, so they are not asked again):
#
# - `preset` — network size: `small` (1.74 M parameters) trains fastest; `medium` and
#   `large` need a GPU to pay off.
# - `init` — **fine-tuning**: start from a trained model instead of random weights. On
#   the sample data it is the shipped `em_x4` (trained on other EM phantoms, then on real
#   vEM slices), so a few minutes adapt a network that already knows EM instead of
#   teaching one from nothing.
#   Empty trains from scratch; a model file or a PSSR2 `.pth` works too. Use a model of
#   your modality — an EM model is no head start for confocal. Its scale may differ from
#   yours when its weights fit any scale (the sample models' do): `em_x4` fine-tuned at
#   2x keeps every layer it learned (`head`, below, decides where it starts).
# - `head` — where a fine-tuned run starts. `auto` first scores the `init` model alone
#   on the held-out regions: when it beats the best simple baseline the run starts from
#   it; when it does not (a model of another microscope, another noise level) the run
#   keeps its learned features but starts *at* the baseline, as a run from scratch does,
#   so fine-tuning never starts lower than scratch. `keep` and `fresh` force either.
# - `also_sampling` — for a model that must serve scans of both kinds: point scans
#   (`decimate`, one sample per pixel) and block averages (`area`: binning, an integrating
#   detector). Every other step is then crappified the other way. Empty trains on the
#   crappifier's sampling only.
# - `minutes` — the budget, a deadline: the number of steps is planned from a short
#   timing and re-planned as the run goes, so the run ends on time even when the machine
#   gets busier, and the learning-rate schedule always completes.
# - `learning_rate` — 0 picks 1e-3 from scratch and 3e-4 when fine-tuning (a trained
#   network needs smaller steps, or it forgets what it knew).
# - `tile`, `batch_size` — 0 picks 256 px × 16 on a GPU, 128 px × 8 on a CPU.
# - `val_fraction` — a part of every image is held out and never trained on. At every
#   validation those regions are crappified (the same noise every time), predicted the
#   way notebook 04 predicts a whole image, and scored the way notebook 05 scores:
#   against the **best simple baseline** of the same input (bicubic + a Gaussian tuned
#   on training regions). The best model is the one with the largest gain.
# - `val_lr`, `val_hr` — **real pairs** (an LR scan and an HR scan of the same fields,
#   never trained on). At every validation the whole LR images go through the same
#   prediction users run and are scored like notebook 05 scores (against the best simple
#   baseline), and the best model is chosen by that. On the sample data these are the
#   held-out phantom scans; with your own data, give pairs you did not train on.
# - `checkpoint_minutes` — how often progress is saved for resuming.
#
# The form only collects values; the cell after it trains with them.

# %%
defaults = project.training_defaults(crappifier.scale)
print("defaults from the project:", defaults)
form = Form(train.TrainParams, **defaults)
form

# %% [markdown]
# Training shows a progress bar and a live plot (updated every 10 s and at each
# validation). **Interrupt** with the stop button: a checkpoint is saved. **Running this
# cell again** continues an interrupted run (also after a Colab disconnect) or, when the
# last run finished, starts a new `run_NNN` — a trained model is never replaced.

# %%
params = form.params()
result = train.start_or_resume(
    params, hr_images, project.folder / "train", crappifier, callback=LivePlot()
)
print(result.out_dir, "|", result.summary["stopped"], "after", result.summary["steps"], "steps")

# %% [markdown]
# ## 4. Inspect
# **Curves.** The loss should fall steeply, then slowly. The validation PSNR (red) must
# rise above the best simple baseline (blue, dashed): a model from scratch starts *at*
# a simple baseline (bicubic + the Gaussian tuned on your training images; `smooth_skip`),
# and only the part of the red curve above the blue line is what the network adds (a
# fine-tuned one starts where its model was, or at the baseline; see `head`). The scores are against your
# HR scans, noise included, so the gaps look small; notebook 05 scores against cleaner
# references where it can. With real pairs, the third panel is the same comparison on
# real scans, and the best model is chosen by it. A red curve that falls again late in
# training means overfitting: use more images or a shorter run.
#
# **The table** puts, on the same held-out images, the best baseline, the starting model
# alone (when fine-tuning: `em_x4` before its first step here), the same model *blended*
# with the baseline and the trained model. Blended means that only the share of what its
# network adds that your training images support is kept (`pssr_nb.blend`, no training).
# The rows show what the pretrained model already knew, what seconds of tuning gave, and
# what the minutes of training added. Exercise 4 adds the third start, from scratch.

# %%
training_curves(result.history)
plt.show()
print(format_rows(train.score_rows(result.summary)))

# %% [markdown]
# **Validation regions at every validation.** Move `validation` to watch the prediction
# sharpen during training; `tile` picks another held-out region.

# %%
previews = load_previews(result.out_dir)
k = len(previews["steps"])
viewer = Viewer(
    {
        "LR input": previews["lr"][None].repeat(k, 0),
        "bicubic": previews["bicubic"][None].repeat(k, 0),
        "model": previews["prediction"],
        "HR": previews["hr"][None].repeat(k, 0),
    },
    axes=("validation", "tile", "Y", "X"),
    ncols=4,
    captions={"validation": [f"at step {s}" for s in previews["steps"]]},
)
viewer.draw(validation=k - 1)
viewer

# %% [markdown]
# ## 5. Save & next step
# The best model is recorded in the project; notebook 04 applies it to new LR images.

# %%
project.record(
    "train", model=result.out_dir / "model_best.pt", run=result.out_dir, scale=crappifier.scale
)
assert (result.out_dir / "model_best.pt").is_file()
losses = [r["loss"] for r in result.history if r["kind"] == "train"]
assert all(math.isfinite(v) for v in losses), "the loss diverged: lower learning_rate"
if not params.init:  # a fine-tuned network starts low already
    assert losses[-1] < losses[0], "the loss did not go down"

# %% [markdown]
# **Share the model.** A BioImage Model Zoo package opens in Fiji (deepImageJ), napari
# and at bioimage.io. Put your names and a licence in `share`; the export checks the
# package with the Zoo's own validator and that its TorchScript weights reproduce
# pssr_nb's prediction before it keeps it. Run notebook 05 first and pass its
# `benchmark.json` as `benchmark=` to put the model's scores into the package's README.
# (It needs `pip install "pssr_nb[bioimageio]"`; without it the cell says so.)

# %%
share = ExportParams(authors=("Your Name",), license="CC-BY-4.0", overwrite=True)
try:
    package = export_bioimageio(result.model, result.out_dir / "bioimageio.zip", share)
    project.record("share", package=package)
    print("BioImage Model Zoo package:", package)
except InputError as exc:
    print(exc)

# %% [markdown]
# ## 6. Exercises
# 1. Train the same budget with `loss` set to `msssim_l1` (PSSR's MS-SSIM + L1), then
#    `mse`. How many steps did each fit in the minutes, which looks sharper, which scores
#    higher? (Each run gets its own folder; compare their `train.json`.)
# 2. Double `minutes`. Is the gain over the best baseline doubled?
# 3. Load the log of the run as a table and find the step with the largest `gain_db`.
# 4. Clear `init` and train from scratch for the same minutes. Compare the best
#    `pairs_gain_db` of the two runs (in their `train.json`): what did the head start buy?

# %% tags=["solution"]
import csv

with open(result.out_dir / "log.csv") as fh:
    val_rows = [r for r in csv.DictReader(fh) if r["kind"] == "val"]
max(val_rows, key=lambda r: float(r["gain_db"]))["step"]

# %% [markdown]
# ## 7. Troubleshooting
# - *"No GPU"* on Colab — Runtime › Change runtime type › GPU, then run from the top; the
#   project on Drive keeps everything done so far.
# - *"The settings differ from the interrupted run"* — the cell started a new run instead;
#   to continue the old one, set the form back to its settings (see its `train.json`).
# - *"The crappifier downsamples by … but scale is …"* — set `scale` to 0: the run takes
#   the crappifier's.
# - *"tile … is larger than the image"* — lower `tile` (a multiple of `scale` × 8).
# - *"Out of GPU memory: training with batch size … instead"* (a warning) — the run
#   continues with half the batch; set `batch_size` to that value to skip the retry.
# - *"Out of GPU memory at step …; the run is saved"* — run the training cell again to
#   continue, or start a new run with a smaller `batch_size`, `tile` or preset.
# - *The validation PSNR stays below the best baseline* — train longer, fine-tune a sample
#   model of your modality (`init`), or check that the crappifier matches your LR images
#   (notebook 02).
