"""The base of every error the package raises on purpose.

A :class:`SuperrunsError` carries a message that names the file, the run or superrun, and
what to do; jobs and the CLI print it as one clear line. Any other exception is a bug and
keeps its traceback.
"""

from __future__ import annotations

__all__ = ["EXPECTED_ERRORS", "SuperrunsError"]


class SuperrunsError(Exception):
    """An error whose message already says what is wrong and what to do."""

    def __str__(self) -> str:  # a KeyError subclass would otherwise show the message's repr
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


#: What jobs and the CLI report as one clear line (an ``OSError`` names its file); any other
#: exception is a bug and keeps its traceback.
EXPECTED_ERRORS = (SuperrunsError, OSError)
