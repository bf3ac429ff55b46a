"""Pytest setup shared by the unit tests, the doctests and the notebooks (nbval)."""

import importlib.util
import os
import tempfile

import pytest

# the .py halves of the jupytext pairs are notebooks, not modules to import for doctests
collect_ignore_glob = ["notebooks/*.py"]
# the napari front end imports napari and magicgui: its doctests need the napari extra
if not all(importlib.util.find_spec(name) for name in ("napari", "magicgui")):
    collect_ignore_glob.append("pssr_nb/napari_*.py")


def pytest_configure(config):
    # notebook kernels inherit this environment: quick mode, and a throwaway project folder
    os.environ["PSSR_NB_QUICK"] = "1"
    os.environ["PSSR_NB_PROJECT"] = tempfile.mkdtemp(prefix="pssr_nb_notebooks_")
    # Qt widgets (the napari extra) without a display
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items):
    """Keep each notebook's cells together and in order, whatever reordered the tests.

    A notebook's cells share one kernel and build on each other; a random-order plugin
    (pytest-randomly, pytest-random-order) would shuffle them like independent tests.
    Each notebook runs as one block, where its first cell landed.
    """
    cells: dict[object, list] = {}
    for item in items:
        if hasattr(item, "cell_num"):  # nbval's notebook cell
            cells.setdefault(item.parent, []).append(item)
    if not cells:
        return
    ordered = []
    for item in items:
        if not hasattr(item, "cell_num"):
            ordered.append(item)
        elif item.parent in cells:
            ordered.extend(sorted(cells.pop(item.parent), key=lambda cell: cell.cell_num))
    items[:] = ordered
