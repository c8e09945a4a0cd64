"""Every app validation rule, with upstream's 422 body: path and message verbatim (marathon.md a.1 "Error
mapping" and "Common validation messages", b.1-b.3; upstream `AppValidation.scala`,
`SchedulingValidation.scala`, `EnvVarValidation.scala`, `NetworkValidation.scala`, `PathId.scala`).

Semantic failures answer `"message":"Object is not valid"` with upstream's sentences; JSON type and RAML range
errors (`"Invalid JSON"`, play-json codes) are in test_decoding.py. Both are 422s.
"""

from __future__ import annotations

import pytest

from corral.marathon.config import ValidationContext
from corral.marathon.constraints import (
    GROUP_BY_NEEDS_INT,
    ILLEGAL_SPECIFICATION,
    INVALID_REGEX,
    IS_TEXT_OR_SCALAR,
    LIKE_NEEDS_REGEX,
    MAX_PER_NEEDS_INT,
    UNIQUE_TAKES_NO_VALUE,
    UNKNOWN_OPERATOR,
    WRONG_ARITY,
)
from corral.marathon.errors import OBJECT_NOT_VALID, ValidationError
from corral.marathon.model import AppDefinition
from corral.marathon.paths import EMPTY_PATH, INVALID_CHARS, RESERVED_KEYWORD
from corral.marathon.validation import (
    CMD_ARGS_OR_CONTAINER,
    HEALTH_PORT_INDEX,
    IPV6_HEALTH,
    ONE_MESOS_HEALTH_CHECK,
)
from corral.protocol.json import JsonObject, JsonValue

APP: JsonObject = {"id": "/a", "cmd": "sleep 100"}
SECRETS_ON = ValidationContext(enabled_features=frozenset({"secrets"}))
ALL_FEATURES = ValidationContext(enabled_features=frozenset({"secrets", "gpu_resources", "external_volumes"}))
DOCKER: JsonObject = {"type": "DOCKER", "docker": {"image": "nginx"}}


def rejection(obj: JsonValue, context: ValidationContext | None = None) -> ValidationError:
    with pytest.raises(ValidationError) as e:
        AppDefinition.from_json(obj, context=context)
    return e.value


def details(error: ValidationError) -> list[tuple[str, str]]:
    return [(v.path, v.error) for v in error.violations]


def app(**fields: JsonValue) -> JsonObject:
    return {**APP, **fields}


# ---------------------------------------------------------------- Object is not valid (wix-accord rules)


