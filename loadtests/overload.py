"""Overload: the app at a multiple of the throughput it can serve, with and without the waiting
room, as three ordinary load-test runs (`surge loadtest overload`).

Over 450 lines, on purpose: the three runs, their verdicts (the reference journey's rules and
a user's own journeys' SLO) and the table that prints them read the same `Phase` records and
change together; the recovery measurement itself lives in `loadtests.recovery`.

1. `capacity`: a closed pool of patients with no think time and no waiting room; the journeys
   they complete per second are the capacity C (app and load generator as deployed).
2. `waiting-room`: Poisson arrivals at `multiple` x C for `duration`, the room admitting
   `admission_share` x C visitors per second.
3. `no-waiting-room`: the same arrivals with the room off: the contrast.

Each run gets a freshly seeded app (or the `--host` deployment) and its own directory with the
usual summary.json and report.html. The verdict reads the room run against the scenario's SLO:
admitted visitors' booking p99 (timed from the request's intended start) under
`slo.p99_ms.book`, queue joins under `slo.p99_ms.queue_join`, no failures beyond the error
budget (a 503 that points to the queue is a correct answer, not a failure), the app alive with
invariants 0 afterwards, and back within the booking SLO after the overload.

Runs 2 and 3 go on for `recovery` after the overload at a probe load (`probe_share` x C
arrivals/s): `loadtests.recovery` measures, per run, how long after the overload stops the
booking p99 of a rolling `recovery_window` is back within the SLO. The latency figures of the
verdict and the table are those of requests sent during the overload phase.

With a journey file of the user's own (`locustfile`), its ArrivalUsers drive all three runs: the
capacity run plays them back to back (a closed pool of `capacity_users`), the others as
arrivals. The waiting room is the reference app's: it runs when the target is the reference app
(`--start-app`, or `--host` with its admin key); without an admin key `--admission-share` is
refused and the room run skipped. The verdict then reads the `--slo` file (or the scenario's
`[slo]`) against the room run, else the run without a room: per-route latency targets (a name
no request used fails as "no data"), the error budget, memory growth when measured, and the
invariants only where readable ("not applicable" without an admin key).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loadtests.errors import LoadTestInputError, RunFailed
from loadtests.plan import RunOptions
from loadtests.recovery import recovery_time
from loadtests.shapes.profile import LoadProfile, parse_duration_s

if TYPE_CHECKING:
    from simulations.scenario.slo import Slo

__all__ = [
    "OverloadOptions",
    "Phase",
    "describe",
    "judge_overload",
    "judge_own_journeys",
    "run_overload",
]

PHASES = ("capacity", "waiting-room", "no-waiting-room")
COMPLETED = ("booked", "booked_then_cancelled", "no_slot", "gave_up")


@dataclass(frozen=True)
class OverloadOptions:
    scenario: str
    out_dir: Path
    host: str | None = None
    start_app: str | None = None
    db: str | None = None
    multiple: float = 5.0
    admission_share: float | None = None  # None: 0.5 where the waiting room can run
    duration: str | float = "30s"
    capacity_users: int = 8
    capacity_duration: str | float = "20s"
    workers: int = 0
    seed: int | None = None
    overrides: tuple[str, ...] = ()
    recovery: str | float = "30s"  # probe load after the overload, watched for the recovery
    probe_share: float = 0.5  # probe arrivals/s as a share of the capacity
    recovery_window: str | float = "5s"  # rolling window of the booking p99
    locustfile: Path | None = None  # the user's journeys; None: the reference journeys
    slo_file: Path | None = None  # an SLO file replacing the scenario's [slo] table

    @property
    def share(self) -> float:
        return 0.5 if self.admission_share is None else self.admission_share

    def room_runs(self) -> bool:
        """Whether the waiting-room run can happen: the reference journey (its target is the
        reference app), a started reference app, or a `--host` with an admin key. Without an
        admin key a user's target gets no room: `--admission-share` is then refused."""
        if self.locustfile is None or self.start_app or os.environ.get("SURGE_ADMIN_KEY"):
            return True
        if self.admission_share is not None:
            raise LoadTestInputError(
                "--admission-share drives the reference app's waiting room: with --host and a "
                "journey file it needs that app's admin key in SURGE_ADMIN_KEY (without it, "
                "overload runs the capacity and the overload without a room)"
            )
        return False

    def check(self) -> None:
        if not self.multiple > 1:
            raise LoadTestInputError(
                f"invalid --multiple {self.multiple!r}: must be > 1 (overload)"
            )
        if not 0 < self.share <= 1:
            raise LoadTestInputError(
                f"invalid --admission-share {self.admission_share!r}: must be in (0, 1]"
            )
        if not 0 < self.probe_share < 1:
            raise LoadTestInputError(
                f"invalid --probe-share {self.probe_share!r}: must be in (0, 1) (below capacity)"
            )
        if parse_duration_s(self.recovery_window) > parse_duration_s(self.recovery):
            raise LoadTestInputError("--recovery-window must not exceed --recovery")
        if self.capacity_users < 1:
            raise LoadTestInputError(
                f"invalid --capacity-users {self.capacity_users}: must be >= 1"
            )


