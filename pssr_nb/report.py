"""The benchmark report: one self-contained HTML file plus CSV and JSON.

The HTML embeds its figures (PNG as base64), so it can be mailed or attached
to a lab notebook as one file. ``benchmark.json`` holds every number;
``scores.csv`` one row per image and method; ``summary.csv`` one row per
method.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import trust
from .devices import environment
from .errors import InputError
from .files import atomic_path, output_folder
from .structure import MARGIN as FLAG_MARGIN
from .structure import Z as FLAG_Z

__all__ = [
    "DATA_TEXT",
    "FILES",
    "FLAGS",
    "FLAGS_TEXT",
    "LIMITS_TEXT",
    "NORMALIZATION_TEXT",
    "check_free",
    "figure_png",
    "figures",
    "html_table",
    "render_html",
    "write_report",
]

FILES = ("report.html", "benchmark.json", "scores.csv", "summary.csv")

NORMALIZATION_TEXT = {
    "care": "Each output is first mapped onto the reference by the least-squares line "
    "<i>a</i>·output + <i>b</i>, and the reference is scaled so that its 0.1st and 99.9th "
    "percentiles become 0 and 1 (as CARE and PSSR score). A different brightness or "
    "offset is therefore not counted as an error; only the pattern is compared. "
    "Scores use a data range of 1.",
    "fixed": "Outputs and reference are compared as they are, with the reference's fixed data "
    "range (the bit depth's range for integer files, max − min otherwise). A brightness or "
    "offset difference counts as error, so this is only meaningful when both are in the "
    "same units.",
}

DATA_TEXT = {
    "phantoms": "Simulated fields of view the model never saw (fresh seeds), imaged by the "
    "simulated microscope. The reference is the <b>noiseless truth</b>, so scores measure "
    "the output alone, and the resolution target, known objects and repeat scans exist.",
    "pairs": "Real LR/HR pairs. The reference is the <b>HR scan, which has noise of its own</b>: "
    "no method can score perfectly, and a method that reproduced the HR's noise would be "
    "wrong to.",
    "semi-synthetic": "<b>Semi-synthetic</b>: real low-/high-SNR images of one field at one "
    "pixel size. The LR input is the low-SNR image decimated by the model's scale (what a "
    "point scan at larger pixels with the same dwell records): the noise is real, the "
    "undersampling is simulated. The reference is the high-SNR image (noisy). What this "
    "does <b>not</b> show: a real fast scan (its scan distortions and drift, a "
    "shorter dwell and the detector's response to it), and any detail finer than the high-SNR "
    "image itself resolves, which is no sharper than the low-SNR one; the resolution target "
    "and the traced lines need phantoms.",
}

LIMITS_TEXT = """<ul>
<li>Scores say how close outputs are to the reference <i>on these images</i>; another specimen,
microscope or noise level may behave differently. Benchmark on data like yours.</li>
<li>A higher PSNR/SSIM than the baselines shows the model uses the data better than interpolation
and simple smoothing; it does not show that every detail in the output is real.</li>
<li>FRC against the reference measures up to which detail an output agrees with it. FRC between
two predictions from independent scans can be high where the model adds the <i>same</i> invented
detail to both, so it is an upper bound for the model, not a proof.</li>
<li>The two-point test and object detection run on simulated targets and objects with a known
PSF and noise; they show what the method can resolve under those conditions.</li>
<li>The flat-field check feeds pure noise; long lines above the level of the tuned Gaussian of the
same noise (which cannot add any) were invented. Passing it does not rule out invention on real
structure; the traced lines and objects test that, but only on phantoms.</li>
<li>Test-time-augmentation spread is not a calibrated probability; the rank correlation shows
how far it can be used to find the doubtful regions.</li>
</ul>"""


def _cell(value: Any) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "<b>no</b>"
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    if value is None:
        return "–"
    return html.escape(str(value))


def html_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """An HTML table of rows with the same keys (numbers to 4 significant digits)."""
    if not rows:
        return "<p>(none)</p>"
    keys = list(rows[0])
    head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(r.get(k))}</td>" for k in keys) + "</tr>" for r in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def figure_png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else [])
        writer.writeheader()
        writer.writerows(rows)


def figures(result) -> dict[str, bytes]:
    """Every figure of a :class:`~pssr_nb.benchmark.BenchmarkResult`, as PNG bytes by name."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from . import report_figures as rf
    from .plotting import image_grid

    out = {"scores": figure_png(rf.scores_figure(result.summary))}
    first = result.cases[0]
    shown = {"LR input": first.lr, **{m: first.outputs[m] for m in ("bicubic", "model")}}
    if "HR scan" in first.outputs:
        shown["HR scan"] = first.outputs["HR scan"]
    shown["reference"] = first.reference
    out["images"] = figure_png(image_grid(shown, ncols=len(shown), size=2.8))
    out["maps"] = figure_png(rf.maps_figure(result.maps))
    out["frc"] = figure_png(rf.frc_figure(result.frc))
    if result.two_point:
        out["two_point"] = figure_png(rf.resolution_figure(result.two_point))
    out["flat_noise"] = figure_png(image_grid(result.flat_noise["images"], size=2.8))
    if result.structure:
        out["structure"] = figure_png(rf.structure_figure(result.structure))
    if result.detection:
        out["detection"] = figure_png(rf.detection_figure(result.detection))
    if result.uncertainty is not None:
        maps = result.uncertainty_maps
        fig = rf.uncertainty_figure(result.uncertainty, maps["uncertainty"], maps["error"])
        out["uncertainty"] = figure_png(fig)
    return out


