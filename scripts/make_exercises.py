"""Write workshop versions of the notebooks, without the cells tagged ``solution``.

    python scripts/make_exercises.py            # notebooks/*.ipynb -> exercises/
    python scripts/make_exercises.py --out DIR notebooks/03_train.ipynb

Each removed solution becomes an empty code cell for the learner's answer. The
originals are never modified, and an existing output file is only replaced
with ``--overwrite``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]


def strip_solutions(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A copy of ``nb`` with each ``solution`` cell replaced by an empty code cell."""
    out = nbformat.from_dict(nb)
    cells, removed = [], 0
    for cell in out.cells:
        if "solution" in cell.get("metadata", {}).get("tags", []):
            removed += 1
            blank = nbformat.v4.new_code_cell("# your answer here\n")
            blank.metadata["tags"] = ["exercise"]
            blank.id = cell.get("id", blank.id)
            cells.append(blank)
        else:
            cells.append(cell)
    out.cells = cells
    return out, removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "exercises")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    sources = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for src in sources:
        target = args.out / src.name
        if target.resolve() == src.resolve():
            print(f"refusing to write over the original {src}", file=sys.stderr)
            return 1
        if target.exists() and not args.overwrite:
            print(f"{target} exists; use --overwrite to replace it", file=sys.stderr)
            return 1
        nb, removed = strip_solutions(nbformat.read(src, as_version=4))
        args.out.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        print(f"{target}: {removed} solution cell(s) removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
