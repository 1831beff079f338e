"""Input errors of the scenario vocabulary: one line naming the offending key.

`ScenarioError` is what every reader of a scenario or SLO file raises on bad input;
`describe` turns a pydantic `ValidationError` into that line (with a hint when a key only has
the wrong unit suffix).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from surge.errors import SurgeError

__all__ = ["UNIT_SUFFIXES", "ScenarioError", "describe"]

UNIT_SUFFIXES = ("_per_min", "_per_s", "_per_h", "_min", "_ms", "_s", "_h", "_days")


class ScenarioError(SurgeError, ValueError):
    """A scenario (or SLO file) that cannot be loaded; the message names the offending key."""


def describe(exc: ValidationError, root: type[BaseModel]) -> str:
    """The first error of `exc` as `key: problem`, keys dotted from `root`; an unknown key comes
    first (a misspelt key also makes the right one missing)."""
    error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    key = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key{_moved_hint(key, root)}{_unit_hint(key, root)}"
    if error["type"] == "missing":
        return f"{key}: missing key"
    message = error["msg"].removeprefix("Value error, ")
    if not key or error["type"] == "value_error":
        return message  # our own validators name the key
    return f"{key}: {message} (got {error.get('input')!r})"


def _moved_hint(key: str, root: type[BaseModel]) -> str:
    """`slo.overbooked_max` -> ' (it belongs in [slo.journey])': a key one table too high."""
    section, _, leaf = key.rpartition(".")
    fields = _section_fields(section, root)
    for name in fields:
        child = _section_fields(f"{section}.{name}" if section else name, root)
        if leaf in child:
            return f" (it belongs in [{section + '.' if section else ''}{name}])"
    return ""


def _unit_hint(key: str, root: type[BaseModel]) -> str:
    """`platform.admission_rate_per_min` -> ' (wrong unit suffix? expected admission_rate_per_s)'."""
    section, _, leaf = key.rpartition(".")
    stem = _strip_unit(leaf)
    if stem == leaf:
        return ""
    fields = _section_fields(section, root)
    matches = [f for f in fields if _strip_unit(f) == stem and f != leaf]
    if not matches:
        return ""
    return f" (wrong unit suffix? expected {', '.join(matches)})"


def _strip_unit(name: str) -> str:
    for suffix in UNIT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _section_fields(section: str, root: type[BaseModel]) -> list[str]:
    model: Any = root
    for part in [p for p in section.split(".") if p]:
        field = model.model_fields.get(part) if hasattr(model, "model_fields") else None
        if field is None or not isinstance(field.annotation, type):
            return []
        model = field.annotation
    return list(model.model_fields) if hasattr(model, "model_fields") else []
