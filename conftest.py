"""Pytest setup shared by the unit tests, the doctests and the notebooks (nbval)."""

import os
import tempfile

# the .py halves of the jupytext pairs are notebooks, not modules to import for doctests
collect_ignore_glob = ["notebooks/*.py"]


def pytest_configure(config):
    # notebook kernels inherit this environment: quick mode, and a throwaway project folder
    os.environ["PSSR_NB_QUICK"] = "1"
    os.environ["PSSR_NB_PROJECT"] = tempfile.mkdtemp(prefix="pssr_nb_notebooks_")
