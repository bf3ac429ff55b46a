"""napari dock widgets for the three steps: predict, calibrate, train.

Each widget is thin: its settings come from the step's parameter dataclass
(:class:`~pssr_nb.napari_forms.SettingsForm`), and its action is one call into the
library that the notebooks and the CLI use (``predict_image``, ``calibrate_pairs``,
``start_or_resume``), run in a worker thread so that the viewer never freezes. A
worker reports progress through the library's own ``progress``/``callback`` hooks;
the cancel button makes the next report raise, which stops the call (a training
run keeps its checkpoint and continues on the next start). Needs the ``napari`` extra.
"""

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import napari.viewer
import numpy as np
from magicgui import widgets
from qtpy.QtCore import QObject, Signal
from superqt.utils import create_worker

from .calibrate import CalibrateParams, calibrate_lr_only, calibrate_pairs
from .data import Source
from .errors import InputError
from .io import middle_plane
from .model_choice import open_model
from .model_file import SAMPLE_MODELS
from .napari_forms import SettingsForm
from .napari_io import layer_image, read_layers
from .predict import Prediction, PredictParams, predict_image
from .tables import format_rows
from .train import StopTraining, TrainParams, preview_pair, resolve_crappifier, start_or_resume

__all__ = [
    "Cancelled",
    "CalibrateWidget",
    "PredictWidget",
    "TrainWidget",
    "output_layers",
]

NONE = "(none)"


class Cancelled(Exception):
    """Raised in a worker when the user pressed cancel."""


class _Relay(QObject):
    """Carries reports from a worker thread to the viewer's thread (queued Qt signals)."""

    progressed = Signal(int, int)
    row = Signal(object)
    image = Signal(object)


def placement(source: Any, offset: float, scale: int) -> dict[str, tuple[float, ...]]:
    """``scale`` and ``translate`` of a prediction layer that lies over its input layer.

    The output's pixel is the input's divided by ``scale`` along Y and X, and it is
    shifted so that HR pixel ``scale * i + offset`` lies on LR pixel ``i`` (the model's
    sampling geometry), whatever the input's own scale and translation.
    """
    hr_scale = np.asarray(source.scale, float).copy()
    hr_scale[-2:] /= scale
    translate = np.asarray(source.translate, float).copy()
    translate[-2:] -= offset * hr_scale[-2:]
    return {"scale": tuple(hr_scale), "translate": tuple(translate)}


def output_layers(source: Any, prediction: Prediction, offset: float, scale: int) -> list:
    """The layers of a prediction, placed over its input layer (see :func:`placement`).

    Returns
    -------
    list of (data, kwargs, "image")
        The prediction in the input's intensities and, with TTA, its uncertainty (hidden).
    """
    meta = dict(getattr(source, "metadata", {}) or {})
    meta.update(axes=prediction.axes, path=None)
    if prediction.pixel_size:
        meta["pixel_size"] = dict(prediction.pixel_size)
    common = {**placement(source, offset, scale), "metadata": meta}
    data = prediction.to_dtype("float32")
    lo, hi = np.percentile(data, (0.1, 99.9))
    name = f"{source.name} (pssr x{scale})"
    layers = [(data, {"name": name, "contrast_limits": (lo, hi + 1e-6), **common}, "image")]
    if prediction.uncertainty is not None:
        sd = (prediction.uncertainty * prediction.normalization.span).astype(np.float32)
        kwargs = {"name": f"{source.name} (pssr uncertainty)", "colormap": "magma"}
        layers.append((sd, {**kwargs, "visible": False, **common}, "image"))
    return layers


def is_lazy(layer: Any) -> bool:
    """Whether a layer is a pyramid or a lazily read (dask, Zarr) array, not pixels in memory."""
    return bool(getattr(layer, "multiscale", False)) or not isinstance(layer.data, np.ndarray)


