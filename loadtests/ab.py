"""`surge loadtest ab`: the same requests played against A and B in interleaved slices.

Each pair of slices plays one request list (drawn from the pair's own seeded generator) against
A and B, interleaved request by request: every request goes to both arms back to back, in a
random order, from one closed-loop client per arm with keep-alive. The slice of an arm is its
half of the pair; its per-route median and p95 give one ratio B/A per pair. The journey is read-only: `search` (GET /centers),
`availability` (GET /centers/{id}/availability) and `vaccines` (GET /vaccines), so seats never
sell out and the work per request does not drift between slices. After each pair the
confidence sequences of `loadtests.verdicts.ab` are updated; sampling stops when every route is
decided, at the first regression (the exit code cannot change then), or when the budget is
spent.

Targets: two base URLs (`--host-a/--host-b`), or two revisions of the reference app built from
git worktrees and each served on its own identically seeded database (`--a-ref/--b-ref
--start-app`), or, with `--start-app` alone, two copies of this checkout (an A/A run).
"""

from __future__ import annotations

import csv
import json
import random
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from loadtests.errors import LoadTestInputError, TargetUnreachableError
from loadtests.verdicts.ab import ABRule, judge_route, overall, pair_log_ratios

__all__ = ["ABOptions", "run_ab"]

POSTCODES = ("75001", "69001", "13001", "33000", "59000", "31000", "44000", "67000")
ROUTES = ("search", "availability", "vaccines")
WARMUP_REQUESTS = 10


@dataclass(frozen=True)
class ABOptions:
    out_dir: Path
    host_a: str | None = None
    host_b: str | None = None
    a_ref: str | None = None
    b_ref: str | None = None
    start_app: str | None = None  # "sqlite" | "postgresql"
    db: str | None = None
    budget_s: float = 300.0
    rule: ABRule = field(default_factory=ABRule)
    requests_per_route: int = 20  # per slice and arm
    seed: int = 42
    junit: Path | None = None
    a_serve_args: tuple[str, ...] = ()  # extra `surge app serve` options per arm (benchmarks)
    b_serve_args: tuple[str, ...] = ()
    repo: Path = Path(".")

    def __post_init__(self) -> None:
        hosts = (self.host_a, self.host_b)
        if any(hosts) and not all(hosts):
            raise LoadTestInputError("give both --host-a and --host-b")
        if any(hosts) and (self.start_app or self.a_ref or self.b_ref):
            raise LoadTestInputError(
                "--host-a/--host-b and --start-app/--a-ref/--b-ref are exclusive"
            )
        if not any(hosts) and not self.start_app:
            raise LoadTestInputError(
                "give --host-a and --host-b, or --start-app (with --a-ref/--b-ref)"
            )
        if (self.a_ref is None) != (self.b_ref is None):
            raise LoadTestInputError("give both --a-ref and --b-ref")
        if self.start_app not in (None, "sqlite", "postgresql"):
            raise LoadTestInputError(
                f"unknown --start-app {self.start_app!r}: use sqlite or postgresql"
            )
        if not self.budget_s > 0 or self.requests_per_route < 3:
            raise LoadTestInputError("--budget must be > 0 and --slice-requests >= 3")
        for host in hosts:
            if host and not host.startswith(("http://", "https://")):
                raise LoadTestInputError(f"invalid host {host!r}: use http://host:port")


# -- targets ---------------------------------------------------------------------------------


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
        ["git", "-C", str(repo), *args],  # noqa: S607 - git from PATH, as a developer runs it
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [f"git {args[0]} failed"])[0]
        raise LoadTestInputError(first)
    return done.stdout.strip()


def resolve_ref(repo: Path, ref: str) -> str:
    """The commit a ref names; ValueError (one line) for an unknown ref."""
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except ValueError:
        raise LoadTestInputError(f"unknown git ref {ref!r}") from None


@contextmanager
def _worktree(repo: Path, commit: str) -> Iterator[Path]:
    """A detached git worktree of `commit` in a temporary directory, removed after."""
    parent = Path(tempfile.mkdtemp(prefix="surge-ab-"))
    path = parent / commit[:12]
    _git(repo, "worktree", "add", "--detach", "--quiet", str(path), commit)
    try:
        yield path
    finally:
        subprocess.run(  # noqa: S603 - an argument list of our own, no shell
            ["git", "-C", str(repo), "worktree", "remove", "--force", str(path)],  # noqa: S607 - git from PATH, as a developer runs it
            capture_output=True,
            check=False,
            timeout=120,
        )
        shutil.rmtree(parent, ignore_errors=True)


def check_reachable(url: str, label: str) -> None:
    """Any HTTP answer from GET /healthz counts; a connection failure is an OSError (exit 2)."""
    import httpx

    try:
        httpx.get(url.rstrip("/") + "/healthz", timeout=5.0)
    except httpx.HTTPError as exc:
        raise TargetUnreachableError(
            f"cannot reach {label} at {url}: {type(exc).__name__}"
        ) from None


