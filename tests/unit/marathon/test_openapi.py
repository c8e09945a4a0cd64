"""The OpenAPI document of the v2 API (`GET /openapi.json`): served as built, every `$ref` resolves, every
operation is routed and answers one of its documented statuses. The fuzzing against a real server is
tests/integration/test_marathon_openapi.py."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx

from corral.marathon.model import AppDefinition
from corral.marathon.openapi import EXAMPLE_APP, openapi_document
from corral.marathon.runtime import MARATHON_VERSION
from corral.protocol.json import JsonValue

DOCUMENT = openapi_document(MARATHON_VERSION)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
OPENAPI_NAME = re.compile(r"[a-zA-Z0-9.\-_]+")


def refs(value: JsonValue) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("$ref", "operationRef") and isinstance(item, str):
                yield item
            else:
                yield from refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from refs(item)


def links(value: JsonValue) -> Iterator[str]:
    """The names of every response's links."""
    if isinstance(value, dict):
        found = value.get("links")
        if isinstance(found, dict):
            yield from found
        for item in value.values():
            yield from links(item)


def resolve(pointer: str) -> JsonValue:
    node: JsonValue = DOCUMENT
    for part in pointer.removeprefix("#/").split("/"):
        assert isinstance(node, dict), pointer
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


async def test_the_server_serves_the_document(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == DOCUMENT
    assert DOCUMENT["openapi"] == "3.0.3"


def test_every_reference_resolves() -> None:
    pointers = set(refs(DOCUMENT))
    assert "#/components/schemas/AppInfo" in pointers
    for pointer in pointers:
        assert isinstance(resolve(pointer), dict), pointer


def test_component_and_link_names_use_only_the_characters_openapi_allows() -> None:
    components = DOCUMENT["components"]
    assert isinstance(components, dict)
    names = [name for kind in components.values() if isinstance(kind, dict) for name in kind]
    names += links(DOCUMENT)
    assert "get-v2.apps.appId" in names
    assert [name for name in names if not OPENAPI_NAME.fullmatch(name)] == []


def test_the_example_app_is_valid() -> None:
    assert AppDefinition.from_json(EXAMPLE_APP).instances == 1


async def test_every_operation_is_routed_and_answers_a_documented_status(client: httpx.AsyncClient) -> None:
    paths = DOCUMENT["paths"]
    assert isinstance(paths, dict)
    for path, item in paths.items():
        assert isinstance(item, dict)
        url = PLACEHOLDER.sub(lambda m: m[1].lower(), path)  # {appId} -> appid: nothing by that id
        for method, operation in item.items():
            if method == "parameters":
                continue
            assert isinstance(operation, dict)
            responses = operation["responses"]
            assert isinstance(responses, dict)
            body: JsonValue = {} if "requestBody" in operation else None
            r = await client.request(method.upper(), url, json=body)
            assert str(r.status_code) in responses, f"{method.upper()} {url}: {r.status_code} {r.text}"
