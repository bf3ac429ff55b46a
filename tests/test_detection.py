import numpy as np
import pytest
from scipy import ndimage

from pssr_nb.detection import average_precision, match, object_detection
from pssr_nb.phantoms import simulate


def test_match_counts_true_false_positives_and_misses():
    truth = np.array([[10.0, 10.0], [30.0, 30.0], [50.0, 50.0]])
    found = np.array([[11.0, 10.0], [30.0, 31.0], [80.0, 80.0]])
    assert match(found, truth, 2.0) == (2, 1, 1)
    assert match(np.empty((0, 2)), truth, 2.0) == (0, 0, 3)


@pytest.mark.parametrize("specimen", ["em", "fluorescence"])
def test_detector_finds_known_objects_and_counts_invented_and_lost_ones(specimen):
    ps = simulate(specimen, (256, 256), 4, seed=3)
    truth = ps.truth
    # invent bright spots / dark rings where there are none, and blur the real ones away
    invented = truth.copy()
    far = [(y, x) for y in range(40, 220, 45) for x in range(40, 220, 45)]
    far = [p for p in far if min(np.hypot(o["y"] - p[0], o["x"] - p[1]) for o in ps.objects) > 15]
    for y, x in far:
        invented[y - 20 : y + 20, x - 20 : x + 20] += _object_like(ps, truth.dtype)
    result = object_detection(
        {"same": truth, "invented": invented, "blurred": ndimage.gaussian_filter(truth, 6)},
        truth,
        ps.objects,
    )
    rows = {r["method"]: r for r in result["rows"]}
    assert rows["truth"]["best_f1"] > 0.85  # the detector itself works on this specimen
    assert {**rows["same"], "method": "truth"} == rows["truth"]
    invented, blurred = rows["invented"], rows["blurred"]
    assert invented["precision"] < rows["truth"]["precision"] - 0.1 or invented["ap"] < 0.8
    assert blurred["ap"] < rows["truth"]["ap"] - 0.3 and blurred["recall"] < 0.7
    curve = result["curves"]["truth"]
    assert len(curve["recall"]) == len(curve["precision"]) and max(curve["recall"]) > 0.85


def test_average_precision_of_a_perfect_and_a_useless_detector():
    assert average_precision(np.array([0.5, 1.0]), np.array([1.0, 1.0])) == pytest.approx(1.0)
    assert average_precision(np.array([0.0, 1.0]), np.array([1.0, 0.1])) == pytest.approx(0.1)


def _object_like(ps, dtype):
    """A 40x40 patch holding one object like the phantom's, centred."""
    r = np.median([o["radius"] for o in ps.objects])
    yy, xx = np.mgrid[-20:20, -20:20]
    rho = np.hypot(yy, xx)
    if ps.objects[0]["shape"] == "ring":
        return (-0.45 * np.exp(-0.5 * ((rho - r) / 0.75) ** 2)).astype(dtype)
    return (0.6 * np.exp(-0.5 * (rho / r) ** 2)).astype(dtype)
