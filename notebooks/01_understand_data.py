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
# # 01 · Understand your data
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/pssr-nb/pssr_nb/blob/main/notebooks/01_understand_data.ipynb)
#
# ## 0. About
# **Goal.** Before training anything, look hard at the images: how they are stored (axes,
# bit depth, pixel size), how bright and how noisy they are, whether anything is
# saturated, and — if you have low- and high-resolution scans of the same cells — whether
# the two line up. Then see, on a simulated specimen whose truth is known, what a fast scan
# loses: resolution (larger pixels) and photons (shorter dwell).
#
# **Time.** Under a minute on a laptop CPU; no GPU needed.
#
# **You get.** `understand_data/data_report.json` in the project folder: one entry per
# image and per pair, with warnings that say what to do. The next notebooks read it.

# %% [markdown]
# ## 1. Setup
# On Colab the first cell installs pssr_nb (Colab's own PyTorch is kept); elsewhere it
# does nothing. The project folder is where every notebook writes; on Colab it lives on
# your Google Drive, so it survives a disconnect.

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
from pathlib import Path

import matplotlib.pyplot as plt

from pssr_nb import (
    Form,
    Viewer,
    describe,
    format_rows,
    image_grid,
    intensity_histogram,
    open_project,
    quick_mode,
    read_image,
    sampling_table,
    shot_noise_table,
    simulate,
)

project = open_project()
print(project.folder.resolve(), "| quick mode:", quick_mode())

# %% [markdown]
# ## 2. Data
# `images` are your **high-resolution (HR)** images: a TIFF, PNG or JPEG file, or a folder
# of them (TIFF keeps 16-bit data and pixel sizes; prefer it). Zeiss `.czi`, Leica `.lif`,
# Nikon `.nd2` and OME-Zarr are read too, with their pixel sizes, once the readers are
# installed (`pip install "pssr_nb[formats]"`). Leave it empty to use the built-in
# sample: simulated EM sections with their LR scans.
#
# If you also acquired fast **low-resolution (LR)** scans of the same fields, put their
# folder in `lr_images`; files are paired by name (`lr_token`/`hr_token` remove parts that
# differ, e.g. `lowsnr`/`highsnr`). `scale` is the LR pixel size divided by the HR one.

# %%
form = Form(describe.DataParams)
form

# %%
params = form.params()
sample = project.sample_data()["train"]
out = project.folder / "understand_data"
report = describe.run(params, out, sample_hr=sample / "hr", sample_lr=sample / "lr")
print(format_rows(describe.summary_rows(report)))

# %% [markdown]
# ## 3. The step: measure each image
# What the columns mean, and why they matter for super-resolution:
#
# - **dtype / bits** — how the values are stored and how many bits the detector actually
#   fills. A 12-bit camera in a 16-bit file uses values up to 4095. pssr_nb never assumes
#   a range: it normalises each image by its percentiles (`p1` … `p99.9`).
# - **saturated_%** — pixels stuck at the top value. Detail there is gone, in the HR *and*
#   in anything a network predicts from it.
# - **noise_sd** — the pixel noise, estimated from differences between neighbours (smooth
#   structure cancels, noise does not). **snr** is the signal range (p99 − p1) over it.
#   The HR images are the network's teacher: noise in them is noise it learns.
#
# The histogram shows where the percentiles fall, the background, and saturation.

# %%
first = read_image(report["images"][0]["file"])
intensity_histogram(report["images"][0], first.data)
plt.show()

# %%
print("\n".join(report["warnings"]) or "No warnings.")

# %% [markdown]
# ### Do the LR and HR scans line up?
# A point scan with pixels `scale` times larger samples every `scale`-th point of the fine
# grid, so LR pixel *i* sits at HR position `scale·i + offset`. pssr_nb measures the
# offset by registering the LR scan (put on the HR grid) to the HR scan. About 0 means a
# clean point scan, `(scale−1)/2` means binning, anything else is drift between the scans.
# Calibration (notebook 02) and benchmarks (05) correct for it.

