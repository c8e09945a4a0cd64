"""The TaskInfo Marathon sends (upstream `TaskBuilder`, `EnvironmentHelper`; marathon.md b.6): command,
environment, resources and ports in order, labels, discovery, kill policy, fetch, Mesos health checks."""

from __future__ import annotations

from corral.agent.environment import task_ports
from corral.core.ids import AgentId
from corral.core.resources import Resources
from corral.marathon.instance import AgentPlacement, Instance
from corral.marathon.launch import build_task_info, ports_env
from corral.marathon.matching import Match
from corral.marathon.model import AppDefinition
from corral.protocol.json import JsonValue, Reader
from corral.protocol.mesos import TaskInfo

from .scheduling_fixtures import V1, make_app


def launch(app: AppDefinition, host_ports: tuple[int | None, ...] = (), prefix: str = "") -> TaskInfo:
    ports = [(p, p) for p in host_ports if p is not None]
    match = Match(
        resources=Resources.of(cpus=app.cpus, mem=app.mem, ranges={"ports": ports}), host_ports=host_ports
    )
    instance = Instance.provision(
        app_id=app.id,
        version=V1,
        agent=AgentPlacement(agent_id=AgentId("a1"), hostname="node1"),
        host_ports=match.ports,
        uuid="11111111-2222-4333-8444-555555555555",
        now=0.0,
    )
    return build_task_info(app, instance, match, env_vars_prefix=prefix)


def env(task: TaskInfo) -> dict[str, str]:
    assert task.command is not None
    return dict(task.command.environment)


def test_a_shell_command_task_with_marathons_environment() -> None:
    app = make_app(
        "/prod/web",
        cmd="python3 -m http.server $PORT0",
        cpus=0.5,
        mem=64,
        labels={"team": "core", "HAPROXY_GROUP": "external"},
        env={"GREETING": "hi", "PORT": "override"},
        portDefinitions=[{"port": 10000, "name": "http"}, {"port": 0}],
    )
    task = launch(app, (31005, 31002))
    assert task.name == "web.prod"
    assert task.task_id == "prod_web.11111111-2222-4333-8444-555555555555"
    assert task.command is not None and task.command.shell and task.command.value == app.cmd
    assert env(task) == {
        "MESOS_TASK_ID": "prod_web.11111111-2222-4333-8444-555555555555",
        "MARATHON_APP_ID": "/prod/web",
        "MARATHON_APP_VERSION": V1,
        "MARATHON_APP_RESOURCE_CPUS": "0.5",
        "MARATHON_APP_RESOURCE_MEM": "64.0",
        "MARATHON_APP_RESOURCE_DISK": "0.0",
        "MARATHON_APP_RESOURCE_GPUS": "0",
        "MARATHON_APP_LABELS": "TEAM HAPROXY_GROUP",
        "MARATHON_APP_LABEL_TEAM": "core",
        "MARATHON_APP_LABEL_HAPROXY_GROUP": "external",
        "PORT0": "31005",
        "PORT1": "31002",
        "PORT_10000": "31005",  # the service port names its host port
        "PORT_31002": "31002",
        "PORT_HTTP": "31005",
        "PORT": "override",  # the app's own env wins
        "PORTS": "31005,31002",
        "HOST": "node1",
        "GREETING": "hi",
    }


def test_ports_keep_their_index_order_on_the_wire_so_the_agent_agrees_on_port0() -> None:
    task = launch(make_app(portDefinitions=[{"port": 0}, {"port": 0}]), (31005, 31002))
    decoded = TaskInfo.from_json(Reader(task.to_json()))
    assert task_ports(decoded) == [31005, 31002]
    assert decoded.resources == task.resources


def test_args_run_without_a_shell_and_fetch_user_labels_and_kill_policy_come_along() -> None:
    fetch: list[JsonValue] = [{"uri": "https://example.com/app.tgz", "cache": True}]
    app = make_app(
        cmd=None,
        args=["/bin/server", "--port", "80"],
        user="nobody",
        fetch=fetch,
        labels={"a": "b"},
        taskKillGracePeriodSeconds=30,
    )
    task = launch(app, (31000,))
    assert task.command is not None
    assert (task.command.shell, task.command.value, task.command.arguments) == (
        False,
        "/bin/server",
        ("/bin/server", "--port", "80"),
    )
    assert task.command.argv() == ["/bin/server", "--port", "80"]
    assert task.command.user == "nobody"
    assert [(u.value, u.cache, u.extract) for u in task.command.uris] == [
        ("https://example.com/app.tgz", True, True)
    ]
    out = task.to_json()
    assert out["labels"] == {"labels": [{"key": "a", "value": "b"}]}
    assert out["kill_policy"] == {"grace_period": {"nanoseconds": 30_000_000_000}}
    assert out["discovery"] == {
        "visibility": "FRAMEWORK",
        "name": "web",
        "ports": {"ports": [{"number": 31000, "protocol": "tcp", "name": "default"}]},
    }


def test_the_env_vars_prefix_applies_to_ports_and_host_only() -> None:
    variables = env(launch(make_app(), (31000,), prefix="MY_"))
    assert variables["MY_PORT0"] == "31000" and variables["MY_HOST"] == "node1"
    assert "PORT0" not in variables and variables["MARATHON_APP_ID"] == "/web"


def test_a_container_port_without_a_host_port_is_announced_as_itself() -> None:
    assert ports_env([("api", 8080), (None, 0)], [None, 31000]) == {
        "PORT0": "8080",
        "PORT1": "31000",
        "PORT_8080": "8080",
        "PORT_31000": "31000",
        "PORT_API": "8080",
        "PORT": "31000",
        "PORTS": "31000",
    }


def test_the_first_mesos_health_check_goes_to_the_agent() -> None:
    checks: list[JsonValue] = [
        {"protocol": "HTTP", "portIndex": 0},  # run by Marathon, not sent
        {"protocol": "MESOS_HTTP", "path": "/health", "portIndex": 1, "gracePeriodSeconds": 30},
    ]
    app = make_app(portDefinitions=[{"port": 0}, {"port": 0}], healthChecks=checks)
    out = launch(app, (31000, 31001)).to_json()
    assert out["health_check"] == {
        "delay_seconds": 15.0,
        "interval_seconds": 60.0,
        "timeout_seconds": 20.0,
        "consecutive_failures": 3,
        "grace_period_seconds": 30.0,
        "type": "HTTP",
        "http": {"scheme": "http", "port": 31001, "protocol": "IPv4", "path": "/health"},
    }
    command = make_app(healthChecks=[{"protocol": "COMMAND", "command": {"value": "curl -f localhost"}}])
    check = launch(command, (31000,)).to_json()["health_check"]
    assert isinstance(check, dict) and check["command"] == {"shell": True, "value": "curl -f localhost"}


def test_a_docker_task_names_its_image_and_maps_its_ports() -> None:
    app = make_app(
        cmd=None,
        container={
            "type": "DOCKER",
            "docker": {"image": "nginx:1.25"},
            "portMappings": [{"containerPort": 80}],
        },
        networks=[{"mode": "container/bridge"}],
    )
    task = launch(app, (31000,))
    assert env(task)["MARATHON_APP_DOCKER_IMAGE"] == "nginx:1.25"
    container = task.to_json()["container"]
    assert isinstance(container, dict)
    docker = container["docker"]
    assert isinstance(docker, dict)
    assert (docker["image"], docker["network"]) == ("nginx:1.25", "BRIDGE")
    assert docker["port_mappings"] == [{"host_port": 31000, "container_port": 80, "protocol": "tcp"}]
