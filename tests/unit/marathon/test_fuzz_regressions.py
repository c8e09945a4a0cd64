"""Bugs schemathesis found fuzzing the v2 API from its OpenAPI document (tests/integration/
test_marathon_openapi.py), each pinned here without the fuzzer."""

from __future__ import annotations

import itertools
import re

import httpx
import pytest

from corral.marathon.errors import ValidationError
from corral.marathon.model import AppDefinition
from corral.marathon.paths import RAML_PATTERN
from corral.marathon.reader import NO_MATCH
from corral.marathon.validation import MAX_INSTANCES

# The RAML `PathId` pattern as upstream spells it (marathon.md b.1), which backtracks exponentially.
UPSTREAM_RAML = re.compile(r"^(\/?((\.{2})|([a-z0-9][a-z0-9\-.]*[a-z0-9]+)|([a-z0-9]*))($|\/))+$")


def test_the_id_pattern_accepts_exactly_what_upstreams_does() -> None:
    for n in range(7):
        for chars in itertools.product("a0-./A", repeat=n):
            text = "".join(chars)
            assert bool(RAML_PATTERN.fullmatch(text)) == bool(UPSTREAM_RAML.fullmatch(text)), text


def test_a_long_id_with_double_slashes_is_refused_without_backtracking_for_ever() -> None:
    # Upstream's pattern took seconds on a hundred characters of this, blocking Marathon's event loop;
    # on these thousand the test would never end.
    hostile = "0a//aaa//0aa/a0aa00aa0aa-000-.aaaaa/aaa.0a0a0" * 22 + "!"
    with pytest.raises(ValidationError) as caught:
        AppDefinition.from_json({"id": hostile, "cmd": "sleep 10"})
    assert caught.value.errors_at("/id") == [NO_MATCH]


async def test_huge_whole_resources_are_a_422_not_a_500(client: httpx.AsyncClient) -> None:
    # `int(1e308)` has no 64-bit JSON form: encoding the app raised, and the API answered 500. No Mesos
    # scalar is that large, so such an app is now refused before it is stored.
    r = await client.post("/v2/apps", json={"id": "big", "cmd": "sleep 10", "mem": 1.0e308, "cpus": 2.0**70})
    assert r.status_code == 422, r.text
    assert {d["path"] for d in r.json()["details"]} == {"/mem", "/cpus"}
    r = await client.post("/v2/apps", json={"id": "big", "cmd": "sleep 10", "mem": 2.0**50})
    assert r.status_code == 201, r.text
    app = (await client.get("/v2/apps/big")).json()["app"]
    assert app["mem"] == 2**50
    assert app["disk"] == 0 and isinstance(app["disk"], int)  # small whole numbers are still ints


async def test_an_app_in_a_group_named_tasks_is_an_app_not_a_task(client: httpx.AsyncClient) -> None:
    # Only DELETE /v2/apps/{appId}/tasks/{taskId} names a task; these answered 405 and 404.
    assert (await client.put("/v2/apps/tasks/web", json={"cmd": "sleep 10"})).status_code == 201
    r = await client.get("/v2/apps/tasks/web")
    assert r.status_code == 200 and r.json()["app"]["id"] == "/tasks/web"
    assert (await client.patch("/v2/apps/tasks/web?force=true", json={"instances": 2})).status_code == 200


async def test_a_huge_group_scale_saturates_instances_not_a_500(client: httpx.AsyncClient) -> None:
    # 3e9 instances no app reader takes; then instances * 1e300 is infinity, which ceil refused (a 500).
    assert (await client.put("/v2/apps/fuzz/web", json={"cmd": "sleep 10"})).status_code == 201
    for factor in (3e9, 1e300):
        r = await client.put("/v2/groups/fuzz?force=true", json={"scaleBy": factor})
        assert r.status_code == 200, r.text
        assert (await client.get("/v2/apps/fuzz/web")).json()["app"]["instances"] == MAX_INSTANCES
