"""Parameter dataclasses shared by notebook forms, the command line and tests.

Each step of the workflow declares its settings once, as a dataclass whose
fields carry a default and a help text (see :func:`param`). The CLI turns the
fields into flags and the notebook forms into widgets; both then call the same
``run(params, ...)`` function.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any


def param(default: Any, help: str, *, choices: tuple | None = None, **kwargs: Any) -> Any:
    """Declare a dataclass field with a default value and a help text.

    Parameters
    ----------
    default : object
        Default value (immutable; use a tuple rather than a list).
    help : str
        One sentence shown in the CLI ``--help`` and next to the notebook widget.
    choices : tuple, optional
        The allowed values, for fields that pick one of a few options.
    """
    metadata = {"help": help}
    if choices is not None:
        metadata["choices"] = tuple(choices)
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


def base_type(annotation: Any) -> Any:
    """Reduce ``Optional[X]``/``X | None`` to ``X``; leave other types alone."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--flag`` per field of the parameter dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = base_type(hints[f.name])
        flag = "--" + f.name.replace("_", "-")
        help_text = f.metadata.get("help", "")
        default = f.default
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
