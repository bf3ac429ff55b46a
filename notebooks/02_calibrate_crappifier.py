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
# # 02 · Calibrate the crappifier
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pssr-nb/pssr_nb/blob/main/notebooks/02_calibrate_crappifier.ipynb)
#
# ## 0. About
# **Goal.** Make the synthetic LR images that training uses look like your real fast scans.
# The idea goes back to fastai's "crappify" (degrade good images to teach a network to
# restore them); PSSR applied it to microscopy, and PSSR2 fitted its parameters to real
# pairs. Here the crappifier is a *physical* point-scanning model: optional blur, sampling
# every `scale`-th point (or binning), shot noise from a limited number of photons (or
# electrons), and detector read noise. A network only learns to undo the degradation it was
# shown: garbage in, garbage out.
#
# **Time.** About a minute on a CPU; no GPU needed.
#
# **You get.** `calibrate/crappifier.json` (notebook 03 trains with it) and
# `calibrate/calibration.json` (the fit, how good it is, and any warnings).

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
import dataclasses

import matplotlib.pyplot as plt

from pssr_nb import (
    Crappifier,
    Form,
    NoiseDistance,
    calibrate,
    format_rows,
    image_grid,
    middle_plane,
    noise_profile_figure,
    open_project,
    physical_estimate_figure,
    quick_mode,
    read_image,
)

project = open_project()
print(project.folder.resolve(), "| quick mode:", quick_mode())

# %% [markdown]
# ## 2. Data
# Calibration compares real LR scans with HR scans of the same fields: the LR/HR pairs
# from notebook 01, or else the sample's simulated pairs. We use the middle plane of the
# first few pairs.

# %%
pairs = project.pairs()[:3]
planes = [(middle_plane(read_image(lr)), middle_plane(read_image(hr))) for lr, hr in pairs]
names = [lr.stem for lr, _ in pairs]
for name, (lr, hr) in zip(names, planes, strict=True):
    print(name, "LR", lr.shape, "HR", hr.shape)

# %% [markdown]
# ## 3. The step
# ### 3a. The physical picture: noise variance against signal
# For every pair, the LR image is registered to the HR grid (a point scan samples one HR
# position per LR pixel, binning averages a block), brought to the HR's contrast, and the
# downsampled HR is subtracted: what remains is the *noise profile*. Its variance, in bins
# of signal level, lies on a straight line:
#
# - the **slope** is `1 / photons`: shot noise grows with the signal;
# - the **floor** is the read noise squared, the same everywhere.
#
# The photon count is an *effective* one. A photomultiplier or an analogue hybrid
# detector amplifies each photon by a random gain, which adds noise (the excess noise
# factor `F`, between about 1.2 and 2), so the fitted `photons` is the number detected
# divided by `F`. For training that does not matter: the crappifier needs the noise, not
# the detector's bookkeeping.
#
# The HR image is not noise-free either: its own noise (green) is measured from the HR
# alone and taken out. Intensities are in the HR's normalised units (0 its dark end, 1
# its bright end), as in training.
#
# Set `scale` to your pairs' pixel-size ratio. If you know the grey value your LR
# detector gives with no light (the offset), enter it as `dark_level`: it separates
# background light from read noise.

# %%
form = Form(calibrate.CalibrateParams, scale=project.scale())
form

# %%
params = form.params()
physical = calibrate.calibrate_pairs(planes, params, names, fit=False)
physical_estimate_figure(physical)
plt.show()
print(physical.lr_noise.to_dict())

# %% [markdown]
# ### 3b. Automatic calibration: match the whole noise distribution
# The variance is only part of the story: shot noise at a few photons is lumpy and skewed,
# not Gaussian. Several crappifier *families* (Gaussian, Poisson, Poisson + Gaussian noise;
# with or without extra blur; point scan or binning) are each tuned by Bayesian
# optimisation until their synthetic noise matches the real noise, signal level by signal
# level (Wasserstein distance, in units of the real noise's spread; 0 is a perfect match).
# The simplest family that fits as well as the best is chosen.

# %%
calibration = calibrate.calibrate_pairs(planes, params, names)
print(format_rows(calibration.rows()))
print(f"\nchosen: {calibration.ranking.chosen.family}  ({calibration.seconds:.1f} s)")
for warning in calibration.warnings:
    print("WARNING:", warning)

