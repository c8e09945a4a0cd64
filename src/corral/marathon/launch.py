"""The Mesos TaskInfo for a new instance: upstream's `TaskBuilder` and `EnvironmentHelper` (marathon.md b.6).

- name and `discovery.name`: the app id reversed and dotted (`/prod/web` -> `web.prod`), a valid hostname;
- command: `cmd` as a shell command; `args` as argv (value = args[0], unless a container supplies the image's
  entrypoint); `fetch` as URIs; `user`. An app `executor` other than "" and "//cmd" runs the task under
  that executor path, as upstream's PathExecutor does;
- environment, later entries winning: MESOS_TASK_ID, MARATHON_APP_ID, MARATHON_APP_VERSION,
  MARATHON_APP_DOCKER_IMAGE, MARATHON_APP_RESOURCE_CPUS/MEM/DISK/GPUS (Scala's `Double.toString`: "1.0"),
  MARATHON_APP_LABELS and MARATHON_APP_LABEL_<NAME>; then, under `env_vars_prefix`, PORT<i>, PORT_<port>,
  PORT_<NAME>, PORT, PORTS and HOST; then the app's own `env` (secret references are left out);
- resources: cpus, mem, disk, gpus and the host ports, one range per port in port-index order (PORT0 first);
- labels, `discovery` ports, `kill_policy` from taskKillGracePeriodSeconds, the container, and the first
  COMMAND/MESOS_* health check as the Mesos `health_check` (Mesos runs at most one).

Nested messages the typed `TaskInfo` has no field for travel in its `raw`, which `to_json` writes as is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from corral.core.ids import ExecutorId
from corral.core.resources import Resources
from corral.marathon.checks import MESOS_PROTOCOLS, HealthCheck, HealthCheckProtocol
from corral.marathon.container import EngineType, HostVolume
from corral.marathon.instance import Instance
from corral.marathon.matching import Match
from corral.marathon.model import AppDefinition
from corral.marathon.networking import NetworkMode
from corral.marathon.paths import PathId
from corral.protocol.json import JsonObject, JsonValue
from corral.protocol.mesos import CommandInfo, ExecutorInfo, TaskInfo, Uri, encode_resources

COMMAND_EXECUTOR = "//cmd"
MAX_ENV_LENGTH = 512
LABEL_PREFIX = "MARATHON_APP_LABEL_"
_NOT_IN_NAME = re.compile(r"[^a-zA-Z0-9_]+")


def hostname_of(app_id: PathId) -> str:
    return ".".join(reversed(app_id.segments))


def declared_ports(app: AppDefinition) -> tuple[tuple[str | None, int], ...]:
    """(name, port) per index: container ports when there are port mappings, else the port definitions."""
    if app.container is not None and app.container.port_mappings:
        return tuple((m.name, m.container_port) for m in app.container.port_mappings)
    return tuple((d.name, d.port) for d in app.port_definitions)


def ports_env(declared: Sequence[tuple[str | None, int]], host_ports: Sequence[int | None]) -> dict[str, str]:
    """Upstream's `portsEnv`, minus the random container port it invents for an unmapped containerPort 0."""
    if not host_ports:
        return {}
    env: dict[str, str] = {}
    for index, host_port in enumerate(host_ports):
        port = host_port if host_port is not None else declared[index][1] if index < len(declared) else 0
        if port:
            env[f"PORT{index}"] = str(port)
    for (_, requested), host_port in zip(declared, host_ports, strict=False):
        effective = host_port if host_port is not None else requested
        if effective:
            env[f"PORT_{requested or effective}"] = str(effective)
    for (name, requested), host_port in zip(declared, host_ports, strict=False):
        effective = host_port if host_port is not None else requested
        if name is not None and effective:
            env[f"PORT_{name.upper()}"] = str(effective)
    assigned = [p for p in host_ports if p is not None]
    if assigned:
        env["PORT"] = str(assigned[0])
    env["PORTS"] = ",".join(str(p) for p in assigned)
    return env


def labels_env(labels: Mapping[str, str]) -> dict[str, str]:
    valid = {
        _NOT_IN_NAME.sub("_", key).upper(): value
        for key, value in labels.items()
        if len(key) < MAX_ENV_LENGTH - len(LABEL_PREFIX) and len(value) < MAX_ENV_LENGTH
    }
    return {"MARATHON_APP_LABELS": " ".join(valid), **{LABEL_PREFIX + k: v for k, v in valid.items()}}


def _scala_double(value: float) -> str:
    return repr(float(value))


