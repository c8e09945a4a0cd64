"""Groups (marathon.md a.2 `/v2/groups`, c.1; upstream `UpdateGroupStructureOp`, `RootGroup`): documents with
relative ids, their 422 paths, structural updates, implicit groups, `scaleBy`, dependency order, JSON."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from corral.marathon.deployment import dependency_depths, has_dependency_cycle, plan_deployment
from corral.marathon.errors import INVALID_JSON, OBJECT_NOT_VALID, ValidationError
from corral.marathon.groups import (
    APPS_AND_GROUPS_CLASH,
    CYCLIC_DEPENDENCIES,
    EMBED_GROUPS,
    ONLY_WITH_ID,
    Group,
    GroupTable,
    apply_update,
    build_tree,
    decode_group_update,
    definition_json,
    encode_group,
    remove_group,
    scale_group,
    snapshot_group,
    snapshot_json,
    table_of,
    tree_violations,
)
from corral.marathon.model import AppDefinition
from corral.marathon.paths import ROOT, PathId

from .scheduling_fixtures import V1, make_app

P = PathId.parse


def app(app_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": app_id, "cmd": "sleep 1000", "cpus": 0.1, "mem": 16, **fields}


PROD: dict[str, Any] = {
    "id": "prod",
    "groups": [
        {"id": "db", "apps": [app("store", instances=1)]},
        {"id": "web", "dependencies": ["../db"], "apps": [app("server", instances=2)]},
    ],
}


def apps_of(*defs: AppDefinition) -> dict[PathId, AppDefinition]:
    return {a.id: a for a in defs}


def violations(body: Any, base: str = "/") -> tuple[str, dict[str, list[str]]]:
    with pytest.raises(ValidationError) as e:
        decode_group_update(body, P(base))
    details: Any = e.value.body()["details"]
    return e.value.message, {d["path"]: d["errors"] for d in details}


# ---------------------------------------------------------------- reading documents


def test_ids_resolve_against_the_enclosing_group_and_group_dependencies_against_the_group() -> None:
    update = decode_group_update(PROD, ROOT)
    assert update.id == P("/prod") and update.apps is None
    assert update.groups is not None
    db, web = update.groups
    assert (db.id, web.id) == (P("/prod/db"), P("/prod/web"))
    assert web.dependencies == (P("/prod/db"),)  # "../db" from /prod/web
    assert [a.id for a in web.apps or ()] == [P("/prod/web/server")]
    app_dep = decode_group_update({"apps": [app("web", dependencies=["db"])]}, P("/prod"))
    assert [a.dependencies for a in app_dep.apps or ()] == [(P("/prod/db"),)]  # an app's: from its group


def test_a_nested_app_outside_its_group_is_reported_at_its_path() -> None:
    body: Any = {"id": "/prod", "groups": [{"id": "db", "apps": [app("store"), app("/elsewhere/x")]}]}
    message, details = violations(body)
    assert message == OBJECT_NOT_VALID
    assert details == {
        "/groups(0)/apps(1)/id": ["Identifier is not child of /prod/db. Hint: use relative paths."]
    }


def test_a_nested_group_outside_its_parent_is_refused() -> None:
    _, details = violations({"id": "/prod", "groups": [{"id": "/other/db"}]})
    assert details == {"/groups(0)/id": ["Identifier is not child of /prod. Hint: use relative paths."]}


def test_json_type_errors_anywhere_are_one_invalid_json_answer() -> None:
    body = {"id": "/prod", "groups": [{"id": "db", "apps": [app("store", cpus="lots")]}], "dependencies": 3}
    message, details = violations(body)
    assert message == INVALID_JSON
    assert details == {
        "/dependencies": ["error.expected.jsarray"],
        "/groups(0)/apps(0)/cpus": ["error.expected.jsnumber"],
    }
    assert violations({"groups": [{"apps": []}]})[1] == {"/groups(0)/id": ["error.path.missing"]}
    assert violations([1])[1] == {"/": ["error.expected.jsobject"]}


def test_an_invalid_app_keeps_its_own_messages_under_its_path() -> None:
    _, details = violations({"id": "/prod", "apps": [app("ok"), {"id": "bad"}]})
    assert details == {
        "/apps(1)": ["AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'."]
    }


def test_scale_by_and_version_come_only_with_an_id() -> None:
    assert decode_group_update({"id": "/prod", "scaleBy": 1.5}, ROOT).scale_by == 1.5
    assert decode_group_update({"version": V1}, P("/prod")).version == V1
    _, details = violations({"scaleBy": 2, "apps": []}, "/prod")
    assert details == {"/scaleBy": [ONLY_WITH_ID]}
    assert violations({"scaleBy": -1}, "/prod")[1] == {"/scaleBy": ["error.min"]}


def test_reserved_and_malformed_group_ids_are_refused() -> None:
    assert "/id" in violations({"id": "/prod/versions"})[1]
    assert violations({"id": "Bad_Id"})[1] == {"/id": ["error.pattern"]}


# ---------------------------------------------------------------- changing the tree


def current() -> Group:
    return apply_update(Group(id=ROOT), decode_group_update(PROD, ROOT))


def test_a_structural_update_replaces_what_it_names_and_keeps_the_rest() -> None:
    change: Any = {"id": "/prod", "groups": [{"id": "web", "apps": [app("server", instances=5)]}]}
    after = apply_update(current(), decode_group_update(change, ROOT))
    assert after.find(P("/prod/db")) is None  # left out: removed with its apps
    web = after.find(P("/prod/web"))
    assert web is not None and web.dependencies == (P("/prod/db"),)  # not named: kept
    assert {k: a.instances for k, a in after.transitive_apps().items()} == {P("/prod/web/server"): 5}


def test_updating_a_missing_group_makes_it_and_the_groups_on_its_way() -> None:
    after = apply_update(current(), decode_group_update({"apps": [app("x")]}, P("/a/b")))
    assert after.find(P("/a")) is not None and P("/a/b/x") in after.transitive_apps()
    assert after.find(P("/prod/db")) is not None


def test_scale_by_multiplies_every_app_and_rounds_up() -> None:
    after = scale_group(current(), P("/prod"), 1.5)
    instances = {str(k): a.instances for k, a in after.transitive_apps().items()}
    assert instances == {"/prod/db/store": 2, "/prod/web/server": 3}  # ceil(1.5), ceil(3.0)


def test_removing_a_group_removes_everything_in_it() -> None:
    after = remove_group(current(), P("/prod/web"))
    assert list(after.transitive_apps()) == [P("/prod/db/store")]
    assert remove_group(after, P("/nothing")) == after


# ---------------------------------------------------------------- implicit groups and the table


def test_apps_posted_with_nested_ids_make_their_groups_which_outlive_them() -> None:
    apps = apps_of(make_app("/prod/web/app"), make_app("/top"))
    table = GroupTable().with_apps(apps, apps)
    assert set(table.dependencies) == {ROOT, P("/prod"), P("/prod/web")}
    tree = build_tree(apps, table)
    web = tree.find(P("/prod/web"))
    assert web is not None and list(web.apps) == [P("/prod/web/app")] and list(tree.apps) == [P("/top")]
    emptied = build_tree({}, table)
    assert emptied.find(P("/prod/web")) == Group(id=P("/prod/web"))


def test_an_app_replaces_an_empty_group_at_its_id_but_not_a_busy_one() -> None:
    table = GroupTable(dependencies={ROOT: (), P("/prod"): (), P("/prod/web"): ()})
    apps = apps_of(make_app("/prod/web"))
    replaced = table.with_apps(apps, apps)
    assert P("/prod/web") not in replaced and tree_violations(apps, replaced) == []
    busy = apps_of(make_app("/prod"), make_app("/prod/web"))
    assert [v.error for v in tree_violations(busy, table.with_apps(busy, [P("/prod")]))] == [
        APPS_AND_GROUPS_CLASH
    ]


def test_dependency_cycles_through_groups_are_refused() -> None:
    apps = apps_of(make_app("/a/x"), make_app("/b/y", dependencies=["/a"]))
    table = GroupTable(dependencies={ROOT: (), P("/a"): (P("/b"),), P("/b"): ()})
    assert [v.error for v in tree_violations(apps, table)] == [CYCLIC_DEPENDENCIES]
    assert tree_violations(apps, GroupTable().with_apps(apps, apps)) == []


def test_group_dependencies_order_the_deployment() -> None:
    target = current()
    table = table_of(target, V1)
    plan = plan_deployment(
        {}, target.transitive_apps(), deployment_id="d", version=V1, group_dependencies=table.dependencies
    )
    steps = [[(a.kind.value, str(a.app_id)) for a in s.actions] for s in plan.steps]
    assert steps == [
        [("StartApplication", "/prod/db/store"), ("StartApplication", "/prod/web/server")],
        [("ScaleApplication", "/prod/db/store")],
        [("ScaleApplication", "/prod/web/server")],
    ]


def test_a_long_dependency_chain_is_ordered_without_recursion() -> None:
    base = make_app("/a")
    chain = apps_of(*(replace(base, id=P(f"/a{i}"), dependencies=(P(f"/a{i + 1}"),)) for i in range(2000)))
    depths = dependency_depths(chain)
    assert (depths[P("/a1999")], depths[P("/a0")]) == (0, 1999) and not has_dependency_cycle(chain)


# ---------------------------------------------------------------- JSON


def test_group_json_nests_and_embeds_as_asked() -> None:
    body: Any = encode_group(current(), app_json=definition_json, version=V1)
    assert list(body) == ["id", "dependencies", "version", "apps", "groups", "pods"]
    [prod] = body["groups"]
    web = prod["groups"][1]
    assert web["id"] == "/prod/web" and web["dependencies"] == ["/prod/db"]
    assert web["apps"][0]["id"] == "/prod/web/server" and web["version"] == V1
    only_groups = encode_group(current(), app_json=definition_json, embed=frozenset({EMBED_GROUPS}))
    assert "apps" not in only_groups and "pods" not in only_groups and "version" not in only_groups


def test_a_snapshot_reads_back_as_the_same_group() -> None:
    prod = current().find(P("/prod"))
    assert prod is not None
    assert snapshot_group(snapshot_json(prod)) == prod
    assert snapshot_group(snapshot_json(current())) == current()