@contextmanager
def targets(options: ABOptions, echo: Callable[[str], None]) -> Iterator[dict[str, str]]:
    """Base URLs of arm A and B (and the commits served, when refs were given)."""
    if options.host_a:
        check_reachable(options.host_a, "host A")
        check_reachable(options.host_b, "host B")
        yield {"a": options.host_a.rstrip("/"), "b": options.host_b.rstrip("/")}
        return
    from loadtests.app_launcher import started_app

    refs = {"a": options.a_ref, "b": options.b_ref}
    commits = {arm: resolve_ref(options.repo, ref) for arm, ref in refs.items() if ref}
    with ExitStack() as stack:
        urls: dict[str, str] = {}
        for arm in ("a", "b"):
            source = None
            if arm in commits:
                source = stack.enter_context(_worktree(options.repo, commits[arm]))
            arm_dir = options.out_dir / f"app-{arm}"
            arm_dir.mkdir(parents=True, exist_ok=True)
            echo(f"ab: seeding and serving arm {arm.upper()} ({refs[arm] or 'this checkout'})")
            app = stack.enter_context(
                started_app(
                    options.start_app,
                    arm_dir,
                    db_server=options.db,
                    seed=options.seed,
                    source_dir=source,
                    extra_args=options.a_serve_args if arm == "a" else options.b_serve_args,
                )
            )
            urls[arm] = app.base_url
        yield {**urls, **{f"{arm}_commit": c for arm, c in commits.items()}}


# -- the journey -----------------------------------------------------------------------------


def _center_ids(client, postcodes: Sequence[str]) -> list[int]:
    ids: set[int] = set()
    for postcode in postcodes:
        response = client.get("/centers", params={"postcode": postcode, "vaccine": "pfizer"})
        if response.status_code == 200:
            ids.update(c["id"] for c in response.json())
    return sorted(ids)


def request_list(rng: random.Random, center_ids: Sequence[int], per_route: int) -> list[tuple]:
    """(route, path, params) for one slice: `per_route` of each route, shuffled."""
    items: list[tuple] = []
    for _ in range(per_route):
        items.append(("search", "/centers", {"postcode": rng.choice(POSTCODES), "limit": 10}))
        items.append(
            (
                "availability",
                f"/centers/{rng.choice(center_ids)}/availability",
                {"vaccine": "pfizer", "days": 7},
            )
        )
        items.append(("vaccines", "/vaccines", {}))
    rng.shuffle(items)
    return items


def _play(
    clients: dict, items: Sequence[tuple], rng: random.Random
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, int]]]:
    """Send each request to both arms back to back, in a random order per request.

    Interleaving request by request (a slice of one request per arm) leaves the two arms the
    same machine state within milliseconds, which a shared machine's drift cannot separate.
    Returns per arm: latencies (ms) of answered requests per route, and error counts per route.
    """
    latencies = {arm: {r: [] for r in ROUTES} for arm in clients}
    errors = {arm: dict.fromkeys(ROUTES, 0) for arm in clients}
    arms = list(clients)
    for route, path, params in items:
        rng.shuffle(arms)
        for arm in arms:
            started = time.perf_counter()
            try:
                ok = clients[arm].get(path, params=params).status_code < 400
            except Exception:  # noqa: BLE001 - a failed request is an error of its route
                ok = False
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            if ok:
                latencies[arm][route].append(elapsed_ms)
            else:
                errors[arm][route] += 1
    return latencies, errors


# -- the run ---------------------------------------------------------------------------------


def run_ab(
    options: ABOptions,
    echo: Callable[[str], None] = lambda _line: None,
    clock: Callable[[], float] = time.monotonic,
) -> dict:
    """Run the A/B comparison; returns the ab.json document (also written to out_dir)."""
    import httpx

    options.out_dir.mkdir(parents=True, exist_ok=True)
    with targets(options, echo) as urls:
        clients = {
            arm: httpx.Client(base_url=urls[arm], timeout=30.0, headers={"user-agent": "surge-ab"})
            for arm in ("a", "b")
        }
        try:
            ids_a = _center_ids(clients["a"], POSTCODES)
            ids_b = _center_ids(clients["b"], POSTCODES)
            center_ids = sorted(set(ids_a) & set(ids_b))
            if not center_ids:
                raise LoadTestInputError("no centre found on both A and B (is the app seeded?)")
            warm = request_list(random.Random(options.seed), center_ids, WARMUP_REQUESTS)  # noqa: S311 - load-test randomness, not security
            _play(clients, warm, random.Random(options.seed))  # noqa: S311 - load-test randomness, not security
            document = _sample(options, clients, center_ids, echo, clock)
        finally:
            for client in clients.values():
                client.close()
        document["targets"] = dict(urls)
    _write(options, document)
    return document


