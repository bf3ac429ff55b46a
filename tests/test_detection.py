import numpy as np
import pytest
from scipy import ndimage

from pssr_nb.detection import match, object_detection
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
    assert rows["truth"]["f1"] > 0.85  # the detector itself works on this specimen
    assert rows["same"]["tp"] == rows["truth"]["tp"] and rows["same"]["fp"] == rows["truth"]["fp"]
    assert rows["invented"]["fp"] >= rows["truth"]["fp"] + len(far) // 2
    assert rows["blurred"]["fn"] > rows["truth"]["fn"] + rows["truth"]["objects"] // 2


def _object_like(ps, dtype):
    """A 40x40 patch holding one object like the phantom's, centred."""
    r = np.median([o["radius"] for o in ps.objects])
    yy, xx = np.mgrid[-20:20, -20:20]
    rho = np.hypot(yy, xx)
    if ps.objects[0]["shape"] == "ring":
        return (-0.45 * np.exp(-0.5 * ((rho - r) / 0.75) ** 2)).astype(dtype)
    return (0.6 * np.exp(-0.5 * (rho / r) ** 2)).astype(dtype)