def _frc_rows(frc: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for panel, by_method in frc.items():
        for method, curve in by_method.items():
            rows.append(
                {"comparison": panel.replace("_", " "), "method": method, **curve.summary()}
            )
    return rows


def render_html(result, pngs: Mapping[str, bytes]) -> str:
    """The report as one HTML string with the figures embedded."""
    s = result.settings
    params = s["params"]
    kind = result.data["kind"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>pssr_nb benchmark</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}"
        "table{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}"
        "th{background:#f0f0f0}img{max-width:100%}.warn{color:#a40}</style></head><body>",
        "<h1>pssr_nb benchmark</h1>",
        f"<p><b>Model:</b> {html.escape(s['model'])}<br><b>Data:</b> {DATA_TEXT[kind]}<br>"
        f"<b>Images:</b> {html.escape(', '.join(result.data['images']))}"
        f" (HR pixel {_cell(result.data['pixel_size_nm'])} nm)</p>",
        f"<p><b>Headline:</b> {html.escape(result.headline['text'])}</p>",
        *(
            [f"<p><b>Room left by the reference:</b> {html.escape(ceiling['text'])}</p>"]
            if (ceiling := result.headline.get("ceiling"))
            else []
        ),
        f"<h2>How the scores are normalised</h2><p>{NORMALIZATION_TEXT[params['normalization']]}</p>",
    ]
    if result.warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings)
        parts.append(f"<h2 class='warn'>Warnings</h2><ul class='warn'>{items}</ul>")
    parts += [
        "<h2>Scores: the model beside the baselines</h2>",
        "<p>Baselines place each LR sample where it was acquired. Three classical restorations "
        "are tuned on other data than these images: <i>bicubic+gaussian</i> (bicubic, then a "
        "Gaussian), <i>bicubic+wiener</i> (bicubic, then a Wiener deconvolution with a Gaussian "
        "PSF) and <i>nl-means+bicubic</i> (the LR samples denoised by non-local means, then "
        "bicubic). The headline is the gain over the best of all baselines. "
        "<i>psnr_tile_sd</i> is the spread of PSNR over tiles of one image. "
        "<i>geometry_errors</i> counts outputs shifted by more than 0.1 px (beyond twice the "
        "measurement error) against the reference.</p>",
        html_table(result.summary),
        _img(pngs["scores"], "scores"),
        _img(pngs["images"], "images"),
        "<h3>Every image</h3>",
        html_table(result.scores),
        "<h3>Error and SSIM maps (first image)</h3>",
        _img(pngs["maps"], "maps"),
        "<h2>Resolution, measured</h2>",
        "<h3>Fourier ring correlation</h3>",
        "<p><b>Repeats</b> (phantoms): three pairs of fresh scans of the same field, the "
        "second of each on a grid offset by 4.5 LR pixels (so texture a method fixes to its "
        "output grid does not agree with itself), both processed alike by each method; "
        "the resolution is the period where the mean curve, smoothed over three rings, falls "
        "below 1/7 (or the half-bit curve), with its SD over the pairs. <b>Against the "
        "reference</b> (mean curve over the images, SD over them) the curve is only a spectral agreement, not a resolution: a linear "
        "filter cancels out of a per-ring correlation (a blurred truth agrees perfectly), and "
        "the thresholds are meant for two acquisitions of equal SNR.</p>",
        html_table(_frc_rows(result.frc)),
        _img(pngs["frc"], "FRC"),
    ]
    if result.two_point:
        parts += _resolution_section(result.two_point, pngs["two_point"])
    parts += [
        "<h2>Invented and lost structure</h2>",
        *_flat_section(result.flat_noise, pngs["flat_noise"]),
    ]
    if result.structure:
        parts += _structure_section(result.structure, pngs["structure"])
    if result.detection:
        parts += _detection_section(result.detection, pngs["detection"])
    if result.uncertainty is not None:
        parts += [
            "<h2>Uncertainty</h2>",
            "<p>The spread of the 8 flipped/rotated predictions, and how well it ranks the "
            "actual error (Spearman rho: 1 perfect, 0 useless), beside predictors that need no "
            "model (the prediction's intensity, darkness and gradient), mean over images with a "
            "95 % interval. "
            f"<b>{html.escape(result.uncertainty['against_trivial']['verdict'])}</b></p>",
            html_table(result.uncertainty["against_trivial"]["rows"]),
            _img(pngs["uncertainty"], "uncertainty"),
        ]
    else:
        parts.append(
            "<h2>Uncertainty</h2><p>Not checked: the model predicted without test-time "
            "augmentation, as <code>pssr-nb predict</code> does by default. Benchmark with "
            "<code>--tta</code> (<code>tta=True</code>) to score the prediction you get with "
            "<code>predict --tta</code> and to check its uncertainty map against the error.</p>"
        )
    parts += [
        "<h2>What this does and does not show</h2>",
        LIMITS_TEXT,
        "<h2>Settings and versions</h2>",
        f"<pre>{html.escape(json.dumps({**s, 'environment': environment()}, indent=2))}</pre>",
        f"<p>Benchmark time: {result.seconds} s.</p></body></html>",
    ]
    return "\n".join(parts)


