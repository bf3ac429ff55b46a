"""Write ``pssr_nb.colab.INSTALL_CELL`` into every notebook (``.py`` and ``.ipynb``).

Run from the repository root after changing the install cell: ``python scripts/sync_install_cell.py``.
"""

import re
import subprocess
from pathlib import Path

from pssr_nb.colab import INSTALL_CELL

# the first code cell that starts with "import subprocess", up to the next cell marker
CELL = re.compile(r"(# %%\n)import subprocess\n.*?(?=\n\n# %%)", re.S)

for path in sorted(Path("notebooks").glob("[0-9][0-9]_*.py")):
    text = path.read_text()
    new, n = CELL.subn(lambda m: m.group(1) + INSTALL_CELL, text, count=1)
    if n != 1:
        raise SystemExit(f"{path}: no install cell found")
    if new != text:
        path.write_text(new)
        subprocess.run(["jupytext", "--to", "ipynb", "--update", str(path)], check=True)
        print(f"updated {path}")