class _StepWidget(widgets.Container):
    """Run and cancel buttons, a progress bar and a status line around one library call."""

    action = "Run"

    def __init__(self, viewer: Any, controls: list[widgets.Widget]):
        self.viewer = viewer
        self.run_button = widgets.PushButton(text=self.action)
        self.cancel_button = widgets.PushButton(text="Cancel", enabled=False)
        self.progress = widgets.ProgressBar(min=0, max=100, value=0, label="progress")
        self.status = widgets.Label(value="")
        super().__init__(
            widgets=[
                *controls,
                widgets.Container(
                    widgets=[self.run_button, self.cancel_button], layout="horizontal"
                ),
                self.progress,
                self.status,
            ]
        )
        self.worker: Any = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._relay = _Relay()
        self._relay.progressed.connect(self._show_progress)
        self.run_button.changed.connect(self.start)
        self.cancel_button.changed.connect(self.cancel)
        for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
            event.connect(lambda _event: self.reset_choices())

    def image_layers(self, _widget: Any = None) -> list[str]:
        """Names of the viewer's image layers (the choices of a layer dropdown)."""
        return [layer.name for layer in self.viewer.layers if layer._type_string == "image"]

    def layer(self, name: str) -> Any:
        if name not in self.viewer.layers:
            raise InputError(f"There is no layer {name!r}.", fix="Pick an image layer.")
        return self.viewer.layers[name]

    def job(self) -> Callable[[], Any]:
        """The call to run in the worker, made from the current settings (GUI thread)."""
        raise NotImplementedError

    def done(self, result: Any) -> None:
        """Show the result (GUI thread)."""

    def start(self, *_: Any) -> None:
        """Read the settings and run the step in a worker thread."""
        self.error = None
        try:
            job = self.job()
        except InputError as exc:
            self._fail(exc)
            return
        self._stop.clear()
        self.progress.value = 0
        self.status.value = f"{self.action}…"
        # errors go to the status line, not re-raised in the viewer's thread
        self.worker = create_worker(
            job,
            _start_thread=False,
            _connect={"returned": self.done, "errored": self._fail, "finished": self._finished},
        )
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.worker.start()

    def cancel(self, *_: Any) -> None:
        """Stop the running step at its next progress report."""
        self._stop.set()
        self.status.value = "Cancelling…"

    def report(self, done: int, total: int) -> None:
        """The library's ``progress`` hook (worker thread): raises once cancel was pressed."""
        if self._stop.is_set():
            raise Cancelled
        self._relay.progressed.emit(done, total)

    def _show_progress(self, done: int, total: int) -> None:
        self.progress.value = int(100 * done / max(total, 1))

    def _fail(self, exc: BaseException) -> None:
        self.error = exc
        if isinstance(exc, Cancelled):
            self.status.value = "Cancelled."
        elif isinstance(exc, InputError):
            self.status.value = f"{exc.problem} {exc.fix}".strip()
        else:  # a bug, not a bad input: the viewer's notification shows the traceback
            self.status.value = f"Failed: {type(exc).__name__}: {exc}"
            from napari.utils.notifications import show_error

            show_error(f"pssr_nb {self.action.lower()} failed: {type(exc).__name__}: {exc}")

    def _finished(self) -> None:
        self.run_button.enabled, self.cancel_button.enabled = True, False


