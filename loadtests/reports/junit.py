"""JUnit XML of a verdict, for CI systems that show test results (GitHub Actions, GitLab CI,
Jenkins): one test case per SLO rule and per judged route, a failure carrying the measured and
target values.

`run_cases(summary)` reads a `summary.json` dict, `compare_cases(result)` a baseline comparison,
`overload_cases(result)` an `overload.json` dict; `write_junit(path, suite, cases)` writes the
file (standard library `xml.etree`: the format is a handful of elements).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Case", "compare_cases", "overload_cases", "run_cases", "write_junit"]


@dataclass(frozen=True)
class Case:
    classname: str  # the group: "slo", "baseline", "overload"
    name: str
    passed: bool
    message: str  # measured vs target, or why not judged
    skipped: bool = False


def run_cases(summary: dict[str, Any]) -> list[Case]:
    """One case per SLO rule of a run, then one per route judged against its baseline."""
    cases = [Case("slo", r["rule"], r["passed"], _slo_message(r)) for r in summary["slo"]["rules"]]
    if summary.get("baseline"):
        cases += compare_cases(summary["baseline"])
    return cases


def _slo_message(rule: dict[str, Any]) -> str:
    measured = "no data" if rule["measured"] is None else f"{rule['measured']:.4g}"
    return f"measured {measured}, target {rule['target']:g}: {rule['detail']}"


def compare_cases(result: dict[str, Any]) -> list[Case]:
    """One case per route of a baseline comparison; routes with too few samples are skipped."""
    cases = []
    for route in result["routes"]:
        message = (
            f"p50 {_ms(route['run_p50_ms'])} vs baseline {_ms(route['baseline_p50_ms'])}: "
            f"{route['verdict']}: {route['reason']}"
        )
        cases.append(
            Case(
                "baseline",
                route["route"],
                route["verdict"] != "regression",
                message,
                skipped=route["verdict"] == "not judged",
            )
        )
    return cases


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def overload_cases(result: dict[str, Any]) -> list[Case]:
    """One case per rule of an overload verdict."""
    return [
        Case(
            "overload",
            r["rule"],
            r["passed"],
            r.get("detail") or f"measured {r['measured']}, limit {r['limit']}",
            skipped=r.get("applicable") is False,
        )  # fmt: skip
        for r in result["verdict"]["rules"]
    ]


def write_junit(path: Path, suite: str, cases: list[Case]) -> Path:
    """Write `cases` as one JUnit `<testsuite>` named `suite` (inside `<testsuites>`)."""
    failures = sum(not c.passed and not c.skipped for c in cases)
    skipped = sum(c.skipped for c in cases)
    root = ET.Element("testsuites", name="surge", tests=str(len(cases)),
                      failures=str(failures))  # fmt: skip
    element = ET.SubElement(
        root, "testsuite", name=suite, tests=str(len(cases)), failures=str(failures),
        errors="0", skipped=str(skipped),
    )  # fmt: skip
    for case in cases:
        node = ET.SubElement(element, "testcase", classname=f"{suite}.{case.classname}",
                             name=case.name)  # fmt: skip
        if case.skipped:
            ET.SubElement(node, "skipped", message=case.message)
        elif not case.passed:
            failure = ET.SubElement(node, "failure", message=case.message, type="breached")
            failure.text = case.message
        else:
            ET.SubElement(node, "system-out").text = case.message
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path
