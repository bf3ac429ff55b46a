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
# # 05 · Benchmark: how good is the model, measured how?
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pssr-nb/pssr_nb/blob/main/notebooks/05_benchmark.ipynb)
#
# ## 0. About
# **Goal.** Put numbers on a model, the way a sceptical reviewer would ask for them:
# - scores (PSNR, SSIM, MS-SSIM, NRMSE) **beside honest baselines** — interpolation of the
#   same samples, and interpolation plus tuned classical restorations (Gaussian, Wiener
#   deconvolution, non-local means) — per image and mean ± SD;
# - **resolution in nm**, measured two ways: Fourier ring correlation and a two-point /
#   line-pair test on a simulated resolution target;
# - **invented and lost structure**: lines drawn on pure noise, the specimen's membranes or
#   filaments traced against the truth (breaks, joins, invented lines), small objects found
#   and invented, each method held against the best baseline;
# - whether the model's **uncertainty** points at its errors.
#
# You cannot create information that is not in the data. A network can only fill in detail
# that its training images made likely — which is why every number here sits next to what
# interpolation achieves, and why the checks look for invented structure.
#
# **Time.** About a minute on a laptop CPU for the phantoms; real images add seconds per
# megapixel.
#
# **You get.** `benchmark/run_NNN/report.html` — one self-contained file with every table and
# figure — plus `benchmark.json`, `scores.csv` and `summary.csv`.

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
import matplotlib.pyplot as plt
import numpy as np

from pssr_nb import (
    Form,
    benchmark,
    format_rows,
    image_grid,
    next_run_folder,
    open_model,
    open_project,
    quick_mode,
    write_report,
)
from pssr_nb import report_figures as figures

project = open_project()
print(project.folder.resolve(), "| quick mode:", quick_mode())

# %% [markdown]
# ## 2. Data and model
# Three kinds of test data (the `data` setting in section 3):
# - `phantoms` — fresh simulated fields the model never saw, scored against the **noiseless
#   truth**. Only here do the resolution target, known small objects and repeat scans exist.
# - `pairs` — your real LR/HR pairs, scored against the HR scan (which is noisy itself).
# - `semi-synthetic` — real low-/high-SNR images at **one** pixel size: the LR input is the
#   low-SNR image decimated by the scale. Real noise, simulated undersampling.
#
# `model` empty uses the model from notebook 03, else the shipped sample. `lr` and `hr`
# empty use the pairs recorded in notebook 01, else the held-out sample pairs.

# %%
choice_form = Form(benchmark.BenchmarkInputs)
choice_form

# %%
choice = choice_form.params()
model_path = project.model_path(choice.model)
model = open_model(model_path)
print(model.describe())

# %% [markdown]
# ## 3. The step: benchmark
# **Normalisation** decides what counts as error. `care` (the default, as CARE and PSSR)
# fits each output to the percentile-normalised reference by a straight line first, so a
# brightness or offset difference is not an error; `fixed` compares values as they are.
#
# **Baselines** put each LR sample back *where it was acquired* — a point scan samples the
# corner of each large pixel, not its centre — so the model is compared with the best
# interpolation of the same samples. Three classical restorations are tuned on other
# images (never the one scored): `bicubic+gaussian` smooths, `bicubic+wiener` deconvolves
# with a Gaussian PSF, `nl-means+bicubic` denoises the samples by non-local means first. A
# model that does not beat them has learnt to denoise at best. The **headline** under the table is the model's gain over the *best* of these
# baselines, image by image, with its spread over images — never over the weakest.
#
# **Room left by the reference.** A real HR or high-SNR scan is noisy itself, so even a
# perfect restoration scores only so high against it. For real data the benchmark
# estimates that ceiling from the reference's own noise and says how much of the room
# between the best baseline and the ceiling the model takes: +0.5 dB means little when the
# ceiling is 0.6 dB away, and much when it is 5 dB away.
#
# **Registration.** Each output's shift against the reference is measured, with an error from
# the spread of its four quadrants; more than 0.1 px, and more than that error can explain
# (Student's t for four quadrants, 3.2 errors), is flagged as a geometry error.

# %%
form = Form(benchmark.BenchmarkParams)
form

# %%
params = form.params()
pairs = None
if params.data != "phantoms":
    pairs = project.test_pairs(choice.lr, choice.hr, params.lr_token, params.hr_token)
result = benchmark.evaluate(model, params, pairs=pairs)
print(format_rows(benchmark.summary_rows(result)))
print(result.headline["text"])
if "ceiling" in result.headline:  # real references only: phantoms have a noiseless truth
    print(result.headline["ceiling"]["text"])
for warning in result.warnings:
    print("warning:", warning)

# %% [markdown]
# ## 4. Inspect
# ### Scores and images
# Bars are mean ± SD over images. Then the first image as each method shows it.

# %%
figures.scores_figure(result.summary)
plt.show()
first = result.cases[0]
image_grid({"LR input": first.lr, **first.outputs, "reference": first.reference}, ncols=4, size=2.6)
plt.show()
# %% [markdown]
# Where are the errors? Bright in the error map, dark in the SSIM map. Do the model's errors
# sit on the same structures as bicubic's, or has it made new ones?

# %%
figures.maps_figure(result.maps)
plt.show()
# %% [markdown]
# ### Resolution, measured
# **Fourier ring correlation** compares two images ring by ring in frequency. Right
# (phantoms): pairs of fresh scans of the same field, the second on a grid shifted by 4.5 LR
# pixels, each processed by the method: the resolution is where their correlation falls
# below 1/7 — what the data support. Left: each output against the reference. That is only
# a *spectral agreement*: a blurred truth agrees perfectly with the truth, so it is not a
# resolution.

