"""The package's face: what learners import from ``pssr_nb`` itself."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import pssr_nb

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.py"))
MODULES = [m.name for m in pkgutil.iter_modules(pssr_nb.__path__) if m.name != "__main__"]


@pytest.mark.parametrize("name", pssr_nb.__all__)
def test_every_name_of_the_face_is_there(name):
    assert getattr(pssr_nb, name) is not None


@pytest.mark.parametrize("module", MODULES)
def test_every_module_lists_its_public_names_and_has_them(module):
    if module.startswith("napari_"):
        pytest.importorskip("napari")
        pytest.importorskip("magicgui")
    m = importlib.import_module(f"pssr_nb.{module}")
    assert isinstance(m.__all__, list) and m.__all__
    assert [n for n in m.__all__ if not hasattr(m, n)] == []


def test_the_face_takes_each_name_from_the_module_that_lists_it():
    for name, module in pssr_nb.FACE.items():
        assert name in importlib.import_module(f"pssr_nb.{module}").__all__, name


def test_importing_the_package_loads_no_torch():
    code = "import sys, pssr_nb; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_name"):
        pssr_nb.no_such_name  # noqa: B018


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_import_only_from_the_face(notebook):
    for node in ast.walk(ast.parse(notebook.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pssr_nb"):
            assert node.module == "pssr_nb", f"{notebook.name}: from {node.module} import ..."
            assert {a.name for a in node.names} <= set(pssr_nb.__all__)
        if isinstance(node, ast.Import):
            assert not any(a.name.startswith("pssr_nb.") for a in node.names)
