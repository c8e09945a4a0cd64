"""`--acls`: parsing with errors that name the field, and upstream's local-authorizer semantics (Mesos
`docs/authorization.md`, `src/authorizer/local/authorizer.cpp`'s match and allow matrices), except that
`permissive` defaults to false once ACLs are given."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corral.core.errors import DecodeError
from corral.core.ids import AgentId, ExecutorId, TaskId
from corral.core.resources import Resources
from corral.protocol.json import JsonObject, JsonValue, dumps
from corral.protocol.mesos import CommandInfo, ExecutorInfo, FrameworkInfo, TaskInfo
from corral.security.acls import (
    Action,
    Authorizer,
    command_user,
    endpoint_path,
    executor_user,
    parse_acls,
    task_user,
)

ANY: JsonObject = {"type": "ANY"}
NONE: JsonObject = {"type": "NONE"}


def values(*names: str) -> JsonObject:
    return {"values": list(names)}


def authorizer(acls: JsonObject) -> Authorizer:
    return Authorizer(parse_acls(dumps(acls).decode()))


# ---------------------------------------------------------------- parsing


def test_a_full_acls_document_parses() -> None:
    acls = parse_acls(
        dumps(
            {
                "permissive": True,
                "register_frameworks": [{"principals": values("marathon"), "roles": values("web", "eng/%")}],
                "run_tasks": [{"principals": ANY, "users": values("nobody")}],
                "teardown_frameworks": [{"principals": values("ops"), "framework_principals": ANY}],
                "view_frameworks": [{"principals": ANY, "users": ANY}],
                "get_endpoints": [{"principals": values("ops"), "paths": values("/metrics/snapshot")}],
                "view_flags": [{"principals": NONE, "flags": ANY}],
            }
        ).decode()
    )
    assert acls.permissive is True
    assert len(acls.rules[Action.REGISTER_FRAMEWORKS]) == 2  # `eng/%` became a rule of its own
    assert set(acls.rules) == {
        Action.REGISTER_FRAMEWORKS,
        Action.RUN_TASKS,
        Action.TEARDOWN_FRAMEWORKS,
        Action.VIEW_FRAMEWORKS,
        Action.GET_ENDPOINTS,
        Action.VIEW_FLAGS,
    }


@pytest.mark.parametrize(
    ("acls", "field", "problem"),
    [
        ('["run_tasks"]', "", "expected an object"),
        ("{", "", "malformed JSON"),
        ('{"permissive": "yes"}', "permissive", ""),
        ('{"regster_frameworks": []}', "regster_frameworks", "not an action Corral enforces"),
        ('{"reserve_resources": []}', "reserve_resources", "not an action Corral enforces"),
        ('{"run_tasks": {}}', "run_tasks", "expected an array"),
        ('{"run_tasks": [{"users": {"type": "ANY"}}]}', "run_tasks[0].principals", "required"),
        ('{"run_tasks": [{"principals": {"type": "ANY"}}]}', "run_tasks[0].users", "required"),
        (
            '{"run_tasks": [{"principals": {"type": "ANY"}, "roles": {}, "users": {"type": "ANY"}}]}',
            "run_tasks[0].roles",
            "unknown field",
        ),
        (
            '{"run_tasks": [{"principals": {"values": []}, "users": {"type": "ANY"}}]}',
            "run_tasks[0].principals",
            "",
        ),
        (
            '{"run_tasks": [{"principals": {"type": "admin"}, "users": {"type": "ANY"}}]}',
            "principals.type",
            "admin",
        ),
        (
            '{"run_tasks": [{"principals": {"type": "ANY", "values": ["a"]}, "users": {"type": "ANY"}}]}',
            "run_tasks[0].principals.values",
            "must not be given",
        ),
        ('{"run_tasks": [{"principals": {"values": [1]}, "users": {"type": "ANY"}}]}', "values[0]", "string"),
        (
            '{"get_endpoints": [{"principals": {"type": "ANY"}, "paths": {"values": ["/state"]}}]}',
            "get_endpoints[0].paths",
            "not an authorizable endpoint",
        ),
        (
            '{"view_flags": [{"principals": {"type": "ANY"}, "flags": {"values": ["x"]}}]}',
            "view_flags[0].flags",
            "ANY",
        ),
    ],
)
def test_a_bad_acls_document_is_refused_naming_the_field(acls: str, field: str, problem: str) -> None:
    with pytest.raises(DecodeError) as raised:
        parse_acls(acls)
    assert raised.value.path.endswith(field)
    assert problem in str(raised.value)


# ---------------------------------------------------------------- upstream's examples (docs/authorization.md)


def test_without_acls_everything_is_allowed() -> None:
    assert Authorizer().allowed(Action.RUN_TASKS, None, "root")
    assert not Authorizer().is_enabled


def test_given_acls_deny_what_no_rule_matches_unless_permissive() -> None:
    rules: JsonObject = {"run_tasks": [{"principals": values("foo"), "users": values("guest")}]}
    assert not authorizer(rules).allowed(Action.RUN_TASKS, "bar", "guest")  # Corral: permissive is false
    assert not authorizer(rules).allowed(Action.REGISTER_FRAMEWORKS, "foo", "*")  # no rule at all
    assert authorizer({**rules, "permissive": True}).allowed(Action.RUN_TASKS, "bar", "guest")


def test_principals_run_tasks_only_as_guest_or_bar() -> None:
    acls = authorizer({"run_tasks": [{"principals": ANY, "users": values("guest", "bar")}]})
    assert acls.allowed(Action.RUN_TASKS, "anyone", "guest")
    assert acls.allowed(Action.RUN_TASKS, None, "bar")  # ANY principals cover unauthenticated requests
    assert not acls.allowed(Action.RUN_TASKS, "anyone", "root")


def test_foo_runs_only_as_guest_and_everyone_else_as_anyone() -> None:
    acls = authorizer(
        {
            "permissive": True,
            "run_tasks": [
                {"principals": values("foo"), "users": values("guest")},
                {"principals": values("foo"), "users": NONE},
            ],
        }
    )
    assert acls.allowed(Action.RUN_TASKS, "foo", "guest")
    assert not acls.allowed(Action.RUN_TASKS, "foo", "root")
    assert acls.allowed(Action.RUN_TASKS, "bar", "root")
    assert acls.allowed(Action.RUN_TASKS, None, "root")


def test_nobody_runs_as_root() -> None:
    acls = authorizer({"permissive": True, "run_tasks": [{"principals": NONE, "users": values("root")}]})
    assert not acls.allowed(Action.RUN_TASKS, "foo", "root")
    assert not acls.allowed(Action.RUN_TASKS, None, "root")
    assert acls.allowed(Action.RUN_TASKS, "foo", "nobody")


def test_rule_order_decides_teardown() -> None:
    deny_first: list[JsonValue] = [
        {"principals": NONE, "framework_principals": ANY},
        {"principals": values("admin"), "framework_principals": ANY},
    ]
    assert not authorizer({"teardown_frameworks": deny_first}).allowed(
        Action.TEARDOWN_FRAMEWORKS, "admin", "fw"
    )
    allow_first = deny_first[::-1]
    acls = authorizer({"teardown_frameworks": allow_first})
    assert acls.allowed(Action.TEARDOWN_FRAMEWORKS, "admin", "fw")
    assert not acls.allowed(Action.TEARDOWN_FRAMEWORKS, "ops", "fw")


def test_a_request_without_an_object_matches_only_any_or_none_objects() -> None:
    acls = authorizer(
        {"teardown_frameworks": [{"principals": values("ops"), "framework_principals": values("a")}]}
    )
    assert acls.allowed(Action.TEARDOWN_FRAMEWORKS, "ops", "a")
    assert not acls.allowed(Action.TEARDOWN_FRAMEWORKS, "ops", None)  # a framework without a principal


def test_a_role_subtree_rule_covers_the_roles_below_it_only() -> None:
    acls = authorizer(
        {"register_frameworks": [{"principals": values("eng"), "roles": values("eng/%", "ops")}]}
    )
    assert acls.allowed(Action.REGISTER_FRAMEWORKS, "eng", "eng/web")
    assert acls.allowed(Action.REGISTER_FRAMEWORKS, "eng", "eng/web/a")
    assert acls.allowed(Action.REGISTER_FRAMEWORKS, "eng", "ops")
    assert not acls.allowed(Action.REGISTER_FRAMEWORKS, "eng", "eng")
    assert not acls.allowed(Action.REGISTER_FRAMEWORKS, "eng", "engineering")
    assert not acls.allowed(Action.REGISTER_FRAMEWORKS, "ops", "eng/web")
    assert acls.allowed_all(Action.REGISTER_FRAMEWORKS, "eng", ["eng/a", "ops"])
    assert not acls.allowed_all(Action.REGISTER_FRAMEWORKS, "eng", ["eng/a", "*"])


def test_refusal_names_who_and_what() -> None:
    acls = authorizer({"run_tasks": [{"principals": ANY, "users": values("nobody")}]})
    assert acls.refusal(Action.RUN_TASKS, "web", "nobody") is None
    assert (
        acls.refusal(Action.RUN_TASKS, "web", "root")
        == "Not authorized: principal 'web' may not run_tasks of 'root'"
    )
    assert acls.refusal(Action.VIEW_FLAGS, None, None) == (
        "Not authorized: an unauthenticated request may not view_flags"
    )


# ---------------------------------------------------------------- properties

NAMES = st.sampled_from(["a", "b", "c", "root", "nobody"])
PRINCIPALS = st.none() | NAMES
ENTITIES = st.one_of(
    st.just(ANY), st.just(NONE), st.lists(NAMES, min_size=1, max_size=3).map(lambda v: values(*v))
)
RULES = st.lists(st.fixed_dictionaries({"principals": ENTITIES, "users": ENTITIES}), max_size=5)


def _reference(rules: list[JsonObject], permissive: bool, principal: str | None, user: str | None) -> bool:
    """Upstream's matrices spelled out as tables, one rule at a time: the first match decides."""

    def kind(entity: JsonObject) -> str:
        return str(entity.get("type", "SOME"))

    def subset(value: str | None, entity: JsonObject) -> bool:
        listed = entity.get("values")
        return value is not None and isinstance(listed, list) and value in listed

    def matches(value: str | None, entity: JsonObject) -> bool:
        table = {("SOME", "ANY"): True, ("SOME", "NONE"): True, ("ANY", "ANY"): True, ("ANY", "NONE"): True}
        request = "ANY" if value is None else "SOME"
        if (request, kind(entity)) == ("SOME", "SOME"):
            return subset(value, entity)
        return table.get((request, kind(entity)), False)

    def allows(value: str | None, entity: JsonObject) -> bool:
        request = "ANY" if value is None else "SOME"
        if (request, kind(entity)) == ("SOME", "SOME"):
            return subset(value, entity)
        return kind(entity) == "ANY"

    for rule in rules:
        who, what = rule["principals"], rule["users"]
        assert isinstance(who, dict) and isinstance(what, dict)
        if matches(principal, who) and matches(user, what):
            return allows(principal, who) and allows(user, what)
    return permissive


