"""Shared fixtures for the Marathon tests: what the PyPI `marathon` client accepts (clients.md 3.5) and a
hypothesis strategy for valid app definitions as clients send them (marathon.md b.1).
"""

from __future__ import annotations

from typing import cast

from hypothesis import strategies as st

from corral.protocol.json import JsonObject, JsonValue

# clients.md 3.5: `MarathonApp(**json)` raises TypeError on any other key.
CLIENT_APP_KEYS = {
    "acceptedResourceRoles",
    "args",
    "backoffFactor",
    "backoffSeconds",
    "cmd",
    "constraints",
    "container",
    "cpus",
    "dependencies",
    "deployments",
    "disk",
    "env",
    "executor",
    "healthChecks",
    "id",
    "role",
    "instances",
    "killSelection",
    "labels",
    "lastTaskFailure",
    "maxLaunchDelaySeconds",
    "mem",
    "ports",
    "requirePorts",
    "storeUrls",
    "taskRateLimit",
    "tasks",
    "tasksRunning",
    "tasksStaged",
    "tasksHealthy",
    "taskKillGracePeriodSeconds",
    "tasksUnhealthy",
    "upgradeStrategy",
    "unreachableStrategy",
    "uris",
    "user",
    "version",
    "versionInfo",
    "ipAddress",
    "fetch",
    "taskStats",
    "readinessChecks",
    "readinessCheckResults",
    "secrets",
    "portDefinitions",
    "residency",
    "gpus",
    "networks",
}
CLIENT_CONTAINER_KEYS = {"docker", "type", "portMappings", "volumes"}
CLIENT_PORT_MAPPING_KEYS = {"name", "containerPort", "hostPort", "servicePort", "protocol", "labels"}

ports = st.integers(min_value=1, max_value=65535)
segments = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True).filter(
    lambda s: s not in ("restart", "tasks", "versions")
)
port_names = st.from_regex(r"[a-z]([a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
ids = st.lists(segments, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts))
texts = st.text(min_size=2, max_size=12)
unit = st.floats(min_value=0.0, max_value=1.0)
VALID_CONSTRAINTS: list[JsonValue] = [
    ["hostname", "UNIQUE"],
    ["rack", "CLUSTER", "r1"],
    ["rack", "CLUSTER"],
    ["zone", "GROUP_BY"],
    ["zone", "GROUP_BY", "3"],
    ["hostname", "LIKE", "web-[0-9]+"],
    ["hostname", "UNLIKE", "db.*"],
    ["rack", "MAX_PER", "2"],
    ["ssd", "IS", "true"],
]


def as_json(strategy: st.SearchStrategy[object]) -> st.SearchStrategy[JsonValue]:
    """Hypothesis infers invariant container types; these values are JSON by construction."""
    return strategy.map(lambda value: cast(JsonValue, value))