def task_environment(
    app: AppDefinition, instance: Instance, host_ports: Sequence[int | None], env_vars_prefix: str = ""
) -> dict[str, str]:
    env: dict[str, str] = {
        "MESOS_TASK_ID": instance.task_id,
        "MARATHON_APP_ID": str(app.id),
        "MARATHON_APP_VERSION": instance.version,
    }
    if app.container is not None and app.container.docker is not None:
        env["MARATHON_APP_DOCKER_IMAGE"] = app.container.docker.image
    env["MARATHON_APP_RESOURCE_CPUS"] = _scala_double(app.cpus)
    env["MARATHON_APP_RESOURCE_MEM"] = _scala_double(app.mem)
    env["MARATHON_APP_RESOURCE_DISK"] = _scala_double(app.disk)
    env["MARATHON_APP_RESOURCE_GPUS"] = str(app.gpus)
    env.update(labels_env(app.labels))
    ports = ports_env(declared_ports(app), host_ports)
    ports["HOST"] = instance.agent.hostname
    env.update({env_vars_prefix + k: v for k, v in ports.items()})
    env.update({k: v for k, v in app.env.items() if isinstance(v, str)})
    return env


def _command(app: AppDefinition, environment: dict[str, str]) -> CommandInfo:
    uris = tuple(
        Uri(value=f.uri, executable=f.executable, extract=f.extract, cache=f.cache, output_file=f.dest_path)
        for f in app.fetch
    )
    env = tuple(environment.items())
    if app.args:  # args win over cmd; a container's image supplies the executable
        value = app.args[0] if app.container is None else None
        return CommandInfo(
            value=value, shell=False, arguments=app.args, environment=env, uris=uris, user=app.user
        )
    if app.cmd:
        return CommandInfo(value=app.cmd, shell=True, environment=env, uris=uris, user=app.user)
    return CommandInfo(shell=False, environment=env, uris=uris, user=app.user)


def _path_executor(app: AppDefinition, instance: Instance, command: CommandInfo) -> ExecutorInfo:
    """Upstream's PathExecutor: the task runs as `exec <executor> <cmd>` under an executor of its own."""
    path = f"'{app.executor}'"
    line = app.cmd if app.cmd is not None else " ".join(app.args)
    shell = CommandInfo(
        value=f"chmod ug+rx {path} && exec {path} {line}",
        shell=True,
        environment=command.environment,
        uris=command.uris,
        user=command.user,
    )
    return ExecutorInfo(executor_id=ExecutorId(f"marathon-{instance.task_id}"), command=shell)


def _labels(labels: Mapping[str, str]) -> JsonObject:
    return {"labels": [{"key": k, "value": v} for k, v in labels.items()]}


def _resources_json(resources: Resources, ports: Sequence[int]) -> list[JsonValue]:
    scalars = encode_resources(Resources(scalars=resources.scalars))
    if not ports:
        return scalars
    ranges: list[JsonValue] = [{"begin": p, "end": p} for p in ports]
    return [*scalars, {"name": "ports", "type": "RANGES", "ranges": {"range": ranges}, "role": "*"}]


def _discovery(app: AppDefinition, host_ports: Sequence[int | None]) -> JsonObject:
    entries: list[tuple[str | None, str, Mapping[str, str], int, dict[str, str]]] = []
    if app.is_host_networking:
        for d, p in zip(app.port_definitions, host_ports, strict=False):
            entries.append((d.name, d.protocol.value, d.labels, p or 0, {}))
    else:
        mappings = app.container.port_mappings if app.container is not None else ()
        names: list[str | None] = [n.name for n in app.networks if n.mode is NetworkMode.CONTAINER and n.name]
        for m, p in zip(mappings, host_ports, strict=False):
            if p is not None:
                entries.append((m.name, m.protocol.value, m.labels, p, {"network-scope": "host"}))
                continue
            for net in names or [None]:
                scope = {"network-scope": "container", **({"network-name": net} if net else {})}
                entries.append((m.name, m.protocol.value, m.labels, m.container_port, scope))
    ports: list[JsonValue] = []
    for name, protocols, labels, number, extra in entries:
        for protocol in protocols.split(","):
            port: JsonObject = {"number": number, "protocol": protocol}
            if name is not None:
                port["name"] = name
            if labels or extra:
                port["labels"] = _labels({**labels, **extra})
            ports.append(port)
    return {"visibility": "FRAMEWORK", "name": hostname_of(app.id), "ports": {"ports": ports}}


def _check_port(check: HealthCheck, app: AppDefinition, host_ports: Sequence[int | None]) -> int | None:
    """Mesos probes inside the container's network, so a mapped container port wins over the host port."""
    if check.port is not None:
        return check.port
    index = check.port_index or 0
    if index >= len(host_ports):
        return None
    if app.container is not None and app.container.port_mappings and index < len(app.container.port_mappings):
        return app.container.port_mappings[index].container_port or host_ports[index]
    return host_ports[index]


