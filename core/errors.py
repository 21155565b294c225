"""One exception type for every problem a user can fix.

The CLI turns a :class:`HarnessError` into a single line on stderr and a non-zero exit
code; anything else is a bug and keeps its traceback.
"""


class HarnessError(Exception):
    """A problem with the user's input or environment, stated in one line.

    The message says what is wrong and where (file, line, tweet id), so it can be
    printed as-is without a traceback.
    """


class DownloadError(HarnessError):
    """A corpus or model could not be fetched (offline, bad checksum, HTTP error)."""