@st.composite
def app_json(draw: st.DrawFn) -> JsonObject:
    """A valid app as a client might send it: optional fields, ports and the checks that refer to them."""
    obj: JsonObject = {"id": draw(ids)}
    if draw(st.booleans()):
        obj["cmd"] = draw(texts)
    else:
        obj["args"] = list[JsonValue](draw(st.lists(st.text(max_size=8), min_size=1, max_size=3)))
    names = draw(st.lists(port_names, max_size=3, unique=True))
    port_numbers = draw(st.lists(ports, min_size=len(names), max_size=len(names), unique=True))
    style = draw(st.sampled_from(["none", "ports", "definitions", "docker"]))
    if style == "docker":
        obj.pop("cmd", None)
        obj["container"] = {
            "type": draw(st.sampled_from(["DOCKER", "MESOS"])),
            "docker": {
                "image": draw(st.sampled_from(["nginx", "python:3"])),
                "forcePullImage": draw(st.booleans()),
            },
            "volumes": draw(
                as_json(
                    st.lists(
                        st.fixed_dictionaries(
                            {
                                "containerPath": st.sampled_from(["/data", "/logs"]),
                                "hostPath": st.just("/srv"),
                                "mode": st.sampled_from(["RO", "RW"]),
                            }
                        ),
                        max_size=2,
                    )
                )
            ),
            "portMappings": [
                {"containerPort": p, "name": n, "hostPort": draw(st.none() | st.just(0))}
                for p, n in zip(port_numbers, names, strict=True)
            ],
        }
        obj["networks"] = [{"mode": "container/bridge"}]
        if names:
            obj["healthChecks"] = [
                {"protocol": "MESOS_HTTP", "portIndex": draw(st.integers(0, len(names) - 1))}
            ]
    elif style == "ports":
        obj["ports"] = list[JsonValue](draw(st.lists(st.just(0) | ports, max_size=3, unique=True)))
    elif style == "definitions":
        obj["portDefinitions"] = [
            {"port": p, "name": n, "protocol": draw(st.sampled_from(["tcp", "udp", "udp,tcp"]))}
            for p, n in zip(port_numbers, names, strict=True)
        ]
        with_readiness = draw(st.booleans())
        if names and with_readiness:
            obj["readinessChecks"] = [{"portName": names[0], "timeoutSeconds": 5, "intervalSeconds": 10}]
        obj["healthChecks"] = draw(
            as_json(
                st.lists(
                    st.fixed_dictionaries(
                        {
                            "protocol": st.sampled_from(["HTTP", "HTTPS", "TCP"]),
                            "portIndex": st.integers(0, len(names) - 1),
                        }
                        if names
                        else {"protocol": st.just("COMMAND"), "command": st.just({"value": "true"})},
                        optional={
                            "gracePeriodSeconds": st.integers(0, 600),
                            "maxConsecutiveFailures": st.integers(0, 5),
                        },
                    ),
                    max_size=2,
                )
            )
        )
    optional: dict[str, st.SearchStrategy[JsonValue]] = {
        "user": st.text(max_size=8),
        "env": st.dictionaries(
            st.from_regex(r"[A-Z_][A-Z0-9_]{0,6}", fullmatch=True), st.text(max_size=6), max_size=3
        ),
        "instances": st.integers(0, 20),
        "cpus": st.floats(min_value=0.001, max_value=64),
        "mem": st.floats(min_value=0, max_value=65536),
        "disk": st.floats(min_value=0, max_value=1e6),
        "executor": st.sampled_from(["", "//cmd", "/opt/executor"]),
        "constraints": st.lists(st.sampled_from(VALID_CONSTRAINTS), max_size=3),
        "labels": st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=6), max_size=3),
        "acceptedResourceRoles": st.lists(st.sampled_from(["*", "web", "ops"]), min_size=1, max_size=2),
        "requirePorts": st.booleans(),
        "backoffSeconds": st.integers(0, 3600),
        "backoffFactor": st.floats(min_value=1.0, max_value=10.0),
        "maxLaunchDelaySeconds": st.integers(0, 7200),
        "upgradeStrategy": st.fixed_dictionaries(
            {"minimumHealthCapacity": unit, "maximumOverCapacity": unit}
        ),
        "dependencies": st.lists(ids, max_size=2),
        "fetch": st.lists(
            st.fixed_dictionaries(
                {"uri": st.sampled_from(["http://x/a.tgz", "https://y/b"])},
                optional={"extract": st.booleans(), "cache": st.booleans()},
            ),
            max_size=2,
        ),
        "taskKillGracePeriodSeconds": st.integers(0, 300),
        "killSelection": st.sampled_from(["YOUNGEST_FIRST", "OLDEST_FIRST"]),
        "unreachableStrategy": st.just("disabled")
        | st.integers(0, 100).flatmap(
            lambda i: st.fixed_dictionaries(
                {"inactiveAfterSeconds": st.just(i), "expungeAfterSeconds": st.integers(i, 1000)}
            )
        ),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            obj[key] = draw(strategy)
    return obj
