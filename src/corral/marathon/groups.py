"""Marathon's groups (marathon.md a.2 `/v2/groups`, c.1): the tree of apps, how a group document changes it,
and its JSON.

The runtime keeps apps flat (by id) and a `GroupTable`: every group that exists, root included, with its
dependencies and the one version all groups carry (upstream's `RootGroup.putGroup` re-versions the whole
tree on every change). The table is closed under parents: each group's parent is in it, and `with_apps`
adds the groups of new apps (upstream's implicit groups, `mkdir -p`), which stay when their apps go.
`build_tree` joins apps and table into `Group`s; a change is computed on the tree and flattened back.

Ids in a group document (upstream `UpdateGroupStructureOp`): a nested group's id resolves against its
parent group, an app's id and dependencies against the group holding it, a group's dependencies against
the group itself (in `/prod/web`, `../db` is `/prod/db`). A nested app or group must sit directly in its
group. A structural update replaces what it names: `apps` the group's own apps, `groups` its subgroups
(one named again is updated the same way, one left out is removed with everything in it), `dependencies`
its dependencies; what it leaves out is kept. `scaleBy` and `version` may come only with `id`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from corral.marathon.config import ValidationContext
from corral.marathon.deployment import has_dependency_cycle
from corral.marathon.errors import INVALID_JSON, OBJECT_NOT_VALID, ValidationError, Violation
from corral.marathon.model import AppDefinition
from corral.marathon.paths import RAML_PATTERN, ROOT, PathId, child_problems, resolve, segment_problems
from corral.marathon.reader import Fields, index_path
from corral.marathon.validation import MAX_INSTANCES
from corral.protocol.json import JsonObject, JsonValue

EPOCH = "1970-01-01T00:00:00.000Z"  # the version of a root group nothing ever changed (upstream Timestamp(0))
EMBED_GROUPS, EMBED_APPS, EMBED_PODS = "group.groups", "group.apps", "group.pods"
DEFAULT_EMBEDS = frozenset({EMBED_GROUPS, EMBED_APPS, EMBED_PODS})
APPS_AND_GROUPS_CLASH = "Groups and Applications may not have the same identifier."
CYCLIC_DEPENDENCIES = "Dependency graph has cyclic dependencies."
ONLY_WITH_ID = "not allowed in conjunction with other properties."

Dependencies = tuple[PathId, ...]


def _enclosing(path: PathId) -> Iterator[PathId]:
    """The groups around `path`, innermost first, root last."""
    while not path.is_root:
        path = path.parent
        yield path


# ------------------------------------------------------------------ the stored groups


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupTable:
    """Every group that exists, root included, with its dependencies; and the version they all carry."""

    version: str = EPOCH
    dependencies: Mapping[PathId, Dependencies] = field(default_factory=lambda: {ROOT: ()})

    def __contains__(self, group_id: object) -> bool:
        return group_id in self.dependencies

    def with_apps(self, apps: Mapping[PathId, AppDefinition], app_ids: Iterable[PathId]) -> GroupTable:
        """Upstream's `updateApp` for each of `app_ids` (apps of `apps`): its groups are made, and a group at
        its very id is dropped if nothing is in it (a busy one is a clash `tree_violations` reports)."""
        groups = dict(self.dependencies)
        for app_id in app_ids:
            if app_id in groups and not _holds_anything(app_id, groups, apps):
                del groups[app_id]
            for group_id in _enclosing(app_id):
                if group_id in groups:
                    break
                groups[group_id] = ()
        return replace(self, dependencies=groups)


def _holds_anything(group_id: PathId, groups: Iterable[PathId], apps: Iterable[PathId]) -> bool:
    return any(p != group_id and group_id.includes(p) for p in (*groups, *apps))


def tree_violations(apps: Mapping[PathId, AppDefinition], table: GroupTable) -> list[Violation]:
    """Upstream's root group validation: no app where a group is, no dependency cycle."""
    out: list[Violation] = []
    if any(group_id in apps for group_id in table.dependencies):
        out.append(Violation(path="/", error=APPS_AND_GROUPS_CLASH))
    if has_dependency_cycle(apps, table.dependencies):
        out.append(Violation(path="/", error=CYCLIC_DEPENDENCIES))
    return out


# ------------------------------------------------------------------ the tree