def check_free(out_dir: str | Path, overwrite: bool = False) -> None:
    """Refuse a folder that holds a benchmark report, unless it may be replaced."""
    existing = [Path(out_dir) / f for f in FILES if (Path(out_dir) / f).exists()]
    if existing and not overwrite:
        raise InputError(
            "Refusing to overwrite an existing benchmark report.",
            path=existing[0],
            fix="Choose another output folder, or set overwrite=True (--overwrite).",
        )


def write_report(result, out_dir: str | Path, overwrite: bool = False) -> dict[str, Path]:
    """Write ``report.html``, ``benchmark.json``, ``scores.csv`` and ``summary.csv``.

    Refuses to replace an existing report unless ``overwrite``; each file is written
    atomically.
    """
    out = Path(out_dir)
    check_free(out, overwrite)
    output_folder(out)
    pngs = figures(result)
    record = {**result.to_dict(), "environment": environment()}
    with atomic_path(out / "benchmark.json") as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    _write_csv(out / "scores.csv", result.scores)
    _write_csv(out / "summary.csv", result.summary)
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(render_html(result, pngs), encoding="utf-8")
    return {f: out / f for f in FILES}


def _resolution_section(test: dict[str, Any], png: str) -> list[str]:
    """The two-point test: how it judges, the limits with their intervals, the curves."""
    seps = test["separations_nm"]
    rows = [
        {
            "method": r["method"],
            "draws": r["draws"],
            **{
                f"{lv}% resolved at (nm)": _with_ci(
                    r[f"d{lv}_nm"], r[f"d{lv}_ci_low"], r[f"d{lv}_ci_high"], seps[-1]
                )
                for lv in (50, 95)
            },  # fmt: skip
            "single object called two at the 50 % separation": "-"
            if r["false_resolved_at_d50"] is None
            else f"{100 * r['false_resolved_at_d50']:.0f} %",
        }
        for r in test["rows"]
    ]
    return [
        "<h3>Two-point test</h3>",
        f"<p>{test['pairs_per_separation']} {test['kind'][:-1]} pairs at each of {len(seps)} "
        f"separations from {seps[0]:.3g} to {seps[-1]:.3g} nm (neighbours at most 10 % apart), "
        f"each at a random sub-pixel position and angle, on the specimen's textured background, "
        f"and {test['controls']} single objects of the same integrated intensity (PSF FWHM "
        f"{test['psf_fwhm_nm']:.3g} nm, HR pixel {test['pixel_size']:.3g} nm, LR pixel "
        f"{test['lr_pixel_size']:.3g} nm). A pair is resolved when the cubic-interpolated "
        "profile through it has a peak near each true position, each significantly above the "
        f"local background, and a minimum between them significantly below both "
        f"(significant: more than {test['rule']['z']:g} noise SDs, measured over the noise draws). "
        "The separations where P(resolved) reaches 50 % and 95 % carry 95 % bootstrap "
        "intervals over pairs; single objects judged by the same rule give the false rate.</p>",
        html_table(rows),
        _img(png, "two-point test"),
    ]