# %%
print(
    format_rows(
        [
            {"comparison": k, "method": m, **c.summary()}
            for k, v in result.frc.items()
            for m, c in v.items()
        ]
    )
)
figures.frc_figure(result.frc)
plt.show()
# %% [markdown]
# **Two-point test.** Many pairs of points (lines for EM, whose LR scan would miss single
# points) at separations 10 % apart, each at a random position and angle, on the specimen's
# background, scanned several times with fresh noise. A pair counts as resolved when the
# profile through it shows two peaks at the right places and a dip between them that is
# larger than the noise (measured over the repeats, so no contrast curve can fake it). The
# curve is P(resolved) against separation; the table gives where it reaches 50 % and 95 %,
# with 95 % intervals, and how often a *single* object is called two. *This* is the answer to
# "how much super-resolution?" (phantoms only).

# %%
if result.two_point:
    print(format_rows(result.two_point["rows"]))
    figures.resolution_figure(result.two_point)
    plt.show()

# %% [markdown]
# ### Invented and lost structure
# **Structure from nothing.** Flat fields with microscope noise only, three noise draws per
# brightness. The specimen's lines are traced in each output; `long_lines` is the share of the
# field under lines at least 3 LR pixels long. A Gaussian of the same noise cannot add lines, so
# it is the bar: `invents` says the model drew more than it did.

# %%
print(format_rows(result.flat_noise["rows"]))
image_grid(result.flat_noise["images"], size=2.6)
plt.show()
# %% [markdown]
# **The specimen's lines, traced** (phantoms). Membranes or filaments are traced in every output
# and in the truth. `precision` is the share of traced lines that are real, `recall` the share of
# real lines found; red in the figure was invented, blue lost. `regions_excess` below 0 means
# closed membranes were broken open. Every method is held against the best baseline, over the
# images.

# %%
if result.structure:
    keys = ("method", "precision", "recall", "pieces_excess", "regions_excess", "invents", "loses")
    print(format_rows([{k: r[k] for k in keys} for r in result.structure["rows"]]))
    figures.structure_figure(result.structure)
    plt.show()

# %% [markdown]
# **Known small objects** (phantoms): vesicles or puncta detected at every threshold in every
# output, so each method gets its own precision-recall curve (`ap` is the area under it; `fp`
# invented and `fn` lost objects at its best threshold). `worse`: a lower AP than the best
# baseline's.

# %%
if result.detection:
    keys = ("method", "ap", "best_f1", "fp", "fn", "worse")
    print(format_rows([{k: r[k] for k in keys} for r in result.detection["rows"]]))
    figures.detection_figure(result.detection)
    plt.show()

# %% [markdown]
# ### Uncertainty
# With `tta`, the spread of the 8 flipped and rotated predictions. A useful uncertainty is
# high where the error is high (Spearman rho near 1); near 0 it cannot tell you where to doubt.
# It must also beat predictors that need no model: the prediction's brightness, darkness and
# gradient. The table and the verdict say whether it does.

# %%
if result.uncertainty is not None:
    print(format_rows(result.uncertainty["against_trivial"]["rows"]))
    print(result.uncertainty["against_trivial"]["verdict"])
    maps = result.uncertainty_maps
    figures.uncertainty_figure(result.uncertainty, maps["uncertainty"], maps["error"])
    plt.show()

# %% [markdown]
# ## 5. Save & next step
# One HTML file with every figure embedded, plus the numbers as JSON and CSV. Open
# `report.html` in a browser, or attach it to your lab notebook.

# %%
out = next_run_folder(project.folder / "benchmark")
paths = write_report(result, out)
project.record("benchmark", report=paths["report.html"], model=model_path)
print(paths["report.html"])
assert paths["report.html"].stat().st_size > 10_000
assert all(np.isfinite(r["psnr_mean"]) for r in result.summary)
assert {"model", "bicubic"} <= {r["method"] for r in result.summary}

# %% [markdown]
# ## 6. Exercises
# 1. Switch `normalization` to `fixed`. Which scores change, and why does the HR scan still
#    score well against the truth on phantoms?
# 2. Does the model beat `nl-means+bicubic`, the strongest denoiser here? If not, what has it
#    learnt?
# 3. Benchmark on real data: set `data` to `semi-synthetic` and give the low-SNR and high-SNR
#    images of one field (e.g. the GigaDB pairs; `lr_token` = `lowsnr`, `hr_token` =
#    `highsnr`). What does the report say about where the LR came from?

# %% tags=["solution"]
import dataclasses

fixed = benchmark.evaluate(
    model, dataclasses.replace(params, normalization="fixed", tta=False), pairs=pairs
)
for care_row, fixed_row in zip(result.summary, fixed.summary, strict=True):
    print(
        f"{care_row['method']:18s} care {care_row['psnr_mean']:6.2f} dB   fixed {fixed_row['psnr_mean']:6.2f} dB"
    )

# %% [markdown]
# ## 7. Troubleshooting
# - *"data='pairs' needs LR and HR images"* — give both folders in section 2, or record
#   pairs in notebook 01.
# - *"A semi-synthetic pair needs one pixel size"* — the low- and high-SNR images must have
#   the same size; for LR/HR pairs at two pixel sizes use `pairs`.
# - *"Some files have no partner with a matching name"* — LR and HR files pair by name; set
#   `lr_token`/`hr_token` to the parts that differ (e.g. `lowsnr`/`highsnr`).
# - *A geometry-error warning* — the output is shifted against the reference: a model trained
#   with another sampling offset, or a real pair that is not registered (check it in
#   notebook 01).
# - *"Refusing to overwrite an existing benchmark report"* — each run writes a new
#   `benchmark/run_NNN`; only old folders given by hand hit this.