class PredictWidget(_StepWidget):
    """Super-resolve an image layer; the result overlays it as a new layer.

    The model is a sample model or a file (a pssr_nb model, a PSSR2 ``.pth`` or an
    exported BioImage Model Zoo package); the settings are :class:`PredictParams`'.
    A layer held in memory goes through ``predict_image``. A lazily read one (an
    OME-Zarr pyramid or a huge TIFF opened by pssr_nb's reader) goes through
    ``predict_volume`` into an OME-Zarr image, block by block with the
    :class:`~pssr_nb.volume.VolumeParams` settings, and is opened lazily in turn (with
    its uncertainty under TTA); running it again continues an interrupted volume (it
    cannot be cancelled halfway).
    """

    action = "Predict"

    def __init__(self, viewer: napari.viewer.Viewer):
        self.viewer = viewer  # first: the layer dropdowns read it as they are made
        self.image = widgets.ComboBox(label="image", choices=self.image_layers)
        self.model = widgets.ComboBox(
            label="sample model", choices=list(SAMPLE_MODELS), tooltip="Used when no file is given."
        )
        self.model_file = widgets.FileEdit(
            label="model file", mode="r", nullable=True, filter="*.pt *.pth *.zip"
        )
        self.settings = SettingsForm(PredictParams, exclude=("suffix", "overwrite"))
        self.volume_out = widgets.FileEdit(
            label="volume output",
            mode="w",
            nullable=True,
            filter="*.ome.zarr",
            tooltip="For lazily read images: the OME-Zarr to write (default: beside the input).",
        )
        self.volume = _volume_settings()
        controls = [self.image, self.model, self.model_file, self.settings.container]
        if self.volume is not None:
            controls += [widgets.Label(value="large images (OME-Zarr)"), self.volume_out]
            controls.append(self.volume.container)
        super().__init__(viewer, controls)

    def job(self) -> Callable[[], Any]:
        params = self.settings.params()
        source = self.layer(self.image.value)
        name = self.model_file.value or self.model.value
        if is_lazy(source):
            return self._volume_job(source, name, params)
        image = layer_image(source)

        def run() -> tuple[Any, tuple[float, int], Prediction]:
            model = open_model(name)
            prediction = predict_image(model, image, params, progress=self.report)
            return source, (model.config.offset, model.config.scale), prediction

        return run

    def _volume_job(self, source: Any, name: Any, params: PredictParams) -> Callable[[], Any]:
        path = (getattr(source, "metadata", {}) or {}).get("path") or source.source.path
        if self.volume is None or not path:
            raise InputError(
                f"The layer {source.name!r} is read lazily"
                + ("" if path else " and does not come from a file")
                + "; it is predicted block by block into OME-Zarr"
                + ("" if self.volume is not None else ", which needs the scale extra")
                + ".",
                fix='pip install "pssr_nb[scale]", then open the image with pssr_nb\'s reader '
                "(File > Open, a .ome.zarr or .tif).",
            )
        from .volume import predict_volume

        volume = self.volume.params()
        out = self.volume_out.value or Path(path).with_name(
            Path(path).name.split(".")[0] + "_pssr.ome.zarr"
        )

        def run() -> tuple[Any, tuple[float, int], Path]:
            config = predict_volume(name, path, out, params, volume, progress=False)["model_config"]
            return source, (config["offset"], config["scale"]), Path(out)

        return run

    def done(self, result: tuple[Any, tuple[float, int], Any]) -> None:
        source, (offset, scale), prediction = result
        if isinstance(prediction, Path):  # a volume, opened lazily
            from .volume import UNCERTAINTY

            [(data, kwargs, _)] = read_layers(str(prediction))
            layers = [(data, {**kwargs, **placement(source, offset, scale)}, "image")]
            if (prediction / UNCERTAINTY).is_dir():  # with TTA
                [(sd, sd_kwargs, _)] = read_layers(str(prediction / UNCERTAINTY))
                sd_kwargs.update(placement(source, offset, scale), colormap="magma", visible=False)
                layers.append(
                    (sd, {**sd_kwargs, "name": f"{source.name} (pssr uncertainty)"}, "image")
                )
        else:
            layers = output_layers(source, prediction, offset, scale)
        added = [self.viewer.add_image(data, **kwargs) for data, kwargs, _ in layers]
        self.viewer.layers.selection.active = added[0]
        self.progress.value = 100
        self.status.value = f"Added {added[0].name}."


def _figure_canvas() -> tuple[Any, Any]:
    """A matplotlib figure in a Qt canvas, for a dock widget."""
    from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 2.6), dpi=80)
    canvas = FigureCanvasQTAgg(figure)
    canvas.setMinimumHeight(200)
    return figure, canvas