FLAGS_TEXT = (
    "<i>invents</i>: precision below the reference's, <i>loses</i>: recall below it, by more "
    f"than {FLAG_Z:g} standard errors of the image-by-image difference and at least "
    f"{FLAG_MARGIN:g}. Means over images, with SDs."
)
#: The flag columns of the structure tables, where True is the bad answer.
FLAGS = ("invents", "loses", "worse")


def _flagged(row: Mapping[str, Any], keys: Sequence[str]) -> dict[str, Any]:
    """``keys`` of a row, with each flag written YES (raised) or no."""
    return {k: ("YES" if row[k] else "no") if k in FLAGS else row[k] for k in keys}


def _flat_section(flat: dict[str, Any], png: bytes) -> list[str]:
    flagged = [r["level"] for r in flat["rows"] if r["invents"]]
    verdict = (
        f"The model draws more long lines than {flat['bar']} at brightness "
        f"{', '.join(f'{v:g}' for v in flagged)}: structure invented from noise."
        if flagged
        else f"At no brightness does the model draw more long lines than {flat['bar']}."
    )
    return [
        "<h3>Structure from nothing</h3>",
        f"<p>Flat fields crappified with {html.escape(flat['crappifier'])}, {flat['draws']} "
        "noise draws per brightness. <i>long_lines</i> is the fraction of the field covered by "
        f"traced lines of the specimen's width, at least {trust.LINE_LENGTH_LR} LR pixels long "
        f"and as strong as a line of {100 * trust.LINE_CONTRAST:g} % of the training images' "
        "contrast; a Gaussian of the same noise "
        f"({html.escape(flat['bar'])}) cannot add lines, so it is the bar. <i>structure_sd</i> "
        "is the SD after smoothing at the LR pixel scale, in normalised units. The model is "
        f"flagged when its long lines exceed the bar's by {trust.FLAT_Z:g} standard errors over "
        f"the draws and by {100 * trust.FLAT_MARGIN:g} % of the field. "
        f"<b>{html.escape(verdict)}</b></p>",
        html_table([_flagged(r, list(r)) for r in flat["rows"]]),
        _img(png, "flat noise"),
    ]


def _structure_section(structure: dict[str, Any], png: bytes) -> list[str]:
    keys = ("method", "images", "precision", "precision_sd", "recall", "recall_sd", "f1",
            "pieces_excess", "regions_excess", "invents", "loses")  # fmt: skip
    return [
        "<h3>The specimen's lines, traced</h3>",
        "<p>Membranes (EM) or filaments (fluorescence) traced in every output with a ridge "
        "filter of their width, at the threshold that suits each method best, and compared "
        f"with those traced in the truth (tolerance {structure['lines']['tolerance']:.3g} px). "
        "<i>precision</i>: the share of traced lines that are real (1 minus the invented share); "
        "<i>recall</i>: the share of real lines found. <i>pieces_excess</i>: pieces beyond the "
        "truth's (broken lines and specks); <i>regions_excess</i>: enclosed regions beyond the "
        "truth's (negative: merged by breaks, positive: split by invented lines). Held against "
        f"{html.escape(structure['reference'])}: {FLAGS_TEXT}</p>",
        html_table([_flagged(r, keys) for r in structure["rows"]]),
        _img(png, "invented and lost lines"),
    ]


def _detection_section(detection: dict[str, Any], png: bytes) -> list[str]:
    keys = ("method", "images", "objects", "ap", "ap_sd", "best_f1", "precision", "recall",
            "fp", "fn", "worse")  # fmt: skip
    return [
        "<h3>Known small objects</h3>",
        "<p>Vesicles (EM) or puncta (fluorescence) detected in every output at every threshold "
        "of a sweep over its own response: a precision-recall curve per method, no threshold "
        "tuned on the truth. <i>ap</i>: average precision (area under the curve: 1 finds every "
        "object before any invented one); precision, recall, invented (<i>fp</i>) and lost "
        "(<i>fn</i>) objects at the best F1. <i>worse</i>: an AP below that of "
        f"{html.escape(detection['reference'])} by more than {FLAG_Z:g} standard errors of "
        f"the image-by-image difference and at least {FLAG_MARGIN:g}.</p>",
        html_table([_flagged(r, keys) for r in detection["rows"]]),
        _img(png, "detection precision-recall"),
    ]


def _with_ci(nm: float | None, low: float | None, high: float | None, largest: float) -> str:
    if nm is None:
        return f"not reached (> {largest:.3g})"
    return f"{nm:.3g} [{low:.3g}, {'>' + format(largest, '.3g') if high is None else format(high, '.3g')}]"
