"""A Postman collection (schema v2.1) built from the Swagger document."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
METHODS = ("get", "post", "put", "patch", "delete")


def postman_collection(swagger: dict[str, Any], base_url: str) -> dict[str, Any]:
    """One folder per tag, one request per operation, bearer auth from `{{token}}`."""
    folders: dict[str, list[dict[str, Any]]] = {}
    for path, operations in sorted(swagger.get("paths", {}).items()):
        shared = operations.get("parameters", [])
        for method in METHODS:
            operation = operations.get(method)
            if operation is None:
                continue
            tag = (operation.get("tags") or ["default"])[0]
            parameters = shared + operation.get("parameters", [])
            folders.setdefault(tag, []).append(
                _request(swagger, base_url, path, method, operation, parameters)
            )
    info = swagger.get("info", {})
    return {
        "info": {
            "_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, info.get("title", "api"))),
            "name": info.get("title", "API"),
            "description": info.get("description", ""),
            "schema": SCHEMA,
        },
        "auth": {
            "type": "bearer",
            "bearer": [{"key": "token", "value": "{{token}}", "type": "string"}],
        },
        "variable": [
            *(
                {"key": name, "value": "http://localhost:5000"}
                for name in re.findall(r"\{\{(\w+)\}\}", base_url)
            ),
            {"key": "token", "value": ""},
        ],
        "item": [{"name": tag, "item": items} for tag, items in sorted(folders.items())],
    }


def _request(
    swagger: dict[str, Any],
    base_url: str,
    path: str,
    method: str,
    operation: dict[str, Any],
    parameters: list[dict[str, Any]],
) -> dict[str, Any]:
    postman_path = re.sub(r"\{([^}]+)\}", r":\1", path)
    query = [
        {"key": p["name"], "value": "", "description": p.get("description", ""), "disabled": True}
        for p in parameters
        if p.get("in") == "query"
    ]
    variables = [
        {"key": p["name"], "value": "", "description": p.get("description", "")}
        for p in parameters
        if p.get("in") == "path"
    ]
    request: dict[str, Any] = {
        "method": method.upper(),
        "header": [{"key": "Content-Type", "value": "application/json"}],
        "url": {
            "raw": base_url.rstrip("/") + postman_path,
            "host": [base_url.rstrip("/")],
            "path": [segment for segment in postman_path.split("/") if segment],
            "query": query,
            "variable": variables,
        },
        "description": operation.get("summary", ""),
    }
    if operation.get("security") == []:
        request["auth"] = {"type": "noauth"}
    body = next((p for p in parameters if p.get("in") == "body"), None)
    if body is not None:
        example = _example(swagger, body.get("schema", {}))
        request["body"] = {"mode": "raw", "raw": json.dumps(example, indent=2)}
    return {"name": operation.get("summary") or operation.get("operationId"), "request": request}


def _example(swagger: dict[str, Any], schema: dict[str, Any]) -> Any:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = swagger.get("definitions", {}).get(name, {})
    if "example" in schema:
        return schema["example"]
    kind = str(schema.get("type") or "")
    if kind == "object" or "properties" in schema:
        return {
            name: _example(swagger, prop)
            for name, prop in schema.get("properties", {}).items()
            if not prop.get("readOnly")
        }
    if kind == "array":
        return [_example(swagger, schema.get("items", {}))]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("format") == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    return {"integer": 0, "number": 0, "boolean": False}.get(kind, "")
