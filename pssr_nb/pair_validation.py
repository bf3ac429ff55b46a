"""Score real LR/HR pairs at every validation, the way users predict and the benchmark scores.

The crappified held-out regions of a run measure how well the network undoes the
crappifier; they cannot say whether the crappifier matches the microscope. When
the user has real pairs (an LR scan and an HR scan of the same field), each
validation runs the whole LR images through :func:`~pssr_nb.predict.predict_image`
(their own input units, the same tiling) and scores them on the benchmark's
scoreboard (:mod:`pssr_nb.benchmark`: CARE normalisation, every baseline, the
Gaussian tuned leave-one-out), so the number in the log is the number users get,
and the best model of the run is chosen by it. Test-time augmentation is off here
(8 times faster); the benchmark adds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .benchmark import (
    BenchmarkParams,
    add_baselines,
    file_cases,
    gain_over_best_baseline,
    match_files,
    score_cases,
)
from .errors import InputError
from .model_file import TrainedModel

__all__ = ["COLUMNS", "PairValidation"]

#: The columns a pair validation adds to a validation row.
COLUMNS = ("pairs_psnr", "pairs_baseline_psnr", "pairs_gain_db", "pairs_gain_ssim")


class PairValidation:
    """A validation hook (see :func:`pssr_nb.train.run`) that scores real pairs.

    Parameters
    ----------
    lr, hr : str or Path
        Folders (or files) of LR and HR images, paired by name.
    semi_synthetic : bool
        The "LR" images are low-SNR scans at the HR pixel size (as in notebook 01's
        low/high-SNR pairs): they are decimated by the model's scale first.
    device : str
        Where the prediction runs.
    """

    def __init__(
        self,
        lr: str | Path,
        hr: str | Path,
        semi_synthetic: bool = False,
        device: str = "auto",
    ):
        self.params = BenchmarkParams(
            data="semi-synthetic" if semi_synthetic else "pairs", tta=False, device=device
        )
        self.pairs = match_files(lr, hr, self.params)
        if not self.pairs:
            raise InputError(
                "No LR and HR images with matching names to validate on.",
                path=lr,
                fix="Give folders whose LR and HR files share names (a.tif in both), or "
                "leave val_lr and val_hr empty.",
            )
        self.baseline = ""
        # The baselines' score rows by the model's (scale, offset), the only model facts
        # they depend on: they are the same at every validation of a run, and tuning and
        # scoring them costs far more than predicting (18 s against 0.3 s on a 1024 x 768
        # pair), which a time-budgeted run would otherwise spend on them again and again.
        self._baseline_rows: dict[tuple[int, float], list[dict[str, Any]]] = {}

    def prepare(self, model: TrainedModel) -> list[dict[str, Any]]:
        """The baselines' score rows for ``model``'s scale and offset, tuned and scored once.

        A call does this when it is needed; a training run calls it before its first
        validation, so that the one-off cost is not taken for the cost of every validation.
        """
        key = (model.config.scale, float(model.config.offset))
        if key not in self._baseline_rows:
            cases = file_cases(model, self.params, self.pairs)
            add_baselines(cases, model, self.params)
            rows = score_cases(cases, self.params)
            self._baseline_rows[key] = [r for r in rows if r["method"] != "model"]
        return self._baseline_rows[key]

    def __call__(self, model: TrainedModel, row: dict[str, Any]) -> dict[str, float]:
        baselines = self.prepare(model)
        rows = score_cases(file_cases(model, self.params, self.pairs), self.params) + baselines
        psnr = gain_over_best_baseline(rows, "psnr")
        ssim = gain_over_best_baseline(rows, "ssim")
        self.baseline = psnr["best_baseline"]

        def mean(method: str) -> float:
            return float(np.mean([r["psnr"] for r in rows if r["method"] == method]))

        return {
            "pairs_psnr": round(mean("model"), 4),
            "pairs_baseline_psnr": round(mean(self.baseline), 4),
            "pairs_gain_db": psnr["gain_mean"],
            "pairs_gain_ssim": ssim["gain_mean"],
        }
