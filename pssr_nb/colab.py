"""The notebooks' install cell: the one place that says where Colab gets pssr_nb from.

The cell runs before pssr_nb is installed, so it cannot import this module; every
notebook holds a copy of :data:`INSTALL_CELL` and ``tests/test_notebooks.py`` checks
that each copy is exactly this text (``python scripts/sync_install_cell.py`` rewrites
them after a change here). On Colab it installs from :data:`SOURCE`, unless a pssr_nb
wheel was uploaded to the session (``/content``) or to Drive's ``MyDrive``, which wins:
the way out when the repository cannot be reached. Elsewhere it does nothing.
"""

__all__ = ["INSTALL_CELL", "SOURCE"]

#: Where the install cell installs pssr_nb from when no wheel was uploaded.
SOURCE = "pssr_nb @ git+https://github.com/pssr-nb/pssr_nb"

INSTALL_CELL = f'''import subprocess
import sys
from pathlib import Path

if "google.colab" in sys.modules:  # Colab only; its torch, numpy and IPython are kept
    # an uploaded pssr_nb wheel (session files, or MyDrive once mounted) wins
    folders = [Path("/content"), Path("/content/drive/MyDrive")]
    wheels = sorted(w for f in folders for w in f.glob("pssr_nb-*.whl"))
    source = str(wheels[-1]) if wheels else "{SOURCE}"
    if subprocess.run([sys.executable, "-m", "pip", "install", "-q", source]).returncode:
        raise SystemExit(
            f"Installing {{source}} failed. Upload a pssr_nb wheel (.whl) to the session's "
            "files or to MyDrive and run this cell again (README: Install on Colab)."
        )'''
