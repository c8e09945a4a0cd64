"""An OpenAPI 3 description of the v2 REST API as Corral serves it (`GET /openapi.json`; marathon.md a, b).

A plain dict built with the small helpers below. Enumerations, patterns and bounds come from the readers'
own enums and constants where they exist, so the document says what the decoder accepts; response schemas
require exactly the keys the encoders always write. Integers are 32-bit unless `LONG` (play-json's Int and
Long); `null` means absent and unknown keys are ignored, so request objects are open. How ids with slashes
sit in URL paths is in `DESCRIPTION`, which the document carries.

Nested groups in a group document are plain objects rather than a `$ref` to their own schema: fuzzers
stall generating recursive request schemas.
"""

from __future__ import annotations

from enum import StrEnum

from corral.core.task_state import TaskState
from corral.marathon.checks import HealthCheckProtocol, HttpScheme, IpProtocol
from corral.marathon.constraints import ConstraintOperator
from corral.marathon.container import DockerNetwork, EngineType, PersistentVolumeType, VolumeMode
from corral.marathon.deployment import ActionKind
from corral.marathon.matching import RejectReason
from corral.marathon.networking import MAX_PORT, NAME_PATTERN, NetworkMode, PortProtocol
from corral.marathon.paths import RAML_PATTERN
from corral.marathon.strategies import DISABLED, KillSelection, TaskLostBehavior
from corral.marathon.validation import MAX_INSTANCES, MAX_SCALAR
from corral.protocol.json import JsonObject, JsonValue

INT32_MAX = 2**31 - 1
LONG: JsonObject = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
# One id segment as a URL path carries it (no `.`/`..`: HTTP clients resolve those before sending).
_SEGMENT = r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?"
ID_IN_PATH = rf"^{_SEGMENT}(/{_SEGMENT})*$"
# decoding.EXECUTOR_PATTERN is matched whole (`fullmatch`); JSON Schema searches, so anchor the alternation.
EXECUTOR = r"^(//cmd|/?[^/]+(/[^/]+)*)?$"
DESCRIPTION = (
    "Marathon's v2 REST API as Corral serves it. App and group ids carry slashes: {appId} is the id "
    "without its leading slash, and every segment after /v2/apps/ belongs to it (/v2/apps/prod/web is "
    "the app /prod/web; %2F works too). So an app id's last segment may not be restart, tasks or versions, "
    "and a group's is best not apps or versions: those words name sub-resources."
)
EMBEDS = (
    "apps.tasks",
    "apps.counts",
    "apps.deployments",
    "apps.lastTaskFailure",
    "apps.failures",
    "apps.readiness",
    "apps.taskStats",
)


# ---------------------------------------------------------------- helpers


def ref(name: str) -> JsonObject:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: JsonObject, *required: str, description: str | None = None) -> JsonObject:
    out: JsonObject = {"type": "object", "properties": properties}
    if required:
        out["required"] = list[JsonValue](required)
    if description:
        out["description"] = description
    return out


def array(items: JsonObject, **extra: JsonValue) -> JsonObject:
    return {"type": "array", "items": items, **extra}


def string(**extra: JsonValue) -> JsonObject:
    return {"type": "string", **extra}


def integer(minimum: int = 0, maximum: int = INT32_MAX) -> JsonObject:
    return {"type": "integer", "minimum": minimum, "maximum": maximum}


def number(**extra: JsonValue) -> JsonObject:
    return {"type": "number", **extra}


def enum(choices: type[StrEnum], *more: str) -> JsonObject:
    return {"type": "string", "enum": list[JsonValue]([c.value for c in choices] + list(more))}


BOOLEAN: JsonObject = {"type": "boolean"}
PORT = integer(0, MAX_PORT)
STRING_MAP: JsonObject = {"type": "object", "additionalProperties": {"type": "string"}}
TIMESTAMP = string(description="ISO 8601 UTC with milliseconds, e.g. 2015-09-25T15:13:48.343Z")


def json_body(schema: JsonObject, description: str = "") -> JsonObject:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def response_ref(name: str) -> JsonObject:
    return {"$ref": f"#/components/responses/{name}"}


def query(name: str, schema: JsonObject, description: str) -> JsonObject:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def flag(name: str, default: bool, description: str) -> JsonObject:
    """A boolean query parameter; the server reads `true` in any case as true and anything else as false."""
    return query(name, {"type": "boolean", "default": default}, description)


