"""The committed notebooks: paired with their .py files, and stored without outputs.

Executing them is nbval's job (``--nbval-lax`` in the pytest settings runs every
``notebooks/*.ipynb`` headless in quick mode).
"""

from pathlib import Path

import jupytext
import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert PAIRS


@pytest.mark.parametrize("ipynb", PAIRS, ids=lambda p: p.name)
def test_notebook_and_py_file_are_in_sync(ipynb):
    py = ipynb.with_suffix(".py")
    assert py.is_file(), (
        f"{py.name} is missing: run jupytext --to py:percent notebooks/{ipynb.name}"
    )
    expected = jupytext.writes(jupytext.read(ipynb), fmt="py:percent")
    assert expected.strip() == py.read_text().strip(), (
        f"{ipynb.name} and {py.name} differ: run jupytext --to py:percent notebooks/{ipynb.name}"
    )


@pytest.mark.parametrize("ipynb", PAIRS, ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{ipynb.name} has outputs: clear them before committing"
            )
