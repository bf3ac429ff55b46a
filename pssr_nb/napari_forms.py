"""napari widgets for a step's settings, built from its parameter dataclass.

The napari twin of :class:`pssr_nb.ui.Form`: one magicgui widget per field of a
parameter dataclass (see :mod:`pssr_nb.params`), its help text as the tooltip, its
choices as a dropdown and its bounds on the spin box. A field added to a dataclass
therefore appears in the CLI, the notebook form and the napari widget alike. Needs the
``napari`` extra (magicgui and a Qt binding).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from magicgui import widgets

from .errors import InputError
from .params import as_text, form_kinds, value_from_text

__all__ = ["SettingsForm"]

#: Qt spin boxes hold 32-bit integers.
_INT_LIMIT = 2**31 - 1


def _widget_for(field: dataclasses.Field, kind: str, value: Any) -> widgets.Widget:
    meta = field.metadata
    common = {"name": field.name, "label": field.name.replace("_", " "), "tooltip": meta["help"]}
    if kind == "choice":
        return widgets.ComboBox(choices=list(meta["choices"]), value=value, **common)
    if kind == "bool":
        return widgets.CheckBox(value=bool(value), **common)
    if kind == "int":
        low = meta.get("minimum", meta["above"] + 1 if "above" in meta else -_INT_LIMIT)
        high = meta.get("maximum", _INT_LIMIT)
        return widgets.SpinBox(value=int(value), min=int(low), max=int(high), **common)
    # Floats as text too: a spin box rounds to its decimals (a learning rate of 3e-4 to 0).
    return widgets.LineEdit(value=as_text(value), **common)


class SettingsForm:
    """A magicgui container for the parameter dataclass ``cls``.

    Parameters
    ----------
    cls : type
        A parameter dataclass (fields declared with :func:`pssr_nb.params.param`).
    exclude : tuple of str
        Fields not shown (they keep their defaults), e.g. output-file names that a
        napari layer does not have.
    **values
        Starting values that replace the defaults.

    Examples
    --------
    >>> from pssr_nb.predict import PredictParams
    >>> form = SettingsForm(PredictParams, exclude=("suffix", "overwrite"), tile=256)
    >>> form.params().tile, "suffix" in form.widgets
    (256, False)
    """

    def __init__(self, cls: type, exclude: tuple[str, ...] = (), **values: Any):
        self.cls = cls
        kinds = form_kinds(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = set(values) - set(fields)
        if unknown:
            raise InputError(f"{cls.__name__} has no setting(s) {sorted(unknown)}.")
        defaults = dataclasses.asdict(cls())
        self.widgets = {
            name: _widget_for(f, kinds[name], values.get(name, defaults[name]))
            for name, f in fields.items()
            if name not in exclude
        }
        self._kinds = {name: kinds[name] for name in self.widgets}
        self.container = widgets.Container(widgets=list(self.widgets.values()), labels=True)

    def set(self, **values: Any) -> None:
        """Change values as a user would (used by tests)."""
        for name, value in values.items():
            if name not in self.widgets:
                raise InputError(f"{self.cls.__name__} has no setting {name!r} in this form.")
            if isinstance(self.widgets[name], widgets.LineEdit):
                value = as_text(value)
            self.widgets[name].value = value

    def params(self) -> Any:
        """The dataclass instance for the current values.

        Raises
        ------
        InputError
            When an entry cannot be read as its setting's type, or breaks a bound or rule.
        """
        values = {}
        for name, widget in self.widgets.items():
            value = widget.value
            if isinstance(widget, widgets.LineEdit) and self._kinds[name] != "text":
                value = value_from_text(self.cls, name, value)
            values[name] = value
        return self.cls(**values)