@dataclass(frozen=True)
class Phase:
    """What one of the three runs measured (from its summary.json)."""

    name: str
    summary: dict[str, Any]
    requests: pd.DataFrame | None = None  # with `overload_s`: figures of the overload phase
    overload_s: float | None = None
    recovery: dict[str, Any] | None = None

    def route_p99_ms(self, route: str) -> float | None:
        return self.route_percentile_ms(route, 99)

    def route_percentile_ms(self, route: str, q: int) -> float | None:
        if self.requests is not None and self.overload_s is not None:
            part = self.requests[self.requests["name"] == route]
            t = part["start_epoch_s"].astype(float) - float(self.summary["test_start_epoch_s"])
            latency = part["response_time_ms"].astype(float)[t < self.overload_s]
            return float(np.percentile(latency, q)) if len(latency) else None
        entry = self.summary["routes"].get(route)
        if not entry or not entry["count"]:
            return None
        return entry["hdr"].get(f"p{q}_ms") or entry["locust"].get(f"p{q}_ms")

    @property
    def reference(self) -> bool:
        return (self.summary.get("journey") or {"reference": True})["reference"]

    def journeys_completed(self) -> int:
        if not self.reference:  # a journey of the user's own: journey() returned
            return int(self.summary["arrivals"].get("finished", 0))
        journeys = self.summary["journeys"]
        return sum(int(journeys.get(k, 0)) for k in COMPLETED)

    def record(self) -> dict[str, Any]:
        s = self.summary
        routes = s["routes"]
        return {
            "phase": self.name,
            "duration_s": s["duration_s"],
            "arrivals_started": s["arrivals"]["started"],
            "arrivals_late": s["arrivals"]["late"],
            "journeys": s["journeys"],
            "journeys_completed": self.journeys_completed(),
            "bookings": s["bookings"]["success"],
            "requests": s["total"]["count"],
            "failures": s["total"]["failures"],
            "error_rate": s["total"]["error_rate"],
            "book_p50_ms": self.route_percentile_ms("book", 50),
            "book_p99_ms": self.route_p99_ms("book"),
            "queue_join_p99_ms": self.route_p99_ms("queue_join"),
            "queue_poll_p99_ms": self.route_p99_ms("queue_poll"),
            "queue_joins": (routes.get("queue_join") or {}).get("count", 0),
            "admitted": s["waiting_room"]["admitted"],
            "app_rss_mb": s.get("app_rss_mb"),
            "app_cpu_pct": s.get("app_cpu_pct"),
            "requests_per_s": s["total"]["rps"],
            "invariants": s.get("invariants"),
            "p99_ms": {name: self.route_p99_ms(name) for name in sorted(routes)},
            "overload_s": self.overload_s,
            "recovery": self.recovery,
        }


