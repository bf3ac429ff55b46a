"""Writing files: never half-written, never into a folder that cannot take them.

A crash leaves the previous file or the new one (:func:`atomic_path`); a folder that is a
file, write-protected or full is reported before any work (:func:`output_folder`) or
as :class:`~pssr_nb.errors.WriteFailed` naming the file (a disk that fills up later).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .errors import InputError, WriteFailed

__all__ = [
    "OWNER_FILE",
    "atomic_path",
    "claim_folder",
    "made_by",
    "next_run_folder",
    "output_folder",
    "refuse_to_replace",
    "remove_leftover_temporaries",
    "run_folders",
    "write_failed",
]

#: What to do when writing fails, by the reason the system gives.
_WRITE_FIXES = {
    errno.ENOSPC: "Free some disk space, or choose an output folder on another disk, then "
    "run again (an interrupted training resumes from its last checkpoint).",
    errno.EDQUOT: "Your disk quota is used up: free some space, or write somewhere else.",
    errno.EACCES: "Choose an output folder you may write to (e.g. under your home folder; "
    "on Colab, under /content).",
    errno.EPERM: "Choose an output folder you may write to.",
    errno.EROFS: "This disk is read-only: choose an output folder on a writable disk.",
}


def write_failed(exc: OSError, path: str | Path) -> WriteFailed:
    """The message for an :class:`OSError` raised while writing ``path``."""
    reason = exc.strerror or str(exc)
    return WriteFailed(
        f"Could not write this file: {reason}.",
        path=path,
        fix=_WRITE_FIXES.get(exc.errno, "Check that the output folder exists and is writable."),
    )


def output_folder(folder: str | Path) -> Path:
    """Create ``folder`` if needed and check that files can be written into it.

    Called before any work, so that a folder that is a file, write-protected or on a
    read-only disk is reported at once rather than after minutes of computing.

    Raises
    ------
    InputError
        Naming the folder and the fix.

    Examples
    --------
    >>> import tempfile
    >>> output_folder(Path(tempfile.mkdtemp()) / "new" / "out").is_dir()
    True
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise InputError(
            "The output folder is a file.", path=folder, fix="Choose a folder for the output."
        )
    if any(p.exists() and not p.is_dir() for p in folder.parents):
        raise InputError(
            "The output folder lies inside a file, not a folder.",
            path=folder,
            fix="Check the output path.",
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".pssr_nb_probe.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        error = write_failed(exc, folder)
        raise InputError(
            f"Cannot write into the output folder: {exc.strerror or exc}.",
            path=folder,
            fix=error.fix,
        ) from None
    return folder


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place if the block succeeds.

    A crash or ``kill -9`` at any moment leaves either the previous file or the
    new one, never a partial file; an exception removes the temporary file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("done")
    >>> target.read_text()
    'done'
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
    except OSError as exc:
        raise write_failed(exc, path) from exc
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private; use the usual mode
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and not isinstance(exc, WriteFailed) and exc.errno:
            raise write_failed(exc, path) from exc
        raise


def run_folders(parent: str | Path) -> list[Path]:
    """The ``run_NNN`` folders under ``parent``, oldest first."""
    parent = Path(parent)
    if not parent.is_dir():
        return []
    return sorted(p for p in parent.glob("run_[0-9][0-9][0-9]") if p.is_dir())


def next_run_folder(parent: str | Path) -> Path:
    """The next unused ``run_NNN`` folder under ``parent`` (not created).

    Examples
    --------
    >>> import tempfile
    >>> parent = Path(tempfile.mkdtemp())
    >>> (parent / "run_001").mkdir()
    >>> next_run_folder(parent).name
    'run_002'
    """
    runs = run_folders(parent)
    number = int(runs[-1].name[4:]) + 1 if runs else 1
    return Path(parent) / f"run_{number:03d}"


def remove_leftover_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporary files that :func:`atomic_path` left beside ``path`` when killed.

    A ``kill -9`` between writing the temporary file and renaming it leaves it behind
    (a checkpoint's can be tens of MB). Call this only where no other process is
    writing ``path`` at the same time, e.g. when resuming a run in its own folder.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "state.pt"
    >>> _ = (target.parent / ".state.pt.k3x9.tmp").write_text("half")
    >>> [p.name for p in remove_leftover_temporaries(target)]
    ['.state.pt.k3x9.tmp']
    """
    path = Path(path)
    leftovers = sorted(path.parent.glob(f".{path.name}.*.tmp"))
    for leftover in leftovers:
        leftover.unlink(missing_ok=True)
    return leftovers


#: The file that marks a folder as written by a pssr_nb command (and by which).
OWNER_FILE = ".pssr_nb_owner"


def made_by(folder: str | Path) -> str | None:
    """The pssr_nb command that claimed ``folder`` (:func:`claim_folder`), or None."""
    marker = Path(folder) / OWNER_FILE
    try:
        return marker.read_text().strip() or None
    except (OSError, UnicodeDecodeError):
        return None


def claim_folder(folder: str | Path, command: str) -> Path:
    """Make ``folder`` the output folder of ``command``, refusing one that holds others' files.

    A folder may be used when it does not exist, is empty, or was claimed by the same
    command before; it is then marked, so a
    later run of the command knows that what is inside is its own to replace. Anything
    else (a finished run of another command, the user's images) is never written over.

    Raises
    ------
    InputError
        Naming the folder and the fix.

    Examples
    --------
    >>> import tempfile
    >>> out = claim_folder(Path(tempfile.mkdtemp()) / "quickstart", "demo")
    >>> made_by(out)
    'demo'
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        output_folder(folder)  # says it is a file
    owner = made_by(folder) if folder.is_dir() else None
    others = (
        sorted(p.name for p in folder.iterdir() if p.name != OWNER_FILE)
        if folder.is_dir() and owner != command
        else []
    )
    if others:
        made = f"by pssr-nb {owner}" if owner else "by something else"
        raise InputError(
            f"This folder holds files made {made} ({', '.join(others[:3])}"
            f"{' ...' if len(others) > 3 else ''}); pssr-nb {command} does not write over them.",
            path=folder,
            fix="Choose a new or empty output folder.",
        )
    output_folder(folder)
    if owner != command:
        (folder / OWNER_FILE).write_text(command + "\n")
    return folder


def refuse_to_replace(path: str | Path, overwrite: bool, problem: str, fix: str) -> Path:
    """``path`` as a ``Path``, or an :class:`InputError` naming it when it exists and
    ``overwrite`` is off: the rule every writer keeps, nothing is replaced unasked.

    ``problem`` and ``fix`` are the writer's own words (the notebooks quote them).
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise InputError(problem, path=path, fix=fix)
    return path