def _sample(options: ABOptions, clients: dict, center_ids: list[int], echo, clock) -> dict:
    rule = options.rule
    logs: dict[str, tuple[list[float], list[float]]] = {r: ([], []) for r in ROUTES}
    errors = {arm: dict.fromkeys(ROUTES, 0) for arm in ("a", "b")}
    decided: dict = {}
    slices: list[dict] = []
    started = clock()
    pair = 0
    # Stop when every route is decided, or at the first regression: the exit code is final then.
    while (
        clock() - started < options.budget_s
        and len(decided) < len(ROUTES)
        and not any(v.verdict == "regression" for v in decided.values())
    ):
        rng = random.Random(options.seed * 1_000_003 + pair)  # noqa: S311 - load-test randomness, not security
        items = request_list(rng, center_ids, options.requests_per_route)
        played, errs = _play(clients, items, rng)
        for arm in ("a", "b"):
            for route, count in errs[arm].items():
                errors[arm][route] += count
        for route in ROUTES:
            ratios = pair_log_ratios(played["a"][route], played["b"][route])
            for arm in ("a", "b"):
                values = played[arm][route]
                slices.append(
                    {"pair": pair, "arm": arm, "route": route, "n": len(values),
                     "p50_ms": _quantile(values, 50), "p95_ms": _quantile(values, 95)}
                )  # fmt: skip
            if ratios is not None and route not in decided:
                logs[route][0].append(ratios[0])
                logs[route][1].append(ratios[1])
        pair += 1
        for route in ROUTES:
            if route in decided:
                continue
            verdict = judge_route(route, *logs[route], rule, routes=len(ROUTES))
            if verdict.verdict != "undecided":
                decided[route] = verdict
                echo(
                    f"ab: {route} decided {verdict.verdict} after {pair} pairs: B/A median "
                    f"x{verdict.p50.estimate:.3f} [{verdict.p50.low:.3f}, {verdict.p50.high:.3f}]"
                )
    verdicts = {
        route: decided.get(route) or judge_route(route, *logs[route], rule, routes=len(ROUTES))
        for route in ROUTES
    }
    name, code = overall(verdicts)
    return {
        "verdict": name,
        "exit_code": code,
        "pairs": pair,
        "elapsed_s": round(clock() - started, 3),
        "budget_s": options.budget_s,
        "rule": asdict(rule),
        "requests_per_route": options.requests_per_route,
        "seed": options.seed,
        "routes": [verdicts[r].as_record() for r in ROUTES],
        "errors": errors,
        "slices": slices,
    }


def _quantile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    import numpy as np

    return round(float(np.percentile(values, q)), 4)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def describe(document: dict) -> list[str]:
    """The report: one line per route, then the verdict."""
    lines = [
        f"{'route':<14} {'verdict':<11} {'pairs':>5}  {'B/A p50':>8} {'interval':<17}  "
        f"{'B/A p95':>8} interval"
    ]
    for r in document["routes"]:
        lines.append(
            f"{r['route']:<14} {r['verdict']:<11} {r['pairs']:>5}  x{_fmt(r['p50_ratio']):<7} "
            f"[{_fmt(r['p50_low'])}, {_fmt(r['p50_high'])}]  x{_fmt(r['p95_ratio']):<7} "
            f"[{_fmt(r['p95_low'])}, {_fmt(r['p95_high'])}]"
        )
    rule = document["rule"]
    lines.append(
        f"{document['verdict'].upper()} (max slow-down x{rule['max_slowdown']:g}, alpha "
        f"{rule['alpha']:g}, {document['pairs']} pairs in {document['elapsed_s']:.0f} s)"
    )
    return lines


def _write(options: ABOptions, document: dict) -> None:
    out = options.out_dir
    slices = document.pop("slices")
    with (out / "slices.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=["pair", "arm", "route", "n", "p50_ms", "p95_ms"]
        )
        writer.writeheader()
        writer.writerows(slices)
    (out / "ab.json").write_text(json.dumps(document, indent=2, allow_nan=False))
    (out / "ab.md").write_text("```\n" + "\n".join(describe(document)) + "\n```\n")
    if options.junit is not None:
        write_junit(document, options.junit)


def write_junit(document: dict, path: Path) -> None:
    """One test case per route; a regression is a failure, an undecided route is skipped."""
    from loadtests.reports.junit import Case
    from loadtests.reports.junit import write_junit as write_cases

    cases = [
        Case(
            "ab",
            r["route"],
            r["verdict"] != "regression",
            f"{r['verdict']}: B/A median x{_fmt(r['p50_ratio'])} "
            f"[{_fmt(r['p50_low'])}, {_fmt(r['p50_high'])}] after {r['pairs']} pairs",
            skipped=r["verdict"] == "undecided",
        )
        for r in document["routes"]
    ]
    write_cases(path, "surge-loadtest-ab", cases)
