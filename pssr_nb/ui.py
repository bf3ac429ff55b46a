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
import typing
from typing import Any

from .errors import InputError
from .params import base_type


def _widget_for(field: dataclasses.Field, kind: Any, value: Any):
    import ipywidgets as w

    common = {"description": field.name.replace("_", " "), "style": {"description_width": "10em"}}
    choices = field.metadata.get("choices")
    if choices:
        return w.Dropdown(options=list(choices), value=value, **common)
    if kind is bool:
        return w.Checkbox(value=bool(value), indent=True, **common)
    if kind is int:
        return w.IntText(value=int(value), **common)
    if kind is float:
        return w.FloatText(value=float(value), **common)
    if typing.get_origin(kind) is tuple:
        return w.Text(value=", ".join(map(str, value)), **common)
    return w.Text(value="" if value is None else str(value), **common)


class Form:
    """A form for the parameter dataclass ``cls``.

    Parameters
    ----------
    cls : type
        A parameter dataclass (fields declared with :func:`pssr_nb.params.param`).
    **values
        Starting values that replace the defaults (e.g. a smaller budget in quick mode).

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
        self._hints = typing.get_type_hints(cls)
        defaults = dataclasses.asdict(cls())
        unknown = set(values) - set(defaults)
        if unknown:
            raise InputError(f"{cls.__name__} has no setting(s) {sorted(unknown)}.")
        self._fields = {f.name: f for f in dataclasses.fields(cls)}
        self.widgets = {
            name: _widget_for(f, base_type(self._hints[name]), values.get(name, defaults[name]))
            for name, f in self._fields.items()
        }

    def set(self, **values: Any) -> None:
        """Change values as a learner would (used by tests and by notebook presets)."""
        for name, value in values.items():
            if name not in self.widgets:
                raise InputError(f"{self.cls.__name__} has no setting {name!r}.")
            kind = base_type(self._hints[name])
            if typing.get_origin(kind) is tuple:
                value = ", ".join(map(str, value))
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
            kind = base_type(self._hints[name])
            value = widget.value
            if typing.get_origin(kind) is tuple:
                item = typing.get_args(kind)[0]
                try:
                    value = tuple(item(v.strip()) for v in str(value).split(",") if v.strip())
                except ValueError:
                    raise InputError(
                        f"The setting '{name}' must be a comma-separated list of {item.__name__}s, got {value!r}."
                    ) from None
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

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.box())
