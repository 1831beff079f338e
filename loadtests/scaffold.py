"""A journey file to start from: `surge loadtest init --openapi FILE_OR_URL --out FILE`.

`journey_from_openapi(spec)` writes one named request per operation of an OpenAPI 3 document
(JSON), in the document's order, inside one `ArrivalUser.journey()`, named after the
operation's summary (or its operationId): path parameters and
required query parameters get their example, default or a typed placeholder; a JSON request
body gets its required properties the same way. The user then edits it into a real journey
(order, data, checks). `load_openapi` reads the document from a file or an http(s) URL; bad
input is a `LoadTestInputError` (one line, exit 2).
"""

from __future__ import annotations

import json
import keyword
import re
from pathlib import Path
from typing import Any

import httpx

from loadtests.errors import LoadTestInputError

__all__ = ["journey_from_openapi", "load_openapi"]

METHODS = ("get", "post", "put", "patch", "delete")
PLACEHOLDERS = {"integer": 1, "number": 1.0, "boolean": True, "string": "x", "array": [],
                "object": {}}  # fmt: skip


def load_openapi(source: str) -> dict[str, Any]:
    """The OpenAPI document at `source` (a JSON file or an http(s) URL)."""
    try:
        if source.startswith(("http://", "https://")):
            response = httpx.get(source, timeout=10.0)
            if response.status_code != 200:
                raise LoadTestInputError(f"openapi {source}: answered {response.status_code}")
            text = response.text
        else:
            text = Path(source).read_text(encoding="utf-8")
    except httpx.HTTPError as exc:
        raise LoadTestInputError(f"openapi {source}: {type(exc).__name__}: {exc}") from None
    except OSError as exc:
        raise LoadTestInputError(f"openapi {source}: {exc.strerror or exc}") from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LoadTestInputError(f"openapi {source}: not JSON: {exc}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("paths"), dict):
        raise LoadTestInputError(f"openapi {source}: no 'paths' object (not an OpenAPI document)")
    return spec


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    seen = 0
    while "$ref" in node and seen < 20:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node, seen = target, seen + 1
    for key in ("allOf", "anyOf", "oneOf"):
        if node.get(key) and "type" not in node and "properties" not in node:
            return _resolve(spec, node[key][0])
    return node


def _value(spec: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> Any:
    schema = _resolve(spec, schema or {})
    for key in ("example", "default"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if kind == "object" and depth < 4:
        props = schema.get("properties", {})
        return {
            n: _value(spec, props[n], depth + 1) for n in schema.get("required", []) if n in props
        }
    if kind == "array" and depth < 4 and schema.get("items"):
        return [_value(spec, schema["items"], depth + 1)]
    return PLACEHOLDERS.get(kind, "x")


def _identifier(text: str) -> str:
    name = re.sub(r"\W+", "_", text).strip("_").lower() or "request"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = f"r_{name}"
    return name


def _operation_lines(
    spec: dict[str, Any], path: str, method: str, op: dict[str, Any], used: set[str]
) -> list[str]:
    """The lines of one request; its name is the summary's (short) unless another took it."""
    name = _identifier(op.get("summary") or op.get("operationId") or f"{method}_{path}")
    if name in used:
        name = _identifier(op.get("operationId") or f"{method}_{path}")
    used.add(name)
    params = [_resolve(spec, p) for p in op.get("parameters", [])]
    lines = [
        f"        # {method.upper()} {path}" + (f": {op['summary']}" if op.get("summary") else "")
    ]
    url = path
    for p in params:
        if p.get("in") == "path":
            var = _identifier(p["name"])
            lines.append(f"        {var} = {_value(spec, p.get('schema', {}))!r}")
            url = url.replace("{" + p["name"] + "}", "{" + var + "}")
    query = {p["name"]: _value(spec, p.get("schema", {})) for p in params
             if p.get("in") == "query" and p.get("required")}  # fmt: skip
    args = [f'f"{url}"' if "{" in url else repr(url)]
    if query:
        args.append(f"params={query!r}")
    body = op.get("requestBody", {})
    content = _resolve(spec, body).get("content", {}) if body else {}
    if "application/json" in content:
        args.append(f"json={_value(spec, content['application/json'].get('schema', {}))!r}")
    args.append(f"name={name!r}")
    lines.append(f"        self.client.{method}({', '.join(args)})")
    return lines


def journey_from_openapi(spec: dict[str, Any], source: str = "") -> str:
    """A journey file with one named request per operation of `spec`."""
    info = spec.get("info", {})
    title = f"{info.get('title', 'the API')} {info.get('version', '')}".strip()
    body: list[str] = []
    used: set[str] = set()
    for path, item in spec["paths"].items():
        for method in METHODS:
            if isinstance(item, dict) and method in item:
                body += _operation_lines(spec, path, method, item[method], used)
    if not body:
        raise LoadTestInputError(f"openapi {source or title}: no operation in 'paths'")
    header = [
        f'"""Journeys of {title}, scaffolded by `surge loadtest init --openapi {source}`.',
        "",
        "One named request per operation, in the document's order, with placeholder values:",
        "edit the order, the data and the checks into what a real visitor does, then run",
        "",
        "    surge loadtest run --scenario smoke --locustfile THIS_FILE --host URL --rate 5",
        '"""',
        "",
        "from loadtests import ArrivalUser",
        "",
        "",
        "class Visitors(ArrivalUser):",
        "    rate = 1.0  # arrivals/s when neither --rate nor a replay sets it",
        "",
        "    def journey(self):",
    ]
    return "\n".join(header + body) + "\n"
