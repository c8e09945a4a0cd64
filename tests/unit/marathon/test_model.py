"""The app definition as clients send it and as `GET /v2/apps` shows it (marathon.md b.1 fields and defaults,
b.3 legacy migration, b.4 response shape; clients.md 3.5 the keys the PyPI `marathon` client accepts).
"""

from __future__ import annotations

from hypothesis import given

from corral.marathon.checks import HealthCheck, HealthCheckProtocol
from corral.marathon.constraints import Constraint, ConstraintOperator
from corral.marathon.container import EngineType, PortMapping
from corral.marathon.model import AppDefinition, VersionInfo
from corral.marathon.networking import Network, NetworkMode, PortDefinition
from corral.marathon.paths import PathId
from corral.marathon.strategies import UnreachableDisabled, UpgradeStrategy
from corral.protocol.json import JsonObject, JsonValue, dumps, loads

from .apps import CLIENT_APP_KEYS, CLIENT_CONTAINER_KEYS, CLIENT_PORT_MAPPING_KEYS, app_json

DEFAULTS: JsonObject = {
    "backoffFactor": 1.15,
    "backoffSeconds": 1,
    "cpus": 1,
    "disk": 0,
    "executor": "",
    "instances": 1,
    "labels": {},
    "maxLaunchDelaySeconds": 300,
    "mem": 128,
    "gpus": 0,
    "networks": [{"mode": "host"}],
    "portDefinitions": [{"port": 0, "protocol": "tcp", "name": "default"}],
    "requirePorts": False,
    "upgradeStrategy": {"maximumOverCapacity": 1, "minimumHealthCapacity": 1},
    "killSelection": "YOUNGEST_FIRST",
    "unreachableStrategy": {"inactiveAfterSeconds": 0, "expungeAfterSeconds": 0},
}


def decode(obj: JsonValue, base: str = "/") -> AppDefinition:
    return AppDefinition.from_json(obj, base)


# ---------------------------------------------------------------- the tutorial's apps


def test_the_tutorials_hello2_decodes_and_encodes_with_every_default() -> None:
    # seed/mesosphere-tutorial.txt: "Starting a Service through the API"
    app = decode(
        {
            "id": "hello2",
            "cmd": "echo hello; sleep 10",
            "mem": 16,
            "cpus": 0.1,
            "instances": 1,
            "disk": 0,
            "ports": [0],
        }
    )
    assert app.id == PathId.parse("/hello2")
    assert app.port_definitions == (PortDefinition(port=0),)  # `ports` migrated, unnamed
    unnamed_port: JsonValue = [{"port": 0, "protocol": "tcp"}]
    assert app.to_json() == {
        **DEFAULTS,
        "id": "/hello2",
        "cmd": "echo hello; sleep 10",
        "cpus": 0.1,
        "mem": 16,
        "portDefinitions": unnamed_port,
    }


def test_the_ui_hello_app_gets_the_default_port() -> None:
    # The UI of the tutorial's time posts its form defaults (marathon-ui AppFormStore: cpus 0.1, mem 16,
    # disk 0, instances 1) with the ID and command typed in; no ports, so host networking's default port.
    app = decode(
        {"id": "hello", "cmd": "echo hello; sleep 10", "cpus": 0.1, "mem": 16, "disk": 0, "instances": 1}
    )
    assert app.to_json() == {
        **DEFAULTS,
        "id": "/hello",
        "cmd": "echo hello; sleep 10",
        "cpus": 0.1,
        "mem": 16,
    }


def test_the_bare_minimum_is_an_id_and_a_command() -> None:
    app = decode({"id": "hello2", "cmd": "echo hello; sleep 10"})
    assert app == AppDefinition(id=PathId.parse("/hello2"), cmd="echo hello; sleep 10")
    assert app.to_json() == {**DEFAULTS, "id": "/hello2", "cmd": "echo hello; sleep 10"}


def test_version_and_version_info_are_the_callers() -> None:
    app = decode({"id": "/a", "cmd": "sleep 1"})
    info = VersionInfo(
        last_scaling_at="2015-09-25T15:13:48.343Z", last_config_change_at="2015-09-25T15:13:48.343Z"
    )
    out = app.to_json(version="2015-09-25T15:13:48.343Z", version_info=info)
    assert out["version"] == "2015-09-25T15:13:48.343Z"
    assert out["versionInfo"] == {
        "lastScalingAt": "2015-09-25T15:13:48.343Z",
        "lastConfigChangeAt": "2015-09-25T15:13:48.343Z",
    }
    assert "version" not in app.to_json()
    assert decode(out) == app  # a GET body may be POSTed back


# ---------------------------------------------------------------- response shape


