"""Teaching numbers on phantoms agree with physics (notebook 01)."""

import pytest

from pssr_nb.lessons import sampling_table, shot_noise_table
from pssr_nb.phantoms import simulate
from pssr_nb.tables import format_rows


def test_measured_snr_follows_poisson_statistics():
    rows, scans = shot_noise_table(simulate("em", (128, 128), 4), [1.0, 4.0, 16.0])
    for row in rows:
        assert row["measured_snr"] == pytest.approx(row["expected_snr"], rel=0.1)
    # four times the dwell, twice the SNR
    assert rows[1]["measured_snr"] / rows[0]["measured_snr"] == pytest.approx(2, rel=0.15)
    assert rows[2]["measured_snr"] / rows[1]["measured_snr"] == pytest.approx(2, rel=0.15)
    assert list(scans) == ["1 µs", "4 µs", "16 µs"]


def test_confocal_hr_meets_nyquist_and_lr_does_not():
    hr, lr = sampling_table(simulate("fluorescence", (64, 64), 4))
    assert hr["nyquist"] and not lr["nyquist"]
    assert lr["pixels_per_fwhm"] == pytest.approx(220 / 160, abs=0.01)
    assert "pixels_per_fwhm" in format_rows([hr, lr]).splitlines()[0]