def rule(obj: JsonObject, context: ValidationContext | None = None) -> list[tuple[str, str]]:
    error = rejection(obj, context)
    assert error.message == OBJECT_NOT_VALID
    return details(error)


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        # ids (marathon.md b.1 `id`)
        (app(id="/"), [("/id", EMPTY_PATH), ("/", "must not be root")]),
        (app(id="/prod/tasks"), [("/id", RESERVED_KEYWORD)]),
        (app(id="/a.-b"), [("/id", INVALID_CHARS)]),
        (app(dependencies=["/db/versions"]), [("/dependencies(0)", RESERVED_KEYWORD)]),
        # what to run
        ({"id": "/a"}, [("/", CMD_ARGS_OR_CONTAINER)]),
        (app(args=["sleep", "1"]), [("/", CMD_ARGS_OR_CONTAINER)]),
        ({"id": "/a", "container": {"type": "MESOS"}}, [("/", CMD_ARGS_OR_CONTAINER)]),
        (app(cmd="x"), [("/", "must not be an empty string")]),
        # ports (marathon.md b.1 `ports`, `portDefinitions`)
        (app(ports=[80, 80]), [("/", "ports must be unique")]),
        (
            app(ports=[0], portDefinitions=[{"port": 80}]),
            [("/", "cannot specify both ports and port definitions")],
        ),
        (
            app(portDefinitions=[{"port": 80, "name": "a"}, {"port": 81, "name": "a"}]),
            [("/portDefinitions", "Port names must be unique.")],
        ),
        (app(portDefinitions=[{"port": 80}, {"port": 80}]), [("/portDefinitions", "Ports must be unique.")]),
        # artifacts
        (
            app(uris=["http://x/a"], fetch=[{"uri": "http://x/b"}]),
            [("/uris", "may not be set in conjunction with fetch")],
        ),
        (app(uris=["http://x/a b"]), [("/uris(0)", "URI has invalid syntax.")]),
        (app(fetch=[{"uri": "http://x/{y}"}]), [("/fetch(0)/uri", "URI has invalid syntax.")]),
        (app(storeUrls=["store"]), [("/storeUrls(0)", "no protocol: store")]),
        # deprecated networking (marathon.md b.3 "Legacy migration")
        (
            app(ipAddress={}, networks=[{"mode": "host"}]),
            [("/", "must not specify both networks and ipAddress")],
        ),
        (
            app(container={"docker": {"image": "x", "network": "BRIDGE"}}, networks=[{"mode": "host"}]),
            [("/", "must not specify both container.docker.network and networks")],
        ),
        (
            app(ipAddress={"networkName": "dcos"}, portDefinitions=[{"port": 0}]),
            [("/", "cannot specify both an IP address and port")],
        ),
        (
            app(ipAddress={"discovery": {}}, container=DOCKER),
            [("/ipAddress", "ipAddress/discovery is not allowed for Docker containers")],
        ),
        (
            app(container={"docker": {"image": "x", "network": "NONE"}}),
            [("/", "unsupported docker network type NONE")],
        ),
        (
            app(container={"docker": {"image": "x", "credential": {"principal": "p"}}}),
            [("/container/docker/credential", "must be empty")],
        ),
        (
            app(container={"docker": {"image": "x", "pullConfig": {"secret": "s"}}}),
            [("/container/docker/pullConfig", "pullConfig is not supported with Docker containerizer")],
        ),
        (
            app(container={"type": "MESOS", "docker": {"image": "x", "network": "HOST"}}),
            [("/container/docker/network", "must be empty")],
        ),
        (
            app(
                container={
                    "type": "MESOS",
                    "docker": {"image": "x", "parameters": [{"key": "a", "value": "b"}]},
                }
            ),
            [("/container/docker/parameters", "must be empty")],
        ),
        (
            app(
                container={
                    "docker": {"image": "x", "network": "BRIDGE", "portMappings": [{"containerPort": 1}]},
                    "portMappings": [{"containerPort": 2}],
                }
            ),
            [("/", "cannot specify both portMappings and docker.portMappings")],
        ),
        (
            app(
                container={
                    "docker": {
                        "image": "x",
                        "network": "BRIDGE",
                        "portMappings": [{"name": "p"}, {"name": "p"}],
                    }
                }
            ),
            [("/container/docker/portMappings", "Port names must be unique.")],
        ),
        (
            app(
                ipAddress={"discovery": {"ports": [{"number": 1, "name": "p"}]}},
                container={"type": "MESOS", "portMappings": [{"containerPort": 2}]},
            ),
            [("/", "container.portMappings and ipAddress.discovery.ports must not both be set")],
        ),
        # networks (NetworkValidation)
        (
            app(networks=[{"mode": "host", "name": "h"}]),
            [("/networks", "Host networks may not have names or labels")],
        ),
        (
            app(networks=[{"mode": "container/bridge", "name": "b"}]),
            [("/networks", "Bridge networks may not have names")],
        ),
        (app(networks=[{"name": "n"}, {"name": "n"}]), [("/networks", "Duplicate networks are not allowed")]),
        (
            app(networks=[{"mode": "host"}, {"name": "n"}]),
            [
                (
                    "/networks",
                    "May specify a single host network, single bridge network, "
                    "or else 1-to-n container networks",
                )
            ],
        ),
        (
            app(networks=[{"mode": "container"}]),
            [("/networks", "Network name must be specified when container network is selected.")],
        ),
        (
            app(container=DOCKER, networks=[{"name": "a"}, {"name": "b"}]),
            [("/", "may only specify a single container network when using the Docker container engine")],
        ),
    ],
)
def test_semantic_rules(obj: JsonObject, expected: list[tuple[str, str]]) -> None:
    assert rule(obj) == expected


