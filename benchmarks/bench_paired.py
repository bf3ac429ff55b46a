"""Train on real LR/HR pairs, or on crappified HR: which scores better on held-out real data?

Run from the repository root (needs ../shared/data)::

    python benchmarks/bench_paired.py --steps 2500 --seeds 0 1 2

The quality issue asks whether training directly on real pairs (``PairedDataset``)
should become a training mode or be deleted, "decided by measurement". This is that
measurement, on the one real pair set with LR and HR of the same field: the GigaDB
confocal pair (semi-synthetic x4: LR = the low-SNR image decimated by 4, reference =
the high-SNR image), split as in ``bench_transfer.py --held-out "GigaDB confocal"`` (train on columns 0-767, score
columns 768-1023 with ``pssr-nb benchmark``'s code, no TTA).

Two variants at the same step count, network, loss, batch, tile and schedule:

- ``crappified``: ``pssr_nb.train.run`` on the high-SNR image with the crappifier
  calibrated on the training pair (what pssr_nb does);
- ``pairs``: the same network trained on aligned crops of the real training pair
  (:class:`PairedDataset`, kept here: it left the library after this measurement), each side in the units prediction measures on a whole image
  (:func:`pssr_nb.units.input_normalization`), so the network sees at training what
  ``predict_image`` gives it.

Only the training differs; both final models (``model_last.pt`` of the crappified run, not
the one its validation picked) are scored by the same benchmark call. One JSON
line per run is appended to ``--jsonl``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_gigadb import FOLDER, held_out_pairs, score_held_out, training_region  # noqa: E402

from pssr_nb.data import (  # noqa: E402
    DIHEDRAL,
    Source,
    check_pair_shapes,
    check_tile,
    dihedral,
    frame_window,
)
from pssr_nb.errors import InputError  # noqa: E402
from pssr_nb.io import ImageData  # noqa: E402
from pssr_nb.losses import make_loss  # noqa: E402
from pssr_nb.model_file import TrainedModel  # noqa: E402
from pssr_nb.models import ResUNet, config_for  # noqa: E402
from pssr_nb.normalize import DEFAULT_PERCENTILES  # noqa: E402
from pssr_nb.sampling import flip_shift  # noqa: E402
from pssr_nb.train import TrainParams, effective_params, warmup_cosine  # noqa: E402
from pssr_nb.train import run as train  # noqa: E402
from pssr_nb.units import INPUT_SMOOTHING, input_normalization  # noqa: E402

SCALE = 4


class PairedDataset(torch.utils.data.Dataset):
    """Aligned random crops from real LR/HR pairs.

    Items are ``(lr, hr)`` float32 tensors ``(frames, t, t)`` and
    ``(1, t * scale, t * scale)``, each normalised by its own image's percentiles.
    Flips keep the sampling geometry: LR pixel ``i`` stays at HR ``scale * i + offset``.

    Parameters
    ----------
    pairs : list of (Source, Source)
        LR and HR sources, e.g. from :func:`load_pairs`.
    tile : int
        HR crop size (a multiple of ``scale``).
    scale : int
    offset : float
        HR position of LR pixel 0 in the real data (0 for a point scan; ``(scale - 1) / 2``
        for binned data). Must be a multiple of 0.5.
    frames, length, augment, seed
        As in :class:`HRDataset`.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[Source, Source]],
        tile: int = 128,
        scale: int = SCALE,
        offset: float = 0.0,
        frames: int = 1,
        length: int = 1024,
        augment: bool = True,
        seed: int = 0,
    ):
        check_pair_shapes(pairs, scale)
        if (2 * offset) % 1 or not 0 <= offset <= scale - 1:
            raise InputError(f"offset must be a multiple of 0.5 in [0, {scale - 1}], got {offset}.")
        for _, hr in pairs:
            check_tile(hr, tile, scale)
        self.pairs, self.tile, self.scale, self.offset = list(pairs), tile, scale, offset
        self.frames, self.length, self.augment, self.seed = frames, length, augment, seed

    def __len__(self) -> int:
        return self.length

    def _start(self, rng: np.random.Generator, n_lr: int, n_hr: int, shift: int) -> int:
        """A random LR crop start whose LR and shifted HR crops both fit."""
        s, t = self.scale, self.tile // self.scale
        low = -(shift // s) if shift < 0 else 0  # s * start + shift >= 0
        high = min(n_lr - t, (n_hr - s * t - shift) // s)
        if high < low:
            raise InputError(
                f"A pair is too small for tiles of {self.tile} px.", fix="Use a smaller tile size."
            )
        return int(rng.integers(low, high + 1))

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.seed, index])
        lr_src, hr_src = self.pairs[int(rng.integers(len(self.pairs)))]
        s, t = self.scale, self.tile // self.scale
        k = int(rng.integers(8)) if self.augment else 0
        fy, fx, _ = DIHEDRAL[k]
        # A flipped grid is shifted (sampling.flip_shift); start the HR crop so it lands back.
        shift = {
            ax: -flip_shift(s, self.offset) if flip else 0 for ax, flip in (("y", fy), ("x", fx))
        }
        (lh, lw), (hh, hw) = lr_src.plane_shape, hr_src.plane_shape
        ly = self._start(rng, lh, hh, shift["y"])
        lx = self._start(rng, lw, hw, shift["x"])
        n = lr_src.n_frames
        stack = int(rng.integers(lr_src.n_stacks))
        centre = int(rng.integers(n))
        lr = lr_src.crop(stack, frame_window(centre, self.frames, n), ly, lx, t, t)
        hr = hr_src.crop(stack, [centre], s * ly + shift["y"], s * lx + shift["x"], s * t, s * t)
        lr, hr = dihedral(lr, k), dihedral(hr, k)
        return torch.from_numpy(np.ascontiguousarray(lr)), torch.from_numpy(
            np.ascontiguousarray(hr)
        )


