"""JSON abuse on every JSON endpoint of every daemon (reliability-security.md 4.3 #7, #8, #10; CVE-2018-1330,
CVE-2018-11793): nesting 500,000 deep, NaN and Infinity, a 5000-digit integer, invalid UTF-8, truncated
JSON, each as the whole body and inside an otherwise well-formed one. Every answer is a 400 (a 413 is also
fine for the megabyte-sized bodies, should a body limit be lower), never a 5xx, and every daemon still
serves afterwards. Then Marathon's numeric abuse, which is valid JSON and so a 422 naming the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from corral.testing.hostile import DEEP_ARRAY, DEEP_OBJECT, MALFORMED_JSON, POISON_VALUES, embed
from corral.testing.procs import DevProcess

from .cluster import assert_all_serving

pytestmark = pytest.mark.integration

JSON = {"Content-Type": "application/json", "Accept": "application/json"}
LARGE = {len(DEEP_ARRAY), len(DEEP_OBJECT)}


@dataclass(frozen=True)
class Endpoint:
    daemon: str
    method: str
    path: str
    template: bytes  # a well-formed body with `@` where the poison goes

    def __str__(self) -> str:
        return f"{self.daemon} {self.method} {self.path}"


ENDPOINTS = [
    Endpoint(
        "master",
        "POST",
        "/api/v1/scheduler",
        b'{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","failover_timeout":@}}}',
    ),
    Endpoint("master", "POST", "/api/v1", b'{"type":"GET_STATE","get_state":@}'),
    Endpoint(
        "master",
        "POST",
        "/api/v1/agent",
        b'{"type":"REGISTER","register":{"agent_info":{"hostname":"h","port":@}}}',
    ),
    Endpoint("master", "PUT", "/weights", b'[{"role":"r","weight":@}]'),
    Endpoint("master", "POST", "/quota", b'{"role":"r","guarantee":@}'),
    Endpoint(
        "agent",
        "POST",
        "/api/v1/executor",
        b'{"type":"SUBSCRIBE","framework_id":{"value":"f"},"executor_id":{"value":"e"},"subscribe":@}',
    ),
    Endpoint("marathon", "POST", "/v2/apps", b'{"id":"/poison","cmd":"sleep 1","cpus":@}'),
    Endpoint("marathon", "PUT", "/v2/apps", b'[{"id":"/poison","cmd":"sleep 1","mem":@}]'),
    Endpoint("marathon", "PUT", "/v2/apps/poison", b'{"cmd":"sleep 1","instances":@}'),
    Endpoint("marathon", "PATCH", "/v2/apps/poison", b'{"instances":@}'),
    Endpoint("marathon", "POST", "/v2/groups", b'{"id":"/g","apps":[{"id":"a","cmd":"sleep 1","disk":@}]}'),
    Endpoint("marathon", "PUT", "/v2/groups/g", b'{"scaleBy":@}'),
    Endpoint("marathon", "POST", "/v2/tasks/delete", b'{"ids":@}'),
    Endpoint(
        "chronos",
        "POST",
        "/v1/scheduler/iso8601",
        b'{"name":"poison","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","cpus":@}',
    ),
    Endpoint(
        "chronos",
        "POST",
        "/scheduler/iso8601",
        b'{"name":"poison","command":"true","schedule":"R/2030-01-01T00:00:00Z/PT1H","mem":@}',
    ),
    Endpoint(
        "chronos", "POST", "/v1/scheduler/dependency", b'{"name":"poison2","command":"true","parents":@}'
    ),
]
BODIES = {
    **{f"whole body: {name}": body for name, body in MALFORMED_JSON.items()},
    **{f"embedded: {name}": value for name, value in POISON_VALUES.items()},
}


def base_url(dev: DevProcess, daemon: str) -> str:
    match daemon:
        case "master":
            return dev.url
        case "agent":
            [agent] = dev.agent_addresses()
            return f"http://{agent}"
        case "marathon":
            return f"http://{dev.marathon}"
        case _:
            return f"http://{dev.chronos}"


@pytest.fixture(scope="module")
def http(cluster: DevProcess) -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30.0, trust_env=False) as client:
        yield client
    assert_all_serving(cluster)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=str)
def test_malformed_json_is_a_400_on_every_endpoint(
    cluster: DevProcess, http: httpx.Client, endpoint: Endpoint
) -> None:
    url = base_url(cluster, endpoint.daemon) + endpoint.path
    wrong: list[str] = []
    for name, poison in BODIES.items():
        body = poison if name.startswith("whole body") else embed(endpoint.template, poison)
        response = http.request(endpoint.method, url, content=body, headers=JSON)
        allowed = {400, 413} if len(body) >= min(LARGE) else {400}
        if response.status_code not in allowed:
            wrong.append(f"{name}: {response.status_code} {response.text[:120]!r}")
    assert wrong == [], str(endpoint)
    assert cluster.proc.poll() is None, cluster.fail("corral dev died")


MARATHON_NUMERIC_ABUSE: dict[str, tuple[dict[str, object], str]] = {
    "instances 1e9": ({"instances": 1e9}, "/instances"),
    "instances 2**31": ({"instances": 2**31}, "/instances"),
    "instances 0.1": ({"instances": 0.1}, "/instances"),
    "instances -1": ({"instances": -1}, "/instances"),
    "cpus 1e308": ({"cpus": 1e308}, "/cpus"),
    "cpus -1": ({"cpus": -1}, "/cpus"),
    "cpus 0": ({"cpus": 0}, "/cpus"),
    "mem -128": ({"mem": -128}, "/mem"),
    "mem 1e300": ({"mem": 1e300}, "/mem"),
    "disk 2**70": ({"disk": 2.0**70}, "/disk"),
    "cpus as a string": ({"cpus": "1"}, "/cpus"),
}


BASE_APP: dict[str, object] = {"cmd": "sleep 100", "cpus": 0.1, "mem": 16, "instances": 0}


@pytest.mark.parametrize("case", MARATHON_NUMERIC_ABUSE)
def test_marathon_numeric_abuse_is_a_422_naming_the_field(
    cluster: DevProcess, http: httpx.Client, case: str
) -> None:
    fields, path = MARATHON_NUMERIC_ABUSE[case]
    marathon = base_url(cluster, "marathon")
    created = http.post(f"{marathon}/v2/apps", json={"id": "/numbers", **BASE_APP, **fields})
    assert created.status_code == 422, created.text
    assert path in {d["path"] for d in created.json()["details"]}
    # The same numbers as a change to an app that exists
    assert http.put(f"{marathon}/v2/apps/numbers-base", json=BASE_APP).status_code in (200, 201)
    changed = http.patch(f"{marathon}/v2/apps/numbers-base?force=true", json=fields)
    assert changed.status_code == 422, changed.text
    assert path in {d["path"] for d in changed.json()["details"]}