@pytest.mark.parametrize(
    ("constraint", "error"),
    [
        (["hostname"], WRONG_ARITY),
        (["a", "CLUSTER", "b", "c"], WRONG_ARITY),
        (["", "UNIQUE"], ILLEGAL_SPECIFICATION),
        (["hostname", "IN", "a"], UNKNOWN_OPERATOR),
        (["hostname", "UNIQUE", "x"], UNIQUE_TAKES_NO_VALUE),
        (["rack", "GROUP_BY", "three"], GROUP_BY_NEEDS_INT),
        (["rack", "MAX_PER"], MAX_PER_NEEDS_INT),
        (["rack", "MAX_PER", "2.5"], MAX_PER_NEEDS_INT),
        (["hostname", "LIKE"], LIKE_NEEDS_REGEX),
        (["hostname", "UNLIKE", "[a-"], INVALID_REGEX),
        (["ssd", "IS", "a b"], IS_TEXT_OR_SCALAR),
        (["rack", "IS", "[1-2]"], IS_TEXT_OR_SCALAR),
    ],
)
def test_constraint_rules(constraint: list[JsonValue], error: str) -> None:
    # marathon.md c.2; the first index is the constraint's position in the list
    assert rule(app(constraints=[["hostname", "UNIQUE"], constraint])) == [("/constraints(1)", error)]


def test_constraint_messages_are_upstreams() -> None:
    # marathon.md a.1 "Common validation messages"
    assert UNKNOWN_OPERATOR == (
        "operator must be one of the following UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
    )
    assert (WRONG_ARITY, UNIQUE_TAKES_NO_VALUE, MAX_PER_NEEDS_INT) == (
        "Each constraint must have either 2 or 3 fields",
        "UNIQUE does not accept a value",
        "MAX_PER requires an integer value",
    )
    assert (GROUP_BY_NEEDS_INT, LIKE_NEEDS_REGEX) == (
        "GROUP BY must define an integer value or else no value at all",
        "LIKE and UNLIKE require a non-empty, regular expression value",
    )


@pytest.mark.parametrize(
    "constraint",
    [
        ["hostname", "CLUSTER"],
        ["rack", "GROUP_BY"],
        ["rack", "GROUP_BY", "-3"],
        ["ssd", "IS", "1.5"],
        ["hostname", "like", "web.*"],
        ["@zone", "MAX_PER", "+2"],
    ],
)
def test_valid_constraints(constraint: list[JsonValue]) -> None:
    assert AppDefinition.from_json(app(constraints=[constraint])).constraints


# ---------------------------------------------------------------- health and readiness checks (b.2)


def test_a_health_check_must_address_one_of_the_apps_ports() -> None:
    assert rule(app(healthChecks=[{"portIndex": 1}])) == [("/healthChecks(0)", HEALTH_PORT_INDEX)]
    assert rule(app(portDefinitions=[], healthChecks=[{"protocol": "TCP"}])) == [
        ("/healthChecks(0)", HEALTH_PORT_INDEX)
    ]
    assert AppDefinition.from_json(app(portDefinitions=[], healthChecks=[{"protocol": "TCP", "port": 8080}]))


def test_without_an_index_the_app_needs_exactly_one_port_unless_it_declared_port_definitions() -> None:
    # AppNormalization adds `portIndex: 0` before validation only when `portDefinitions` were given
    two: JsonValue = [0, 0]
    assert rule(app(ports=two, healthChecks=[{}])) == [("/healthChecks(0)", HEALTH_PORT_INDEX)]
    explicit = AppDefinition.from_json(app(portDefinitions=[{"port": 0}, {"port": 0}], healthChecks=[{}]))
    assert explicit.health_checks[0].port_index == 0


