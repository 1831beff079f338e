"""What a load-test user can get wrong: bad options or config, and a target that cannot be used.

Both are `surge.errors.SurgeError` (one line, exit 2 from the CLI); they keep `ValueError` /
`OSError` as a second base for callers that catch those.
"""

from __future__ import annotations

from surge.errors import InputFileError, SurgeError, UnreachableError

__all__ = ["LoadTestInputError", "RunDirectoryError", "RunFailed", "TargetUnreachableError"]


class LoadTestInputError(SurgeError, ValueError):
    """An option, a combination of options, a shape or a directory that cannot be used."""


class TargetUnreachableError(UnreachableError):
    """The app under test (or its database) cannot be reached or started."""


class RunDirectoryError(InputFileError, FileNotFoundError):
    """A run or baseline directory the user named lacks what the command reads."""


class RunFailed(SurgeError, OSError):
    """The load generator or the app under test could not do its job (its log says why)."""
