# ---
# jupyter:
#   jupytext:
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
# # 00 · Quickstart: point-scanning super-resolution in one page
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pssr-nb/pssr_nb/blob/main/notebooks/00_quickstart.ipynb)
#
# ## 0. About
# **Goal.** Walk the whole PSSR path once, on simulated sample data whose ground truth is
# known exactly: make training pairs with a *crappifier*, train a network, super-resolve
# scans it has never seen, and measure whether it beats the best simple alternative
# (interpolation, then a tuned smoothing, deconvolution or non-local-means denoising).
#
# **Time.** About 4 minutes on a laptop CPU with the default 3-minute training budget;
# on a Colab GPU the same budget trains several times more steps.
#
# **You get.** A project folder with the phantom images, the crappifier, a trained model,
# predictions as calibrated TIFFs, a report with PSNR/SSIM per image, and an overview figure.

# %% [markdown]
# ## 1. Setup
# On Colab the first cell installs pssr_nb (Colab's own PyTorch is kept); elsewhere it
# does nothing.

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
from IPython.display import Image, display

from pssr_nb import Form, demo, open_project, quick_mode

project = open_project()
print(project.folder.resolve(), "| quick mode:", quick_mode())

# %% [markdown]
# ## 2. Data
# The quickstart simulates its own data: EM-like sections imaged by a simulated scanning
# electron microscope, once with small pixels and a long dwell time (the high-resolution,
# *HR*, scan) and once with 4x larger pixels and few electrons per pixel (the fast,
# low-resolution, *LR*, scan). Training uses some fields of view; the score uses others,
# simulated with different seeds, so the model is judged on images it has never seen.

# %% [markdown]
# ## 3. The step: simulate, crappify, train, predict, score
# The form holds the settings. Change them if you like, then run the next cell: it
# reads the form's current values. `minutes` is the training budget; a `steps` other than
# 0 fixes the number of training steps instead (quick mode trains 30 steps). `start`
# is where training begins: `auto` fine-tunes the shipped sample model of the specimen
# (`em_x4` or `fluorescence_x4`, trained on other phantoms; `em_x4` also on real vEM),
# `scratch` starts from random weights — try both: in 3 CPU minutes the head start is
# worth about 0.7 dB.

# %%
form = Form(demo.DemoParams)
form

# %%
params = form.params()
report = demo.run(params, project.folder / "quickstart")
project.record("quickstart", report=project.folder / "quickstart" / "report.json")

# %% [markdown]
# ## 4. Inspect
# Top row: what training sees (an HR scan and its crappified version) and a held-out LR
# scan. Bottom row: the aligned bicubic interpolation, the model's prediction and the
# noiseless truth. PSNR and SSIM are measured against the truth, after fitting each output's
# gain and offset to it (CARE normalisation: brightness is not an error). The last line is
# the headline: the model's gain over the **best** simple baseline — bicubic followed by a
# Gaussian, a Wiener deconvolution or non-local means, each tuned on the training fields —
# with its spread over the held-out images.

# %%
display(Image(filename=str(project.folder / "quickstart" / "overview.png")))
for method, s in report["summary"].items():
    print(f"{method:20s} PSNR {s['psnr_mean']:6.2f} dB   SSIM {s['ssim_mean']:.3f}")
print(report["headline"]["text"])

# %%
assert report["training"]["stopped"] == "finished"
assert report["training"]["steps"] == params.steps or params.steps == 0
assert all(s["psnr_mean"] == s["psnr_mean"] for s in report["summary"].values())  # finite

# %% [markdown]
# ## 5. Save & next step
# Everything is in the project folder: `quickstart/model/model_best.pt` is a complete
# model file (weights, normalisation, crappifier, pixel size, training history). The
# step-by-step notebooks (01–05) go through each stage on your own images.
#
# ## 6. Exercises
# 1. Set `minutes` to 1 and then to 6. How does the model's gain over bicubic change?
# 2. Switch `specimen` to `fluorescence`. Which baseline is strongest now, and why?
# 3. In the report, compare `bicubic` with `bicubic_misaligned`: what does a half-pixel
#    error in the sampling geometry cost?
# 4. Set `start` to `scratch`. How much of the gain over the best baseline did the sample
#    model's head start give?
#
# ## 7. Troubleshooting
# - *Training is slow*: lower `minutes`, or on Colab choose Runtime › Change runtime type › GPU.
# - *"This folder already holds a training run"*: the quickstart continues an interrupted run
#   automatically; a different run belongs in another project folder.
# - pssr_nb's own errors appear as a short message (what, which file, the fix) instead of
#   a traceback; the README's Troubleshooting table lists them all.
