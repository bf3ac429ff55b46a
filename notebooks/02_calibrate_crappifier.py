# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
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
# restore them); PSSR applied it to microscopy. Here it is a *physical* point-scanning
# model: optional blur, sampling every `scale`-th point (or binning), shot noise from a
# limited number of photons (or electrons), and detector read noise.
# A network only learns to undo the degradation it was shown: garbage in, garbage out.
#
# **Time.** A minute; no GPU needed.
#
# **You get.** `calibrate/crappifier.json` in the project, which notebook 03 trains with.

# %% [markdown]
# ## 1. Setup

# %%
import subprocess
import sys

if "google.colab" in sys.modules:  # Colab only; its torch, numpy and IPython are kept
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "pssr_nb @ git+https://github.com/pssr-nb/pssr_nb"], check=True)

# %%
import matplotlib.pyplot as plt

from pssr_nb import calibrate
from pssr_nb.describe import middle_plane
from pssr_nb.io import read_image
from pssr_nb.plotting import image_grid, noise_profile_figure
from pssr_nb.project import open_project, quick_mode
from pssr_nb.ui import Form

project = open_project()
print(project.folder.resolve(), "| quick mode:", quick_mode())

# %% [markdown]
# ## 2. Data
# Calibration compares a real LR scan with the HR scan of the same field: the LR/HR pairs
# from notebook 01, or else the sample's simulated pairs. We use the middle plane of the
# first pair.

# %%
lr_file, hr_file = project.pairs()[0]
lr, hr = middle_plane(read_image(lr_file)), middle_plane(read_image(hr_file))
print(lr_file.name, lr.shape, "|", hr_file.name, hr.shape)

# %% [markdown]
# ## 3. The step: match the crappifier to the real LR
# Intensities are in the HR image's normalised units (0 = its dark end, 1 = its bright
# end), as in training.
#
# - `photons` — photons (or electrons) per pixel at intensity 1. Fewer photons, more shot
#   noise: its variance grows *with the signal* (variance = signal / photons).
# - `read_noise` — the detector's noise floor, the same everywhere.
# - `background` — light that adds shot noise even where there is no structure.
# - `blur` — extra blur if the LR optics were worse (usually 0 for a point scan).
# - `mode` — `decimate` for a point scan with larger pixels, `area` for binning.
#
# Change the values: the preview below redraws. Left, the crappified HR next to the real
# LR; right, the *noise profiles* — what is left of each after subtracting the downsampled
# HR at matched contrast. The crappifier fits when the orange curves lie on the dark ones:
# the same spread, and the same growth of variance with signal.

# %%
current = calibrate.PointScanParams.from_crappifier(project.crappifier())
form = Form(calibrate.PointScanParams, **(vars(current) if current else {}))


def preview(params):
    crappifier = params.crappifier()
    image_grid(
        {"HR": hr, "crappified HR": calibrate.synthetic(hr, crappifier), "real LR": lr},
        zoom=2,
    )
    noise_profile_figure(calibrate.noise_profiles(lr, hr, crappifier))
    plt.show()


preview(form.params())
form.live(preview)

# %% [markdown]
# ## 4. Inspect
# How close is the fit? The spread (standard deviation) of each noise profile, and the
# ratio: 1.0 is a perfect match; well below 1 means training would see too little noise
# (the network will leave noise in real predictions), above 1 too much (it will smooth away
# real detail).

# %%
params = form.params()
crappifier = params.crappifier()
profiles = calibrate.noise_profiles(lr, hr, crappifier)
ratio = profiles["synthetic"].std() / profiles["real"].std()
print(
    f"real {profiles['real'].std():.4f}  synthetic {profiles['synthetic'].std():.4f}  "
    f"ratio {ratio:.2f}"
)
print(crappifier.describe())

# %% [markdown]
# ## 5. Save & next step
# The crappifier is saved and recorded; notebook 03 trains with it.

# %%
path = crappifier.save(project.folder / "calibrate" / "crappifier.json")
project.record("calibrate", crappifier=path, noise_ratio=round(float(ratio), 3))
assert path.is_file() and project.crappifier() == crappifier
assert 0 < ratio < 10

# %% [markdown]
# ## 6. Exercises
# 1. Set `photons` to 1000. Which curve moves, and why does the shape of the variance
#    curve change?
# 2. Find the `photons` value for which the spread ratio is closest to 1.

# %% tags=["solution"]
for photons in (5, 10, 20, 40, 80):
    trial = calibrate.PointScanParams(**{**vars(params), "photons": photons}).crappifier()
    p = calibrate.noise_profiles(lr, hr, trial)
    print(photons, round(p["synthetic"].std() / p["real"].std(), 2))

# %% [markdown]
# 3. Switch `mode` to `area`. Does binning look like your microscope's fast scan?
#
# ## 7. Troubleshooting
# - *"The LR image does not get brighter where the HR image does"* — the two files are not
#   a pair (different cells, or one is flipped or inverted).
# - *"The HR plane … is smaller than scale x the LR plane"* — check `scale`.
# - *No pairs?* Without real LR scans, keep the crappifier of the sample or set the noise
#   from what you know of your detector; notebook 01 estimates the noise level of your
#   images.
