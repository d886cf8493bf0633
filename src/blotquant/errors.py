"""The one exception type for problems a user can fix."""

from __future__ import annotations


class BlotquantError(Exception):
    """A problem with the user's input (config, image, command line).

    The message is written for a biologist: it names the file and the config
    key at fault and says what to do. The CLI prints it without a traceback.
    """

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None):
        super().__init__(message)
        self.file = file
        self.key = key


class OverExposedError(BlotquantError):
    """An image mostly at the detector's limit: nothing in it can be measured.

    One exposure of an exposure series may be so; the series then does without it.
    """

    def __init__(self, message: str, *, share: float, file: str | None = None):
        super().__init__(message, file=file)
        #: The share of the pixels at the limit.
        self.share = share