@given(rules=RULES, permissive=st.booleans(), principal=PRINCIPALS, user=st.none() | NAMES)
def test_the_authorizer_agrees_with_upstreams_matrices(
    rules: list[JsonObject], permissive: bool, principal: str | None, user: str | None
) -> None:
    acls = authorizer({"permissive": permissive, "run_tasks": list(rules)})
    assert acls.allowed(Action.RUN_TASKS, principal, user) == _reference(rules, permissive, principal, user)


@given(rules=RULES, principal=PRINCIPALS, user=st.none() | NAMES)
def test_with_no_rule_for_the_action_and_no_permissive_everything_is_denied(
    rules: list[JsonObject], principal: str | None, user: str | None
) -> None:
    acls = authorizer({"run_tasks": list(rules)})  # rules for another action only
    assert not acls.allowed(Action.VIEW_TASKS, principal, user)


@given(rules=RULES, principal=PRINCIPALS, user=st.none() | NAMES)
def test_a_first_rule_of_any_principal_and_any_user_allows_everyone(
    rules: list[JsonObject], principal: str | None, user: str | None
) -> None:
    acls = authorizer({"run_tasks": [{"principals": ANY, "users": ANY}, *rules]})
    assert acls.allowed(Action.RUN_TASKS, principal, user)