def _run(
    options: RunOptions,
    echo: Callable[[str], None],
    overload_s: float | None = None,
    recovery: dict[str, Any] | None = None,
) -> Phase:
    """One run; with `overload_s`, its overload-phase figures and (`recovery`: the arguments of
    `recovery_time` beyond the records) its recovery."""
    from loadtests.orchestrate import run_loadtest

    run_loadtest(options, echo=echo)  # the SLO verdict of each run is read below, not here
    summary = json.loads((options.out_dir / "summary.json").read_text())
    if overload_s is None:
        return Phase(options.out_dir.name, summary)
    requests = pd.read_csv(options.out_dir / "requests.csv", keep_default_na=False)
    start = float(summary["test_start_epoch_s"])
    found = recovery_time(requests, start, overload_s, **(recovery or {}))
    return Phase(options.out_dir.name, summary, requests, overload_s, found)


def judge_overload(room: Phase, slo: Slo, rss_growth_max_mb: float = 200.0) -> list[dict[str, Any]]:
    """The overload verdict: one record per rule, each with the threshold and the measurement."""
    p99, error_rate_max = slo.p99_ms, slo.error_rate_max
    rules: list[dict[str, Any]] = []

    def rule(name: str, limit: float | None, measured: float | None, passed: bool) -> None:
        rules.append({"rule": name, "limit": limit, "measured": measured, "passed": passed})

    book = room.route_p99_ms("book")
    rule("admitted booking p99 ms", p99.get("book"), book,
         book is not None and (p99.get("book") is None or book <= p99["book"]))  # fmt: skip
    join = room.route_p99_ms("queue_join")
    rule("queue join p99 ms", p99.get("queue_join"), join,
         join is not None and (p99.get("queue_join") is None or join <= p99["queue_join"]))  # fmt: skip
    errors = room.summary["total"]["error_rate"] or 0.0
    rule("error rate", error_rate_max, errors, errors <= error_rate_max)
    invariants = room.summary.get("invariants")
    broken = None if invariants is None else sum(
        int(v) for k, v in invariants.items() if k != "appointments"
    )  # fmt: skip
    rule("app alive, invariants 0", 0, broken, broken == 0)
    if room.recovery is not None:
        back = room.recovery["recovery_s"]
        rule("back within the booking SLO after the overload s", room.recovery["watched_s"],
             back, back is not None)  # fmt: skip
    rss = room.summary.get("app_rss_mb")
    if rss:
        growth = rss["peak"] - rss["first"]
        rule("app memory growth MB", rss_growth_max_mb, round(growth, 1),
             growth <= rss_growth_max_mb)  # fmt: skip
    return rules


def judge_own_journeys(
    phase: Phase, slo: Slo, rss_growth_max_mb: float = 200.0
) -> list[dict[str, Any]]:
    """The overload verdict of a user's journeys: the SLO's latency targets by request name and
    its error budget (`loadtests.verdicts.slo.judge`), memory growth when the run measured it,
    and the invariants, not applicable without an admin key."""
    from loadtests.reports.summary import measured_of
    from loadtests.verdicts.slo import judge

    rules: list[dict[str, Any]] = [
        {"rule": r.rule, "limit": r.target, "measured": r.measured, "passed": r.passed,
         "detail": r.detail}
        for r in judge(measured_of(phase.summary), slo).rules
    ]  # fmt: skip
    invariants = phase.summary.get("invariants")
    if invariants is not None:
        broken = sum(int(v) for k, v in invariants.items() if k != "appointments")
        rules.append({"rule": "app alive, invariants 0", "limit": 0, "measured": broken,
                      "passed": broken == 0})  # fmt: skip
    else:
        rules.append({"rule": "app alive, invariants 0", "limit": 0, "measured": None,
                      "passed": True, "applicable": False,
                      "detail": "not applicable: no admin key"})  # fmt: skip
    rss = phase.summary.get("app_rss_mb")
    if rss:
        growth = rss["peak"] - rss["first"]
        rules.append({"rule": "app memory growth MB", "limit": rss_growth_max_mb,
                      "measured": round(growth, 1), "passed": growth <= rss_growth_max_mb})  # fmt: skip
    return rules


