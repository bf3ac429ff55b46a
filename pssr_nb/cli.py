"""Command line: ``pssr-nb <command>`` (also ``python -m pssr_nb``).

Each subcommand fills the same parameter dataclass as the notebook forms and
calls the same ``run`` function, then writes a JSON record of its parameters,
versions and timing next to its outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from . import __version__
from .devices import environment
from .errors import PssrError
from .params import add_arguments, from_namespace, to_dict

__all__ = ["INTERRUPTED", "build_parser", "main"]


def _write_record(out: Path, command: str, params: Any, seconds: float, inputs: Any = None) -> None:
    record = {
        "command": command,
        "inputs": to_dict(inputs) if inputs is not None else {},
        "params": to_dict(params) if params is not None else {},
        "environment": environment(),
        "seconds": round(seconds, 3),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / f"run_{command}.json").write_text(json.dumps(record, indent=2) + "\n")


def _cmd_demo(args: argparse.Namespace) -> None:
    from .demo import DemoParams, run

    params = from_namespace(DemoParams, args)
    report = run(params, args.out)
    print(f"Quickstart written to {Path(args.out).resolve()}")
    init = report["training"]["params"]["init"]
    start = f"fine-tuned from {init}" if init else "trained from scratch"
    print(f"  model: {start}, {report['training']['steps']} steps")
    for method, stats in report["summary"].items():
        print(
            f"  {method:20s} PSNR {stats['psnr_mean']:6.2f} ± {stats['psnr_sd']:.2f} dB   SSIM {stats['ssim_mean']:.3f}"
        )
    print(f"  {report['headline']['text']}")
    print(f"  report: {Path(args.out) / 'report.json'}   figure: {Path(args.out) / 'overview.png'}")


def _cmd_simulate(args: argparse.Namespace) -> None:
    from .phantoms import SimulateParams, run

    params = from_namespace(SimulateParams, args)
    record = run(params, args.out, overwrite=args.overwrite)
    print(
        f"{len(record['images'])} phantom set(s) written to {Path(args.out).resolve()} in {record['seconds']:.1f} s"
    )


def _cmd_calibrate(args: argparse.Namespace) -> None:
    from .calibrate import CalibrateInputs, CalibrateParams, run
    from .tables import format_rows

    params, inputs = from_namespace(CalibrateParams, args), from_namespace(CalibrateInputs, args)
    calibration = run(
        params,
        inputs.lr,
        args.out,
        hr=inputs.hr or None,
        fit=not args.physical_only,
        overwrite=args.overwrite,
        lr_token=inputs.lr_token,
        hr_token=inputs.hr_token,
    )
    print(format_rows(calibration.rows()))
    for warning in calibration.warnings:
        print(f"warning: {warning}")
    print(
        f"Calibrated in {calibration.seconds:.1f} s; "
        f"{Path(args.out).resolve() / 'crappifier.json'} (train with --crappifier)"
    )


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainInputs, TrainParams, run

    params, inputs = from_namespace(TrainParams, args), from_namespace(TrainInputs, args)
    result = run(params, inputs.hr, args.out, crappifier=inputs.crappifier, resume=args.resume)
    best, s = result.summary["best"], result.summary
    if s["stopped"] != "finished":
        print(
            f"Stopped ({s['stopped']}) at step {s['steps']} of {s['total_steps']}; continue "
            f"with: pssr-nb train ... --out {args.out} --resume",
            file=sys.stderr,
        )
    print(
        f"Trained {s['steps']} steps in {s['training_seconds'] / 60:.1f} min on {s['device']} "
        f"({s['stopped']}); models in {Path(args.out).resolve()}"
    )
    print(
        f"  held-out regions at step {best['step']} (the best): {best['val_psnr']:.2f} dB, "
        f"{best['gain_db']:+.2f} dB over the best baseline ({best['baseline_psnr']:.2f} dB)"
    )
    if "pairs_gain_db" in best:
        print(
            f"  on the real pairs: {best['pairs_psnr']:.2f} dB, "
            f"{best['pairs_gain_db']:+.2f} dB over the best baseline"
        )
    return INTERRUPTED if s["stopped"] == "interrupted" else 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from .model_file import sample_model_path
    from .predict import PredictInputs, PredictParams, run

    params, inputs = from_namespace(PredictParams, args), from_namespace(PredictInputs, args)
    model = inputs.model or sample_model_path()
    if _is_volume(args.out):
        return _predict_volume(args, params, inputs, model)
    report = run(params, model, inputs.images, args.out, axes=inputs.axes or None)
    for rec in report["files"]:
        print(f"{rec['input']} -> {rec['output']}  {rec['output_shape']}  {rec['seconds']:.1f} s")
    for rec in report["failed"]:
        print(f"{rec['input']}: SKIPPED, {rec['error']} {rec['fix'] or ''}", file=sys.stderr)
    return 1 if report["failed"] else 0


def _is_volume(out: str) -> bool:
    """An OME-Zarr output takes the chunked path (:mod:`pssr_nb.volume`); into a folder,
    an image (an OME-Zarr one too) is predicted in memory and written as TIFF."""
    from .volume import is_zarr

    return is_zarr(out)


def _predict_volume(args: argparse.Namespace, params: Any, inputs: Any, model: Any) -> int:
    from .errors import InputError
    from .volume import VolumeParams, predict_volume

    if len(inputs.images) != 1:
        raise InputError(
            f"A chunked prediction takes one volume, got {len(inputs.images)} inputs.",
            path=args.out,
            fix="Give one OME-Zarr image or TIFF per OME-Zarr output.",
        )
    volume = from_namespace(VolumeParams, args)
    args.params_cls = None  # the output's own record (pssr_nb_predict.json) holds the settings
    record = predict_volume(model, inputs.images[0], args.out, params, volume, inputs.axes or None)
    print(
        f"{record['written']} block(s) written, {record['skipped']} already done, in "
        f"{record['seconds']:.1f} s on {record['scheduler']}; {Path(args.out).resolve()} "
        f"({record['levels']} pyramid level(s))"
        + (f"; uncertainty in {record['uncertainty']}" if record.get("uncertainty") else "")
    )
    return 0


def _cmd_convert(args: argparse.Namespace) -> None:
    from .volume import convert

    out = convert(args.source, args.out, args.chunk, args.axes, args.overwrite)
    print(f"OME-Zarr image written to {out.resolve()}")


def _cmd_benchmark(args: argparse.Namespace) -> None:
    from .benchmark import BenchmarkInputs, BenchmarkParams, run, summary_rows
    from .model_file import sample_model_path
    from .tables import format_rows

    params, inputs = from_namespace(BenchmarkParams, args), from_namespace(BenchmarkInputs, args)
    model = inputs.model or sample_model_path()
    lr, hr = inputs.lr or None, inputs.hr or None
    result = run(params, model, args.out, lr=lr, hr=hr, overwrite=args.overwrite)
    print(format_rows(summary_rows(result)))
    print(result.headline["text"])
    if "ceiling" in result.headline:
        print(result.headline["ceiling"]["text"])
    for warning in result.warnings:
        print(f"warning: {warning}")
    print(
        f"Benchmark in {result.seconds:.0f} s; report: {Path(args.out).resolve() / 'report.html'}"
    )


def _cmd_blend(args: argparse.Namespace) -> None:
    from .blend import BlendInputs, run

    inputs = from_namespace(BlendInputs, args)
    path, tuned = run(inputs, args.out, overwrite=args.overwrite)
    print(
        f"On your {tuned.pairs} plane(s): the model {tuned.model_gain_db:+.2f} dB over "
        f"bicubic+gaussian; kept {tuned.gain:.0%} of what its network adds, skip "
        f"{tuned.skip_sigma:g} HR px: {tuned.gain_db:+.2f} dB"
    )
    if tuned.gain == 0:
        print(
            "  The model adds nothing your images support: the blend is bicubic + the tuned "
            "Gaussian. Fine-tune it on them (pssr-nb train --init MODEL) instead."
        )
    print(f"Blended model written to {path.resolve()} (predict with --model)")


def _cmd_export(args: argparse.Namespace) -> None:
    from .io import read_image
    from .model_choice import open_model
    from .model_zoo import ExportParams, export_bioimageio

    params = from_namespace(ExportParams, args)
    model = open_model(args.model)
    image = read_image(args.test_image).data if args.test_image else None
    start = time.perf_counter()
    out = export_bioimageio(model, args.out, params, image=image, benchmark=args.benchmark)
    print(
        f"BioImage Model Zoo package written to {out.resolve()} in "
        f"{time.perf_counter() - start:.0f} s (validated by bioimageio.spec)"
    )
    print("  open it in Fiji (deepImageJ), napari or bioimageio.core; upload at bioimage.io")


def _cmd_describe(args: argparse.Namespace) -> int:
    from .describe import REPORT, DataParams, pair_rows, run, summary_rows
    from .errors import InputError
    from .tables import format_rows

    params = from_namespace(DataParams, args)
    if not params.images:
        raise InputError(
            "describe needs images.", fix="Give --images FILE_OR_FOLDER (and --lr-images DIR)."
        )
    report = run(params, args.out)
    print(format_rows(summary_rows(report)))
    if report["pairs"]:
        print(format_rows(pair_rows(report)))
    for warning in report["warnings"]:
        print(f"warning: {warning}")
    print(f"report: {Path(args.out).resolve() / REPORT}")
    return 1 if report["warnings"] else 0


def _cmd_inspect(args: argparse.Namespace) -> None:
    from .data import Source

    for path in args.paths:
        src = Source(path, axes=args.axes)
        n = src.normalization
        img = src.image
        print(
            f"{path}\n  axes {img.axes}  shape {src.shape}  dtype {img.data.dtype}  "
            f"pixel size {img.pixel_size or 'unknown'} nm"
        )
        print(
            f"  percentiles {n.p_low}/{n.p_high}: {n.low:g} .. {n.high:g}   "
            f"stacks {src.n_stacks} x frames {src.n_frames} along {src.frame_axis or '-'}"
        )


def _cmd_datasets(args: argparse.Namespace) -> None:
    from .manifest import load_manifest

    for name, d in load_manifest().items():
        staged = " (staged locally)" if d.local_path() else ""
        print(f"{name:24s} {d.kind:8s} {d.modality}{staged}")


def _cmd_fetch(args: argparse.Namespace) -> None:
    from .manifest import fetch

    print(fetch(args.name, progress=True))


def build_parser() -> argparse.ArgumentParser:
    from .benchmark import BenchmarkInputs, BenchmarkParams
    from .blend import BlendInputs
    from .calibrate import CalibrateInputs, CalibrateParams
    from .demo import DemoParams
    from .describe import DataParams
    from .model_zoo import ExportParams
    from .phantoms import SimulateParams
    from .predict import PredictInputs, PredictParams
    from .train import TrainInputs, TrainParams
    from .volume import VolumeParams

    parser = argparse.ArgumentParser(
        prog="pssr-nb", description="Point-scanning super-resolution, step by step."
    )
    parser.add_argument("--version", action="version", version=f"pssr_nb {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="end-to-end quickstart on built-in phantoms")
    p.add_argument("--out", default="pssr_demo", help="output folder (default: pssr_demo)")
    add_arguments(p, DemoParams)
    p.set_defaults(func=_cmd_demo, params_cls=DemoParams)

    p = sub.add_parser("simulate", help="write phantom HR/LR/truth TIFFs")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--overwrite", action="store_true", help="replace existing files")
    add_arguments(p, SimulateParams)
    p.set_defaults(func=_cmd_simulate, params_cls=SimulateParams)

    p = sub.add_parser("calibrate", help="fit the crappifier to real LR (and HR) images")
    add_arguments(p, CalibrateInputs)
    p.add_argument("--out", required=True, help="output folder (crappifier.json, calibration.json)")
    p.add_argument(
        "--physical-only", action="store_true", help="skip the distribution fit (seconds faster)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace a calibration in --out")
    add_arguments(p, CalibrateParams)
    p.set_defaults(func=_cmd_calibrate, params_cls=CalibrateParams, inputs_cls=CalibrateInputs)

    p = sub.add_parser("train", help="train a model on HR images crappified on the fly")
    add_arguments(p, TrainInputs)
    p.add_argument("--out", required=True, help="output folder (checkpoint, models, log)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_arguments(p, TrainParams)
    p.set_defaults(func=_cmd_train, params_cls=TrainParams, inputs_cls=TrainInputs)

    p = sub.add_parser("predict", help="super-resolve images with a trained model")
    add_arguments(p, PredictInputs)
    p.add_argument("--out", required=True, help="output folder")
    add_arguments(p, PredictParams)
    volume = p.add_argument_group(
        "large volumes (an OME-Zarr input or output: chunked on Dask, resumable)"
    )
    add_arguments(volume, VolumeParams)
    p.set_defaults(func=_cmd_predict, params_cls=PredictParams, inputs_cls=PredictInputs)

    p = sub.add_parser("convert", help="write a (huge) TIFF as an OME-Zarr image with a pyramid")
    p.add_argument("source", help="TIFF file")
    p.add_argument("--out", required=True, help="OME-Zarr image to write (.ome.zarr)")
    p.add_argument("--chunk", type=int, default=1024, help="chunk side in pixels (default: 1024)")
    p.add_argument("--axes", default=None, help="override the axes, e.g. ZYX")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=_cmd_convert, params_cls=None)

    p = sub.add_parser("benchmark", help="score a model beside baselines; write an HTML report")
    add_arguments(p, BenchmarkInputs)
    p.add_argument("--out", required=True, help="output folder (report.html, CSV, JSON)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report")
    add_arguments(p, BenchmarkParams)
    p.set_defaults(func=_cmd_benchmark, params_cls=BenchmarkParams, inputs_cls=BenchmarkInputs)

    p = sub.add_parser(
        "blend",
        help="shrink a pretrained model toward the tuned Gaussian where it does not know your "
        "specimen (seconds, no training)",
    )
    add_arguments(p, BlendInputs)
    p.add_argument("--out", required=True, help="the blended model file to write (.pt)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=_cmd_blend, params_cls=None, inputs_cls=BlendInputs)

    p = sub.add_parser(
        "export", help="write a BioImage Model Zoo package (Fiji/deepImageJ, napari, bioimage.io)"
    )
    p.add_argument("model", help="model file, sample model name (em_x4) or exported package")
    p.add_argument("--out", required=True, help="package folder, or a path ending in .zip")
    p.add_argument("--benchmark", default=None, help="benchmark.json of pssr-nb benchmark")
    p.add_argument("--test-image", default=None, help="LR image whose centre is the test input")
    add_arguments(p, ExportParams)
    p.set_defaults(func=_cmd_export, params_cls=None)  # the package records itself

    p = sub.add_parser(
        "describe", help="describe images (and LR/HR pairs): bits, range, noise, saturation, offset"
    )
    p.add_argument("--out", required=True, help="output folder (data_report.json)")
    add_arguments(p, DataParams)
    p.set_defaults(func=_cmd_describe, params_cls=DataParams)

    p = sub.add_parser("inspect", help="show axes, dtype, pixel size and intensity range of images")
    p.add_argument("paths", nargs="+", help="image files")
    p.add_argument("--axes", default=None, help="override the axes, e.g. ZYX")
    p.set_defaults(func=_cmd_inspect, params_cls=None)

    p = sub.add_parser("datasets", help="list the datasets of the data manifest")
    p.set_defaults(func=_cmd_datasets, params_cls=None)

    p = sub.add_parser("fetch", help="download, generate or locate a manifest dataset")
    p.add_argument("name")
    p.set_defaults(func=_cmd_fetch, params_cls=None)
    return parser


#: Exit status of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pssr-nb``; returns the exit status.

    0: done; 1: done, but some files were skipped; 2: stopped by a problem the message
    explains; 130: interrupted (Ctrl-C).
    """
    args = build_parser().parse_args(argv)
    start = time.perf_counter()
    try:
        status = args.func(args)
    except PssrError as exc:
        print(f"pssr-nb {args.command}: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the system refused a file: not pssr_nb's to explain better
        where = f"\n  file: {exc.filename}" if exc.filename else ""
        print(
            f"pssr-nb {args.command}: {exc.strerror or exc}{where}\n"
            "  fix:  Check that the file or folder exists, is readable, and that the output "
            "folder is writable with free space.",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print(
            f"pssr-nb {args.command}: interrupted; nothing finished was replaced.", file=sys.stderr
        )
        return INTERRUPTED
    if status:
        return status
    out = getattr(args, "out", None)
    if out is not None and args.params_cls is not None:
        inputs_cls = getattr(args, "inputs_cls", None)
        _write_record(
            Path(out),
            args.command,
            from_namespace(args.params_cls, args),
            time.perf_counter() - start,
            from_namespace(inputs_cls, args) if inputs_cls else None,
        )
    return 0
