"""The app definition: what `POST /v2/apps` takes and `GET /v2/apps` shows (marathon.md b.1, b.4, a.3).

Invariants: an `AppDefinition` is always canonical and valid. Its id and dependencies are absolute; the
deprecated fields (`ports`, `uris`, `ipAddress`, `container.docker.network`,
`container.docker.portMappings`) have been moved to `portDefinitions`, `fetch`, `networks` and
`container.portMappings`; every default is filled in. So `AppDefinition.from_json(app.to_json()) == app`,
and `to_json()` writes upstream's 1.6-1.9 response shape restricted to the keys the PyPI `marathon` client
knows (clients.md 3.5): empty `args`, `constraints`, `env`, `fetch`, `healthChecks`, `readinessChecks`,
`dependencies`, `secrets`, `storeUrls` are omitted, `labels` is always an object, `portDefinitions` appear
only with host networking, and `ports`, `uris`, `ipAddress`, `tty`, `check`, `executorResources`,
`resourceLimits` are never written.

`version` and `versionInfo` belong to the stored app, not to its definition: the caller passes them to
`to_json` and answers rollbacks (`rollback_version`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from corral.marathon.checks import HealthCheck, ReadinessCheck, encode_health_check, encode_readiness_check
from corral.marathon.config import ValidationContext
from corral.marathon.constraints import Constraint
from corral.marathon.container import Container, PersistentVolume, encode_container
from corral.marathon.errors import INVALID_JSON, OBJECT_NOT_VALID, ValidationError, Violation
from corral.marathon.networking import (
    DEFAULT_PORT_DEFINITIONS,
    HOST_NETWORKS,
    Network,
    PortDefinition,
    encode_network,
    encode_port_definition,
    is_host_networking,
)
from corral.marathon.paths import PathId
from corral.marathon.reader import EXPECTED_OBJECT
from corral.marathon.strategies import (
    DEFAULT_UPGRADE,
    KillSelection,
    Residency,
    UnreachableEnabled,
    UnreachableStrategy,
    UpgradeStrategy,
    encode_residency,
    encode_unreachable_strategy,
    encode_upgrade_strategy,
    number_json,
)
from corral.protocol.json import JsonObject, JsonValue

# 3600 up to 1.7, 300 from 1.8 (marathon.md b.1); Corral follows the newer RAML default.
DEFAULT_MAX_LAUNCH_DELAY_SECONDS = 300
SINGLE_INSTANCE_LABEL = "MARATHON_SINGLE_INSTANCE_APP"
VERSION_ONLY_WITH_ID = "The 'version' field may only be combined with the 'id' field."


@dataclass(frozen=True, slots=True, kw_only=True)
class SecretRef:
    """An env value taken from a secret: `"DB_PASSWORD": {"secret": "dbpass"}` (needs the secrets feature)."""

    secret: str


EnvValue = str | SecretRef


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchUri:
    uri: str
    extract: bool = True
    executable: bool = False
    cache: bool = False
    dest_path: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VersionInfo:
    last_scaling_at: str
    last_config_change_at: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AppDefinition:
    id: PathId
    cmd: str | None = None
    args: tuple[str, ...] = ()
    user: str | None = None
    env: Mapping[str, EnvValue] = field(default_factory=dict)
    instances: int = 1
    cpus: float = 1.0
    mem: float = 128.0
    disk: float = 0.0
    gpus: int = 0
    executor: str = ""
    constraints: tuple[Constraint, ...] = ()
    fetch: tuple[FetchUri, ...] = ()
    store_urls: tuple[str, ...] = ()
    backoff_seconds: int = 1
    backoff_factor: float = 1.15
    max_launch_delay_seconds: int = DEFAULT_MAX_LAUNCH_DELAY_SECONDS
    container: Container | None = None
    health_checks: tuple[HealthCheck, ...] = ()
    readiness_checks: tuple[ReadinessCheck, ...] = ()
    dependencies: tuple[PathId, ...] = ()
    upgrade_strategy: UpgradeStrategy = DEFAULT_UPGRADE
    labels: Mapping[str, str] = field(default_factory=dict)
    accepted_resource_roles: tuple[str, ...] | None = None
    networks: tuple[Network, ...] = HOST_NETWORKS
    port_definitions: tuple[PortDefinition, ...] = DEFAULT_PORT_DEFINITIONS
    require_ports: bool = False
    residency: Residency | None = None
    secrets: Mapping[str, str] = field(default_factory=dict)  # name -> source
    task_kill_grace_period_seconds: int | None = None
    kill_selection: KillSelection = KillSelection.YOUNGEST_FIRST
    unreachable_strategy: UnreachableStrategy = field(default_factory=UnreachableEnabled)
    role: str | None = None

    @property
    def is_host_networking(self) -> bool:
        return is_host_networking(self.networks)

    @property
    def is_resident(self) -> bool:
        """Pinned to its agent by local persistent volumes."""
        return self.container is not None and any(
            isinstance(v, PersistentVolume) for v in self.container.volumes
        )

    @property
    def is_single_instance(self) -> bool:
        return self.labels.get(SINGLE_INSTANCE_LABEL) == "true"

    @property
    def port_count(self) -> int:
        """How many ports a task gets: the container's port mappings if any, else the port definitions."""
        if self.container is not None and self.container.port_mappings:
            return len(self.container.port_mappings)
        return len(self.port_definitions)

    @property
    def port_names(self) -> tuple[str | None, ...]:
        if self.container is not None and self.container.port_mappings:
            return tuple(m.name for m in self.container.port_mappings)
        return tuple(d.name for d in self.port_definitions)

    @classmethod
    def from_json(
        cls, obj: JsonValue, base_path: str | PathId = "/", *, context: ValidationContext | None = None
    ) -> AppDefinition:
        """Decode, migrate deprecated fields, fill defaults and validate; `ValidationError` is the 422.

        Relative ids and dependencies resolve against `base_path` (the group the app is posted to).
        """
        # Imported here: the decoder builds AppDefinitions, so it imports this module.
        from corral.marathon.decoding import decode_app

        return decode_app(obj, base_path, context or ValidationContext())

    def to_json(self, *, version: str | None = None, version_info: VersionInfo | None = None) -> JsonObject:
        return encode_app(self, version=version, version_info=version_info)


