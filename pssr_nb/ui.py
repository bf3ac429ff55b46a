"""Notebook forms built from parameter dataclasses (core ipywidgets only).

A :class:`Form` shows one widget per field of a parameter dataclass (see
:mod:`pssr_nb.params`), with the field's help text beside it. It only
*collects* values: the next ordinary notebook cell calls ``form.params()`` and
passes the result to the step's ``run`` function. A notebook therefore runs
unchanged headless (the defaults) and in a browser (what the learner set).

Works with ipywidgets 7.7 (Colab) and 8.x; no custom or third-party widgets.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .errors import InputError
from .params import as_text, form_kinds, starting_values, value_from_text

__all__ = ["Form", "LivePlot", "Viewer"]


def _widget_for(field: dataclasses.Field, kind: str, value: Any):
    import ipywidgets as w

    common = {"description": field.name.replace("_", " "), "style": {"description_width": "10em"}}
    if kind == "choice":
        return w.Dropdown(options=list(field.metadata["choices"]), value=value, **common)
    if kind == "bool":
        return w.Checkbox(value=bool(value), indent=True, **common)
    if kind == "int":
        return w.IntText(value=int(value), **common)
    if kind == "float":
        return w.FloatText(value=float(value), **common)
    return w.Text(value=as_text(value), **common)


class Form:
    """A form for the parameter dataclass ``cls``.

    Parameters
    ----------
    cls : type
        A parameter dataclass (fields declared with :func:`pssr_nb.params.param`).
    **values
        Starting values that replace the defaults. In quick mode (``PSSR_NB_QUICK=1``,
        CI) the form starts from ``cls.QUICK`` (smaller sizes and budgets) under them.

    Examples
    --------
    >>> from pssr_nb.train import TrainParams
    >>> form = Form(TrainParams, minutes=1.0)
    >>> form.set(preset="medium")
    >>> form.params().preset, form.params().minutes
    ('medium', 1.0)
    """

    def __init__(self, cls: type, **values: Any):
        self.cls = cls
        self._kinds = form_kinds(cls)
        defaults = dataclasses.asdict(cls())
        values = {**starting_values(cls), **values}
        unknown = set(values) - set(defaults)
        if unknown:
            raise InputError(f"{cls.__name__} has no setting(s) {sorted(unknown)}.")
        self._fields = {f.name: f for f in dataclasses.fields(cls)}
        self.widgets = {
            name: _widget_for(f, self._kinds[name], values.get(name, defaults[name]))
            for name, f in self._fields.items()
        }

    def set(self, **values: Any) -> None:
        """Change values as a learner would (used by tests and by notebook presets)."""
        for name, value in values.items():
            if name not in self.widgets:
                raise InputError(f"{self.cls.__name__} has no setting {name!r}.")
            if self._kinds[name] == "tuple":
                value = as_text(value)
            self.widgets[name].value = value

    def params(self) -> Any:
        """The dataclass instance for the current values.

        Raises
        ------
        InputError
            When a text field cannot be read as the type the setting needs.
        """
        values = {}
        for name, widget in self.widgets.items():
            value = widget.value
            if self._kinds[name] == "tuple":
                value = value_from_text(self.cls, name, value)
            values[name] = value
        return self.cls(**values)

    def box(self):
        """The widgets with their help texts, as one ipywidgets container."""
        import ipywidgets as w

        rows = [
            w.HBox(
                [
                    widget,
                    w.HTML(
                        f"<span style='color:#555'>{self._fields[n].metadata.get('help', '')}</span>"
                    ),
                ]
            )
            for n, widget in self.widgets.items()
        ]
        return w.VBox(rows)

    def live(self, preview):
        """The form with a preview that redraws as values change: ``preview(self.params())``.

        For cheap previews only; call ``preview(form.params())`` once directly too, so
        errors show where widgets do not run.
        """
        import ipywidgets as w

        def redraw(**_):
            preview(self.params())

        return w.VBox([self.box(), w.interactive_output(redraw, self.widgets)])

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box())


class Viewer:
    """Inline-matplotlib viewer with sliders: one per leading axis (T, Z, C), plus zoom.

    All images share their leading axes (for instance an LR stack and its
    prediction); their Y and X sizes may differ, and the zoom window always
    shows the same field of view in each, so zooming is synchronised.

    Parameters
    ----------
    images : mapping of title to ndarray
        Arrays with axes ``axes`` (Y and X last).
    axes : str or sequence of str
        Axes of the arrays, e.g. ``"ZYX"`` or ``("step", "tile", "Y", "X")``;
        default: ``"YX"`` with unnamed leading axes.
    ncols : int
        Panels per row.
    captions : dict, optional
        Per leading axis, a label for each position (e.g. the training step of each
        validation), shown in the figure title.

    Examples
    --------
    >>> import numpy as np
    >>> viewer = Viewer({"stack": np.zeros((5, 16, 16))}, axes="ZYX")
    >>> sorted(viewer.controls)
    ['Z', 'x', 'y', 'zoom']
    >>> viewer.plane("stack", Z=2).shape
    (16, 16)
    """

    def __init__(self, images, axes=None, ncols: int = 3, captions=None):
        import numpy as np

        self.images = {k: np.asarray(v) for k, v in images.items()}
        ndims = {v.ndim for v in self.images.values()}
        leads = {v.shape[:-2] for v in self.images.values()}
        if len(ndims) != 1 or len(leads) != 1:
            raise InputError(
                "The viewer's images must share their leading axes (T, Z, C); got shapes "
                + ", ".join(str(v.shape) for v in self.images.values())
            )
        ndim = ndims.pop()
        self.axes = list(axes) if axes else [f"axis {i}" for i in range(ndim - 2)] + ["Y", "X"]
        if len(self.axes) != ndim or self.axes[-2:] != ["Y", "X"]:
            raise InputError(f"axes {axes!r} do not fit arrays of {ndim} dimensions ending in YX.")
        self.ncols = ncols
        self.captions = captions or {}
        self.lead = dict(zip(self.axes[:-2], leads.pop(), strict=True))
        self.controls = self._controls()

    def _controls(self) -> dict[str, Any]:
        import ipywidgets as w

        sliders = {
            ax: w.IntSlider(value=n // 2, min=0, max=n - 1, description=ax, continuous_update=False)
            for ax, n in self.lead.items()
        }
        sliders["zoom"] = w.FloatLogSlider(
            value=1, base=2, min=0, max=4, step=0.25, description="zoom"
        )
        sliders["y"] = w.FloatSlider(value=0.5, min=0, max=1, step=0.01, description="centre y")
        sliders["x"] = w.FloatSlider(value=0.5, min=0, max=1, step=0.01, description="centre x")
        return sliders

    def plane(self, name: str, **index: int):
        """The 2-D plane of image ``name`` at the given leading-axis positions (default: middle)."""
        image = self.images[name]
        at = tuple(index.get(ax, n // 2) for ax, n in self.lead.items())
        return image[at]

    def draw(self, zoom: float = 1.0, y: float = 0.5, x: float = 0.5, **index: int):
        """Draw the panels for these slider values (called by the sliders; call once directly)."""
        import matplotlib.pyplot as plt

        from .plotting import image_grid

        planes = {name: self.plane(name, **index) for name in self.images}
        where = ", ".join(
            f"{ax} {self.captions[ax][i]}" if ax in self.captions else f"{ax}={i}"
            for ax, i in ((ax, index.get(ax, n // 2)) for ax, n in self.lead.items())
        )
        fig = image_grid(planes, ncols=self.ncols, zoom=zoom, centre=(y, x))
        if where:
            fig.suptitle(where, fontsize=9)
            fig.tight_layout()
        plt.show()
        return fig

    def box(self):
        """Sliders and the figure they drive, as one ipywidgets container."""
        import ipywidgets as w

        out = w.interactive_output(self.draw, self.controls)
        return w.VBox(
            [
                w.HBox(list(self.controls.values())[:3]),
                w.HBox(list(self.controls.values())[3:]),
                out,
            ]
        )

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box())


class LivePlot:
    """A training callback that redraws the loss and validation curves as training runs.

    Pass it as ``callback`` to :func:`pssr_nb.train.run`. It redraws at most every
    ``every_s`` seconds and at every validation, through an IPython display
    handle (plain inline matplotlib: works in Jupyter, Colab and headless).
    """

    def __init__(self, every_s: float = 10.0):
        self.rows: list[dict[str, Any]] = []
        self.every_s = every_s
        self._last = 0.0
        self._handle = None
        self._fig = None

    def __call__(self, row: dict[str, Any]) -> None:
        import time

        self.rows.append(row)
        now = time.monotonic()
        if row["kind"] == "val" or now - self._last >= self.every_s:
            self._last = now
            self.redraw()

    def redraw(self) -> None:
        """Draw the curves of the rows seen so far."""
        import matplotlib.pyplot as plt
        from IPython.display import display

        from .plotting import training_curves

        if self._fig is None:
            self._fig = plt.figure(figsize=(9, 3))
            plt.close(self._fig)  # shown through the handle only, not again at cell end
        training_curves(self.rows, fig=self._fig)
        if self._handle is None:
            self._handle = display(self._fig, display_id=True)
        else:
            self._handle.update(self._fig)