def test_command_and_mesos_checks_need_no_port_index() -> None:
    assert AppDefinition.from_json(
        app(portDefinitions=[], healthChecks=[{"protocol": "MESOS_TCP", "portIndex": 3}])
    )


def test_at_most_one_mesos_health_check_but_command_checks_are_grandfathered() -> None:
    two: JsonValue = [{"protocol": "MESOS_HTTP"}, {"protocol": "MESOS_TCP"}]
    assert rule(app(healthChecks=two)) == [("/", ONE_MESOS_HEALTH_CHECK)]
    commands: JsonValue = [{"command": {"value": "true"}}, {"command": {"value": "test -f x"}}]
    assert len(AppDefinition.from_json(app(healthChecks=commands)).health_checks) == 2


def test_ipv6_checks_only_for_docker_mesos_checks() -> None:
    assert rule(app(healthChecks=[{"protocol": "HTTP", "ipProtocol": "IPv6"}])) == [
        ("/healthChecks(0)", IPV6_HEALTH)
    ]
    ok: JsonObject = {
        **APP,
        "container": DOCKER,
        "healthChecks": [{"protocol": "MESOS_HTTP", "ipProtocol": "IPv6"}],
    }
    assert AppDefinition.from_json(ok)


def test_readiness_checks() -> None:
    named: JsonValue = [{"port": 0, "name": "http-api"}]
    assert rule(app(portDefinitions=named, readinessChecks=[{}, {}])) == [
        ("/readinessChecks", "got 2, expected 1 or less")
    ]
    assert rule(app(readinessChecks=[{}])) == [
        ("/readinessChecks(0)/portName", "No port definition reference for portName http-api")
    ]
    assert rule(app(portDefinitions=named, readinessChecks=[{"intervalSeconds": 10}])) == [
        ("/readinessChecks(0)/timeoutSeconds", "got 10, expected less than 10")
    ]


# ---------------------------------------------------------------- env, secrets, roles, resources


def test_env_names_and_secret_references() -> None:
    long_name = "A" * 255
    assert rule(app(env={long_name: "x"})) == [
        (f"/env/{long_name}", "variable name must be 254 chars or less")
    ]
    assert rule(app(env={"PW": {"secret": "pw"}})) == [
        ("/env", "use of secret-references in the environment requires the secrets feature to be enabled"),
        ("/env/PW/secret", "references an undefined secret"),
    ]
    assert rule(app(env={"PW": {"secret": "pw"}}), SECRETS_ON) == [
        ("/env/PW/secret", "references an undefined secret")
    ]


def test_secrets_need_the_feature_and_a_source() -> None:
    secrets: JsonValue = {"pw": {"source": ""}}
    assert rule(app(secrets=secrets)) == [
        ("/secrets", "Feature secrets is not enabled. Enable with --enable_features secrets)"),
        ("/secrets/pw/source", "must not be empty"),
    ]
    assert rule(app(secrets=secrets), SECRETS_ON) == [("/secrets/pw/source", "must not be empty")]


@pytest.mark.parametrize(
    ("roles", "error"),
    [
        ([], "must not be empty"),
        (["."], 'A role name must not be ".".'),
        ([".."], 'A role name must not be "..".'),
        ([""], 'A role name must not be "".'),
        (["-web"], "A role name must not start with a '-'."),
        (["my role"], "A role name must not include a space (\\x20) character."),
        (["a/b"], "A role name must not include a slash (\\x2f) character."),
    ],
)
def test_accepted_resource_roles(roles: list[JsonValue], error: str) -> None:
    assert rule(app(acceptedResourceRoles=roles)) == [("/acceptedResourceRoles", error)]


