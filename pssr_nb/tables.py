"""Plain-text tables of dict rows, as every step's ``summary_rows`` gives them.

The notebooks print them and the command line prints the same tables, so a
number reads the same in both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["format_rows"]


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    """A plain-text table of dict rows (same keys), for printing; floats to 4 significant digits.

    Examples
    --------
    >>> print(format_rows([{"a": 1, "bb": 2.5}, {"a": 10, "bb": None}, {"a": 3, "bb": 1 / 3}]))
    a   bb
    1   2.5
    10  -
    3   0.3333
    """
    if not rows:
        return "(nothing)"
    keys = list(rows[0])
    cells = [[k for k in keys]] + [[_text(r[k]) for k in keys] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(keys))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
