"""Traced lines: each bad model is caught by the check meant for it, the truth and HR scan pass."""

import numpy as np
import pytest

from pssr_nb.bad_models import over_sharpen, paint, specimen_detail
from pssr_nb.phantoms import MICROSCOPES, simulate
from pssr_nb.structure import Lines, betti, judge, structure_check

MICROSCOPE = {"em": "sem", "fluorescence": "confocal"}


@pytest.fixture(scope="module", params=["em", "fluorescence"])
def traced(request):
    specimen = request.param
    ps = simulate(specimen, (192, 192), 4, seed=3, microscope=MICROSCOPE[specimen])
    hr = ps.normalization("hr").apply(ps.hr)
    detail = specimen_detail(specimen, hr.shape, 40, MICROSCOPE[specimen])
    outputs = {"HR scan": hr, "painter": paint(hr, detail), "sharpened": over_sharpen(hr)}
    lines = Lines.of_specimen(specimen, MICROSCOPES[MICROSCOPE[specimen]])
    result = structure_check(outputs, ps.truth, lines)
    return result, {r["method"]: r for r in judge([result["rows"]], "HR scan")}


def test_the_truth_and_the_hr_scan_trace_the_truths_lines(traced):
    _, rows = traced
    for method in ("truth", "HR scan"):
        assert rows[method]["precision"] > 0.95 and rows[method]["recall"] > 0.9, rows[method]
        assert not rows[method]["invents"] and not rows[method]["loses"]


@pytest.mark.parametrize("bad", ["painter", "sharpened"])
def test_painted_and_over_sharpened_lines_are_invented(traced, bad):
    result, rows = traced
    assert rows[bad]["invents"], rows[bad]
    assert result["maps"][bad]["invented"].sum() > 3 * result["maps"]["HR scan"]["invented"].sum()


def test_betti_counts_pieces_and_enclosed_regions():
    ring = np.zeros((40, 40), bool)
    ring[10, 10:30] = ring[29, 10:30] = ring[10:30, 10] = ring[10:30, 29] = True
    assert betti(ring) == (1, 1)
    split = ring.copy()
    split[10:30, 20] = True  # an invented wall splits the region
    assert betti(split) == (1, 2)
    broken = ring.copy()
    broken[10, 15:18] = False  # a break opens it
    assert betti(broken) == (1, 0)
    assert betti(np.zeros((8, 8), bool)) == (0, 0)


def test_judge_flags_a_real_drop_but_not_noise():
    def rows(p_model, r_model):
        return [{"method": "ref", "precision": 0.8, "recall": 0.7},
                {"method": "model", "precision": p_model, "recall": r_model}]  # fmt: skip

    same = judge([rows(0.79, 0.71), rows(0.81, 0.69), rows(0.80, 0.70)], "ref", ("precision",))
    assert not any(r["invents"] or r["loses"] for r in same)
    worse = {r["method"]: r for r in judge([rows(0.6, 0.7), rows(0.62, 0.68)], "ref", ())}
    assert worse["model"]["invents"] and not worse["model"]["loses"]
    with pytest.raises(ValueError, match="reference"):
        judge([rows(0.8, 0.7)], "bicubic")