# %%
print(format_rows(describe.pair_rows(report)))

# %% [markdown]
# ## 4. Inspect
# Sliders move through the non-image axes (Z, T, C) and zoom into a region. The viewer's
# drawing function is called once directly, so the figure also appears where widgets do
# not (a static export).

# %%
viewer = Viewer({first.path.name: first.data}, axes=first.axes)
viewer.draw()
viewer

# %% [markdown]
# ### What a fast scan loses, where the truth is known
# A simulated specimen lets us measure both losses exactly.
#
# **Undersampling.** To keep everything the optics deliver, a scan needs about
# 2.3 pixels per width (FWHM) of the point-spread function (Nyquist). The fast scan's
# larger pixels fall short; that missing detail is what super-resolution must restore.

# %%
phantom = simulate("em", (256, 256), scale=4, seed=0)
print(format_rows(sampling_table(phantom)))
image_grid({"truth": phantom.truth, "HR scan": phantom.hr, "LR scan": phantom.lr})
plt.show()

# %% [markdown]
# **Shot noise.** A pixel that collects *N* photons (or electrons) on average varies by
# √*N*, so its signal-to-noise ratio is √*N*: four times the dwell time, twice the SNR.
# The measured SNR of the bright structures follows this exactly.

# %%
rows, scans = shot_noise_table(phantom, dwells_us=[0.5, 2, 8, 32])
print(format_rows(rows))
image_grid(scans, ncols=4, size=2.6)
plt.show()

# %% [markdown]
# ## 5. Save & next step
# The report is recorded in the project. If you chose your own images, they are recorded
# too: notebook 02 calibrates the crappifier against your LR/HR pairs, notebook 03 trains on
# your HR images.

# %%
project.record("understand_data", data_report=out / describe.REPORT, scale=params.scale)
if params.images:  # your own images: the next notebooks use them instead of the sample
    paired = Path(params.lr_images) if params.lr_images else None
    project.record(
        "your_data",
        hr=Path(params.images),
        paired_lr=paired,
        pattern=params.pattern,
        lr_token=params.lr_token,
        hr_token=params.hr_token,
    )
assert (out / describe.REPORT).is_file()
assert all(r["noise_sigma"] >= 0 for r in report["images"])
assert rows[-1]["measured_snr"] > rows[0]["measured_snr"]

# %% [markdown]
# ## 6. Exercises
# 1. Point `images` at one of your own TIFFs. Which warnings appear, and what do they ask?
# 2. Compute the SNR the shot-noise law predicts for 128 µs of dwell, then measure it.

# %% tags=["solution"]
rows_128, _ = shot_noise_table(phantom, dwells_us=[128])
print(format_rows(rows_128))  # expected ≈ 2 × the 32 µs value

# %% [markdown]
# 3. Simulate the `fluorescence` specimen instead. Does its HR scan meet Nyquist?

# %% tags=["solution"]
print(format_rows(sampling_table(simulate("fluorescence", (64, 64), 4))))

# %% [markdown]
# ## 7. Troubleshooting
# - *"This image file does not exist"* — check the path; on Colab, files on Drive are
#   under `/content/drive/MyDrive/`.
# - *"Unsupported file type"* — save as TIFF (keeps 16-bit data and the pixel size).
# - *"Reading .czi files needs the bioio reader …"* — run `%pip install "pssr_nb[formats]"`,
#   restart the kernel, and run the notebook again.
# - *"Could not read this image … truncated or corrupt"* — re-export or re-copy that file;
#   the others are fine.
# - *Colour images* are converted to grey with a warning; choose a channel in Fiji first if
#   the channels hold different stains.
# - *No pixel size* — set it in Fiji (Image › Properties) and save as TIFF.
# - *"… pixels are NaN or Inf"* (a warning) — those pixels are treated as background;
#   check the export settings if you did not expect them.