def _volume_settings() -> SettingsForm | None:
    """The block settings of chunked prediction, when the scale extra is installed."""
    try:
        import dask  # noqa: F401
        import zarr  # noqa: F401
    except ImportError:
        return None
    from .volume import VolumeParams

    return SettingsForm(VolumeParams)


class CalibrateWidget(_StepWidget):
    """Calibrate a crappifier from an LR layer and its HR layer (or the LR alone).

    Each layer's middle plane is used. The ranking table is shown and
    ``crappifier.json`` (with ``calibration.json``) is saved into the chosen folder,
    which must not hold a calibration already.
    """

    action = "Calibrate"

    def __init__(self, viewer: napari.viewer.Viewer):
        self.viewer = viewer  # first: the layer dropdowns read it as they are made
        self.lr = widgets.ComboBox(label="LR (fast scan)", choices=self.image_layers)
        self.hr = widgets.ComboBox(
            label="HR (same field)", choices=lambda _w: [NONE, *self.image_layers()]
        )
        self.settings = SettingsForm(CalibrateParams)
        self.folder = widgets.FileEdit(label="save into", mode="d", value="calibration")
        self.table = widgets.TextEdit(value="", label="ranking")
        self.table.native.setReadOnly(True)
        self.saved: Path | None = None
        super().__init__(
            viewer, [self.lr, self.hr, self.settings.container, self.folder, self.table]
        )

    def job(self) -> Callable[[], Any]:
        from .calibrate import check_free

        params = self.settings.params()
        folder = Path(self.folder.value)
        check_free(folder)
        lr = middle_plane(layer_image(self.layer(self.lr.value)))
        hr_name = self.hr.value
        hr = None if hr_name in (None, NONE) else middle_plane(layer_image(self.layer(hr_name)))

        def run() -> tuple[Any, Path]:
            if hr is None:
                calibration = calibrate_lr_only([lr], params, names=[self.lr.value])
            else:
                calibration = calibrate_pairs(
                    [(lr, hr)], params, names=[self.lr.value], progress=self.report
                )
            return calibration, calibration.save(folder)

        return run

    def done(self, result: tuple[Any, Path]) -> None:
        calibration, path = result
        self.saved = path
        text = format_rows(calibration.rows())
        if calibration.warnings:
            text += "\n\nCheck:\n" + "\n".join(f"- {w}" for w in calibration.warnings)
        self.table.value = text + "\n\nChosen:\n" + calibration.crappifier.describe()
        self.progress.value = 100
        self.status.value = f"Saved {path}."