@dataclass(frozen=True, slots=True, kw_only=True)
class Group:
    id: PathId
    apps: Mapping[PathId, AppDefinition] = field(default_factory=dict)
    groups: Mapping[PathId, Group] = field(default_factory=dict)
    dependencies: Dependencies = ()

    def find(self, group_id: PathId) -> Group | None:
        group: Group | None = self
        for depth in range(len(self.id.segments), len(group_id.segments)):
            if group is None:
                return None
            group = group.groups.get(PathId(group_id.segments[: depth + 1]))
        return group if group is not None and group.id == group_id else None

    def transitive_groups(self) -> Iterator[Group]:
        """This group and every group in it, parents before children."""
        yield self
        for child in self.groups.values():
            yield from child.transitive_groups()

    def transitive_apps(self) -> dict[PathId, AppDefinition]:
        return {app_id: app for g in self.transitive_groups() for app_id, app in g.apps.items()}


def build_tree(apps: Mapping[PathId, AppDefinition], table: GroupTable) -> Group:
    """The root group of `apps` and `table` (groups apps imply but the table lacks are made too)."""
    children: dict[PathId, list[PathId]] = {}
    own_apps: dict[PathId, dict[PathId, AppDefinition]] = {}
    known = set(table.dependencies) | {ROOT}
    for app_id, app in apps.items():
        own_apps.setdefault(app_id.parent, {})[app_id] = app
        known.update(_enclosing(app_id))
    for group_id in known:
        if not group_id.is_root:
            children.setdefault(group_id.parent, []).append(group_id)

    def build(group_id: PathId) -> Group:
        return Group(
            id=group_id,
            apps=own_apps.get(group_id, {}),
            groups={child: build(child) for child in sorted(children.get(group_id, ()))},
            dependencies=table.dependencies.get(group_id, ()),
        )

    return build(ROOT)


def table_of(root: Group, version: str) -> GroupTable:
    return GroupTable(version=version, dependencies={g.id: g.dependencies for g in root.transitive_groups()})


def put_group(root: Group, group: Group) -> Group:
    """`group` in place of the one with its id, groups on the way made if missing (upstream `putGroup`)."""
    if group.id == root.id:
        return group
    child_id = PathId(group.id.segments[: len(root.id.segments) + 1])
    child = root.groups.get(child_id) or Group(id=child_id)
    return replace(root, groups={**root.groups, child_id: put_group(child, group)})


def remove_group(root: Group, group_id: PathId) -> Group:
    """The tree without `group_id` and everything in it (the root itself cannot go: use `Group(id=ROOT)`)."""
    parent = root.find(group_id.parent)
    if parent is None or group_id not in parent.groups:
        return root
    groups = {k: v for k, v in parent.groups.items() if k != group_id}
    return put_group(root, replace(parent, groups=groups))


def scale_group(root: Group, group_id: PathId, factor: float) -> Group:
    """`scaleBy`: every app in the group to ceil(instances * factor) (upstream `updateTransitiveApps`),
    saturating as Scala's `toInt` does, at the most instances an app may have (a huge factor was a 500, or
    instances no reader takes)."""

    def scaled(group: Group) -> Group:
        return replace(
            group,
            apps={
                k: replace(a, instances=math.ceil(min(a.instances * factor, MAX_INSTANCES)))
                for k, a in group.apps.items()
            },
            groups={k: scaled(g) for k, g in group.groups.items()},
        )

    return put_group(root, scaled(root.find(group_id) or Group(id=group_id)))


# ------------------------------------------------------------------ group documents


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupUpdate:
    """A group document as read (`None`: not given); ids and dependencies are absolute."""

    id: PathId
    apps: tuple[AppDefinition, ...] | None = None
    groups: tuple[GroupUpdate, ...] | None = None
    dependencies: Dependencies | None = None
    scale_by: float | None = None
    version: str | None = None


def apply_update(root: Group, update: GroupUpdate) -> Group:
    """The tree after a structural update (neither `scaleBy` nor `version`) of the group `update.id`."""

    def updated(group: Group, update: GroupUpdate) -> Group:
        groups = group.groups
        if update.groups is not None:
            groups = {u.id: updated(group.groups.get(u.id) or Group(id=u.id), u) for u in update.groups}
        return Group(
            id=group.id,
            apps=group.apps if update.apps is None else {a.id: a for a in update.apps},
            groups=groups,
            dependencies=group.dependencies if update.dependencies is None else update.dependencies,
        )

    return put_group(root, updated(root.find(update.id) or Group(id=update.id), update))


def decode_group_update(
    body: JsonValue, base: PathId, *, context: ValidationContext | None = None
) -> GroupUpdate:
    """A group document posted at `base` (its `id` resolves against `base`); 422 `ValidationError` if bad.

    JSON type errors anywhere (apps included) are one "Invalid JSON" answer, as upstream's reader fails
    before its validators run; otherwise every semantic problem is one "Object is not valid" answer.
    """
    reader = _GroupReader(context or ValidationContext())
    fields = Fields.of(body, "", reader.read_errors)
    update = None if fields is None else reader.read(fields, base, nested=False)
    if reader.read_errors:
        raise ValidationError(INVALID_JSON, reader.read_errors)
    if reader.invalid or update is None:
        raise ValidationError(OBJECT_NOT_VALID, reader.invalid)
    return update