def repeated(name: str, values: list[JsonValue], description: str) -> JsonObject:
    """`?name=a&name=b`; values outside the list are accepted and ignored."""
    out = query(name, array(string(enum=values)), description)
    return {**out, "style": "form", "explode": True}


def path_param(name: str, schema: JsonObject, description: str) -> JsonObject:
    return {"name": name, "in": "path", "required": True, "schema": schema, "description": description}


def operation(
    summary: str,
    responses: JsonObject,
    *,
    parameters: list[JsonValue] | None = None,
    body: JsonObject | None = None,
) -> JsonObject:
    out: JsonObject = {"summary": summary}
    if parameters:
        out["parameters"] = parameters
    if body is not None:
        out["requestBody"] = {**body, "required": True}
    out["responses"] = responses
    return out


FORCE = flag("force", False, "Cancel running deployments of the same apps instead of answering 409.")
APP_ID = path_param(
    "appId",
    string(pattern=ID_IN_PATH),
    "The app id without its leading slash; nested ids keep their slashes.",
)
GROUP_ID = path_param("groupId", string(pattern=ID_IN_PATH), "The group id without its leading slash.")
DEPLOYED: JsonObject = {
    "Marathon-Deployment-Id": {"description": "The deployment started", "schema": string()}
}


def link_name(path: str, method: str) -> str:
    """A link's key, in the characters OpenAPI allows there: `get-v2.apps.appId`."""
    return f"{method}-" + path.strip("/").replace("/", ".").replace("{", "").replace("}", "")