def train_on_pairs(
    lr: np.ndarray, hr: np.ndarray, params: TrainParams, offset: float, out: Path
) -> Path:
    """Train the preset of ``params`` on crops of one real pair; write ``model.pt``."""
    p = effective_params(params, torch.device("cpu"))
    torch.manual_seed(p.seed)
    units = {name: input_normalization(a) for name, a in (("lr", lr), ("hr", hr))}
    pair = (
        Source(ImageData(lr, "YX", {}), normalization=units["lr"]),
        Source(ImageData(hr, "YX", {}), normalization=units["hr"]),
    )
    data = PairedDataset([pair], tile=p.tile, scale=SCALE, offset=offset, length=1, seed=p.seed)
    net = ResUNet(config_for(p.preset, SCALE, offset=offset))
    loss_fn = make_loss(p.loss)
    optimizer = torch.optim.AdamW(net.parameters(), lr=p.learning_rate, weight_decay=p.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, p.steps)
    )
    net.train()
    for step in range(p.steps):
        items = [data[step * p.batch_size + i] for i in range(p.batch_size)]
        x = torch.stack([a for a, _ in items])
        y = torch.stack([b for _, b in items])
        loss = loss_fn(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if not math.isfinite(float(loss.detach())):
            raise SystemExit(f"loss is {float(loss)} at step {step}")
    model = TrainedModel(
        network=net.eval(),
        percentiles=DEFAULT_PERCENTILES,
        input_smoothing=INPUT_SMOOTHING,
        modality="confocal",
        origin="benchmarks/bench_paired.py (real pairs)",
    )
    out.mkdir(parents=True, exist_ok=True)
    return model.save(out / "model.pt")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2500)
    parser.add_argument("--variants", nargs="+", default=["pairs", "crappified"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jsonl", default="paired_runs.jsonl")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not FOLDER.is_dir():
        raise SystemExit(f"{FOLDER} not found: this benchmark needs ../shared/data")
    out = Path(args.out or tempfile.mkdtemp(prefix="pssr_nb_bench_paired_"))
    train_lr, train_hr, crappifier = training_region(SCALE)
    pairs = held_out_pairs(out / "held_out")
    for seed in args.seeds:
        for variant in args.variants:
            folder = out / f"{variant}_seed{seed}"
            params = TrainParams(scale=SCALE, steps=args.steps, seed=seed, modality="confocal")
            start = time.perf_counter()
            if variant == "pairs":
                model = train_on_pairs(train_lr, train_hr, params, crappifier.offset, folder)
            else:
                hr = [Source(ImageData(train_hr, "YX", {}, FOLDER / "mito-confocal_highsnr.png"))]
                train(params, hr, folder / "train", crappifier, progress=False)
                model = folder / "train" / "model_last.pt"  # both: the weights at the end
            wall = time.perf_counter() - start
            scores = score_held_out(model, folder / "benchmark", pairs)
            row = {
                "variant": variant,
                "seed": seed,
                "steps": args.steps,
                "train_wall_s": round(wall, 1),
                **{k: v for k, v in scores.items() if k != "summary"},
            }
            with open(args.jsonl, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(
                f"{variant} seed {seed}: {wall:.0f} s, {row['gain_db']:+.2f} dB, "
                f"SSIM {row['gain_ssim']:+.3f} over {row['best_baseline']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
