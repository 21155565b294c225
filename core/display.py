"""Showing names that came from the user's files (tweet ids, file names, entity types)
in messages, safely.

Such a name may hold anything a file system or a TSV allows: a tab or a newline, which
would split the one-line message a user (or a script reading stderr) relies on, an
escape sequence that a terminal executes instead of printing, or an invisible
character that makes two different names look alike (``PROFESION`` and
``PROFESION\\0``). Every message that echoes such a name passes it through
:func:`shown`, so what reaches the terminal is always printable and unambiguous.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories that must not appear in a tweet id: control characters (tab,
#: newline, escape, NUL), format characters (zero-width, bidirectional overrides, the
#: byte-order mark), line and paragraph separators, and lone surrogates (undecodable
#: bytes in a file name). Each either breaks a TSV row or a message line, or hides.
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def shown(value: str) -> str:
    """``value`` as it is when every character prints, otherwise its Python ``repr``:
    quoted, with each control or invisible character escaped (``'12\\t34'``).

    Ordinary names stay unquoted so common messages read naturally; the quotes appear
    exactly when something is hidden, which is when the reader needs to notice.
    """
    return value if value.isprintable() else repr(value)


def control_character(value: str) -> str | None:
    """The first character of ``value`` in :data:`CONTROL_CATEGORIES`, as ``U+0009``
    (``None`` when there is none), for a message saying what was refused."""
    for char in value:
        if unicodedata.category(char) in CONTROL_CATEGORIES:
            return f"U+{ord(char):04X}"
    return None