def test_gpus_need_the_feature_and_the_mesos_containerizer() -> None:
    assert rule(app(gpus=1)) == [
        ("/", "Feature gpu_resources is not enabled. Enable with --enable_features gpu_resources)")
    ]
    assert rule(app(gpus=1, container=DOCKER), ALL_FEATURES) == [
        ("/", "GPU resources only work with the Mesos containerizer")
    ]


def test_dcos_migration_labels_come_together() -> None:
    assert rule(app(labels={"DCOS_MIGRATION_API_VERSION": "v1"})) == [
        (
            "/",
            "DCOS_PACKAGE_FRAMEWORK_NAME and DCOS_MIGRATION_API_PATH must be defined when using "
            "DCOS_MIGRATION_API_VERSION",
        )
    ]


# ---------------------------------------------------------------- single instance, residency, unreachable


def test_single_instance_apps() -> None:
    single: JsonValue = {"MARATHON_SINGLE_INSTANCE_APP": "true"}
    assert rule(app(labels=single, instances=2)) == [("/", "Single instance app may only have one instance")]
    strategy: JsonValue = {"minimumHealthCapacity": 1, "maximumOverCapacity": 0.5}
    assert rule(app(labels=single, upgradeStrategy=strategy)) == [
        ("/upgradeStrategy/minimumHealthCapacity", "does not equal 0.0"),
        ("/upgradeStrategy/maximumOverCapacity", "does not equal 0.0"),
    ]


def resident(**fields: JsonValue) -> JsonObject:
    return app(container={"type": "MESOS", "volumes": [volume()]}, **fields)


def test_resident_apps() -> None:
    assert AppDefinition.from_json(resident()).is_resident
    assert rule(app(residency={})) == [("/", "App must contain persistent volumes and define residency")]
    assert rule(resident(upgradeStrategy={"minimumHealthCapacity": 0.5, "maximumOverCapacity": 0.5})) == [
        ("/upgradeStrategy/maximumOverCapacity", "does not equal 0.0")
    ]
    assert rule(resident(unreachableStrategy={"inactiveAfterSeconds": 1, "expungeAfterSeconds": 2})) == [
        ("/", "unreachableStrategy must be disabled for resident tasks")
    ]
    assert rule(resident(acceptedResourceRoles=["web"])) == [
        ("/acceptedResourceRoles", 'A resident app must have `acceptedResourceRoles = ["*"]`.')
    ]


def test_unreachable_strategy_bounds() -> None:
    path = "/unreachableStrategy/inactiveAfterSeconds"
    later: JsonValue = {"inactiveAfterSeconds": 600, "expungeAfterSeconds": 300}
    assert rule(app(unreachableStrategy=later)) == [
        (path, "inactiveAfterSeconds (600) must be less or equal to expungeAfterSeconds, which is 300")
    ]
    negative: JsonValue = {"inactiveAfterSeconds": -1, "expungeAfterSeconds": 0}
    assert rule(app(unreachableStrategy=negative)) == [
        (path, "inactiveAfterSeconds (-1) must be greater than or equal to 0")
    ]


# ---------------------------------------------------------------- container (b.3)


def docker(**fields: JsonValue) -> JsonObject:
    return {"type": "DOCKER", "docker": {"image": "nginx"}, **fields}


def volume(**fields: JsonValue) -> JsonObject:
    return {"containerPath": "data", "mode": "RW", "persistent": {"size": 100}, **fields}


def path_constraint(operator: str) -> JsonValue:
    return {"type": "path", "size": 10, "constraints": [["path", operator, "x"]]}


