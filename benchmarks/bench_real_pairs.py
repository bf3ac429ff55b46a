"""The benchmark on every real low-/high-SNR pair set in ../shared/data (semi-synthetic).

Run from the repository root::

    python benchmarks/bench_real_pairs.py [--model pssr_nb/sample_models/fluorescence_x4.pt]

Each set is benchmarked with ``data="semi-synthetic"``: the LR input is the low-SNR
image decimated by the model's scale, the reference the high-SNR image of the same
field. The noise is real; the undersampling, and so everything the model is asked to
add between samples, is simulated. The sets:

- ``gigadb_hagen_pairs``: confocal (point-scanning) mitochondria and nucleus, 1024 x 1024;
- ``w2s_widefield_pairs``: widefield (not point-scanning) single frames against the mean
  of 400, 512 x 512, five fields.

Prints, per set, the headline (gain over the best baseline, mean ± SD over images), the
summary table and the flat-field verdict; writes each report under ``--out``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pssr_nb.benchmark import BenchmarkParams, run

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
#: Folder, low-SNR token, high-SNR token.
SETS = {
    "gigadb": ("gigadb_hagen_pairs", "lowsnr", "highsnr"),
    "w2s": ("w2s_widefield_pairs", "input_avg1", "target_avg400"),
}


def pairs_of(folder: Path, low: str, high: str) -> list[tuple[Path, Path]]:
    """Every (low-SNR, high-SNR) file pair of a folder, matched by replacing the token."""
    out = []
    for path in sorted(folder.iterdir()):
        if low in path.name:
            partner = path.with_name(path.name.replace(low, high))
            if partner.exists():
                out.append((path, partner))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="pssr_nb/sample_models/fluorescence_x4.pt")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--out", default=None, help="report folder (default: a temporary one)")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} not found: this benchmark needs ../shared/data")
    out = Path(args.out or tempfile.mkdtemp(prefix="pssr_nb_real_pairs_"))
    for name in args.sets:
        folder, low, high = SETS[name]
        pairs = pairs_of(DATA / folder, low, high)
        result = run(
            BenchmarkParams(data="semi-synthetic"),
            args.model,
            out / name,
            pairs=pairs,
            overwrite=True,
        )
        print(f"## {name}: {len(pairs)} pairs, {result.seconds:.0f} s")
        print(result.headline["text"])
        print("| method | PSNR (dB) | SSIM | grid excess (dB) | geometry errors |")
        print("|---|---|---|---|---|")
        for r in result.summary:
            print(
                f"| {r['method']} | {r['psnr_mean']:.2f} ± {r['psnr_sd']:.2f} "
                f"| {r['ssim_mean']:.3f} ± {r['ssim_sd']:.3f} | {r['grid_excess_db_mean']:+.2f} "
                f"| {r['geometry_errors']} |"
            )
        flagged = [r["level"] for r in result.flat_noise["rows"] if r["invents"]]
        print("flat field: invents at", flagged or "no level", f"(bar {result.flat_noise['bar']})")
        if result.uncertainty is not None:
            print("uncertainty:", result.uncertainty["against_trivial"]["verdict"])
        for w in result.warnings:
            print("warning:", w)
        print(f"report: {out / name / 'report.html'}\n")


if __name__ == "__main__":
    main()
