"""Fuzz the whole API from its own OpenAPI schema with schemathesis (valid and invalid data):
no 5xx, and every response matches the schema (status, content type, body)."""

from __future__ import annotations

import os

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode
from support.booking_api import BookingApi

pytestmark = pytest.mark.reliability

# Cases per (operation, mode). Generation costs ~0.1 s a case on the CI box, so the full >= 1,000
# cases run on SQLite and a lighter pass on PostgreSQL catches backend-specific failures (the
# API layer is the same). SURGE_FUZZ_EXAMPLES raises both for a deeper run.
EXAMPLES = int(os.environ.get("SURGE_FUZZ_EXAMPLES", "40"))
EXAMPLES_POSTGRES = int(os.environ.get("SURGE_FUZZ_EXAMPLES", "12"))
MIN_CASES = {"sqlite": 1_000, "postgresql": 300}
ANY_STRING_PATHS = {"/queue/{ticket}"}  # its one input is any string: no invalid form exists
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _auth(api: BookingApi, patient_token: str, path: str) -> dict[str, str]:
    if path.startswith("/admin"):
        return api.admin
    if path.startswith("/appointments"):
        return {"Authorization": f"Bearer {patient_token}"}
    return {}


def _modes(operation) -> list[GenerationMode]:
    """Invalid data too, unless the only input is a header (which cannot be sent invalid)."""
    inputs = [operation.query, operation.path_parameters, operation.body]
    if operation.path not in ANY_STRING_PATHS and any(len(list(group)) for group in inputs):
        return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
    return [GenerationMode.POSITIVE]


def test_fuzzing_every_operation_gives_no_5xx_and_schema_conformant_responses(
    shared_app,
    shared_api: BookingApi,
) -> None:
    api = shared_api
    with api.client() as http:
        campaign = api.open_campaign(http, dose1_slots=5, capacity=50, janssen_slots=2)
        patient = api.new_patient(http)
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    session = requests.Session()
    cases: list[str] = []
    no_negative: list[str] = []
    backend = shared_app[1].split(":", 1)[0]
    examples = EXAMPLES if backend == "sqlite" else EXAMPLES_POSTGRES
    for operation in operations:
        for mode in _modes(operation):

            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                headers = _auth(api, patient.token, case.operation.path)
                response = case.call(base_url=api.base_url, session=session, headers=headers)
                cases.append(f"{case.method} {case.operation.path}")
                if case.operation.path == "/admin/waiting-room" and case.method == "PUT":
                    # A fuzzed admin may switch the waiting room on: its 503s are by design,
                    # so switch it off again for the next cases.
                    off = session.put(f"{api.base_url}/admin/waiting-room", json={"enabled": False}, headers=api.admin)  # fmt: skip
                    assert off.status_code == 200
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                run()
            except Unsatisfiable:  # nothing in this operation can be made invalid (POST /queue)
                assert mode == GenerationMode.NEGATIVE, operation.path
                no_negative.append(f"{operation.method.upper()} {operation.path}")
    session.close()
    assert len(cases) >= MIN_CASES[backend], len(cases)
    print(
        f"fuzzed {len(cases)} cases over {len(operations)} operations; no invalid form: {no_negative}"
    )
    assert len(no_negative) <= 3
    with api.client() as http:
        invariants = api.invariants(http)
        assert {k: v for k, v in invariants.items() if k != "appointments"} == dict.fromkeys(
            ("overbooked_slots", "double_bookings", "dose2_out_of_window", "orphan_dose2"), 0
        )
        assert (
            http.get(f"/centers/{campaign.center_id}/availability?vaccine=pfizer").status_code
            == 200
        )