def _encode_env(env: Mapping[str, EnvValue]) -> JsonObject:
    return {k: v if isinstance(v, str) else {"secret": v.secret} for k, v in env.items()}


def encode_fetch(uri: FetchUri) -> JsonObject:
    out: JsonObject = {
        "uri": uri.uri,
        "extract": uri.extract,
        "executable": uri.executable,
        "cache": uri.cache,
    }
    if uri.dest_path is not None:
        out["destPath"] = uri.dest_path
    return out


def encode_app(
    app: AppDefinition, *, version: str | None = None, version_info: VersionInfo | None = None
) -> JsonObject:
    """Upstream's `AppConversion.appWriter`, key for key, in its order (marathon.md b.4)."""
    out: JsonObject = {"id": str(app.id)}
    if app.accepted_resource_roles is not None:
        out["acceptedResourceRoles"] = list[JsonValue](app.accepted_resource_roles)
    if app.args:
        out["args"] = list[JsonValue](app.args)
    out["backoffFactor"] = number_json(app.backoff_factor)
    out["backoffSeconds"] = app.backoff_seconds
    if app.cmd is not None:
        out["cmd"] = app.cmd
    if app.constraints:
        out["constraints"] = [c.to_json() for c in app.constraints]
    if app.container is not None:
        out["container"] = encode_container(app.container, with_port_mappings=not app.is_host_networking)
    out["cpus"] = number_json(app.cpus)
    if app.dependencies:
        out["dependencies"] = [str(d) for d in app.dependencies]
    out["disk"] = number_json(app.disk)
    if app.env:
        out["env"] = _encode_env(app.env)
    out["executor"] = app.executor
    if app.fetch:
        out["fetch"] = [encode_fetch(f) for f in app.fetch]
    if app.health_checks:
        out["healthChecks"] = [encode_health_check(h) for h in app.health_checks]
    out["instances"] = app.instances
    out["labels"] = dict(app.labels)
    out["maxLaunchDelaySeconds"] = app.max_launch_delay_seconds
    out["mem"] = number_json(app.mem)
    out["gpus"] = app.gpus
    out["networks"] = [encode_network(n) for n in app.networks]
    if app.is_host_networking:
        out["portDefinitions"] = [encode_port_definition(p) for p in app.port_definitions]
    if app.readiness_checks:
        out["readinessChecks"] = [encode_readiness_check(r) for r in app.readiness_checks]
    if app.residency is not None:
        out["residency"] = encode_residency(app.residency)
    out["requirePorts"] = app.require_ports
    if app.secrets:
        out["secrets"] = {name: {"source": source} for name, source in app.secrets.items()}
    if app.store_urls:
        out["storeUrls"] = list[JsonValue](app.store_urls)
    if app.task_kill_grace_period_seconds is not None:
        out["taskKillGracePeriodSeconds"] = app.task_kill_grace_period_seconds
    out["upgradeStrategy"] = encode_upgrade_strategy(app.upgrade_strategy)
    if app.user is not None:
        out["user"] = app.user
    if version is not None:
        out["version"] = version
    if version_info is not None:
        out["versionInfo"] = {
            "lastScalingAt": version_info.last_scaling_at,
            "lastConfigChangeAt": version_info.last_config_change_at,
        }
    out["killSelection"] = app.kill_selection.value
    out["unreachableStrategy"] = encode_unreachable_strategy(app.unreachable_strategy)
    if app.role is not None:
        out["role"] = app.role
    return out


