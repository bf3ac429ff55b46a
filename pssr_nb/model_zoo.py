"""BioImage Model Zoo packages: a trained model for Fiji, napari and bioimage.io, and back.

:func:`export_bioimageio` writes a package (a folder or a ``.zip``) under the model
spec 0.5, built and checked with the ``bioimageio.spec`` library (the optional extra
``pip install "pssr_nb[bioimageio]"``):

- **TorchScript weights** (what deepImageJ in Fiji runs) and **PyTorch state-dict
  weights** whose architecture is :class:`pssr_nb.portable.PortableModel`: both take an
  image in its own intensities and return the super-resolved image in the same
  intensities, measuring pssr_nb's input units inside (the spec's preprocessing steps
  cannot express a smoothed percentile), so no pre- or postprocessing is declared;
- axes with physical pixel sizes (the output's are the input's divided by the scale,
  which also fixes the output size), the tile sizes the network takes and the halo
  pssr_nb's own tiling blends away;
- a test input, and as test output what :func:`pssr_nb.predict.predict_image` makes of
  it, checked against the TorchScript weights before anything is written;
- a cover, a README whose validation section is the model's benchmark (gain over the
  best baseline) with its limits, and as attachments the crappifier and
  ``pssr_nb_model.json`` (everything :class:`~pssr_nb.model_file.TrainedModel` holds
  beside the weights), so :func:`pssr_nb.model_package.load_bioimageio` (and ``open_model``) reads
  the package back as the model it came from, without the extra.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import torch
import yaml

from . import __version__
from .errors import InputError
from .files import output_folder, refuse_to_replace
from .model_package import FACTS_FILE, STATE_DICT_FILE, package_facts
from .params import Checked, param, setting_error

__all__ = [
    "INSTALL_FIX",
    "PSSR_CITATION",
    "PSSR_DOI",
    "REPRODUCIBILITY",
    "TORCHSCRIPT_FILE",
    "example_input",
    "export_bioimageio",
    "ExportParams",
    "reference_output",
]

#: How closely the TorchScript must reproduce the test output, relative to its range.
REPRODUCIBILITY = 1e-3
TORCHSCRIPT_FILE = "weights_torchscript.pt"
PSSR_CITATION = (
    "Fang, L. et al. Deep learning-based point-scanning super-resolution imaging. "
    "Nature Methods 18, 406-416 (2021)."
)
PSSR_DOI = "10.1038/s41592-021-01080-z"
INSTALL_FIX = 'Install the extra: pip install "pssr_nb[bioimageio]" (it adds bioimageio.spec).'


@dataclasses.dataclass
class ExportParams(Checked):
    """What a BioImage Model Zoo package says about the model (fill in your own)."""

    name: str = param("", "Name of the model; empty: made from what the model does.")
    description: str = param("", "One or two sentences; empty: the model's own description.")
    authors: tuple[str, ...] = param(
        ("pssr_nb user",), "Who trained the model (replace the placeholder with names)."
    )
    license: str = param("CC-BY-4.0", "SPDX licence identifier of the weights.")
    cite_text: str = param(PSSR_CITATION, "The paper to cite (PSSR, unless you publish yours).")
    cite_doi: str = param(PSSR_DOI, "DOI of that paper.")
    test_size: int = param(64, "Side of the test input in LR pixels.", minimum=16)
    overwrite: bool = param(False, "Replace an existing package.")

    def check_together(self) -> None:
        if not any(a.strip() for a in self.authors):
            raise setting_error(self, "authors", "at least one name")
        if not self.license.strip():
            raise setting_error(self, "license", "an SPDX licence identifier such as CC-BY-4.0")


def _spec() -> Any:
    try:
        import bioimageio.spec  # noqa: F401
        from bioimageio.spec.model import v0_5
    except ImportError:
        raise InputError(
            "Exporting to the BioImage Model Zoo needs the bioimageio.spec library.",
            fix=INSTALL_FIX,
        ) from None
    return v0_5


def example_input(model: Any, image: np.ndarray | None = None, size: int = 64) -> np.ndarray:
    """A ``(1, frames, size, size)`` float32 test input: the centre of ``image``, or a phantom.

    Without an image, an LR scan of a phantom of the model's modality is simulated (the
    phantom microscope's noise, not the model's crappifier: an input like a user's).
    """
    c = model.config
    size = max(c.multiple, size - size % c.multiple)
    if image is None:
        from .phantoms import simulate, specimen_of

        phantom = simulate(
            specimen_of(model.modality), (size * c.scale,) * 2, c.scale, frames=c.frames, seed=0
        )
        image = phantom.lr
    image = np.asarray(image, np.float32)
    image = image[None] if image.ndim == 2 else image
    if image.ndim != 3 or image.shape[0] < c.frames:
        raise InputError(
            f"A test image for this model needs {c.frames} frame(s) of Y and X; got shape "
            f"{image.shape}.",
            fix="Give a 2-D LR image (or frames x Y x X for a multi-frame model).",
        )
    h, w = image.shape[-2:]
    if min(h, w) < size:
        raise InputError(
            f"The test image ({h} x {w}) is smaller than the test size {size}.",
            fix=f"Give a larger LR image or a test_size of at most {min(h, w)}.",
        )
    y0, x0 = (h - size) // 2, (w - size) // 2
    return np.ascontiguousarray(image[None, : c.frames, y0 : y0 + size, x0 : x0 + size])


def reference_output(model: Any, tensor: np.ndarray) -> np.ndarray:
    """What pssr_nb's own prediction makes of a ``(1, frames, h, w)`` test input, float32."""
    from .predict import PredictParams, predict_normalized
    from .units import input_normalization

    frames = tensor[0]
    norm = input_normalization(frames, model.percentiles, model.input_smoothing)
    params = PredictParams(device="cpu", tile=max(frames.shape[-2:]) + 64)
    plane = frames if model.config.frames > 1 else frames[0]
    out, _ = predict_normalized(model, norm.apply(plane), params)
    return norm.invert(out, "float32")[None, None]


