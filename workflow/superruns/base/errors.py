"""The base of every error the package raises on purpose.

A :class:`SuperrunsError` carries a message that names the file, the run or superrun, and
what to do; jobs and the CLI print it as one clear line. Any other exception is a bug and
keeps its traceback.

Messages are bounded: a value is shown through :func:`brief` (long lists and strings
summarised), and a message longer than :data:`MAX_MESSAGE_CHARS` keeps its head and its tail
(the fix) around a note of what was left out.
"""

from __future__ import annotations

import reprlib
from typing import Any

__all__ = ["EXPECTED_ERRORS", "MAX_MESSAGE_CHARS", "SuperrunsError", "bounded", "brief"]

#: The longest message an error shows; longer ones are cut in the middle.
MAX_MESSAGE_CHARS = 2000

_BRIEF = reprlib.Repr()
_BRIEF.maxlevel, _BRIEF.maxlist, _BRIEF.maxtuple, _BRIEF.maxdict = 3, 6, 6, 4
_BRIEF.maxstring, _BRIEF.maxother, _BRIEF.maxlong = 80, 80, 40


def brief(value: Any) -> str:
    """``repr(value)`` summarised: at most a few items per level and 80 characters per string."""
    return _BRIEF.repr(value)


def bounded(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``message`` if short enough, else its head and tail around a note of the cut."""
    if len(message) <= limit:
        return message
    tail = limit // 4
    cut = len(message) - (limit - tail)
    return f"{message[:limit - 2 * tail]} ... [{cut} characters left out] ... {message[-tail:]}"


class SuperrunsError(Exception):
    """An error whose message already says what is wrong and what to do."""

    def __str__(self) -> str:  # a KeyError subclass would otherwise show the message's repr
        return bounded(str(self.args[0]) if len(self.args) == 1 else super().__str__())


#: What jobs and the CLI report as one clear line (an ``OSError`` names its file); any other
#: exception is a bug and keeps its traceback.
EXPECTED_ERRORS = (SuperrunsError, OSError)
