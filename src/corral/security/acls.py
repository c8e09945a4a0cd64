"""Authorization by upstream's local-authorizer ACLs (`--acls`, Mesos `docs/authorization.md`).

`--acls` is a JSON object: an optional `permissive` flag and, per action, a list of rules
`{"principals": ENTITY, "<object>": ENTITY}`, where an ENTITY is `{"values": ["a", "b"]}` or
`{"type": "ANY"}` / `{"type": "NONE"}`. The object field is named per action (`ACTIONS`): `roles`,
`users`, `framework_principals`, `paths`, `flags` or `agents`.

Rule 1 (first match): an action's rules are tried in order; the first rule whose principals and object
both *match* the request decides, and allows it only if both also *allow* it. A request without a principal
(unauthenticated) or without an object is the ANY entity; one with a value is SOME:

    matches        ACL SOME   NONE  ANY          allows         ACL SOME   NONE  ANY
    request SOME   subset     yes   yes          request SOME   subset     no    yes
    request ANY    no         yes   yes          request ANY    no         no    yes

Rule 2 (deny by default): when no rule matches, the answer is `permissive`. **Unlike upstream, whose default
is true, `permissive` defaults to false once `--acls` is given** (issue 10: secure by default). Without
`--acls` there is no authorizer and everything is allowed, as upstream.
Rule 3 (role hierarchy): for role objects a value ending in `/%` (`eng/%`) matches every role below it
(`eng/web`, `eng/web/a`), as upstream's hierarchical role ACLs do.
Rule 4: an action Corral does not enforce, a misspelled one, or a malformed entity is a start-up error
naming the field: a rule silently ignored would allow what the operator meant to forbid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from corral.core.errors import DecodeError
from corral.protocol.json import JsonValue, Reader, loads
from corral.protocol.mesos import CommandInfo, ExecutorInfo, FrameworkInfo, TaskInfo


class Action(StrEnum):
    REGISTER_FRAMEWORKS = "register_frameworks"  # principal -> the roles a framework subscribes to
    RUN_TASKS = "run_tasks"  # framework principal -> the UNIX user a task runs as
    TEARDOWN_FRAMEWORKS = "teardown_frameworks"  # operator -> the principal of the framework torn down
    VIEW_FRAMEWORKS = "view_frameworks"  # HTTP user -> the framework's UNIX user
    VIEW_TASKS = "view_tasks"  # HTTP user -> the task's UNIX user
    VIEW_EXECUTORS = "view_executors"  # HTTP user -> the executor's UNIX user
    ACCESS_SANDBOXES = "access_sandboxes"  # HTTP user -> the UNIX user of the sandbox's executor
    GET_ENDPOINTS = "get_endpoints"  # HTTP user -> an endpoint path (`AUTHORIZABLE_ENDPOINTS`)
    VIEW_FLAGS = "view_flags"  # HTTP user -> the flags (ANY or NONE only)
    UPDATE_WEIGHTS = "update_weights"  # operator -> role
    UPDATE_QUOTAS = "update_quotas"  # operator -> role
    GET_QUOTAS = "get_quotas"  # operator -> role
    REGISTER_AGENTS = "register_agents"  # agent principal -> (ANY or NONE)


# The name of each action's object field, as upstream's `acls.proto` spells it.
ACTIONS: Mapping[Action, str] = {
    Action.REGISTER_FRAMEWORKS: "roles",
    Action.RUN_TASKS: "users",
    Action.TEARDOWN_FRAMEWORKS: "framework_principals",
    Action.VIEW_FRAMEWORKS: "users",
    Action.VIEW_TASKS: "users",
    Action.VIEW_EXECUTORS: "users",
    Action.ACCESS_SANDBOXES: "users",
    Action.GET_ENDPOINTS: "paths",
    Action.VIEW_FLAGS: "flags",
    Action.UPDATE_WEIGHTS: "roles",
    Action.UPDATE_QUOTAS: "roles",
    Action.GET_QUOTAS: "roles",
    Action.REGISTER_AGENTS: "agents",
}
_ROLE_ACTIONS = frozenset(a for a, name in ACTIONS.items() if name == "roles")
_TYPE_ONLY = frozenset({Action.VIEW_FLAGS, Action.REGISTER_AGENTS})  # objects that can only be ANY or NONE

# The endpoints `get_endpoints` guards (upstream's AUTHORIZABLE_ENDPOINTS; Corral serves the last four).
AUTHORIZABLE_ENDPOINTS = frozenset(
    {
        "/containers",
        "/logging/toggle",
        "/files/debug",
        "/files/debug.json",
        "/metrics/snapshot",
        "/monitor/statistics",
        "/monitor/statistics.json",
    }
)


class Kind(StrEnum):
    SOME = "SOME"
    ANY = "ANY"
    NONE = "NONE"


@dataclass(frozen=True, slots=True)
class Entity:
    kind: Kind
    values: frozenset[str] = frozenset()

    @staticmethod
    def of(value: str | None) -> Entity:
        """A request's subject or object: SOME(value), or ANY when there is none."""
        return Entity(Kind.ANY) if value is None else Entity(Kind.SOME, frozenset({value}))

    def matches(self, acl: Entity) -> bool:
        if acl.kind is not Kind.SOME:
            return True
        return self.kind is Kind.SOME and self.values <= acl.values

    def is_allowed_by(self, acl: Entity) -> bool:
        if acl.kind is Kind.ANY:
            return True
        return acl.kind is Kind.SOME and self.kind is Kind.SOME and self.values <= acl.values