@given(rules=RULES, principal=PRINCIPALS, user=st.none() | NAMES)
def test_the_first_matching_rule_wins_over_any_later_one(
    rules: list[JsonObject], principal: str | None, user: str | None
) -> None:
    deny_everyone: JsonObject = {"principals": NONE, "users": ANY}
    assert not authorizer({"permissive": True, "run_tasks": [deny_everyone, *rules]}).allowed(
        Action.RUN_TASKS, principal, user
    )


@given(principal=NAMES, user=NAMES, others=st.lists(NAMES, max_size=3))
def test_a_rule_naming_the_principal_and_the_user_allows_exactly_them(
    principal: str, user: str, others: list[str]
) -> None:
    acls = authorizer({"run_tasks": [{"principals": values(principal), "users": values(user)}]})
    assert acls.allowed(Action.RUN_TASKS, principal, user)
    for other in others:
        assert acls.allowed(Action.RUN_TASKS, other, user) == (other == principal)
        assert acls.allowed(Action.RUN_TASKS, principal, other) == (other == user)


# ---------------------------------------------------------------- objects


FRAMEWORK = FrameworkInfo(user="alice", name="fw")


def _task(command: CommandInfo | None, executor: ExecutorInfo | None = None) -> TaskInfo:
    resources = Resources.of(cpus=1)
    return TaskInfo(
        name="t",
        task_id=TaskId("t"),
        agent_id=AgentId("a"),
        resources=resources,
        command=command,
        executor=executor,
    )


