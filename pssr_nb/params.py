"""Parameter dataclasses shared by notebook forms, the command line and tests.

Each step of the workflow declares its settings once, as a dataclass whose
fields carry a default and a help text (see :func:`param`). The CLI turns the
fields into flags and the notebook forms into widgets; both then call the same
``run(params, ...)`` function.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import numbers
import os
import types
import typing
from typing import Any

from .errors import InputError

__all__ = [
    "Checked",
    "add_arguments",
    "base_type",
    "check",
    "as_text",
    "form_kinds",
    "from_namespace",
    "param",
    "quick_mode",
    "setting_error",
    "starting_values",
    "to_dict",
    "value_from_text",
]


def param(
    default: Any,
    help: str,
    *,
    choices: tuple | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
    odd: bool = False,
    positional: bool = False,
    required: bool = False,
    **kwargs: Any,
) -> Any:
    """Declare a dataclass field with a default value and a help text.

    Parameters
    ----------
    default : object
        Default value (immutable; use a tuple rather than a list).
    help : str
        One sentence shown in the CLI ``--help`` and next to the notebook widget.
    choices : tuple, optional
        The allowed values, for fields that pick one of a few options.
    minimum, maximum : float, optional
        Inclusive bounds of a number (of every item of a tuple).
    above : float, optional
        An exclusive lower bound (``above=0``: strictly positive).
    odd : bool
        A whole number that must be odd (a window centred on one frame).
    positional, required : bool
        For inputs on the command line: a positional argument (one or more values for
        a tuple), or a flag that must be given. A notebook form shows them as any field.
    """
    metadata: dict[str, Any] = {"help": help}
    for key, value in (("choices", choices), ("minimum", minimum), ("maximum", maximum)):
        if value is not None:
            metadata[key] = tuple(value) if key == "choices" else value
    if above is not None:
        metadata["above"] = above
    if odd:
        metadata["odd"] = True
    if positional:
        metadata["positional"] = True
    if required:
        metadata["required"] = True
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def _bounds_text(meta: dict[str, Any]) -> str:
    parts = []
    if "above" in meta:
        parts.append(f"above {meta['above']:g}")
    if "minimum" in meta:
        parts.append(f"at least {meta['minimum']:g}")
    if "maximum" in meta:
        parts.append(f"at most {meta['maximum']:g}")
    if meta.get("odd"):
        parts.append("odd")
    return " and ".join(parts)


def check(params: Any) -> None:
    """Check every field of a parameter dataclass against its type, choices and bounds.

    Raises
    ------
    InputError
        Naming the setting (as its CLI flag and its notebook name), the value and what
        is allowed.
    """
    hints = typing.get_type_hints(type(params))
    for f in dataclasses.fields(params):
        value, meta = getattr(params, f.name), f.metadata
        kind = base_type(hints[f.name])
        items = value if isinstance(value, tuple) else (value,)
        item_kind = typing.get_args(kind)[0] if typing.get_origin(kind) is tuple else kind
        allowed = None
        if value is None and base_type(hints[f.name]) is not hints[f.name]:
            continue
        for item in items:
            if item_kind is bool and not isinstance(item, bool):
                allowed = "true or false"
            elif item_kind is int and (
                isinstance(item, bool) or not isinstance(item, numbers.Integral)
            ):
                allowed = "a whole number"
            elif item_kind is float and (
                isinstance(item, bool)
                or not isinstance(item, numbers.Real)
                or not math.isfinite(item)
            ):
                allowed = "a finite number"
            elif item_kind is str and not isinstance(item, str):
                allowed = "text"
            elif "choices" in meta and item not in meta["choices"]:
                allowed = "one of " + ", ".join(map(str, meta["choices"]))
            elif item_kind in (int, float) and (
                ("minimum" in meta and item < meta["minimum"])
                or ("maximum" in meta and item > meta["maximum"])
                or ("above" in meta and item <= meta["above"])
                or (meta.get("odd") and item % 2 == 0)
            ):
                allowed = _bounds_text(meta)
            if allowed:
                break
        if allowed:
            flag = "--" + f.name.replace("_", "-")
            raise InputError(
                f"The setting {f.name} = {value!r} of {type(params).__name__} cannot be used: "
                f"it must be {allowed}.",
                fix=f"Give {flag} (command line) or {f.name}= (notebook form) {allowed}; "
                f"the default is {f.default!r}.",
            )


def quick_mode() -> bool:
    """True when notebooks should shrink sizes and budgets: ``PSSR_NB_QUICK=1`` or under CI."""
    flag = os.environ.get("PSSR_NB_QUICK", "").strip().lower()
    if flag:
        return flag not in ("0", "false", "no")
    return bool(os.environ.get("CI"))


def starting_values(cls: type) -> dict[str, Any]:
    """The values a form for ``cls`` starts from instead of the defaults.

    In :func:`quick_mode`, the class's ``QUICK`` settings (smaller sizes and budgets),
    so that learners' cells never carry test-only shrinking; otherwise none.
    """
    return dict(getattr(cls, "QUICK", {})) if quick_mode() else {}


def setting_error(params: Any, name: str, allowed: str, fix: str = "") -> InputError:
    """The error for a setting that does not fit the others, naming it as the user sees it.

    Parameters
    ----------
    params : parameter dataclass
    name : str
        The field at fault.
    allowed : str
        What it must be, e.g. ``"a multiple of scale = 4"``.
    fix : str
        What to do; by default, give the setting such a value.
    """
    flag = "--" + name.replace("_", "-")
    return InputError(
        f"The setting {name} = {getattr(params, name)!r} of {type(params).__name__} cannot "
        f"be used: it must be {allowed}.",
        fix=fix or f"Give {flag} (command line) or {name}= (notebook form) {allowed}.",
    )


class Checked:
    """Mix-in for parameter dataclasses: the settings are checked when they are made.

    First each field alone (:func:`check`: type, choices, bounds), then the rules
    between fields, which a class states in ``check_together`` by raising
    :func:`setting_error`. So a bad form value fails at ``form.params()``, naming the
    setting, not minutes into a run.
    """

    def __post_init__(self) -> None:
        check(self)
        self.check_together()

    def check_together(self) -> None:
        """Rules between fields (none by default)."""


def base_type(annotation: Any) -> Any:
    """Reduce ``Optional[X]``/``X | None`` to ``X``; leave other types alone."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--flag`` per field of the parameter dataclass ``cls`` (or a positional
    argument, for an input declared ``positional``)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        default = f.default
        if f.metadata.get("positional"):
            many = typing.get_origin(kind) is tuple
            parser.add_argument(f.name, nargs="+" if many else None, help=help_text)
            continue
        if f.metadata.get("required"):
            parser.add_argument(flag, dest=f.name, required=True, help=help_text)
            continue
        if kind is bool:
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=help_text,
            )
        elif typing.get_origin(kind) is tuple:
            item = typing.get_args(kind)[0]
            parser.add_argument(
                flag,
                dest=f.name,
                nargs="+",
                type=item,
                default=default,
                help=f"{help_text} (default: {' '.join(map(str, default))})",
            )
        else:
            parser.add_argument(
                flag,
                dest=f.name,
                type=kind if kind in (int, float, str) else str,
                default=default,
                choices=f.metadata.get("choices"),
                help=f"{help_text} (default: {default})",
            )