class TrainWidget(_StepWidget):
    """Train on HR layers (or a folder of HR images) crappified on the fly.

    The settings are :class:`TrainParams`'. Runs go into numbered folders under
    ``runs``; after Stop, Train continues the interrupted run from its checkpoint
    (as the notebook's training cell does). The loss and the validation scores (model
    against the best baseline) are plotted and listed as they come, and the latest
    validation's prediction of a preview tile is shown as a layer.
    """

    action = "Train"
    PREVIEW = "training preview (latest validation)"
    #: Seconds between redraws of the curves for loss rows (a validation redraws at once).
    REDRAW_S = 2.0

    def __init__(self, viewer: napari.viewer.Viewer):
        self.viewer = viewer  # first: the layer dropdowns read it as they are made
        self.hr = widgets.Select(label="HR layers", choices=self.image_layers)
        self.hr_folder = widgets.FileEdit(label="or HR folder", mode="d", nullable=True)
        self.crappifier = widgets.FileEdit(
            label="crappifier", mode="r", nullable=True, filter="*.json"
        )
        self.runs = widgets.FileEdit(label="runs folder", mode="d", value="pssr_nb_runs")
        self.settings = SettingsForm(TrainParams)
        self.log = widgets.TextEdit(value="", label="log")
        self.log.native.setReadOnly(True)
        self.result: Any = None
        super().__init__(
            viewer,
            [
                self.hr,
                self.hr_folder,
                self.crappifier,
                self.runs,
                widgets.Container(widgets=[self.settings.container], scrollable=True),
                self.log,
            ],
        )
        self.cancel_button.text = "Stop"
        self.rows: list[dict[str, Any]] = []
        self._drawn_at = 0.0
        self.figure, canvas = _figure_canvas()
        self.native.layout().insertWidget(len(self) - 3, canvas)  # above the buttons
        self._relay.row.connect(self._show_row)
        self._relay.image.connect(self._show_preview)
        self._preview_scale: tuple[float, ...] = (1.0, 1.0)

    def job(self) -> Callable[[], Any]:
        params = self.settings.params()
        crappifier = resolve_crappifier(self.crappifier.value, params.scale)
        if self.hr.value:
            layers = [self.layer(name) for name in self.hr.value]
            hr: Any = [Source(layer_image(layer)) for layer in layers]
            self._preview_scale = tuple(layers[0].scale[-2:])
        elif self.hr_folder.value:
            hr = str(self.hr_folder.value)
        else:
            raise InputError(
                "No training images: pick HR layers or an HR folder.",
                fix="Select one or more image layers (ctrl-click for several), or a folder.",
            )
        _, lr_tile = preview_pair(hr, crappifier, tile=256, seed=params.seed)
        runs = Path(self.runs.value)
        self.log.value = ""
        self.rows = []

        def on_validate(model: Any, row: dict[str, Any]) -> dict[str, Any]:
            preview = predict_image(model, lr_tile, PredictParams(tta=False, device=params.device))
            self._relay.image.emit(preview.data)
            return {}

        def callback(row: dict[str, Any]) -> None:
            if self._stop.is_set():
                raise StopTraining
            self._relay.row.emit(row)
            if params.steps:
                self._relay.progressed.emit(row["step"], params.steps)
            else:
                self._relay.progressed.emit(int(row["seconds"]), int(params.minutes * 60))

        def run() -> Any:
            return start_or_resume(
                params, hr, runs, crappifier, callback, progress=False, on_validate=on_validate
            )

        return run

    def _show_row(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        now = time.monotonic()
        if row.get("kind") == "val" or now - self._drawn_at >= self.REDRAW_S:
            self._drawn_at = now
            self.draw_curves()
        if row.get("kind") == "val":
            line = (
                f"step {row['step']}: model {row['val_psnr']:.2f} dB, best baseline "
                f"{row['baseline_psnr']:.2f} dB, gain {row['gain_db']:+.2f} dB"
            )
            self.log.value = (self.log.value + "\n" + line).strip()
        else:
            self.status.value = f"step {row['step']}, loss {row['loss']:.4f}"

    def draw_curves(self) -> None:
        """Redraw the loss and validation curves of the rows seen so far."""
        from .plotting import training_curves

        training_curves(self.rows, fig=self.figure)
        self.figure.canvas.draw_idle()

    def _show_preview(self, image: np.ndarray) -> None:
        if self.PREVIEW in self.viewer.layers:
            self.viewer.layers[self.PREVIEW].data = image
            return
        # a crop from anywhere in the training images: shown beside them, not over them
        right = float(self.viewer.layers.extent.world[1][-1])
        step = self._preview_scale[-1]
        self.viewer.add_image(
            image, name=self.PREVIEW, scale=self._preview_scale, translate=(0.0, right + 8 * step)
        )

    def done(self, result: Any) -> None:
        self.result = result
        self.draw_curves()
        best = result.summary["best"]
        stopped = result.summary.get("stopped", "finished")
        self.progress.value = 100 if stopped == "finished" else self.progress.value
        self.status.value = (
            f"{stopped}: best at step {best['step']}, {best['gain_db']:+.2f} dB over the best "
            f"baseline; model in {result.out_dir / 'model_best.pt'}"
            + (" (Train continues this run)" if stopped != "finished" else "")
        )
