"""Writing files safely: never over an input, never half-written over an earlier result.

Every command of ``python -m sr_lib`` and ``python -m faceswap_lib`` that writes follows two rules
(one home for both libraries: ``faceswap_lib`` imports this module):

1. **Refuse when the output is an input**, however the path reaches it: the same string, a
   relative against an absolute path, a symbolic link, a hard link. :func:`refuse_same_file`
   compares with ``os.path.samefile`` when both exist (same device and inode: catches hard links)
   and with resolved paths otherwise (catches symlinks and ``..`` before the output exists).
2. **Write to a temporary file in the same folder and rename it only on success**
   (:func:`atomic_path`). A run that fails half-way (a broken model, a full disk, Ctrl-C) leaves
   the earlier result untouched and no partial file behind; ``os.replace`` within one folder is
   atomic on POSIX and Windows. The temporary name keeps the whole file name as its *end*
   (``.~tmp-<random>-swapped.mp4``), because OpenCV picks the format from the extension and Keras
   insists on ``.weights.h5``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from typing import Iterator

from sr_lib.console import one_line

__all__ = ["FileError", "SameFileError", "same_file", "refuse_same_file", "refuse_unwritable", "atomic_path",
           "temporary_name", "TEMP_PREFIX"]

#: Temporary files start with this (hidden on POSIX; easy to spot and delete after a crash).
TEMP_PREFIX = ".~tmp-"


class FileError(ValueError):
    """A problem with one file; ``filename`` names it and ``str()`` reads ``<file>: <what>``."""

    def __init__(self, filename, message: str):
        super().__init__(f"{filename}: {message}")
        self.filename = str(filename)
        self.message = message


class SameFileError(FileError):
    """The output path names an input file (or folder)."""


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name the same file: ``os.path.samefile`` if both exist (symlinks
    followed, hard links detected), else the same fully resolved path."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def refuse_same_file(output: str | os.PathLike, *inputs: str | os.PathLike, what: str = "output") -> None:
    """Raise :class:`SameFileError` if ``output`` is any of ``inputs`` (see :func:`same_file`);
    ``None`` inputs are ignored. ``what`` names the output in the message."""
    for source in inputs:
        if source is not None and same_file(output, source):
            raise SameFileError(output, f"the {what} is the input {source}; refusing to overwrite it "
                                        "(choose another output name)")


def refuse_unwritable(path: str | os.PathLike) -> None:
    """Raise :class:`FileError` now, before any slow work, if ``path`` is a folder or cannot be created.

    A temporary file is made (and removed) in ``path``'s folder, or in the nearest existing
    ancestor folder when the folder does not exist yet (:func:`atomic_path` creates it), so
    permissions, read-only mounts and a file standing where a folder should be are all caught.
    """
    import tempfile

    path = Path(path)
    if path.is_dir():
        raise FileError(path, "is a folder; give a file name")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise FileError(path, f"cannot be written: {folder} is not a folder")
    try:
        handle, probe = tempfile.mkstemp(prefix=".~probe-", dir=folder)
    except OSError as error:
        reason = error.strerror or one_line(error)
        raise FileError(path, f"cannot be written: {reason} (cannot create files in {folder})") from None
    os.close(handle)
    os.unlink(probe)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, on failure delete it.

    ``with atomic_path(out) as tmp: write(tmp)`` either leaves the complete new file at ``out`` or
    (if ``write`` raises) leaves ``out`` as it was. The folder is created if needed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        yield temporary
        if not temporary.exists():
            raise FileError(path, "nothing was written")
        # The new file gets the permissions a plain open() would give it (0o666 minus the umask).
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def temporary_name(path: str | os.PathLike) -> Path:
    """A fresh hidden name beside ``path`` that ends with ``path``'s whole name (so its extension)."""
    path = Path(path)
    return path.with_name(f"{TEMP_PREFIX}{secrets.token_hex(4)}-{path.name}")


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask
