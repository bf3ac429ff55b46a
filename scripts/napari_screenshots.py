"""Screenshots of the napari widgets for docs/ (needs the napari extra and a display).

Usage, on a machine without a screen (Debian: ``apt-get install xvfb``)::

    xvfb-run -a python scripts/napari_screenshots.py

Opens the EM phantom sample, docks each widget the way a user would (Plugins menu),
runs the prediction and a short calibration, and writes ``docs/napari_predict.png``,
``docs/napari_calibrate.png`` and ``docs/napari_train.png``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import napari
from qtpy.QtWidgets import QApplication

DOCS = Path(__file__).resolve().parents[1] / "docs"


def settle(widget=None, timeout: float = 300.0) -> None:
    """Let the event loop run until the widget's worker is done."""
    end = time.time() + timeout
    while time.time() < end:
        QApplication.processEvents()
        if widget is None or widget.run_button.enabled:
            break
        time.sleep(0.05)
    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.02)


def main() -> None:
    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1400, 900)
    viewer.open_sample("pssr_nb", "em_phantom")
    lr = "em phantom LR (fast scan)"

    _, predict = viewer.window.add_plugin_dock_widget("pssr_nb", "Predict")
    predict.image.value = lr
    predict.settings.set(tta=True)
    predict.start()
    settle(predict)
    viewer.layers["em phantom HR (slow scan)"].visible = False
    viewer.reset_view()
    settle()
    viewer.screenshot(str(DOCS / "napari_predict.png"), canvas_only=False)
    viewer.window.remove_dock_widget("all")

    _, calibrate = viewer.window.add_plugin_dock_widget("pssr_nb", "Calibrate")
    calibrate.lr.value = lr
    calibrate.hr.value = "em phantom HR (slow scan)"
    calibrate.settings.set(trials=4, blur=False)
    calibrate.folder.value = Path(tempfile.mkdtemp()) / "calibration"
    calibrate.start()
    settle(calibrate)
    viewer.screenshot(str(DOCS / "napari_calibrate.png"), canvas_only=False)
    viewer.window.remove_dock_widget("all")

    _, train = viewer.window.add_plugin_dock_widget("pssr_nb", "Train")
    train.hr.value = ["em phantom HR (slow scan)"]
    train.runs.value = Path(tempfile.mkdtemp()) / "runs"
    train.settings.set(steps=300, tile=64, batch_size=4, validations=5)
    train.start()
    settle(train)
    viewer.reset_view()
    settle()
    viewer.screenshot(str(DOCS / "napari_train.png"), canvas_only=False)
    for name in ("predict", "calibrate", "train"):
        print(f"wrote {DOCS / f'napari_{name}.png'}")
    viewer.close()


if __name__ == "__main__":
    main()
