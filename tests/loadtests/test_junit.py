"""`--junit FILE`: one JUnit test case per SLO rule, per judged route and per overload rule,
failures carrying the measured and target values; read back with the standard XML parser."""

from __future__ import annotations

import copy
import json
import xml.etree.ElementTree as ET
from pathlib import Path

from loadtests.reports.junit import overload_cases, run_cases, write_junit
from surge.cli import main

REPO = Path(__file__).resolve().parents[2]
BASELINES = REPO / "results" / "baselines"


def _cases(path: Path) -> dict[str, ET.Element]:
    suite = ET.parse(path).getroot().find("testsuite")
    return {f"{c.get('classname')}/{c.get('name')}": c for c in suite.iter("testcase")}


def test_compare_writes_one_case_per_route(tmp_path, capsys):
    junit, result = tmp_path / "compare.xml", tmp_path / "compare.json"
    code = main(["loadtest", "compare", str(BASELINES / "ci-smoke-postgresql"),
                 str(BASELINES / "ci-smoke-sqlite"), "--json", str(result),
                 "--junit", str(junit)])  # fmt: skip
    routes = json.loads(result.read_text())["routes"]
    cases = _cases(junit)
    assert len(cases) == len(routes)
    for route in routes:
        case = cases[f"loadtest compare.baseline/{route['route']}"]
        failed = case.find("failure") is not None
        assert failed == (route["verdict"] == "regression")
        assert (case.find("skipped") is not None) == (route["verdict"] == "not judged")
    suite = ET.parse(junit).getroot().find("testsuite")
    regressions = sum(r["verdict"] == "regression" for r in routes)
    assert int(suite.get("failures")) == regressions and code == (3 if regressions else 0)


def test_a_breached_slo_rule_is_a_failure_with_measured_and_target(tmp_path):
    summary = json.loads((BASELINES / "ci-smoke-sqlite" / "summary.json").read_text())
    summary = copy.deepcopy(summary)
    summary.pop("baseline", None)
    rule = next(r for r in summary["slo"]["rules"] if r["rule"] == "p95_ms[search]")
    rule.update(measured=812.5, passed=False, detail="812.5ms > 500ms")
    path = write_junit(tmp_path / "run.xml", "loadtest run smoke", run_cases(summary))
    cases = _cases(path)
    assert len(cases) == len(summary["slo"]["rules"])
    failure = cases["loadtest run smoke.slo/p95_ms[search]"].find("failure")
    assert failure is not None and "measured 812.5" in failure.get("message")
    assert f"target {rule['target']:g}" in failure.get("message")
    failed = [n for n, c in cases.items() if c.find("failure") is not None]
    assert failed == ["loadtest run smoke.slo/p95_ms[search]"]


def test_overload_rules_become_cases():
    result = {"verdict": {"rules": [
        {"rule": "error rate", "limit": 0.01, "measured": 0.0, "passed": True},
        {"rule": "queue join p99 ms", "limit": 500.0, "measured": 910.0, "passed": False},
    ]}}  # fmt: skip
    cases = overload_cases(result)
    assert [c.passed for c in cases] == [True, False]
    assert cases[1].message == "measured 910.0, limit 500.0"
