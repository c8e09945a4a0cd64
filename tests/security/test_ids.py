"""Hostile ids given to Marathon and Chronos (reliability-security.md 4.3 #6): app and group ids get a 4xx
(422 for an app id in a body, as upstream's validation answers), Chronos job names a 400 under both API
prefixes, and nothing with such an id is created. (The Mesos side is in test_scheduler_api.py.)

`a/b` is the one hostile id Marathon accepts: it is the app `b` in the group `/a`, which is what a
path id means there, so it is left out of the Marathon cases."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from corral.testing.hostile import HOSTILE_IDS
from corral.testing.procs import DevProcess

from .cluster import assert_all_serving

pytestmark = pytest.mark.integration

MARATHON_IDS = {name: bad for name, bad in HOSTILE_IDS.items() if bad != "a/b"}
SCHEDULE = "R/2030-01-01T00:00:00Z/PT1H"


@pytest.fixture(scope="module")
def marathon(cluster: DevProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{cluster.marathon}", timeout=10, trust_env=False) as client:
        before = client.get("/v2/apps").json()["apps"]
        yield client
        assert client.get("/v2/apps").json()["apps"] == before  # not one app was created
    assert_all_serving(cluster)


@pytest.fixture(scope="module")
def chronos(cluster: DevProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://{cluster.chronos}", timeout=10, trust_env=False) as client:
        before = client.get("/v1/scheduler/jobs").json()
        yield client
        assert client.get("/v1/scheduler/jobs").json() == before  # not one job was created
    assert_all_serving(cluster)


@pytest.mark.parametrize("bad", MARATHON_IDS.values(), ids=list(MARATHON_IDS))
def test_a_hostile_app_id_is_a_422(marathon: httpx.Client, bad: str) -> None:
    response = marathon.post("/v2/apps", json={"id": bad, "cmd": "sleep 100"})
    assert response.status_code == 422, response.text
    assert response.json()["message"] in ("Object is not valid", "Invalid JSON")
    assert any(d["path"] in ("/id", "/") for d in response.json()["details"]), response.text
    in_group = marathon.post("/v2/groups", json={"id": "/hostile", "apps": [{"id": bad, "cmd": "sleep 100"}]})
    assert in_group.status_code == 422, in_group.text
    in_list = marathon.put("/v2/apps", json=[{"id": bad, "cmd": "sleep 100"}])
    assert in_list.status_code == 422, in_list.text


@pytest.mark.parametrize("bad", MARATHON_IDS.values(), ids=list(MARATHON_IDS))
def test_a_hostile_id_in_a_url_or_as_a_group_is_refused(marathon: httpx.Client, bad: str) -> None:
    # `..` and `` resolve to the root group, which exists: 409, as upstream answers a POST of it.
    for response in (
        marathon.put(f"/v2/apps/{quote(bad, safe='')}", json={"cmd": "sleep 100"}),
        marathon.post("/v2/groups", json={"id": bad, "apps": [{"id": "web", "cmd": "sleep 100"}]}),
    ):
        assert 400 <= response.status_code < 500 and response.status_code != 401, (
            response.request.url,
            response.status_code,
            response.text,
        )


def test_an_app_id_too_long_for_its_task_ids_is_a_422(marathon: httpx.Client) -> None:
    # Task ids are `<id without the slash, / as _>.<uuid>`, and Mesos takes at most 255 bytes.
    longest = "/" + "a" * 218
    for app_id in (longest + "a", "/" + "/".join(["abcdefghi"] * 22)):
        response = marathon.post("/v2/apps", json={"id": app_id, "cmd": "sleep 100", "instances": 0})
        assert response.status_code == 422, response.text
        assert any("task ids" in e for d in response.json()["details"] for e in d["errors"])
    created = marathon.post("/v2/apps", json={"id": longest, "cmd": "sleep 100", "instances": 0})
    assert created.status_code == 201, created.text
    assert marathon.delete(f"/v2/apps{longest}?force=true").status_code == 200


@pytest.mark.parametrize("prefix", ["/v1/scheduler", "/scheduler"])
@pytest.mark.parametrize("bad", HOSTILE_IDS.values(), ids=list(HOSTILE_IDS))
def test_a_hostile_job_name_is_a_400(chronos: httpx.Client, bad: str, prefix: str) -> None:
    job = {"name": bad, "command": "true", "schedule": SCHEDULE}
    response = chronos.post(f"{prefix}/iso8601", json=job)
    assert response.status_code == 400, response.text
    assert "name" in response.json()["message"]
    dependent = chronos.post(f"{prefix}/dependency", json={"name": bad, "command": "true", "parents": ["x"]})
    assert dependent.status_code == 400, dependent.text