@pytest.mark.parametrize(
    ("container", "expected"),
    [
        ({"type": "DOCKER"}, [("/container/docker", "not defined")]),
        ({"docker": {"image": ""}}, [("/container/docker/image", "must not be empty")]),
        ({"type": "MESOS", "docker": {"image": ""}}, [("/container/docker/image", "must not be empty")]),
        (
            docker(volumes=[{"containerPath": "", "hostPath": "/x", "mode": "RO"}]),
            [("/container/volumes(0)/containerPath", "must not be empty")],
        ),
        (
            docker(volumes=[volume(containerPath="a/b")]),
            [("/container/volumes(0)/containerPath", 'value must not contain "/"')],
        ),
        (
            docker(volumes=[volume(containerPath="..")]),
            [("/container/volumes(0)/containerPath", "can not be one of (.,..)")],
        ),
        (docker(volumes=[volume(mode="RO")]), [("/container/volumes(0)/mode", "does not equal RW")]),
        (
            docker(volumes=[volume(persistent={"size": 0})]),
            [("/container/volumes(0)/persistent/size", "got 0, expected more than 0")],
        ),
        (
            docker(volumes=[volume(persistent={"size": 10, "maxSize": 20})]),
            [("/container/volumes(0)/persistent", "Only mount volumes can have maxSize")],
        ),
        (
            docker(volumes=[volume(persistent={"type": "mount", "size": 10, "maxSize": 5})]),
            [("/container/volumes(0)/persistent", "Max size must be larger than size")],
        ),
        (
            docker(volumes=[volume(persistent={"size": 10, "constraints": [["path", "LIKE", "x"]]})]),
            [("/container/volumes(0)/persistent", "Constraints on root volumes are not supported")],
        ),
        (
            docker(volumes=[volume(persistent=path_constraint("UNIQUE"))]),
            [("/container/volumes(0)/persistent/constraints(0)", "Operator must be one of LIKE, UNLIKE")],
        ),
        (
            docker(volumes=[volume(persistent=path_constraint("NEAR"))]),
            [("/container/volumes(0)/persistent/constraints(0)", "unknown constraint operator NEAR")],
        ),
        (
            docker(volumes=[{"containerPath": "/x", "external": {"name": "v", "provider": "dvdi"}}]),
            [
                (
                    "/container/volumes(0)",
                    "Feature external_volumes is not enabled. "
                    "Enable with --enable_features external_volumes)",
                )
            ],
        ),
        (
            docker(volumes=[{"containerPath": "/x", "secret": "s"}]),
            [
                (
                    "/container/volumes",
                    "Feature secrets is not enabled. Enable with --enable_features secrets)",
                ),
                ("/container/volumes(0)", "volume.secret must refer to an existing secret"),
            ],
        ),
        (
            docker(portMappings=[{"name": "p"}, {"name": "p", "containerPort": 1}]),
            [("/container/portMappings", "Port names must be unique.")],
        ),
    ],
)
def test_container_rules(container: JsonObject, expected: list[tuple[str, str]]) -> None:
    obj = app(container=container)
    if "portMappings" in container:
        obj["networks"] = [{"mode": "container/bridge"}]
    if "persistent" in str(container.get("volumes")):
        obj["unreachableStrategy"] = "disabled"  # resident apps (b.1 `unreachableStrategy`)
    assert rule(obj) == expected


def test_all_semantic_violations_are_reported_together() -> None:
    error = rejection(
        {"id": "/a", "cmd": "x", "constraints": [["hostname", "FOO"]], "healthChecks": [{"portIndex": 3}]}
    )
    assert error.body() == {
        "message": "Object is not valid",
        "details": [
            {"path": "/constraints(0)", "errors": [UNKNOWN_OPERATOR]},
            {"path": "/", "errors": ["must not be an empty string"]},
            {"path": "/healthChecks(0)", "errors": [HEALTH_PORT_INDEX]},
        ],
    }


def test_a_mesos_pull_config_needs_the_secrets_feature() -> None:
    container: JsonObject = {"type": "MESOS", "docker": {"image": "x", "pullConfig": {"secret": "s"}}}
    assert rule(app(container=container)) == [
        (
            "/container/docker/pullConfig",
            "Feature secrets is not enabled. Enable with --enable_features secrets)",
        )
    ]
    assert AppDefinition.from_json(app(container=container), context=SECRETS_ON).container is not None