def from_namespace(cls: type, namespace: argparse.Namespace) -> Any:
    """Build the parameter dataclass ``cls`` from parsed CLI arguments."""
    values = {}
    for f in dataclasses.fields(cls):
        value = getattr(namespace, f.name)
        if isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return cls(**values)


def to_dict(params: Any) -> dict[str, Any]:
    """Return a JSON-ready dict of a parameter dataclass."""
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(params).items()
    }


def form_kinds(cls: type) -> dict[str, str]:
    """How a form shows each field of the parameter dataclass ``cls``.

    One of ``"choice"`` (a dropdown of the field's choices), ``"bool"``, ``"int"``,
    ``"float"``, ``"tuple"`` (comma-separated text) or ``"text"``. Both front ends (the
    notebook's :class:`pssr_nb.ui.Form` and napari's ``SettingsForm``) build their
    widgets from this one answer.

    Examples
    --------
    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Example:
    ...     loss: str = param("l1", "Loss.", choices=("l1", "mse"))
    ...     sizes: tuple[int, ...] = (1, 2)
    ...     rate: float | None = None
    >>> form_kinds(Example)
    {'loss': 'choice', 'sizes': 'tuple', 'rate': 'float'}
    """
    hints = typing.get_type_hints(cls)
    kinds = {}
    for f in dataclasses.fields(cls):
        kind = base_type(hints[f.name])
        if f.metadata.get("choices"):
            kinds[f.name] = "choice"
        elif typing.get_origin(kind) is tuple:
            kinds[f.name] = "tuple"
        else:
            kinds[f.name] = {bool: "bool", int: "int", float: "float"}.get(kind, "text")
    return kinds


def as_text(value: Any) -> str:
    """A setting's value as a form's text entry (the inverse of :func:`value_from_text`).

    Examples
    --------
    >>> as_text((4, 8)), as_text(None), as_text(3e-4)
    ('4, 8', '', '0.0003')
    """
    if isinstance(value, tuple | list):
        return ", ".join(map(str, value))
    return "" if value is None else str(value)


def value_from_text(cls: type, name: str, text: str) -> Any:
    """A form's text entry as the value of the setting ``name`` of ``cls``.

    Numbers are read as the field's type and tuples from comma-separated items; other
    fields keep the text. Bounds and choices are checked later, when the settings are
    made (:class:`Checked`).

    Raises
    ------
    InputError
        When the text cannot be read as the type the setting needs.

    Examples
    --------
    >>> import dataclasses
    >>> @dataclasses.dataclass
    ... class Example:
    ...     sizes: tuple[int, ...] = (1, 2)
    ...     rate: float = 0.1
    >>> value_from_text(Example, "sizes", "4, 8"), value_from_text(Example, "rate", "3e-4")
    ((4, 8), 0.0003)
    """
    kind = base_type(typing.get_type_hints(cls)[name])
    many = typing.get_origin(kind) is tuple
    item = typing.get_args(kind)[0] if many else kind
    if item not in (int, float):
        return tuple(v.strip() for v in str(text).split(",") if v.strip()) if many else text
    try:
        if many:
            return tuple(item(v.strip()) for v in str(text).split(",") if v.strip())
        return item(str(text).strip())
    except ValueError:
        what = f"a comma-separated list of {item.__name__}s" if many else ""
        what = what or ("a whole number" if item is int else "a number")
        raise InputError(
            f"The setting '{name}' must be {what}, got {text!r}.",
            fix=f"Type {what} into '{name}', e.g. {getattr(cls(), name)!r}.",
        ) from None