# %% [markdown]
# Real noise (dark, thick) beside the synthetic noise of the three best families: each LR
# pixel minus the HR level around it, as histograms and as variance by signal level.

# %%
noise_profile_figure(calibration.comparison(top=3))
plt.show()

# %% [markdown]
# ### 3c. By hand: a live preview
# Change the values and watch the orange curves move. The form starts from the automatic
# result (when the chosen crappifier is a point scan).
#
# - `photons`: fewer photons, more shot noise, growing with the signal.
# - `read_noise`: the detector's floor.
# - `background`: light counted where the image is dark (adds shot noise there).
# - `blur`: extra blur if the fast scan's optics were worse (usually 0 for a point scan).
# - `mode`: `decimate` for a point scan with larger pixels, `area` for binning.

# %%
start = calibrate.PointScanParams.from_crappifier(calibration.crappifier.typical())
manual = Form(calibrate.PointScanParams, **(vars(start) if start else {}))


def preview(point_scan):
    crappifier = point_scan.crappifier()
    lr, hr = planes[0]
    image_grid(
        {"HR": hr, "crappified HR": calibrate.synthetic(hr, crappifier), "real LR": lr},
        zoom=2,
    )
    noise_profile_figure(
        calibrate.compare_noise(calibration.profiles[0], {"synthetic": crappifier})
    )
    plt.show()


preview(manual.params())
manual.live(preview)

# %% [markdown]
# ## 4. Inspect
# How far from your microscope is the *default* crappifier (a broad range of photon counts
# and read noise, for when nothing is known)? The same distance as in the ranking: the
# calibrated one should be much closer to 0.
#
# The saved crappifier is not one dose but a range around the calibrated one
# (`dose_range`, 2 by default: from twice as noisy to twice as clean), because your next
# scan will not have exactly this pair's dwell time and sample. Training over the range
# costs nothing at the calibrated dose and gains on noisier and cleaner scans
# (`benchmarks/RESULTS.md`). The distance below is measured at its centre.

# %%
distance = NoiseDistance(calibration.profiles, bins=params.bins, seed=params.seed)
default = Crappifier.default(params.scale)
print(f"default crappifier:    {distance(default):.3f}")
print(f"calibrated crappifier: {distance(calibration.crappifier.typical()):.3f}")
print(calibration.crappifier.describe())

# %% [markdown]
# ## 5. Save & next step
# The automatic calibration is saved and recorded; notebook 03 trains with it. To train
# with your hand-tuned values instead, set `USE_MANUAL = True` (they get the same dose
# range).

# %%
USE_MANUAL = False
manual_crappifier = manual.params().crappifier().with_dose_range(params.dose_range)
chosen = manual_crappifier if USE_MANUAL else calibration.crappifier
path = dataclasses.replace(calibration, crappifier=chosen).save(
    project.folder / "calibrate", overwrite=True
)
project.record("calibrate", crappifier=path, report=path.parent / "calibration.json")
assert project.crappifier() == chosen
assert calibration.ranking.results[0].distance < distance(default)

# %% [markdown]
# ## 6. Exercises
# 1. Calibrate from the LR images alone (`calibrate.calibrate_lr_only`), as if you had no
#    HR scans. How close are its photons to the pairs' estimate?

# %% tags=["solution"]
lr_only = calibrate.calibrate_lr_only([lr for lr, _ in planes], params)
print(f"pairs: {physical.lr_noise.photons:.1f} photons | LR only: {lr_only.lr_noise.photons:.1f}")

# %% [markdown]
# 2. In the preview, set `photons` to 1000. Which curve moves, and why does the shape of
#    the variance curve change?
# 3. Switch `mode` to `area`. Does binning look like your microscope's fast scan? Where in
#    the ranking do the `area` families sit?
#
# ## 7. Troubleshooting
# - *"The LR image … does not get brighter where the HR image does"* — the two files are
#   not a pair (different cells, or one is flipped or inverted).
# - *"The HR plane … is smaller than scale x the LR plane"* — check `scale`.
# - *"… misregistered by … HR pixels"* — the stage moved between the two scans; register
#   them first, or the noise is overestimated (edges count as noise).
# - *"The HR images are nearly as noisy as the LR images"* — the network would learn to
#   reproduce HR noise; use slower or averaged HR scans.
# - *No pairs?* Use `calibrate.calibrate_lr_only` with your fast scans (exercise 1), or
#   set the values by hand in 3c from what you know of your detector.
