"""Exceptions and checks shared by the commands of :mod:`faceswap_lib` (cheap: no TensorFlow)."""

from __future__ import annotations

import os

__all__ = ["Interrupted", "refuse_overlapping_folders"]


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a long step, with what was (and was not) kept: ``filename``, ``message``.

    A ``KeyboardInterrupt`` (not an ``Exception``), so nothing that catches errors swallows it; the
    command line prints ``error: <filename>: <message>`` and exits with status 130.
    """

    def __init__(self, filename, message: str):
        super().__init__(f"{filename}: {message}")
        self.filename, self.message = str(filename), message


def refuse_overlapping_folders(dir_a: str | os.PathLike, dir_b: str | os.PathLike, model_dir: str | os.PathLike) -> None:
    """Refuse a model folder that is one of the face folders, and one folder as both persons.

    Compared with :func:`sr_lib.files.same_file` (relative paths, symlinks, hard links). Raises
    :class:`sr_lib.files.SameFileError` naming the offending folder.
    """
    from sr_lib.files import SameFileError, refuse_same_file, same_file

    refuse_same_file(model_dir, dir_a, dir_b, what="model folder")
    if same_file(dir_a, dir_b):
        raise SameFileError(dir_b, f"is the same folder as person A's {dir_a}: person B's faces must come from "
                                   "another folder (extract each person into their own folder)")
