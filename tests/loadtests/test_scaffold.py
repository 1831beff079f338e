"""`surge loadtest init --openapi`: a journey file with one named request per operation of the
reference app's own /openapi.json, that Locust loads as an open-model journey."""

from __future__ import annotations

import ast
import json

import pytest

from loadtests.journeys.journey_file import read_journey_file
from loadtests.scaffold import METHODS, journey_from_openapi
from reference_app.app import create_app
from reference_app.identity import generate_data_key
from reference_app.settings import Settings
from surge.cli import main


@pytest.fixture(scope="module")
def openapi(tmp_path_factory) -> dict:
    db = tmp_path_factory.mktemp("db") / "app.db"
    app = create_app(Settings(database_url=f"sqlite:///{db}", admin_key="k" * 32,
                              data_keys=generate_data_key()))  # fmt: skip
    return app.openapi()


def _requests(source: str) -> list[tuple[str, str]]:
    calls = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in METHODS:
            name = next(k.value.value for k in node.keywords if k.arg == "name")
            calls.append((node.lineno, node.func.attr, name))
    return [(method, name) for _, method, name in sorted(calls)]


def test_one_named_request_per_operation_and_locust_loads_it(tmp_path, openapi, capsys):
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(openapi))
    out = tmp_path / "journeys.py"
    assert main(["loadtest", "init", "--openapi", str(spec), "--out", str(out)]) == 0
    calls = _requests(out.read_text())
    operations = [(m, item[m]["operationId"]) for item in openapi["paths"].values()
                  for m in METHODS if m in item]  # fmt: skip
    assert len(calls) == len(operations) > 10
    assert [m for m, _ in calls] == [m for m, _ in operations]
    assert len({n for _, n in calls}) == len(calls)  # every request has its own name
    journey = read_journey_file(out)
    assert [(c.name, c.arrival) for c in journey.classes] == [("Visitors", True)]
    # nothing overwritten
    assert main(["loadtest", "init", "--openapi", str(spec), "--out", str(out)]) == 2
    assert "exists" in capsys.readouterr().err


def test_path_parameters_and_json_bodies_get_placeholders():
    spec = {
        "info": {"title": "Shop", "version": "1"},
        "paths": {"/items/{item-id}": {"put": {
            "operationId": "updateItem",
            "parameters": [{"name": "item-id", "in": "path", "schema": {"type": "integer"}},
                           {"name": "q", "in": "query", "required": True,
                            "schema": {"type": "string", "example": "red"}}],
            "requestBody": {"content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/Item"}}}},
        }}},
        "components": {"schemas": {"Item": {"type": "object", "required": ["n", "tags"],
            "properties": {"n": {"type": "integer"}, "tags": {"type": "array",
            "items": {"type": "string"}}, "note": {"type": "string"}}}}},
    }  # fmt: skip
    source = journey_from_openapi(spec, "shop.json")
    assert "item_id = 1" in source
    assert (
        "self.client.put(f\"/items/{item_id}\", params={'q': 'red'}, "
        "json={'n': 1, 'tags': ['x']}, name='updateitem')"
    ) in source
    compile(source, "journeys.py", "exec")


@pytest.mark.parametrize(
    ("content", "message"), [("{", "not JSON"), ('{"openapi": "3.1.0"}', "no 'paths'")]
)
def test_bad_documents_are_one_line_and_exit_2(tmp_path, capsys, content, message):
    spec = tmp_path / "bad.json"
    spec.write_text(content)
    assert main(["loadtest", "init", "--openapi", str(spec), "--out", str(tmp_path / "j.py")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and message in err
