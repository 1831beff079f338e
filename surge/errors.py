"""What the user got wrong: `SurgeError` and its kinds (no dependencies, so every package can
subclass it).

The `surge` CLI reports a `SurgeError` as one line and exit code 2; any other exception is a bug
and shows its traceback (exit 70). Packages give their input errors this base (`ScenarioError`,
`CenterConfigError`, `LoadTestInputError`...), keeping `ValueError` or `OSError` as a second base
where existing callers catch those.
"""

from __future__ import annotations

__all__ = ["InputFileError", "SurgeError", "UnreachableError", "UsageError"]


class SurgeError(Exception):
    """Bad input from the user (a value, a file, a name, a host): one line, exit code 2."""


class UsageError(SurgeError, ValueError):
    """A command-line value or combination of options that cannot work."""


class InputFileError(SurgeError, OSError):
    """A file or directory the user named is missing or unreadable."""


class UnreachableError(SurgeError, OSError):
    """A host or database the user named cannot be reached or used."""