@dataclass(frozen=True, slots=True)
class Rule:
    principals: Entity
    objects: Entity
    # A role rule `eng/%`: its object matches every role under `eng/` (rule 3), and then counts as ANY.
    subtree: str | None = None

    def decides(self, subject: Entity, obj: Entity) -> bool | None:
        """Allowed or not if this rule matches the request; None if it does not match."""
        objects = self.objects
        if self.subtree is not None:
            if not (obj.kind is Kind.SOME and all(v.startswith(self.subtree) for v in obj.values)):
                return None
            objects = Entity(Kind.ANY)
        if not (subject.matches(self.principals) and obj.matches(objects)):
            return None
        return subject.is_allowed_by(self.principals) and obj.is_allowed_by(objects)


@dataclass(frozen=True, slots=True)
class Acls:
    permissive: bool = False
    rules: Mapping[Action, tuple[Rule, ...]] = field(default_factory=dict)


# ---------------------------------------------------------------- parsing `--acls`


def parse_acls(text: str) -> Acls:
    """`--acls`'s JSON. Raises DecodeError naming the offending field (`run_tasks[1].users`)."""
    return acls_from_json(loads(text))


def acls_from_json(value: JsonValue) -> Acls:
    r = Reader(value)
    rules: dict[Action, tuple[Rule, ...]] = {}
    for key in r.obj:
        if key == "permissive":
            continue
        try:
            action = Action(key)
        except ValueError:
            supported = ", ".join(sorted(ACTIONS))
            raise DecodeError(
                key, f"not an action Corral enforces (supported: permissive, {supported})"
            ) from None
        rules[action] = tuple(rule for item in r.objs(key) for rule in _rules(action, item))
    return Acls(permissive=r.flag("permissive", False), rules=rules)


def _rules(action: Action, r: Reader) -> list[Rule]:
    object_field = ACTIONS[action]
    for key in r.obj:
        if key not in ("principals", object_field):
            raise DecodeError(
                f"{r.path}.{key}", f"unknown field (a {action} rule has principals, {object_field})"
            )
    principals = _entity(r, "principals")
    objects = _entity(r, object_field)
    path = f"{r.path}.{object_field}"
    if action in _TYPE_ONLY and objects.kind is Kind.SOME:
        raise DecodeError(path, "must be {'type': 'ANY'} or {'type': 'NONE'}")
    if action is Action.GET_ENDPOINTS and (unknown := objects.values - AUTHORIZABLE_ENDPOINTS):
        allowed = ", ".join(sorted(AUTHORIZABLE_ENDPOINTS))
        raise DecodeError(path, f"{sorted(unknown)[0]!r} is not an authorizable endpoint ({allowed})")
    if action not in _ROLE_ACTIONS:
        return [Rule(principals, objects)]
    # Rule 3: each `x/%` value becomes a rule of its own, in place; the plain values stay together.
    out = [
        Rule(principals, Entity(Kind.ANY), subtree=v[:-1]) for v in sorted(objects.values) if v.endswith("/%")
    ]
    plain = frozenset(v for v in objects.values if not v.endswith("/%"))
    if plain or objects.kind is not Kind.SOME:
        out.append(Rule(principals, Entity(objects.kind, plain)))
    return out


