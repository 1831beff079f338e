"""The scenario vocabulary: one validated, frozen description of an opening day.

A scenario is a TOML file read by the national model (`simulations.national.opening_day`), the load tests
(which replay its arrival curve scaled down) and sizing. Units are in key names (`_s`, `_min`,
`_per_s`, `_per_min`, `_ms`). Built-ins live in `simulations/scenario/builtin/<name>.toml`.

`load_scenario("france-2021-07-12", ["platform.admission_rate_per_s=500"])` returns a `Scenario`;
every problem (unknown key, wrong unit suffix, negative rate, inconsistent window, wrong type,
missing file) raises `ScenarioError` naming the key.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from simulations.scenario.campaign import Campaign
from simulations.scenario.demand import Demand
from simulations.scenario.errors import ScenarioError, describe
from simulations.scenario.platform import Platform
from simulations.scenario.regions import Regions
from simulations.scenario.slo import Slo
from simulations.scenario.supply import Supply

__all__ = [
    "Behaviour",
    "Campaign",
    "Demand",
    "HeldOut",
    "Model",
    "Platform",
    "Prior",
    "Regions",
    "Scenario",
    "ScenarioError",
    "Slo",
    "Supply",
    "apply_overrides",
    "list_scenarios",
    "load_scenario",
    "parse_overrides",
    "scenario_path",
]

SCENARIO_DIR = Path(__file__).parent / "builtin"


class Behaviour(BaseModel):
    """How visitors behave: patience, retries, refreshers, deferral.

    Patience in the waiting room is exponential (mean `wr_patience_mean_min`); a visitor whose
    patience runs out leaves the queue. After a failure (server error, slot just taken, nothing
    free nearby) a booker retries up to `retry_max` times: `refresher_share` of them hit refresh
    after `refresher_backoff_s` (mean), the others after `retry_backoff_s` (mean). A visitor who
    gives up defers (comes back later, after `defer_mean_min` on average) with probability
    `defer_share`, otherwise abandons for good.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    wr_patience_mean_min: float = Field(20.0, gt=0)
    retry_max: int = Field(3, ge=0, le=20)
    retry_share: float = Field(0.8, ge=0, le=1)
    retry_backoff_s: float = Field(60.0, gt=0)
    refresher_share: float = Field(0.3, ge=0, le=1)
    refresher_backoff_s: float = Field(5.0, gt=0)
    defer_share: float = Field(0.5, ge=0, le=1)
    defer_mean_min: float = Field(90.0, gt=0)
    center_tries: int = Field(3, ge=1, le=20)
    checkout_completion: float = Field(0.95, ge=0, le=1)


class Prior(BaseModel):
    """A range for an unsourced (or loosely sourced) parameter: uniform on [low, high].

    `source` cites an anchor of docs/sources.md or begins with "assumption"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    low: float
    high: float
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Prior:
        if self.high < self.low:
            raise ValueError(f"high ({self.high:g}) must be >= low ({self.low:g})")
        return self


class HeldOut(BaseModel):
    """A figure the model predicts but was not fitted to: what it counts between two local
    date-times (`simulations.national.heldout`). Kinds: `bookings` in [start, end), or
    `bookings_per_min` (their mean per minute)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
    end: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
    kind: str = Field(pattern="^(bookings|bookings_per_min)$")
    description: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> HeldOut:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must come after start ({self.start})")
        return self


