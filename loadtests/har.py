"""A journey file from a recorded HAR: `surge loadtest init --har FILE --out FILE`.

har2locust (PyPI) does the HAR work: it drops what a browser fetches besides the API (static
resources, tracking), keeps the headers that matter, finds the headers every request shares,
and turns JSON bodies into `json=` arguments (`self.rest`). `journey_from_har` gives each
recorded request a name of its route (method and path, ids as `id`: `get_centers_id_availability`)
and a path relative to the recorded host, then renders har2locust's entries with Surge's
template (`journeys/templates/har_journey.py.j2`): one `ArrivalUser` whose `journey()` makes
one named request per recorded request, in the recorded order. Bad input is a
`LoadTestInputError` (one line, exit 2).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from loadtests.errors import LoadTestInputError

__all__ = ["journey_from_har", "route_name"]

TEMPLATE = Path(__file__).parent / "journeys" / "templates" / "har_journey.py.j2"
ID_SEGMENT = re.compile(r"^(\d+|[0-9a-f]{8}-[0-9a-f-]{27,}|[0-9a-fA-F]{16,}|[A-Za-z0-9_-]{32,})$")
RUN_TIMEOUT_S = 120.0


def route_name(method: str, path: str) -> str:
    """`GET /centers/12/availability` -> `get_centers_id_availability`: a request name that is
    the route, whatever ids the recording used."""
    parts = ["id" if ID_SEGMENT.match(p) else p for p in path.split("/") if p]
    name = re.sub(r"\W+", "_", "_".join([method.lower(), *parts])).strip("_")
    return name or method.lower()


def _entries(har_path: Path) -> dict[str, Any]:
    try:
        har = json.loads(har_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise LoadTestInputError(f"har {har_path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LoadTestInputError(f"har {har_path}: not JSON: {exc}") from None
    entries = har.get("log", {}).get("entries") if isinstance(har, dict) else None
    if not isinstance(entries, list) or not entries:
        raise LoadTestInputError(f"har {har_path}: no log.entries (not a HAR file, or empty)")
    try:
        hosts = Counter(urlsplit(e["request"]["url"]).netloc for e in entries)
        main_host = hosts.most_common(1)[0][0]
        for e in entries:
            request = e["request"]
            url = urlsplit(request["url"])
            path = url.path or "/"
            # The recorded host's requests are relative (the run's --host); others stay whole.
            relative = path + (f"?{url.query}" if url.query else "")
            request["surge_url"] = relative if url.netloc == main_host else request["url"]
            request["surge_name"] = route_name(request["method"], path)
    except (KeyError, TypeError, AttributeError) as exc:
        raise LoadTestInputError(
            f"har {har_path}: an entry without request.url or request.method ({exc!r})"
        ) from None
    return har


def journey_from_har(har_path: Path) -> str:
    """The journey file's source: one named request per recorded request of `har_path`."""
    har = _entries(Path(har_path))
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                  os.environ.get("PATH", "")])}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:  # har2locust reads .headerignore etc. from cwd
        prepared = Path(tmp) / "recorded.har"
        prepared.write_text(json.dumps(har))
        try:
            done = subprocess.run(  # noqa: S603 - an argument list of our own, no shell
                [sys.executable, "-m", "har2locust", "--template", str(TEMPLATE),
                 "--loglevel", "WARNING", str(prepared)],
                capture_output=True, text=True, timeout=RUN_TIMEOUT_S, cwd=tmp, env=env,
                check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            raise LoadTestInputError(
                f"har {har_path}: har2locust took over {RUN_TIMEOUT_S:g}s"
            ) from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise LoadTestInputError(
            f"har {har_path}: har2locust failed: {lines[-1] if lines else done.returncode}"
        )
    source = done.stdout.strip() + "\n"
    if "name=" not in source:
        raise LoadTestInputError(
            f"har {har_path}: no API request left (har2locust keeps xhr, fetch, document and "
            "other requests; static resources are dropped)"
        )
    return source