@dataclass(slots=True)
class _GroupReader:
    context: ValidationContext
    read_errors: list[Violation] = field(default_factory=list)
    invalid: list[Violation] = field(default_factory=list)

    def read(self, f: Fields, parent: PathId, *, nested: bool) -> GroupUpdate:
        raw_id = f.string("id", required=nested, pattern=RAML_PATTERN)
        group_id = parent if raw_id is None else resolve(raw_id, parent)
        if nested and raw_id is not None:
            problems = child_problems(PathId.parse(raw_id), parent)
        else:
            problems = segment_problems(group_id)
        self.invalid += [Violation(path=f.at("id"), error=e) for e in problems]
        dependencies = f.strings("dependencies", pattern=RAML_PATTERN)
        for key in ("scaleBy", "version"):
            if f.has(key) and any(f.has(k) for k in f.obj if k not in ("id", key)):
                self.invalid.append(Violation(path=f.at(key), error=ONLY_WITH_ID))
        update = GroupUpdate(
            id=group_id,
            apps=self._apps(f, group_id),
            groups=self._groups(f, group_id),
            dependencies=None if dependencies is None else self._dependencies(f, dependencies, group_id),
            scale_by=f.number("scaleBy", minimum=0.0),
            version=f.string("version"),
        )
        f.boolean("enforceRole")  # 1.9's group role flag: read for its type, not modelled
        return update

    def _dependencies(self, f: Fields, raw: list[str], group_id: PathId) -> Dependencies:
        out = tuple(dict.fromkeys(PathId.parse(d).canonical(group_id) for d in raw))
        for i, dependency in enumerate(out):
            path = index_path(f.at("dependencies"), i)
            self.invalid += [Violation(path=path, error=e) for e in segment_problems(dependency)]
        return out

    def _apps(self, f: Fields, group_id: PathId) -> tuple[AppDefinition, ...] | None:
        items = f.array("apps")
        if items is None:
            return None
        apps: list[AppDefinition] = []
        for value, path in items:
            try:
                app = AppDefinition.from_json(value, group_id, context=self.context)
            except ValidationError as e:
                into = self.read_errors if e.message == INVALID_JSON else self.invalid
                into += [replace(v, path=path + ("" if v.path == "/" else v.path)) for v in e.violations]
                continue
            if app.id.parent != group_id:
                hint = f"Identifier is not child of {group_id}. Hint: use relative paths."
                self.invalid.append(Violation(path=f"{path}/id", error=hint))
            apps.append(app)
        return tuple(apps)

    def _groups(self, f: Fields, group_id: PathId) -> tuple[GroupUpdate, ...] | None:
        items = f.array("groups")
        if items is None:
            return None
        groups: list[GroupUpdate] = []
        for value, path in items:
            child = Fields.of(value, path, self.read_errors)
            update = None if child is None else self.read(child, group_id, nested=True)
            if update is not None:
                groups.append(update)
        return tuple(groups)


# ------------------------------------------------------------------ JSON


def encode_group(
    group: Group,
    *,
    app_json: Callable[[AppDefinition], JsonObject],
    version: str | None = None,
    embed: frozenset[str] = DEFAULT_EMBEDS,
) -> JsonObject:
    """GroupInfo (upstream's key order; never `enforceRole`, which the PyPI client rejects). Without
    `version` it is a group document `decode_group_update` reads back as the same group."""
    out: JsonObject = {"id": str(group.id), "dependencies": [str(d) for d in group.dependencies]}
    if version is not None:
        out["version"] = version
    if EMBED_APPS in embed:
        out["apps"] = [app_json(group.apps[a]) for a in sorted(group.apps)]
    if EMBED_GROUPS in embed:
        out["groups"] = [
            encode_group(group.groups[g], app_json=app_json, version=version, embed=embed)
            for g in sorted(group.groups)
        ]
    if EMBED_PODS in embed:
        out["pods"] = []
    return out


def definition_json(app: AppDefinition) -> JsonObject:
    return app.to_json()


def snapshot_json(group: Group) -> JsonValue:
    """The group as stored for a rollback (`PUT /v2/groups/{id}` with `{"version": ts}`)."""
    return encode_group(group, app_json=definition_json)


def snapshot_group(document: JsonValue, *, context: ValidationContext | None = None) -> Group:
    """Inverse of `snapshot_json`."""
    update = decode_group_update(document, ROOT, context=context)
    return apply_update(Group(id=ROOT), update).find(update.id) or Group(id=update.id)