def test_a_task_runs_as_its_commands_user_else_its_executors_else_the_frameworks() -> None:
    executor = ExecutorInfo(executor_id=ExecutorId("e"), command=CommandInfo(value="./x", user="carol"))
    assert task_user(FRAMEWORK, _task(CommandInfo(value="true", user="bob"))) == "bob"
    assert task_user(FRAMEWORK, _task(CommandInfo(value="true"))) == "alice"
    assert task_user(FRAMEWORK, _task(None, executor)) == "carol"
    assert executor_user(FRAMEWORK, executor) == "carol"
    assert command_user(FRAMEWORK, None) == "alice"


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/metrics/snapshot", "/metrics/snapshot"),
        ("/slave(1)/monitor/statistics", "/monitor/statistics"),
        ("/monitor/statistics.json", "/monitor/statistics.json"),
        ("/files/debug", "/files/debug"),
        ("/master/state", None),
        ("/files/read", None),
        ("/slave(1)/state", None),
    ],
)
def test_endpoint_paths_are_upstreams_authorizable_ones(path: str, endpoint: str | None) -> None:
    assert endpoint_path(path) == endpoint


def test_register_agents_takes_only_any_or_none_and_denies_unlisted_principals() -> None:
    authorizer = Authorizer(
        parse_acls('{"register_agents": [{"principals": {"values": ["agent"]}, "agents": {"type": "ANY"}}]}')
    )
    assert authorizer.allowed(Action.REGISTER_AGENTS, "agent", None)
    assert not authorizer.allowed(Action.REGISTER_AGENTS, "viewer", None)
    assert not authorizer.allowed(Action.REGISTER_AGENTS, None, None)
    with pytest.raises(DecodeError, match=r"register_agents\[0\].agents"):
        parse_acls('{"register_agents": [{"principals": {"type": "ANY"}, "agents": {"values": ["a"]}}]}')
