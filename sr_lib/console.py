"""What the command lines print: TensorFlow imported without its start-up chatter.

The TensorFlow build pinned here writes C++ log lines to stderr while it is imported and finds its
devices ("All log messages before absl::InitializeLog() ...", "oneDNN custom operations are on",
"Could not find cuda drivers", "failed call to cuInit"), whatever ``TF_CPP_MIN_LOG_LEVEL`` says.
They mean nothing to a user and would break the commands' contract that an error is one line
``error: <file>: <what is wrong>``. ``python -m sr_lib``, ``python -m faceswap_lib`` and
``python -m sr_lib.perceptual`` all import TensorFlow through :func:`import_tensorflow_quietly`.
"""

from __future__ import annotations

import os
import sys
import tempfile

__all__ = ["import_tensorflow_quietly", "one_line"]


def one_line(error: BaseException | str, limit: int = 400) -> str:
    """A message fit for the commands' one-line ``error: <file>: <what is wrong>`` contract.

    Args:
        error: an exception (its message is used; its type name when the message is empty) or text.
        limit: longest result in characters; longer messages end in "...".

    Returns:
        The first non-empty line, inner whitespace collapsed, quotes around a ``KeyError``'s message
        removed. TensorFlow, h5py and OpenCV messages say what went wrong on their first line and
        run on with graph dumps, stack frames or source paths after it.
    """
    text = str(error).strip().strip("'\"")
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    if not lines:
        return type(error).__name__ if isinstance(error, BaseException) else ""
    line = lines[0]
    return line if len(line) <= limit else line[: limit - 3] + "..."


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (and let it discover its devices) with file descriptor 2 sent to a temporary
    file, so its C++ start-up lines never reach the terminal.

    Does nothing when TensorFlow is already imported.

    Raises:
        Exception: whatever the import raised; what TensorFlow printed before failing is attached
            to it as a note (``add_note``), so it is shown with a traceback but not on its own.
    """
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            import tensorflow as tf

            tf.config.list_physical_devices()  # device discovery prints its own lines: do it now
        except BaseException as error:
            os.dup2(saved, 2)
            sink.seek(0)
            printed = sink.read().decode(errors="replace").strip()
            if printed:
                error.add_note(f"TensorFlow printed while importing:\n{printed}")
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
