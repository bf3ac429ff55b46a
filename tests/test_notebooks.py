"""The committed notebooks: paired with their .py files, and stored without outputs.

Executing them is nbval's job (``--nbval-lax`` in the pytest settings runs every
``notebooks/*.ipynb`` headless in quick mode).
"""

from pathlib import Path

import jupytext
import nbformat
import pytest

from pssr_nb.colab import INSTALL_CELL, SOURCE

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
PAIRS = sorted(NOTEBOOKS.glob("*.ipynb"))


def test_there_are_notebooks():
    assert PAIRS


def _cells(notebook) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


@pytest.mark.parametrize("ipynb", PAIRS, ids=lambda p: p.name)
def test_notebook_and_py_file_are_in_sync(ipynb):
    """Same cells in both files; the header's jupytext version may differ (a new jupytext
    release must not turn CI red)."""
    py = ipynb.with_suffix(".py")
    assert py.is_file(), (
        f"{py.name} is missing: run jupytext --to py:percent notebooks/{ipynb.name}"
    )
    assert _cells(jupytext.read(py)) == _cells(jupytext.read(ipynb)), (
        f"{ipynb.name} and {py.name} differ: run jupytext --to py:percent notebooks/{ipynb.name}"
    )


def test_the_sync_check_sees_one_changed_cell(tmp_path):
    ipynb = PAIRS[0]
    notebook = jupytext.read(ipynb)
    notebook.cells[-1].source += "\nprint('edited in the notebook only')"
    edited = tmp_path / ipynb.name
    jupytext.write(notebook, edited)
    assert _cells(jupytext.read(edited)) != _cells(jupytext.read(ipynb.with_suffix(".py")))


@pytest.mark.parametrize("ipynb", PAIRS, ids=lambda p: p.name)
def test_every_install_cell_is_the_one_install_cell(ipynb):
    """Where Colab installs pssr_nb from is said once, in ``pssr_nb.colab``."""
    nb = nbformat.read(ipynb, as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code[0] == INSTALL_CELL, "run python scripts/sync_install_cell.py"
    assert sum(SOURCE in c for c in code) == 1


def test_the_readme_says_where_colab_installs_from():
    readme = (NOTEBOOKS.parent / "README.md").read_text()
    assert SOURCE in readme and "pssr_nb-*.whl" in readme


@pytest.mark.parametrize("ipynb", PAIRS, ids=lambda p: p.name)
def test_committed_notebooks_carry_no_outputs(ipynb):
    nb = nbformat.read(ipynb, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{ipynb.name} has outputs: clear them before committing"
            )


def test_exercise_versions_drop_exactly_the_solution_cells(tmp_path):
    import subprocess
    import sys

    script = NOTEBOOKS.parent / "scripts" / "make_exercises.py"
    done = subprocess.run(
        [sys.executable, str(script), "--out", str(tmp_path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    total = 0
    for ipynb in PAIRS:
        original = nbformat.read(ipynb, as_version=4)
        exercise = nbformat.read(tmp_path / ipynb.name, as_version=4)
        solutions = [c for c in original.cells if "solution" in c.metadata.get("tags", [])]
        total += len(solutions)
        assert len(exercise.cells) == len(original.cells)
        assert not [c for c in exercise.cells if "solution" in c.metadata.get("tags", [])]
        kept = [c.source for c in exercise.cells if "exercise" not in c.metadata.get("tags", [])]
        assert kept == [c.source for c in original.cells if c not in solutions]
    assert total > 0  # the notebooks do have solutions to strip
    again = subprocess.run([sys.executable, str(script), "--out", str(tmp_path)])
    assert again.returncode == 1  # never replaces without --overwrite


def test_the_install_cell_says_what_to_do_when_installing_fails(monkeypatch):
    import subprocess
    import sys
    import types

    calls = []
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    monkeypatch.setattr(
        subprocess,
        "run",
        lambda args, **kw: calls.append(args) or types.SimpleNamespace(returncode=1),
    )
    with pytest.raises(SystemExit, match="Upload a pssr_nb wheel"):
        exec(INSTALL_CELL, {})
    assert calls[0][-1] == SOURCE or calls[0][-1].endswith(".whl")