def _readme(model: Any, params: ExportParams, benchmark: dict[str, Any] | None) -> str:
    c = model.config
    lines = [
        f"# {params.name}",
        "",
        model.describe() + ".",
        "",
        "## How to use",
        "",
        f"Give the model a whole LR image ({'Y, X' if c.frames == 1 else f'{c.frames} neighbouring frames, Y, X'}) "
        "in its own intensities; it returns the image "
        f"{c.scale}x larger in both directions, in the same intensities (float32). The model "
        "measures the image's intensity range itself (the 0.1/99.9 percentiles after a "
        "one-pixel Gaussian smoothing) exactly as pssr_nb's prediction does, so no "
        "normalisation is to be set up in the tool.",
        "",
        "## Validation",
        "",
    ]
    if benchmark:
        head, data = benchmark["headline"], benchmark.get("data", {})
        lines += [
            f"`pssr-nb benchmark` on {len(data.get('images', []))} held-out image(s) "
            f"({data.get('kind', '?')}; reference: {data.get('reference', '?')}):",
            "",
            f"**{head['text']}**",
            "",
            "| method | PSNR (dB) | SSIM |",
            "|---|---|---|",
        ]
        for s in benchmark["summary"]:
            lines.append(
                f"| {s['method']} | {s['psnr_mean']:.2f} ± {s['psnr_sd']:.2f} | {s['ssim_mean']:.3f} |"
            )
        lines += ["", "PSNR and SSIM after CARE normalisation, per image."]
    else:
        vals = [r for r in model.history if r.get("kind") == "val"]
        lines.append(
            "No benchmark was given to this export; run `pssr-nb benchmark --model MODEL` and "
            "export again with `--benchmark benchmark.json` to put its numbers here."
        )
        if vals:
            last = vals[-1]
            lines.append(
                f"The last validation during training (step {last['step']}): "
                f"{last.get('val_psnr', float('nan')):.2f} dB PSNR on held-out blocks."
            )
    lines += [
        "",
        "## Limits",
        "",
        f"- Trained on {model.modality or 'unknown data'}"
        + (f" with {model.pixel_size_nm:g} nm LR pixels" if model.pixel_size_nm else "")
        + "; images of other pixel sizes, microscopes or noise levels may be restored "
        "worse than by simple interpolation. Check on your own images against aligned "
        "bicubic + Gaussian before trusting the output.",
        "- A tool that cuts the image into tiles gives every tile its own intensity range; "
        "give whole images (or large tiles) for results identical to pssr_nb's.",
        "- PSNR gains do not prove resolution: a network can invent plausible structure. "
        "Compare with a slow, high-resolution scan of the same sample.",
        "",
        "## Made with",
        "",
        f"pssr_nb {__version__} (`pssr-nb export`). Cite: {params.cite_text}",
        "",
    ]
    return "\n".join(lines)


