"""One exception type for every problem a user can fix.

The CLI turns a :class:`HarnessError` into a single line on stderr and a non-zero exit
code; anything else is a bug and keeps its traceback.
"""


class HarnessError(Exception):
    """A problem with the user's input or environment, stated in one line.

    The message says what is wrong and where (file, line, tweet id), so it can be
    printed as-is without a traceback.
    """


def first_line(err: BaseException) -> str:
    """The first line of an error from a library, for a one-line message (some put a
    traceback-sized explanation after it, some say nothing but their type)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class DownloadError(HarnessError):
    """A corpus or model could not be fetched (offline, bad checksum, HTTP error)."""
