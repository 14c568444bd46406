"""Replace a generated section of README.md: the text between a begin and an end marker comment.

Shared by ``tools/make_results.py`` (the Results section) and ``tools/make_course_map.py`` (the Course
map), so both regenerate their part of the README the same way and leave everything else untouched.
"""

from __future__ import annotations


def replace_between(text: str, begin: str, end: str, block: str, *, tool: str = "the generator") -> str:
    """Return ``text`` with everything from ``begin`` to ``end`` (both included) replaced by ``block``.

    ``block`` should itself start with ``begin`` and end with ``end``, so that the result can be
    regenerated again. Raises ``ValueError`` naming the markers and ``tool`` when they are missing or in
    the wrong order (a hand edit removed one), rather than appending a second copy somewhere.
    """
    start = text.find(begin)
    stop = text.find(end, start + len(begin)) if start >= 0 else -1
    if start < 0 or stop < 0:
        raise ValueError(f"README.md has no {begin!r} ... {end!r} markers; add the begin/end comments of {tool}")
    return text[:start] + block + text[stop + len(end):]