FULL_APP: JsonObject = {
    "id": "/prod/web",
    "cmd": "python3 -m http.server $PORT0",
    "user": "nobody",
    "env": {"MODE": "prod"},
    "instances": 3,
    "cpus": 0.5,
    "mem": 256,
    "disk": 10,
    "constraints": [["hostname", "unique"], ["rack", "GROUP_BY", "3"]],
    "acceptedResourceRoles": ["*"],
    "labels": {"HAPROXY_GROUP": "external"},
    "portDefinitions": [{"port": 10001, "name": "http", "labels": {"VIP_0": "1.2.3.4:80"}}],
    "requirePorts": True,
    "healthChecks": [{"protocol": "HTTP", "path": "/health", "portIndex": 0, "ignoreHttp1xx": True}],
    "readinessChecks": [{"portName": "http"}],
    "dependencies": ["/prod/db"],
    "fetch": [{"uri": "http://example.com/app.tgz", "destPath": "app"}],
    "storeUrls": ["http://example.com/store"],
    "backoffSeconds": 2,
    "backoffFactor": 2,
    "maxLaunchDelaySeconds": 600,
    "upgradeStrategy": {"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.25},
    "taskKillGracePeriodSeconds": 30,
    "killSelection": "OLDEST_FIRST",
    "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120},
}


def test_a_full_app_is_written_in_upstreams_shape() -> None:
    out = decode(FULL_APP).to_json()
    assert out == {
        "id": "/prod/web",
        "acceptedResourceRoles": ["*"],
        "backoffFactor": 2,
        "backoffSeconds": 2,
        "cmd": "python3 -m http.server $PORT0",
        "constraints": [["hostname", "UNIQUE"], ["rack", "GROUP_BY", "3"]],
        "cpus": 0.5,
        "dependencies": ["/prod/db"],
        "disk": 10,
        "env": {"MODE": "prod"},
        "executor": "",
        "fetch": [
            {
                "uri": "http://example.com/app.tgz",
                "extract": True,
                "executable": False,
                "cache": False,
                "destPath": "app",
            }
        ],
        "healthChecks": [
            {
                "gracePeriodSeconds": 300,
                "ignoreHttp1xx": True,
                "intervalSeconds": 60,
                "maxConsecutiveFailures": 3,
                "path": "/health",
                "portIndex": 0,
                "protocol": "HTTP",
                "ipProtocol": "IPv4",
                "timeoutSeconds": 20,
                "delaySeconds": 15,
            }
        ],
        "instances": 3,
        "labels": {"HAPROXY_GROUP": "external"},
        "maxLaunchDelaySeconds": 600,
        "mem": 256,
        "gpus": 0,
        "networks": [{"mode": "host"}],
        "portDefinitions": [
            {"port": 10001, "protocol": "tcp", "name": "http", "labels": {"VIP_0": "1.2.3.4:80"}}
        ],
        "readinessChecks": [
            {
                "name": "readinessCheck",
                "protocol": "HTTP",
                "path": "/",
                "portName": "http",
                "intervalSeconds": 30,
                "timeoutSeconds": 10,
                "httpStatusCodesForReady": [200],
                "preserveLastResponse": False,
            }
        ],
        "requirePorts": True,
        "storeUrls": ["http://example.com/store"],
        "taskKillGracePeriodSeconds": 30,
        "upgradeStrategy": {"maximumOverCapacity": 0.25, "minimumHealthCapacity": 0.5},
        "user": "nobody",
        "killSelection": "OLDEST_FIRST",
        "unreachableStrategy": {"inactiveAfterSeconds": 60, "expungeAfterSeconds": 120},
    }
    assert set(out) <= CLIENT_APP_KEYS


def test_empty_collections_are_omitted_but_labels_are_always_an_object() -> None:
    out = decode(
        {"id": "/a", "cmd": "x y", "args": [], "env": {}, "constraints": [], "healthChecks": [], "labels": {}}
    ).to_json()
    assert not {"args", "env", "constraints", "healthChecks", "fetch", "dependencies", "secrets"} & set(out)
    assert out["labels"] == {}  # marathon-lb strips nulls: labels must be an object (marathon.md f.1)


def test_deprecated_and_client_breaking_keys_are_never_written() -> None:
    out = decode(
        {
            "id": "/a",
            "cmd": "x y",
            "ports": [0],
            "uris": ["http://x/y"],
            "tty": True,
            "check": {"exec": {}},
            "resourceLimits": {"cpus": 2},
            "executorResources": {"cpus": 1},
        }
    ).to_json()
    assert not {"ports", "uris", "ipAddress", "tty", "check", "resourceLimits", "executorResources"} & set(
        out
    )
    assert out["fetch"] == [{"uri": "http://x/y", "extract": False, "executable": False, "cache": False}]


def test_numbers_are_written_as_upstream_writes_them() -> None:
    out = decode({"id": "/a", "cmd": "x y", "cpus": 2.0, "mem": 64.5}).to_json()
    assert dumps(out).count(b'"cpus":2,') == 1
    assert out["mem"] == 64.5


# ---------------------------------------------------------------- legacy migration (marathon.md b.3)


def test_uris_become_fetch_entries_extracted_when_they_are_archives() -> None:
    app = decode(
        {"id": "/a", "cmd": "x y", "uris": ["http://x/a.tar.gz", "http://x/b.zip", "http://x/c.jar"]}
    )
    assert [f.extract for f in app.fetch] == [True, True, False]


def test_docker_bridge_networking_moves_to_networks_and_port_mappings() -> None:
    app = decode(
        {
            "id": "/web",
            "container": {
                "type": "DOCKER",
                "docker": {"image": "nginx", "network": "BRIDGE", "portMappings": [{"containerPort": 80}]},
            },
        }
    )
    assert app.networks == (Network(mode=NetworkMode.CONTAINER_BRIDGE),)
    assert app.container is not None
    assert app.container.port_mappings == (PortMapping(container_port=80, host_port=0),)  # BRIDGE: random
    assert app.port_definitions == ()
    out = app.to_json()
    assert "portDefinitions" not in out
    container = out["container"]
    assert isinstance(container, dict)
    assert container == {
        "type": "DOCKER",
        "docker": {"forcePullImage": False, "image": "nginx", "parameters": [], "privileged": False},
        "volumes": [],
        "portMappings": [
            {"containerPort": 80, "hostPort": 0, "labels": {}, "protocol": "tcp", "servicePort": 0}
        ],
    }
    assert set(container) <= CLIENT_CONTAINER_KEYS
    mappings = container["portMappings"]
    assert isinstance(mappings, list)
    assert all(isinstance(m, dict) and set(m) <= CLIENT_PORT_MAPPING_KEYS for m in mappings)


def test_docker_host_networking_drops_port_mappings() -> None:
    app = decode(
        {
            "id": "/web",
            "container": {
                "docker": {"image": "nginx", "network": "HOST"},
                "portMappings": [{"containerPort": 80}],
            },
        }
    )
    assert app.networks == (Network(mode=NetworkMode.HOST),)
    assert app.container is not None and app.container.port_mappings == ()
    assert app.port_definitions == (PortDefinition(port=0, name="default"),)


def test_a_container_network_pads_port_mappings_to_the_declared_ports() -> None:
    app = decode(
        {
            "id": "/a",
            "cmd": "x y",
            "ports": [0, 0],
            "container": {"type": "MESOS"},
            "networks": [{"mode": "container", "name": "dcos"}],
        }
    )
    assert app.container is not None
    assert app.container.port_mappings == (PortMapping(), PortMapping())
    assert app.port_count == 2
    assert app.port_definitions == ()  # host ports mean nothing on a container network


def test_a_container_network_without_a_container_gets_a_mesos_one_with_a_default_mapping() -> None:
    # AppNormalization.NetworkedContainer: upstream pads only containers the body declared
    app = decode({"id": "/a", "cmd": "x y", "networks": [{"mode": "container", "name": "dcos"}]})
    assert app.container is not None and app.container.type is EngineType.MESOS
    assert app.container.port_mappings == (PortMapping(),)


def test_ip_address_becomes_a_named_container_network() -> None:
    app = decode(
        {
            "id": "/a",
            "cmd": "x y",
            "ipAddress": {"networkName": "dcos", "discovery": {"ports": [{"number": 80, "name": "http"}]}},
        }
    )
    assert app.networks == (Network(mode=NetworkMode.CONTAINER, name="dcos"),)
    assert app.container is not None
    assert app.container.port_mappings == (PortMapping(container_port=80, name="http"),)


def test_unnamed_container_networks_take_the_default_network_name() -> None:
    from corral.marathon.config import ValidationContext

    app = AppDefinition.from_json(
        {"id": "/a", "cmd": "x y", "networks": [{"mode": "container"}]},
        context=ValidationContext(default_network_name="dcos"),
    )
    assert app.networks == (Network(mode=NetworkMode.CONTAINER, name="dcos"),)


# ---------------------------------------------------------------- defaults that depend on other fields


def test_ids_and_dependencies_resolve_against_the_group_posted_to() -> None:
    app = decode({"id": "web", "cmd": "x y", "dependencies": ["db", "/shared/cache", "db"]}, base="/prod")
    assert app.id == PathId.parse("/prod/web")
    assert app.dependencies == (PathId.parse("/prod/db"), PathId.parse("/shared/cache"))  # a set upstream


def test_a_health_check_without_port_uses_index_zero() -> None:
    app = decode(
        {"id": "/a", "cmd": "x y", "healthChecks": [{"protocol": "TCP"}, {"command": {"value": "true"}}]}
    )
    assert app.health_checks == (
        HealthCheck(protocol=HealthCheckProtocol.TCP, port_index=0),
        HealthCheck(protocol=HealthCheckProtocol.COMMAND, command="true"),
    )
    assert app.to_json()["healthChecks"] == [
        {
            "gracePeriodSeconds": 300,
            "intervalSeconds": 60,
            "maxConsecutiveFailures": 3,
            "portIndex": 0,
            "protocol": "TCP",
            "ipProtocol": "IPv4",
            "timeoutSeconds": 20,
            "delaySeconds": 15,
        },
        {
            "gracePeriodSeconds": 300,
            "intervalSeconds": 60,
            "maxConsecutiveFailures": 3,
            "command": {"value": "true"},
            "protocol": "COMMAND",
            "timeoutSeconds": 20,
            "delaySeconds": 15,
        },
    ]


def test_a_resident_app_gets_residency_a_cautious_upgrade_and_no_unreachable_replacement() -> None:
    app = decode(
        {
            "id": "/db",
            "cmd": "x y",
            "acceptedResourceRoles": ["*"],
            "container": {
                "type": "MESOS",
                "volumes": [{"containerPath": "data", "mode": "RW", "persistent": {"size": 100}}],
            },
        }
    )
    assert app.is_resident
    assert app.upgrade_strategy == UpgradeStrategy(minimum_health_capacity=0.5, maximum_over_capacity=0.0)
    assert app.unreachable_strategy == UnreachableDisabled()
    out = app.to_json()
    assert out["unreachableStrategy"] == "disabled"
    assert out["residency"] == {"relaunchEscalationTimeoutSeconds": 3600, "taskLostBehavior": "WAIT_FOREVER"}


def test_a_single_instance_app_upgrades_by_stopping_first() -> None:
    app = decode({"id": "/a", "cmd": "x y", "labels": {"MARATHON_SINGLE_INSTANCE_APP": "true"}})
    assert app.upgrade_strategy == UpgradeStrategy(minimum_health_capacity=0.0, maximum_over_capacity=0.0)


def test_constraint_operators_are_case_insensitive_and_duplicates_collapse() -> None:
    app = decode({"id": "/a", "cmd": "x y", "constraints": [["hostname", "unique"], ["hostname", "UNIQUE"]]})
    assert app.constraints == (Constraint(field="hostname", operator=ConstraintOperator.UNIQUE),)


def test_env_secret_references_need_the_secrets_feature() -> None:
    from corral.marathon.config import ValidationContext
    from corral.marathon.model import SecretRef

    obj: JsonObject = {
        "id": "/a",
        "cmd": "x y",
        "env": {"PW": {"secret": "pw"}},
        "secrets": {"pw": {"source": "/vault/pw"}},
    }
    app = AppDefinition.from_json(obj, context=ValidationContext(enabled_features=frozenset({"secrets"})))
    assert app.env == {"PW": SecretRef(secret="pw")}
    assert app.to_json()["env"] == {"PW": {"secret": "pw"}}
    assert app.to_json()["secrets"] == {"pw": {"source": "/vault/pw"}}


# ---------------------------------------------------------------- round trip


@given(app_json())
def test_decoding_what_was_encoded_gives_the_same_app(obj: JsonObject) -> None:
    app = AppDefinition.from_json(obj)
    wire = loads(dumps(app.to_json()))  # through real JSON bytes, as a client would see it
    assert AppDefinition.from_json(wire) == app
    assert isinstance(wire, dict) and set(wire) <= CLIENT_APP_KEYS


def test_a_docker_app_round_trips() -> None:
    app = decode(
        {
            "id": "/web",
            "container": {
                "type": "DOCKER",
                "docker": {"image": "nginx", "privileged": True, "parameters": [{"key": "a", "value": "b"}]},
                "volumes": [{"containerPath": "/data", "hostPath": "/srv", "mode": "RO"}],
                "portMappings": [{"containerPort": 80, "servicePort": 10001, "name": "http"}],
            },
            "networks": [{"mode": "container/bridge"}],
            "healthChecks": [{"protocol": "MESOS_HTTP", "path": "/", "portIndex": 0}],
        }
    )
    assert decode(loads(dumps(app.to_json()))) == app