def _present(patch: JsonObject) -> set[str]:
    return {key for key, value in patch.items() if value is not None}


def rollback_version(patch: JsonValue) -> str | None:
    """The version a `PUT /v2/apps/{id}` body asks to roll back to (`{"version": ts}`, maybe with `id`)."""
    if not isinstance(patch, dict):
        return None
    version = patch.get("version")
    if isinstance(version, str) and _present(patch) <= {"id", "version"}:
        return version
    return None


def apply_patch(
    app: AppDefinition,
    patch: JsonValue,
    base_path: str | PathId = "/",
    *,
    context: ValidationContext | None = None,
) -> AppDefinition:
    """PUT (`partialUpdate=true`, the default) and PATCH semantics (marathon.md a.3).

    Each top-level field present in `patch` replaces the app's, wholesale (`container`, `env`, `labels`,
    `healthChecks` are not deep-merged); absent or null fields keep their value; the body's `id` is ignored
    (the URL names the app). A deprecated field replaces its canonical counterpart (`ports` replaces
    `portDefinitions`, `uris` replaces `fetch`, `ipAddress` replaces `networks` and `portDefinitions`,
    `container.docker.network` replaces `networks`). The merged app is validated as a whole. A rollback
    body (`rollback_version`) changes nothing here: the caller restores the stored version.
    """
    if not isinstance(patch, dict):
        raise ValidationError(INVALID_JSON, [Violation(path="/", error=EXPECTED_OBJECT)])
    keys = _present(patch)
    if "version" in keys:
        if keys - {"id", "version"}:
            raise ValidationError(OBJECT_NOT_VALID, [Violation(path="/", error=VERSION_ONLY_WITH_ID)])
        return app
    merged = app.to_json()
    replaced = {"ports": "portDefinitions", "uris": "fetch", "ipAddress": "networks"}
    for legacy, canonical in replaced.items():
        if legacy in keys:
            merged.pop(canonical, None)
    container = patch.get("container")
    if "ipAddress" in keys:
        # Upstream checks "an IP address and ports" on the update alone; the app's host ports lapse anyway.
        merged.pop("portDefinitions", None)
    docker = container.get("docker") if isinstance(container, dict) else None
    if isinstance(docker, dict) and docker.get("network") is not None:
        merged.pop("networks", None)
    merged.update({key: patch[key] for key in keys if key != "id"})
    merged["id"] = str(app.id)
    return AppDefinition.from_json(merged, base_path, context=context)