def _cover(tensor: np.ndarray, output: np.ndarray, path: Path) -> None:
    """Input (nearest-enlarged) beside output, 2:1, as the Zoo's gallery shows covers."""
    import imageio.v3 as iio

    s = output.shape[-1] // tensor.shape[-1]
    left = np.kron(tensor[0, tensor.shape[1] // 2], np.ones((s, s), np.float32))
    right = output[0, 0]
    lo, hi = np.percentile(right, (0.5, 99.5))
    both = np.clip((np.concatenate([left, right], axis=1) - lo) / max(hi - lo, 1e-6), 0, 1)
    iio.imwrite(path, (both * 255).astype(np.uint8))


def _check_out(out: Path, overwrite: bool) -> None:
    refuse_to_replace(
        out,
        overwrite,
        "A package already exists here; it was not replaced.",
        "Choose another --out, or give --overwrite (overwrite=True) to replace it.",
    )
    if out.suffix.lower() == ".zip":
        output_folder(out.parent)
    elif out.exists() and not out.is_dir():
        raise InputError(
            "The package folder is a file.", path=out, fix="Give a folder or a .zip path."
        )


def export_bioimageio(
    model: Any,
    out: str | Path,
    params: ExportParams | None = None,
    image: np.ndarray | None = None,
    benchmark: dict[str, Any] | str | Path | None = None,
) -> Path:
    """Write a BioImage Model Zoo package of a trained model (a folder, or a ``.zip``).

    Parameters
    ----------
    model : TrainedModel
    out : str or Path
        A folder, or a path ending in ``.zip``.
    params : ExportParams, optional
    image : ndarray, optional
        An LR image whose centre becomes the test input (default: a phantom LR scan).
    benchmark : dict or path, optional
        A ``benchmark.json`` of ``pssr-nb benchmark`` (or its dict) for the README.

    Returns
    -------
    Path
        The package, validated by ``bioimageio.spec`` after it was written.

    Raises
    ------
    InputError
        When ``bioimageio.spec`` is missing, the package exists, or the validator refuses it.
    """
    v = _spec()
    from pydantic import ValidationError

    from .portable import PortableModel, to_torchscript

    params = params or ExportParams()
    out = Path(out)
    _check_out(out, params.overwrite)
    if benchmark is not None and not isinstance(benchmark, dict):
        benchmark = json.loads(Path(benchmark).read_text())
    c = model.config
    name = params.name or f"pssr_nb {c.scale}x {model.modality or 'point-scanning'} model"
    params = dataclasses.replace(params, name=name)
    tensor = example_input(model, image, params.test_size)
    expected = reference_output(model, tensor)
    scripted = to_torchscript(model)
    with torch.no_grad():
        got = scripted(torch.from_numpy(tensor)).numpy()
    tolerance = REPRODUCIBILITY * (float(expected.max() - expected.min()) or 1.0)
    if got.shape != expected.shape or np.abs(got - expected).max() > tolerance:
        raise InputError(  # a defect of the export, not of the user's input
            "The TorchScript weights do not reproduce pssr_nb's prediction of the test "
            "input; no package was written.",
            fix="Report this with the model file at the pssr_nb issue tracker.",
        )

    work = Path(tempfile.mkdtemp(prefix="pssr_nb_export_"))
    try:
        np.save(work / "test_input.npy", tensor)
        np.save(work / "test_output.npy", expected)
        tifffile.imwrite(work / "sample_input.tif", tensor[0, c.frames // 2])
        tifffile.imwrite(work / "sample_output.tif", expected[0, 0])
        with warnings.catch_warnings():  # deprecated upstream; still what deepImageJ runs
            warnings.simplefilter("ignore", DeprecationWarning)
            torch.jit.save(scripted, str(work / TORCHSCRIPT_FILE))
        torch.save(PortableModel.from_trained(model).state_dict(), work / STATE_DICT_FILE)
        (work / FACTS_FILE).write_text(json.dumps(package_facts(model), indent=1) + "\n")
        (work / "README.md").write_text(_readme(model, params, benchmark))
        (work / "environment.yaml").write_text(
            yaml.safe_dump(
                {
                    "name": "pssr_nb",
                    "channels": ["conda-forge", "nodefaults"],
                    "dependencies": [
                        "python>=3.10",
                        "pip",
                        {"pip": [f"torch>={_torch_version()}", f"pssr_nb>={__version__}"]},
                    ],
                },
                sort_keys=False,
            )
        )
        _cover(tensor, expected, work / "cover.png")
        attachments = [v.FileDescr(source=work / FACTS_FILE)]
        if model.crappifier:
            (work / "crappifier.json").write_text(json.dumps(model.crappifier, indent=1) + "\n")
            attachments.append(v.FileDescr(source=work / "crappifier.json"))
        descr = _description(v, model, params, work, attachments, tolerance)
    except ValidationError as exc:
        shutil.rmtree(work, ignore_errors=True)
        raise InputError(
            f"The BioImage Model Zoo validator refused the package: {_first_error(exc)}",
            fix="Check the export settings named above (authors, licence, DOI).",
        ) from None
    try:
        written = _save(descr, out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return written


def _torch_version() -> str:
    return torch.__version__.split("+")[0]


def _first_error(exc: Any) -> str:
    first = exc.errors()[0]
    return f"{'.'.join(str(p) for p in first.get('loc', ()))}: {first.get('msg', '')}"


def _description(
    v: Any,
    model: Any,
    params: ExportParams,
    work: Path,
    attachments: list[Any],
    tolerance: float,
) -> Any:
    """The ``ModelDescr`` (validated as it is made, files read and hashed)."""
    c = model.config
    lr_nm = model.pixel_size_nm
    unit = "nanometer" if lr_nm else None
    in_scale = float(lr_nm) if lr_nm else 1.0
    from .predict import PredictParams

    overlap = PredictParams().overlap
    halo = overlap * c.scale
    size = v.ParameterizedSize(min=max(64, 2 * overlap + c.multiple), step=c.multiple)
    channel_names = ["raw"] if c.frames == 1 else [f"frame{i}" for i in range(c.frames)]
    inputs = v.InputTensorDescr(
        id=v.TensorId("raw"),
        description="LR scan in its own intensities (any number type; the model normalises it)",
        axes=[
            v.BatchAxis(),
            v.ChannelAxis(channel_names=[v.Identifier(n) for n in channel_names]),
            v.SpaceInputAxis(id=v.AxisId("y"), size=size, unit=unit, scale=in_scale),
            v.SpaceInputAxis(id=v.AxisId("x"), size=size, unit=unit, scale=in_scale),
        ],
        test_tensor=v.FileDescr(source=work / "test_input.npy"),
        sample_tensor=v.FileDescr(source=work / "sample_input.tif"),
        data=v.IntervalOrRatioDataDescr(type="float32"),
        preprocessing=[v.EnsureDtypeDescr(kwargs=v.EnsureDtypeKwargs(dtype="float32"))],
    )
    out_axes = [
        v.SpaceOutputAxisWithHalo(
            id=v.AxisId(a),
            size=v.SizeReference(tensor_id=v.TensorId("raw"), axis_id=v.AxisId(a)),
            halo=halo,
            unit=unit,
            scale=in_scale / c.scale,
        )
        for a in ("y", "x")
    ]
    outputs = v.OutputTensorDescr(
        id=v.TensorId("super_resolved"),
        description=f"{c.scale}x super-resolved image in the input's intensities",
        axes=[
            v.BatchAxis(),
            v.ChannelAxis(channel_names=[v.Identifier("super_resolved")]),
            *out_axes,
        ],
        test_tensor=v.FileDescr(source=work / "test_output.npy"),
        sample_tensor=v.FileDescr(source=work / "sample_output.tif"),
        data=v.IntervalOrRatioDataDescr(type="float32"),
    )
    torch_version = v.Version(_torch_version())
    weights = v.WeightsDescr(
        pytorch_state_dict=v.PytorchStateDictWeightsDescr(
            source=work / STATE_DICT_FILE,
            architecture=v.ArchitectureFromLibraryDescr(
                callable=v.Identifier("PortableModel"),
                import_from="pssr_nb.portable",
                kwargs={
                    "config": c.to_dict(),
                    "percentiles": list(model.percentiles),
                    "smoothing": model.input_smoothing,
                },
            ),
            pytorch_version=torch_version,
            dependencies=v.FileDescr(source=work / "environment.yaml"),
        ),
        torchscript=v.TorchscriptWeightsDescr(
            source=work / TORCHSCRIPT_FILE,
            pytorch_version=torch_version,
            parent="pytorch_state_dict",
            comment="pssr_nb.portable.to_torchscript: the network traced, its units scripted",
        ),
    )
    from .models import count_parameters

    config = v.Config(
        bioimageio=v.BioimageioConfig(
            reproducibility_tolerance=[
                v.ReproducibilityTolerance(
                    relative_tolerance=REPRODUCIBILITY, absolute_tolerance=tolerance
                )
            ],
            architecture_type="ResUNet",
            modality=model.modality or None,
            task="super-resolution and denoising",
            model_parameter_count=count_parameters(model.network),
        )
    )
    return v.ModelDescr(
        name=params.name,
        description=params.description or model.describe(),
        authors=[v.Author(name=a) for a in params.authors],
        cite=[v.CiteEntry(text=params.cite_text, doi=v.Doi(params.cite_doi))],
        license=v.LicenseId(params.license),
        tags=["super-resolution", "denoising", "pytorch", "pssr", "2d"],
        documentation=v.FileDescr(source=work / "README.md"),
        covers=[v.FileDescr(source=work / "cover.png")],
        attachments=attachments,
        inputs=[inputs],
        outputs=[outputs],
        weights=weights,
        config=config,
    )


def _save(descr: Any, out: Path) -> Path:
    """Write the package (replacing an old one only once the new one is complete) and re-read it."""
    from bioimageio.spec import load_description, save_bioimageio_package
    from bioimageio.spec import save_bioimageio_package_as_folder as save_folder

    tmp = out.with_name(f".{out.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
    if out.suffix.lower() == ".zip":
        save_bioimageio_package(descr, output_path=tmp)
    else:
        save_folder(descr, output_path=tmp)
    summary = load_description(tmp / "rdf.yaml" if tmp.is_dir() else tmp).validation_summary
    if summary.status not in ("valid-format", "passed"):
        shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)
        raise InputError(
            f"The written package does not validate ({summary.status}).",
            fix="Report this with the model file at the pssr_nb issue tracker.",
        )
    if out.is_dir():
        shutil.rmtree(out)
    elif out.exists():
        out.unlink()
    tmp.rename(out)
    return out