class Model(BaseModel):
    """Numerical settings of the aggregated model (not part of the system being modelled)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tick_s: float = Field(5.0, gt=0, le=60)
    visitor_sample: int = Field(20_000, ge=0)


class Scenario(BaseModel):
    """An opening day: demand, behaviour, platform, supply and SLOs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    clock_start: str = Field("00:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    start_date: str | None = Field(None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    duration_min: float = Field(gt=0, le=31 * 24 * 60)
    scale: float = Field(1.0, gt=0)
    demand: Demand
    behaviour: Behaviour = Behaviour()
    platform: Platform = Platform()
    supply: Supply = Supply()
    slo: Slo = Slo()
    model: Model = Model()
    priors: dict[str, Prior] = Field(default_factory=dict)
    heldout: dict[str, HeldOut] = Field(default_factory=dict)
    campaign: Campaign | None = None
    regions: Regions | None = None

    @field_validator("start_date", mode="before")
    @classmethod
    def _date_as_text(cls, value: Any) -> Any:
        return value.isoformat() if hasattr(value, "isoformat") else value

    @property
    def clock_start_min(self) -> float:
        """Minutes after local midnight at which the scenario starts."""
        hours, minutes = (int(x) for x in self.clock_start.split(":"))
        return float(hours * 60 + minutes)

    @model_validator(mode="after")
    def _priors_name_parameters(self) -> Scenario:
        for key in self.priors:
            section, _, name = key.partition(".")
            table = getattr(self, section, None) if name and "." not in name else None
            if not isinstance(table, BaseModel) or name not in type(table).model_fields:
                raise ValueError(f"priors.{key}: not a scenario parameter (section.key)")
        return self

    @model_validator(mode="after")
    def _windows_fit(self) -> Scenario:
        onset = self.demand.trigger_min + self.demand.delay_min
        if not self.demand.table_min and onset >= self.duration_min:
            raise ValueError(
                f"demand.delay_min: surge starts at {onset:g} min, after the end "
                f"(duration_min={self.duration_min:g})"
            )
        if self.demand.table_min and self.demand.table_min[-1] < self.duration_min:
            raise ValueError(
                f"demand.table_min: table ends at {self.demand.table_min[-1]:g} min, before "
                f"duration_min={self.duration_min:g}"
            )
        return self

    @model_validator(mode="after")
    def _campaign_fits(self) -> Scenario:
        c = self.campaign
        if c is None:
            return self
        if self.start_date is None:
            raise ValueError("campaign: needs start_date (the first day)")
        if self.regions is not None:
            raise ValueError("regions: a campaign runs nationally (regions are for one day)")
        if (
            self.demand.surge_visitors
            or self.demand.table_min
            or self.demand.after_visitors_per_day
        ):
            raise ValueError(
                "demand: a campaign's surges are its campaign.waves (demand.surge_visitors, "
                "table_min and after_visitors_per_day must be unset)"
            )
        if self.duration_min != c.days * 1440:
            raise ValueError(
                f"duration_min: a campaign of {c.days} day(s) lasts {c.days * 1440} min "
                f"(got {self.duration_min:g})"
            )
        offset = (c.release_at_min - self.clock_start_min) % 1440
        if offset + c.release_over_min > 1440:
            raise ValueError(
                f"campaign.release_over_min: the release from {c.release_at} must end within "
                f"the day that starts at {self.clock_start} ({1440 - offset:g} min at most)"
            )
        start = f"{self.start_date}T{self.clock_start}"
        for wave in c.waves:
            if wave.opens < start:
                raise ValueError(f"campaign.waves.{wave.name}: opens before the start {start}")
        return self

    def scaled(self) -> Scenario:
        """The same scenario with `scale` folded into visitors, capacities and slots (scale 1)."""
        if self.scale == 1.0:
            return self
        s = self.scale
        return self.model_copy(
            update={
                "scale": 1.0,
                "demand": self.demand.scaled(s),
                "platform": self.platform.scaled(s),
                "supply": self.supply.scaled(s),
                "campaign": None if self.campaign is None else self.campaign.scaled(s),
            }
        )


def list_scenarios() -> list[str]:
    """Names of the built-in scenarios."""
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.toml"))


def scenario_path(ref: str | Path) -> Path:
    """The file of a built-in name or a path; raises ScenarioError when there is none."""
    text = str(ref)
    candidate = SCENARIO_DIR / f"{text}.toml"
    if "/" not in text and not text.endswith(".toml") and candidate.is_file():
        return candidate
    path = Path(text)
    if path.is_file():
        return path
    raise ScenarioError(
        f"scenario {text!r}: no such built-in or file (built-ins: {', '.join(list_scenarios())})"
    )


def load_scenario(ref: str | Path, overrides: Mapping[str, Any] | Sequence[str] = ()) -> Scenario:
    """Load a built-in (by name) or a TOML file, include its platform profile, apply overrides.

    `[platform] profile = "file.toml"` (relative to the scenario file) reads a platform profile
    (a TOML file with a `[platform]` table, as written by calibration): its keys replace the
    scenario's own. Overrides (`"section.key=value"` strings or a dict of dotted keys) apply last.
    """
    path = scenario_path(ref)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {path}: invalid TOML: {exc}") from None
    data = _include_profile(data, path.parent)
    data = _merge_overrides(data, parse_overrides(overrides))
    return _validate(data, str(path))


def write_scenario(scenario: Scenario, path: Path, header: str = "") -> Path:
    """Write a scenario as TOML that `load_scenario` (and every `--scenario FILE`) reads back
    to the same scenario; `header` is prepended (comment lines)."""
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        header + tomli_w.dumps(scenario.model_dump(exclude_none=True)), encoding="utf-8"
    )
    return path


def apply_overrides(scenario: Scenario, overrides: Mapping[str, Any] | Sequence[str]) -> Scenario:
    """A copy of `scenario` with dotted-key overrides applied and validated."""
    data = scenario.model_dump()
    data = _merge_overrides(data, parse_overrides(overrides))
    return _validate(data, scenario.name)


def _include_profile(data: dict[str, Any], base: Path) -> dict[str, Any]:
    platform = data.get("platform")
    if not isinstance(platform, dict) or "profile" not in platform:
        return data
    profile_ref = Path(str(platform["profile"]))
    profile_path = profile_ref if profile_ref.is_absolute() else base / profile_ref
    if not profile_path.is_file():
        raise ScenarioError(f"platform.profile: no such file {profile_path}")
    try:
        profile = tomllib.loads(profile_path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"platform.profile: invalid TOML in {profile_path}: {exc}") from None
    table = profile.get("platform", profile)
    merged = {k: v for k, v in platform.items() if k != "profile"}
    merged.update({k: v for k, v in table.items() if k != "profile"})
    return {**data, "platform": merged}


def parse_overrides(overrides: Mapping[str, Any] | Sequence[str]) -> dict[str, Any]:
    """`["section.key=value", ...]` (values parsed as TOML, else text) or a dict, as a dict."""
    if isinstance(overrides, Mapping):
        return dict(overrides)
    parsed: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = str(item).partition("=")
        key = key.strip()
        if not sep or not key:
            raise ScenarioError(f"override {item!r}: expected section.key=value")
        parsed[key] = _parse_value(raw.strip())
    return parsed


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _merge_overrides(data: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    for dotted, value in overrides.items():
        parts = dotted.split(".")
        node = merged
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = {}
            elif not isinstance(child, dict):
                raise ScenarioError(f"{dotted}: {part!r} is not a section")
            else:
                child = dict(child)
            node[part] = child
            node = child
        node[parts[-1]] = value
    return merged


def _validate(data: dict[str, Any], origin: str) -> Scenario:
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"scenario {origin}: {describe(exc, Scenario)}") from None
