"""Exceptions whose messages are written for microscopists.

Every error raised on purpose by pssr_nb derives from :class:`PssrError` and
says three things: what is wrong, which file (if any), and what to do about it.
Notebooks show these as one readable message instead of a long traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "DownloadError",
    "InputError",
    "OutOfMemory",
    "PairingError",
    "PssrError",
    "ResumeMismatchError",
    "show_briefly_in_notebooks",
    "TrainingDiverged",
    "UnsafeArchiveError",
    "WriteFailed",
]


class PssrError(Exception):
    """Base class of every error pssr_nb raises on purpose.

    Parameters
    ----------
    problem : str
        What is wrong, in plain words.
    path : str or Path, optional
        The file or folder concerned.
    fix : str, optional
        What the user should do about it.
    """

    def __init__(self, problem: str, *, path: str | Path | None = None, fix: str | None = None):
        self.problem = problem
        self.path = None if path is None else Path(path)
        self.fix = fix
        super().__init__(self._format())

    def _format(self) -> str:
        lines = [self.problem]
        if self.path is not None:
            lines.append(f"  file: {self.path}")
        if self.fix:
            lines.append(f"  fix:  {self.fix}")
        return "\n".join(lines)


class InputError(PssrError, ValueError):
    """An input image, folder or parameter cannot be used as given."""


class ResumeMismatchError(InputError):
    """An interrupted run cannot be continued: its settings or images have changed."""


class PairingError(InputError):
    """Low- and high-resolution files do not pair up (names or sizes)."""


class DownloadError(PssrError, OSError):
    """A dataset could not be fetched or failed its checksum."""


class UnsafeArchiveError(DownloadError):
    """An archive tried to write outside its extraction folder."""


class WriteFailed(PssrError, OSError):
    """A file could not be written: the disk is full, the folder is read-only or missing."""


class TrainingDiverged(PssrError, ArithmeticError):
    """The training loss became NaN or infinite (a learning rate too high, or broken data)."""


class OutOfMemory(PssrError, MemoryError):
    """The GPU (or computer) ran out of memory even with the smallest settings tried."""


def _brief(shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None):
    """IPython custom-exception handler: show the message, without the traceback.

    ``_showtraceback`` is IPython's display hook for tracebacks (a Jupyter kernel sends
    it as the cell's error output); the cell still counts as failed.
    """
    lines = [f"{etype.__name__}: {value}", "(pssr_nb stopped here; nothing was overwritten)"]
    shell._showtraceback(etype, value, lines)
    return lines


def show_briefly_in_notebooks() -> bool:
    """In IPython/Jupyter, show :class:`PssrError` as its message instead of a traceback.

    Any other exception keeps its full traceback: those are bugs worth reporting.
    Returns whether a notebook shell was found.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.set_custom_exc((PssrError,), _brief)
    return True