def run_overload(options: OverloadOptions, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """The three runs and the verdict; writes `overload.json` in `options.out_dir`."""
    from simulations.scenario.scenario import load_scenario

    options.check()
    scenario = load_scenario(options.scenario, options.overrides)
    slo = scenario.slo
    if options.slo_file is not None:
        from simulations.scenario.slo import load_slo

        slo = load_slo(options.slo_file)
    with_room = options.room_runs()
    own = options.locustfile is not None
    # Recovery is watched on the booking route (the reference journey), or on the first route the
    # user's SLO gives a p99 target; without one there is no probe phase.
    watched_route = next(iter(sorted(slo.p99_ms)), None) if own else "book"
    if not own and slo.p99_ms.get("book") is None:
        raise LoadTestInputError(f"scenario {scenario.name} has no slo.p99_ms.book: no recovery")
    if options.host:
        from loadtests.execute import check_reachable

        check_reachable(options.host.rstrip("/"), health_path=_health_path(options))
    if options.locustfile is not None:
        from loadtests.journeys.journey_file import read_journey_file

        journey = read_journey_file(options.locustfile)
        if not journey.arrival_classes:
            raise LoadTestInputError(
                f"journey file {options.locustfile}: overload offers arrivals, so it needs an "
                "ArrivalUser subclass (`from loadtests import ArrivalUser`, with journey())"
            )
    room_off = 0.0 if with_room else None  # None: the room is left alone (none to drive)
    base = RunOptions(
        scenario=options.scenario,
        out_dir=options.out_dir,
        host=options.host,
        start_app=options.start_app,
        db=options.db,
        seed=options.seed,
        overrides=options.overrides,
        workers=options.workers,
        compare_rule="default",
        locustfile=options.locustfile,
        slo_file=options.slo_file,
    )
    runs = 3 if with_room else 2
    who = "journeys" if own else "patients"
    echo(f"overload 1/{runs}: capacity, {options.capacity_users} back-to-back {who}, no room")
    capacity = _run(
        replace(
            base,
            out_dir=options.out_dir / PHASES[0],
            users=options.capacity_users,
            shape="soak",
            duration=options.capacity_duration,
            waiting_room_rate=room_off,
            behaviour=(("journey_pause_s", (0.0, 0.0)),),
            back_to_back=own,
        ),
        echo,
    )
    journeys_per_s = capacity.journeys_completed() / float(capacity.summary["duration_s"])
    if journeys_per_s <= 0:
        raise RunFailed(
            f"no journey completed in the capacity run; see {options.out_dir / PHASES[0]}"
        )
    offered = options.multiple * journeys_per_s
    admission = options.share * journeys_per_s if with_room else None
    overload_s = parse_duration_s(options.duration)
    end_s = overload_s
    watch = None
    profile = None
    probe = options.probe_share * journeys_per_s
    if watched_route is not None:
        end_s = overload_s + parse_duration_s(options.recovery)
        profile = LoadProfile("spike", "arrivals_per_s",
                              ((0.0, offered), (overload_s, offered), (overload_s, probe), (end_s, probe)))  # fmt: skip
        watch = {"run_end_s": end_s, "slo_p99_ms": slo.p99_ms[watched_route],
                 "window_s": parse_duration_s(options.recovery_window), "route": watched_route}  # fmt: skip
    loaded = replace(base, rate=offered, shape="soak", duration=end_s, profile=profile)
    watched = overload_s if watch is not None else None
    room = None
    if with_room:
        echo(
            f"capacity {journeys_per_s:.1f} journeys/s; overload 2/3: {offered:.1f} arrivals/s "
            f"({options.multiple:g}x) with the waiting room admitting {admission:.1f}/s"
        )
        room = _run(
            replace(loaded, out_dir=options.out_dir / PHASES[1], waiting_room_rate=admission),
            echo, watched, watch,
        )  # fmt: skip
    else:
        echo(f"capacity {journeys_per_s:.1f} journeys/s; no waiting room to drive (no admin key)")
    echo(f"overload {runs}/{runs}: {offered:.1f} arrivals/s without the waiting room")
    no_room = _run(
        replace(loaded, out_dir=options.out_dir / PHASES[2], waiting_room_rate=room_off),
        echo, watched, watch,
    )  # fmt: skip
    judged = room or no_room
    rules = judge_own_journeys(judged, slo) if own else judge_overload(judged, slo)
    result = {
        "scenario": scenario.name,
        "journey_file": str(options.locustfile) if own else None,
        "capacity_journeys_per_s": round(journeys_per_s, 2),
        "multiple": options.multiple,
        "offered_arrivals_per_s": round(offered, 2),
        "admission_per_s": None if admission is None else round(admission, 2),
        "probe_arrivals_per_s": round(probe, 2) if watch is not None else None,
        "overload_s": overload_s,
        "recovery_watched_s": end_s - overload_s,
        "recovery_route": watched_route,
        "judged_phase": judged.name,
        "phases": [p.record() for p in (capacity, room, no_room) if p is not None],
        "verdict": {"passed": all(r["passed"] for r in rules), "rules": rules},
    }
    (options.out_dir / "overload.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def _health_path(options: OverloadOptions) -> str | None:
    """The reference app's /healthz, or (a user's platform) any HTTP answer."""
    return "/healthz" if options.locustfile is None else None


def describe(result: dict[str, Any]) -> list[str]:
    """The README-style table of an overload result, one line per figure."""
    phases = {p["phase"]: p for p in result["phases"]}
    room, no_room = phases.get("waiting-room"), phases["no-waiting-room"]

    def ms(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f} ms"

    def mb(p: dict) -> str:
        rss = p.get("app_rss_mb")
        return "-" if not rss else f"{rss['first']:.0f} -> {rss['peak']:.0f} MB"

    def recovered(p: dict) -> str:
        r = p.get("recovery")
        if not r:
            return "-"
        return f"> {r['watched_s']:g} s" if r["recovery_s"] is None else f"{r['recovery_s']:g} s"

    rows = [
        ("arrivals started (late)", lambda p: f"{p['arrivals_started']} ({p['arrivals_late']})"),
        ("bookings", lambda p: str(p["bookings"])),
        ("queue joins / admitted", lambda p: f"{p['queue_joins']} / {p['admitted']}"),
        ("booking p50 / p99", lambda p: f"{ms(p['book_p50_ms'])} / {ms(p['book_p99_ms'])}"),
        ("queue join p99", lambda p: ms(p["queue_join_p99_ms"])),
        ("failed requests", lambda p: f"{p['failures']} of {p['requests']}"),
        ("back within SLO after", recovered),
        ("app memory first -> peak", mb),
        (
            "app CPU mean (% of a core)",
            lambda p: f"{(p.get('app_cpu_pct') or {}).get('mean', '-')}",
        ),
    ]
    capacity = phases["capacity"]
    lines = [
        f"capacity run: {capacity['requests_per_s'] or 0:.0f} req/s, app CPU mean "
        f"{(capacity.get('app_cpu_pct') or {}).get('mean', '-')}% of a core",
        f"capacity {result['capacity_journeys_per_s']} journeys/s; offered "
        f"{result['offered_arrivals_per_s']} arrivals/s ({result['multiple']:g}x); room admits "
        + (f"{result['admission_per_s']}/s" if room else "- (not run: no admin key)"),
        f"after {result.get('overload_s', 0):g} s of overload: {result.get('probe_arrivals_per_s')} "
        f"arrivals/s for {result.get('recovery_watched_s', 0):g} s; latencies below are the "
        "overload phase's",
        f"{'':26} {'waiting room':>24} {'no waiting room':>24}",
    ]
    lines += [f"{label:26} {fmt(room) if room else '-':>24} {fmt(no_room):>24}"
              for label, fmt in rows]  # fmt: skip
    lines += [f"{'p99 ' + name:26} {ms((room or {}).get('p99_ms', {}).get(name)):>24} "
              f"{ms(p99):>24}" for name, p99 in no_room.get("p99_ms", {}).items()
              if result.get("journey_file")]  # fmt: skip
    for rule in result["verdict"]["rules"]:
        mark = "ok" if rule["passed"] else "FAILED"
        if rule.get("applicable") is False:
            mark = "n/a"
        measured = rule.get("detail") or rule["measured"]
        lines.append(f"{mark:6} {rule['rule']}: {measured} (limit {rule['limit']})")
    lines.append("overload: held" if result["verdict"]["passed"] else "overload: NOT held")
    return lines