def mesos_health_check(
    check: HealthCheck, app: AppDefinition, host_ports: Sequence[int | None]
) -> JsonObject:
    out: JsonObject = {
        "delay_seconds": float(check.delay_seconds),
        "interval_seconds": float(check.interval_seconds),
        "timeout_seconds": float(check.timeout_seconds),
        "consecutive_failures": check.max_consecutive_failures,
        "grace_period_seconds": float(check.grace_period_seconds),
    }
    port = _check_port(check, app, host_ports)
    match check.protocol:
        case HealthCheckProtocol.COMMAND:
            out.update(type="COMMAND", command={"shell": True, "value": check.command or ""})
        case HealthCheckProtocol.MESOS_TCP:
            out.update(type="TCP", tcp={"port": port or 0, "protocol": check.ip_protocol.value})
        case _:
            scheme = "https" if check.protocol is HealthCheckProtocol.MESOS_HTTPS else "http"
            http: JsonObject = {"scheme": scheme, "port": port or 0, "protocol": check.ip_protocol.value}
            if check.path is not None:  # Mesos refuses a path not starting with '/'; Marathon takes any
                http["path"] = check.path if check.path.startswith("/") else f"/{check.path}"
            out.update(type="HTTP", http=http)
    return out


def _container(app: AppDefinition, instance: Instance, host_ports: Sequence[int | None]) -> JsonObject | None:
    container = app.container
    if container is None:
        return None
    volumes: list[JsonValue] = [
        {"container_path": v.container_path, "host_path": v.host_path, "mode": v.mode.value}
        for v in container.volumes
        if isinstance(v, HostVolume)
    ]
    out: JsonObject = {"type": container.type.value, "volumes": volumes}
    mappings: list[JsonValue] = [
        {"host_port": p, "container_port": m.container_port or p, "protocol": proto}
        for m, p in zip(container.port_mappings, host_ports, strict=False)
        if p is not None
        for proto in m.protocol.value.split(",")
    ]
    docker = container.docker
    if container.type is EngineType.DOCKER and docker is not None:
        network = "HOST" if app.is_host_networking else "USER"
        if any(n.mode is NetworkMode.CONTAINER_BRIDGE for n in app.networks):
            network = "BRIDGE"
        params: list[JsonValue] = [{"key": p.key, "value": p.value} for p in docker.parameters]
        params.append({"key": "label", "value": f"MESOS_TASK_ID={instance.task_id}"})
        out["docker"] = {
            "image": docker.image,
            "network": network,
            "port_mappings": mappings,
            "privileged": docker.privileged,
            "parameters": params,
            "force_pull_image": docker.force_pull_image,
        }
    elif docker is not None:
        image: JsonObject = {
            "type": "DOCKER",
            "docker": {"name": docker.image},
            "cached": not docker.force_pull_image,
        }
        out["mesos"] = {"image": image}
    else:
        out["mesos"] = {}
    if not app.is_host_networking and container.type is EngineType.MESOS:
        out["network_infos"] = [
            {"name": n.name, "port_mappings": mappings} if n.name else {"port_mappings": mappings}
            for n in app.networks
        ]
    return out


def build_task_info(
    app: AppDefinition, instance: Instance, match: Match, *, env_vars_prefix: str = ""
) -> TaskInfo:
    host_ports = match.host_ports
    command = _command(app, task_environment(app, instance, host_ports, env_vars_prefix))
    raw: JsonObject = {"resources": _resources_json(match.resources, match.ports)}
    raw["discovery"] = _discovery(app, host_ports)
    if app.labels:
        raw["labels"] = _labels(app.labels)
    if (container := _container(app, instance, host_ports)) is not None:
        raw["container"] = container
    mesos_checks = [c for c in app.health_checks if c.protocol in MESOS_PROTOCOLS]
    if mesos_checks:
        raw["health_check"] = mesos_health_check(mesos_checks[0], app, host_ports)
    executor = None
    if app.executor not in ("", COMMAND_EXECUTOR):
        executor = _path_executor(app, instance, command)
    grace = app.task_kill_grace_period_seconds
    return TaskInfo(
        name=hostname_of(app.id),
        task_id=instance.task_id,
        agent_id=instance.agent.agent_id,
        resources=match.resources,
        command=None if executor is not None else command,
        executor=executor,
        kill_grace_period=None if grace is None else float(grace),
        raw=raw,
    )