def _entity(r: Reader, key: str) -> Entity:
    child = r.child(key)
    for name in child.obj:
        if name not in ("type", "values"):
            raise DecodeError(f"{child.path}.{name}", "unknown field (an entity has type or values)")
    kind_name = child.opt_text("type") or Kind.SOME.value
    try:
        kind = Kind(kind_name)
    except ValueError:
        raise DecodeError(f"{child.path}.type", f"{kind_name!r} is not ANY, NONE or SOME") from None
    values = frozenset(child.strs("values"))
    if kind is Kind.SOME and not values:
        raise DecodeError(child.path, "expected {'values': [...]} (not empty) or {'type': 'ANY'|'NONE'}")
    if kind is not Kind.SOME and values:
        raise DecodeError(f"{child.path}.values", f"must not be given with type {kind}")
    return Entity(kind, values)


# ---------------------------------------------------------------- deciding


class Authorizer:
    """Answers "may `principal` perform `action` on `obj`?" from `--acls` (None: no ACLs, all allowed)."""

    def __init__(self, acls: Acls | None = None) -> None:
        self.acls = acls

    @property
    def is_enabled(self) -> bool:
        return self.acls is not None

    def allowed(self, action: Action, principal: str | None, obj: str | None) -> bool:
        """`obj` None asks about every object (the ANY entity), as upstream's requests without one."""
        if self.acls is None:
            return True
        subject, target = Entity.of(principal), Entity.of(obj)
        for rule in self.acls.rules.get(action, ()):
            if (decision := rule.decides(subject, target)) is not None:
                return decision
        return self.acls.permissive

    def refusal(self, action: Action, principal: str | None, obj: str | None) -> str | None:
        """Why the request is refused (the text of a 403), or None if it is allowed."""
        if self.allowed(action, principal, obj):
            return None
        who = f"principal '{principal}'" if principal is not None else "an unauthenticated request"
        return f"Not authorized: {who} may not {action}" + (f" of '{obj}'" if obj is not None else "")

    def allowed_all(self, action: Action, principal: str | None, objects: Iterable[str]) -> bool:
        """Every one of `objects` (a framework's roles, say) is allowed; upstream asks one role at a time."""
        return all(self.allowed(action, principal, o) for o in objects)


# ---------------------------------------------------------------- the UNIX user of a task or executor


def command_user(framework: FrameworkInfo, command: CommandInfo | None) -> str:
    """The user a command runs as: its own `user`, else the framework's (`FrameworkInfo.user`)."""
    return command.user if command is not None and command.user else framework.user


def task_user(framework: FrameworkInfo, task: TaskInfo) -> str:
    """The user a task runs as (run_tasks's and view_tasks's object): its command's user, else its
    executor's, else the framework's."""
    if task.command is not None and task.command.user:
        return task.command.user
    return command_user(framework, task.executor.command if task.executor is not None else None)


def executor_user(framework: FrameworkInfo, executor: ExecutorInfo) -> str:
    """view_executors's and access_sandboxes's object."""
    return command_user(framework, executor.command)


def endpoint_path(path: str) -> str | None:
    """The get_endpoints object a request path names, if it is authorizable: `/slave(1)/monitor/statistics`
    and `/master/...` spellings name the same endpoint as the bare path."""
    parts = path.split("/", 2)
    if len(parts) == 3 and (
        parts[1] == "master" or (parts[1].startswith("slave(") and parts[1].endswith(")"))
    ):
        path = "/" + parts[2]
    return path if path in AUTHORIZABLE_ENDPOINTS else None