def link(path: str, method: str, **parameters: str) -> JsonObject:
    """An OpenAPI link: how a response fills another operation's parameters (fuzzers follow them)."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    return {"operationRef": f"#/paths/{pointer}/{method}", "parameters": dict[str, JsonValue](parameters)}


def deployment_result(description: str) -> JsonObject:
    return {**json_body(ref("DeploymentResult"), description), "headers": DEPLOYED}


# ---------------------------------------------------------------- the app


def _health_check() -> JsonObject:
    seconds = integer()
    return obj(
        {
            "protocol": enum(HealthCheckProtocol),
            "path": string(),
            "portIndex": PORT,
            "port": PORT,
            "command": obj({"value": string()}, "value"),
            "gracePeriodSeconds": seconds,
            "intervalSeconds": seconds,
            "timeoutSeconds": seconds,
            "maxConsecutiveFailures": seconds,
            "delaySeconds": seconds,
            "ignoreHttp1xx": BOOLEAN,
            "ipProtocol": enum(IpProtocol),
        }
    )


def _readiness_check() -> JsonObject:
    return obj(
        {
            "name": string(),
            "protocol": enum(HttpScheme),
            "path": string(minLength=1, maxLength=1024),
            "portName": string(pattern="^[a-z][-a-z0-9]*$"),
            "intervalSeconds": integer(),
            "timeoutSeconds": integer(-(2**31)),
            "httpStatusCodesForReady": array(integer(100, 999)),
            "preserveLastResponse": BOOLEAN,
        }
    )


def _port_mapping() -> JsonObject:
    return obj(
        {
            "containerPort": PORT,
            "hostPort": PORT,
            "servicePort": PORT,
            "protocol": ref("PortProtocol"),
            "name": string(pattern=NAME_PATTERN.pattern),
            "labels": STRING_MAP,
        }
    )


def _volume() -> JsonObject:
    persistent = obj(
        {
            "type": enum(PersistentVolumeType),
            "size": LONG,
            "maxSize": LONG,
            "constraints": array(array(string())),
        },
        "size",
    )
    external = obj({"name": string(), "provider": string(), "options": STRING_MAP})
    return obj(
        {
            "containerPath": string(),
            "hostPath": string(),
            "mode": enum(VolumeMode),
            "persistent": persistent,
            "external": external,
            "secret": string(),
        },
        "containerPath",
        description="A host volume (hostPath, mode), a local persistent one, an external one or a secret.",
    )


def _container() -> JsonObject:
    docker = obj(
        {
            "image": string(),
            "network": enum(DockerNetwork),
            "portMappings": array(ref("PortMapping"), description="Deprecated location"),
            "privileged": BOOLEAN,
            "parameters": array(obj({"key": string(), "value": string()}, "key", "value")),
            "forcePullImage": BOOLEAN,
        },
        "image",
    )
    return obj(
        {
            "type": enum(EngineType),
            "docker": docker,
            "volumes": array(ref("Volume")),
            "portMappings": array(ref("PortMapping")),
        }
    )


def _ip_address() -> JsonObject:
    port = obj({"number": PORT, "name": string(), "protocol": ref("PortProtocol")}, "name")
    return obj(
        {
            "groups": array(string()),
            "labels": STRING_MAP,
            "discovery": obj({"ports": array(port)}),
            "networkName": string(minLength=1),
        },
        description="Deprecated: moved to networks (and container.portMappings)",
    )


def app_fields() -> JsonObject:
    """Every field `POST /v2/apps` reads (marathon.md b.1), deprecated ones included."""
    id_ = string(minLength=1, pattern=RAML_PATTERN.pattern)
    unreachable: JsonObject = {
        "oneOf": [
            string(enum=[DISABLED]),
            obj(
                {
                    "inactiveAfterSeconds": LONG,
                    "expungeAfterSeconds": LONG,
                }
            ),
        ]
    }
    env_value: JsonObject = {"oneOf": [string(), obj({"secret": string()}, "secret")]}
    constraint = array(
        string(),
        minItems=2,
        maxItems=3,
        description="[field, operator, value?]; operators: "
        + ", ".join(c.value for c in ConstraintOperator)
        + " (any case)",
    )
    return {
        "id": id_,
        "cmd": string(minLength=1),
        "args": array(string()),
        "user": string(),
        "env": {"type": "object", "additionalProperties": env_value},
        "instances": integer(maximum=MAX_INSTANCES),
        "cpus": number(minimum=0.001, maximum=MAX_SCALAR),
        "mem": number(minimum=0, maximum=MAX_SCALAR),
        "disk": number(minimum=0, maximum=MAX_SCALAR),
        "gpus": integer(),
        "executor": string(pattern=EXECUTOR),
        "constraints": array(constraint),
        "acceptedResourceRoles": array(string()),
        "role": string(),
        "labels": STRING_MAP,
        "ports": array(PORT, description="Deprecated: moved to portDefinitions"),
        "portDefinitions": array(ref("PortDefinition")),
        "requirePorts": BOOLEAN,
        "networks": array(ref("Network")),
        "container": ref("Container"),
        "healthChecks": array(ref("HealthCheck")),
        "readinessChecks": array(ref("ReadinessCheck")),
        "backoffSeconds": integer(),
        "backoffFactor": number(minimum=1.0),
        "maxLaunchDelaySeconds": integer(),
        "upgradeStrategy": ref("UpgradeStrategy"),
        "unreachableStrategy": unreachable,
        "killSelection": enum(KillSelection),
        "taskKillGracePeriodSeconds": integer(),
        "dependencies": array(string(pattern=RAML_PATTERN.pattern)),
        "fetch": array(ref("FetchUri")),
        "uris": array(string(minLength=1), description="Deprecated: moved to fetch"),
        "storeUrls": array(string(minLength=1)),
        "secrets": {"type": "object", "additionalProperties": obj({"source": string()}, "source")},
        "residency": obj(
            {
                "relaunchEscalationTimeoutSeconds": integer(),
                "taskLostBehavior": enum(TaskLostBehavior),
            }
        ),
        "ipAddress": _ip_address(),
        "version": string(description="In an update: alone (or with id), roll back to that version"),
    }


# The tutorial's app (mesosphere-tutorial.txt), deprecated `ports` and all.
EXAMPLE_APP: JsonObject = {
    "id": "hello2",
    "cmd": "echo hello; sleep 10",
    "mem": 16,
    "cpus": 0.1,
    "instances": 1,
    "disk": 0,
    "ports": [0],
}
# What `encode_app` always writes; the rest appears only when set.
WRITTEN_APP_KEYS = (
    "id",
    "backoffFactor",
    "backoffSeconds",
    "cpus",
    "disk",
    "executor",
    "instances",
    "labels",
    "maxLaunchDelaySeconds",
    "mem",
    "gpus",
    "networks",
    "requirePorts",
    "upgradeStrategy",
    "killSelection",
    "unreachableStrategy",
)
COUNTS = ("tasksStaged", "tasksRunning", "tasksHealthy", "tasksUnhealthy")


def app_schemas() -> JsonObject:
    fields = app_fields()
    written: JsonObject = {
        **fields,
        "version": TIMESTAMP,
        "versionInfo": obj({"lastScalingAt": TIMESTAMP, "lastConfigChangeAt": TIMESTAMP}),
    }
    failure = obj(
        {
            k: string()
            for k in ("appId", "host", "message", "state", "taskId", "timestamp", "version", "slaveId")
        }
    )
    info: JsonObject = {
        **written,
        **{c: integer() for c in COUNTS},
        "deployments": array(obj({"id": string()}, "id")),
        "tasks": array(ref("Task")),
        "lastTaskFailure": failure,
    }
    return {
        "App": {
            **obj(fields, "id", description="An app definition as POST /v2/apps takes it"),
            "example": EXAMPLE_APP,
        },
        "AppUpdate": obj(fields, description="Fields to replace (PUT partialUpdate, PATCH), or a whole app"),
        "AppDefinition": obj(
            written, *WRITTEN_APP_KEYS, description="An app as stored (groups may add counts)"
        ),
        "AppInfo": obj(info, *WRITTEN_APP_KEYS, "version", *COUNTS, "deployments"),
        "PortProtocol": enum(PortProtocol, "tcp,udp"),
        "PortDefinition": obj(
            {
                "port": PORT,
                "protocol": ref("PortProtocol"),
                "name": string(pattern=NAME_PATTERN.pattern),
                "labels": STRING_MAP,
            }
        ),
        "Network": obj(
            {
                "mode": enum(NetworkMode),
                "name": string(minLength=1, maxLength=63, pattern=NAME_PATTERN.pattern),
                "labels": STRING_MAP,
            }
        ),
        "PortMapping": _port_mapping(),
        "Volume": _volume(),
        "Container": _container(),
        "HealthCheck": _health_check(),
        "ReadinessCheck": _readiness_check(),
        "UpgradeStrategy": obj(
            {
                "minimumHealthCapacity": number(minimum=0, maximum=1),
                "maximumOverCapacity": number(minimum=0, maximum=1),
            },
            "minimumHealthCapacity",
            "maximumOverCapacity",
        ),
        "FetchUri": obj(
            {
                # At most 1024 characters in `fetch`; the deprecated `uris` it is also made from has no bound.
                "uri": string(minLength=1),
                "extract": BOOLEAN,
                "executable": BOOLEAN,
                "cache": BOOLEAN,
                "destPath": string(minLength=1, maxLength=1024),
            },
            "uri",
        ),
    }


# ---------------------------------------------------------------- everything else the API writes


def other_schemas() -> JsonObject:
    action = obj({"action": enum(ActionKind), "app": string()}, "action", "app")
    current = obj(
        {"action": enum(ActionKind), "app": string(), "readinessCheckResults": array(obj({}))},
        "action",
        "app",
        "readinessCheckResults",
    )
    steps = array(obj({"actions": array(action)}, "actions"))
    reject = array(
        obj({"reason": enum(RejectReason), "declined": integer(), "processed": integer()}),
    )
    summary = obj(
        {
            "processedOffersCount": integer(),
            "unusedOffersCount": integer(),
            "lastUnusedOfferAt": TIMESTAMP,
            "lastUsedOfferAt": TIMESTAMP,
            "rejectSummaryLastOffers": reject,
            "rejectSummaryLaunchAttempt": reject,
        },
        "processedOffersCount",
        "unusedOffersCount",
        "rejectSummaryLastOffers",
        "rejectSummaryLaunchAttempt",
    )
    group_fields: JsonObject = {
        "id": string(),
        "apps": array(ref("AppDefinition")),
        "groups": array(ref("Group")),
        "pods": array(obj({})),
        "dependencies": array(string()),
        "version": TIMESTAMP,
        "enforceRole": BOOLEAN,
    }
    return {
        "Message": obj({"message": string()}, "message"),
        "InvalidJson": obj(
            {"message": string(), "details": string(description="The parser's complaint")},
            "message",
            description="Malformed JSON, or a body of the wrong shape",
        ),
        "ValidationFailure": obj(
            {
                "message": string(),
                "details": array(
                    obj(
                        {"path": string(), "errors": array(string())},
                        "path",
                        "errors",
                    )
                ),
            },
            "message",
            description="Paths use upstream's syntax: /healthChecks(0)/portIndex; / is the whole object",
        ),
        "Conflict": obj(
            {"message": string(), "deployments": array(obj({"id": string()}, "id"))},
            "message",
            description="The app exists, or deployments lock it (they are listed)",
        ),
        "DeploymentResult": obj({"version": TIMESTAMP, "deploymentId": string()}, "version", "deploymentId"),
        "Task": obj(
            {
                "id": string(),
                "appId": string(),
                "host": string(),
                "ports": array(PORT),
                "servicePorts": array(PORT),
                "ipAddresses": array(obj({"ipAddress": string(), "protocol": enum(IpProtocol)})),
                "slaveId": string(),
                "state": enum(TaskState),
                "stagedAt": TIMESTAMP,
                "startedAt": TIMESTAMP,
                "version": TIMESTAMP,
                "healthCheckResults": array(obj({"alive": BOOLEAN, "instanceId": string()})),
                "localVolumes": array(obj({})),
                "region": string(),
                "zone": string(),
            },
            "id",
            "appId",
            "host",
            "slaveId",
            "state",
        ),
        "Deployment": obj(
            {
                "id": string(),
                "version": TIMESTAMP,
                "affectedApps": array(string()),
                "affectedPods": array(string()),
                "steps": steps,
                "currentActions": array(current),
                "currentStep": integer(),
                "totalSteps": integer(),
            },
            "id",
            "version",
            "affectedApps",
            "steps",
            "currentActions",
            "currentStep",
            "totalSteps",
        ),
        "QueueItem": obj(
            {
                "app": ref("AppDefinition"),
                "count": integer(),
                "delay": obj(
                    {"timeLeftSeconds": integer(), "overdue": BOOLEAN}, "timeLeftSeconds", "overdue"
                ),
                "since": TIMESTAMP,
                "processedOffersSummary": summary,
                "lastUnusedOffers": array(obj({"offer": obj({}), "reason": array(string())})),
            },
            "app",
            "count",
            "delay",
            "since",
            "processedOffersSummary",
        ),
        "Group": obj(
            group_fields, "id", "dependencies", "version", description="apps, groups, pods per embed"
        ),
        "GroupUpdate": obj(
            {
                "id": string(pattern=RAML_PATTERN.pattern),
                "apps": array(ref("App")),
                "groups": array(obj({}, description="A nested GroupUpdate")),
                "dependencies": array(string(pattern=RAML_PATTERN.pattern)),
                "scaleBy": number(minimum=0),
                "version": string(description="Alone: roll the group back to that version"),
                "enforceRole": BOOLEAN,
            }
        ),
        "Info": obj(
            {
                "name": string(),
                "version": string(),
                "buildref": string(),
                "elected": BOOLEAN,
                "leader": string(),
                "frameworkId": {"type": "string", "nullable": True},
                "marathon_config": obj({}),
                "zookeeper_config": obj({}),
                "http_config": obj({"http_port": PORT, "https_port": PORT}),
            },
            "name",
            "version",
            "elected",
            "leader",
            "marathon_config",
            "zookeeper_config",
            "http_config",
        ),
        "Metrics": obj(
            {
                "version": string(),
                **{k: obj({}) for k in ("counters", "gauges", "histograms", "meters", "timers")},
            },
            "version",
            "counters",
            "gauges",
            "histograms",
            "meters",
            "timers",
        ),
    }


# ---------------------------------------------------------------- paths


def _responses(ok: JsonObject, *errors: str, ok_status: str = "200") -> JsonObject:
    return {ok_status: ok, **{status: response_ref(status) for status in errors}}


def app_paths() -> JsonObject:
    tasks_or_deployment: JsonObject = {
        "anyOf": [obj({"tasks": array(ref("Task"))}, "tasks"), ref("DeploymentResult")]
    }
    scale = flag(
        "scale", False, "Shrink the app by the killed tasks (one deployment) instead of replacing them"
    )
    wipe = flag("wipe", False, "Forget the instances (with scale: 400)")
    partial = flag("partialUpdate", True, "Replace only the fields given (false: the body is a whole app)")
    embed = repeated("embed", list[JsonValue](EMBEDS), "What AppInfo adds; app., group.apps. prefixes too")
    deployment_ok = deployment_result("The deployment started")
    created_app = "$response.body#/id"
    app_links: JsonObject = {
        link_name(path, method): link(path, method, appId=created_app)
        for path, method in (
            ("/v2/apps/{appId}", "get"),
            ("/v2/apps/{appId}", "put"),
            ("/v2/apps/{appId}", "patch"),
            ("/v2/apps/{appId}", "delete"),
            ("/v2/apps/{appId}/restart", "post"),
            ("/v2/apps/{appId}/tasks", "get"),
            ("/v2/apps/{appId}/tasks", "delete"),
            ("/v2/apps/{appId}/versions", "get"),
            ("/v2/queue/{appId}/delay", "delete"),
        )
    }
    deployment = "/v2/deployments/{deploymentId}"
    app_links[link_name(deployment, "delete")] = link(
        deployment, "delete", deploymentId="$response.header.Marathon-Deployment-Id"
    )
    versions_link = link(
        "/v2/apps/{appId}/versions/{version}",
        "get",
        appId="$request.path.appId",
        version="$response.body#/version",
    )
    return {
        "/v2/apps": {
            "get": operation(
                "List apps",
                _responses(json_body(obj({"apps": array(ref("AppInfo"))}, "apps"), "The apps")),
                parameters=[
                    embed,
                    query("cmd", string(), "Only apps whose cmd contains this (any case)"),
                    query("id", string(), "Only apps whose id contains this (any case)"),
                    query("label", string(), "Label selector: key, key==value, key!=value, comma-separated"),
                ],
            ),
            "post": operation(
                "Create an app and deploy it",
                {
                    "201": {
                        **json_body(ref("AppInfo"), "The app, with zero counts and its deployment"),
                        "headers": {**DEPLOYED, "Location": {"schema": string()}},
                        "links": app_links,
                    },
                    **{s: response_ref(s) for s in ("400", "409", "422")},
                },
                parameters=[FORCE],
                body=json_body(ref("App")),
            ),
            "put": operation(
                "Create or update several apps; {version} alone rolls one back",
                _responses(deployment_ok, "400", "404", "409", "422"),
                parameters=[partial, FORCE],
                body=json_body(array(ref("App"))),
            ),
            "patch": operation(
                "Update several existing apps",
                _responses(deployment_ok, "400", "404", "409", "422"),
                parameters=[FORCE],
                body=json_body(array(ref("App"))),
            ),
        },
        "/v2/apps/{appId}": {
            "parameters": [APP_ID],
            "get": operation(
                "One app (tasks, counts, deployments and lastTaskFailure by default)",
                _responses(json_body(obj({"app": ref("AppInfo")}, "app")), "404"),
                parameters=[embed],
            ),
            "put": operation(
                "Update an app, or create it (201); {version} alone rolls back",
                {
                    **_responses(
                        {**deployment_ok, "links": {"get-version": versions_link}}, "400", "404", "409", "422"
                    ),
                    "201": deployment_result("The app was created"),
                },
                parameters=[partial, FORCE],
                body=json_body(ref("AppUpdate")),
            ),
            "patch": operation(
                "Update an existing app",
                _responses(deployment_ok, "400", "404", "409", "422"),
                parameters=[FORCE],
                body=json_body(ref("AppUpdate")),
            ),
            "delete": operation(
                "Stop an app's tasks and delete it with its versions",
                _responses(deployment_ok, "404", "409"),
                parameters=[flag("force", True, "Cancel running deployments of the app")],
            ),
        },
        "/v2/apps/{appId}/restart": {
            "parameters": [APP_ID],
            "post": operation(
                "Rolling restart",
                _responses(deployment_ok, "404", "409"),
                parameters=[FORCE],
            ),
        },
        "/v2/apps/{appId}/tasks": {
            "parameters": [APP_ID],
            "get": operation(
                "The app's live tasks",
                _responses(json_body(obj({"tasks": array(ref("Task"))}, "tasks")), "404"),
            ),
            "delete": operation(
                "Kill the app's tasks (on one host, or * for all)",
                _responses(
                    json_body(tasks_or_deployment, "Killed tasks, or the scale deployment"),
                    "400",
                    "404",
                    "409",
                ),
                parameters=[
                    query("host", string(), "Only tasks on this host; * for all"),
                    scale,
                    wipe,
                    FORCE,
                ],
            ),
        },
        "/v2/apps/{appId}/tasks/{taskId}": {
            "parameters": [APP_ID, path_param("taskId", string(), "A task id")],
            "delete": operation(
                "Kill one task",
                _responses(
                    json_body(
                        {"anyOf": [obj({"task": ref("Task")}), ref("DeploymentResult")]},
                        "The killed task ({} if it was already gone), or the scale deployment",
                    ),
                    "400",
                    "404",
                    "409",
                ),
                parameters=[scale, wipe, FORCE],
            ),
        },
        "/v2/apps/{appId}/versions": {
            "parameters": [APP_ID],
            "get": operation(
                "The app's stored versions, newest first",
                _responses(json_body(obj({"versions": array(TIMESTAMP)}, "versions")), "404"),
            ),
        },
        "/v2/apps/{appId}/versions/{version}": {
            "parameters": [APP_ID, path_param("version", string(), "A version timestamp")],
            "get": operation(
                "One stored version of the app's definition",
                _responses(json_body(ref("AppDefinition")), "404"),
            ),
        },
    }


def group_paths() -> JsonObject:
    group_ok = json_body(ref("Group"), "The group")
    created: JsonObject = {
        **deployment_result("The group was created"),
        "headers": {**DEPLOYED, "Location": {"schema": string()}},
        "links": {
            link_name(path, method): link(path, method, groupId="$request.body#/id")
            for path, method in (
                ("/v2/groups/{groupId}", "get"),
                ("/v2/groups/{groupId}", "put"),
                ("/v2/groups/{groupId}", "delete"),
                ("/v2/groups/{groupId}/versions", "get"),
            )
        },
    }
    embed = repeated(
        "embed",
        ["group.groups", "group.apps", "group.pods", "group.apps.tasks", "group.apps.counts"],
        "What the group shows",
    )
    dry_run = flag("dryRun", False, "Answer the deployment's steps without deploying")
    put_ok = json_body(
        {"anyOf": [ref("DeploymentResult"), obj({"steps": array(obj({}))}, "steps")]},
        "The deployment started, or with dryRun its steps",
    )

    def methods(*parameters: JsonObject) -> JsonObject:
        return {
            "parameters": list[JsonValue](parameters),
            "get": operation(
                "A group with its apps and groups", _responses(group_ok, "404"), parameters=[embed]
            ),
            "post": operation(
                "Create a group (apps and groups inside it)",
                # 404 only in a path the router cannot place: an id with a line break.
                _responses(created, "400", "409", "422", *(["404"] if parameters else []), ok_status="201"),
                parameters=[FORCE],
                body=json_body(ref("GroupUpdate")),
            ),
            "put": operation(
                "Create or update a group; {scaleBy} scales its apps, {version} rolls back",
                _responses(put_ok, "400", "404", "409", "422"),
                parameters=[FORCE, dry_run],
                body=json_body(ref("GroupUpdate")),
            ),
            "delete": operation(
                "Delete a group and everything in it (the root: empty it)",
                _responses(deployment_result("The deployment started"), "404", "409"),
                parameters=[FORCE],
            ),
        }

    return {
        "/v2/groups": methods(),
        "/v2/groups/{groupId}": methods(GROUP_ID),
        "/v2/groups/{groupId}/apps": {
            "parameters": [GROUP_ID],
            "get": operation(
                "Every app in the group, nested ones included",
                _responses(json_body(array(ref("AppDefinition"))), "404"),
                parameters=[embed],
            ),
        },
        "/v2/groups/{groupId}/versions": {
            "parameters": [GROUP_ID],
            "get": operation(
                "The versions a rollback can name, newest first",
                _responses(json_body(array(TIMESTAMP)), "404"),
            ),
        },
        "/v2/groups/{groupId}/versions/{version}": {
            "parameters": [GROUP_ID, path_param("version", string(), "A version timestamp")],
            "get": operation("The group as it was in that version", _responses(group_ok, "404")),
        },
    }


def other_paths() -> JsonObject:
    scale = flag("scale", False, "Shrink the apps by the killed tasks instead of replacing them")
    ids = obj({"ids": array(string())}, "ids")
    return {
        "/v2/tasks": {
            "get": operation(
                "Every live task",
                _responses(json_body(obj({"tasks": array(ref("Task"))}, "tasks"))),
                parameters=[
                    repeated(
                        "status",
                        [s.value.removeprefix("TASK_").lower() for s in TaskState],
                        "Only tasks in these states",
                    )
                ],
            ),
        },
        "/v2/tasks/delete": {
            "post": operation(
                "Kill tasks by id (unknown ids are ignored)",
                _responses(
                    json_body(
                        {"anyOf": [obj({"tasks": array(ref("Task"))}, "tasks"), ref("DeploymentResult")]}
                    ),
                    "400",
                    "409",
                ),
                parameters=[scale, flag("wipe", False, "Forget the instances"), FORCE],
                body=json_body(ids),
            ),
        },
        "/v2/deployments": {
            "get": operation("Running deployments", _responses(json_body(array(ref("Deployment"))))),
        },
        "/v2/deployments/{deploymentId}": {
            "parameters": [path_param("deploymentId", string(), "A deployment id")],
            "delete": operation(
                "Roll a deployment back (force: just stop it, 202)",
                {
                    "200": deployment_result("The rollback deployment"),
                    "202": {"description": "Stopped; no body"},
                    "404": response_ref("404"),
                },
                parameters=[flag("force", False, "Stop without rolling back")],
            ),
        },
        "/v2/queue": {
            "get": operation(
                "Apps waiting for instances to launch",
                _responses(json_body(obj({"queue": array(ref("QueueItem"))}, "queue"))),
                parameters=[repeated("embed", ["lastUnusedOffers"], "Add each agent's last unused offer")],
            ),
        },
        "/v2/queue/{appId}/delay": {
            "parameters": [APP_ID],
            "delete": operation(
                "Reset the app's launch delay (backoff)",
                {"204": {"description": "Reset"}, "404": response_ref("404")},
            ),
        },
        "/v2/info": {"get": operation("Marathon's configuration", _responses(json_body(ref("Info"))))},
        "/v2/leader": {
            "get": operation(
                "The leader", _responses(json_body(obj({"leader": string()}, "leader"), "host:port"))
            )
        },
        "/v2/events": {
            "get": operation(
                "Server-sent events (needs Accept: text/event-stream, else 405)",
                {
                    "200": {
                        "description": "event: <type>, data: <one-line JSON> per event",
                        "content": {"text/event-stream": {"schema": string()}},
                    },
                    "405": response_ref("405"),
                },
                parameters=[
                    query("event_type", array(string()), "Only these event types (repeatable)"),
                ],
            ),
        },
        "/ping": {
            "get": operation(
                "Liveness",
                {
                    "200": {
                        "description": "pong (a JSON string for Accept: application/json)",
                        "content": {
                            "text/plain": {"schema": string(enum=["pong"])},
                            "application/json": {"schema": string(enum=["pong"])},
                        },
                    }
                },
            )
        },
        "/metrics": {"get": operation("Codahale-style metrics", _responses(json_body(ref("Metrics"))))},
        "/openapi.json": {"get": operation("This document", _responses(json_body(obj({}), "OpenAPI 3.0")))},
    }


def error_responses() -> JsonObject:
    return {
        "400": json_body(
            {"anyOf": [ref("InvalidJson"), ref("Message")]},
            "Malformed JSON, a body of the wrong shape, or conflicting flags",
        ),
        "404": json_body(ref("Message"), "No such app, task, version, deployment or group"),
        "405": json_body(ref("Message"), "Method not allowed"),
        "409": json_body(ref("Conflict"), "Exists already, or locked by a deployment"),
        "422": json_body(ref("ValidationFailure"), "Invalid: every problem with its path"),
    }


def openapi_document(version: str) -> JsonObject:
    """The whole document; `version` is the Marathon version the server reports."""
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Corral Marathon v2 REST API",
            "version": version,
            "description": DESCRIPTION,
        },
        "paths": {**app_paths(), **group_paths(), **other_paths()},
        "components": {
            "schemas": {**app_schemas(), **other_schemas()},
            "responses": error_responses(),
        },
    }
