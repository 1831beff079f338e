"""The platform profile: what calibration learned about a deployment, as a TOML file.

The `[platform]` table holds only keys of the national simulation's `[platform]` section
(`simulations/scenario/platform.py`), so a scenario includes the file directly with
`[platform] profile = "profile.toml"`: `web_workers`, `db_connections` and `service_ms` (the mean
measured service time per route, for the routes of the shared vocabulary). Everything else sits
under `[calibration]`, which scenarios ignore and `surge predict` reads:

    [platform]
    web_workers = 2
    db_connections = 10
    service_ms = { search = 12.5, availability = 8.1, book = 30.2 }
    db_ms = {}                   # measured times include the database: nothing added on top
    [calibration]
    think_time_s = 0.0
    share_dispersion = 0.6       # sigma of the lognormal share weights (0 = equal sharing)
    [calibration.usl]            # throughput (requests/s) vs requests in flight (the platform)
    lambda_per_s = 85.0
    sigma = 0.12
    kappa = 0.0004
    [calibration.usl_users]      # throughput vs concurrent users (the classic USL curve)
    lambda_per_s = 80.0
    sigma = 0.13
    kappa = 0.0005
    [calibration.routes.search]  # share of requests + fitted service-time distribution
    share = 0.4
    family = "lognormal"
    params = [0.5, 0.0, 0.011]
    [calibration.run]            # provenance and fit quality
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from simulations.calibration.service_time import ServiceTimeFit, from_record
from simulations.calibration.usl import UslModel
from simulations.scenario.slo import ROUTES
from surge.errors import SurgeError


class ProfileError(SurgeError, ValueError):
    """A platform profile file that is missing, not TOML or not a valid profile."""


@dataclass(frozen=True)
class RouteProfile:
    name: str
    share: float
    service: ServiceTimeFit


@dataclass(frozen=True)
class PlatformProfile:
    """Everything `surge predict` needs. `routes` shares sum to 1."""

    usl: UslModel
    routes: tuple[RouteProfile, ...]
    web_workers: int = 1
    db_connections: int = 10
    think_time_s: float = 0.0
    share_dispersion: float = 0.0
    usl_users: UslModel | None = None  # the classic curve: throughput vs users (with think time)
    calibration: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.routes:
            raise ProfileError("platform profile: at least one route is needed")
        total = sum(r.share for r in self.routes)
        if not math.isclose(total, 1.0, rel_tol=1e-6, abs_tol=1e-6):
            raise ProfileError(f"platform profile: route shares sum to {total:.6f}, not 1")
        if any(r.share < 0 for r in self.routes):
            raise ProfileError("platform profile: route shares must be >= 0")
        if self.web_workers < 1 or self.db_connections < 1:
            raise ProfileError("platform profile: web_workers and db_connections must be >= 1")
        if self.think_time_s < 0:
            raise ProfileError("platform profile: think_time_s must be >= 0")
        if self.share_dispersion < 0:
            raise ProfileError("platform profile: share_dispersion must be >= 0")

    @property
    def mean_service_s(self) -> float:
        return sum(r.share * r.service.mean_s for r in self.routes)


def to_document(profile: PlatformProfile) -> dict:
    u = profile.usl
    platform = {
        "web_workers": profile.web_workers,
        "db_connections": profile.db_connections,
        "service_ms": {
            r.name: r.service.mean_s * 1000.0 for r in profile.routes if r.name in ROUTES
        },
        # The measured times already include the database: no default DB time on top.
        "db_ms": {},
    }
    calibration = {
        "think_time_s": profile.think_time_s,
        "share_dispersion": profile.share_dispersion,
        "usl": {"lambda_per_s": u.lambda_per_s, "sigma": u.sigma, "kappa": u.kappa},
        "routes": {r.name: {"share": r.share, **r.service.as_record()} for r in profile.routes},
    }
    if profile.usl_users is not None:
        v = profile.usl_users
        calibration["usl_users"] = {
            "lambda_per_s": v.lambda_per_s,
            "sigma": v.sigma,
            "kappa": v.kappa,
        }
    if profile.calibration:
        calibration["run"] = _tomlable(profile.calibration)
    return {"platform": platform, "calibration": calibration}


def _tomlable(value):
    """TOML has no null and no inf/nan in tomli-w: drop None, write non-finite floats as strings."""
    if isinstance(value, dict):
        return {str(k): _tomlable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_tomlable(v) for v in value if v is not None]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def from_document(doc: dict, source: str = "profile") -> PlatformProfile:
    try:
        platform = doc["platform"]
        calibration = doc["calibration"]
        usl = calibration["usl"]
        users = calibration.get("usl_users")
        routes = tuple(
            RouteProfile(name=name, share=float(r["share"]), service=from_record(r))
            for name, r in calibration["routes"].items()
        )
        return PlatformProfile(
            usl=UslModel(
                lambda_per_s=float(usl["lambda_per_s"]),
                sigma=float(usl["sigma"]),
                kappa=float(usl["kappa"]),
            ),
            routes=routes,
            web_workers=int(platform.get("web_workers", 1)),
            db_connections=int(platform.get("db_connections", 10)),
            think_time_s=float(calibration.get("think_time_s", 0.0)),
            share_dispersion=float(calibration.get("share_dispersion", 0.0)),
            usl_users=None
            if users is None
            else UslModel(
                lambda_per_s=float(users["lambda_per_s"]),
                sigma=float(users["sigma"]),
                kappa=float(users["kappa"]),
            ),
            calibration=dict(calibration.get("run", {})),
        )
    except KeyError as exc:
        raise ProfileError(
            f"{source}: missing key {exc.args[0]!r} in the platform profile"
        ) from None
    except (TypeError, AttributeError) as exc:
        raise ProfileError(f"{source}: malformed platform profile ({exc})") from None


def write_profile(profile: PlatformProfile, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(to_document(profile)), encoding="utf-8")
    return path


def read_profile(path: str | Path) -> PlatformProfile:
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ProfileError(f"profile not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{path}: not valid TOML ({exc})") from None
    return from_document(doc, source=str(path))
