"""Surge's own Locust command-line options (also settable by environment variables).

Imported by every Surge locustfile; Locust forwards these options from the master to its workers.
Plain `locust -f loadtests/journeys/locustfile.py -H URL` works with the defaults.
"""

from __future__ import annotations

from locust import events


@events.init_command_line_parser.add_listener
def add_surge_arguments(parser) -> None:
    parser.add_argument(
        "--load-profile",
        type=str,
        default="",
        env_var="SURGE_LOAD_PROFILE",
        help="JSON load profile {kind, unit, points: [[t_s, level], ...]} played by the shape "
        "(users) or the arrival driver (arrivals_per_s); written by `surge loadtest run`",
    )
    parser.add_argument(
        "--scenario",
        type=str,
        default="",
        env_var="SURGE_SCENARIO",
        help="open_locustfile.py: replay this scenario's arrival curve (built-in name or TOML) "
        "and use its patient behaviour, unless --load-profile is given",
    )
    parser.add_argument(
        "--replay-scale",
        type=float,
        default=0.0005,
        env_var="SURGE_REPLAY_SCALE",
        help="--scenario replay: load-test visitors per real visitor",
    )
    parser.add_argument(
        "--replay-compress",
        type=float,
        default=60.0,
        env_var="SURGE_REPLAY_COMPRESS",
        help="--scenario replay: real seconds played per wall second",
    )
    parser.add_argument(
        "--arrival-rate",
        type=float,
        default=0.0,
        env_var="SURGE_ARRIVAL_RATE",
        help="open model: total arrivals/s (overrides the ArrivalUser class's `rate`)",
    )
    parser.add_argument(
        "--arrival-users",
        type=int,
        default=0,
        env_var="SURGE_ARRIVAL_USERS",
        help="how many ArrivalUser instances share the rate (default: -u)",
    )
    parser.add_argument(
        "--arrivals-back-to-back",
        action="store_true",
        default=False,
        env_var="SURGE_ARRIVALS_BACK_TO_BACK",
        help="closed model of the ArrivalUsers: each instance runs journey() back to back, "
        "without arrivals (the capacity runs of `surge loadtest overload` and the steps of "
        "`surge calibrate --validate --locustfile`)",
    )
    parser.add_argument(
        "--late-after-ms",
        type=float,
        default=50.0,
        env_var="SURGE_LATE_AFTER_MS",
        help="an arrival that starts this much later than scheduled is counted late",
    )
    parser.add_argument(
        "--request-log",
        type=str,
        default="",
        env_var="SURGE_REQUEST_LOG",
        help="write one CSV row per request to PREFIX-<host>-<pid>.csv",
    )
    parser.add_argument(
        "--surge-summary",
        type=str,
        default="",
        env_var="SURGE_SUMMARY",
        help="write HDR percentiles, booking outcomes and late arrivals here as JSON "
        "(default: <--csv prefix>_surge.json when --csv is given)",
    )
    parser.add_argument(
        "--surge-live",
        type=str,
        default="",
        env_var="SURGE_LIVE",
        help="while the test runs, rewrite this JSON file of the counters (arrivals scheduled, "
        "started, late, dropped; waiting-room admissions) about once a second (master or local "
        "process; workers' counts arrive with their reports)",
    )
    parser.add_argument(
        "--admin-key",
        type=str,
        default="",
        env_var="SURGE_ADMIN_KEY",
        is_secret=True,
        help="admin bearer key of the app (CenterAdmin user)",
    )
    parser.add_argument(
        "--patient-behaviour",
        type=str,
        default="",
        env_var="SURGE_PATIENT_BEHAVIOUR",
        help="JSON overrides of loadtests.journeys.patient.PatientBehaviour fields",
    )
    parser.add_argument(
        "--surge-quit-after-stop",
        type=float,
        default=-1.0,
        env_var="SURGE_QUIT_AFTER_STOP",
        help="web UI runs (`surge loadtest run --web`): quit this many seconds after the test "
        "stops, whether at its end or from the browser (default -1: never)",
    )
    parser.add_argument(
        "--surge-seed",
        type=int,
        default=-1,
        env_var="SURGE_SEED",
        help="seed of the load generator's randomness (default: fresh entropy)",
    )
